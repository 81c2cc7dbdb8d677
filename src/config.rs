//! `launcher.ini`: discovery, parsing and validation (DESIGN.md, stable keys): lexing ([`lex`]) and
//! typed conversion ([`convert`]) are separate steps.
//!
//! Discovery: `--config FILE`, then `LAUNCHER_CONFIG`, then `<exe folder>/<exe stem>.ini`, so IT can
//! rename `launcher.exe` to `Opeka.exe` and put `Opeka.ini` beside it. The parser is our own (rust-ini
//! does not keep line numbers) because a typo must be reported with file and line, never ignored: unknown
//! sections and keys are errors, and a bad value names the key, the value and what is allowed.
//! Relative paths resolve against the ini file's folder, not the working directory, because a shortcut
//! may start the launcher from anywhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `DownloadTimeout` defaults to this many times `Timeout` (a minute at the default 10 s): long enough
/// for an ordinary update on an ordinary line, short enough that a crawling server does not keep the
/// user from their app.
pub const DOWNLOAD_TIMEOUT_FACTOR: u32 = 6;

/// Environment variable naming the ini file.
pub const CONFIG_ENV: &str = "LAUNCHER_CONFIG";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMode {
    /// Size + date against the stat cache; hash only when in doubt.
    Quick,
    /// Hash every file on every launch.
    Full,
}

/// Also `backup.json` `mode`, in the same words as in launcher.ini.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupMode {
    /// Move only what an update replaces or deletes into the backup (renames, no copies).
    Changed,
    /// Copy the whole app into the backup first.
    Full,
}

/// Which starts of the app are reported (ini `ReportStarts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReportStarts {
    /// The first start of each day (`report::HEARTBEAT`): enough for `/fleet` to tell live machines from
    /// lost ones, and a launch with nothing new costs nothing.
    #[default]
    Daily,
    /// Every start, for IT that counts how often the app is used; each start then writes a report
    /// and starts the sender, a few milliseconds that a launch without reports does not spend.
    Every,
    Off,
}

impl ReportStarts {
    pub fn parse(v: &str) -> Option<ReportStarts> {
        match v.to_ascii_lowercase().as_str() {
            "daily" => Some(ReportStarts::Daily),
            "every" => Some(ReportStarts::Every),
            "off" | "0" | "no" => Some(ReportStarts::Off),
            _ => None,
        }
    }
}

/// `ReportUrl` must be an `http://` or `https://` URL with a host.
pub fn check_report_url(url: &str) -> Result<(), String> {
    let hint = "give the URL of `POST /reports` on `launcher serve --reports`, such as http://updates.example:8080/reports";
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        _ => Err(hint.to_string()),
    }
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
    /// How long an optional update may download before the installed version starts instead;
    /// `None`: no limit. Default: [`DOWNLOAD_TIMEOUT_FACTOR`] × `timeout`.
    pub download_timeout: Option<Duration>,
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
    pub report_starts: ReportStarts,
    /// `UpdateHours` / `UpdateDays`: when optional updates may happen; None: at any time.
    pub update_window: Option<crate::hours::Window>,
    /// `HealthCheck`: how long the first start after an update is watched; None: off.
    pub health_check: Option<Duration>,
    /// `Pin`: stay on the newest release of this version line (`pin`); None: follow the channel.
    pub pin: Option<String>,
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
            "DownloadTimeout",
            "Check",
            "Backups",
            "BackupMode",
            "CaFile",
            "Proxy",
            "Platform",
            "ReportUrl",
            "ReportToken",
            "ReportStarts",
            "UpdateHours",
            "UpdateDays",
            "HealthCheck",
            "Pin",
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

/// The lines of an ini file, ended by LF, CRLF or a lone CR: an ini saved by an old Mac editor, or
/// mangled by a transfer, ends its lines with CR alone, and read with LF only it would be one long
/// line reported whole as an unknown section.
fn ini_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\r', '\n']) {
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

/// Parses ini text; `path` is used for messages and to resolve relative paths. Two steps: [`lex`] finds
/// the known keys and the errors of the text's shape, [`convert`] turns each value into its type. Every
/// error of both steps is reported at once, so one run of the launcher shows the whole list to fix.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let mut errors = Vec::new();
    let entries = lex(&file, text, &mut errors);
    let mut values = Values {
        file: &file,
        entries,
        errors,
    };
    let config = convert(path, &mut values);
    if values.errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(values.errors))
    }
}

/// One `Key = value` line of a known key, as lexed (quotes and inline comment removed).
struct Entry {
    section: &'static str,
    key: &'static str,
    value: String,
    line: usize,
}

/// Lexing: lines into known sections and keys (names match without regard to case). Errors of the
/// text's shape: unknown sections and keys, lines without `=`, keys outside a section, a key set twice.
/// Values are not looked at here.
fn lex(file: &str, text: &str, errors: &mut Vec<String>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut section: Option<&'static str> = None;
    for (idx, raw) in ini_lines(text).enumerate() {
        let line_no = idx + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = strip_comment(rest).trim_end_matches(']').trim();
            section = KEYS
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(name))
                .map(|(s, _)| *s);
            if section.is_none() {
                errors.push(format!(
                    "{file}:{line_no}: unknown section `[{name}]`; the sections are [Update] and [App]"
                ));
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
            // Under an unknown section (already reported) or before any section.
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
                if entries.iter().any(|e| e.section == sec && e.key == *key) {
                    errors.push(format!("{file}:{line_no}: `{key}` is set twice in [{sec}]"));
                }
                entries.push(Entry {
                    section: sec,
                    key,
                    value: unquote(v).to_string(),
                    line: line_no,
                });
            }
            None => errors.push(format!(
                "{file}:{line_no}: unknown key `{k}` in [{sec}]; the keys there are {}",
                keys.join(", ")
            )),
        }
    }
    entries
}

/// The lexed keys, and the errors so far (typed conversion adds its own).
struct Values<'a> {
    file: &'a str,
    entries: Vec<Entry>,
    errors: Vec<String>,
}

impl Values<'_> {
    /// The value of `key` and its line; an empty value (`Key =`) means the default, like no line.
    fn get(&self, section: &str, key: &str) -> Option<(String, usize)> {
        self.entries
            .iter()
            .find(|e| e.section == section && e.key == key && !e.value.is_empty())
            .map(|e| (e.value.clone(), e.line))
    }

    fn text(&self, section: &str, key: &str) -> Option<String> {
        self.get(section, key).map(|(v, _)| v)
    }

    /// An error about the value on `line`.
    fn at(&mut self, line: usize, message: impl std::fmt::Display) {
        self.errors.push(format!("{}:{line}: {message}", self.file));
    }

    /// `key` converted by `convert`, or `default` when it is not set. A value `convert` refuses is
    /// reported with `allowed` (what to write instead) and the default is used, so the checks after it
    /// still run and report.
    fn typed<T>(
        &mut self,
        section: &str,
        key: &str,
        default: T,
        allowed: &str,
        convert: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        let Some((v, line)) = self.get(section, key) else {
            return default;
        };
        convert(&v).unwrap_or_else(|| {
            self.at(line, format!("`{key} = {v}` is not valid: {allowed}"));
            default
        })
    }
}

/// A value that is one of `options` (without regard to case).
fn one_of<'a, T: Copy>(options: &'a [(&'a str, T)]) -> impl Fn(&str) -> Option<T> + 'a {
    move |v| {
        options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(v))
            .map(|(_, t)| *t)
    }
}

/// Seconds as a decimal number in `0 < s <= max`.
fn seconds(v: &str, max: f64) -> Option<Duration> {
    v.parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && *s <= max)
        .map(Duration::from_secs_f64)
}

/// Typed conversion: each key into its type and default, and the checks across keys (a Server and a
/// Product are needed only when updates are enabled). It is long because it is one flat block per key,
/// in the order of the ini; split, the keys would only be harder to find.
fn convert(path: &Path, v: &mut Values) -> Config {
    let file = v.file.to_string();
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

    let enable = v.typed(
        "Update",
        "Enable",
        true,
        "use 1 (update before launching) or 0 (just launch)",
        one_of(&[
            ("1", true),
            ("true", true),
            ("yes", true),
            ("on", true),
            ("0", false),
            ("false", false),
            ("no", false),
            ("off", false),
        ]),
    );
    let server = v.text("Update", "Server").unwrap_or_default();
    let product = v.text("Update", "Product").unwrap_or_default();
    let channel = v
        .text("Update", "Channel")
        .unwrap_or_else(|| "stable".into());
    let platform = v
        .text("Update", "Platform")
        .unwrap_or_else(crate::repo::current_platform);
    if enable {
        if server.is_empty() {
            v.errors.push(format!(
                "{file}: [Update] Server is not set; give the repository root (http://, https://, file:// or a folder), or set Enable = 0"
            ));
        }
        if product.is_empty() {
            v.errors.push(format!(
                "{file}: [Update] Product is not set; give the product name the publisher used"
            ));
        }
    }
    for (key, value) in [
        ("Product", &product),
        ("Channel", &channel),
        ("Platform", &platform),
    ] {
        if !value.is_empty() {
            if let Err(e) = crate::manifest::check_name(key, value) {
                let line = v.get("Update", key).map(|(_, l)| l).unwrap_or(0);
                v.at(line, e);
            }
        }
    }
    let public_key = v.get("Update", "PublicKey");
    if let Some((k, l)) = &public_key {
        if let Err(e) = crate::sign::TrustedKey::parse(k) {
            v.at(*l, format!("PublicKey: {e}"));
        }
    }
    let timeout = v.typed(
        "Update",
        "Timeout",
        Duration::from_secs(10),
        "give seconds, more than 0 and at most 3600",
        |s| seconds(s, 3600.0),
    );
    let download_timeout = v.typed(
        "Update",
        "DownloadTimeout",
        Some(timeout * DOWNLOAD_TIMEOUT_FACTOR),
        "give seconds from 0 (no limit) to 86400, or leave it empty for 6 × Timeout",
        |s| match s.parse::<f64>() {
            Ok(0.0) => Some(None),
            _ => seconds(s, 86_400.0).map(Some),
        },
    );
    let check = v.typed(
        "Update",
        "Check",
        CheckMode::Quick,
        "use `quick` (size + date) or `full` (hash every file)",
        one_of(&[("quick", CheckMode::Quick), ("full", CheckMode::Full)]),
    );
    let backups = v.typed(
        "Update",
        "Backups",
        3,
        "give a number of backups from 0 (none) to 999",
        |s| s.parse::<u32>().ok().filter(|n| *n <= 999),
    );
    let backup_mode = v.typed(
        "Update",
        "BackupMode",
        BackupMode::Changed,
        "use `changed` or `full`",
        one_of(&[("changed", BackupMode::Changed), ("full", BackupMode::Full)]),
    );
    let ca_file = v.text("Update", "CaFile").map(|p| resolve(&p));
    let proxy = v.get("Update", "Proxy");
    if let Some((p, l)) = &proxy {
        if !(p.starts_with("http://") || p.starts_with("https://") || p.starts_with("socks5://")) {
            v.at(
                *l,
                format!("`Proxy = {p}` is not valid: give a URL such as http://proxy.example:3128"),
            );
        }
    }
    let hours = v.get("Update", "UpdateHours");
    let days = v.get("Update", "UpdateDays");
    // Each key is checked on its own, so both are reported with their lines when both are wrong.
    let mut window_ok = true;
    for (key, entry, as_hours) in [("UpdateHours", &hours, true), ("UpdateDays", &days, false)] {
        if let Some((text, line)) = entry {
            let checked = if as_hours {
                crate::hours::Window::parse(text, "")
            } else {
                crate::hours::Window::parse("", text)
            };
            if let Err(e) = checked {
                v.at(*line, format!("{key}: {e}"));
                window_ok = false;
            }
        }
    }
    let update_window = (window_ok && (hours.is_some() || days.is_some()))
        .then(|| {
            let text = |e: &Option<(String, usize)>| e.clone().map(|(t, _)| t).unwrap_or_default();
            crate::hours::Window::parse(&text(&hours), &text(&days)).ok()
        })
        .flatten();
    let health_check = v.typed(
        "Update",
        "HealthCheck",
        None,
        "give seconds from 0 (off) to 3600",
        |s| match s.parse::<f64>() {
            Ok(0.0) => Some(None),
            _ => seconds(s, 3600.0).map(Some),
        },
    );
    let pin = v.get("Update", "Pin");
    if let Some((p, l)) = &pin {
        // A pin is the start of a version: it must itself read as one (`7.04`, `1.2`, `1.2.3-rc`).
        if crate::version::Version::parse(p).is_err() {
            v.at(
                *l,
                format!("`Pin = {p}` is not valid: give the start of a version, such as 7.04 or 7.04.200"),
            );
        }
    }
    let dir = resolve(&v.text("App", "Dir").unwrap_or_else(|| "app".into()));
    let executable = v.get("App", "Executable");
    if let Some((e, l)) = &executable {
        if let Err(rule) = crate::paths::check_path(&e.replace('\\', "/")) {
            v.at(
                *l,
                format!("`Executable = {e}` is not valid: {rule}; give a path relative to Dir"),
            );
        }
    }
    let arguments = v.typed(
        "App",
        "Arguments",
        Vec::new(),
        "a double quote is not closed",
        split_args,
    );
    let working_dir = v.text("App", "WorkingDir").map(|p| resolve(&p));
    let report_url = v.get("Update", "ReportUrl");
    if let Some((u, l)) = &report_url {
        if let Err(why) = check_report_url(u) {
            v.at(*l, format!("`ReportUrl = {u}` is not valid: {why}"));
        }
    }
    let report_token = v.get("Update", "ReportToken");
    if let Some((t, l)) = &report_token {
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            v.at(*l, format!("`ReportToken = {t}` is not valid: a token has no spaces or control characters; use the one given to `launcher serve --report-token`"));
        }
    }
    let report_starts = v.typed(
        "Update",
        "ReportStarts",
        ReportStarts::Daily,
        "use daily (the first start of each day), every (each start) or off",
        ReportStarts::parse,
    );

    Config {
        file: path.to_path_buf(),
        enable,
        server,
        product,
        channel,
        public_key: public_key.map(|(k, _)| k),
        timeout,
        download_timeout,
        check,
        backups,
        backup_mode,
        ca_file,
        proxy: proxy.map(|(p, _)| p),
        platform,
        dir,
        executable: executable.map(|(e, _)| e),
        arguments,
        working_dir,
        report_url: report_url.map(|(u, _)| u),
        report_token: report_token.map(|(t, _)| t),
        report_starts,
        update_window,
        health_check,
        pin: pin.map(|(p, _)| p),
    }
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
        assert_eq!(c.download_timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn the_it_controls_parse_and_the_example_leaves_them_off() {
        let c = p("[Update]\nEnable = 0\nUpdateHours = 07:00-08:30\nUpdateDays = Mon-Fri\nPin = 7.04\nHealthCheck = 20\n").unwrap();
        assert!(c.update_window.is_some());
        assert_eq!(c.pin.as_deref(), Some("7.04"));
        assert_eq!(c.health_check, Some(Duration::from_secs(20)));
        let c = p(include_str!("../launcher.ini.example")).unwrap();
        assert!(c.update_window.is_none() && c.pin.is_none() && c.health_check.is_none());
        let e = p("[Update]\nEnable = 0\nPin = seven\nHealthCheck = -1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":3: `Pin = seven` is not valid")
                && e.contains(":4: `HealthCheck = -1` is not valid"),
            "{e}"
        );
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
    fn lf_crlf_and_lone_cr_all_end_lines_and_number_them_alike() {
        for eol in ["\n", "\r\n", "\r"] {
            let text = ["[Update]", "Enable = 0", "Servr = x", "[App]", "Dir = d"].join(eol);
            let e = p(&text).unwrap_err().to_string();
            assert!(
                e.contains("launcher.ini:3: unknown key `Servr`") && e.lines().count() == 1,
                "{eol:?}: {e}"
            );
        }
        assert_eq!(
            ini_lines("a\r\rb\r\n\nc").collect::<Vec<_>>(),
            ["a", "", "b", "", "c"]
        );
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
