//! `AttachConsole(ATTACH_PARENT_PROCESS)` for the GUI-subsystem `launcher.exe`, and standard handles for
//! the attached console where the parent passed none. Handles the parent did pass (a pipe, a file:
//! `launcher status --json > status.json`) are left alone, so redirection works as for a console program.

use std::fs::OpenOptions;
use std::os::windows::io::IntoRawHandle;

const ATTACH_PARENT_PROCESS: u32 = u32::MAX;
const STD_INPUT_HANDLE: u32 = -10i32 as u32;
const STD_OUTPUT_HANDLE: u32 = -11i32 as u32;
const STD_ERROR_HANDLE: u32 = -12i32 as u32;

#[link(name = "kernel32")]
extern "system" {
    fn AttachConsole(process_id: u32) -> i32;
    fn GetStdHandle(which: u32) -> isize;
    fn SetStdHandle(which: u32, handle: isize) -> i32;
}

fn missing(which: u32) -> bool {
    // SAFETY: GetStdHandle only reads the process's handle table; any `which` is accepted.
    let h = unsafe { GetStdHandle(which) };
    h == 0 || h == -1
}

pub fn attach_parent() {
    // SAFETY: plain Win32 call without pointers; it fails (0) when there is no parent console or the
    // process already has one (a console-subsystem build), and then nothing changes.
    if unsafe { AttachConsole(ATTACH_PARENT_PROCESS) } == 0 {
        return;
    }
    for (which, device) in [
        (STD_INPUT_HANDLE, "CONIN$"),
        (STD_OUTPUT_HANDLE, "CONOUT$"),
        (STD_ERROR_HANDLE, "CONOUT$"),
    ] {
        if !missing(which) {
            continue;
        }
        if let Ok(f) = OpenOptions::new().read(true).write(true).open(device) {
            // The handle lives as long as the process: the standard library writes to whatever
            // GetStdHandle returns, on every write.
            let h = f.into_raw_handle() as isize;
            // SAFETY: `h` is a valid console handle that nothing else owns or closes.
            unsafe { SetStdHandle(which, h) };
        }
    }
}
