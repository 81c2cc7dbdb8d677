//! The launcher's own paths under the install folder are never links.
//!
//! Everything the launcher writes under `Dir` outside the app's files lives in `.launcher/` (state,
//! journal, log, lock, staging and what it holds, the undo and consumed folders, the saved channel
//! manifest) or in the `bkp.NNN` backup folders. A symbolic link (on Windows also a junction, which the
//! standard library reports as a link too) in one of those places would make the launcher write
//! wherever the link points, outside the install folder. This module owns finding such links and
//! replacing them: the link itself is removed, never its target (nothing is opened, changed or deleted
//! through it), and the launcher then creates a real file or folder in its place as it always does.
//!
//! Replacing rather than refusing: these names belong to the launcher (a manifest can never name them,
//! see `paths`), so the link holds nothing of the user's, and refusing would stop every later update
//! for good. The links removed are returned so that the caller can say so.
//!
//! The app's own paths are guarded where they are written (`apply` refuses a link among the folders on
//! the way to a file, and a link at a file's own path is replaced by rename, never written through).

use crate::fsutil::{fs_err, FsError};
use crate::layout::Layout;
use crate::paths::is_backup_dir_name;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A link that was removed: where it was and what it pointed to.
#[derive(Debug, Clone)]
pub struct Replaced {
    pub path: PathBuf,
    pub target: PathBuf,
}

impl std::fmt::Display for Replaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` was a link to `{}`; the launcher never writes through links, so it removed the link (its target is untouched) and uses a real one",
            self.path.display(),
            self.target.display()
        )
    }
}

/// True when `p` is a symbolic link or a junction (not followed).
pub fn is_link(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// Removes `p` when it is a link. Only the link goes: `remove_file` unlinks a link to a file or a
/// folder on Unix; on Windows a link to a folder and a junction are removed with `remove_dir`, which
/// removes the link, not the folder it points to.
pub fn replace(p: &Path) -> Result<Option<Replaced>, FsError> {
    if !is_link(p) {
        return Ok(None);
    }
    let target = fs::read_link(p).unwrap_or_default();
    match fs::remove_file(p) {
        Ok(()) => {}
        Err(first) => match fs::remove_dir(p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => return Err(fs_err("remove the link", p)(first)),
        },
    }
    Ok(Some(Replaced {
        path: p.to_path_buf(),
        target,
    }))
}

/// Replaces a link at `.launcher/` itself; call before the folder is created or used.
pub fn replace_meta(layout: &Layout) -> Result<Vec<Replaced>, FsError> {
    Ok(replace(&layout.meta)?.into_iter().collect())
}

/// Replaces every link in `.launcher/` (all of it is the launcher's) and in its staging folder, and
/// every link named like a backup folder (`bkp.NNN`) in the install folder. Call with `.launcher/` a real folder and, except for the lock
/// file itself, with the install lock held, so no other launcher is writing these entries.
pub fn replace_inner(layout: &Layout) -> Result<Vec<Replaced>, FsError> {
    let mut out = Vec::new();
    for e in entries(&layout.meta)? {
        if is_link(&e) {
            out.extend(replace(&e)?);
        }
    }
    let staging = layout.staging();
    if fs::symlink_metadata(&staging).is_ok_and(|m| m.is_dir()) {
        for e in entries(&staging)? {
            out.extend(replace(&e)?);
        }
    }
    for e in entries(&layout.dir)? {
        let backup_name = e
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_backup_dir_name);
        if backup_name {
            out.extend(replace(&e)?);
        }
    }
    Ok(out)
}

/// The entries of a folder (none when it does not exist).
fn entries(dir: &Path) -> Result<Vec<PathBuf>, FsError> {
    match fs::read_dir(dir) {
        Ok(rd) => Ok(rd.flatten().map(|e| e.path()).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(fs_err("list", dir)(e)),
    }
}
