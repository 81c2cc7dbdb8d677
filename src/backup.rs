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

use crate::config::BackupMode;
use crate::fsutil::{self, fs_err, FsError};
use crate::journal::ChangeKind;
use crate::layout::{probe_writable, Layout, NotWritable};
use crate::manifest::Manifest;
use crate::version::Version;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

pub const INFO_FILE: &str = "backup.json";
/// `backup.json` of a backup whose update is not committed yet.
pub const PENDING_FILE: &str = "backup.json.pending";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupInfo {
    /// The version that was installed before the update (None: the folder was not a managed install).
    pub from: Option<Version>,
    /// The version the update installed.
    pub to: Version,
    pub created: String,
    /// `changed` (only replaced and deleted files) or `full` (a copy of the whole app).
    pub mode: BackupMode,
    /// Files the update added (a rollback removes them).
    pub added: Vec<String>,
    /// Files stored in this backup, by their path in the app.
    pub saved: Vec<String>,
    /// The manifest that was installed before the update.
    pub manifest: Option<Manifest>,
    /// The change that made the backup: `update` or `repair` (absent in backups of older launchers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ChangeKind>,
    /// Files of the user's that were at paths the update added, and the names they were kept under
    /// beside them; a rollback gives them back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<KeptFile>,
}

/// A user's file kept aside by an update: `path` is where it was, `kept_as` where it is now.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeptFile {
    pub path: String,
    pub kept_as: String,
}

impl BackupInfo {
    /// A backup made by a change that kept the version (`verify --repair`, or a start that put damaged
    /// files right): it holds the damaged files, is kept like any backup, but is never a rollback
    /// target, since restoring it would go "from 1.1 to 1.1". Older launchers did not record the kind;
    /// for their backups the same version before and after says the same.
    pub fn is_repair(&self) -> bool {
        self.kind == Some(ChangeKind::Repair) || self.from.as_ref() == Some(&self.to)
    }
}

/// The backup `rollback` restores when `installed` is installed: the newest finished backup that is
/// not a repair backup and holds a version other than the installed one (a backup of the installed
/// version would change nothing; one can be left by a rollback of an older launcher that was killed).
pub fn rollback_target(dir: &Path, installed: &Version) -> Option<(PathBuf, BackupInfo)> {
    list(dir).into_iter().rev().find_map(|(_, p)| {
        if !p.join(INFO_FILE).exists() {
            return None;
        }
        let info = read_info(&p).ok()?;
        let usable = !info.is_repair()
            && info
                .manifest
                .as_ref()
                .is_none_or(|m| m.version != *installed);
        usable.then_some((p, info))
    })
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
pub fn pending_for(dir: &Path, version: &Version) -> Vec<PathBuf> {
    list(dir)
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| !p.join(INFO_FILE).exists())
        .filter(|p| {
            fs::read(p.join(PENDING_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice::<BackupInfo>(&b).ok())
                .is_some_and(|i| i.to == *version)
        })
        .collect()
}

/// Makes the pending backups of a committed update to `version` real backups.
pub fn finalize_pending(dir: &Path, version: &Version) -> Result<(), FsError> {
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

/// The folder [`prepare`] will create for the next backup (after its clean-up and rotation), without
/// changing anything: for messages and checks made before anything is written.
pub fn next_folder(dir: &Path, keep: u32) -> PathBuf {
    let finished = list(dir)
        .into_iter()
        .filter(|(_, p)| p.join(INFO_FILE).exists())
        .count();
    let kept = finished.min(keep.max(1) as usize - 1);
    dir.join(name(kept as u32 + 1))
}

/// Bytes a full backup of `paths` (manifest paths under `dir`) writes: their sizes on disk now.
pub fn full_copy_bytes<'a>(dir: &Path, paths: impl IntoIterator<Item = &'a str>) -> u64 {
    paths
        .into_iter()
        .filter_map(|p| fs::symlink_metadata(fsutil::native(dir, p)).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Rotates the backups so that at most `keep - 1` remain, and creates the next, empty, folder.
pub fn prepare(dir: &Path, keep: u32) -> Result<PathBuf, FsError> {
    let mut existing = tidy(dir)?;
    if existing.len() >= keep.max(1) as usize {
        while existing.len() >= keep.max(1) as usize {
            let (_, oldest) = existing.remove(0);
            remove_tree(&oldest)?;
            crate::fault::crash_point("rotate-deleted");
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

/// Why the backup for a change could not be made. Nothing was changed in the install when one of
/// these is returned (a half-written full copy is removed).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    NotWritable(#[from] NotWritable),
    #[error("not enough free space for the full backup `{}` (BackupMode = full): it needs {} and {} is free; free some space, lower Backups or set BackupMode = changed, and start the launcher again", folder.display(), fsutil::human_bytes(*needed), fsutil::human_bytes(*available))]
    Space {
        folder: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("cannot write the full backup `{}` (BackupMode = full); the part written was removed and the installed version is unchanged", folder.display())]
    Write {
        folder: PathBuf,
        #[source]
        source: FsError,
    },
}

/// The backup made for one change, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeBackup {
    /// The folder that receives the old files, relative to the install folder: `bkp.NNN`, or the
    /// temporary undo folder (no backups kept, or a full copy was made beforehand).
    pub receives: String,
    /// `receives` is the temporary undo folder, removed after the commit.
    pub temporary: bool,
    /// The `bkp.NNN` folder made, if any (for messages).
    pub folder: Option<PathBuf>,
}

/// Free space left after a full backup for the journal, the state and the file system's own needs.
pub const FULL_BACKUP_MARGIN: u64 = 1024 * 1024;

/// Copies every file of `saved` (manifest paths) from the install folder into a full backup.
fn copy_full(dir: &Path, folder: &Path, saved: &[String]) -> Result<(), FsError> {
    for p in saved {
        let from = fsutil::native(dir, p);
        let to = fsutil::native(folder, p);
        if let Some(d) = to.parent() {
            fs::create_dir_all(d).map_err(fs_err("create folder", d))?;
        }
        fs::copy(&from, &to).map_err(fs_err("copy into the backup", &from))?;
    }
    Ok(())
}

/// Makes the backup for a change: rotates `bkp.NNN` and writes `backup.json.pending`, or picks the
/// temporary undo folder when no backup is kept. `full` copies every managed file into the new backup
/// first. Fails first, changing nothing, when the install folder cannot be written (`.launcher/` may be
/// writable when the folder itself is not).
pub fn make_backup(
    layout: &Layout,
    keep: u32,
    full: bool,
    info: BackupInfo,
) -> Result<MadeBackup, BackupError> {
    probe_writable(&layout.dir, &layout.dir)?;
    let undo = layout.undo();
    if undo.exists() {
        fsutil::remove_dir_all(&undo).map_err(fs_err("clear", &undo))?;
    }
    let temporary = |folder| MadeBackup {
        receives: Layout::undo_rel(),
        temporary: true,
        folder,
    };
    if keep == 0 {
        return Ok(temporary(None));
    }
    if full {
        // Checked before the rotation deletes the oldest backup: a copy that cannot fit must not
        // cost a backup, nor fill the disk. The space the rotation frees is not counted.
        let needed = full_copy_bytes(&layout.dir, info.saved.iter().map(String::as_str))
            + FULL_BACKUP_MARGIN;
        if let Ok(available) = fs4::available_space(&layout.dir) {
            if available < needed {
                return Err(BackupError::Space {
                    folder: next_folder(&layout.dir, keep),
                    needed,
                    available,
                });
            }
        }
    }
    let folder = prepare(&layout.dir, keep)?;
    if full {
        let written = copy_full(&layout.dir, &folder, &info.saved)
            .and_then(|()| write_pending_info(&folder, &info));
        if let Err(source) = written {
            // A half-written copy holds nothing usable and, on a full disk, the space the user
            // needs back (the disk may also have filled up for another reason since the check).
            let _ = fsutil::remove_dir_all(&folder);
            fsutil::sync_dir(&layout.dir);
            return Err(BackupError::Write { folder, source });
        }
        return Ok(temporary(Some(folder)));
    }
    write_pending_info(&folder, &info)?;
    let receives = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(MadeBackup {
        receives,
        temporary: false,
        folder: Some(folder),
    })
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
                from: Some(Version::parse("1").unwrap()),
                to: Version::parse("2").unwrap(),
                created: "2026-01-01T00:00:00Z".into(),
                mode: BackupMode::Changed,
                added: vec![],
                saved: vec![],
                manifest: None,
                kept: vec![],
                kind: None,
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
