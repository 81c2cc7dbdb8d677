//! Staging: download the contents a plan needs into `<Dir>/.launcher/staging/`, verified.
//!
//! Each blob goes to `staging/<sha>.part` first (resumed with a `Range` request when a previous attempt
//! left one), is read only up to its declared size, and must hash to its declared SHA-256 (compressed
//! blobs are checked after decompression) before it is renamed to `staging/<sha>` and fsynced. Content
//! that fails verification is deleted, so a bad blob cannot cause an update loop. A content staged by an
//! earlier run (`fetch`, or an update that stopped) is hashed again before it is used, and deleted when
//! it no longer matches. Free space is checked before the first byte; when the disk fills up anyway,
//! the partial downloads are deleted so that the space comes back. Several blobs download at once.
//! Nothing here touches the app's files.
//!
//! Time: every wait on the source is bounded by `Timeout` (in `source`); [`stage_until`] also bounds
//! the download as a whole. Past its deadline no new blob is started and a running one stops after its
//! current read, keeping its `.part` for the next start. Before the first byte of a blob is read, the
//! size the source announces for it (`Content-Length`, `Content-Range`, the file's size) is compared
//! with the manifest's, so a wrong file (an error page, a truncated copy) is refused without waiting
//! for its bytes; a range answer that starts elsewhere than asked is followed, not counted as bad
//! content.

use crate::fsutil::{self, fs_err, FsError};
use crate::layout::Layout;
use crate::manifest::FileEntry;
use crate::progress::{Reporter, Task};
use crate::repo;
use crate::source::{Source, SourceError};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many blobs download at once.
const PARALLEL: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("`{url}` does not match the manifest: expected SHA-256 {expected}, got {actual}; the download was discarded")]
    Mismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("`{url}` sent more than the {expected} bytes the manifest declares; the download was discarded")]
    TooLong { url: String, expected: u64 },
    #[error("`{url}` ended after {got} of {expected} bytes; the next start resumes it")]
    TooShort {
        url: String,
        expected: u64,
        got: u64,
    },
    #[error("`{url}` is {announced} bytes ({from}), but the manifest declares {expected}; it was not downloaded")]
    SizeDiffers {
        url: String,
        expected: u64,
        announced: u64,
        from: &'static str,
    },
    #[error("the download was not finished within DownloadTimeout = {} s; {} of {} are kept in `{}`, and the next start (or `launcher fetch`) resumes it", budget.as_secs_f64(), fsutil::human_bytes(*done), fsutil::human_bytes(*total), staging.display())]
    OutOfTime {
        budget: Duration,
        done: u64,
        total: u64,
        staging: PathBuf,
    },
    #[error("`{url}` is not valid zstd data ({detail}); the download was discarded")]
    Decompress { url: String, detail: String },
    #[error("not enough free space in `{}`: the update needs {} ({} of downloads and {} for the launcher's state, journal and file system blocks) and {} is free; free some space and start the launcher again", path.display(), fsutil::human_bytes(*needed + *reserve), fsutil::human_bytes(*needed), fsutil::human_bytes(*reserve), fsutil::human_bytes(*available))]
    DiskFull {
        path: PathBuf,
        /// Bytes the downloads take on disk.
        needed: u64,
        /// Bytes kept free besides (see [`space_reserve`]).
        reserve: u64,
        available: u64,
    },
    #[error("not enough free space in `{}`: the update needs {} for its download and {} for the full backup `{}` (BackupMode = full), and {} is free; free some space, lower Backups or set BackupMode = changed, and start the launcher again", path.display(), fsutil::human_bytes(*download), fsutil::human_bytes(*backup_bytes), backup.display(), fsutil::human_bytes(*available))]
    DiskFullWithBackup {
        path: PathBuf,
        download: u64,
        backup: PathBuf,
        backup_bytes: u64,
        available: u64,
    },
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// Space the change needs beside its downloads, on the same volume: the full backup it will write.
#[derive(Debug, Clone)]
pub struct Reserve {
    /// The backup folder that will be written.
    pub folder: PathBuf,
    pub bytes: u64,
}

impl StageError {
    /// The server sent content that cannot be the release's (wrong hash, too long, not zstd): trying
    /// again at once downloads the same bytes, so callers back off after repeated failures.
    pub fn is_bad_content(&self) -> bool {
        matches!(
            self,
            StageError::Mismatch { .. }
                | StageError::TooLong { .. }
                | StageError::SizeDiffers { .. }
                | StageError::Decompress { .. }
        )
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct StageStats {
    /// Bytes received from the source in this run.
    pub downloaded: u64,
    /// Contents that were already staged.
    pub reused: usize,
    /// Contents fetched in this run.
    pub fetched: usize,
}

/// The staged content for a hash.
pub fn staged_path(layout: &Layout, sha256: &str) -> PathBuf {
    layout.staging().join(sha256)
}

/// True when `e` is staged with the right size and SHA-256. A staged file that does not hash right
/// (damaged on disk since it was verified) is deleted, so it is downloaded again. Each file is hashed
/// once per process (callers ask more than once per update).
pub fn is_staged(layout: &Layout, e: &FileEntry) -> bool {
    type Key = (PathBuf, u64, i128, u64);
    static VERIFIED: Mutex<Option<std::collections::HashSet<Key>>> = Mutex::new(None);
    let p = staged_path(layout, &e.sha256);
    let Ok(m) = fs::metadata(&p) else {
        return false;
    };
    if !m.is_file() || m.len() != e.size {
        return false;
    }
    let key = (
        p.clone(),
        m.len(),
        fsutil::mtime_ns(&m),
        fsutil::file_id(&p, &m),
    );
    let mut guard = VERIFIED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let verified = guard.get_or_insert_with(Default::default);
    if verified.contains(&key) {
        return true;
    }
    match fsutil::sha256_file(&p) {
        Ok((sha, _)) if sha == e.sha256 => {
            verified.insert(key);
            true
        }
        _ => {
            let _ = fs::remove_file(&p);
            false
        }
    }
}

/// True for "no space left on device" (and "disk quota exceeded"), Unix and Windows.
fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || (cfg!(unix) && matches!(e.raw_os_error(), Some(28) | Some(122)))
        || (cfg!(windows) && matches!(e.raw_os_error(), Some(39) | Some(112)))
}

/// Removes the partial downloads (`.part`, `.unpack`) in staging; complete staged contents stay.
fn remove_partials(layout: &Layout) {
    let Ok(rd) = fs::read_dir(layout.staging()) else {
        return;
    };
    for ent in rd.flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        if name.ends_with(".part") || name.ends_with(".unpack") {
            let _ = fs::remove_file(ent.path());
        }
    }
}

fn part_path(layout: &Layout, e: &FileEntry) -> PathBuf {
    let suffix = if e.zsize.is_some() {
        ".zst.part"
    } else {
        ".part"
    };
    layout.staging().join(format!("{}{suffix}", e.sha256))
}

/// Bytes still to come and bytes to be written to disk, for the free-space check.
fn space_needed(layout: &Layout, todo: &[&FileEntry]) -> u64 {
    todo.iter()
        .map(|e| {
            let have = fs::metadata(part_path(layout, e))
                .map(|m| m.len())
                .unwrap_or(0);
            let download = e.transfer_size().saturating_sub(have);
            // A compressed blob is stored twice for a moment: compressed, then decompressed.
            download + if e.zsize.is_some() { e.size } else { 0 }
        })
        .sum()
}

/// Space kept free besides the downloads, sized to the update rather than a fixed amount (a fixed
/// 16 MiB refused a 218-byte update on a nearly full disk): each staged file may take a whole file
/// system block more than its bytes (4 KiB); the new state and the journal each hold a manifest, which
/// is about as large as the current state (kept twice over while the state is rewritten atomically) or,
/// on a first install, about 256 bytes per file (1 KiB per file covers both with room); and 64 KiB for
/// the log, the lock and folder entries.
fn space_reserve(layout: &Layout, to_stage: usize) -> u64 {
    let state = fs::metadata(layout.state()).map(|m| m.len()).unwrap_or(0);
    64 * 1024 + to_stage as u64 * (4096 + 1024) + 3 * state
}

/// Downloads and verifies every entry not yet staged.
pub fn stage(
    layout: &Layout,
    source: &dyn Source,
    product: &str,
    needed: &[&FileEntry],
    reserve: Option<&Reserve>,
    reporter: &Reporter,
) -> Result<StageStats, StageError> {
    stage_until(layout, source, product, needed, reserve, reporter, None)
}

/// [`stage`], stopping with [`StageError::OutOfTime`] when `budget` (from now) runs out first; what
/// arrived stays in `.part` files for the next attempt.
pub fn stage_until(
    layout: &Layout,
    source: &dyn Source,
    product: &str,
    needed: &[&FileEntry],
    reserve: Option<&Reserve>,
    reporter: &Reporter,
    budget: Option<Duration>,
) -> Result<StageStats, StageError> {
    let deadline = budget.map(|b| Instant::now() + b);
    let staging = layout.staging();
    fs::create_dir_all(&staging).map_err(fs_err("create the staging folder", &staging))?;
    let todo: Vec<&FileEntry> = needed
        .iter()
        .copied()
        .filter(|e| !is_staged(layout, e))
        .collect();
    let mut stats = StageStats {
        reused: needed.len() - todo.len(),
        ..Default::default()
    };
    if todo.is_empty() {
        return Ok(stats);
    }
    let need = space_needed(layout, &todo);
    if let Ok(available) = fs4::available_space(&staging) {
        let margin = space_reserve(layout, todo.len());
        if let Some(r) =
            reserve.filter(|r| available < need.saturating_add(margin).saturating_add(r.bytes))
        {
            return Err(StageError::DiskFullWithBackup {
                path: staging,
                download: need + margin,
                backup: r.folder.clone(),
                backup_bytes: r.bytes,
                available,
            });
        }
        if available < need.saturating_add(margin) {
            return Err(StageError::DiskFull {
                path: staging,
                needed: need,
                reserve: margin,
                available,
            });
        }
    }
    let total: u64 = todo.iter().map(|e| e.transfer_size()).sum();
    let task = reporter.task("Downloading", total, true);
    let queue = Mutex::new(todo.iter().copied().collect::<VecDeque<_>>());
    let failed = AtomicBool::new(false);
    let out_of_time = AtomicBool::new(false);
    let first_error: Mutex<Option<StageError>> = Mutex::new(None);
    let downloaded = AtomicU64::new(0);
    let fetched = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(todo.len()) {
            s.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                let Some(e) = next else { return };
                match stage_one(layout, source, product, e, &task, &downloaded, deadline) {
                    Ok(Ended::Staged) => {
                        fetched.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Ended::OutOfTime) => {
                        out_of_time.store(true, Ordering::Relaxed);
                        failed.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(err) => {
                        failed.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(err);
                        }
                        return;
                    }
                }
            });
        }
    });
    drop(task);
    fsutil::sync_dir(&staging);
    stats.downloaded = downloaded.load(Ordering::Relaxed);
    stats.fetched = fetched.load(Ordering::Relaxed);
    let mut first_error = first_error.into_inner().ok().flatten();
    if let (None, true, Some(budget)) = (&first_error, out_of_time.load(Ordering::Relaxed), budget)
    {
        let done = todo
            .iter()
            .map(|e| {
                if staged_path(layout, &e.sha256).is_file() {
                    e.transfer_size()
                } else {
                    fs::metadata(part_path(layout, e)).map_or(0, |m| m.len())
                }
            })
            .sum();
        first_error = Some(StageError::OutOfTime {
            budget,
            done,
            total,
            staging: staging.clone(),
        });
    }
    if let Some(e) = first_error {
        if let StageError::Fs(f) = &e {
            if is_disk_full(&f.source) {
                // Keeping partial downloads on a full disk would hold the space the user must free.
                remove_partials(layout);
            }
        }
        return Err(e);
    }
    crate::fault::crash_point("staged");
    Ok(stats)
}

/// How [`stage_one`] ended without an error.
enum Ended {
    Staged,
    /// The deadline passed first; the `.part` keeps what arrived.
    OutOfTime,
}

fn stage_one(
    layout: &Layout,
    source: &dyn Source,
    product: &str,
    e: &FileEntry,
    task: &Task,
    downloaded: &AtomicU64,
    deadline: Option<Instant>,
) -> Result<Ended, StageError> {
    let past = || deadline.is_some_and(|d| Instant::now() >= d);
    let key = repo::blob(product, &e.sha256, e.zsize.is_some());
    let url = source.url(&key);
    let part = part_path(layout, e);
    let expected = e.transfer_size();
    let mut have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if have > expected {
        remove(&part)?;
        have = 0;
    }
    if have < expected {
        if past() {
            return Ok(Ended::OutOfTime);
        }
        let mut body = source.blob(&key, have)?;
        if let Some(announced) = body.total.filter(|&t| t != expected) {
            // Known bad before its first byte: reading it would only hold the launch.
            let from = body.total_from;
            drop(body);
            remove(&part)?;
            return Err(StageError::SizeDiffers {
                url,
                expected,
                announced,
                from,
            });
        }
        if body.offset > have {
            return Err(SourceError::Io {
                url,
                detail: format!("the server answered with the bytes from {} on to a request for the bytes from {have} on; the partial download is kept and the next start asks again", body.offset),
            }
            .into());
        }
        // The server may start earlier than asked (0 when it ignored the range): its bytes from there
        // on replace ours.
        have = body.offset;
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&part)
            .map_err(fs_err("create", &part))?;
        f.set_len(have).map_err(fs_err("write", &part))?;
        use std::io::Seek;
        f.seek(io::SeekFrom::Start(have))
            .map_err(fs_err("write", &part))?;
        task.inc(have);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            if have == expected && body.total == Some(expected) {
                break; // everything the source announced is in: no need to wait for its end
            }
            let n = match body.reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                // Every declared byte is in and the connection broke (or the server announced more
                // than it sent): the hash decides, as for any complete download.
                Err(_) if have == expected => break,
                Err(err) => {
                    let _ = f.sync_data();
                    let why = if err.kind() == io::ErrorKind::TimedOut {
                        "the server stopped sending".to_string()
                    } else {
                        err.to_string()
                    };
                    return Err(SourceError::Io {
                        url,
                        detail: format!("the transfer stopped after {have} of {expected} bytes ({why}); the next start resumes it"),
                    }
                    .into());
                }
            };
            if have + n as u64 > expected {
                drop(f);
                remove(&part)?;
                return Err(StageError::TooLong { url, expected });
            }
            f.write_all(&buf[..n]).map_err(fs_err("write", &part))?;
            have += n as u64;
            downloaded.fetch_add(n as u64, Ordering::Relaxed);
            task.inc(n as u64);
            if have < expected && past() {
                f.sync_all().map_err(fs_err("flush", &part))?;
                return Ok(Ended::OutOfTime);
            }
        }
        f.sync_all().map_err(fs_err("flush", &part))?;
        if have < expected {
            return Err(StageError::TooShort {
                url,
                expected,
                got: have,
            });
        }
    } else if have == 0 {
        // Empty content (`__init__.py`, `.gitkeep`): nothing to download, but `finish` verifies and
        // renames a `.part` like any other, so it must exist.
        File::create(&part).map_err(fs_err("create", &part))?;
    } else {
        task.inc(expected);
    }
    finish(layout, e, &part, &url)?;
    Ok(Ended::Staged)
}

/// Verifies a complete `.part` and renames it (or its decompressed form) to `staging/<sha>`.
fn finish(layout: &Layout, e: &FileEntry, part: &Path, url: &str) -> Result<(), StageError> {
    let done = staged_path(layout, &e.sha256);
    let input = File::open(part).map_err(fs_err("read", part))?;
    if e.zsize.is_none() {
        let (actual, _) = fsutil::sha256_reader(input).map_err(fs_err("read", part))?;
        if actual != e.sha256 {
            remove(part)?;
            return Err(StageError::Mismatch {
                url: url.to_string(),
                expected: e.sha256.clone(),
                actual,
            });
        }
        fs::rename(part, &done).map_err(fs_err("rename into staging", &done))?;
        return Ok(());
    }
    let tmp = layout.staging().join(format!("{}.unpack", e.sha256));
    let result = (|| -> Result<(), StageError> {
        let mut out = File::create(&tmp).map_err(fs_err("create", &tmp))?;
        let bad = |detail: String| StageError::Decompress {
            url: url.to_string(),
            detail,
        };
        let dec = zstd::stream::read::Decoder::new(input).map_err(|x| bad(x.to_string()))?;
        // Read one byte past the declared size, to notice content that is too long.
        let mut dec = dec.take(e.size + 1);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut n_total = 0u64;
        loop {
            let n = match dec.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(x) if x.kind() == io::ErrorKind::Interrupted => continue,
                Err(x) => return Err(bad(x.to_string())),
            };
            n_total += n as u64;
            if n_total > e.size {
                return Err(StageError::TooLong {
                    url: url.to_string(),
                    expected: e.size,
                });
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(fs_err("write", &tmp))?;
        }
        let actual = hex::encode(h.finalize());
        if actual != e.sha256 || n_total != e.size {
            return Err(StageError::Mismatch {
                url: url.to_string(),
                expected: e.sha256.clone(),
                actual,
            });
        }
        out.sync_all().map_err(fs_err("flush", &tmp))?;
        fs::rename(&tmp, &done).map_err(fs_err("rename into staging", &done))?;
        Ok(())
    })();
    let _ = fs::remove_file(part);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn remove(p: &Path) -> Result<(), FsError> {
    match fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fs_err("remove", p)(e)),
    }
}

/// Removes everything in staging that the given hashes do not need (after an update, or a stale fetch).
pub fn clean(layout: &Layout, keep: &std::collections::BTreeSet<&str>) {
    let Ok(rd) = fs::read_dir(layout.staging()) else {
        return;
    };
    for ent in rd.flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        let sha = name.split('.').next().unwrap_or("");
        if !keep.contains(sha) {
            let _ = fs::remove_file(ent.path());
        }
    }
}
