//! cron, through `crontab -l` and `crontab -`: the task is one line of the user's crontab, marked with
//! the task's name in a trailing comment; every other line is written back as it was.

use super::{ScheduleError, Task};
use std::io::Write;
use std::process::{Command, Stdio};

pub const NAME: &str = "cron";

const HINT: &str =
    "install cron (Debian: `apt-get install cron`) or schedule `launcher fetch` by other means";

/// The user's crontab, without a trailing newline; empty when there is none.
fn read() -> Result<String, ScheduleError> {
    let out = Command::new("crontab")
        .arg("-l")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ScheduleError::Missing {
            program: "crontab".into(),
            hint: HINT,
            source,
        })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("no crontab for") {
        return Ok(String::new());
    }
    Err(ScheduleError::Failed {
        command: "crontab -l".into(),
        output: err.trim().to_string(),
    })
}

fn write(text: &str) -> Result<(), ScheduleError> {
    if text.trim().is_empty() {
        // Nothing left: no crontab at all, as before the first `schedule`.
        return remove_all();
    }
    let mut child = Command::new("crontab")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ScheduleError::Missing {
            program: "crontab".into(),
            hint: HINT,
            source,
        })?;
    let mut body = text.to_string();
    if !body.is_empty() {
        body.push('\n');
    }
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(body.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|source| ScheduleError::Missing {
            program: "crontab".into(),
            hint: HINT,
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ScheduleError::Failed {
            command: "crontab -".into(),
            output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

fn remove_all() -> Result<(), ScheduleError> {
    let out = Command::new("crontab")
        .arg("-r")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ScheduleError::Missing {
            program: "crontab".into(),
            hint: HINT,
            source,
        })?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || err.contains("no crontab for") {
        Ok(())
    } else {
        Err(ScheduleError::Failed {
            command: "crontab -r".into(),
            output: err.trim().to_string(),
        })
    }
}

/// The line's trailing marker: what finds the task again.
fn marker(name: &str) -> String {
    format!("# {name}")
}

/// A path for `sh`, single-quoted; `%` is cron's line break and must be escaped even inside quotes.
fn quote(p: &std::path::Path) -> String {
    let s = p
        .to_string_lossy()
        .replace('\'', r"'\''")
        .replace('%', r"\%");
    format!("'{s}'")
}

/// The crontab line of `task`.
pub fn line(task: &Task) -> String {
    format!(
        "{} {} * * * {} --config {} -q fetch {}",
        task.minute % 60,
        task.minute / 60,
        quote(&task.exe),
        quote(&task.ini),
        marker(&task.name)
    )
}

fn without(text: &str, name: &str) -> (Vec<String>, bool) {
    let m = marker(name);
    let mut found = false;
    let kept = text
        .lines()
        .filter(|l| {
            let ours = l.trim_end().ends_with(&m);
            found |= ours;
            !ours
        })
        .map(str::to_string)
        .collect();
    (kept, found)
}

pub fn install(task: &Task) -> Result<(), ScheduleError> {
    let (mut lines, _) = without(&read()?, &task.name);
    lines.push(line(task));
    write(&lines.join("\n"))
}

pub fn remove(name: &str) -> Result<bool, ScheduleError> {
    let (lines, found) = without(&read()?, name);
    if found {
        write(&lines.join("\n"))?;
    }
    Ok(found)
}

pub fn show(name: &str) -> Result<Option<String>, ScheduleError> {
    let m = marker(name);
    Ok(read()?
        .lines()
        .find(|l| l.trim_end().ends_with(&m))
        .and_then(|l| {
            let mut f = l.split_whitespace();
            let minute: u16 = f.next()?.parse().ok()?;
            let hour: u16 = f.next()?.parse().ok()?;
            Some(format!("{hour:02}:{minute:02}"))
        }))
}
