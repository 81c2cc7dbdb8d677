//! Windows file identity: the volume serial number and the 64-bit file index that
//! `GetFileInformationByHandle` reports, the NTFS counterpart of a Unix device and inode. Crash recovery
//! relies on it to tell "the old file is linked into the backup and still in place" from "the backup holds
//! the only copy", and the stat cache uses it to notice a file replaced by one of the same size and date.
//! The handle is opened for attributes only and shares everything, so a file held open by the running app
//! (even without `FILE_SHARE_DELETE`) can still be identified; links and junctions are not followed, as
//! `symlink_metadata` does not follow them. Dates are set through such a handle too (attributes only),
//! which works on a running program's file. It also clears the read-only attribute in the launcher's own
//! folders before they are removed.

use std::fs::OpenOptions;
use std::os::windows::fs::OpenOptionsExt;
use std::path::Path;

const FILE_READ_ATTRIBUTES: u32 = 0x80;
const FILE_SHARE_ALL: u32 = 0x1 | 0x2 | 0x4;
// Backup semantics lets the same call open folders; open-reparse-point stops at a link itself.
const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;

/// The (volume serial number, file index) of `path`, or None when it cannot be opened.
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    let f = OpenOptions::new()
        .access_mode(FILE_READ_ATTRIBUTES)
        .share_mode(FILE_SHARE_ALL)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
        .ok()?;
    let info = winapi_util::file::information(&f).ok()?;
    Some((info.volume_serial_number(), info.file_index()))
}

/// Clears the read-only attribute of every file below `dir` (links are not followed). Best effort: what
/// cannot be cleared makes the caller's removal fail with the path.
pub fn clear_read_only(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        if meta.is_dir() {
            clear_read_only(&e.path());
        } else if meta.permissions().readonly() && !meta.is_symlink() {
            let mut perms = meta.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            // Windows: only the attribute changes.
            perms.set_readonly(false);
            let _ = std::fs::set_permissions(e.path(), perms);
        }
    }
}

const FILE_WRITE_ATTRIBUTES: u32 = 0x100;

pub fn set_mtime(path: &Path, t: std::time::SystemTime) -> std::io::Result<()> {
    OpenOptions::new()
        .access_mode(FILE_WRITE_ATTRIBUTES)
        .share_mode(FILE_SHARE_ALL)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)?
        .set_modified(t)
}
