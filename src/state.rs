//! What the launcher remembers about an install, in `<Dir>/.launcher/`: the installed manifest, the stat
//! cache that makes a launch cost milliseconds, the channel manifest last seen (with its cache
//! validators and signature, so a `304` needs no body), the held version after a rollback, and the
//! update log. `state.json` is replaced atomically and only when something in it changed.

use crate::fsutil::{self, fs_err, FsError};
use crate::manifest::Manifest;
use crate::source::Validators;
use crate::version::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

pub use crate::layout::{Layout, META_DIR};

/// One file's stat as it was when its hash was last computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatEntry {
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Inode (Unix) or file index (Windows) when known; 0 otherwise.
    #[serde(default)]
    pub inode: u64,
    pub sha256: String,
    /// When the hash was taken, seconds since the epoch (racy-git rule: a file modified in the same
    /// second as its hash was taken may have changed without its stat changing).
    pub hashed_at: i64,
}

/// The result of the last update attempt, for `status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LastResult {
    pub time: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub result: Outcome,
}

/// What the last update attempt came to. `state.json` keeps the words launchers always wrote there
/// (`ok`, `ok; <kept files>`, `failed: <why>`, `rolled back`), which `status --json` shows as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The change was applied; `kept` says where the user's files at paths the release added are now.
    Ok { kept: Vec<String> },
    /// The update failed, for this reason (one line); the installed version stayed.
    Failed(String),
    /// `launcher rollback` restored the newest backup.
    RolledBack,
    /// A result in words this launcher does not know (written by another version), kept as it is.
    Other(String),
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome::Ok { kept: Vec::new() }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok { kept } if kept.is_empty() => f.write_str("ok"),
            Outcome::Ok { kept } => write!(f, "ok; {}", kept.join("; ")),
            Outcome::Failed(why) => write!(f, "failed: {why}"),
            Outcome::RolledBack => f.write_str("rolled back"),
            Outcome::Other(text) => f.write_str(text),
        }
    }
}

impl Outcome {
    /// Reads the words [`Outcome`]'s `Display` writes; anything else is [`Outcome::Other`].
    pub fn parse(text: &str) -> Outcome {
        match text {
            "ok" => Outcome::default(),
            "rolled back" => Outcome::RolledBack,
            _ => {
                if let Some(kept) = text.strip_prefix("ok; ") {
                    Outcome::Ok {
                        kept: kept.split("; ").map(str::to_string).collect(),
                    }
                } else if let Some(why) = text.strip_prefix("failed: ") {
                    Outcome::Failed(why.to_string())
                } else {
                    Outcome::Other(text.to_string())
                }
            }
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
        Ok(Outcome::parse(&String::deserialize(d)?))
    }
}

/// Repeated failures to apply one release, for back-off.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failures {
    pub version: Version,
    pub count: u32,
    /// Seconds since the epoch of the last failure.
    pub last: i64,
}

/// Failures of one release that are retried at once on the next start (a bad download may be a proxy's
/// hiccup); after that, attempts are spaced out.
pub const RETRIES_BEFORE_BACKOFF: u32 = 2;
/// The first wait after [`RETRIES_BEFORE_BACKOFF`] failures; it doubles with each further failure.
pub const BACKOFF_FIRST_SECS: i64 = 15 * 60;
/// The longest wait between two attempts at a release that keeps failing.
pub const BACKOFF_MAX_SECS: i64 = 24 * 60 * 60;

impl Failures {
    /// How long to wait after the `count`-th failure before trying the release again.
    pub fn wait_after(count: u32) -> i64 {
        if count <= RETRIES_BEFORE_BACKOFF {
            return 0;
        }
        let doublings = (count - RETRIES_BEFORE_BACKOFF - 1).min(16);
        (BACKOFF_FIRST_SECS << doublings).min(BACKOFF_MAX_SECS)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub installed: Option<Manifest>,
    #[serde(default)]
    pub cache: BTreeMap<String, StatEntry>,
    /// Validators of the channel manifest stored in `channel.json`.
    #[serde(default)]
    pub channel_validators: Option<Validators>,
    /// The channel URL those validators belong to (a changed `Server` or `Channel` must not reuse them).
    #[serde(default)]
    pub channel_url: Option<String>,
    /// The version in `channel.json`, so a `304` for the installed version needs no parsing at all.
    #[serde(default)]
    pub channel_version: Option<Version>,
    /// After `rollback`: the newest version rolled back from; releases up to it are not reinstalled.
    /// Kept beside [`State::holds`] so that an older launcher reading this state still holds.
    #[serde(default)]
    pub held: Option<String>,
    /// Every version rolled back from since the last update to a newer release (see [`State::holds`]).
    /// Absent in states written before holds were a list: then `held` is the only hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<String>,
    #[serde(default)]
    pub last: Option<LastResult>,
    #[serde(default)]
    pub failures: Option<Failures>,
    /// The server answered `503`/`429` with `Retry-After`: not asked again before this time (seconds
    /// since the epoch), so a fleet does not hammer an overloaded server.
    #[serde(default)]
    pub retry_at: Option<i64>,
    /// This install's random id, made once (`rollout::new_install_id`): its place in a staged rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_id: Option<String>,
    /// The version the last update installed while `HealthCheck` was on, until its first start went
    /// well (`health`): that start is watched, and a failure rolls it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unproven: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("`{}` is damaged ({detail}); the install will be checked file by file", path.display())]
    Corrupt { path: PathBuf, detail: String },
}

impl State {
    /// Reads the state; `Ok(None)` when there is none (nothing installed yet).
    pub fn load(layout: &Layout) -> Result<Option<State>, StateError> {
        let path = layout.state();
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StateError::Corrupt {
                        path,
                        detail: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fs_err("read", &path)(e).into()),
        }
    }

    pub fn save(&self, layout: &Layout) -> Result<(), FsError> {
        let bytes = serde_json::to_vec(self).map_err(|e| FsError {
            action: "serialise",
            path: layout.state(),
            source: std::io::Error::other(e),
        })?;
        fsutil::write_atomic(&layout.state(), &bytes)
    }

    /// The held versions, oldest first: every version rolled back from since the last update to a
    /// newer release. A release is not installed while its version is at most one of them (a rollback
    /// from 1.3 to 1.2 and then to 1.1 holds both 1.3 and 1.2), and a newer release ends all holds.
    pub fn holds(&self) -> Vec<String> {
        if self.holds.is_empty() {
            self.held.iter().cloned().collect()
        } else {
            self.holds.clone()
        }
    }

    /// Sets the holds (any order, duplicates allowed) and `held` to the newest of them.
    pub fn set_holds(&mut self, holds: &[String]) {
        let mut v: Vec<(Version, String)> = holds
            .iter()
            .filter_map(|h| Version::parse(h).ok().map(|p| (p, h.clone())))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        self.held = v.last().map(|(_, h)| h.clone());
        self.holds = v.into_iter().map(|(_, h)| h).collect();
    }

    /// True when `version` is held back by a rollback (it is not newer than every held version).
    pub fn is_held(&self, version: &Version) -> bool {
        self.holds()
            .iter()
            .any(|h| Version::parse(h).is_ok_and(|held| *version <= held))
    }

    pub fn installed_version(&self) -> Option<&str> {
        self.installed.as_ref().map(|m| m.version.as_str())
    }

    /// Records a failed attempt to apply `version` (another version starts a new count).
    pub fn record_failure(&mut self, version: &Version, now: i64) {
        let count = match &self.failures {
            Some(f) if f.version == *version => f.count.saturating_add(1),
            _ => 1,
        };
        self.failures = Some(Failures {
            version: version.clone(),
            count,
            last: now,
        });
    }

    /// When `version` has failed too often to be tried now: the failures so far and the seconds left
    /// until the next attempt. A clock set back does not block updates forever.
    pub fn backoff(&self, version: &Version, now: i64) -> Option<(u32, i64)> {
        let f = self.failures.as_ref().filter(|f| f.version == *version)?;
        let wait = Failures::wait_after(f.count);
        let elapsed = now - f.last;
        (wait > 0 && (0..wait).contains(&elapsed)).then_some((f.count, wait - elapsed))
    }
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Appends one line to `launcher.log`: time, from, to, result, bytes, seconds. Best effort: a log that
/// cannot be written must not stop the app from starting.
pub fn log_line(
    layout: &Layout,
    from: Option<&str>,
    to: Option<&str>,
    result: &str,
    bytes: u64,
    secs: f64,
) {
    let line = format!(
        "{}\tfrom={}\tto={}\tresult={}\tbytes={}\tseconds={:.2}\n",
        crate::manifest::format_time(std::time::SystemTime::now()),
        crate::text::escape(from.unwrap_or("-")),
        crate::text::escape(to.unwrap_or("-")),
        // One line per attempt, whatever the message quotes.
        crate::text::escape(&result.replace(['\n', '\t'], " ")),
        bytes,
        secs
    );
    // Never through a link (see `links`): a log that is one is skipped here and replaced by the next
    // start that opens the install.
    if crate::links::is_link(&layout.meta) || crate::links::is_link(&layout.log()) {
        return;
    }
    if std::fs::create_dir_all(&layout.meta).is_ok() {
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // A link made after the check above is refused by the open itself.
            opts.custom_flags(libc::O_NOFOLLOW);
        }
        if let Ok(mut f) = opts.open(layout.log()) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_keep_every_version_rolled_back_from_and_an_old_single_hold_still_loads() {
        let v = |s: &str| Version::parse(s).unwrap();
        let old: State = serde_json::from_str(r#"{"held": "1.3"}"#).unwrap();
        assert_eq!(old.holds(), ["1.3"]);
        assert!(old.is_held(&v("1.3")) && old.is_held(&v("1.2")));
        assert!(!old.is_held(&v("1.3.1")));

        let mut s = old.clone();
        s.set_holds(&["1.3".into(), "1.10".into(), "1.2".into(), "1.3".into()]);
        assert_eq!(
            s.holds(),
            ["1.2", "1.3", "1.10"],
            "numeric order, no duplicates"
        );
        assert_eq!(s.held.as_deref(), Some("1.10"), "`held` is the newest hold");
        assert!(s.is_held(&v("1.4")) && !s.is_held(&v("1.11")));
        let saved: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(saved["held"], "1.10", "older launchers read `held`");

        s.set_holds(&[]);
        assert!(s.holds().is_empty() && s.held.is_none());
        let saved: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert!(saved.get("holds").is_none(), "no holds, no key");
    }

    #[test]
    fn last_results_are_written_in_the_words_launchers_always_used() {
        for text in [
            "ok",
            "ok; `notes.txt` was kept as `notes.txt.user-file`; `a` was kept as `a.user-file`",
            "failed: the server said 500",
            "rolled back",
            "something a later launcher writes",
        ] {
            let o = Outcome::parse(text);
            assert_eq!(o.to_string(), text);
            assert_eq!(serde_json::to_value(&o).unwrap(), text);
        }
        assert_eq!(Outcome::parse("rolled back"), Outcome::RolledBack);
        assert_eq!(
            Outcome::parse("failed: x"),
            Outcome::Failed("x".to_string())
        );
    }

    #[test]
    fn one_version_in_two_spellings_is_one_release_for_holds_and_back_off() {
        let v = |s: &str| Version::parse(s).unwrap();
        let mut s = State::default();
        s.set_holds(&["2.0".into()]);
        assert!(s.is_held(&v("2.0.0")) && !s.is_held(&v("2.0.1")));
        let t0 = 1_800_000_000;
        for _ in 0..3 {
            s.record_failure(&v("2.0"), t0);
        }
        s.record_failure(&v("2.0.0"), t0);
        assert_eq!(
            s.failures.as_ref().map(|f| f.count),
            Some(4),
            "`2.0.0` counts with `2.0`"
        );
        assert!(s.backoff(&v("2.00.0"), t0).is_some());
    }

    #[test]
    fn a_release_that_keeps_failing_is_tried_less_and_less_often() {
        let v = |s: &str| Version::parse(s).unwrap();
        let mut s = State::default();
        let t0 = 1_800_000_000;
        s.record_failure(&v("2.0.0"), t0);
        s.record_failure(&v("2.0.0"), t0);
        assert_eq!(
            s.backoff(&v("2.0.0"), t0),
            None,
            "two failures are retried at once"
        );
        s.record_failure(&v("2.0.0"), t0);
        assert_eq!(
            s.backoff(&v("2.0.0"), t0 + 60),
            Some((3, BACKOFF_FIRST_SECS - 60))
        );
        assert_eq!(s.backoff(&v("2.0.0"), t0 + BACKOFF_FIRST_SECS), None);
        assert_eq!(
            s.backoff(&v("2.1.0"), t0),
            None,
            "a newer release is tried at once"
        );
        s.record_failure(&v("2.0.0"), t0);
        assert_eq!(
            s.backoff(&v("2.0.0"), t0).map(|b| b.1),
            Some(2 * BACKOFF_FIRST_SECS)
        );
        for _ in 0..40 {
            s.record_failure(&v("2.0.0"), t0);
        }
        assert_eq!(
            s.backoff(&v("2.0.0"), t0).map(|b| b.1),
            Some(BACKOFF_MAX_SECS)
        );
        assert_eq!(
            s.backoff(&v("2.0.0"), t0 - 10),
            None,
            "a clock set back does not block"
        );
        s.record_failure(&v("2.1.0"), t0);
        assert_eq!(s.failures.as_ref().map(|f| f.count), Some(1));
    }
}
