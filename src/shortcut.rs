//! `launcher shortcut`: a desktop or start-menu shortcut that starts this launcher with its ini, so IT
//! can give users something to double-click. A `.lnk` file on Windows, a `.desktop` file on Linux (the
//! freedesktop.org Desktop Entry format). Writing is atomic and idempotent: the same command twice leaves
//! one identical file. `--remove` deletes a shortcut only when it is one this launcher made for this ini
//! (it names the ini), so a user's own file of the same name is never deleted.

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
use windows as platform;

use crate::fsutil::FsError;
use std::path::{Path, PathBuf};

/// What a shortcut starts and shows.
#[derive(Debug, Clone)]
pub struct Shortcut {
    /// The name the user sees (and the file's stem).
    pub name: String,
    /// The launcher executable.
    pub target: PathBuf,
    /// The ini it is started with (`--config INI`), absolute.
    pub ini: PathBuf,
    /// Where it starts: the ini's folder.
    pub working_dir: PathBuf,
    /// The icon: a `.ico`, `.png` or an executable whose own icon is used.
    pub icon: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShortcutError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(
        "the shortcut name `{0}` cannot be a file name; use letters, digits, spaces, `-` and `_`"
    )]
    BadName(String),
    #[error("`{}` was not made by this launcher for `{}`; it is left alone", path.display(), ini.display())]
    NotOurs { path: PathBuf, ini: PathBuf },
    #[error("cannot find the {what} folder: {why}")]
    NoFolder { what: &'static str, why: String },
    #[error("cannot write a shortcut to `{}`: {detail}", target.display())]
    Target { target: PathBuf, detail: String },
}

/// Where shortcuts go: the user's desktop or start menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Desktop,
    StartMenu,
}

impl Place {
    pub fn label(self) -> &'static str {
        match self {
            Place::Desktop => "desktop",
            Place::StartMenu => "start menu",
        }
    }
}

/// The folder of `place` for the current user.
pub fn folder(place: Place) -> Result<PathBuf, ShortcutError> {
    platform::folder(place)
}

/// The shortcut file for `name` in `dir`.
pub fn file_in(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.{}", platform::EXTENSION))
}

/// Refuses names that are not plain file names on every platform.
pub fn check_name(name: &str) -> Result<(), ShortcutError> {
    let bad = name.trim().is_empty()
        || name.trim() != name
        || name.ends_with('.')
        || name
            .chars()
            .any(|c| c.is_control() || "\\/:*?\"<>|".contains(c));
    if bad {
        return Err(ShortcutError::BadName(name.to_string()));
    }
    Ok(())
}

/// Writes (or rewrites) the shortcut in `dir`; returns its path.
pub fn place(dir: &Path, s: &Shortcut) -> Result<PathBuf, ShortcutError> {
    check_name(&s.name)?;
    let path = file_in(dir, &s.name);
    let bytes = platform::render(s)?;
    crate::fsutil::write_atomic(&path, &bytes)?;
    platform::finish(&path)?;
    Ok(path)
}

/// Removes the shortcut `name` from `dir` when it is one made for `ini`; Ok(false) when there is none.
pub fn remove(dir: &Path, name: &str, ini: &Path) -> Result<bool, ShortcutError> {
    check_name(name)?;
    let path = file_in(dir, name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(crate::fsutil::fs_err("read", &path)(e).into()),
    };
    if !platform::made_for(&bytes, ini) {
        return Err(ShortcutError::NotOurs {
            path,
            ini: ini.to_path_buf(),
        });
    }
    std::fs::remove_file(&path).map_err(crate::fsutil::fs_err("remove", &path))?;
    Ok(true)
}
