//! Windows: start the report sender as a detached process without a console window. The launcher waits
//! for the app on Windows, so the sender simply runs beside it.

use std::os::windows::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

const DETACHED_PROCESS: u32 = 0x0000_0008;
const CREATE_NO_WINDOW: u32 = 0x0800_0000;

pub fn detached(config: &Path) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    Command::new(exe)
        .arg("--config")
        .arg(config)
        .arg(super::SEND_COMMAND)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .creation_flags(DETACHED_PROCESS | CREATE_NO_WINDOW)
        .spawn()
        .map(|_| ())
}
