//! Rolling back: restore the newest backup, as one journaled change like an update.
//!
//! The target is the manifest recorded in the backup's `backup.json`. Each file comes from the backup
//! folder when it is there and hashes right, else from the repository (blobs are immutable, so an old
//! release's content stays available). Files the rolled-back update added are moved out (into a
//! temporary undo folder removed after the commit). The backup folder is consumed, and the version rolled
//! back from joins the holds: no held version is reinstalled until a release newer than all of them
//! appears (`State::holds`). The user's files that the update kept aside (`backup.json` `kept`) are
//! renamed back to their places.
//!
//! The backup restored is the newest one that goes back a version (`backup::rollback_target`): backups
//! made by a repair are kept but skipped. The holds and the consumed backup are part of the journaled
//! change, so a rollback killed at any point leaves either the state before it (installed version,
//! holds and backups as they were) or the state after it, and the next `rollback` goes back one more.

use crate::apply;
use crate::backup;
use crate::fsutil;
use crate::journal::{ChangeKind, Direction, Journal};
use crate::layout::Layout;
use crate::manifest::Manifest;
use crate::plan::Plan;
use crate::update::{Session, UpdateError};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("there is no backup in `{}` to roll back to", .0.display())]
    NoBackup(PathBuf),
    #[error("the newest backup `{}` was made before the launcher managed this folder; there is no version to go back to", .0.display())]
    NoVersion(PathBuf),
    #[error("nothing is installed in `{}`", .0.display())]
    NotInstalled(PathBuf),
    #[error(transparent)]
    Update(#[from] UpdateError),
}

pub struct RolledBack {
    pub from: String,
    pub to: String,
    pub backup: PathBuf,
    pub files: usize,
}

pub fn rollback(s: &mut Session) -> Result<RolledBack, RollbackError> {
    let dir = s.layout.dir.clone();
    let current = s
        .installed()
        .cloned()
        .ok_or_else(|| RollbackError::NotInstalled(dir.clone()))?;
    let (folder, info) = backup::rollback_target(&dir, &current.version)
        .ok_or_else(|| RollbackError::NoBackup(dir.clone()))?;
    let target: Manifest = info
        .manifest
        .clone()
        .ok_or_else(|| RollbackError::NoVersion(folder.clone()))?;
    let folder_rel = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::hooks::before_rollback(&s.layout, s.reporter, &current, &target.version);
    let scan = s.scan_for(&target);
    let plan = s.plan_for(&target, &scan)?;
    // Contents the backup cannot give back (missing or damaged there) come from the repository.
    let mut from_backup = std::collections::BTreeMap::new();
    let mut download = Vec::new();
    for op in &plan.ops {
        if let Some(e) = &op.entry {
            let saved = fsutil::native(&folder, &op.path);
            // Only a real file is moved into place: a link would put a link into the app.
            let real = std::fs::symlink_metadata(&saved).is_ok_and(|m| m.is_file());
            match fsutil::sha256_file(&saved) {
                Ok((sha, _)) if real && sha == e.sha256 => {
                    from_backup.insert(op.path.clone(), format!("{folder_rel}/{}", op.path));
                }
                _ => download.push(op.clone()),
            }
        }
    }
    if !download.is_empty() {
        let need = Plan {
            from: None,
            to: target.version.clone(),
            ops: download,
            touch: Vec::new(),
            unchanged: 0,
        };
        s.stage(&need)?;
    }
    let changes = Journal::changes_for(
        &plan.ops,
        |o, e| {
            from_backup
                .get(&o.path)
                .cloned()
                .unwrap_or_else(|| Layout::staged_rel(&e.sha256))
        },
        // The user's files the rolled-back update kept aside go back, after the files there left.
        info.kept
            .iter()
            .map(|k| (k.path.as_str(), k.kept_as.as_str())),
    );
    // Every version rolled back from stays held, not just the last (1.3 → 1.2 → 1.1 holds both).
    let mut holds = s.state.holds();
    holds.push(current.version.to_string());
    let mut newest_hold = crate::state::State::default();
    newest_hold.set_holds(&holds);
    let undo = s.layout.undo();
    let _ = crate::fsutil::remove_dir_all(&undo);
    let journal = Journal {
        kind: ChangeKind::Rollback,
        target: target.clone(),
        previous: Some(current.clone()),
        backup: Layout::undo_rel(),
        backup_is_temporary: true,
        consume: Some(folder_rel),
        held: newest_hold.held,
        holds,
        direction: Direction::Forward,
        changes,
    };
    let cache = s.touch(&target, &plan, &scan)?;
    apply::commit(&s.layout, &journal, &mut s.state, cache).map_err(UpdateError::from)?;
    crate::stage::clean(&s.layout, &Default::default());
    Ok(RolledBack {
        from: current.version.to_string(),
        to: target.version.to_string(),
        backup: folder,
        files: plan.ops.len(),
    })
}
