//! Windows file identity: the volume serial number and the 64-bit file index that
//! `GetFileInformationByHandle` reports, the NTFS counterpart of a Unix device and inode. Crash recovery
//! relies on it to tell "the old file is linked into the backup and still in place" from "the backup holds
//! the only copy", and the stat cache uses it to notice a file replaced by one of the same size and date.
//! The handle is opened for attributes only and shares everything, so a file held open by the running app
//! (even without `FILE_SHARE_DELETE`) can still be identified; links and junctions are not followed, as
//! `symlink_metadata` does not follow them.

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
