//! Linux shortcuts: a Desktop Entry file (`NAME.desktop`) in `$XDG_DESKTOP_DIR` (default `~/Desktop`) or
//! in `$XDG_DATA_HOME/applications` (default `~/.local/share/applications`), which menus read. The entry
//! records the ini in `X-Launcher-Config`, which is how `--remove` recognises its own files.

use super::{Place, Shortcut, ShortcutError};
use std::path::{Path, PathBuf};

pub const EXTENSION: &str = "desktop";

pub fn folder(place: Place) -> Result<PathBuf, ShortcutError> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = || {
        var("HOME").ok_or(ShortcutError::NoFolder {
            what: place.label(),
            why: "HOME is not set".into(),
        })
    };
    Ok(match place {
        Place::Desktop => match var("XDG_DESKTOP_DIR") {
            Some(d) => d,
            None => home()?.join("Desktop"),
        },
        Place::StartMenu => match var("XDG_DATA_HOME") {
            Some(d) => d.join("applications"),
            None => home()?.join(".local/share/applications"),
        },
    })
}

/// Quotes an argument for the Exec key: double quotes around it, with `"`, `` ` ``, `$` and `\`
/// escaped, and `%` doubled (the spec's field codes).
fn exec_arg(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '%' => out.push_str("%%"),
            _ => out.push(c),
        }
    }
    out.push('"');
    // The file format escapes backslashes once more in string values.
    out.replace('\\', "\\\\")
}

/// A string value: newlines and the like escaped as the format says.
fn value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
        .replace('\r', "\\r")
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

pub fn render(s: &Shortcut) -> Result<Vec<u8>, ShortcutError> {
    let exec = format!(
        "{} --config {}",
        exec_arg(&path_str(&s.target)),
        exec_arg(&path_str(&s.ini))
    );
    let mut text = format!(
        "[Desktop Entry]\nType=Application\nVersion=1.0\nName={}\nExec={exec}\nPath={}\nTerminal=false\n",
        value(&s.name),
        value(&path_str(&s.working_dir)),
    );
    // An executable is no icon on Linux; the theme's generic one stands in for it.
    match &s.icon {
        Some(icon) if !is_program(icon) => {
            text.push_str(&format!("Icon={}\n", value(&path_str(icon))));
        }
        _ => text.push_str("Icon=application-x-executable\n"),
    }
    text.push_str(&format!("X-Launcher-Config={}\n", value(&path_str(&s.ini))));
    Ok(text.into_bytes())
}

fn is_program(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| crate::fsutil::is_executable(&m))
}

/// A desktop file on the desktop starts only when it is executable (GNOME, KDE ask otherwise).
pub fn finish(path: &Path) -> Result<(), ShortcutError> {
    crate::fsutil::set_executable(path, true)?;
    Ok(())
}

pub fn made_for(bytes: &[u8], ini: &Path) -> bool {
    let want = format!("X-Launcher-Config={}", value(&path_str(ini)));
    String::from_utf8_lossy(bytes).lines().any(|l| l == want)
}
