//! Windows shortcuts: a Shell Link (`NAME.lnk`, the binary format documented as MS-SHLLINK) on the user's
//! desktop (`%USERPROFILE%\Desktop`) or in the start menu (`%APPDATA%\Microsoft\Windows\Start
//! Menu\Programs`). The link's arguments name the ini (`--config "INI"`), which is how `--remove`
//! recognises its own files.
//!
//! Written here rather than with the `mslnk` crate: its links locate the target only by an ID list
//! (which Wine's shell could not resolve: "File not found") and a relative path that is relative to the
//! wrong folder, and it cannot write the LinkInfo block that names the target by its plain path. A
//! shortcut to a local program needs a header, that block and a few strings, about a hundred lines.

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
    let strings = [
        (LINK_HAS_NAME, Some(s.name.clone())),
        (LINK_HAS_WORKING_DIR, Some(plain(&s.working_dir)?)),
        (LINK_HAS_ARGUMENTS, Some(arguments(&s.ini)?)),
        (
            LINK_HAS_ICON_LOCATION,
            s.icon.as_deref().map(plain).transpose()?,
        ),
    ];
    let mut flags = LINK_HAS_LINK_INFO | LINK_IS_UNICODE;
    for (flag, value) in &strings {
        if value.is_some() {
            flags |= flag;
        }
    }
    let size = std::fs::metadata(&s.target).map_or(0, |m| m.len());
    let mut out = header(flags, u32::try_from(size).unwrap_or(0));
    out.extend(link_info(&target));
    // StringData, in the order the format fixes: counted UTF-16, no terminator.
    for value in strings.iter().filter_map(|(_, v)| v.as_ref()) {
        let units: Vec<u16> = value.encode_utf16().collect();
        let count = u16::try_from(units.len()).map_err(|_| ShortcutError::Target {
            target: s.target.clone(),
            detail: format!("`{value}` is too long for a shortcut"),
        })?;
        out.extend(count.to_le_bytes());
        out.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    }
    out.extend(0u32.to_le_bytes()); // TerminalBlock: no ExtraData.
    Ok(out)
}

// Shell Link Binary File Format (MS-SHLLINK), the parts a shortcut to a local program needs.
const LINK_HAS_LINK_INFO: u32 = 0x2;
const LINK_HAS_NAME: u32 = 0x4;
const LINK_HAS_WORKING_DIR: u32 = 0x10;
const LINK_HAS_ARGUMENTS: u32 = 0x20;
const LINK_HAS_ICON_LOCATION: u32 = 0x40;
const LINK_IS_UNICODE: u32 = 0x80;

/// The 76-byte ShellLinkHeader (MS-SHLLINK 2.1): the shell link CLSID, the flags, a normal file, shown
/// in a normal window.
fn header(flags: u32, file_size: u32) -> Vec<u8> {
    const CLSID: [u8; 16] = [
        0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x46,
    ];
    const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;
    const SW_SHOWNORMAL: u32 = 1;
    let mut h = Vec::with_capacity(0x4c);
    h.extend(0x4cu32.to_le_bytes());
    h.extend(CLSID);
    h.extend(flags.to_le_bytes());
    h.extend(FILE_ATTRIBUTE_NORMAL.to_le_bytes());
    h.extend([0u8; 24]); // creation, access and write times: unknown
    h.extend(file_size.to_le_bytes());
    h.extend(0i32.to_le_bytes()); // icon index
    h.extend(SW_SHOWNORMAL.to_le_bytes());
    h.extend([0u8; 12]); // hot key, reserved
    debug_assert_eq!(h.len(), 0x4c);
    h
}

/// LinkInfo (MS-SHLLINK 2.3) naming the target by its local path, in ANSI and in UTF-16: Windows and
/// Wine find the program through it. (Without an ID list: that one describes shell folders item by item,
/// and a wrong one is what makes a shortcut point nowhere.)
fn link_info(target: &str) -> Vec<u8> {
    const HEADER_SIZE: u32 = 0x24; // with the Unicode offsets
    const VOLUME_ID_AND_LOCAL_BASE_PATH: u32 = 0x1;
    const DRIVE_FIXED: u32 = 3;
    let mut volume = Vec::new();
    volume.extend(0x11u32.to_le_bytes()); // VolumeIDSize: the 16 bytes below and an empty label
    volume.extend(DRIVE_FIXED.to_le_bytes());
    volume.extend(0u32.to_le_bytes()); // serial number: unknown
    volume.extend(0x10u32.to_le_bytes()); // VolumeLabelOffset
    volume.push(0);
    // The ANSI path is only for old readers; a character it cannot hold becomes `?`.
    let mut ansi: Vec<u8> = target
        .chars()
        .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
        .collect();
    ansi.push(0);
    let suffix = [0u8];
    let utf16 = |s: &str| -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    };
    let volume_at = HEADER_SIZE as usize;
    let path_at = volume_at + volume.len();
    let suffix_at = path_at + ansi.len();
    // The UTF-16 strings start at an even offset.
    let pad = (suffix_at + suffix.len()) % 2;
    let path_w_at = suffix_at + suffix.len() + pad;
    let path_w = utf16(target);
    let suffix_w_at = path_w_at + path_w.len();
    let suffix_w = utf16("");
    let total = suffix_w_at + suffix_w.len();
    let mut out = Vec::with_capacity(total);
    for v in [
        total,
        HEADER_SIZE as usize,
        VOLUME_ID_AND_LOCAL_BASE_PATH as usize,
        volume_at,
        path_at,
        0, // no CommonNetworkRelativeLink
        suffix_at,
        path_w_at,
        suffix_w_at,
    ] {
        // Offsets within a block that holds one path (at most 32767 UTF-16 units on Windows) fit in u32.
        out.extend((v as u32).to_le_bytes());
    }
    out.extend(volume);
    out.extend(ansi);
    out.extend(suffix);
    out.extend(std::iter::repeat(0).take(pad));
    out.extend(path_w);
    out.extend(suffix_w);
    out
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
