//! The launcher's own console. On Windows `launcher.exe` is a GUI-subsystem program, so starting it from
//! Explorer or a shortcut opens no console window in front of the user; started from `cmd.exe` or
//! PowerShell it attaches to that console, so its messages, `--json` and progress still reach the
//! terminal, and a console app it starts shares that console. Unix programs have no such split.

#[cfg(windows)]
mod windows;

/// Attaches to the parent's console when there is one (Windows); does nothing elsewhere. Call it before
/// anything is printed.
pub fn attach_parent() {
    #[cfg(windows)]
    windows::attach_parent();
}
