//! Small file-system helpers shared by the publisher and the client: atomic writes, directory fsync,
//! hashing, and converting between manifest paths and native paths.
//!
//! Atomic means: write a temp file in the same folder, fsync it, rename it over the target, fsync the
//! folder. A reader sees the old file or the new one, never a torn one, even after a power cut.

use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[cfg(windows)]
mod windows;

/// An I/O error with the path it happened on and what the launcher was doing.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} `{}`: {source}", path.display())]
pub struct FsError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

pub fn fs_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FsError + 'a {
    move |source| FsError {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync folder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(fs_err("create folder", dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(fs_err("create a temp file in", dir))?;
    tmp.write_all(bytes).map_err(fs_err("write", tmp.path()))?;
    set_shared_readable(tmp.path())?;
    tmp.as_file().sync_all().map_err(fs_err("flush", path))?;
    tmp.persist(path).map_err(|e| FsError {
        action: "replace",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(dir);
    Ok(())
}

/// Makes a file created through `tempfile` (mode 0600) readable by all, as a normally created file is:
/// repository files are served by other users (nginx), and installed files are used by every user.
#[cfg(unix)]
pub fn set_shared_readable(path: &Path) -> Result<(), FsError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
        .map_err(fs_err("set the permissions of", path))
}

#[cfg(not(unix))]
pub fn set_shared_readable(_path: &Path) -> Result<(), FsError> {
    Ok(())
}

/// Flushes a folder's entries (renames, creations) to disk. Best effort: Windows has no such call and
/// journals metadata itself.
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// SHA-256 of a reader, as lowercase hex, and the number of bytes read.
pub fn sha256_reader(mut r: impl Read) -> io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

pub fn sha256_file(path: &Path) -> Result<(String, u64), FsError> {
    let f = File::open(path).map_err(fs_err("open", path))?;
    sha256_reader(f).map_err(fs_err("read", path))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The native path of a manifest path under `root` (manifest paths are validated, `/`-separated).
pub fn native(root: &Path, manifest_path: &str) -> PathBuf {
    let mut p = root.to_path_buf();
    for c in manifest_path.split('/') {
        p.push(c);
    }
    p
}

/// Whether a file is marked executable. Windows has no such bit; there `.exe`-ness is by name.
#[cfg(unix)]
pub fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
pub fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

/// Sets or clears the executable bits (following the read bits, as `chmod +x` under a umask would).
#[cfg(unix)]
pub fn set_executable(path: &Path, exec: bool) -> Result<(), FsError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(fs_err("read the permissions of", path))?;
    let mode = meta.permissions().mode();
    let new = if exec {
        mode | ((mode & 0o444) >> 2)
    } else {
        mode & !0o111
    };
    if new != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(new))
            .map_err(fs_err("set the permissions of", path))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn set_executable(_path: &Path, _exec: bool) -> Result<(), FsError> {
    Ok(())
}

/// A human-readable byte count: `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Modification time in nanoseconds since the epoch (negative before 1970).
pub fn mtime_ns(meta: &fs::Metadata) -> i128 {
    match meta.modified() {
        Ok(t) => match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        },
        Err(_) => 0,
    }
}

/// A file's identity on its volume: the inode on Unix, the file index on Windows (read through a
/// handle, hence the path); 0 where unknown.
#[cfg(unix)]
pub fn file_id(_path: &Path, meta: &fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

#[cfg(windows)]
pub fn file_id(path: &Path, _meta: &fs::Metadata) -> u64 {
    windows::identity(path).map_or(0, |(_, index)| index)
}

/// True when both paths are links to the same file (same device and inode, or volume and file index).
/// False where unknown.
#[cfg(unix)]
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(a), fs::symlink_metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(windows)]
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (windows::identity(a), windows::identity(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// `fs::remove_dir_all` for the launcher's own folders (backups, the undo folder). On Windows a file with
/// the read-only attribute cannot be deleted, and a backup keeps the attribute of the installed file it
/// was moved from; so there the attribute is cleared below `dir` and the removal tried once more.
pub fn remove_dir_all(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        #[cfg(windows)]
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            windows::clear_read_only(dir);
            fs::remove_dir_all(dir)
        }
        r => r,
    }
}

/// Sets a file's modification date. On Windows through a handle opened for attributes only, sharing
/// everything: a running program's file (the launcher's own `.exe`, when a release lists it unchanged
/// but with another date) refuses to be opened for writing, but its date can still be set.
pub fn set_mtime(path: &Path, t: std::time::SystemTime) -> io::Result<()> {
    #[cfg(windows)]
    return windows::set_mtime(path, t);
    #[cfg(not(windows))]
    filetime::set_file_mtime(path, filetime::FileTime::from_system_time(t))
}
