//! Windows Task Scheduler, through `schtasks`. The command lines are built by plain functions so that
//! they are unit-tested on every platform; running them happens on Windows only (not yet verified on
//! a real machine).
// Built on other systems for its tests only: there the functions that run `schtasks` are unused.
#![cfg_attr(not(windows), allow(dead_code))]

use super::{ScheduleError, Task};
use std::process::Command;

pub const NAME: &str = "Task Scheduler";

/// `schtasks` arguments that create (or replace, `/F`) the daily task.
pub fn create_args(task: &Task) -> Vec<String> {
    // The task runs this line; the paths are quoted for the spaces of `C:\Program Files`.
    let run = format!(
        "\"{}\" --config \"{}\" -q fetch",
        task.exe.display(),
        task.ini.display()
    );
    [
        "/Create",
        "/F",
        "/SC",
        "DAILY",
        "/ST",
        &task.time(),
        "/TN",
        &task.name,
        "/TR",
        &run,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn delete_args(name: &str) -> Vec<String> {
    ["/Delete", "/F", "/TN", name]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

pub fn query_args(name: &str) -> Vec<String> {
    ["/Query", "/TN", name, "/XML"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Runs `schtasks ARGS`; Ok(None) when it reports that the task does not exist.
fn schtasks(args: &[String]) -> Result<Option<String>, ScheduleError> {
    let out = Command::new("schtasks")
        .args(args)
        .output()
        .map_err(|source| ScheduleError::Missing {
            program: "schtasks".into(),
            hint: "Task Scheduler must be available; schedule `launcher fetch` by other means",
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(Some(stdout));
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if args.first().is_some_and(|a| a != "/Create") && stderr.contains("cannot find") {
        return Ok(None);
    }
    Err(ScheduleError::Failed {
        command: format!("schtasks {}", args.join(" ")),
        output: stderr,
    })
}

pub fn install(task: &Task) -> Result<(), ScheduleError> {
    schtasks(&create_args(task)).map(|_| ())
}

pub fn remove(name: &str) -> Result<bool, ScheduleError> {
    if schtasks(&query_args(name))?.is_none() {
        return Ok(false);
    }
    schtasks(&delete_args(name)).map(|r| r.is_some())
}

pub fn show(name: &str) -> Result<Option<String>, ScheduleError> {
    Ok(schtasks(&query_args(name))?.and_then(|xml| start_time(&xml)))
}

/// `HH:MM` of the task's `<StartBoundary>2026-11-23T02:17:00</StartBoundary>`.
fn start_time(xml: &str) -> Option<String> {
    let start = xml.find("<StartBoundary>")? + "<StartBoundary>".len();
    let t = xml[start..].split_once('T')?.1;
    t.get(..5).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_schtasks_command_line_creates_a_daily_fetch_for_this_ini() {
        let task = Task::new(
            Path::new(r"C:\Program Files\Opeka\Opeka.exe"),
            Path::new(r"C:\Program Files\Opeka\Opeka.ini"),
            2 * 60 + 17,
        );
        let args = create_args(&task);
        assert_eq!(
            args,
            [
                "/Create",
                "/F",
                "/SC",
                "DAILY",
                "/ST",
                "02:17",
                "/TN",
                task.name.as_str(),
                "/TR",
                r#""C:\Program Files\Opeka\Opeka.exe" --config "C:\Program Files\Opeka\Opeka.ini" -q fetch"#,
            ]
        );
        assert!(task.name.starts_with("launcher-fetch-"));
        assert_eq!(
            delete_args(&task.name),
            ["/Delete", "/F", "/TN", task.name.as_str()]
        );
        assert_eq!(
            start_time(
                "<Triggers><CalendarTrigger><StartBoundary>2026-11-23T02:17:00</StartBoundary>"
            ),
            Some("02:17".to_string())
        );
    }
}
