//! Starting the app: the executable, `Arguments` from the ini followed by the user's own, in
//! `WorkingDir`. On Unix the launcher `exec`s the app, so its exit code and signals pass straight
//! through; on Windows it starts the app and returns the app's exit code. Nothing from the server is
//! started before the whole file set is committed: callers launch only after `apply`.

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("the app's executable `{}` does not exist; check Executable in launcher.ini or the release", .0.display())]
    Missing(PathBuf),
    #[error("the app's working folder `{}` does not exist or is not a folder; check WorkingDir in launcher.ini (a relative path is relative to the ini file's folder), or create the folder", .0.display())]
    WorkingDir(PathBuf),
    #[error("cannot start `{}`", path.display())]
    Start {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Launch {
    pub executable: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
}

/// Starts the app. On Unix this only returns on failure; on Windows it returns the app's exit code.
pub fn launch(l: &Launch) -> Result<i32, LaunchError> {
    let cmd = command(l)?;
    run(cmd, &l.executable)
}

/// Starts the app as a child and returns at once, so that the launcher can watch it (`health`: the
/// first start after an update cannot be an `exec`).
pub fn spawn(l: &Launch) -> Result<std::process::Child, LaunchError> {
    command(l)?.spawn().map_err(|source| LaunchError::Start {
        path: l.executable.clone(),
        source,
    })
}

/// The app's command, after the checks that make its failures say what is wrong.
fn command(l: &Launch) -> Result<std::process::Command, LaunchError> {
    if !l.executable.is_file() {
        return Err(LaunchError::Missing(l.executable.clone()));
    }
    // Checked here because a missing working folder makes the start fail with "No such file", which
    // the OS reports as if the executable were missing.
    if !l.cwd.is_dir() {
        return Err(LaunchError::WorkingDir(l.cwd.clone()));
    }
    let mut cmd = std::process::Command::new(&l.executable);
    // The self-update loop guard is for the restarted launcher only: an app that starts the launcher
    // again must get a launcher that can restart after its own self-update.
    cmd.args(&l.args)
        .current_dir(&l.cwd)
        .env_remove(crate::selfupdate::RESTARTED_ENV);
    Ok(cmd)
}

#[cfg(unix)]
fn run(cmd: std::process::Command, path: &Path) -> Result<i32, LaunchError> {
    unix::exec(cmd, path)
}

#[cfg(windows)]
fn run(cmd: std::process::Command, path: &Path) -> Result<i32, LaunchError> {
    windows::spawn_and_wait(cmd, path)
}
