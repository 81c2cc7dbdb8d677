//! Fleet reports from the launcher (issue 14): what happened on this machine, told to the server that
//! `ReportUrl` names, so IT sees the whole fleet on `launcher serve`'s `/fleet` page.
//!
//! This module owns the report's JSON shape ([`Report`], shared with the server), the install id, and
//! the spool `<Dir>/.launcher/reports/`. It must never stop or slow the app:
//! 1. An event (update, install, repair, rollback, hold, back-off, start) becomes one small JSON file in
//!    the spool: write to a temp name, rename. Nothing is sent on the launch path.
//! 2. The spool is bounded ([`MAX_SPOOL`] files): the oldest are dropped and counted in
//!    `reports/dropped`; the next report sent carries that count, so the server knows what was lost.
//! 3. When the spool holds something as the app is about to start, a detached `launcher __send-reports`
//!    process sends it (`send.rs`); the launcher `exec`s the app without waiting. A launch with nothing
//!    spooled costs one `stat` of the spool folder and one of the daily marker.
//! 4. A report that the server refuses with a 4xx (other than 408 and 429) is logged in `launcher.log`
//!    and dropped, so a bad report is not retried forever; on any other failure the spool is kept for the
//!    next start, which is how an offline machine's reports arrive when it comes back.
//!
//! Every failure here is swallowed after at most a line in `launcher.log`: a report is never a reason
//! for the launch to fail.

mod send;
#[cfg(unix)]
mod spawn_unix;
#[cfg(windows)]
mod spawn_windows;

pub use send::{send_spool, SendOutcome};

use crate::config::{Config, ReportStarts as Starts};
use crate::state::Layout;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The most reports kept while the server is unreachable; older ones are dropped (and counted).
pub const MAX_SPOOL: usize = 100;

/// The name of the hidden subcommand that sends the spool in the background.
pub const SEND_COMMAND: &str = "__send-reports";

/// How often a start without anything else to tell is reported (so `/fleet` knows the machine is alive).
pub const HEARTBEAT: Duration = Duration::from_secs(24 * 3600);

/// Spools the report of an app start, as `ReportStarts` asks.
pub fn record_start(cfg: &Config, layout: &Layout, ev: &Event) {
    match cfg.report_starts {
        Starts::Daily => record_daily(cfg, layout, ev),
        Starts::Every => record(cfg, layout, ev),
        Starts::Off => {}
    }
}

/// One report, as posted to `POST /reports`. Fields are only ever added (old servers ignore new ones).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Random per report: the server ignores a report it already has, so a resend is harmless.
    pub id: String,
    /// Random per install folder, kept in `.launcher/install-id`.
    pub install_id: String,
    pub machine: String,
    pub os: String,
    pub launcher_version: String,
    pub product: String,
    pub channel: String,
    pub platform: String,
    /// What happened: `install`, `update`, `repair`, `rollback`, `auto-rollback`, `hold`, `backoff`, `start`.
    pub event: String,
    /// `ok` or `failed`.
    pub result: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    /// The version installed after the event (none: nothing is installed).
    #[serde(default)]
    pub installed: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub seconds: f64,
    /// When it happened, RFC 3339 UTC with microseconds (several reports of one launch are ordered by it).
    pub time: String,
    /// How many older reports this machine dropped from its full spool before this one.
    #[serde(default)]
    pub dropped: u64,
}

/// What the caller knows about an event; the rest comes from the config and the machine.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub event: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub installed: Option<&'a str>,
    /// `Some` makes the result `failed`.
    pub error: Option<&'a str>,
    pub bytes: u64,
    pub seconds: f64,
}

/// The spool folder of an install.
pub fn spool_dir(layout: &Layout) -> PathBuf {
    layout.meta.join("reports")
}

/// Spools a report of `ev` when `ReportUrl` is set; never fails (a failure is one log line).
pub fn record(cfg: &Config, layout: &Layout, ev: &Event) {
    if cfg.report_url.is_none() {
        return;
    }
    if let Err(e) = spool(cfg, layout, ev) {
        crate::state::log_line(
            layout,
            ev.from,
            ev.to,
            &format!("report not spooled: {e}"),
            0,
            0.0,
        );
    }
}

/// Like [`record`], but at most once per [`HEARTBEAT`] for this `event` (a `start`, or a `hold` that
/// would otherwise be told on every launch).
pub fn record_daily(cfg: &Config, layout: &Layout, ev: &Event) {
    if cfg.report_url.is_none() {
        return;
    }
    let marker = layout.meta.join(format!("report-{}.last", ev.event));
    let due = match std::fs::metadata(&marker).and_then(|m| m.modified()) {
        Ok(t) => SystemTime::now()
            .duration_since(t)
            .map_or(true, |age| age >= HEARTBEAT),
        Err(_) => true,
    };
    if due && spool(cfg, layout, ev).is_ok() {
        let _ = std::fs::write(&marker, b"");
    }
}

/// Starts the background sender when the spool holds anything. Called just before the app starts (and
/// by the commands that make reports); costs one `stat`/`readdir` of the spool when it is empty.
pub fn send_soon(cfg: &Config, layout: &Layout) {
    if cfg.report_url.is_none() || !has_spooled(&spool_dir(layout)) {
        return;
    }
    #[cfg(unix)]
    let spawned = spawn_unix::detached(&cfg.file);
    #[cfg(windows)]
    let spawned = spawn_windows::detached(&cfg.file);
    if let Err(e) = spawned {
        crate::state::log_line(
            layout,
            None,
            None,
            &format!("cannot start the report sender: {e}"),
            0,
            0.0,
        );
    }
}

fn has_spooled(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| {
        entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json")))
    })
}

fn spool(cfg: &Config, layout: &Layout, ev: &Event) -> std::io::Result<()> {
    let dir = spool_dir(layout);
    std::fs::create_dir_all(&dir)?;
    let report = Report {
        id: random_hex(16),
        install_id: install_id(layout)?,
        machine: machine_name(),
        os: os_name(),
        launcher_version: env!("CARGO_PKG_VERSION").to_string(),
        product: cfg.product.clone(),
        channel: cfg.channel.clone(),
        platform: cfg.platform.clone(),
        event: ev.event.to_string(),
        result: if ev.error.is_some() { "failed" } else { "ok" }.to_string(),
        from: ev.from.map(str::to_string),
        to: ev.to.map(str::to_string),
        installed: ev.installed.map(str::to_string),
        error: ev.error.map(|e| truncate(e, 2000)),
        bytes: ev.bytes,
        seconds: if ev.seconds.is_finite() && ev.seconds >= 0.0 {
            ev.seconds
        } else {
            0.0
        },
        time: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
        dropped: 0,
    };
    let body = serde_json::to_vec(&report).map_err(std::io::Error::other)?;
    // The name sorts by time, so the sender sends and the bound drops in order.
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let name = format!("{nanos:020}-{}.json", &report.id[..8]);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, &body)?;
    std::fs::rename(&tmp, dir.join(&name))?;
    trim(&dir, MAX_SPOOL)
}

/// Drops the oldest spooled reports beyond `max`, adding their number to `dropped`.
fn trim(dir: &Path, max: usize) -> std::io::Result<()> {
    let mut names = spooled(dir)?;
    if names.len() <= max {
        return Ok(());
    }
    let excess = names.len() - max;
    let mut removed = 0u64;
    for name in names.drain(..excess) {
        if std::fs::remove_file(dir.join(&name)).is_ok() {
            removed += 1;
        }
    }
    add_dropped(dir, removed)
}

/// The spooled report files, oldest first.
pub(crate) fn spooled(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

pub(crate) fn dropped_file(dir: &Path) -> PathBuf {
    dir.join("dropped")
}

pub(crate) fn read_dropped(dir: &Path) -> u64 {
    std::fs::read_to_string(dropped_file(dir))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn add_dropped(dir: &Path, n: u64) -> std::io::Result<()> {
    let total = read_dropped(dir).saturating_add(n);
    let tmp = dir.join(".dropped.tmp");
    std::fs::write(&tmp, total.to_string())?;
    std::fs::rename(&tmp, dropped_file(dir))
}

/// The install's random id, made on first use; it identifies the machine's install on `/fleet` even
/// when two machines share a name.
fn install_id(layout: &Layout) -> std::io::Result<String> {
    let path = layout.meta.join("install-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if is_id(id) {
            return Ok(id.to_string());
        }
    }
    let id = random_hex(16);
    let tmp = layout.meta.join(".install-id.tmp");
    std::fs::write(&tmp, &id)?;
    std::fs::rename(&tmp, &path)?;
    Ok(id)
}

/// Ids are 8 to 64 characters of `[0-9a-zA-Z-]` (the server checks the same).
pub fn is_id(s: &str) -> bool {
    (8..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Hex of a hash over the time, the process and a stack address: unique enough for ids that the server
/// only uses to tell reports and installs apart (nothing secret rests on them).
fn random_hex(bytes: usize) -> String {
    let mut h = Sha256::new();
    h.update(format!("{:?}", SystemTime::now()).as_bytes());
    h.update(std::process::id().to_le_bytes());
    let local = 0u8;
    h.update((std::ptr::addr_of!(local) as usize).to_le_bytes());
    h.update(std::env::temp_dir().as_os_str().as_encoded_bytes());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    h.update(
        COUNTER
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_le_bytes(),
    );
    hex::encode(&h.finalize()[..bytes])
}

/// `COMPUTERNAME` when set (Windows sets it; IT and tests can set it elsewhere), else the host name.
pub fn machine_name() -> String {
    if let Some(n) = std::env::var_os("COMPUTERNAME").filter(|n| !n.is_empty()) {
        return truncate(&n.to_string_lossy(), 255);
    }
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or fails.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    "unknown".into()
}

fn os_name() -> String {
    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_spool_drops_the_oldest_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..7 {
            std::fs::write(dir.path().join(format!("{i:020}-x.json")), b"{}").unwrap();
        }
        trim(dir.path(), 5).unwrap();
        assert_eq!(
            spooled(dir.path()).unwrap(),
            (2..7)
                .map(|i| format!("{i:020}-x.json"))
                .collect::<Vec<_>>()
        );
        assert_eq!(read_dropped(dir.path()), 2);
        std::fs::write(dir.path().join(format!("{:020}-x.json", 9)), b"{}").unwrap();
        trim(dir.path(), 5).unwrap();
        assert_eq!(read_dropped(dir.path()), 3);
    }

    #[test]
    fn ids_are_distinct_and_well_formed() {
        let a = random_hex(16);
        let b = random_hex(16);
        assert_ne!(a, b);
        assert!(is_id(&a) && a.len() == 32);
        assert!(!is_id("short") && !is_id("has space in it") && !is_id(&"x".repeat(65)));
    }
}
