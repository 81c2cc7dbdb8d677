//! The one reporter through which everything below the CLI tells the user what is happening.
//!
//! The CLI picks the rendering once (a progress bar on a terminal, plain lines otherwise, nothing with
//! `--quiet`); library code only calls [`Reporter::info`], [`Reporter::warn`], [`Reporter::detail`] and
//! [`Reporter::task`]. Everything goes to stderr, so stdout stays free for `--json` and for the app.

use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Display;
use std::io::Write;
use std::time::Duration;

/// In plain mode, byte tasks smaller than this get no line of their own (unless `--verbose`).
const PLAIN_MIN_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Progress bars (stderr is a terminal and progress is not disabled).
    Bar,
    /// One line per step, for logs and pipes.
    Plain,
    /// Errors only.
    Quiet,
}

#[derive(Debug, Clone)]
pub struct Reporter {
    mode: Mode,
    verbose: bool,
}

impl Reporter {
    pub fn new(mode: Mode, verbose: bool) -> Reporter {
        Reporter { mode, verbose }
    }

    /// A reporter that says nothing; for library callers and tests.
    pub fn silent() -> Reporter {
        Reporter::new(Mode::Quiet, false)
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    fn line(&self, msg: &str) {
        let mut err = std::io::stderr().lock();
        // Messages quote server-supplied text; nothing in them may drive the terminal.
        let _ = writeln!(err, "{}", crate::text::escape_output(msg));
    }

    /// A normal progress line (`Installed 7.04.200: 3 files, 1.2 MiB`).
    pub fn info(&self, msg: impl Display) {
        if self.mode != Mode::Quiet {
            self.line(&msg.to_string());
        }
    }

    /// Something went wrong but the launcher carries on (for example: server down, launching the
    /// installed version). Shown unless `--quiet`.
    pub fn warn(&self, msg: impl Display) {
        if self.mode != Mode::Quiet {
            self.line(&format!("warning: {msg}"));
        }
    }

    /// Only with `--verbose`.
    pub fn detail(&self, msg: impl Display) {
        if self.verbose && self.mode != Mode::Quiet {
            self.line(&msg.to_string());
        }
    }

    /// Starts a long piece of work of `total` units (bytes when `bytes` is true, else items).
    pub fn task(&self, label: &str, total: u64, bytes: bool) -> Task {
        match self.mode {
            Mode::Bar => {
                let template = if bytes {
                    "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
                } else {
                    "{msg:>12} [{bar:30}] {pos}/{len} {per_sec} {eta}"
                };
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template(template)
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_message(label.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                Task { bar: Some(bar) }
            }
            Mode::Plain => {
                // Short work (a few racy files to re-check) is not worth a line in a log.
                if total > 0 && (self.verbose || !bytes || total >= PLAIN_MIN_BYTES) {
                    let amount = if bytes {
                        crate::fsutil::human_bytes(total)
                    } else {
                        format!("{total} items")
                    };
                    self.line(&format!("{label}: {amount}"));
                }
                Task { bar: None }
            }
            Mode::Quiet => Task { bar: None },
        }
    }
}

/// A running piece of work; dropping it clears its bar.
pub struct Task {
    bar: Option<ProgressBar>,
}

impl Task {
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
