//! `launcher.ini`: discovery, parsing and validation (DESIGN.md, stable keys).
//!
//! Discovery: `--config FILE`, then `LAUNCHER_CONFIG`, then `<exe folder>/<exe stem>.ini`, so IT can
//! rename `launcher.exe` to `Opeka.exe` and put `Opeka.ini` beside it. The parser is our own (rust-ini
//! does not keep line numbers) because a typo must be reported with file and line, never ignored: unknown
//! sections and keys are errors, and a bad value names the key, the value and what is allowed.
//! Relative paths resolve against the ini file's folder, not the working directory, because a shortcut
//! may start the launcher from anywhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable naming the ini file.
pub const CONFIG_ENV: &str = "LAUNCHER_CONFIG";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMode {
    /// Size + date against the stat cache; hash only when in doubt.
    Quick,
    /// Hash every file on every launch.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupMode {
    /// Move only what an update replaces or deletes into the backup (renames, no copies).
    Changed,
    /// Copy the whole app into the backup first.
    Full,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The ini file this came from.
    pub file: PathBuf,
    pub enable: bool,
    pub server: String,
    pub product: String,
    pub channel: String,
    /// The `PublicKey` line as written (parsed by `sign::TrustedKey` when used).
    pub public_key: Option<String>,
    pub timeout: Duration,
    pub check: CheckMode,
    pub backups: u32,
    pub backup_mode: BackupMode,
    /// Extra CA certificate(s) to trust for HTTPS, PEM.
    pub ca_file: Option<PathBuf>,
    /// Explicit proxy URL; otherwise the system's and HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
    pub proxy: Option<String>,
    /// The platform to ask the repository for (default: the running one).
    pub platform: String,
    pub dir: PathBuf,
    pub executable: Option<String>,
    pub arguments: Vec<String>,
    pub working_dir: Option<PathBuf>,
    /// Where fleet reports go (`POST`); None: no reports (issue 14, `report`).
    pub report_url: Option<String>,
    /// Sent as `Authorization: Bearer <token>` with each report.
    pub report_token: Option<String>,
    /// Which starts are reported (`ReportStarts`); the other events always are.
    pub report_starts: crate::report::Starts,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no launcher.ini found: looked for `{}`", .0.display())]
    NotFound(PathBuf),
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

/// Where the configuration comes from, in the order of DESIGN.md.
pub fn discover(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|source| ConfigError::Read {
        path: PathBuf::from("<the running launcher>"),
        source,
    })?;
    Ok(beside_exe(&exe))
}

/// `<exe folder>/<exe stem>.ini`.
pub fn beside_exe(exe: &Path) -> PathBuf {
    let stem = exe
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_else(|| "launcher".into());
    let mut name = stem;
    name.push(".ini");
    exe.with_file_name(name)
}

/// Reads and validates an ini file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    // Relative paths in the ini resolve against its folder, so the folder must be absolute: the app is
    // started in another working directory.
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let path = abs.as_path();
    let text = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::NotFound(path.to_path_buf()))
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let text = String::from_utf8_lossy(&text);
    parse(path, text.trim_start_matches('\u{feff}'))
}

const KEYS: &[(&str, &[&str])] = &[
    (
        "Update",
        &[
            "Enable",
            "Server",
            "Product",
            "Channel",
            "PublicKey",
            "Timeout",
            "Check",
            "Backups",
            "BackupMode",
            "CaFile",
            "Proxy",
            "Platform",
            "ReportUrl",
            "ReportToken",
            "ReportStarts",
        ],
    ),
    ("App", &["Dir", "Executable", "Arguments", "WorkingDir"]),
];

/// Strips an inline comment: `;` or `#` after whitespace, outside double quotes.
fn strip_comment(v: &str) -> &str {
    let mut in_quotes = false;
    let mut prev_space = true;
    for (i, c) in v.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' | '#' if !in_quotes && prev_space => return v[..i].trim_end(),
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    v.trim_end()
}

/// Parses ini text; `path` is used for messages and to resolve relative paths.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let mut errors = Vec::new();
    let mut values: Vec<(&'static str, &'static str, String, usize)> = Vec::new();
    let mut section: Option<&'static str> = None;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = strip_comment(rest).trim_end_matches(']').trim();
            match KEYS.iter().find(|(s, _)| s.eq_ignore_ascii_case(name)) {
                Some((s, _)) => section = Some(s),
                None => {
                    errors.push(format!(
                        "{file}:{line_no}: unknown section `[{name}]`; the sections are [Update] and [App]"
                    ));
                    section = None;
                }
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            errors.push(format!(
                "{file}:{line_no}: expected `Key = value`, found `{line}`"
            ));
            continue;
        };
        let (k, v) = (k.trim(), strip_comment(v.trim()));
        let Some(sec) = section else {
            if !errors
                .iter()
                .any(|e| e.starts_with(&format!("{file}:{line_no}:")))
            {
                errors.push(format!(
                    "{file}:{line_no}: `{k}` is outside a section; put it under [Update] or [App]"
                ));
            }
            continue;
        };
        let keys = KEYS
            .iter()
            .find(|(s, _)| *s == sec)
            .map(|(_, k)| *k)
            .unwrap_or(&[]);
        match keys.iter().find(|key| key.eq_ignore_ascii_case(k)) {
            Some(key) => {
                if values.iter().any(|(s, kk, _, _)| *s == sec && kk == key) {
                    errors.push(format!("{file}:{line_no}: `{key}` is set twice in [{sec}]"));
                }
                values.push((sec, key, unquote(v).to_string(), line_no));
            }
            None => errors.push(format!(
                "{file}:{line_no}: unknown key `{k}` in [{sec}]; the keys there are {}",
                keys.join(", ")
            )),
        }
    }
    let get = |sec: &str, key: &str| -> Option<(String, usize)> {
        values
            .iter()
            .find(|(s, k, _, _)| *s == sec && *k == key)
            .filter(|(_, _, v, _)| !v.is_empty()) // `Key =` means the default
            .map(|(_, _, v, l)| (v.clone(), *l))
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolve = |p: &str| -> PathBuf {
        let pb = PathBuf::from(p);
        if pb.is_absolute() || looks_windows_absolute(p) {
            pb
        } else {
            // `Dir = .` means the ini's folder itself, not `<folder>/.`.
            base.join(pb)
                .components()
                .filter(|c| *c != std::path::Component::CurDir)
                .collect()
        }
    };
    let bad = |key: &str, line: usize, value: &str, allowed: &str| -> String {
        format!("{file}:{line}: `{key} = {value}` is not valid: {allowed}")
    };

    let enable = match get("Update", "Enable") {
        None => true,
        Some((v, l)) => match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => {
                errors.push(bad(
                    "Enable",
                    l,
                    &v,
                    "use 1 (update before launching) or 0 (just launch)",
                ));
                true
            }
        },
    };
    let server = get("Update", "Server").map(|(v, _)| v).unwrap_or_default();
    let product = get("Update", "Product").map(|(v, _)| v).unwrap_or_default();
    let channel = get("Update", "Channel")
        .map(|(v, _)| v)
        .unwrap_or_else(|| "stable".into());
    let platform = get("Update", "Platform")
        .map(|(v, _)| v)
        .unwrap_or_else(crate::repo::current_platform);
    if enable {
        if server.is_empty() {
            errors.push(format!(
                "{file}: [Update] Server is not set; give the repository root (http://, https://, file:// or a folder), or set Enable = 0"
            ));
        }
        if product.is_empty() {
            errors.push(format!(
                "{file}: [Update] Product is not set; give the product name the publisher used"
            ));
        }
    }
    for (key, v) in [
        ("Product", &product),
        ("Channel", &channel),
        ("Platform", &platform),
    ] {
        if !v.is_empty() {
            if let Err(e) = crate::manifest::check_name(key, v) {
                let line = get("Update", key).map(|(_, l)| l).unwrap_or(0);
                errors.push(format!("{file}:{line}: {e}"));
            }
        }
    }
    let public_key = get("Update", "PublicKey")
        .map(|(v, _)| v)
        .filter(|v| !v.is_empty());
    if let (Some(k), Some((_, l))) = (&public_key, get("Update", "PublicKey")) {
        if let Err(e) = crate::sign::TrustedKey::parse(k) {
            errors.push(format!("{file}:{l}: PublicKey: {e}"));
        }
    }
    let timeout = match get("Update", "Timeout") {
        None => Duration::from_secs(10),
        Some((v, l)) => match v.parse::<f64>() {
            Ok(s) if s > 0.0 && s <= 3600.0 => Duration::from_secs_f64(s),
            _ => {
                errors.push(bad(
                    "Timeout",
                    l,
                    &v,
                    "give seconds, more than 0 and at most 3600",
                ));
                Duration::from_secs(10)
            }
        },
    };
    let check = match get("Update", "Check") {
        None => CheckMode::Quick,
        Some((v, l)) => match v.to_ascii_lowercase().as_str() {
            "quick" => CheckMode::Quick,
            "full" => CheckMode::Full,
            _ => {
                errors.push(bad(
                    "Check",
                    l,
                    &v,
                    "use `quick` (size + date) or `full` (hash every file)",
                ));
                CheckMode::Quick
            }
        },
    };
    let backups = match get("Update", "Backups") {
        None => 3,
        Some((v, l)) => match v.parse::<u32>() {
            Ok(n) if n <= 999 => n,
            _ => {
                errors.push(bad(
                    "Backups",
                    l,
                    &v,
                    "give a number of backups from 0 (none) to 999",
                ));
                3
            }
        },
    };
    let backup_mode = match get("Update", "BackupMode") {
        None => BackupMode::Changed,
        Some((v, l)) => match v.to_ascii_lowercase().as_str() {
            "changed" => BackupMode::Changed,
            "full" => BackupMode::Full,
            _ => {
                errors.push(bad("BackupMode", l, &v, "use `changed` or `full`"));
                BackupMode::Changed
            }
        },
    };
    let ca_file = get("Update", "CaFile")
        .filter(|(v, _)| !v.is_empty())
        .map(|(v, _)| resolve(&v));
    let proxy = get("Update", "Proxy")
        .map(|(v, _)| v)
        .filter(|v| !v.is_empty());
    if let (Some(p), Some((_, l))) = (&proxy, get("Update", "Proxy")) {
        if !(p.starts_with("http://") || p.starts_with("https://") || p.starts_with("socks5://")) {
            errors.push(format!(
                "{file}:{l}: `Proxy = {p}` is not valid: give a URL such as http://proxy.example:3128"
            ));
        }
    }
    let dir = resolve(
        &get("App", "Dir")
            .map(|(v, _)| v)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "app".into()),
    );
    let executable = get("App", "Executable")
        .map(|(v, _)| v)
        .filter(|v| !v.is_empty());
    if let (Some(e), Some((_, l))) = (&executable, get("App", "Executable")) {
        let normal = e.replace('\\', "/");
        if let Err(rule) = crate::paths::check_path(&normal) {
            errors.push(format!(
                "{file}:{l}: `Executable = {e}` is not valid: {rule}; give a path relative to Dir"
            ));
        }
    }
    let arguments = match get("App", "Arguments") {
        None => Vec::new(),
        Some((v, l)) => split_args(&v).unwrap_or_else(|| {
            errors.push(bad("Arguments", l, &v, "a double quote is not closed"));
            Vec::new()
        }),
    };
    let working_dir = get("App", "WorkingDir")
        .filter(|(v, _)| !v.is_empty())
        .map(|(v, _)| resolve(&v));

    let report_url = get("Update", "ReportUrl").map(|(v, _)| v);
    if let (Some(u), Some((_, l))) = (&report_url, get("Update", "ReportUrl")) {
        if let Err(why) = crate::report::check_url(u) {
            errors.push(bad("ReportUrl", l, u, &why));
        }
    }
    let report_token = get("Update", "ReportToken").map(|(v, _)| v);
    if let (Some(t), Some((_, l))) = (&report_token, get("Update", "ReportToken")) {
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.push(bad(
                "ReportToken",
                l,
                t,
                "a token has no spaces or control characters; use the one given to `launcher serve --report-token`",
            ));
        }
    }
    let report_starts = match get("Update", "ReportStarts") {
        None => crate::report::Starts::Daily,
        Some((v, l)) => crate::report::Starts::parse(&v).unwrap_or_else(|| {
            errors.push(bad(
                "ReportStarts",
                l,
                &v,
                "use daily (the first start of each day), every (each start) or off",
            ));
            crate::report::Starts::Daily
        }),
    };

    if !errors.is_empty() {
        return Err(ConfigError::Invalid(errors));
    }
    Ok(Config {
        file: path.to_path_buf(),
        enable,
        server,
        product,
        channel,
        public_key,
        timeout,
        check,
        backups,
        backup_mode,
        ca_file,
        proxy,
        platform,
        dir,
        executable,
        arguments,
        working_dir,
        report_url,
        report_token,
        report_starts,
    })
}

fn unquote(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') && !v[1..v.len() - 1].contains('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// `C:\x`, `C:/x` or `\\server\share`: absolute on Windows even when read on Unix.
fn looks_windows_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
        || p.starts_with("\\\\")
}

/// Splits `Arguments` like a command line: spaces separate, double quotes group.
pub fn split_args(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                in_q = !in_q;
                any = true;
            }
            c if c.is_whitespace() && !in_q => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if in_q {
        return None;
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Config, ConfigError> {
        parse(Path::new("/opt/app/launcher.ini"), text)
    }

    #[test]
    fn design_example_parses_with_inline_comments() {
        let c = p("[Update]\nEnable = 1            ; 0: never\nServer = http://127.0.0.1:8080/   ; root\nProduct = demo\nChannel = stable\nPublicKey =\nTimeout = 10\nCheck = quick\nBackups = 3\nBackupMode = changed\n\n[App]\nDir = app\nExecutable =\nArguments = --profile \"My Docs\" -x\nWorkingDir =\n").unwrap();
        assert_eq!(c.server, "http://127.0.0.1:8080/");
        assert_eq!(c.dir, Path::new("/opt/app/app"));
        assert_eq!(c.arguments, vec!["--profile", "My Docs", "-x"]);
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert!(c.public_key.is_none() && c.executable.is_none());
    }

    #[test]
    fn the_example_file_parses_to_the_defaults() {
        let c = p(include_str!("../launcher.ini.example")).unwrap();
        assert_eq!(c.channel, "stable");
        assert_eq!(c.platform, crate::repo::current_platform());
        assert_eq!(
            (c.backups, c.backup_mode, c.check),
            (3, BackupMode::Changed, CheckMode::Quick)
        );
        assert!(c.ca_file.is_none() && c.proxy.is_none() && c.working_dir.is_none());
    }

    #[test]
    fn typos_and_bad_values_name_file_line_key_and_value() {
        let e = p("[Update]\nServr = x\nProduct = demo\nServer = http://x/\nBackups = many\n[Ap]\nDir = x\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/opt/app/launcher.ini:2: unknown key `Servr`"),
            "{e}"
        );
        assert!(e.contains(":5: `Backups = many` is not valid"), "{e}");
        assert!(e.contains(":6: unknown section `[Ap]`"), "{e}");
    }

    #[test]
    fn windows_paths_are_absolute_and_exe_stem_names_the_ini() {
        let c = p("[Update]\nEnable = 0\n[App]\nDir = C:\\Program Files\\Opeka\n").unwrap();
        assert_eq!(c.dir, PathBuf::from("C:\\Program Files\\Opeka"));
        let c = p("[Update]\nEnable = 0\n[App]\nDir = \\\\server\\share\\opeka\n").unwrap();
        assert_eq!(c.dir, PathBuf::from("\\\\server\\share\\opeka"));
        assert_eq!(
            beside_exe(Path::new("/x/Opeka.exe")),
            Path::new("/x/Opeka.ini")
        );
    }
}

#[cfg(test)]
mod fuzz_tests {
    use super::*;

    #[test]
    fn mutated_ini_files_never_panic() {
        const SEEDS: &[&[u8]] = &[
            include_bytes!("../fuzz/corpus/ini/example.ini"),
            include_bytes!("../fuzz/corpus/ini/everything.ini"),
            include_bytes!("../fuzz/corpus/ini/bom-crlf.ini"),
            include_bytes!("../fuzz/corpus/ini/errors.ini"),
        ];
        assert!(parse(
            Path::new("/opt/app/launcher.ini"),
            std::str::from_utf8(SEEDS[1]).unwrap()
        )
        .is_ok());
        let mut accepted = 0;
        crate::manifest::mini_fuzz::run(SEEDS, 20_000, 0x5EED_0003, |data| {
            let text = String::from_utf8_lossy(data);
            if parse(
                Path::new("/opt/app/launcher.ini"),
                text.trim_start_matches('\u{feff}'),
            )
            .is_ok()
            {
                accepted += 1;
            }
        });
        assert!(
            accepted > 100,
            "only {accepted} mutated ini files were valid"
        );
    }
}
