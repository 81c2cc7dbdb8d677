//! Windows: there is no `exec`; start the app, wait for it, and return its exit code. `.cmd` and `.bat`
//! files are started through `cmd.exe` by the standard library.

use super::LaunchError;
use std::path::Path;

pub fn spawn_and_wait(mut cmd: std::process::Command, path: &Path) -> Result<i32, LaunchError> {
    let status = cmd.status().map_err(|source| LaunchError::Start {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(status.code().unwrap_or(1))
}
