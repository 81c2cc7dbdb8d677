//! Exit codes (a documented contract) and the error type that carries one to `main`.
//!
//! Modules return their own `thiserror` enums; the commands wrap what the user must act on in a
//! [`Failure`] with the exit code and an optional hint, and `main` prints the chain.

use std::fmt;

/// Documented exit codes. `run` otherwise passes the app's own exit code through.
pub mod code {
    pub const OK: i32 = 0;
    /// Any error not listed below.
    pub const ERROR: i32 = 1;
    /// Bad command line.
    pub const USAGE: i32 = 2;
    /// `launcher.ini` is missing or wrong.
    pub const CONFIG: i32 = 3;
    /// Nothing is installed and the install could not be done (first run with the server down).
    pub const NOT_INSTALLED: i32 = 4;
    /// A mandatory release could not be applied; the old version is not started.
    pub const MANDATORY: i32 = 5;
    /// `verify` found missing or damaged files.
    pub const DAMAGED: i32 = 6;
    /// The repository or a manifest refused (bad signature, hostile content, downgrade, expired).
    pub const REFUSED: i32 = 7;
    /// `check`: an update is available.
    pub const UPDATE_AVAILABLE: i32 = 10;
}

/// An error with the exit code it maps to and what the user can do about it.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// The hint of the error behind the failure, when it has one (see `UpdateError::hint`).
    pub fn hint_from(mut self, hint: Option<&str>) -> Failure {
        self.hint = hint.map(str::to_string);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An error and all its causes on one line, each cause once: library errors often repeat their cause's
/// text in their own message (reqwest's top-level message rarely names the real problem, its cause does).
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
