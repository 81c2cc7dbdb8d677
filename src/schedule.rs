//! Scheduled pre-download: `launcher schedule --at HH:MM [--random-delay D] | --remove` registers
//! (or removes) a daily task with the OS scheduler that runs `launcher --config INI -q fetch`.
//!
//! This module owns the task's description (when, what it runs, its name) and hands the OS part to
//! one small sibling file: cron on Linux and other Unixes (`unix.rs`, via `crontab`), Task Scheduler
//! on Windows (`windows.rs`, via `schtasks`), launchd on macOS (`macos.rs`, unverified on a real Mac).
//! It never edits anything but its own entry: one task per ini file, named after the ini's path, so
//! two installs on one machine get two tasks and `--remove` removes only this one.
//!
//! The random delay spreads a fleet over the given span without any scheduler support for it (cron
//! and launchd have none, `schtasks` only in XML): it is drawn once, when the task is registered, and
//! added to the time, so each machine fetches at its own fixed minute.

#[cfg(all(unix, not(target_os = "macos")))]
mod unix;
#[cfg(all(unix, not(target_os = "macos")))]
use unix as os;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as os;
// Compiled for the unit tests everywhere: the `schtasks` command line is tested on every platform.
#[cfg(any(windows, test))]
mod windows;
#[cfg(windows)]
use windows as os;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The longest random delay accepted: a day would move the task to another day.
pub const MAX_DELAY_MINUTES: u32 = 12 * 60;

/// A daily `launcher fetch` for one ini file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The task's name in the scheduler (and its marker in a crontab).
    pub name: String,
    /// Minutes after local midnight, the random delay included.
    pub minute: u16,
    /// The launcher to run and the ini it is given.
    pub exe: PathBuf,
    pub ini: PathBuf,
}

impl Task {
    pub fn new(exe: &Path, ini: &Path, minute: u16) -> Task {
        Task {
            name: task_name(ini),
            minute: minute % (24 * 60),
            exe: exe.to_path_buf(),
            ini: ini.to_path_buf(),
        }
    }

    /// `02:17`.
    pub fn time(&self) -> String {
        format!("{:02}:{:02}", self.minute / 60, self.minute % 60)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cannot run `{program}`; {hint}")]
    Missing {
        program: String,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed: {output}")]
    Failed { command: String, output: String },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scheduled tasks are not supported on this system")]
    Unsupported,
}

/// The scheduler's name for the task of `ini`: `launcher-fetch-` and 12 hex digits of its path's hash.
pub fn task_name(ini: &Path) -> String {
    let digest = Sha256::digest(ini.to_string_lossy().as_bytes());
    format!("launcher-fetch-{}", hex::encode(&digest[..6]))
}

/// `HH:MM`, 24-hour, as minutes after midnight.
pub fn parse_at(s: &str) -> Result<u16, String> {
    crate::hours::clock_minutes(s.trim()).ok_or_else(|| {
        format!("`--at {s}` is not a time of day; give 24-hour local time such as 02:00")
    })
}

/// `30m`, `2h`, `1h 30m` or `45` (minutes), at most [`MAX_DELAY_MINUTES`].
pub fn parse_delay(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let minutes = match s.parse::<u32>() {
        Ok(m) => Some(m),
        Err(_) => humantime::parse_duration(s)
            .ok()
            .and_then(|d| u32::try_from(d.as_secs() / 60).ok()),
    };
    minutes.filter(|m| *m <= MAX_DELAY_MINUTES).ok_or_else(|| {
        format!("`--random-delay {s}` is not valid: give minutes or a span such as 30m or 2h, at most 12h")
    })
}

/// A random number of minutes in `0..=max`, drawn from the OS-seeded hash keys (`rollout`).
pub fn draw_delay(max: u32) -> u32 {
    if max == 0 {
        return 0;
    }
    let id = crate::rollout::new_install_id();
    let n = u64::from_str_radix(&id[..15], 16).unwrap_or(0);
    (n % (u64::from(max) + 1)) as u32
}

/// Registers `task`, replacing an earlier task of the same ini.
pub fn install(task: &Task) -> Result<(), ScheduleError> {
    os::install(task)
}

/// Removes the task of `ini`; false when there was none.
pub fn remove(ini: &Path) -> Result<bool, ScheduleError> {
    os::remove(&task_name(ini))
}

/// The time (`HH:MM`) of the task of `ini`, when one is registered.
pub fn show(ini: &Path) -> Result<Option<String>, ScheduleError> {
    os::show(&task_name(ini))
}

/// What the scheduler is called here, for messages.
pub fn scheduler_name() -> &'static str {
    os::NAME
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_delays_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(parse_at("02:00"), Ok(120));
        assert_eq!(parse_at("23:59"), Ok(23 * 60 + 59));
        assert!(parse_at("24:00").unwrap_err().contains("such as 02:00"));
        assert_eq!(parse_delay("30m"), Ok(30));
        assert_eq!(parse_delay("1h 30m"), Ok(90));
        assert_eq!(parse_delay("45"), Ok(45));
        assert!(parse_delay("13h").unwrap_err().contains("at most 12h"));
        assert!(parse_delay("soon").is_err());
    }

    #[test]
    fn the_delay_stays_in_its_span_and_the_name_follows_the_ini() {
        assert!((0..200).all(|_| draw_delay(30) <= 30));
        assert_eq!(draw_delay(0), 0);
        let a = task_name(Path::new("/opt/a/launcher.ini"));
        assert_eq!(a, task_name(Path::new("/opt/a/launcher.ini")));
        assert_ne!(a, task_name(Path::new("/opt/b/launcher.ini")));
        assert_eq!(
            Task::new(Path::new("l"), Path::new("i"), 24 * 60 + 5).time(),
            "00:05"
        );
    }
}
