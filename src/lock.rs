//! One launcher at a time changes an install: an exclusive lock on `<Dir>/.launcher/lock` (the standard
//! library's `File::try_lock`: `flock` on Unix, `LockFileEx` on Windows; it replaced fd-lock, whose guard
//! borrows the lock and made holding it across calls awkward). The OS releases it when the holder dies, so a killed
//! launcher never blocks the next one. Waiting is bounded and says so when it takes long.

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
            Ok(()) => return Ok(InstallLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(fs_err("lock", path)(e).into()),
        }
        if !told && start.elapsed() > Duration::from_secs(2) {
            reporter.info("Another launcher is updating this app; waiting for it to finish");
            told = true;
        }
        if start.elapsed() > MAX_WAIT {
            return Err(LockError::Timeout(path.to_path_buf()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
