//! Automatic rollback when a new version does not start (`HealthCheck = N` seconds in launcher.ini).
//!
//! This module owns the first start after an update. An update applied while `HealthCheck` is on
//! leaves the new version "unproven" (`State::unproven`, written in the same state save as the change
//! itself); the next start of that version is watched instead of `exec`ed:
//!
//! 1. Start the app as a child (`launch::spawn`) with the user's arguments.
//! 2. Watch it for N seconds. Exit code 0 in that time, or still running at the end: the version is
//!    proven; the mark is cleared (under the install lock) and the launcher passes the app's exit code
//!    through when it ends. Every later start is an `exec` again.
//! 3. A non-zero exit code or a crash (a signal) within N seconds: the version failed. Under the lock,
//!    `rollback::rollback` restores the previous version from the backup (files and all, journaled),
//!    which holds the bad version; the log and `status` say what happened; the caller starts the
//!    previous version once.
//!
//! When something else changed the install between the start and the failure (another launcher
//! updated it), nothing is rolled back: the failure is about a version no longer there.

use crate::config::Config;
use crate::launch::{self, Launch};
use crate::manifest::Manifest;
use crate::progress::Reporter;
use crate::state::{self, LastResult, Outcome};
use crate::update::{Session, UpdateError};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// What the watched first start came to.
pub enum FirstStart {
    /// The version is proven; the app ended with this exit code.
    Proven(i32),
    /// The version failed and was rolled back: start this one (the previous version) instead.
    RolledBack(Box<Manifest>),
}

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error(transparent)]
    Launch(#[from] launch::LaunchError),
    #[error("cannot watch the app `{}`", path.display())]
    Wait {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{version} failed its first start ({how}), and it could not be rolled back: {cause}")]
    Rollback {
        version: String,
        how: String,
        cause: String,
    },
    #[error(transparent)]
    Update(#[from] UpdateError),
}

/// True when the next start of `installed` must be watched: `HealthCheck` is on and the last update
/// left that version unproven.
pub fn must_watch(cfg: &Config, state: &state::State, installed: &Manifest) -> bool {
    cfg.health_check.is_some() && state.unproven.as_ref() == Some(&installed.version.to_string())
}

/// Runs the first start of `m` (see the module doc) and says how it ended.
pub fn first_start(
    cfg: &Config,
    reporter: &Reporter,
    m: &Manifest,
    l: &Launch,
) -> Result<FirstStart, HealthError> {
    let within = cfg.health_check.unwrap_or_default();
    reporter.detail(format!(
        "First start of {} after the update: watching it for {} s",
        m.version,
        within.as_secs()
    ));
    let mut child = launch::spawn(l)?;
    let waited = |source| HealthError::Wait {
        path: l.executable.clone(),
        source,
    };
    match watch(&mut child, within).map_err(waited)? {
        Some(status) if status.success() => {
            settle(cfg, reporter, m)?;
            Ok(FirstStart::Proven(0))
        }
        Some(status) => roll_back(cfg, reporter, m, &failure(&status), within),
        None => {
            settle(cfg, reporter, m)?;
            let status = child.wait().map_err(waited)?;
            Ok(FirstStart::Proven(exit_code(&status)))
        }
    }
}

/// Waits for `child` to exit for at most `within`; None when it is still running.
fn watch(child: &mut Child, within: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `exited with code 3` or `crashed (signal 11)`.
fn failure(status: &ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(sig) = status.signal() {
                    return format!("crashed (signal {sig})");
                }
            }
            "crashed".to_string()
        }
    }
}

/// The exit code to pass on: a crash by a signal is reported the way a shell does (128 + signal).
fn exit_code(status: &ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    1
}

/// The version started well: it is no longer watched.
fn settle(cfg: &Config, reporter: &Reporter, m: &Manifest) -> Result<(), HealthError> {
    let mut s = Session::open(cfg, reporter)?;
    if s.state.unproven.as_deref() == Some(m.version.as_str()) {
        s.state.unproven = None;
        s.save()?;
    }
    Ok(())
}

fn roll_back(
    cfg: &Config,
    reporter: &Reporter,
    m: &Manifest,
    how: &str,
    within: Duration,
) -> Result<FirstStart, HealthError> {
    let mut s = Session::open(cfg, reporter)?;
    let installed = s.installed().cloned();
    if installed.as_ref().map(|i| &i.version) != Some(&m.version) {
        // Changed by another launcher meanwhile: start what is there now.
        return match installed {
            Some(i) => Ok(FirstStart::RolledBack(Box::new(i))),
            None => Ok(FirstStart::Proven(1)),
        };
    }
    reporter.warn(format!(
        "{} {how} within {} s of its first start; rolling back to the previous version",
        m.version,
        within.as_secs()
    ));
    let rb = crate::rollback::rollback(&mut s).map_err(|e| HealthError::Rollback {
        version: m.version.to_string(),
        how: how.to_string(),
        cause: crate::error::one_line(&e),
    })?;
    let result = format!(
        "{} {how} within {} s of its first start; rolled back to {}, and {} is held until a newer release appears",
        rb.from,
        within.as_secs(),
        rb.to,
        rb.from
    );
    s.state.unproven = None;
    s.state.last = Some(LastResult {
        time: crate::manifest::format_time(std::time::SystemTime::now()),
        from: Some(rb.from.clone()),
        to: Some(rb.to.clone()),
        result: Outcome::Failed(result.clone()),
    });
    s.save()?;
    state::log_line(
        &s.layout,
        Some(&rb.from),
        Some(&rb.to),
        &format!("failed: {result}"),
        0,
        0.0,
    );
    reporter.warn(result);
    let previous = s
        .installed()
        .cloned()
        .ok_or_else(|| HealthError::Rollback {
            version: m.version.to_string(),
            how: how.to_string(),
            cause: "nothing is installed after the rollback".to_string(),
        })?;
    Ok(FirstStart::RolledBack(Box::new(previous)))
}
