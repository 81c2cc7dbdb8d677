//! The publisher's side: `publish` turns a release folder into repository content, `promote` points a
//! channel at a release that is already there.
//!
//! `publish`, step by step:
//! 1. Check the names, the version and the release folder; walk it and refuse symlinks, special files,
//!    unreadable files and every path the manifest rules (`paths`) reject, listing every offender.
//! 2. Hash the files in parallel (the only full read of large releases), with progress.
//! 3. Take the product's publish lock (`<repo>/<product>/.lock`, see [`lock_product`]) and, under it,
//!    compare with what the repository has: an identical release changes nothing; the same version with
//!    other content, another spelling of a published version (`1.00` when `1.0` is there), or a version
//!    older than the channel's (without `--force`), is refused before any byte is written. Everything
//!    before this step only reads the release folder, so it runs outside the lock.
//! 4. Write each new content once under `blobs/`, zstd-compressed when that is smaller, each atomically.
//! 5. Write the release manifest, then the channel manifest, each atomically and each signed when a key
//!    is given. The channel manifest is written last, so a client never sees a release whose blobs are
//!    not all there.
//!
//! `promote` takes the same lock, so a channel manifest and its signature are always written by one
//! process at a time and always match.
//!
//! It never deletes anything from a repository: blobs and releases are immutable.

use crate::fsutil::{self, fs_err, FsError};
use crate::index::ReleaseIndex;
use crate::manifest::{self, FileEntry, Manifest, ManifestError, Rollout};
use crate::paths;
use crate::progress::Reporter;
use crate::repo;
use crate::sign::{SignError, Signer};
use crate::text::escape;
use crate::version::{Version, VersionError};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Name(String),
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error("the release folder `{}` does not exist", .0.display())]
    SourceMissing(PathBuf),
    #[error("`{}` is not a folder", .0.display())]
    SourceNotDir(PathBuf),
    #[error("the release folder `{}` has no files", .0.display())]
    SourceEmpty(PathBuf),
    #[error("the release folder `{}` has {} file(s) that cannot be published:\n{}", dir.display(), problems.len(), problems.join("\n"))]
    BadFiles { dir: PathBuf, problems: Vec<String> },
    #[error("the executable `{path}` is not a file in the release folder `{}`", dir.display())]
    ExecutableMissing { path: String, dir: PathBuf },
    #[error("the hook `{path}` is not a file in the release folder `{}`; a hook must be one of the release's own files", dir.display())]
    HookMissing { path: String, dir: PathBuf },
    #[error("the release index `{}` is damaged ({detail}); move it away and publish or promote again to start a new one", path.display())]
    BadIndex { path: PathBuf, detail: String },
    #[error("no --executable given and the release folder has {} candidates: {}; pass --executable PATH", candidates.len(), if candidates.is_empty() { "none".to_string() } else { candidates.join(", ") })]
    ExecutableUnknown { candidates: Vec<String> },
    #[error("version {version} of `{product}` for {platform} is already published with other content ({detail}); publish it as a new version")]
    VersionReused {
        product: String,
        version: String,
        platform: String,
        detail: String,
    },
    #[error("version {version} of `{product}` for {platform} was published with other content by another publish that finished while this one was running ({detail}); nothing was written: check which release folder is the right one, and publish this one as a new version if it is needed too")]
    LostRace {
        product: String,
        version: String,
        platform: String,
        detail: String,
    },
    #[error("version {version} of `{product}` is already published as `{existing}`, which is the same version number; use --version {existing} (the same content changes nothing) or a new version")]
    OtherSpelling {
        product: String,
        version: String,
        existing: String,
    },
    #[error("another publish or promote of `{product}` has held the lock `{}` for more than {} s; try again when it has finished", lock.display(), LOCK_WAIT.as_secs())]
    Busy { product: String, lock: PathBuf },
    #[error("channel `{channel}` is at version {current}, newer than {version}; pass --force to go back")]
    Older {
        channel: String,
        current: String,
        version: String,
    },
    #[error("release {version} of `{product}` for {platform} is not in the repository `{}`{}", repo.display(), match spelled { Some(s) => format!(" (it is published as `{s}`: use --version {s})"), None => String::new() })]
    NoSuchRelease {
        product: String,
        version: String,
        platform: String,
        repo: PathBuf,
        /// The spelling under which the same version number is published, if any.
        spelled: Option<String>,
    },
    #[error("release {version} is signed, but no --secret-key was given: the channel manifest would be unsigned and clients with a PublicKey would refuse it")]
    NeedKey { version: String },
    #[error("cannot use the repository manifest `{}`", path.display())]
    BadRepoManifest {
        path: PathBuf,
        #[source]
        source: ManifestError,
    },
    #[error("`{}` changed while it was being published; publish again once the release folder is complete", path.display())]
    Changed { path: PathBuf },
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// What `publish` was asked to do.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub source: PathBuf,
    pub repo: PathBuf,
    pub product: String,
    pub version: String,
    pub channel: String,
    pub platform: String,
    pub executable: Option<String>,
    pub secret_key: Option<PathBuf>,
    pub mandatory: bool,
    pub expires_days: Option<u32>,
    pub force: bool,
    /// `--rollout PERCENT`: only this share of the installs takes the release (100 or None: all).
    pub rollout: Option<u8>,
    /// `--post-update PATH`: a program among the release's files run after its files are in place.
    pub post_update: Option<String>,
    /// `--pre-rollback PATH`: a program among the release's files run before a rollback removes them.
    pub pre_rollback: Option<String>,
}

/// What `publish` did.
#[derive(Debug, Clone, Default)]
pub struct PublishSummary {
    pub files: usize,
    pub bytes: u64,
    pub new_blobs: usize,
    pub bytes_written: u64,
    /// Nothing changed: the identical release was already published on this channel.
    pub unchanged: bool,
    /// The release existed already; only the channel was pointed at it.
    pub existing_release: bool,
    /// The executable had no executable bit in the release folder; it is published with `exec: true`.
    pub exec_bit_added: Option<String>,
    pub channel_manifest: PathBuf,
}

/// A file found in the release folder, before hashing.
struct Found {
    rel: String,
    abs: PathBuf,
    meta: fs::Metadata,
}

fn check_names(product: &str, channel: &str, platform: &str) -> Result<(), PublishError> {
    for (what, v) in [
        ("product", product),
        ("channel", channel),
        ("platform", platform),
    ] {
        manifest::check_name(what, v).map_err(PublishError::Name)?;
    }
    Ok(())
}

/// Walks the release folder; returns the files or every reason they cannot be published.
fn walk(source: &Path) -> Result<Vec<Found>, PublishError> {
    let meta =
        fs::metadata(source).map_err(|_| PublishError::SourceMissing(source.to_path_buf()))?;
    if !meta.is_dir() {
        return Err(PublishError::SourceNotDir(source.to_path_buf()));
    }
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for entry in walkdir::WalkDir::new(source)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
    {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let p = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                problems.push(format!("  `{p}`: cannot be read: {e}"));
                continue;
            }
        };
        let rel_path = entry.path().strip_prefix(source).unwrap_or(entry.path());
        let Some(rel) = rel_path
            .to_str()
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            problems.push(format!(
                "  `{}`: the name is not valid UTF-8",
                escape(&rel_path.display().to_string())
            ));
            continue;
        };
        // Names are shown to the publisher; one with terminal controls in it must not drive the terminal.
        let shown = escape(&rel);
        let ft = entry.file_type();
        if ft.is_dir() {
            if entry.depth() == 1
                && (paths::is_backup_dir_name(&rel) || rel.eq_ignore_ascii_case(".launcher"))
            {
                problems.push(format!(
                    "  `{shown}/`: the name belongs to the launcher (backups and state)"
                ));
            }
            continue;
        }
        if ft.is_symlink() {
            problems.push(format!(
                "  `{shown}`: symbolic links cannot be published; copy the file it points to"
            ));
            continue;
        }
        if !ft.is_file() {
            problems.push(format!(
                "  `{shown}`: not a regular file (device, socket or pipe)"
            ));
            continue;
        }
        match entry.metadata() {
            Ok(meta) => found.push(Found {
                rel,
                abs: entry.path().to_path_buf(),
                meta,
            }),
            Err(e) => problems.push(format!("  `{shown}`: cannot be read: {e}")),
        }
    }
    for p in paths::check_set(found.iter().map(|f| f.rel.as_str())) {
        problems.push(format!("  `{}`: {}", escape(&p.path), p.reason));
    }
    if !problems.is_empty() {
        return Err(PublishError::BadFiles {
            dir: source.to_path_buf(),
            problems,
        });
    }
    if found.is_empty() {
        return Err(PublishError::SourceEmpty(source.to_path_buf()));
    }
    Ok(found)
}

/// Hashes every file in parallel; an unreadable file is listed with the others.
fn hash_all(
    found: &[Found],
    source: &Path,
    reporter: &Reporter,
) -> Result<Vec<FileEntry>, PublishError> {
    let total: u64 = found.iter().map(|f| f.meta.len()).sum();
    let task = reporter.task("Hashing", total, true);
    let results: Vec<Result<FileEntry, String>> = found
        .par_iter()
        .map(|f| {
            let file =
                File::open(&f.abs).map_err(|e| format!("  `{}`: cannot be read: {e}", f.rel))?;
            let reader = ProgressReader {
                inner: file,
                task: &task,
            };
            let (sha256, size) = fsutil::sha256_reader(reader)
                .map_err(|e| format!("  `{}`: cannot be read: {e}", f.rel))?;
            let mtime = f.meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            Ok(FileEntry {
                path: f.rel.clone(),
                size,
                mtime: manifest::format_time(mtime),
                sha256,
                exec: fsutil::is_executable(&f.meta),
                zsize: None,
            })
        })
        .collect();
    drop(task);
    let mut entries = Vec::with_capacity(results.len());
    let mut problems = Vec::new();
    for r in results {
        match r {
            Ok(e) => entries.push(e),
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(PublishError::BadFiles {
            dir: source.to_path_buf(),
            problems,
        });
    }
    Ok(entries)
}

struct ProgressReader<'a, R> {
    inner: R,
    task: &'a crate::progress::Task,
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.task.inc(n as u64);
        Ok(n)
    }
}

fn choose_executable(req: &PublishRequest, files: &[FileEntry]) -> Result<String, PublishError> {
    if let Some(exe) = &req.executable {
        let exe = exe.replace('\\', "/");
        let exe = exe.trim_start_matches("./").to_string();
        return if files.iter().any(|f| f.path == exe) {
            Ok(exe)
        } else {
            Err(PublishError::ExecutableMissing {
                path: exe,
                dir: req.source.clone(),
            })
        };
    }
    let windows = req.platform.starts_with("windows");
    let candidates: Vec<String> = files
        .iter()
        .filter(|f| {
            if windows {
                f.path.to_ascii_lowercase().ends_with(".exe")
            } else {
                f.exec
            }
        })
        .map(|f| f.path.clone())
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(PublishError::ExecutableUnknown { candidates }),
    }
}

/// A `--post-update` or `--pre-rollback` program as a manifest path; it must be one of the release's files, and it gets
/// the executable bit, like the executable, because the publisher chose to run it.
fn choose_hook(
    req: &PublishRequest,
    hook: &str,
    files: &mut [FileEntry],
) -> Result<String, PublishError> {
    let hook = hook.replace('\\', "/");
    let hook = hook.trim_start_matches("./").to_string();
    match files.iter_mut().find(|f| f.path == hook) {
        Some(f) => {
            f.exec = true;
            Ok(hook)
        }
        None => Err(PublishError::HookMissing {
            path: hook,
            dir: req.source.clone(),
        }),
    }
}

/// Reads and validates a manifest stored in the repository, if it exists.
pub fn read_repo_manifest(path: &Path) -> Result<Option<Manifest>, PublishError> {
    match fs::read(path) {
        Ok(bytes) => {
            Manifest::from_slice(&bytes)
                .map(Some)
                .map_err(|source| PublishError::BadRepoManifest {
                    path: path.to_path_buf(),
                    source,
                })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(fs_err("read", path)(e).into()),
    }
}

/// Describes how two file lists differ in content (not dates), or None when they hold the same content.
fn content_difference(old: &Manifest, files: &[FileEntry], executable: &str) -> Option<String> {
    if old.executable != executable {
        return Some(format!(
            "executable `{}` became `{executable}`",
            old.executable
        ));
    }
    let old_files = old.files_by_path();
    for f in files {
        match old_files.get(f.path.as_str()) {
            None => return Some(format!("`{}` is new", f.path)),
            Some(o) if o.sha256 != f.sha256 => return Some(format!("`{}` changed", f.path)),
            Some(o) if o.exec != f.exec => {
                return Some(format!("`{}` changed its executable bit", f.path))
            }
            _ => {}
        }
    }
    if old.files.len() != files.len() {
        let now: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let gone = old.files.iter().find(|f| !now.contains(f.path.as_str()));
        return Some(match gone {
            Some(g) => format!("`{}` is gone", g.path),
            None => "the file list changed".into(),
        });
    }
    None
}

/// Writes the manifest (and its signature when a signer is given) atomically under `repo/key`.
fn write_manifest(
    repo_root: &Path,
    key: &str,
    m: &Manifest,
    signer: Option<&Signer>,
) -> Result<PathBuf, PublishError> {
    let comment = format!(
        "timestamp:{}\tfile:{}.json\tproduct:{}\tversion:{}\tchannel:{}",
        unix_secs(),
        m.platform,
        m.product,
        m.version,
        m.channel
    );
    write_signed(repo_root, key, &m.to_bytes(), signer, &comment)
}

/// Adds `m`'s release to its channel's signed release index (`index`), after the channel manifest
/// was pointed at it: the channel manifest stays the one file whose change a client acts on.
fn add_to_index(
    repo_root: &Path,
    m: &Manifest,
    signer: Option<&Signer>,
) -> Result<PathBuf, PublishError> {
    let key = repo::release_index(&m.product, &m.channel, &m.platform);
    let path = fsutil::native(repo_root, &key);
    let mut index = match fs::read(&path) {
        Ok(bytes) => ReleaseIndex::from_slice(&bytes).map_err(|detail| PublishError::BadIndex {
            path: path.clone(),
            detail,
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            ReleaseIndex::new(&m.product, &m.channel, &m.platform)
        }
        Err(e) => return Err(fs_err("read", &path)(e).into()),
    };
    index.add(&m.version, &m.published);
    let comment = format!(
        "timestamp:{}\tfile:index/{}.json\tproduct:{}\tchannel:{}",
        unix_secs(),
        m.platform,
        m.product,
        m.channel
    );
    write_signed(repo_root, &key, &index.to_bytes(), signer, &comment)
}

/// Seconds since 1970, for the signatures' trusted comments.
fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Writes `bytes` atomically under `repo/key`, with its signature when a signer is given (and without
/// a stale one when not).
fn write_signed(
    repo_root: &Path,
    key: &str,
    bytes: &[u8],
    signer: Option<&Signer>,
    comment: &str,
) -> Result<PathBuf, PublishError> {
    let path = fsutil::native(repo_root, key);
    let sig_path = fsutil::native(repo_root, &repo::signature_of(key));
    if let Some(s) = signer {
        let sig = s.sign(bytes, comment)?;
        fsutil::write_atomic(&sig_path, sig.as_bytes())?;
    } else if sig_path.exists() {
        // An unsigned manifest must not keep a stale signature beside it.
        fs::remove_file(&sig_path).map_err(fs_err("remove the old signature", &sig_path))?;
    }
    let before = fs::metadata(&path).and_then(|m| m.modified()).ok();
    fsutil::write_atomic(&path, bytes)?;
    // Servers derive validators from size and date (nginx: `"<mtime>-<size>"`, whole seconds): a new
    // manifest of the same size written in the same second would be answered `304` with the old one.
    if let Some(old) = before {
        let now = fs::metadata(&path).and_then(|m| m.modified()).ok();
        let secs = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        };
        if now.is_some_and(|n| secs(n) <= secs(old)) {
            let later = SystemTime::UNIX_EPOCH + Duration::from_secs(secs(old) + 1);
            filetime::set_file_mtime(&path, filetime::FileTime::from_system_time(later))
                .map_err(fs_err("set the date of", &path))?;
        }
    }
    Ok(path)
}

/// Zstd level for blobs: a good ratio at hundreds of MB/s, so publishing stays disk-bound.
const ZSTD_LEVEL: i32 = 9;

/// Files up to this size are read, checked and compressed in memory: one read, one write (memory stays
/// bounded: a few MiB per hashing thread).
const IN_MEMORY: u64 = 1024 * 1024;

/// A reader that hashes what passes through it, to check that a file still has the content it was
/// hashed with (a release folder being written to while it is published must not make a bad blob).
struct Hashing<R> {
    inner: R,
    hash: sha2::Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Writes one blob (compressed when that saves at least 5%); returns the bytes written, or None when
/// it was there already. The content is checked against the hash taken earlier while it is copied.
fn write_blob(
    repo_root: &Path,
    product: &str,
    entry: &FileEntry,
    src: &Path,
) -> Result<Option<u64>, PublishError> {
    use sha2::Digest;
    let raw_path = fsutil::native(repo_root, &repo::blob(product, &entry.sha256, false));
    let zst_path = fsutil::native(repo_root, &repo::blob(product, &entry.sha256, true));
    if raw_path.exists() || zst_path.exists() {
        return Ok(None);
    }
    let changed = || PublishError::Changed {
        path: src.to_path_buf(),
    };
    let dir = raw_path.parent().unwrap_or(repo_root);
    fs::create_dir_all(dir).map_err(fs_err("create folder", dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(fs_err("create a temp file in", dir))?;
    // A blob that does not compress is stored raw, so clients can resume it with a byte range and skip
    // the decompression.
    let worth = |compressed: u64| compressed < entry.size - entry.size / 20;
    let (final_path, written) = if entry.size <= IN_MEMORY {
        let data = fs::read(src).map_err(fs_err("read", src))?;
        if data.len() as u64 != entry.size
            || hex::encode(sha2::Sha256::digest(&data)) != entry.sha256
        {
            return Err(changed());
        }
        let packed = zstd::bulk::compress(&data, ZSTD_LEVEL).map_err(fs_err("compress", src))?;
        let (bytes, path) = if worth(packed.len() as u64) {
            (&packed, zst_path)
        } else {
            (&data, raw_path)
        };
        tmp.write_all(bytes).map_err(fs_err("write", tmp.path()))?;
        (path, bytes.len() as u64)
    } else {
        let open = || -> Result<Hashing<io::BufReader<File>>, PublishError> {
            let f = File::open(src).map_err(fs_err("read", src))?;
            Ok(Hashing {
                inner: io::BufReader::new(f),
                hash: sha2::Sha256::new(),
            })
        };
        let mut input = open()?;
        {
            let mut enc = zstd::stream::write::Encoder::new(tmp.as_file_mut(), ZSTD_LEVEL)
                .map_err(fs_err("compress", src))?;
            let _ = enc.include_checksum(true);
            io::copy(&mut input, &mut enc).map_err(fs_err("compress", src))?;
            enc.finish().map_err(fs_err("compress", src))?;
        }
        if hex::encode(input.hash.finalize()) != entry.sha256 {
            return Err(changed());
        }
        let compressed = tmp
            .as_file()
            .metadata()
            .map_err(fs_err("read", tmp.path()))?
            .len();
        if worth(compressed) {
            (zst_path, compressed)
        } else {
            use std::io::Seek;
            tmp.as_file_mut()
                .set_len(0)
                .map_err(fs_err("write", tmp.path()))?;
            tmp.as_file_mut()
                .rewind()
                .map_err(fs_err("write", tmp.path()))?;
            let mut input = open()?;
            io::copy(&mut input, tmp.as_file_mut()).map_err(fs_err("copy", src))?;
            if hex::encode(input.hash.finalize()) != entry.sha256 {
                return Err(changed());
            }
            (raw_path, entry.size)
        }
    };
    tmp.as_file_mut()
        .flush()
        .map_err(fs_err("write", tmp.path()))?;
    tmp.as_file()
        .sync_all()
        .map_err(fs_err("flush", tmp.path()))?;
    fsutil::set_shared_readable(tmp.path())?;
    tmp.persist(&final_path).map_err(|e| FsError {
        action: "write",
        path: final_path.clone(),
        source: e.error,
    })?;
    Ok(Some(written))
}

/// How long a publish waits for another publish or promote of the same product. Long, because the other
/// one may be storing gigabytes; bounded, because a publisher hung on a dead file share must not make
/// the next one wait forever without a word.
pub const LOCK_WAIT: Duration = Duration::from_secs(3600);

/// The lock file of a product's part of a repository.
pub fn lock_path(repo_root: &Path, product: &str) -> PathBuf {
    fsutil::native(repo_root, &format!("{product}/.lock"))
}

/// Takes the product's publish lock: one `publish` or `promote` at a time writes a product's manifests,
/// so a channel manifest, its signature and the release it names always belong together, and every
/// check made under the lock still holds when the writes happen. It is an OS lock on
/// `<repo>/<product>/.lock` (`flock`, or `LockFileEx` on Windows), which works on a local folder and on
/// SMB and NFS shares, and is released when the holder exits or is killed, so a crashed publisher never
/// blocks the next one; the file stays behind, empty and harmless.
pub fn lock_product(
    repo_root: &Path,
    product: &str,
    reporter: &Reporter,
) -> Result<File, PublishError> {
    let dir = fsutil::native(repo_root, product);
    fs::create_dir_all(&dir).map_err(fs_err("create folder", &dir))?;
    let path = lock_path(repo_root, product);
    let waiting = format!(
        "Another publish or promote of `{product}` is writing to the repository; waiting for it to finish (`{}`)",
        path.display()
    );
    crate::lock::wait_for(&path, reporter, &waiting, LOCK_WAIT)?.ok_or(PublishError::Busy {
        product: product.to_string(),
        lock: path,
    })
}

/// The spelling under which `version` (compared as a version: `1.0`, `1.00` and `01.0` are one) is
/// already published for any platform, when it is not `version`'s own spelling.
fn published_spelling(
    repo_root: &Path,
    product: &str,
    version: &Version,
) -> Result<Option<String>, PublishError> {
    let dir = fsutil::native(repo_root, &format!("{product}/releases"));
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fs_err("list", &dir)(e).into()),
    };
    let mut found: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(fs_err("list", &dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name != version.as_str() && Version::parse(&name).is_ok_and(|v| v == *version) {
            found.push(name);
        }
    }
    // Several spellings can only come from repositories written before this rule; name one stably.
    found.sort();
    Ok(found.into_iter().next())
}

/// Refuses to point `channel` (currently at `current`) back to an older `version`, unless forced.
fn refuse_older(
    current: Option<&Manifest>,
    version: &Version,
    channel: &str,
    force: bool,
) -> Result<(), PublishError> {
    match current {
        Some(cur) if *cur.version() > *version && !force => Err(PublishError::Older {
            channel: channel.to_string(),
            current: cur.version.to_string(),
            version: version.to_string(),
        }),
        _ => Ok(()),
    }
}

/// `launcher publish`.
pub fn publish(req: &PublishRequest, reporter: &Reporter) -> Result<PublishSummary, PublishError> {
    check_names(&req.product, &req.channel, &req.platform)?;
    let version = Version::parse(&req.version)?;
    let found = walk(&req.source)?;
    reporter.detail(format!(
        "Found {} files in `{}`",
        found.len(),
        req.source.display()
    ));
    let mut files = hash_all(&found, &req.source, reporter)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let executable = choose_executable(req, &files)?;
    // The program the clients start must be executable there; a release folder copied through a zip,
    // a Windows share or a checkout often loses the bit, and clients would fail with "Permission denied"
    // after a complete update. Which file to start is the publisher's explicit choice, so it gets the bit.
    let mut exec_bit_added = None;
    if let Some(entry) = files.iter_mut().find(|f| f.path == executable) {
        if !entry.exec {
            entry.exec = true;
            if !req.platform.starts_with("windows") {
                exec_bit_added = Some(executable.clone());
            }
        }
    }
    let post_update = match &req.post_update {
        Some(hook) => Some(choose_hook(req, hook, &mut files)?),
        None => None,
    };
    let pre_rollback = match &req.pre_rollback {
        Some(hook) => Some(choose_hook(req, hook, &mut files)?),
        None => None,
    };
    let signer = req.secret_key.as_deref().map(Signer::load).transpose()?;

    let release_key = repo::release_manifest(&req.product, &req.version, &req.platform);
    let channel_key = repo::channel_manifest(&req.product, &req.channel, &req.platform);
    let release_path = fsutil::native(&req.repo, &release_key);
    // Seen before waiting for the lock: a release that appears meanwhile was written by a concurrent
    // publish, and the refusal says so.
    let existed_before = release_path.exists();
    let _lock = lock_product(&req.repo, &req.product, reporter)?;
    crate::fault::crash_point("publish_locked");
    if let Some(existing) = published_spelling(&req.repo, &req.product, &version)? {
        return Err(PublishError::OtherSpelling {
            product: req.product.clone(),
            version: req.version.clone(),
            existing,
        });
    }
    let existing = read_repo_manifest(&release_path)?;
    let current = read_repo_manifest(&fsutil::native(&req.repo, &channel_key))?;
    let mut summary = PublishSummary {
        files: files.len(),
        bytes: files.iter().map(|f| f.size).sum(),
        channel_manifest: fsutil::native(&req.repo, &channel_key),
        exec_bit_added,
        ..Default::default()
    };
    if let Some(old) = &existing {
        let hook_changed = [
            ("post-update", &old.post_update, &post_update),
            ("pre-rollback", &old.pre_rollback, &pre_rollback),
        ]
        .into_iter()
        .find(|(_, was, is)| was != is)
        .map(|(what, was, is)| {
            format!(
                "the {what} hook `{}` became `{}`",
                was.as_deref().unwrap_or("none"),
                is.as_deref().unwrap_or("none")
            )
        });
        if let Some(detail) = content_difference(old, &files, &executable).or(hook_changed) {
            let (product, version, platform) = (
                req.product.clone(),
                req.version.clone(),
                req.platform.clone(),
            );
            return Err(if existed_before {
                PublishError::VersionReused {
                    product,
                    version,
                    platform,
                    detail,
                }
            } else {
                PublishError::LostRace {
                    product,
                    version,
                    platform,
                    detail,
                }
            });
        }
    }
    refuse_older(current.as_ref(), &version, &req.channel, req.force)?;
    let rollout = rollout_for(current.as_ref(), &version, req.rollout);
    if let Some(old) = existing {
        // Same content: the release stays as it is; the channel may still need to point at it.
        summary.existing_release = true;
        if current.as_ref().is_some_and(|c| {
            c.version == old.version && c.files == old.files && c.rollout == rollout
        }) {
            summary.unchanged = true;
            return Ok(summary);
        }
        let mut chan = old;
        chan.channel = req.channel.clone();
        chan.rollout = rollout;
        write_manifest(&req.repo, &channel_key, &chan, signer.as_ref())?;
        add_to_index(&req.repo, &chan, signer.as_ref())?;
        return Ok(summary);
    }

    // New blobs, each content once, in parallel.
    let mut seen = BTreeSet::new();
    let by_path: std::collections::HashMap<&str, &Found> =
        found.iter().map(|x| (x.rel.as_str(), x)).collect();
    let unique: Vec<(&FileEntry, &Found)> = files
        .iter()
        .filter(|f| seen.insert(f.sha256.clone()))
        .map(|f| {
            // Every entry was made from a found file with the same path.
            (f, by_path[f.path.as_str()])
        })
        .collect();
    let written = AtomicU64::new(0);
    let new_blobs = AtomicU64::new(0);
    let task = reporter.task("Storing", unique.iter().map(|(f, _)| f.size).sum(), true);
    unique.par_iter().try_for_each(|(entry, src)| {
        if let Some(n) = write_blob(&req.repo, &req.product, entry, &src.abs)? {
            written.fetch_add(n, Ordering::Relaxed);
            new_blobs.fetch_add(1, Ordering::Relaxed);
        }
        task.inc(entry.size);
        Ok::<(), PublishError>(())
    })?;
    drop(task);
    summary.bytes_written = written.load(Ordering::Relaxed);
    summary.new_blobs = new_blobs.load(Ordering::Relaxed) as usize;
    for f in files.iter_mut() {
        let zst = fsutil::native(&req.repo, &repo::blob(&req.product, &f.sha256, true));
        f.zsize = fs::metadata(&zst).ok().map(|m| m.len());
    }

    let now = SystemTime::now();
    let m = Manifest {
        format: manifest::FORMAT,
        product: req.product.clone(),
        version: version.clone(),
        channel: req.channel.clone(),
        platform: req.platform.clone(),
        published: manifest::format_time(now),
        expires: req
            .expires_days
            .map(|d| manifest::format_time(now + Duration::from_secs(u64::from(d) * 86_400))),
        mandatory: req.mandatory,
        executable,
        files,
        rollout: None,
        post_update,
        pre_rollback,
    };
    m.validate()
        .map_err(|source| PublishError::BadRepoManifest {
            path: fsutil::native(&req.repo, &release_key),
            source,
        })?;
    write_manifest(&req.repo, &release_key, &m, signer.as_ref())?;
    // Release manifests never carry a rollout: it is the channel's state, not the release's.
    let chan = Manifest { rollout, ..m };
    write_manifest(&req.repo, &channel_key, &chan, signer.as_ref())?;
    add_to_index(&req.repo, &chan, signer.as_ref())?;
    Ok(summary)
}

/// What `promote` was asked to do.
#[derive(Debug, Clone)]
pub struct PromoteRequest {
    pub repo: PathBuf,
    pub product: String,
    pub version: String,
    pub channel: String,
    pub platform: String,
    pub secret_key: Option<PathBuf>,
    pub force: bool,
    /// `--rollout PERCENT`, as for `publish`; without it a promote completes any rollout.
    pub rollout: Option<u8>,
}

/// The rollout a channel manifest gets when the channel, now at `current`, is pointed at `version`
/// with `--rollout percent`. The installs outside the share stay on the release they had: the channel's
/// current one, or, while that is itself only partly rolled out, the release before it (those who took
/// it keep it: nobody is moved back). `--rollout 100` and no `--rollout` mean everybody.
fn rollout_for(
    current: Option<&Manifest>,
    version: &Version,
    percent: Option<u8>,
) -> Option<Rollout> {
    let percent = percent.filter(|p| *p < 100)?;
    let previous = match current {
        Some(c) if c.version == *version => c.rollout.as_ref().and_then(|r| r.previous.clone()),
        Some(c) => match &c.rollout {
            Some(r) => r.previous.clone(),
            None => Some(c.version.clone()),
        },
        None => None,
    };
    Some(Rollout {
        percent,
        previous: previous.filter(|p| p < version),
    })
}

/// `launcher promote`: the channel manifest becomes the release's manifest with this channel's name.
/// Returns the version the channel was at before, if any.
pub fn promote(req: &PromoteRequest, reporter: &Reporter) -> Result<Option<String>, PublishError> {
    check_names(&req.product, &req.channel, &req.platform)?;
    let version = Version::parse(&req.version)?;
    let release_key = repo::release_manifest(&req.product, &req.version, &req.platform);
    let release_path = fsutil::native(&req.repo, &release_key);
    let no_release = |spelled| PublishError::NoSuchRelease {
        product: req.product.clone(),
        version: req.version.clone(),
        platform: req.platform.clone(),
        repo: req.repo.clone(),
        spelled,
    };
    // Checked before the lock too, so a mistyped version does not create anything in the repository.
    if !release_path.exists() {
        return Err(no_release(published_spelling(
            &req.repo,
            &req.product,
            &version,
        )?));
    }
    let _lock = lock_product(&req.repo, &req.product, reporter)?;
    let release = read_repo_manifest(&release_path)?.ok_or_else(|| no_release(None))?;
    let signed = fsutil::native(&req.repo, &repo::signature_of(&release_key)).exists();
    if signed && req.secret_key.is_none() {
        return Err(PublishError::NeedKey {
            version: req.version.clone(),
        });
    }
    let channel_key = repo::channel_manifest(&req.product, &req.channel, &req.platform);
    let current = read_repo_manifest(&fsutil::native(&req.repo, &channel_key))?;
    refuse_older(current.as_ref(), &version, &req.channel, req.force)?;
    let signer = req.secret_key.as_deref().map(Signer::load).transpose()?;
    let mut m = release;
    m.channel = req.channel.clone();
    m.rollout = rollout_for(current.as_ref(), &version, req.rollout);
    write_manifest(&req.repo, &channel_key, &m, signer.as_ref())?;
    add_to_index(&req.repo, &m, signer.as_ref())?;
    Ok(current.map(|c| c.version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(data: &[u8], sha256: String) -> FileEntry {
        FileEntry {
            path: "f".into(),
            size: data.len() as u64,
            mtime: "2026-01-01T00:00:00Z".into(),
            sha256,
            exec: false,
            zsize: None,
        }
    }

    #[test]
    fn a_file_changed_since_it_was_hashed_makes_no_blob() {
        let d = tempfile::tempdir().unwrap();
        for size in [10usize, 2 * 1024 * 1024] {
            let src = d.path().join(format!("src-{size}"));
            let data = vec![b'a'; size];
            std::fs::write(&src, &data).unwrap();
            let e = entry(&data, fsutil::sha256_bytes(&data));
            std::fs::write(&src, vec![b'b'; size]).unwrap(); // changed after hashing
            let repo = d.path().join(format!("repo-{size}"));
            let err = write_blob(&repo, "demo", &e, &src).unwrap_err();
            assert!(matches!(err, PublishError::Changed { .. }), "{err}");
            let blobs = repo.join("demo/blobs");
            let left: Vec<_> = walkdir::WalkDir::new(&blobs)
                .into_iter()
                .flatten()
                .filter(|x| x.file_type().is_file())
                .collect();
            assert!(left.is_empty(), "{left:?}");
            // Unchanged, it is stored: compressed when that is smaller (2 MiB of one byte), else raw.
            std::fs::write(&src, &data).unwrap();
            assert!(write_blob(&repo, "demo", &e, &src).unwrap().is_some());
            let zst = fsutil::native(&repo, &repo::blob("demo", &e.sha256, true)).is_file();
            let raw = fsutil::native(&repo, &repo::blob("demo", &e.sha256, false)).is_file();
            assert_eq!((zst, raw), (size > 100, size <= 100));
        }
    }
}
