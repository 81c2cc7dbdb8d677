//! The plan: what an update does, as a value that can be printed (`check`), staged (`fetch`) or
//! applied (`run`). Computed from the target manifest, the manifest installed before, and a scan.
//!
//! Rules: a target file whose content is already in place is kept (only its date and executable bit
//! are set); a missing one is added; a different one is replaced (the old content goes to the backup);
//! a file the old manifest listed and the target does not is deleted (moved into the backup). Files the
//! launcher did not install are never in a plan, except where the target manifest names their path:
//! then the user's file is kept beside under `<name>.user-file` (said in the plan, the log, and the
//! backup, so `rollback` puts it back), never replaced or taken over.

use crate::manifest::{FileEntry, Manifest};
use crate::scan::{Observed, Scan};
use crate::version::Version;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Replace,
    Delete,
}

#[derive(Debug, Clone, Serialize)]
pub struct Op {
    pub path: String,
    pub action: Action,
    /// The target entry (add, replace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<FileEntry>,
    /// Add only: a file the launcher did not install is at `path`; it is kept under this name
    /// (beside it, in the same folder) before the new file is placed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_as: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub from: Option<Version>,
    pub to: Version,
    pub ops: Vec<Op>,
    /// Files whose content is right but whose date or executable bit must be set.
    pub touch: Vec<FileEntry>,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot update `{path}`: {reason}; move it out of the way or remove it, then start the launcher again")]
pub struct Blocked {
    pub path: String,
    pub reason: String,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn count(&self, a: Action) -> usize {
        self.ops.iter().filter(|o| o.action == a).count()
    }

    /// The distinct contents that must be present in staging before the plan can be applied.
    pub fn needed(&self) -> Vec<&FileEntry> {
        let mut seen = BTreeSet::new();
        self.ops
            .iter()
            .filter_map(|o| o.entry.as_ref())
            .filter(|e| seen.insert(e.sha256.as_str()))
            .collect()
    }

    /// Bytes to download for the needed contents (compressed size where compressed).
    pub fn download_bytes(&self) -> u64 {
        self.needed().iter().map(|e| e.transfer_size()).sum()
    }

    /// The users' files the plan keeps aside: (path, name it is kept under).
    pub fn kept(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ops
            .iter()
            .filter_map(|o| o.kept_as.as_deref().map(|k| (o.path.as_str(), k)))
    }

    /// A one-line summary: `3 to add, 1 to replace, 2 to delete, 40 unchanged` (and `, 1 file of
    /// yours kept aside` when there is one).
    pub fn summary(&self) -> String {
        let kept = self.kept().count();
        format!(
            "{} to add, {} to replace, {} to delete, {} unchanged{}",
            self.count(Action::Add),
            self.count(Action::Replace),
            self.count(Action::Delete),
            self.unchanged,
            match kept {
                0 => String::new(),
                1 => ", 1 file of yours kept aside".to_string(),
                n => format!(", {n} files of yours kept aside"),
            }
        )
    }

    /// One line per kept file, at most `max`, then a count: for messages and the log.
    pub fn kept_lines(&self, max: usize) -> Vec<String> {
        let all: Vec<(&str, &str)> = self.kept().collect();
        let mut v: Vec<String> = all
            .iter()
            .take(max)
            .map(|(p, k)| format!("`{p}` is not the launcher's and version {} installs a file there: yours is kept as `{k}`", self.to))
            .collect();
        if all.len() > max {
            v.push(format!(
                "and {} more files of yours kept as `<name>{KEPT_SUFFIX}`",
                all.len() - max
            ));
        }
        v
    }
}

/// Paths a scan must look at for this plan: the target's and the installed manifest's.
pub fn paths_to_scan<'a>(target: &'a Manifest, installed: Option<&'a Manifest>) -> Vec<&'a str> {
    let mut v: Vec<&str> = target.files.iter().map(|f| f.path.as_str()).collect();
    if let Some(i) = installed {
        v.extend(i.files.iter().map(|f| f.path.as_str()));
    }
    v
}

/// Builds the plan. Fails when a target path is blocked (a link, an unreadable file, a folder that
/// holds files the launcher did not install).
///
/// Files the target drops are deleted first, so that a path can change case (`README.TXT` →
/// `readme.txt`: on a case-insensitive file system the new file then lands in the place the old one
/// left), a managed file can become a folder (`plugins` → `plugins/p1`) and a managed folder a file.
/// "Managed" means listed, with that exact spelling, by the installed manifest. A file at a target
/// path that is not managed belongs to the user: unless it already holds the release's content, it is
/// kept beside under a name that says so (`kept_as`, see [`name_kept`]), never replaced.
pub fn plan(target: &Manifest, installed: Option<&Manifest>, scan: &Scan) -> Result<Plan, Blocked> {
    let mut ops = Vec::new();
    let mut touch = Vec::new();
    let mut unchanged = 0;
    let managed: HashSet<&str> = installed
        .iter()
        .flat_map(|m| m.files.iter().map(|f| f.path.as_str()))
        .collect();
    let wanted: HashSet<&str> = target.files.iter().map(|f| f.path.as_str()).collect();
    // Installed files the target does not list (by exact path) and that are there: deleted first.
    let mut dropped: HashSet<&str> = HashSet::new();
    if let Some(old) = installed {
        for f in &old.files {
            if wanted.contains(f.path.as_str()) {
                continue;
            }
            match scan.files.get(&f.path) {
                Some(Observed::File { .. }) => {
                    dropped.insert(f.path.as_str());
                    ops.push(Op {
                        path: f.path.clone(),
                        action: Action::Delete,
                        entry: None,
                        kept_as: None,
                    })
                }
                Some(Observed::Blocked(_))
                | Some(Observed::Unreadable(_))
                | Some(Observed::Missing)
                | None => {}
            }
        }
    }
    let dropped_folded: HashMap<String, &str> = dropped
        .iter()
        .map(|p| (crate::paths::fold(p), *p))
        .collect();
    let id_of = |p: &str| match scan.files.get(p) {
        Some(Observed::File { file_id, .. }) => Some(*file_id),
        _ => None,
    };
    let add = |f: &FileEntry, kept: bool| Op {
        path: f.path.clone(),
        action: Action::Add,
        entry: Some(f.clone()),
        kept_as: kept.then(String::new),
    };
    for f in &target.files {
        let is_managed = managed.contains(f.path.as_str());
        // Another spelling of this path is deleted: on a case-insensitive file system what is found
        // here may be that old file, so the new one is placed after the deletion, whatever it holds.
        let old_spelling = (!is_managed)
            .then(|| dropped_folded.get(&crate::paths::fold(&f.path)))
            .flatten();
        let case_renamed = old_spelling.is_some();
        // What the scan found at this spelling is the old file itself (not a user's file beside it).
        let is_old_file =
            old_spelling.is_some_and(|o| id_of(o).is_some() && id_of(o) == id_of(&f.path));
        match scan.files.get(&f.path).unwrap_or(&Observed::Missing) {
            Observed::Missing => ops.push(add(f, false)),
            // The size too: a manifest that declares a wrong size for content in place is not trusted.
            Observed::File {
                sha256,
                size,
                mtime_ns,
                exec,
                ..
            } if *sha256 == f.sha256 && *size == f.size && !case_renamed => {
                unchanged += 1;
                let want = crate::manifest::parse_time(&f.mtime).map(|t| {
                    t.duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos() as i128)
                        .unwrap_or(0)
                });
                // Windows has no executable bit, so only the date counts there.
                if Some(*mtime_ns) != want || (*exec != f.exec && cfg!(unix)) {
                    touch.push(f.clone());
                }
            }
            Observed::File { .. } if is_managed => ops.push(Op {
                path: f.path.clone(),
                action: Action::Replace,
                entry: Some(f.clone()),
                kept_as: None,
            }),
            // The old spelling's file, on a case-insensitive file system: it leaves first.
            Observed::File { .. } if is_old_file => ops.push(add(f, false)),
            // Not the launcher's file: the user's copy is kept beside, under a name that says so.
            Observed::File { .. } => ops.push(add(f, true)),
            // A managed file on the way that the target drops: it is deleted first, then the folder made.
            Observed::Blocked(_) if folders_of(&f.path).any(|a| dropped.contains(a)) => {
                ops.push(add(f, false))
            }
            // A folder that holds only managed files the target drops: emptied, removed, replaced.
            Observed::Blocked(reason) if scan.folders.contains_key(&f.path) => {
                let theirs: Vec<&String> = scan.folders[&f.path]
                    .iter()
                    .filter(|p| !dropped.contains(p.as_str()))
                    .collect();
                if theirs.is_empty() {
                    ops.push(add(f, false));
                } else {
                    let shown: Vec<String> =
                        theirs.iter().take(3).map(|p| format!("`{p}`")).collect();
                    let more = theirs.len().saturating_sub(3);
                    return Err(Blocked {
                        path: f.path.clone(),
                        reason: format!(
                            "{reason} holding files the launcher did not install ({}{}), and the new version has a file there",
                            shown.join(", "),
                            if more > 0 { format!(" and {more} more") } else { String::new() }
                        ),
                    });
                }
            }
            Observed::Blocked(reason) | Observed::Unreadable(reason) => {
                return Err(Blocked {
                    path: f.path.clone(),
                    reason: reason.clone(),
                })
            }
        }
    }
    Ok(Plan {
        from: installed.map(|m| m.version.clone()),
        to: target.version.clone(),
        ops,
        touch,
        unchanged,
    })
}

/// The folders on the way to a manifest path: `a`, `a/b` for `a/b/c`.
fn folders_of(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// The suffix of the name a user's file is kept under when a release installs a file at its path.
pub const KEPT_SUFFIX: &str = ".user-file";

/// Names the places where the users' files in the way of `plan`'s new files are kept: beside each
/// file, `<name>.user-file` (then `.user-file-2`, ...), a name that is free on disk and that `target`
/// does not use. Beside, not in the backup: it must survive `Backups = 0` and backup rotation.
pub fn name_kept(plan: &mut Plan, dir: &std::path::Path, target: &Manifest) {
    let used: HashSet<String> = target
        .files
        .iter()
        .map(|f| crate::paths::fold(&f.path))
        .collect();
    let mut taken: HashSet<String> = HashSet::new();
    for op in plan.ops.iter_mut() {
        let Some(kept) = op.kept_as.as_mut() else {
            continue;
        };
        let mut n = 1;
        loop {
            let candidate = if n == 1 {
                format!("{}{KEPT_SUFFIX}", op.path)
            } else {
                format!("{}{KEPT_SUFFIX}-{n}", op.path)
            };
            let folded = crate::paths::fold(&candidate);
            let free = !used.contains(&folded)
                && !taken.contains(&folded)
                && std::fs::symlink_metadata(crate::fsutil::native(dir, &candidate)).is_err();
            if free {
                taken.insert(folded);
                *kept = candidate;
                break;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, sha: char) -> FileEntry {
        FileEntry {
            path: path.into(),
            size: 1,
            mtime: "2026-01-01T00:00:00Z".into(),
            sha256: sha.to_string().repeat(64),
            exec: false,
            zsize: None,
        }
    }

    fn manifest(version: &str, files: Vec<FileEntry>) -> Manifest {
        Manifest {
            format: 1,
            product: "demo".into(),
            version: crate::version::Version::parse(version).unwrap(),
            channel: "stable".into(),
            platform: "linux-x86_64".into(),
            published: "2026-01-01T00:00:00Z".into(),
            expires: None,
            mandatory: false,
            executable: files[0].path.clone(),
            files,
            rollout: None,
            post_update: None,
            pre_rollback: None,
        }
    }

    fn file(sha: char, file_id: u64) -> Observed {
        Observed::File {
            sha256: sha.to_string().repeat(64),
            size: 1,
            mtime_ns: 0,
            exec: false,
            file_id,
        }
    }

    /// The scan of a case-only rename `README.TXT` → `readme.txt` with the same content, where both
    /// spellings found a file with the given ids.
    fn case_rename(old_id: u64, new_id: u64) -> Plan {
        let v1 = manifest("1", vec![entry("README.TXT", 'a')]);
        let v2 = manifest("2", vec![entry("readme.txt", 'a')]);
        let mut scan = Scan::default();
        scan.files.insert("README.TXT".into(), file('a', old_id));
        scan.files.insert("readme.txt".into(), file('a', new_id));
        plan(&v2, Some(&v1), &scan).unwrap()
    }

    #[test]
    fn case_only_rename_on_a_case_insensitive_file_system_deletes_first_then_places_one_file() {
        // One file under both spellings (same inode): the old one leaves, the new one is placed.
        let p = case_rename(7, 7);
        let ops: Vec<(&str, Action, bool)> = p
            .ops
            .iter()
            .map(|o| (o.path.as_str(), o.action, o.kept_as.is_some()))
            .collect();
        assert_eq!(
            ops,
            [
                ("README.TXT", Action::Delete, false),
                ("readme.txt", Action::Add, false)
            ]
        );
    }

    #[test]
    fn case_only_rename_with_a_users_file_at_the_new_spelling_keeps_that_file_aside() {
        // Two files (Linux): the user's `readme.txt` is not the old managed file, even with the same
        // content, and is kept aside.
        let p = case_rename(7, 8);
        assert_eq!(p.ops[0].action, Action::Delete);
        assert_eq!(p.ops[1].action, Action::Add);
        assert!(p.ops[1].kept_as.is_some());
    }
}
