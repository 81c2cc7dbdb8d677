//! Applying a change to an install: old or new, never in between (DESIGN.md).
//!
//! Steps of [`commit`]:
//! 1. The contents are already staged and verified (`stage`).
//! 2. Backups are rotated and the new backup folder gets `backup.json.pending` (or, without backups,
//!    the old files go to `.launcher/undo`, removed after the commit). It becomes `backup.json` in
//!    step 5, so a backup that says what it holds always holds it.
//! 3. The journal (target manifest, backup folder, operations) is written to a temp file, fsynced and
//!    renamed to `.launcher/journal.json`, and the folder is fsynced. **This is the point of no return**:
//!    from here on, a start that finds the journal finishes or undoes the change before anything else.
//! 4. Each operation saves the old file into the backup, then renames the staged content (its date and
//!    executable bit already set) into place; a content used by several paths is copied for all but the
//!    last. On Unix a replaced file is hard-linked into the backup and the new one renamed over it, so
//!    the path is never empty, not even for an instant: a power cut cannot leave the app or the
//!    launcher's own executable missing. Elsewhere (and for deleted files) the old file is moved.
//! 5. The touched folders are fsynced, the new state is written atomically, the pending backup is
//!    finalized, the journal is removed.
//!
//! [`recover`] runs on every start when a journal exists. It rolls forward when every new content is
//! available (already in place, or staged and hashing right), otherwise it rolls back from the backup.
//! Both directions are idempotent, so a crash during recovery is recovered by the next start. It also
//! removes the temp files an interrupted copy or atomic write left behind (`.launcher-tmp-*` beside
//! the app's files, `.tmp-*` in `.launcher/`).
//!
//! What is fsynced and why: staged files (before the journal can name them), the journal and its folder
//! (so the point of no return survives a power cut), the folders touched by renames and the parents of
//! folders created on the way (so the renames are durable before the state says they happened), the
//! state (atomic replace), and the backup folder when its info is finalized. File contents placed by
//! rename were fsynced when staged, so they are not fsynced again.
//!
//! Crash points (`crash_point`, feature `fault-injection`), in order: `staged` (stage), `rotate-deleted`
//! (backup), `backup-ready`, `journal-written`, `moved-to-backup` and `placed` (once per rename),
//! `before-state`, `after-state`; in recovery `recovery-start`, `recovery-placed`, `recovery-undone`.
//!
//! Never: write through a symbolic link on the way into the install folder, delete a file the launcher
//! did not install (such files are moved into the backup), or leave the journal behind after success.

use crate::backup::{self, BackupInfo};
use crate::fsutil::{self, fs_err, FsError};
use crate::manifest::{self, FileEntry, Manifest};
use crate::state::{Layout, StatEntry, State};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalOp {
    pub path: String,
    /// The new content (None: the file is deleted, i.e. moved into the backup).
    pub new: Option<FileEntry>,
    /// Where the new content comes from, relative to the install folder.
    pub src: Option<String>,
    /// A file was at `path` when the journal was written and is moved into the backup.
    pub had_old: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    /// `update`, `rollback` or `repair`, for messages and the log.
    pub kind: String,
    pub target: Manifest,
    pub previous: Option<Manifest>,
    /// Folder (relative to the install folder) that receives the old files.
    pub backup: String,
    /// The backup folder is temporary (`.launcher/undo`) and removed after the commit.
    pub backup_is_temporary: bool,
    /// A backup folder to remove after the commit (the one a rollback restored).
    pub consume: Option<String>,
    /// The value `state.held` takes after the commit.
    pub held: Option<String>,
    pub ops: Vec<JournalOp>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("`{}` is a symbolic link or junction; the launcher does not write through links (remove it and start again)", .0.display())]
    Link(PathBuf),
    #[error("the journal `{}` cannot be read ({detail}); the install will be verified file by file", path.display())]
    BadJournal { path: PathBuf, detail: String },
    #[error("the install folder `{}` cannot be written; the launcher needs to create, rename and delete files there: run it as a user who may, or ask IT to grant Modify on the folder", dir.display())]
    NotWritable {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{}` is in use or locked and cannot be replaced; close the program that uses it and start again", path.display())]
    InUse {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Test-only crash points: with the `fault-injection` feature, `LAUNCHER_CRASH_AT=name` or `name:N`
/// aborts the process at the N-th (default first) time the named point is reached, and
/// `LAUNCHER_PAUSE_AT=name` or `name:N` stops there (holding the lock) until the process is killed.
#[cfg(feature = "fault-injection")]
pub fn crash_point(name: &str) {
    static COUNT: std::sync::Mutex<BTreeMap<String, u32>> = std::sync::Mutex::new(BTreeMap::new());
    let wanted = |var: &str| -> Option<u32> {
        let spec = std::env::var(var).ok()?;
        let (want, nth) = match spec.split_once(':') {
            Some((n, k)) => (n.to_string(), k.parse::<u32>().unwrap_or(1)),
            None => (spec.clone(), 1),
        };
        (want == name).then_some(nth)
    };
    let crash = wanted("LAUNCHER_CRASH_AT");
    let pause = wanted("LAUNCHER_PAUSE_AT");
    if crash.is_none() && pause.is_none() {
        return;
    }
    let mut map = COUNT.lock().unwrap_or_else(|p| p.into_inner());
    let c = map.entry(name.to_string()).or_insert(0);
    *c += 1;
    if crash == Some(*c) {
        eprintln!("crash point `{name}` reached: aborting (LAUNCHER_CRASH_AT)");
        std::process::abort();
    }
    if pause == Some(*c) {
        eprintln!("crash point `{name}` reached: pausing until killed (LAUNCHER_PAUSE_AT)");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn crash_point(_name: &str) {}

/// Renames with a few short retries: on Windows a virus scanner or indexer often holds a new file for
/// a moment. A file that stays locked is reported as in use, by `busy`: the app's file (the source of
/// a move into the backup, the destination of a placement), not the backup or staging path.
fn rename_retry(from: &Path, to: &Path, busy: &Path) -> Result<(), ApplyError> {
    let mut last = None;
    for attempt in 0..5u32 {
        match injected_rename_failure(busy).map_or_else(|| fs::rename(from, to), Err) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied || is_sharing_violation(&e) => {
                last = Some(e);
                std::thread::sleep(std::time::Duration::from_millis(50 << attempt));
            }
            Err(e) => return Err(fs_err("move", from)(e).into()),
        }
    }
    Err(ApplyError::InUse {
        path: busy.to_path_buf(),
        source: last.unwrap_or_else(|| io::Error::other("locked")),
    })
}

#[cfg(feature = "fault-injection")]
fn injected_rename_failure(busy: &Path) -> Option<io::Error> {
    let want = std::env::var("LAUNCHER_LOCKED_FILE").ok()?;
    busy.ends_with(&want)
        .then(|| io::Error::new(io::ErrorKind::PermissionDenied, "injected: file in use"))
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
fn injected_rename_failure(_busy: &Path) -> Option<io::Error> {
    None
}

/// ERROR_SHARING_VIOLATION (32) and ERROR_LOCK_VIOLATION (33) on Windows.
fn is_sharing_violation(e: &io::Error) -> bool {
    cfg!(windows) && matches!(e.raw_os_error(), Some(32) | Some(33))
}

/// Creates the folders on the way to `dest`, refusing any that is a link. The parent of each folder it
/// creates goes into `touched`, to be fsynced with the renames.
fn prepare_parent(
    dir: &Path,
    dest: &Path,
    checked: &mut BTreeSet<PathBuf>,
    touched: &mut BTreeSet<PathBuf>,
) -> Result<(), ApplyError> {
    let Some(parent) = dest.parent() else {
        return Ok(());
    };
    if checked.contains(parent) {
        return Ok(());
    }
    let rel = parent.strip_prefix(dir).unwrap_or(Path::new(""));
    let mut cur = dir.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        if checked.contains(&cur) {
            continue;
        }
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => return Err(ApplyError::Link(cur)),
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(fs_err("create folder", &cur)(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file is in the way of this folder",
                ))
                .into())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&cur).map_err(fs_err("create folder", &cur))?;
                touched.insert(cur.parent().unwrap_or(dir).to_path_buf());
            }
            Err(e) => return Err(fs_err("read", &cur)(e).into()),
        }
        checked.insert(cur.clone());
    }
    Ok(())
}

/// Moves `path` (if present) into the backup folder, keeping its relative path.
fn move_to_backup(
    dir: &Path,
    backup: &Path,
    path: &str,
    checked: &mut BTreeSet<PathBuf>,
    touched: &mut BTreeSet<PathBuf>,
) -> Result<bool, ApplyError> {
    let from = fsutil::native(dir, path);
    if fs::symlink_metadata(&from).is_err() {
        return Ok(false);
    }
    if fs::symlink_metadata(backup).is_err() {
        fs::create_dir_all(backup).map_err(fs_err("create the backup folder", backup))?;
        touched.insert(backup.parent().unwrap_or(dir).to_path_buf());
    }
    let mut to = fsutil::native(backup, path);
    if fs::symlink_metadata(&to).is_ok() {
        // Already holds the old content (a retried step): keep both, never overwrite a saved file.
        let mut n = 1;
        while fs::symlink_metadata(&to).is_ok() {
            to = fsutil::native(backup, &format!("{path}.{n}"));
            n += 1;
        }
    }
    prepare_parent(backup, &to, checked, touched)?;
    rename_retry(&from, &to, &from)?;
    touched.insert(from.parent().unwrap_or(dir).to_path_buf());
    touched.insert(to.parent().unwrap_or(backup).to_path_buf());
    crate::apply::crash_point("moved-to-backup");
    Ok(true)
}

/// Saves the file at `path` into the backup before it is replaced or deleted. A file that is replaced is
/// hard-linked into the backup where the platform allows it (Unix), and the new content is then renamed
/// over it in one atomic step: the path is never empty, so a power cut cannot leave the app, or the
/// launcher's own executable, missing. Deleted files, and platforms or file systems without links, move
/// the file instead (Windows cannot rename over a running executable anyway).
fn save_old(
    dir: &Path,
    backup: &Path,
    path: &str,
    replaced: bool,
    checked: &mut BTreeSet<PathBuf>,
    touched: &mut BTreeSet<PathBuf>,
) -> Result<bool, ApplyError> {
    if replaced && cfg!(unix) {
        let from = fsutil::native(dir, path);
        if fs::symlink_metadata(&from).is_err() {
            return Ok(false);
        }
        let to = fsutil::native(backup, path);
        if fs::symlink_metadata(&to).is_ok() {
            // Linked by an attempt that stopped: `from` is still that same old file.
            return Ok(true);
        }
        if fs::symlink_metadata(backup).is_err() {
            fs::create_dir_all(backup).map_err(fs_err("create the backup folder", backup))?;
            touched.insert(backup.parent().unwrap_or(dir).to_path_buf());
        }
        prepare_parent(backup, &to, checked, touched)?;
        if fs::hard_link(&from, &to).is_ok() {
            touched.insert(to.parent().unwrap_or(backup).to_path_buf());
            crash_point("moved-to-backup");
            return Ok(true);
        }
    }
    move_to_backup(dir, backup, path, checked, touched)
}

/// Sets the manifest's date and executable bit on an installed file.
pub fn set_meta(dest: &Path, e: &FileEntry) -> Result<(), FsError> {
    if let Some(t) = manifest::parse_time(&e.mtime) {
        fsutil::set_mtime(dest, t).map_err(fs_err("set the date of", dest))?;
    }
    fsutil::set_executable(dest, e.exec)
}

/// Puts `src` at `dest` with the manifest's date and executable bit, replacing what is there: by
/// rename, or by copy (temp file + rename) when the content is used again. The metadata is set before
/// the rename, so the file appears complete in one step.
fn place(src: &Path, dest: &Path, copy: bool, e: &FileEntry) -> Result<(), ApplyError> {
    if copy {
        let dir = dest.parent().unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".launcher-tmp-")
            .tempfile_in(dir)
            .map_err(fs_err("create a temp file in", dir))?;
        fs::copy(src, tmp.path()).map_err(fs_err("copy", src))?;
        fsutil::set_shared_readable(tmp.path())?;
        set_meta(tmp.path(), e)?;
        tmp.as_file()
            .sync_all()
            .map_err(fs_err("flush", tmp.path()))?;
        let tmp_path = tmp.into_temp_path();
        rename_retry(&tmp_path, dest, dest)?;
        let _ = tmp_path.keep();
        Ok(())
    } else {
        set_meta(src, e)?;
        rename_retry(src, dest, dest)
    }
}

/// Writes the journal: temp file, fsync, rename, fsync folder.
pub fn write_journal(layout: &Layout, j: &Journal) -> Result<(), FsError> {
    let bytes = serde_json::to_vec(j).map_err(|e| FsError {
        action: "serialise",
        path: layout.journal(),
        source: io::Error::other(e),
    })?;
    fsutil::write_atomic(&layout.journal(), &bytes)
}

/// What a finished commit did.
#[derive(Debug, Default, Clone)]
pub struct Committed {
    pub backup: Option<PathBuf>,
    pub placed: usize,
    pub moved_to_backup: usize,
}

/// Applies `j` (steps 3–5 of the module doc) and updates `state`. When a step fails, the change is
/// undone at once (the journal stays for the next start only if undoing fails too).
pub fn commit(
    layout: &Layout,
    j: &Journal,
    state: &mut State,
    kept_cache: BTreeMap<String, StatEntry>,
) -> Result<Committed, ApplyError> {
    write_journal(layout, j)?;
    crash_point("journal-written");
    match apply_ops(layout, j, state, kept_cache) {
        Ok(c) => Ok(c),
        Err(e) => {
            if recover_as(layout, Direction::Back).is_ok() {
                if let Ok(Some(s)) = State::load(layout) {
                    *state = s;
                }
            }
            Err(e)
        }
    }
}

fn apply_ops(
    layout: &Layout,
    j: &Journal,
    state: &mut State,
    kept_cache: BTreeMap<String, StatEntry>,
) -> Result<Committed, ApplyError> {
    let dir = &layout.dir;
    let backup = fsutil::native(dir, &j.backup);
    let mut checked = BTreeSet::new();
    let mut touched = BTreeSet::new();
    let mut out = Committed::default();
    // The last op that uses each source: earlier ones copy, the last one renames.
    let mut last_use: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, op) in j.ops.iter().enumerate() {
        if let Some(src) = &op.src {
            last_use.insert(src, i);
        }
    }
    for (i, op) in j.ops.iter().enumerate() {
        let dest = fsutil::native(dir, &op.path);
        if op.had_old
            && save_old(
                dir,
                &backup,
                &op.path,
                op.new.is_some(),
                &mut checked,
                &mut touched,
            )?
        {
            out.moved_to_backup += 1;
        }
        if let (Some(e), Some(src)) = (&op.new, &op.src) {
            prepare_parent(dir, &dest, &mut checked, &mut touched)?;
            let copy = last_use.get(src.as_str()) != Some(&i);
            place(&fsutil::native(dir, src), &dest, copy, e)?;
            touched.insert(dest.parent().unwrap_or(dir).to_path_buf());
            out.placed += 1;
            crash_point("placed");
        }
    }
    finish(layout, j, state, kept_cache, &touched)?;
    if !j.backup_is_temporary {
        out.backup = Some(backup);
    }
    Ok(out)
}

/// Step 5 and the clean-up, shared by commit and roll-forward recovery.
fn finish(
    layout: &Layout,
    j: &Journal,
    state: &mut State,
    mut cache: BTreeMap<String, StatEntry>,
    touched: &BTreeSet<PathBuf>,
) -> Result<(), ApplyError> {
    for d in touched {
        fsutil::sync_dir(d);
    }
    crash_point("before-state");
    let dir = &layout.dir;
    for op in &j.ops {
        cache.remove(&op.path);
        if let Some(e) = &op.new {
            if let Some(entry) = crate::scan::entry_for(dir, &op.path, &e.sha256) {
                cache.insert(op.path.clone(), entry);
            }
        }
    }
    let wanted: BTreeSet<&str> = j.target.files.iter().map(|f| f.path.as_str()).collect();
    cache.retain(|p, _| wanted.contains(p.as_str()));
    state.installed = Some(j.target.clone());
    state.cache = cache;
    state.held = j.held.clone();
    state.save(layout)?;
    crash_point("after-state");
    backup::finalize_pending(dir, &j.target.version)?;
    remove_journal_and_leftovers(layout, j)
}

fn remove_journal_and_leftovers(layout: &Layout, j: &Journal) -> Result<(), ApplyError> {
    let journal = layout.journal();
    match fs::remove_file(&journal) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fs_err("remove the journal", &journal)(e).into()),
    }
    fsutil::sync_dir(&layout.meta);
    if j.backup_is_temporary {
        let _ = fsutil::remove_dir_all(&fsutil::native(&layout.dir, &j.backup));
    }
    if let Some(c) = &j.consume {
        let _ = fsutil::remove_dir_all(&fsutil::native(&layout.dir, c));
    }
    Ok(())
}

/// How a journal left behind was dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// The change was completed.
    Forward { kind: String, version: String },
    /// The change was undone; the previous version is in place.
    Back {
        kind: String,
        version: Option<String>,
    },
    /// The journal could not be read; it was set aside and the install must be verified.
    Unreadable(String),
}

fn sha_of(p: &Path) -> Option<String> {
    fsutil::sha256_file(p).ok().map(|(s, _)| s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Forward when every new content is available, else back.
    Auto,
    Back,
}

/// Finishes or undoes an interrupted change. Call with the install lock held, before anything else.
pub fn recover(layout: &Layout) -> Result<Option<Recovered>, ApplyError> {
    recover_as(layout, Direction::Auto)
}

/// Removes temp files that an interrupted atomic write left in `.launcher/` (the caller holds the lock,
/// so no other launcher is writing them).
/// Prefix of the files `update` creates to test that a folder is writable.
pub const PROBE_PREFIX: &str = ".launcher-probe-";

fn remove_stale_meta_temps(layout: &Layout) {
    remove_temps_in(&layout.meta, ".tmp-");
    // A launcher killed while testing write access leaves its probe behind.
    remove_temps_in(&layout.meta, PROBE_PREFIX);
    remove_temps_in(&layout.dir, PROBE_PREFIX);
}

/// Removes the files named `prefix*` directly in `folder`.
fn remove_temps_in(folder: &Path, prefix: &str) {
    let Ok(rd) = fs::read_dir(folder) else { return };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with(prefix)
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Removes the `.launcher-tmp-*` files an interrupted copy left beside the journal's files.
fn remove_stray_copies(dir: &Path, j: &Journal) {
    let parents: BTreeSet<PathBuf> = j
        .ops
        .iter()
        .filter_map(|op| {
            fsutil::native(dir, &op.path)
                .parent()
                .map(Path::to_path_buf)
        })
        .collect();
    for p in parents {
        remove_temps_in(&p, ".launcher-tmp-");
    }
}

fn recover_as(layout: &Layout, direction: Direction) -> Result<Option<Recovered>, ApplyError> {
    if direction == Direction::Auto {
        remove_stale_meta_temps(layout);
    }
    let path = layout.journal();
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if direction == Direction::Auto {
                // No change in progress: backups left half-made by one that stopped are tidied. Best
                // effort: the next update tidies them again before it makes its own backup.
                let _ = backup::tidy(&layout.dir);
            }
            return Ok(None);
        }
        Err(e) => return Err(fs_err("read", &path)(e).into()),
    };
    let j: Journal = match serde_json::from_slice(&bytes) {
        Ok(j) => j,
        Err(e) => {
            let aside = layout.meta.join("journal.unreadable.json");
            let _ = fs::rename(&path, &aside);
            return Ok(Some(Recovered::Unreadable(format!(
                "the journal `{}` could not be read ({e}); it was moved to `{}`",
                path.display(),
                aside.display()
            ))));
        }
    };
    crash_point("recovery-start");
    let dir = &layout.dir;
    remove_stray_copies(dir, &j);
    let backup = fsutil::native(dir, &j.backup);
    // Roll forward when every new content is in place or available with the right hash.
    let forward = direction == Direction::Auto
        && j.ops.iter().all(|op| match (&op.new, &op.src) {
            (Some(e), Some(src)) => {
                sha_of(&fsutil::native(dir, &op.path)).as_deref() == Some(e.sha256.as_str())
                    || sha_of(&fsutil::native(dir, src)).as_deref() == Some(e.sha256.as_str())
            }
            _ => true,
        });
    let mut state = State::load(layout).ok().flatten().unwrap_or_default();
    let mut checked = BTreeSet::new();
    let mut touched = BTreeSet::new();
    if forward {
        for op in &j.ops {
            let dest = fsutil::native(dir, &op.path);
            match (&op.new, &op.src) {
                (Some(e), Some(src)) => {
                    if sha_of(&dest).as_deref() == Some(e.sha256.as_str()) {
                        set_meta(&dest, e)?;
                        continue;
                    }
                    if op.had_old {
                        save_old(dir, &backup, &op.path, true, &mut checked, &mut touched)?;
                    } else if fs::symlink_metadata(&dest).is_ok() {
                        // Not there when the journal was written: whoever put it there keeps it.
                        move_to_backup(dir, &backup, &op.path, &mut checked, &mut touched)?;
                    }
                    prepare_parent(dir, &dest, &mut checked, &mut touched)?;
                    // Copy: the same source may serve a later op, and staging is cleaned afterwards.
                    place(&fsutil::native(dir, src), &dest, true, e)?;
                    touched.insert(dest.parent().unwrap_or(dir).to_path_buf());
                    crash_point("recovery-placed");
                }
                _ => {
                    if op.had_old {
                        move_to_backup(dir, &backup, &op.path, &mut checked, &mut touched)?;
                    }
                }
            }
        }
        let cache = std::mem::take(&mut state.cache);
        finish(layout, &j, &mut state, cache, &touched)?;
        // The staged contents were copied into place; the commit that stopped would have cleaned them.
        let staging = format!("{}/staging/", crate::state::META_DIR);
        for src in j.ops.iter().filter_map(|op| op.src.as_deref()) {
            if src.starts_with(&staging) {
                let _ = fs::remove_file(fsutil::native(dir, src));
            }
        }
        return Ok(Some(Recovered::Forward {
            kind: j.kind.clone(),
            version: j.target.version.clone(),
        }));
    }
    // Roll back, last operation first.
    for op in j.ops.iter().rev() {
        let dest = fsutil::native(dir, &op.path);
        let saved = fsutil::native(&backup, &op.path);
        let saved_exists = fs::symlink_metadata(&saved).is_ok();
        let dest_exists = fs::symlink_metadata(&dest).is_ok();
        let src = op.src.as_deref().map(|s| fsutil::native(dir, s));
        let src_missing = src
            .as_ref()
            .is_some_and(|s| fs::symlink_metadata(s).is_err());
        if !op.had_old {
            if let (Some(_), true) = (&op.new, dest_exists) {
                // An added file: give the content back to its source, or drop it if the source is there.
                match &src {
                    Some(s) if src_missing => {
                        prepare_parent(dir, s, &mut checked, &mut touched)?;
                        rename_retry(&dest, s, &dest)?;
                    }
                    _ => fs::remove_file(&dest).map_err(fs_err("remove", &dest))?,
                }
                touched.insert(dest.parent().unwrap_or(dir).to_path_buf());
            }
        } else if saved_exists && fsutil::same_file(&saved, &dest) {
            // The old file was linked into the backup but not yet replaced: it is still in place.
            fs::remove_file(&saved).map_err(fs_err("remove", &saved))?;
        } else if saved_exists {
            if let (Some(e), Some(s), true) = (&op.new, &src, dest_exists && src_missing) {
                // Keep the new content staged if `dest` has it (it is replaced just below).
                if sha_of(&dest).as_deref() == Some(e.sha256.as_str()) {
                    prepare_parent(dir, s, &mut checked, &mut touched)?;
                    if fs::hard_link(&dest, s).is_err() {
                        fs::copy(&dest, s).map_err(fs_err("copy", &dest))?;
                    }
                }
            }
            // The old file goes back in one step, over whatever is at `dest`.
            prepare_parent(dir, &dest, &mut checked, &mut touched)?;
            rename_retry(&saved, &dest, &dest)?;
            touched.insert(dest.parent().unwrap_or(dir).to_path_buf());
        }
        crash_point("recovery-undone");
    }
    for d in &touched {
        fsutil::sync_dir(d);
    }
    let journal = layout.journal();
    fs::remove_file(&journal).map_err(fs_err("remove the journal", &journal))?;
    fsutil::sync_dir(&layout.meta);
    // The backup folders were made for the change that did not happen.
    let _ = fsutil::remove_dir_all(&backup);
    for p in backup::pending_for(dir, &j.target.version) {
        let _ = fsutil::remove_dir_all(&p);
    }
    if state.installed.as_ref() == Some(&j.target) && j.previous.as_ref() != Some(&j.target) {
        // The state was written before the change failed (a step after the state write): it must
        // describe the files that are back in place.
        for op in &j.ops {
            state.cache.remove(&op.path);
        }
        state.installed = j.previous.clone();
        state.save(layout)?;
    } else if j.previous.is_none() && state.installed.is_none() {
        let _ = state.save(layout);
    }
    Ok(Some(Recovered::Back {
        kind: j.kind,
        version: j.previous.map(|m| m.version),
    }))
}

/// Fails with [`ApplyError::NotWritable`] unless a file can be created, renamed and deleted in the
/// install folder itself (`.launcher/` may be writable when the folder is not).
fn probe_writable(dir: &Path) -> Result<(), ApplyError> {
    let a = dir.join(format!(".launcher-probe-{}", std::process::id()));
    let b = dir.join(format!(".launcher-probe-{}.renamed", std::process::id()));
    let result = fs::write(&a, b"")
        .and_then(|()| fs::rename(&a, &b))
        .and_then(|()| fs::remove_file(&b));
    result.map_err(|source| {
        let _ = fs::remove_file(&a);
        ApplyError::NotWritable {
            dir: dir.to_path_buf(),
            source,
        }
    })
}

/// Makes the backup for a change: rotates `bkp.NNN` and writes `backup.json.pending`, or picks the
/// temporary undo folder when no backup is kept. Returns the folder relative to the install folder and
/// whether it is temporary. `full` copies every managed file into the new backup first. Fails first,
/// changing nothing, when the install folder cannot be written.
pub fn make_backup(
    layout: &Layout,
    keep: u32,
    full: bool,
    info: BackupInfo,
) -> Result<(String, bool, Option<PathBuf>), ApplyError> {
    probe_writable(&layout.dir)?;
    let undo = layout.undo();
    if undo.exists() {
        fsutil::remove_dir_all(&undo).map_err(fs_err("clear", &undo))?;
    }
    let undo_rel = format!("{}/undo", crate::state::META_DIR);
    if keep == 0 {
        return Ok((undo_rel, true, None));
    }
    let folder = backup::prepare(&layout.dir, keep)?;
    let rel = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if full {
        for p in &info.saved {
            let from = fsutil::native(&layout.dir, p);
            let to = fsutil::native(&folder, p);
            if let Some(d) = to.parent() {
                fs::create_dir_all(d).map_err(fs_err("create folder", d))?;
            }
            fs::copy(&from, &to).map_err(fs_err("copy into the backup", &from))?;
        }
        backup::write_pending_info(&folder, &info)?;
        return Ok((undo_rel, true, Some(folder)));
    }
    backup::write_pending_info(&folder, &info)?;
    Ok((rel, false, Some(folder)))
}
