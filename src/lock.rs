//! One launcher at a time changes an install: an exclusive lock on `<Dir>/.launcher/lock` (the standard
//! library's `File::try_lock`: `flock` on Unix, `LockFileEx` on Windows; it replaced fd-lock, whose guard
//! borrows the lock and made holding it across calls awkward). The OS releases it when the holder dies, so a killed
//! launcher never blocks the next one. Waiting is bounded and says so when it takes long. `publish`
//! and `promote` use the same mechanism ([`wait_for`]) on a lock file in the repository.

use crate::fsutil::{fs_err, FsError};
use crate::progress::Reporter;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a launcher waits for another one to finish its update.
pub const MAX_WAIT: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("another launcher has been updating `{}` for more than {} s; try again later", .0.display(), MAX_WAIT.as_secs())]
    Timeout(std::path::PathBuf),
}

/// A held lock; released on drop (and by the OS when the process dies).
pub struct InstallLock {
    _file: File,
}

/// Takes the install lock, waiting (bounded) while another launcher holds it.
pub fn acquire(path: &Path, reporter: &Reporter) -> Result<InstallLock, LockError> {
    match wait_for(
        path,
        reporter,
        "Another launcher is updating this app; waiting for it to finish",
        MAX_WAIT,
    )? {
        Some(file) => Ok(InstallLock { _file: file }),
        None => Err(LockError::Timeout(path.to_path_buf())),
    }
}

/// Opens (creating it if needed) and exclusively locks `path`, waiting while another process holds it;
/// `waiting` is said once after 2 s. Returns None when `max_wait` passed without getting the lock. The
/// lock lives as long as the returned file and dies with the process, so a killed holder never leaves a
/// lock behind that blocks the next one: the file itself stays and means nothing while unlocked.
pub fn wait_for(
    path: &Path,
    reporter: &Reporter,
    waiting: &str,
    max_wait: Duration,
) -> Result<Option<File>, FsError> {
    let mut opts = OpenOptions::new();
    opts.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Never through a link (`links` replaces one before this; a link made since is refused here).
        opts.custom_flags(libc::O_NOFOLLOW);
    }
    let file = opts
        .open(path)
        .map_err(fs_err("open the lock file", path))?;
    let start = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(fs_err("lock", path)(e)),
        }
        if !told && start.elapsed() > Duration::from_secs(2) {
            reporter.info(waiting);
            told = true;
        }
        if start.elapsed() > max_wait {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
