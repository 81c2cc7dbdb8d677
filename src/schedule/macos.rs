//! launchd: a user agent `~/Library/LaunchAgents/<name>.plist` with a `StartCalendarInterval`, loaded
//! with `launchctl load -w`. Unverified: written to Apple's documented format, not yet run on a Mac.

use super::{ScheduleError, Task};
use std::path::PathBuf;
use std::process::Command;

pub const NAME: &str = "launchd";

fn plist_path(name: &str) -> Result<PathBuf, ScheduleError> {
    let home = std::env::var_os("HOME").ok_or(ScheduleError::Unsupported)?;
    Ok(PathBuf::from(home)
        .join("Library/LaunchAgents")
        .join(format!("{name}.plist")))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn plist(task: &Task) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key><string>{}</string>\n  <key>ProgramArguments</key>\n  <array><string>{}</string><string>--config</string><string>{}</string><string>-q</string><string>fetch</string></array>\n  <key>StartCalendarInterval</key>\n  <dict><key>Hour</key><integer>{}</integer><key>Minute</key><integer>{}</integer></dict>\n</dict>\n</plist>\n",
        escape(&task.name),
        escape(&task.exe.to_string_lossy()),
        escape(&task.ini.to_string_lossy()),
        task.minute / 60,
        task.minute % 60
    )
}

fn launchctl(args: &[&str]) -> Result<(), ScheduleError> {
    let out = Command::new("launchctl")
        .args(args)
        .output()
        .map_err(|source| ScheduleError::Missing {
            program: "launchctl".into(),
            hint: "launchd must be available; schedule `launcher fetch` by other means",
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ScheduleError::Failed {
            command: format!("launchctl {}", args.join(" ")),
            output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

pub fn install(task: &Task) -> Result<(), ScheduleError> {
    let path = plist_path(&task.name)?;
    let write = |source| ScheduleError::Write {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    let p = path.to_string_lossy().into_owned();
    // A task registered before is replaced: unloading one that is not loaded fails harmlessly.
    let _ = launchctl(&["unload", &p]);
    crate::fsutil::write_atomic(&path, plist(task).as_bytes()).map_err(|e| write(e.source))?;
    launchctl(&["load", "-w", &p])
}

pub fn remove(name: &str) -> Result<bool, ScheduleError> {
    let path = plist_path(name)?;
    if !path.exists() {
        return Ok(false);
    }
    let _ = launchctl(&["unload", "-w", &path.to_string_lossy()]);
    std::fs::remove_file(&path).map_err(|source| ScheduleError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(true)
}

pub fn show(name: &str) -> Result<Option<String>, ScheduleError> {
    let Ok(text) = std::fs::read_to_string(plist_path(name)?) else {
        return Ok(None);
    };
    let num = |key: &str| -> Option<u16> {
        let at = text.find(&format!("<key>{key}</key><integer>"))? + key.len() + 20;
        text[at..].split('<').next()?.parse().ok()
    };
    Ok(num("Hour")
        .zip(num("Minute"))
        .map(|(h, m)| format!("{h:02}:{m:02}")))
}
