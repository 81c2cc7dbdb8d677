//! What a change to an install will do, written down before it starts (`.launcher/journal.json`):
//! the typed steps ([`Change`]), the target and previous manifests, the backup folder, the holds, and
//! the direction a recovery must take ([`Direction`]). Built in one place ([`Journal::changes_for`])
//! for updates, repairs and rollbacks.
//!
//! It owns the journal's data and its file format, nothing that touches the install: each step's redo
//! and undo are in `apply`, beside the file operations they use.
//!
//! Format. The journal names its steps twice: `changes` (the typed steps, read by this launcher) and
//! `ops` (the form launchers before typed steps wrote and read: `had_old`, `new`, `src`, `kept_as`,
//! `restore_from`). A journal from an older launcher has only `ops` and is converted on load
//! ([`LegacyOp::to_change`]); `ops` is still written because the launcher replaces itself: after a
//! crash in the middle of a change that puts back an older launcher (a rollback), the binary that finds
//! the journal at the next start may be the older one, and it must be able to finish or undo the change.

use crate::manifest::{FileEntry, Manifest};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One step of a change: everything a journal can do. Steps run in the journal's order when a change
/// is made or finished ([`Direction::Forward`]) and in reverse order when it is undone; each one is
/// idempotent both ways, so a recovery interrupted at any point is recovered by the next start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Change {
    /// `new` is placed at `path`, where the installed version has no file. A file of the user's that
    /// is there is first renamed to `kept_as` beside it (never overwritten, never moved into a backup).
    /// Undo: the placed content goes back to `src` (or is dropped when `src` is still there), and the
    /// user's file comes back from `kept_as`.
    Add {
        path: String,
        new: FileEntry,
        /// Where the content comes from, relative to the install folder: a staged blob or a file of
        /// the backup a rollback restores.
        src: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kept_as: Option<String>,
    },
    /// The managed file at `path` is saved into the backup folder, and `new` takes its place.
    /// Undo: the saved file comes back over `path` (the new content returns to `src` when that is gone).
    Replace {
        path: String,
        new: FileEntry,
        src: String,
    },
    /// The managed file at `path` moves into the backup folder. Undo: it comes back.
    Delete { path: String },
    /// A rollback gives the user's file that its update kept at `kept_as` back to `path` (after the
    /// managed file there left in an earlier step). Undo: it returns to `kept_as`.
    GiveBack { path: String, kept_as: String },
}

impl Change {
    /// The app path this step changes.
    pub fn path(&self) -> &str {
        match self {
            Change::Add { path, .. }
            | Change::Replace { path, .. }
            | Change::Delete { path }
            | Change::GiveBack { path, .. } => path,
        }
    }

    /// The new content and its source, for steps that place one.
    pub fn placed(&self) -> Option<(&FileEntry, &str)> {
        match self {
            Change::Add { new, src, .. } | Change::Replace { new, src, .. } => Some((new, src)),
            Change::Delete { .. } | Change::GiveBack { .. } => None,
        }
    }

    /// The form launchers before typed steps read (see the module doc).
    fn to_legacy(&self) -> LegacyOp {
        let (new, src) = match self.placed() {
            Some((e, s)) => (Some(e.clone()), Some(s.to_string())),
            None => (None, None),
        };
        LegacyOp {
            path: self.path().to_string(),
            new,
            src,
            had_old: matches!(self, Change::Replace { .. } | Change::Delete { .. }),
            kept_as: match self {
                Change::Add { kept_as, .. } => kept_as.clone(),
                _ => None,
            },
            restore_from: match self {
                Change::GiveBack { kept_as, .. } => Some(kept_as.clone()),
                _ => None,
            },
        }
    }
}

/// A step as launchers before typed steps wrote it: flags from which the step was inferred.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LegacyOp {
    pub path: String,
    pub new: Option<FileEntry>,
    pub src: Option<String>,
    pub had_old: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<String>,
}

impl LegacyOp {
    /// The typed step an older launcher's operation stands for, or `None` for one that does nothing
    /// (no old file, no new content, nothing to give back: older launchers never wrote one).
    pub fn to_change(&self) -> Option<Change> {
        let path = self.path.clone();
        match (&self.new, &self.src, self.had_old) {
            (Some(new), Some(src), true) => Some(Change::Replace {
                path,
                new: new.clone(),
                src: src.clone(),
            }),
            (Some(new), Some(src), false) => Some(Change::Add {
                path,
                new: new.clone(),
                src: src.clone(),
                kept_as: self.kept_as.clone(),
            }),
            (_, _, true) => Some(Change::Delete { path }),
            (_, _, false) => self.restore_from.as_ref().map(|k| Change::GiveBack {
                path,
                kept_as: k.clone(),
            }),
        }
    }
}

/// What kind of change a journal (or a backup, `backup.json` `kind`) belongs to. Written as the same
/// lower-case words launchers wrote as free text before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A new release is installed (or the first install).
    Update,
    /// The newest backup is restored.
    Rollback,
    /// Damaged files of the installed version are put right; the version stays.
    Repair,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Update => "update",
            ChangeKind::Rollback => "rollback",
            ChangeKind::Repair => "repair",
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The direction a journal left behind is replayed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The change is being made: a recovery finishes it when every new content is available, and
    /// undoes it otherwise.
    #[default]
    Forward,
    /// The change is being undone (a step failed, or a recovery could not finish it): a recovery
    /// only ever undoes it.
    Back,
}

/// A change to an install, as `.launcher/journal.json` records it.
#[derive(Debug, Clone)]
pub struct Journal {
    pub kind: ChangeKind,
    pub target: Manifest,
    pub previous: Option<Manifest>,
    /// Folder (relative to the install folder) that receives the old files.
    pub backup: String,
    /// The backup folder is temporary (`.launcher/undo`) and removed after the commit.
    pub backup_is_temporary: bool,
    /// A backup folder to remove after the commit (the one a rollback restored).
    pub consume: Option<String>,
    /// The value `state.held` takes after the commit.
    pub held: Option<String>,
    /// The value `state.holds` takes after the commit (empty in journals of older launchers: then
    /// `held` is the only hold).
    pub holds: Vec<String>,
    pub direction: Direction,
    pub changes: Vec<Change>,
}

/// `journal.json` as written (see the module doc for why the steps are there twice).
#[derive(Serialize, Deserialize)]
struct JournalFile {
    kind: ChangeKind,
    target: Manifest,
    previous: Option<Manifest>,
    backup: String,
    backup_is_temporary: bool,
    consume: Option<String>,
    held: Option<String>,
    #[serde(default)]
    holds: Vec<String>,
    #[serde(default)]
    direction: Direction,
    /// Absent in journals of older launchers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changes: Option<Vec<Change>>,
    ops: Vec<LegacyOp>,
}

impl Journal {
    /// Reads `journal.json` in this launcher's format or an older one.
    pub fn from_slice(bytes: &[u8]) -> Result<Journal, serde_json::Error> {
        let f: JournalFile = serde_json::from_slice(bytes)?;
        let changes = match f.changes {
            Some(c) => c,
            None => f.ops.iter().filter_map(LegacyOp::to_change).collect(),
        };
        Ok(Journal {
            kind: f.kind,
            target: f.target,
            previous: f.previous,
            backup: f.backup,
            backup_is_temporary: f.backup_is_temporary,
            consume: f.consume,
            held: f.held,
            holds: f.holds,
            direction: f.direction,
            changes,
        })
    }

    pub fn to_vec(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&JournalFile {
            kind: self.kind,
            target: self.target.clone(),
            previous: self.previous.clone(),
            backup: self.backup.clone(),
            backup_is_temporary: self.backup_is_temporary,
            consume: self.consume.clone(),
            held: self.held.clone(),
            holds: self.holds.clone(),
            direction: self.direction,
            changes: Some(self.changes.clone()),
            ops: self.changes.iter().map(Change::to_legacy).collect(),
        })
    }

    /// The steps of a change that makes the files of `ops` (a plan's operations) what the plan says,
    /// taking each new content from `src(op)`, then gives back the user's files in `give_back`
    /// (`(path, kept_as)`, a rollback's). Deletions come first in a plan, so that a path can change
    /// case and a file can become a folder or a folder a file (see `apply`).
    pub fn changes_for<'a>(
        ops: &[crate::plan::Op],
        src: impl Fn(&crate::plan::Op, &FileEntry) -> String,
        give_back: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<Change> {
        use crate::plan::Action;
        ops.iter()
            .filter_map(|o| {
                let path = o.path.clone();
                Some(match (o.action, &o.entry) {
                    (Action::Delete, _) => Change::Delete { path },
                    (Action::Replace, Some(e)) => Change::Replace {
                        src: src(o, e),
                        new: e.clone(),
                        path,
                    },
                    (Action::Add, Some(e)) => Change::Add {
                        src: src(o, e),
                        new: e.clone(),
                        path,
                        kept_as: o.kept_as.clone(),
                    },
                    // A plan gives every add and replace its entry.
                    (Action::Add | Action::Replace, None) => return None,
                })
            })
            .chain(
                give_back
                    .into_iter()
                    .map(|(path, kept_as)| Change::GiveBack {
                        path: path.to_string(),
                        kept_as: kept_as.to_string(),
                    }),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_survives_the_older_launchers_form_unchanged() {
        let e = FileEntry {
            path: "bin/app".into(),
            size: 3,
            mtime: "2026-01-01T00:00:00Z".into(),
            sha256: "ab".repeat(32),
            exec: true,
            zsize: None,
        };
        let all = [
            Change::Add {
                path: "a".into(),
                new: e.clone(),
                src: ".launcher/staging/ab".into(),
                kept_as: Some("a.user-file".into()),
            },
            Change::Add {
                path: "b".into(),
                new: e.clone(),
                src: "bkp.001/b".into(),
                kept_as: None,
            },
            Change::Replace {
                path: "c".into(),
                new: e,
                src: ".launcher/staging/ab".into(),
            },
            Change::Delete { path: "d".into() },
            Change::GiveBack {
                path: "e".into(),
                kept_as: "e.user-file".into(),
            },
        ];
        for c in all {
            assert_eq!(c.to_legacy().to_change().as_ref(), Some(&c));
        }
    }
}
