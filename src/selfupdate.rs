//! The launcher updates itself: when a release contains the running launcher's own file (its path inside
//! `Dir` resolves to the running executable, as with `Dir = .` and the launcher in the app folder), that
//! file is replaced by the same journaled apply as every other file (verified first; the old launcher goes
//! into the backup; old or new, never in between), and then the launcher restarts itself once, with the
//! same arguments and environment, so the rest of the run and the app launch are done by the new launcher.
//!
//! Why not the `self-replace` crate: the journal already moves the old executable into the backup by
//! rename, which works for a running executable on Windows too (a running `.exe` can be renamed, not
//! overwritten or deleted), so nothing is left for that crate to do; and a rename inside the journal is
//! crash-safe, where a separate self-replace step would not be.
//!
//! The guard against restart loops: the restarted launcher gets `LAUNCHER_RESTARTED=1` and never
//! restarts again in that run. When the new launcher cannot be started, the running one says so and
//! launches the app itself.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Set for the restarted launcher.
pub const RESTARTED_ENV: &str = "LAUNCHER_RESTARTED";

/// The running launcher, as found before any update renames it.
#[derive(Debug, Clone)]
pub struct Me {
    /// The canonical path of the running executable.
    pub path: Option<PathBuf>,
    /// This process is the restart after a self-update.
    pub restarted: bool,
}

impl Me {
    pub fn detect() -> Me {
        let path = std::env::current_exe()
            .ok()
            .and_then(|p| p.canonicalize().ok());
        let restarted = std::env::var_os(RESTARTED_ENV).is_some();
        Me { path, restarted }
    }

    /// The manifest path of the running launcher inside `dir`, if it is there.
    pub fn manifest_path(&self, dir: &Path) -> Option<String> {
        let me = self.path.as_ref()?;
        let dir = dir.canonicalize().ok()?;
        let rel = me.strip_prefix(&dir).ok()?;
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/"))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the new launcher `{}` could not be started", path.display())]
pub struct RestartError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Starts the launcher at `path` (the new file) with this process's arguments and environment plus the
/// loop guard. On Unix this replaces the process and returns only on failure; on Windows it waits and
/// returns the exit code.
pub fn restart(path: &Path) -> Result<i32, RestartError> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut cmd = std::process::Command::new(path);
    cmd.args(args).env(RESTARTED_ENV, "1");
    let err = |source| RestartError {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(err(cmd.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().map_err(err)?;
        Ok(status.code().unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::Me;

    #[test]
    fn finds_itself_inside_the_install_folder_only() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("bin")).unwrap();
        std::fs::write(d.path().join("bin/launcher"), b"x").unwrap();
        let me = Me {
            path: Some(d.path().join("bin/launcher").canonicalize().unwrap()),
            restarted: false,
        };
        assert_eq!(me.manifest_path(d.path()).as_deref(), Some("bin/launcher"));
        let other = tempfile::tempdir().unwrap();
        assert_eq!(me.manifest_path(other.path()), None);
    }
}
