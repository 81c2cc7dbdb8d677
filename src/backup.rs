//! The rotating backups `bkp.001` … `bkp.NNN` inside the install folder (DESIGN.md, Backups).
//!
//! The newest backup has the highest number. Before a new one is made, and on every start without a
//! journal ([`tidy`]), leftovers of an interrupted update (a folder without `backup.json`) are removed
//! and gaps left by an interrupted rotation are closed; when `Backups` folders already exist, the
//! oldest is deleted and the others move down one. `backup.json` records the version the backup came
//! from, the manifest that was installed, the files the update added and the files saved in it, so that
//! restoring it gives back exactly the previous version. Only folders named `bkp.NNN` are touched.
//!
//! A new backup is written as `backup.json.pending` and becomes `backup.json` only when its update is
//! committed (`apply` finalizes it after the new state is written). So a backup folder with
//! `backup.json` always holds what it says: an update that crashed or was undone before its commit
//! leaves at most a pending folder, which `status` and `rollback` ignore and the next update removes.

use crate::fsutil::{self, fs_err, FsError};
use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

pub const INFO_FILE: &str = "backup.json";
/// `backup.json` of a backup whose update is not committed yet.
pub const PENDING_FILE: &str = "backup.json.pending";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupInfo {
    /// The version that was installed before the update (None: the folder was not a managed install).
    pub from: Option<String>,
    /// The version the update installed.
    pub to: String,
    pub created: String,
    /// `changed` (only replaced and deleted files) or `full` (a copy of the whole app).
    pub mode: String,
    /// Files the update added (a rollback removes them).
    pub added: Vec<String>,
    /// Files stored in this backup, by their path in the app.
    pub saved: Vec<String>,
    /// The manifest that was installed before the update.
    pub manifest: Option<Manifest>,
}

/// `bkp.001`.
pub fn name(n: u32) -> String {
    format!("bkp.{n:03}")
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path) -> Vec<(u32, PathBuf)> {
    let mut v: Vec<(u32, PathBuf)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e
                .file_name()
                .to_str()?
                .strip_prefix("bkp.")?
                .parse::<u32>()
                .ok()?;
            e.file_type().ok()?.is_dir().then(|| (n, e.path()))
        })
        .collect();
    v.sort();
    v
}

pub fn read_info(folder: &Path) -> Result<BackupInfo, FsError> {
    let p = folder.join(INFO_FILE);
    let bytes = fs::read(&p).map_err(fs_err("read", &p))?;
    serde_json::from_slice(&bytes).map_err(|e| FsError {
        action: "parse",
        path: p,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

pub fn write_info(folder: &Path, info: &BackupInfo) -> Result<(), FsError> {
    write_info_as(folder, INFO_FILE, info)
}

/// Writes the info of a backup whose update is not committed yet (see the module doc).
pub fn write_pending_info(folder: &Path, info: &BackupInfo) -> Result<(), FsError> {
    write_info_as(folder, PENDING_FILE, info)
}

fn write_info_as(folder: &Path, name: &str, info: &BackupInfo) -> Result<(), FsError> {
    let bytes = serde_json::to_vec_pretty(info).map_err(|e| FsError {
        action: "serialise",
        path: folder.join(name),
        source: std::io::Error::other(e),
    })?;
    fsutil::write_atomic(&folder.join(name), &bytes)
}

/// The backups still pending for an update to `version` (made by it, not committed yet).
pub fn pending_for(dir: &Path, version: &str) -> Vec<PathBuf> {
    list(dir)
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| !p.join(INFO_FILE).exists())
        .filter(|p| {
            fs::read(p.join(PENDING_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice::<BackupInfo>(&b).ok())
                .is_some_and(|i| i.to == version)
        })
        .collect()
}

/// Makes the pending backups of a committed update to `version` real backups.
pub fn finalize_pending(dir: &Path, version: &str) -> Result<(), FsError> {
    for p in pending_for(dir, version) {
        let from = p.join(PENDING_FILE);
        let to = p.join(INFO_FILE);
        fs::rename(&from, &to).map_err(fs_err("finalize the backup", &from))?;
        fsutil::sync_dir(&p);
    }
    Ok(())
}

fn remove_tree(p: &Path) -> Result<(), FsError> {
    match fsutil::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fs_err("remove the old backup", p)(e)),
    }
}

/// Removes backup folders without `backup.json` (left by an update that stopped or was undone before
/// its commit) and renumbers the others from `bkp.001` without gaps (a rotation that stopped half-way).
/// Call with the install lock held and no journal pending. Returns the backups, oldest first.
pub fn tidy(dir: &Path) -> Result<Vec<(u32, PathBuf)>, FsError> {
    let mut existing = Vec::new();
    let mut changed = false;
    for (n, p) in list(dir) {
        if p.join(INFO_FILE).exists() {
            existing.push((n, p));
        } else if p.join(PENDING_FILE).exists() || is_leftover(&p) {
            // Left by an update that stopped before its journal: nothing of value in it that recovery
            // has not already put back.
            remove_tree(&p)?;
            changed = true;
        }
        // Anything else named like a backup is not the launcher's: it is left alone (a rotation that
        // would need its name fails with an error naming it, and the app still starts).
    }
    for (i, (n, p)) in existing.iter_mut().enumerate() {
        let want = i as u32 + 1;
        if *n != want {
            let to = dir.join(name(want));
            fs::rename(&*p, &to).map_err(fs_err("rename backup", p))?;
            *p = to;
            *n = want;
            changed = true;
        }
    }
    if changed {
        fsutil::sync_dir(dir);
    }
    Ok(existing)
}

/// Empty, or holding nothing but the temp file of an interrupted `backup.json.pending` write.
fn is_leftover(p: &Path) -> bool {
    fs::read_dir(p).is_ok_and(|d| {
        d.flatten().all(|e| {
            e.file_name().to_string_lossy().starts_with(".tmp-")
                && e.file_type().is_ok_and(|t| t.is_file())
        })
    })
}

/// Rotates the backups so that at most `keep - 1` remain, and creates the next, empty, folder.
pub fn prepare(dir: &Path, keep: u32) -> Result<PathBuf, FsError> {
    let mut existing = tidy(dir)?;
    if existing.len() >= keep.max(1) as usize {
        while existing.len() >= keep.max(1) as usize {
            let (_, oldest) = existing.remove(0);
            remove_tree(&oldest)?;
            crate::apply::crash_point("rotate-deleted");
        }
        fsutil::sync_dir(dir);
        existing = tidy(dir)?;
    }
    let next = dir.join(name(existing.len() as u32 + 1));
    // `create_dir`, not `create_dir_all`: a folder of that name that is not ours is never written into.
    fs::create_dir(&next).map_err(fs_err("create the backup folder", &next))?;
    fsutil::sync_dir(dir);
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_named_like_a_backup_that_is_not_ours_is_never_touched() {
        let d = tempfile::tempdir().unwrap();
        let mine = d.path().join("bkp.002");
        fs::create_dir(&mine).unwrap();
        fs::write(mine.join("thesis.docx"), b"years of work").unwrap();
        let empty = d.path().join("bkp.005");
        fs::create_dir(&empty).unwrap();
        let torn = d.path().join("bkp.007");
        fs::create_dir(&torn).unwrap();
        fs::write(torn.join(".tmp-KGSEQs"), b"{\"from\": ").unwrap();
        assert!(tidy(d.path()).unwrap().is_empty());
        assert!(!empty.exists(), "an empty leftover is removed");
        assert!(
            !torn.exists(),
            "a leftover with a torn backup.json.pending write is removed"
        );
        assert_eq!(
            fs::read(mine.join("thesis.docx")).unwrap(),
            b"years of work"
        );
        // The next backup would be bkp.001; one more would need bkp.002, which is not ours.
        let first = prepare(d.path(), 3).unwrap();
        assert_eq!(first, d.path().join("bkp.001"));
        write_info(
            &first,
            &BackupInfo {
                from: Some("1".into()),
                to: "2".into(),
                created: "2026-01-01T00:00:00Z".into(),
                mode: "changed".into(),
                added: vec![],
                saved: vec![],
                manifest: None,
            },
        )
        .unwrap();
        assert!(prepare(d.path(), 3).is_err());
        assert_eq!(
            fs::read(mine.join("thesis.docx")).unwrap(),
            b"years of work"
        );
    }
}
