//! Scanning an install: what content each managed path holds now.
//!
//! The quick check trusts a file's cached hash when its size, modification time and inode are what
//! they were when it was hashed and the cache entry is not racy (the file was not modified in the same
//! second the hash was taken, git's racy-git rule); anything else is hashed, in parallel. `Check = full`
//! hashes everything. Scanning only reads; it never changes the install.

use crate::config::CheckMode;
use crate::fsutil;
use crate::progress::Reporter;
use crate::state::{now_secs, StatEntry};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// What is at a managed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Missing,
    File { sha256: String },
    /// Something the launcher must not write through or over: a symlink, a folder, a device.
    Blocked(String),
    /// The file exists but cannot be read.
    Unreadable(String),
}

#[derive(Debug, Default)]
pub struct Scan {
    pub files: BTreeMap<String, Observed>,
    /// The stat cache after this scan (entries for every file seen).
    pub cache: BTreeMap<String, StatEntry>,
    /// Modification time (ns) and executable bit of every file seen.
    pub stat: BTreeMap<String, (i128, bool)>,
    pub hashed: usize,
    pub hashed_bytes: u64,
}

impl Scan {
    pub fn sha(&self, path: &str) -> Option<&str> {
        match self.files.get(path) {
            Some(Observed::File { sha256 }) => Some(sha256),
            _ => None,
        }
    }
}

/// Scans `paths` under `dir`.
pub fn scan<'a>(
    dir: &Path,
    paths: impl IntoIterator<Item = &'a str>,
    cache: &BTreeMap<String, StatEntry>,
    mode: CheckMode,
    reporter: &Reporter,
) -> Scan {
    let mut out = Scan::default();
    let mut to_hash: Vec<(String, std::fs::Metadata)> = Vec::new();
    for p in paths {
        if out.files.contains_key(p) {
            continue;
        }
        let abs = fsutil::native(dir, p);
        let meta = match std::fs::symlink_metadata(&abs) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.files.insert(p.to_string(), Observed::Missing);
                continue;
            }
            Err(e) => {
                // A parent that is a file (`ENOTDIR`) means the path cannot exist as given.
                if abs.ancestors().skip(1).take_while(|a| *a != dir).any(|a| a.is_file() || a.is_symlink()) {
                    out.files.insert(p.to_string(), Observed::Blocked("a folder on its path is a file or a link".into()));
                } else {
                    out.files.insert(p.to_string(), Observed::Unreadable(e.to_string()));
                }
                continue;
            }
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            out.files.insert(p.to_string(), Observed::Blocked("it is a symbolic link".into()));
            continue;
        }
        if !ft.is_file() {
            let what = if ft.is_dir() { "it is a folder" } else { "it is not a regular file" };
            out.files.insert(p.to_string(), Observed::Blocked(what.into()));
            continue;
        }
        out.stat.insert(p.to_string(), (fsutil::mtime_ns(&meta), fsutil::is_executable(&meta)));
        if mode == CheckMode::Quick {
            if let Some(c) = cache.get(p) {
                let mtime = fsutil::mtime_ns(&meta);
                let racy = c.hashed_at <= (mtime / 1_000_000_000) as i64 + 1;
                if c.size == meta.len() && c.mtime_ns == mtime && c.inode == fsutil::file_id(&meta) && !racy {
                    out.files.insert(p.to_string(), Observed::File { sha256: c.sha256.clone() });
                    out.cache.insert(p.to_string(), c.clone());
                    continue;
                }
            }
        }
        to_hash.push((p.to_string(), meta));
    }
    if to_hash.is_empty() {
        return out;
    }
    let total: u64 = to_hash.iter().map(|(_, m)| m.len()).sum();
    let task = reporter.task("Checking", total, true);
    let now = now_secs();
    let results: Vec<(String, Observed, Option<StatEntry>)> = to_hash
        .par_iter()
        .map(|(p, meta)| {
            let abs = fsutil::native(dir, p);
            let r = fsutil::sha256_file(&abs);
            task.inc(meta.len());
            match r {
                Ok((sha, _)) => {
                    // Stat again after hashing: a file written meanwhile must not be cached as hashed.
                    let after = std::fs::symlink_metadata(&abs).ok();
                    let entry = after.filter(|a| a.len() == meta.len() && fsutil::mtime_ns(a) == fsutil::mtime_ns(meta)).map(|a| StatEntry {
                        size: a.len(),
                        mtime_ns: fsutil::mtime_ns(&a),
                        inode: fsutil::file_id(&a),
                        sha256: sha.clone(),
                        hashed_at: now,
                    });
                    (p.clone(), Observed::File { sha256: sha }, entry)
                }
                Err(e) => (p.clone(), Observed::Unreadable(e.source.to_string()), None),
            }
        })
        .collect();
    drop(task);
    out.hashed = results.len();
    out.hashed_bytes = total;
    for (p, obs, entry) in results {
        if let Some(e) = entry {
            out.cache.insert(p.clone(), e);
        }
        out.files.insert(p, obs);
    }
    out
}

/// A cache entry for a file the launcher just wrote (and knows the hash of).
pub fn entry_for(dir: &Path, path: &str, sha256: &str) -> Option<StatEntry> {
    let meta = std::fs::symlink_metadata(fsutil::native(dir, path)).ok()?;
    Some(StatEntry {
        size: meta.len(),
        mtime_ns: fsutil::mtime_ns(&meta),
        inode: fsutil::file_id(&meta),
        sha256: sha256.to_string(),
        hashed_at: now_secs(),
    })
}
