//! Rolling back: restore the newest backup, as one journaled change like an update.
//!
//! The target is the manifest recorded in the backup's `backup.json`. Each file comes from the backup
//! folder when it is there and hashes right, else from the repository (blobs are immutable, so an old
//! release's content stays available). Files the rolled-back update added are moved out (into a
//! temporary undo folder removed after the commit). The backup folder is consumed, and the version rolled
//! back from is held: it is not reinstalled until a newer release appears.

use crate::apply::{self, Journal, JournalOp};
use crate::backup;
use crate::fsutil;
use crate::manifest::Manifest;
use crate::plan::{Action, Op, Plan};
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
    let (_, folder) = backup::list(&dir)
        .into_iter()
        .rfind(|(_, p)| p.join(backup::INFO_FILE).exists())
        .ok_or_else(|| RollbackError::NoBackup(dir.clone()))?;
    let info = backup::read_info(&folder).map_err(UpdateError::from)?;
    let target: Manifest = info
        .manifest
        .clone()
        .ok_or_else(|| RollbackError::NoVersion(folder.clone()))?;
    let folder_rel = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let scan = s.scan_for(&target);
    let plan = s.plan_for(&target, &scan)?;
    // Contents the backup cannot give back (missing or damaged there) come from the repository.
    let mut from_backup = std::collections::BTreeMap::new();
    let mut download = Vec::new();
    for op in &plan.ops {
        if let Some(e) = &op.entry {
            let saved = fsutil::native(&folder, &op.path);
            match fsutil::sha256_file(&saved) {
                Ok((sha, _)) if sha == e.sha256 => {
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
    let staging_rel = format!("{}/staging", crate::state::META_DIR);
    let ops: Vec<JournalOp> = plan
        .ops
        .iter()
        .map(|o: &Op| JournalOp {
            path: o.path.clone(),
            new: o.entry.clone(),
            src: o.entry.as_ref().map(|e| {
                from_backup
                    .get(&o.path)
                    .cloned()
                    .unwrap_or_else(|| format!("{staging_rel}/{}", e.sha256))
            }),
            had_old: o.action != Action::Add,
        })
        .collect();
    let undo = s.layout.undo();
    let _ = crate::fsutil::remove_dir_all(&undo);
    let journal = Journal {
        kind: "rollback".into(),
        target: target.clone(),
        previous: Some(current.clone()),
        backup: format!("{}/undo", crate::state::META_DIR),
        backup_is_temporary: true,
        consume: Some(folder_rel),
        held: Some(current.version.clone()),
        ops,
    };
    let cache = s.touch(&target, &plan, &scan)?;
    apply::commit(&s.layout, &journal, &mut s.state, cache).map_err(UpdateError::from)?;
    crate::stage::clean(&s.layout, &Default::default());
    Ok(RolledBack {
        from: current.version,
        to: target.version,
        backup: folder,
        files: plan.ops.len(),
    })
}
