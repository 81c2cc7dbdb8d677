//! cron, through `crontab -l` and `crontab -`: the task is one line of the user's crontab, marked with
//! the task's name in a trailing comment; every other line is written back as it was.

use super::{ScheduleError, Task};
use std::io::Write;
use std::process::{Command, Output, Stdio};

pub const NAME: &str = "cron";

const HINT: &str =
    "install cron (Debian: `apt-get install cron`) or schedule `launcher fetch` by other means";

/// Runs `crontab ARGS` with `input` on its stdin (None: no stdin).
fn crontab(args: &[&str], input: Option<&str>) -> Result<Output, ScheduleError> {
    let missing = |source| ScheduleError::Missing {
        program: "crontab".into(),
        hint: HINT,
        source,
    };
    let mut child = Command::new("crontab")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(missing)?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // A crontab that refuses its input says why on stderr, read below.
        let _ = stdin.write_all(text.as_bytes());
    }
    child.wait_with_output().map_err(missing)
}

/// `Ok` for a successful run, or for "no crontab" when `none_is_ok`; otherwise the error it printed.
fn checked(args: &[&str], out: &Output, none_is_ok: bool) -> Result<(), ScheduleError> {
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || (none_is_ok && err.contains("no crontab for")) {
        return Ok(());
    }
    Err(ScheduleError::Failed {
        command: format!("crontab {}", args.join(" ")),
        output: err.trim().to_string(),
    })
}

/// The user's crontab, without a trailing newline; empty when there is none.
fn read() -> Result<String, ScheduleError> {
    let out = crontab(&["-l"], None)?;
    checked(&["-l"], &out, true)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// Replaces the user's crontab with `text`; an empty one removes the crontab, as before the first task.
fn write(text: &str) -> Result<(), ScheduleError> {
    if text.trim().is_empty() {
        let out = crontab(&["-r"], None)?;
        return checked(&["-r"], &out, true);
    }
    let out = crontab(&["-"], Some(&format!("{text}\n")))?;
    checked(&["-"], &out, false)
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
