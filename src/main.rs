//! The `launcher` binary: parse the command line, run the command, print the error chain and map it to
//! a documented exit code. All the work lives in the library.
//!
//! On Windows it is a GUI-subsystem program (no console window on a double-click) that attaches to the
//! console of the `cmd.exe` or PowerShell it was started from; see `launcher::console`.
#![cfg_attr(windows, windows_subsystem = "windows")]
// The crate's dependencies are the library's; this thin shell uses only the library itself.
#![allow(unused_crate_dependencies)]

use launcher::error::{code, Failure};
use launcher::text::escape_output;
use std::io::Write;

fn main() {
    launcher::console::attach_parent();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let result = match launcher::cli::parse(args) {
        Ok(inv) => launcher::commands::dispatch(inv),
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() {
                code::USAGE
            } else {
                code::OK
            });
        }
    };
    match result {
        Ok(status) => std::process::exit(status),
        Err(err) => std::process::exit(report(&err)),
    }
}

/// Prints `error: ...`, each cause as `  caused by: ...`, and a `hint:` line; returns the exit code.
fn report(err: &anyhow::Error) -> i32 {
    // A closed stdout (`launcher status --json | head -c1`) is not an error.
    if let Some(io) = err.downcast_ref::<std::io::Error>() {
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            return code::OK;
        }
    }
    let mut stderr = std::io::stderr().lock();
    let mut chain = err.chain();
    let mut status = code::ERROR;
    let mut hint = None;
    if let Some(first) = chain.next() {
        let _ = writeln!(stderr, "error: {}", escape_output(&first.to_string()));
    }
    for cause in chain {
        let _ = writeln!(stderr, "  caused by: {}", escape_output(&cause.to_string()));
    }
    // A `Failure` attached with `.context(..)` is only reachable through anyhow's own downcast (the
    // chain yields anyhow's context wrapper, not the `Failure`); one further in is found in the chain.
    let outer = err.downcast_ref::<Failure>();
    for f in outer
        .into_iter()
        .chain(err.chain().filter_map(|c| c.downcast_ref::<Failure>()))
    {
        status = f.code;
        hint = hint.or_else(|| f.hint.clone());
    }
    if let Some(h) = hint {
        let _ = writeln!(stderr, "hint: {}", escape_output(&h));
    }
    status
}
