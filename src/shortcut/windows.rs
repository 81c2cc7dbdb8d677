//! Windows shortcuts: a Shell Link (`NAME.lnk`, written by the `mslnk` crate) on the user's desktop
//! (`%USERPROFILE%\Desktop`) or in the start menu (`%APPDATA%\Microsoft\Windows\Start Menu\Programs`).
//! The link's arguments name the ini (`--config "INI"`), which is how `--remove` recognises its own files.

use super::{Place, Shortcut, ShortcutError};
use std::path::{Path, PathBuf};

pub const EXTENSION: &str = "lnk";

pub fn folder(place: Place) -> Result<PathBuf, ShortcutError> {
    let var = |k: &'static str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or(ShortcutError::NoFolder {
                what: place.label(),
                why: format!("{k} is not set"),
            })
    };
    Ok(match place {
        Place::Desktop => var("USERPROFILE")?.join("Desktop"),
        Place::StartMenu => var("APPDATA")?.join(r"Microsoft\Windows\Start Menu\Programs"),
    })
}

/// `C:\...` without the `\\?\` prefix that `canonicalize` adds: shell links hold plain drive paths.
fn plain(p: &Path) -> Result<String, ShortcutError> {
    let s = p.to_str().ok_or_else(|| ShortcutError::Target {
        target: p.to_path_buf(),
        detail: "the path is not valid Unicode".into(),
    })?;
    let s = s.strip_prefix(r"\\?\").unwrap_or(s);
    let b = s.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_alphabetic() || b[1] != b':' || b[2] != b'\\' {
        return Err(ShortcutError::Target {
            target: p.to_path_buf(),
            detail: "a shortcut needs a drive path like `C:\\...`".into(),
        });
    }
    Ok(s.to_string())
}

pub fn arguments(ini: &Path) -> Result<String, ShortcutError> {
    Ok(format!("--config \"{}\"", plain(ini)?))
}

pub fn render(s: &Shortcut) -> Result<Vec<u8>, ShortcutError> {
    let target = plain(&s.target)?;
    let mut link = mslnk::ShellLink::new(&target).map_err(|e| ShortcutError::Target {
        target: s.target.clone(),
        detail: e.to_string(),
    })?;
    link.set_arguments(Some(arguments(&s.ini)?));
    link.set_working_dir(Some(plain(&s.working_dir)?));
    link.set_name(Some(s.name.clone()));
    if let Some(icon) = &s.icon {
        link.set_icon_location(Some(plain(icon)?));
    }
    // mslnk writes only to a file; write it beside nothing and read it back, so the caller can put the
    // bytes in place atomically.
    let tmp = tempfile::Builder::new()
        .suffix(".lnk")
        .tempfile()
        .map_err(crate::fsutil::fs_err("create a temp file for", &s.target))?;
    link.create_lnk(tmp.path())
        .map_err(|e| ShortcutError::Target {
            target: s.target.clone(),
            detail: e.to_string(),
        })?;
    Ok(std::fs::read(tmp.path()).map_err(crate::fsutil::fs_err("read", tmp.path()))?)
}

pub fn finish(_path: &Path) -> Result<(), ShortcutError> {
    Ok(())
}

pub fn made_for(bytes: &[u8], ini: &Path) -> bool {
    let Ok(args) = arguments(ini) else {
        return false;
    };
    let want: Vec<u8> = args.encode_utf16().flat_map(u16::to_le_bytes).collect();
    bytes.windows(want.len()).any(|w| w == want.as_slice())
}
