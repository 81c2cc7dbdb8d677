//! Scanning an install: what content each managed path holds now.
//!
//! The quick check trusts a file's cached hash when its size, modification time and inode are what
//! they were when it was hashed and the cache entry is not racy (the file was not modified in the same
//! second the hash was taken, git's racy-git rule); anything else is hashed, in parallel. `Check = full`
//! hashes everything. Scanning only reads; it never changes the install.
//!
//! This is the launch path's hot loop (10,000 files must cost milliseconds): stats run in parallel, the
//! result is one hash map, and the cache is only read; new cache entries come back in [`Scan::fresh`].

use crate::config::CheckMode;
use crate::fsutil;
use crate::progress::Reporter;
use crate::state::{now_secs, StatEntry};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// What is at a managed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Missing,
    File {
        sha256: String,
        size: u64,
        /// Modification time, nanoseconds since the epoch.
        mtime_ns: i128,
        exec: bool,
        /// The inode (0 where unknown): two spellings of a path with the same id are one file (a
        /// case-insensitive file system).
        file_id: u64,
    },
    /// Something the launcher must not write through or over: a symlink, a folder, a device.
    Blocked(String),
    /// The file exists but cannot be read.
    Unreadable(String),
}

#[derive(Debug, Default)]
pub struct Scan {
    pub files: HashMap<String, Observed>,
    /// Cache entries for the files hashed by this scan.
    pub fresh: Vec<(String, StatEntry)>,
    /// Paths answered from the cache without hashing.
    pub hits: usize,
    pub hashed: usize,
    pub hashed_bytes: u64,
    /// For a managed path that is a folder: what is inside it (relative paths of everything that is
    /// not a folder, `/`-separated from the install folder), so the plan can tell a folder that only
    /// holds files the update removes (it may become a file) from one that holds the user's files.
    pub folders: HashMap<String, Vec<String>>,
}

impl Scan {
    pub fn sha(&self, path: &str) -> Option<&str> {
        match self.files.get(path) {
            Some(Observed::File { sha256, .. }) => Some(sha256),
            _ => None,
        }
    }

    /// The stat cache after this scan: `old` with the fresh entries, limited to `keep`.
    pub fn cache_after<'a>(
        &self,
        old: &BTreeMap<String, StatEntry>,
        keep: impl IntoIterator<Item = &'a str>,
    ) -> BTreeMap<String, StatEntry> {
        let keep: HashSet<&str> = keep.into_iter().collect();
        let mut c: BTreeMap<String, StatEntry> = old
            .iter()
            .filter(|(p, _)| keep.contains(p.as_str()))
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect();
        for (p, e) in &self.fresh {
            if keep.contains(p.as_str()) {
                c.insert(p.clone(), e.clone());
            }
        }
        c
    }
}

/// The folders on the way to a manifest path: `a`, `a/b` for `a/b/c`.
fn folders_of(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// The folders among `paths`' ancestors that are links (symlinks, or junctions on Windows). Each folder
/// is looked at once, so this costs one stat per folder, not per file.
fn linked_folders<'a>(dir: &Path, paths: &[&'a str]) -> HashSet<&'a str> {
    let folders: HashSet<&str> = paths.iter().flat_map(|p| folders_of(p)).collect();
    folders
        .into_iter()
        .filter(|f| {
            std::fs::symlink_metadata(fsutil::native(dir, f))
                .is_ok_and(|m| m.file_type().is_symlink())
        })
        .collect()
}

/// What one stat found, before hashing.
enum Stat {
    Done(Observed, bool),
    Hash(std::fs::Metadata),
    /// A folder at a managed path, with what it holds.
    Folder(Vec<String>),
}

/// Everything under the folder `rel` that is not itself a folder (links are listed, not followed).
fn folder_contents(dir: &Path, rel: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![rel.to_string()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(fsutil::native(dir, &d)) else {
            // Unreadable: it holds something we cannot vouch for.
            out.push(format!("{d}/?"));
            continue;
        };
        for e in rd.flatten() {
            let p = format!("{d}/{}", e.file_name().to_string_lossy());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn stat_one(dir: &Path, p: &str, cache: &BTreeMap<String, StatEntry>, mode: CheckMode) -> Stat {
    let abs = fsutil::native(dir, p);
    let meta = match std::fs::symlink_metadata(&abs) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Stat::Done(Observed::Missing, false)
        }
        Err(e) => {
            // A parent that is a file (`ENOTDIR`) means the path cannot exist as given.
            let blocked = abs
                .ancestors()
                .skip(1)
                .take_while(|a| *a != dir)
                .any(|a| a.is_file() || a.is_symlink());
            let o = if blocked {
                Observed::Blocked("a folder on its path is a file or a link".into())
            } else {
                Observed::Unreadable(e.to_string())
            };
            return Stat::Done(o, false);
        }
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Stat::Done(Observed::Blocked("it is a symbolic link".into()), false);
    }
    if ft.is_dir() {
        return Stat::Folder(folder_contents(dir, p));
    }
    if !ft.is_file() {
        let what = "it is not a regular file";
        return Stat::Done(Observed::Blocked(what.into()), false);
    }
    if mode == CheckMode::Quick {
        if let Some(c) = cache.get(p) {
            let mtime = fsutil::mtime_ns(&meta);
            let racy = c.hashed_at <= (mtime / 1_000_000_000) as i64 + 1;
            // The file id last: on Windows it costs opening the file.
            let same = c.size == meta.len() && c.mtime_ns == mtime && !racy;
            let file_id = if same {
                fsutil::file_id(&abs, &meta)
            } else {
                0
            };
            if same && c.inode == file_id {
                let o = Observed::File {
                    sha256: c.sha256.clone(),
                    size: meta.len(),
                    mtime_ns: mtime,
                    exec: fsutil::is_executable(&meta),
                    file_id,
                };
                return Stat::Done(o, true);
            }
        }
    }
    Stat::Hash(meta)
}

/// Scans `paths` under `dir`.
pub fn scan<'a>(
    dir: &Path,
    paths: impl IntoIterator<Item = &'a str>,
    cache: &BTreeMap<String, StatEntry>,
    mode: CheckMode,
    reporter: &Reporter,
) -> Scan {
    let mut seen = HashSet::new();
    let unique: Vec<&str> = paths.into_iter().filter(|p| seen.insert(*p)).collect();
    let linked = linked_folders(dir, &unique);
    let stats: Vec<(&str, Stat)> = unique
        .par_iter()
        .map(|p| match folders_of(p).find(|f| linked.contains(f)) {
            // Someone planted a link on the way: never read or write through it.
            Some(f) => {
                let why = format!("the folder `{f}` on its path is a symbolic link or junction");
                (*p, Stat::Done(Observed::Blocked(why), false))
            }
            None => (*p, stat_one(dir, p, cache, mode)),
        })
        .collect();
    let mut out = Scan {
        files: HashMap::with_capacity(stats.len()),
        ..Default::default()
    };
    let mut to_hash: Vec<(&str, std::fs::Metadata)> = Vec::new();
    for (p, s) in stats {
        match s {
            Stat::Done(o, hit) => {
                out.hits += usize::from(hit);
                out.files.insert(p.to_string(), o);
            }
            Stat::Hash(meta) => to_hash.push((p, meta)),
            Stat::Folder(inside) => {
                out.files
                    .insert(p.to_string(), Observed::Blocked("it is a folder".into()));
                out.folders.insert(p.to_string(), inside);
            }
        }
    }
    if to_hash.is_empty() {
        return out;
    }
    let total: u64 = to_hash.iter().map(|(_, m)| m.len()).sum();
    let task = reporter.task("Checking", total, true);
    let now = now_secs();
    let results: Vec<(&str, Observed, Option<StatEntry>)> = to_hash
        .par_iter()
        .map(|(p, meta)| {
            let abs = fsutil::native(dir, p);
            let r = fsutil::sha256_file(&abs);
            task.inc(meta.len());
            match r {
                Ok((sha, _)) => {
                    // Stat again after hashing: a file written meanwhile must not be cached as hashed.
                    let after = std::fs::symlink_metadata(&abs).ok();
                    let entry = after
                        .filter(|a| {
                            a.len() == meta.len() && fsutil::mtime_ns(a) == fsutil::mtime_ns(meta)
                        })
                        .map(|a| StatEntry {
                            size: a.len(),
                            mtime_ns: fsutil::mtime_ns(&a),
                            inode: fsutil::file_id(&abs, &a),
                            sha256: sha.clone(),
                            hashed_at: now,
                        });
                    let o = Observed::File {
                        sha256: sha,
                        size: meta.len(),
                        mtime_ns: fsutil::mtime_ns(meta),
                        exec: fsutil::is_executable(meta),
                        file_id: entry
                            .as_ref()
                            .map_or_else(|| fsutil::file_id(&abs, meta), |e| e.inode),
                    };
                    (*p, o, entry)
                }
                Err(e) => (*p, Observed::Unreadable(e.source.to_string()), None),
            }
        })
        .collect();
    drop(task);
    out.hashed = results.len();
    out.hashed_bytes = total;
    for (p, obs, entry) in results {
        if let Some(e) = entry {
            out.fresh.push((p.to_string(), e));
        }
        out.files.insert(p.to_string(), obs);
    }
    out
}

/// A cache entry for a file the launcher just wrote (and knows the hash of).
pub fn entry_for(dir: &Path, path: &str, sha256: &str) -> Option<StatEntry> {
    let abs = fsutil::native(dir, path);
    let meta = std::fs::symlink_metadata(&abs).ok()?;
    Some(StatEntry {
        size: meta.len(),
        mtime_ns: fsutil::mtime_ns(&meta),
        inode: fsutil::file_id(&abs, &meta),
        sha256: sha256.to_string(),
        hashed_at: now_secs(),
    })
}
