//! The plan: what an update does, as a value that can be printed (`check`), staged (`fetch`) or
//! applied (`run`). Computed from the target manifest, the manifest installed before, and a scan.
//!
//! Rules: a target file whose content is already in place is kept (only its date and executable bit
//! are set); a missing one is added; a different one is replaced (the old content goes to the backup);
//! a file the old manifest listed and the target does not is deleted (moved into the backup). Files the
//! launcher did not install are never in a plan, except where the target manifest names their path,
//! and then they are moved into the backup, not destroyed.

use crate::manifest::{FileEntry, Manifest};
use crate::scan::{Observed, Scan};
use serde::Serialize;
use std::collections::BTreeSet;

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
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub from: Option<String>,
    pub to: String,
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

    /// A one-line summary: `3 to add, 1 to replace, 2 to delete, 40 unchanged`.
    pub fn summary(&self) -> String {
        format!(
            "{} to add, {} to replace, {} to delete, {} unchanged",
            self.count(Action::Add),
            self.count(Action::Replace),
            self.count(Action::Delete),
            self.unchanged
        )
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

/// Builds the plan. Fails when a target path is blocked (a folder, a link, an unreadable file).
pub fn plan(target: &Manifest, installed: Option<&Manifest>, scan: &Scan) -> Result<Plan, Blocked> {
    let mut ops = Vec::new();
    let mut touch = Vec::new();
    let mut unchanged = 0;
    for f in &target.files {
        match scan.files.get(&f.path).unwrap_or(&Observed::Missing) {
            Observed::Missing => ops.push(Op {
                path: f.path.clone(),
                action: Action::Add,
                entry: Some(f.clone()),
            }),
            // The size too: a manifest that declares a wrong size for content in place is not trusted.
            Observed::File {
                sha256,
                size,
                mtime_ns,
                exec,
            } if *sha256 == f.sha256 && *size == f.size => {
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
            Observed::File { .. } => ops.push(Op {
                path: f.path.clone(),
                action: Action::Replace,
                entry: Some(f.clone()),
            }),
            Observed::Blocked(reason) | Observed::Unreadable(reason) => {
                return Err(Blocked {
                    path: f.path.clone(),
                    reason: reason.clone(),
                })
            }
        }
    }
    if let Some(old) = installed {
        let keep: BTreeSet<String> = target
            .files
            .iter()
            .map(|f| crate::paths::fold(&f.path))
            .collect();
        for f in &old.files {
            if keep.contains(&crate::paths::fold(&f.path)) {
                continue;
            }
            match scan.files.get(&f.path) {
                Some(Observed::File { .. }) => ops.push(Op {
                    path: f.path.clone(),
                    action: Action::Delete,
                    entry: None,
                }),
                Some(Observed::Blocked(_))
                | Some(Observed::Unreadable(_))
                | Some(Observed::Missing)
                | None => {}
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
