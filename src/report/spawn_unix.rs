//! Unix: start the report sender fully detached, so the app that the launcher is about to `exec` never
//! waits for it, never inherits it as a child, and never sees its output.
//!
//! The child forks once more in `pre_exec` and exits at once; the grandchild (the sender) is adopted by
//! init, so it never lingers as a zombie of the app. It also starts a new session (`setsid`), so Ctrl-C
//! in the app's terminal does not cut a send short. The launcher waits only for the short-lived child.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

pub fn detached(config: &Path) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--config")
        .arg(config)
        .arg(super::SEND_COMMAND)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls are made (fork, _exit, setsid).
    unsafe {
        cmd.pre_exec(|| {
            match libc::fork() {
                -1 => return Err(std::io::Error::last_os_error()),
                0 => {}
                _ => libc::_exit(0),
            }
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    child.wait()?;
    Ok(())
}
