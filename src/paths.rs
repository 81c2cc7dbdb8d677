//! The rules for file paths that come from a manifest (DESIGN.md, Security).
//!
//! A manifest path must name a file strictly inside the install folder on every platform the product
//! ships to, so the rules are the union of what Unix and Windows forbid, checked on the text of the path
//! before anything touches a disk. This module owns those rules and the set-level checks (duplicates after
//! case folding, a path that is both a file and a folder); it never reads or writes files.

use std::collections::{HashMap, HashSet};
use std::fmt;

/// Longest path a manifest may carry, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest single component, in bytes (the limit of NTFS and most Unix file systems).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Why a manifest path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRule {
    Empty,
    TooLong,
    Absolute,
    DriveLetter,
    Backslash,
    Colon,
    EmptyComponent,
    DotComponent,
    ControlCharacter,
    /// A bidi or zero-width character (see [`crate::text::is_hidden`]), by code point.
    HiddenCharacter(u32),
    ForbiddenCharacter(char),
    ReservedName(String),
    TrailingDotOrSpace,
    ComponentTooLong,
    Reserved(String),
    ShortName(String),
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathRule::Empty => write!(f, "the path is empty"),
            PathRule::TooLong => write!(f, "the path is longer than {MAX_PATH_BYTES} bytes"),
            PathRule::Absolute => write!(f, "absolute paths are not allowed"),
            PathRule::DriveLetter => write!(f, "drive letters are not allowed"),
            PathRule::Backslash => write!(f, "backslashes are not allowed (use `/`)"),
            PathRule::Colon => write!(f, "`:` is not allowed (drive letters, streams, device names)"),
            PathRule::EmptyComponent => write!(f, "empty components (`//`) are not allowed"),
            PathRule::DotComponent => write!(f, "`.` and `..` components are not allowed"),
            PathRule::ControlCharacter => write!(f, "control characters are not allowed"),
            PathRule::HiddenCharacter(c) => write!(
                f,
                "the invisible or text-direction character U+{c:04X} is not allowed (it makes one name look like another)"
            ),
            PathRule::ForbiddenCharacter(c) => write!(f, "`{c}` is not allowed in a file name on Windows"),
            PathRule::ReservedName(n) => write!(f, "`{n}` is a reserved device name on Windows"),
            PathRule::TrailingDotOrSpace => write!(f, "a name may not end with a dot or a space (Windows drops them)"),
            PathRule::ComponentTooLong => write!(f, "a name is longer than {MAX_COMPONENT_BYTES} bytes"),
            PathRule::Reserved(what) => write!(f, "{what} belongs to the launcher"),
            PathRule::ShortName(n) => write!(
                f,
                "`{n}` looks like a Windows 8.3 short name, which can stand for `.launcher/` or a backup folder"
            ),
        }
    }
}

const RESERVED_DEVICES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6",
    "LPT7", "LPT8", "LPT9", "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³",
];

/// True for a backup folder name: `bkp.` followed by digits.
pub fn is_backup_dir_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower
        .strip_prefix("bkp.")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// True for a name in the form of a Windows 8.3 short name (`LAUNCH~1`, `LA4F2B~1.DAT`): `~` and digits
/// at the end of the part before the first dot. On a volume with short names enabled such a name can
/// open a long-named folder (`.launcher` is `LAUNCH~1`), so at the top of the install it is refused:
/// which long name it stands for depends on the machine.
pub fn is_short_name(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or(name);
    base.rsplit_once('~')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks one manifest path against every rule that does not depend on the other paths.
pub fn check_path(path: &str) -> Result<(), PathRule> {
    if path.is_empty() {
        return Err(PathRule::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathRule::TooLong);
    }
    if path.chars().any(|c| c.is_control()) {
        return Err(PathRule::ControlCharacter);
    }
    if let Some(c) = path.chars().find(|&c| crate::text::is_hidden(c)) {
        return Err(PathRule::HiddenCharacter(c as u32));
    }
    if path.contains('\\') {
        return Err(PathRule::Backslash);
    }
    if path.starts_with('/') {
        return Err(PathRule::Absolute);
    }
    let b = path.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(PathRule::DriveLetter);
    }
    if path.contains(':') {
        return Err(PathRule::Colon);
    }
    for (i, comp) in path.split('/').enumerate() {
        if comp.is_empty() {
            return Err(PathRule::EmptyComponent);
        }
        if comp == "." || comp == ".." {
            return Err(PathRule::DotComponent);
        }
        if comp.len() > MAX_COMPONENT_BYTES {
            return Err(PathRule::ComponentTooLong);
        }
        if let Some(c) = comp
            .chars()
            .find(|c| matches!(c, '<' | '>' | '"' | '|' | '?' | '*'))
        {
            return Err(PathRule::ForbiddenCharacter(c));
        }
        if comp.ends_with('.') || comp.ends_with(' ') {
            return Err(PathRule::TrailingDotOrSpace);
        }
        // `NUL`, `nul.txt`, `Com1.tar.gz`, `CON ` (the trailing space is caught above) are all devices.
        let stem = comp.split('.').next().unwrap_or(comp).trim_end_matches(' ');
        if RESERVED_DEVICES
            .iter()
            .any(|d| d.eq_ignore_ascii_case(stem))
        {
            return Err(PathRule::ReservedName(comp.to_string()));
        }
        if i == 0 {
            if comp.eq_ignore_ascii_case(".launcher") {
                return Err(PathRule::Reserved("`.launcher/`".into()));
            }
            if is_backup_dir_name(comp) {
                return Err(PathRule::Reserved(format!("`{comp}/` (a backup folder)")));
            }
            if is_short_name(comp) {
                return Err(PathRule::ShortName(comp.to_string()));
            }
        }
    }
    Ok(())
}

/// Case folding used to find paths that collide on case-insensitive file systems (NTFS, APFS).
pub fn fold(path: &str) -> String {
    path.to_lowercase()
}

/// A problem found by [`check_set`]: the offending path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetProblem {
    pub path: String,
    pub reason: String,
}

/// Checks a whole list of paths: each path's own rules, exact and case-folded duplicates, and a path
/// that is both a file and the folder of another file. Returns every problem, not just the first.
pub fn check_set<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<SetProblem> {
    let mut problems = Vec::new();
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut files: Vec<&str> = Vec::new();
    for p in paths {
        if let Err(rule) = check_path(p) {
            problems.push(SetProblem {
                path: p.to_string(),
                reason: rule.to_string(),
            });
            continue;
        }
        match seen.get(&fold(p)) {
            Some(first) if *first == p => problems.push(SetProblem {
                path: p.to_string(),
                reason: "listed twice".into(),
            }),
            Some(first) => problems.push(SetProblem {
                path: p.to_string(),
                reason: format!(
                    "differs from `{first}` only in case (they collide on Windows and macOS)"
                ),
            }),
            None => {
                seen.insert(fold(p), p);
                files.push(p);
            }
        }
    }
    let folded_files: HashSet<String> = files.iter().map(|p| fold(p)).collect();
    for p in &files {
        let folded = fold(p);
        let mut prefix = String::new();
        for comp in folded.split('/').take(folded.split('/').count() - 1) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(comp);
            if folded_files.contains(&prefix) {
                problems.push(SetProblem {
                    path: p.to_string(),
                    reason: format!("its folder `{prefix}` is also listed as a file"),
                });
                break;
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_paths_pass() {
        for p in [
            "bin/demo",
            "a.txt",
            "data/x/y/z.dat",
            "über/ñ.txt",
            "bkp/x",
            "bkp.old/x",
            "launcher.d/x",
            "a~b/x",
            "x~/y",
            "data/BACKUP~1.TXT",
        ] {
            assert_eq!(check_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn hostile_paths_are_refused() {
        let bad = [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            ".",
            "..",
            "C:/x",
            "c:x",
            "\\\\server\\share\\x",
            "a\\b",
            "a:b",
            "a/b:stream",
            "//?/C:/x",
            "a//b",
            "a/",
            "CON",
            "nul.txt",
            "a/Com1.tar.gz",
            "LPT9",
            "x.",
            "x ",
            "a/b./c",
            "a<b",
            "a>b",
            "a\"b",
            "a|b",
            "a?b",
            "a*b",
            "a\u{0}b",
            "a\nb",
            "a\u{1b}[31mb",
            "bin/evil\u{202e}txt.exe",
            "bin/de\u{200b}mo",
            "\u{feff}x",
            "a\u{2066}b",
            "a\u{2028}b",
            ".launcher/state.json",
            ".LAUNCHER/x",
            "bkp.001/x",
            "BKP.7/x",
            "LAUNCH~1/state.json",
            "la4f2b~12.x/y",
        ];
        for p in bad {
            assert!(check_path(p).is_err(), "{p:?} should be refused");
        }
        assert_eq!(
            check_path(&"a".repeat(256)),
            Err(PathRule::ComponentTooLong)
        );
    }

    #[test]
    fn set_rules_catch_duplicates_and_file_folder_clashes() {
        let problems = check_set(["a/b", "A/B", "a/b", "x", "x/y", "ok"]);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, vec!["A/B", "a/b", "x/y"]);
    }
}
