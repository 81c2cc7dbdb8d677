//! The signed per-channel release index: every version a channel has served, newest first, per
//! platform, at `<product>/channels/<channel>/index/<platform>.json` (+ `.minisig`), beside the
//! channel manifest. `publish` and `promote` add to it whenever they point the channel at a release;
//! `Pin` (`pin`) reads it to find the newest release of a pinned line after the channel moved on.
//! Launchers that do not know it never ask for it.
//!
//! This module owns the format and its merging; it does no I/O.

use crate::version::Version;
use serde::{Deserialize, Serialize};

pub const FORMAT: u32 = 1;
/// Largest index accepted, in bytes (a hundred thousand releases fit).
pub const MAX_INDEX_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseIndex {
    pub format: u32,
    pub product: String,
    pub channel: String,
    pub platform: String,
    /// Newest first.
    pub releases: Vec<IndexEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub version: Version,
    /// When the release was published (its manifest's `published`).
    pub published: String,
}

impl ReleaseIndex {
    pub fn new(product: &str, channel: &str, platform: &str) -> ReleaseIndex {
        ReleaseIndex {
            format: FORMAT,
            product: product.to_string(),
            channel: channel.to_string(),
            platform: platform.to_string(),
            releases: Vec::new(),
        }
    }

    /// Adds a release (once), keeping the list newest first.
    pub fn add(&mut self, version: &Version, published: &str) {
        if self.releases.iter().any(|e| e.version == *version) {
            return;
        }
        self.releases.push(IndexEntry {
            version: version.clone(),
            published: published.to_string(),
        });
        self.releases.sort_by(|a, b| b.version.cmp(&a.version));
    }

    /// The canonical bytes, the ones that are signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain data of strings and numbers: serialising it cannot fail.
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    pub fn from_slice(bytes: &[u8]) -> Result<ReleaseIndex, String> {
        let i: ReleaseIndex =
            serde_json::from_slice(bytes).map_err(|e| format!("not a release index: {e}"))?;
        if i.format != FORMAT {
            return Err(format!(
                "release index format {} is not {FORMAT}: update the launcher",
                i.format
            ));
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_kept_once_newest_first_and_round_trip() {
        let mut i = ReleaseIndex::new("demo", "stable", "linux-x86_64");
        for v in ["7.04.100", "7.05.1", "7.04.200", "7.04.100"] {
            i.add(&Version::parse(v).unwrap(), "2026-11-20T20:00:00Z");
        }
        let order: Vec<&str> = i.releases.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(order, ["7.05.1", "7.04.200", "7.04.100"]);
        assert_eq!(ReleaseIndex::from_slice(&i.to_bytes()), Ok(i));
        assert!(ReleaseIndex::from_slice(b"{}").is_err());
    }
}
