//! Unix: replace the launcher process with the app (`exec`), so the app gets the launcher's pid, its
//! signals and its exit code with nothing in between.

use super::LaunchError;
use std::os::unix::process::CommandExt;
use std::path::Path;

pub fn exec(mut cmd: std::process::Command, path: &Path) -> Result<i32, LaunchError> {
    let source = cmd.exec();
    Err(LaunchError::Start {
        path: path.to_path_buf(),
        source,
    })
}
