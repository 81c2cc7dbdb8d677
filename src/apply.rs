//! Applying a change to an install: old or new, never in between (DESIGN.md).
//!
//! Steps of [`commit`]:
//! 1. The contents are already staged and verified (`stage`).
//! 2. Backups are rotated and the new backup folder gets `backup.json.pending` (or, without backups,
//!    the old files go to `.launcher/undo`, removed after the commit). It becomes `backup.json` in
//!    step 5, so a backup that says what it holds always holds it.
//! 3. The journal (target manifest, backup folder, typed steps: [`Change`]) is written to a temp file, fsynced and
//!    renamed to `.launcher/journal.json`, and the folder is fsynced. **This is the point of no return**:
//!    from here on, a start that finds the journal finishes or undoes the change before anything else.
//! 4. Each step ([`Change::redo`]) saves the old file into the backup, then renames the staged content (its date and
//!    executable bit already set) into place; a content used by several paths is copied for all but the
//!    last. On Unix a replaced file is hard-linked into the backup and the new one renamed over it, so
//!    the path is never empty, not even for an instant: a power cut cannot leave the app or the
//!    launcher's own executable missing. Elsewhere (and for deleted files) the old file is moved.
//!    Deletions come first in a journal, so a path can change case and a file can become a folder
//!    (the folder is made after the file left) or a folder a file (the emptied folder is removed just
//!    before the file is placed). A user's file at a path the change adds is renamed beside it
//!    (`Change::Add` `kept_as`) before the new file is placed; a rollback gives it back
//!    (`Change::GiveBack`).
//! 5. The touched folders are fsynced, the new state is written atomically, the pending backup is
//!    finalized, the journal is removed.
//!
//! [`recover`] runs on every start when a journal exists and replays it in its recorded direction
//! ([`Direction`]). A change being made is finished when every new content is available (already in
//! place, or at its source hashing right), by the same steps as the commit ([`Change::redo`], which
//! first checks what of itself already happened); otherwise the journal is marked as being undone
//! and every step is undone, last first ([`Change::undo`], from the backup). A change being undone
//! (a step of the commit failed, or a recovery began to undo it) is only ever undone. Both directions
//! are idempotent, so a crash during recovery is recovered by the next start. When undoing a failed
//! commit fails too, both failures are reported and the journal stays for the next start. It also
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
//! `before-state`, `after-state`, `consumed` (a rollback's restored backup is out of the series);
//! `kept-aside`, `kept-moved-back` and `folder-removed` where a change keeps a user's file aside, gives
//! one back, or turns a folder into a file (also in recovery); in
//! recovery `recovery-start`, `recovery-placed`, `recovery-marked-back` (the journal now says the
//! change is undone), `recovery-undone` (also when a failed commit is undone). `LAUNCHER_FAIL_AT=undo:N`
//! makes the N-th undone step fail (`fault::fail_point`).
//!
//! Never: write through a symbolic link on the way into the install folder, delete or overwrite a file
//! the launcher did not install (such files are kept aside beside themselves, and undoing a change
//! takes back only content it placed), or leave the journal behind after success.

use crate::backup::{self, BackupError};
use crate::fsutil::{self, fs_err, FsError};
use crate::layout::{probe_writable, Layout, NotWritable, PROBE_PREFIX};
use crate::manifest::{self, FileEntry};
use crate::state::{StatEntry, State};
use crate::version::Version;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use crate::journal::{Change, ChangeKind, Direction, Journal};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("`{}` is a symbolic link or junction; the launcher does not write through links (remove it and start again)", .0.display())]
    Link(PathBuf),
    #[error("the journal `{}` cannot be read ({detail}); the install will be verified file by file", path.display())]
    BadJournal { path: PathBuf, detail: String },
    #[error(transparent)]
    NotWritable(#[from] NotWritable),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("the folder `{}` is read-only or this user may not change it, so the update cannot rename files there; ask IT to grant Modify on the install folder and everything in it, or run the launcher as a user who may", dir.display())]
    FolderNotWritable {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{cause}; undoing the change failed too ({undo}): the journal `{}` stays, and the next start finishes undoing the change before anything else", journal.display())]
    UndoFailed {
        cause: Box<ApplyError>,
        undo: Box<ApplyError>,
        journal: PathBuf,
    },
    #[error("`{}` is in use or locked and cannot be replaced; close the program that uses it and start again", path.display())]
    InUse {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

pub use crate::fault::crash_point;
use crate::fault::injected_rename_failure;

/// Renames with a few short retries: on Windows a virus scanner or indexer often holds a new file for
/// a moment. A file that stays locked is reported as in use, by `busy`: the app's file (the source of
/// a move into the backup, the destination of a placement), not the backup or staging path.
///
/// On Unix nothing locks a file against renaming, so "permission denied" or "read-only file system"
/// means a folder on the way cannot be changed: that is said, with the folder, and not retried.
fn rename_retry(from: &Path, to: &Path, busy: &Path) -> Result<(), ApplyError> {
    let mut last = None;
    for attempt in 0..5u32 {
        match injected_rename_failure(busy).map_or_else(|| fs::rename(from, to), Err) {
            Ok(()) => return Ok(()),
            Err(e) if cfg!(unix) && is_no_permission(&e) => {
                return Err(ApplyError::FolderNotWritable {
                    dir: unwritable_folder(from, to),
                    source: e,
                });
            }
            Err(e) if is_in_use(&e) => {
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

fn is_no_permission(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// A file held by another program: a sharing violation or "access denied" on Windows (a running or
/// open file), "busy" anywhere.
fn is_in_use(e: &io::Error) -> bool {
    is_sharing_violation(e)
        || (cfg!(windows) && e.kind() == io::ErrorKind::PermissionDenied)
        || matches!(
            e.kind(),
            io::ErrorKind::ResourceBusy | io::ErrorKind::ExecutableFileBusy
        )
}

/// The folder of a failed rename that cannot be changed: the source's or the destination's, whichever
/// a file cannot be created in (the source's when both can, since it was the file being taken away).
fn unwritable_folder(from: &Path, to: &Path) -> PathBuf {
    let folders = [from.parent(), to.parent()];
    for dir in folders.into_iter().flatten() {
        if probe_writable(dir, dir).is_err() {
            return dir.to_path_buf();
        }
    }
    from.parent().unwrap_or(from).to_path_buf()
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
    crash_point("moved-to-backup");
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

/// Renames the user's file at `path` (if it is still there) to `kept_as`, beside it. A file already
/// at `kept_as` is never overwritten: the change stops and is undone.
fn keep_aside(
    dir: &Path,
    path: &str,
    kept_as: &str,
    touched: &mut BTreeSet<PathBuf>,
) -> Result<(), ApplyError> {
    let from = fsutil::native(dir, path);
    if fs::symlink_metadata(&from).is_err() {
        // Gone since the plan, or (case-insensitive file system) it was the old spelling of a managed
        // file that an earlier operation moved into the backup.
        return Ok(());
    }
    let to = fsutil::native(dir, kept_as);
    if fs::symlink_metadata(&to).is_ok() {
        return Err(fs_err("keep your file aside as", &to)(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a file of that name appeared since the update was planned; start the launcher again",
        ))
        .into());
    }
    rename_retry(&from, &to, &from)?;
    touched.insert(from.parent().unwrap_or(dir).to_path_buf());
    crash_point("kept-aside");
    Ok(())
}

/// Moves `from` back to `to` when `from` is there and `to` is free (giving a kept user file back, or
/// undoing that). Idempotent, so recovery can repeat it.
fn move_back(
    dir: &Path,
    from: &str,
    to: &str,
    checked: &mut BTreeSet<PathBuf>,
    touched: &mut BTreeSet<PathBuf>,
) -> Result<(), ApplyError> {
    let from = fsutil::native(dir, from);
    let to = fsutil::native(dir, to);
    if fs::symlink_metadata(&from).is_err() || fs::symlink_metadata(&to).is_ok() {
        return Ok(());
    }
    prepare_parent(dir, &to, checked, touched)?;
    rename_retry(&from, &to, &from)?;
    touched.insert(to.parent().unwrap_or(dir).to_path_buf());
    crash_point("kept-moved-back");
    Ok(())
}

/// Removes the folder at `dest` when it holds nothing but empty folders: a managed folder whose files
/// earlier operations moved into the backup, about to become a file. A folder with anything else in
/// it is left alone and the rename into place fails (and the change is undone).
fn clear_empty_folder(dest: &Path, touched: &mut BTreeSet<PathBuf>) -> Result<(), ApplyError> {
    fn only_folders(p: &Path) -> io::Result<bool> {
        for e in fs::read_dir(p)? {
            let e = e?;
            if !e.file_type()?.is_dir() || !only_folders(&e.path())? {
                return Ok(false);
            }
        }
        Ok(true)
    }
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {}
        _ => return Ok(()),
    }
    if !only_folders(dest).map_err(fs_err("read", dest))? {
        return Err(fs_err("replace the folder", dest)(io::Error::new(
            io::ErrorKind::DirectoryNotEmpty,
            "it holds files the launcher did not install; move them out and start again",
        ))
        .into());
    }
    fsutil::remove_dir_all(dest).map_err(fs_err("remove the empty folder", dest))?;
    touched.insert(dest.parent().unwrap_or(dest).to_path_buf());
    crash_point("folder-removed");
    Ok(())
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
    let bytes = j.to_vec().map_err(|e| FsError {
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
/// undone at once; the journal stays for the next start only if undoing fails too, and then the error
/// says both what failed and why the undo did.
pub fn commit(
    layout: &Layout,
    j: &Journal,
    state: &mut State,
    kept_cache: BTreeMap<String, StatEntry>,
) -> Result<Committed, ApplyError> {
    write_journal(layout, j)?;
    crash_point("journal-written");
    let mut replay = Replay::new(layout, j, false);
    let cause = match replay.forward(j) {
        Ok(()) => {
            finish(layout, j, state, kept_cache, &replay.touched)?;
            let mut out = replay.out;
            if !j.backup_is_temporary {
                out.backup = Some(replay.backup);
            }
            return Ok(out);
        }
        Err(e) => e,
    };
    // A crash while undoing must not finish the change instead: the journal says it is undone.
    let mut back = j.clone();
    back.direction = Direction::Back;
    let _ = write_journal(layout, &back);
    crash_point("recovery-start");
    remove_stray_copies(&layout.dir, &back);
    match undo(layout, &back) {
        Ok(_) => {
            if let Ok(Some(s)) = State::load(layout) {
                *state = s;
            }
            Err(cause)
        }
        Err(undo) => Err(ApplyError::UndoFailed {
            cause: Box::new(cause),
            undo: Box::new(undo),
            journal: layout.journal(),
        }),
    }
}

/// What the steps of one pass over a journal share: where the old files go, the folders checked for
/// links and those to fsync, and whether the pass finishes a change left behind by a crash.
struct Replay<'a> {
    dir: &'a Path,
    backup: PathBuf,
    /// Finishing a change that a crash interrupted (recovery), not making it: each step first checks
    /// what of it already happened, since any prefix of the steps may have been done.
    resuming: bool,
    /// When resuming: paths whose kept user file a `GiveBack` already returned, so what is at the path
    /// is the user's, and the managed file it replaced left before.
    given_back: BTreeSet<String>,
    /// Content each step places, by its path folded to one case: on a case-insensitive file system a
    /// path deleted by one step and placed under another case by another (`README.TXT` →
    /// `readme.txt`) is one file (the same file id), which resuming must not take for the old one.
    placed_folded: BTreeMap<String, (String, String)>,
    /// Folded paths that more than one step names in different cases.
    case_twins: BTreeSet<String>,
    checked: BTreeSet<PathBuf>,
    touched: BTreeSet<PathBuf>,
    out: Committed,
}

impl<'a> Replay<'a> {
    fn new(layout: &'a Layout, j: &Journal, resuming: bool) -> Replay<'a> {
        let dir = &layout.dir;
        let exists = |p: &str| fs::symlink_metadata(fsutil::native(dir, p)).is_ok();
        let given_back = j
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::GiveBack { path, kept_as }
                    if resuming && !exists(kept_as) && exists(path) =>
                {
                    Some(path.clone())
                }
                _ => None,
            })
            .collect();
        let placed_folded = j
            .changes
            .iter()
            .filter_map(|c| {
                c.placed().map(|(e, _)| {
                    (
                        crate::paths::fold(c.path()),
                        (c.path().to_string(), e.sha256.clone()),
                    )
                })
            })
            .collect();
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        let mut case_twins = BTreeSet::new();
        for c in &j.changes {
            let f = crate::paths::fold(c.path());
            match seen.get(&f) {
                Some(p) if *p != c.path() => {
                    case_twins.insert(f);
                }
                _ => {
                    seen.insert(f, c.path());
                }
            }
        }
        Replay {
            dir,
            backup: fsutil::native(dir, &j.backup),
            resuming,
            given_back,
            placed_folded,
            case_twins,
            checked: BTreeSet::new(),
            touched: BTreeSet::new(),
            out: Committed::default(),
        }
    }

    /// Runs every step of `j` in order (step 4 of the module doc).
    fn forward(&mut self, j: &Journal) -> Result<(), ApplyError> {
        // The last step that uses each source: earlier ones copy, the last one renames. A recovery
        // always copies: staging is cleaned after it, and it must not depend on how far the
        // interrupted pass got.
        let mut last_use: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, c) in j.changes.iter().enumerate() {
            if let Some((_, src)) = c.placed() {
                last_use.insert(src, i);
            }
        }
        for (i, c) in j.changes.iter().enumerate() {
            let copy =
                self.resuming || c.placed().is_some_and(|(_, s)| last_use.get(s) != Some(&i));
            c.redo(self, copy)?;
        }
        Ok(())
    }

    /// Undoes every step of `j`, last first.
    fn back(&mut self, j: &Journal) -> Result<(), ApplyError> {
        for c in j.changes.iter().rev() {
            if let Some(e) = crate::fault::fail_point("undo") {
                return Err(
                    fs_err("undo the change to", &fsutil::native(self.dir, c.path()))(e).into(),
                );
            }
            c.undo(self)?;
            crash_point("recovery-undone");
        }
        Ok(())
    }
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

/// True when the folder holds an entry spelled exactly like `p`'s name: on a case-insensitive file
/// system `README.TXT` opens `readme.txt` too, but only the listing shows which name is on disk.
fn exact_name_exists(p: &Path) -> bool {
    let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
        return false;
    };
    fs::read_dir(parent).is_ok_and(|rd| rd.flatten().any(|e| e.file_name() == name))
}

impl Change {
    /// Makes this step happen (again): idempotent when `r.resuming`.
    fn redo(&self, r: &mut Replay, copy: bool) -> Result<(), ApplyError> {
        let dir = r.dir;
        let path = self.path();
        let dest = fsutil::native(dir, path);
        if let Some((e, _)) = self.placed() {
            let twin = r
                .placed_folded
                .get(&crate::paths::fold(path))
                .is_some_and(|(p, _)| p != path)
                || r.case_twins.contains(&crate::paths::fold(path));
            if r.resuming
                && sha_of(&dest).as_deref() == Some(e.sha256.as_str())
                && (!twin || exact_name_exists(&dest))
            {
                // Placed before the crash: only its date and executable bit may be missing.
                set_meta(&dest, e)?;
                return Ok(());
            }
            // A managed folder whose files earlier steps moved out, becoming a file.
            clear_empty_folder(&dest, &mut r.touched)?;
        }
        match self {
            Change::Replace { .. } | Change::Delete { .. } => {
                // When resuming, a folder at a deleted path is not the old file: that left, and a later
                // step made the folder for the new version's files; nor is a user's file given back.
                let gone = r.resuming
                    && matches!(self, Change::Delete { .. })
                    && (fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir())
                        || r.given_back.contains(path)
                        || r.placed_folded.get(&crate::paths::fold(path)).is_some_and(
                            |(other, sha)| {
                                let placed = fsutil::native(dir, other);
                                other != path
                                    && fsutil::same_file(&dest, &placed)
                                    && exact_name_exists(&placed)
                                    && sha_of(&dest).as_deref() == Some(sha.as_str())
                            },
                        ));
                let replaced = matches!(self, Change::Replace { .. });
                if !gone
                    && save_old(
                        dir,
                        &r.backup,
                        path,
                        replaced,
                        &mut r.checked,
                        &mut r.touched,
                    )?
                {
                    r.out.moved_to_backup += 1;
                }
            }
            Change::Add { kept_as, .. } => match kept_as {
                Some(k) if !(r.resuming && exists(&fsutil::native(dir, k))) => {
                    keep_aside(dir, path, k, &mut r.touched)?
                }
                // Resuming: not there when the journal was written (or the user's file was already
                // kept aside): whoever put it there keeps it, in the backup.
                _ if r.resuming && exists(&dest) => {
                    move_to_backup(dir, &r.backup, path, &mut r.checked, &mut r.touched)?;
                }
                _ => {}
            },
            Change::GiveBack { kept_as, .. } => {
                move_back(dir, kept_as, path, &mut r.checked, &mut r.touched)?
            }
        }
        if let Some((e, src)) = self.placed() {
            prepare_parent(dir, &dest, &mut r.checked, &mut r.touched)?;
            place(&fsutil::native(dir, src), &dest, copy, e)?;
            r.touched.insert(dest.parent().unwrap_or(dir).to_path_buf());
            r.out.placed += 1;
            crash_point(if r.resuming {
                "recovery-placed"
            } else {
                "placed"
            });
        }
        Ok(())
    }

    /// Takes this step back, from whatever part of it happened: idempotent.
    fn undo(&self, r: &mut Replay) -> Result<(), ApplyError> {
        let dir = r.dir;
        let path = self.path();
        let dest = fsutil::native(dir, path);
        match self {
            Change::GiveBack { kept_as, .. } => {
                // The user's file went back to `path`: it returns to where it was kept.
                move_back(dir, path, kept_as, &mut r.checked, &mut r.touched)?;
            }
            Change::Add {
                new, src, kept_as, ..
            } => {
                // Only the new content is taken back: anything else at `dest` is not the launcher's.
                // Where a user's file was to be kept aside, the new content was placed only after
                // that (a user's file that holds the same bytes and was not moved yet stays).
                let kept_first = kept_as
                    .as_deref()
                    .is_none_or(|k| exists(&fsutil::native(dir, k)));
                if kept_first
                    && exists(&dest)
                    && sha_of(&dest).as_deref() == Some(new.sha256.as_str())
                {
                    // Give the content back to its source, or drop it if the source is there.
                    let s = fsutil::native(dir, src);
                    if exists(&s) {
                        fs::remove_file(&dest).map_err(fs_err("remove", &dest))?;
                    } else {
                        prepare_parent(dir, &s, &mut r.checked, &mut r.touched)?;
                        rename_retry(&dest, &s, &dest)?;
                    }
                    r.touched.insert(dest.parent().unwrap_or(dir).to_path_buf());
                }
                if let Some(k) = kept_as {
                    move_back(dir, k, path, &mut r.checked, &mut r.touched)?;
                }
            }
            Change::Replace { .. } | Change::Delete { .. } => {
                let saved = fsutil::native(&r.backup, path);
                if !exists(&saved) {
                    // Nothing was saved: the old file never left.
                } else if fsutil::same_file(&saved, &dest) {
                    // The old file was linked into the backup but not yet replaced: still in place.
                    fs::remove_file(&saved).map_err(fs_err("remove", &saved))?;
                } else {
                    if let Some((e, src)) = self.placed() {
                        // Keep the new content staged if `dest` has it (it is replaced just below).
                        let s = fsutil::native(dir, src);
                        if exists(&dest)
                            && !exists(&s)
                            && sha_of(&dest).as_deref() == Some(e.sha256.as_str())
                        {
                            prepare_parent(dir, &s, &mut r.checked, &mut r.touched)?;
                            if fs::hard_link(&dest, &s).is_err() {
                                fs::copy(&dest, &s).map_err(fs_err("copy", &dest))?;
                            }
                        }
                    }
                    // The old file goes back in one step, over whatever is at `dest` (a folder made for
                    // the new version is empty again by now: later steps were undone first).
                    clear_empty_folder(&dest, &mut r.touched)?;
                    prepare_parent(dir, &dest, &mut r.checked, &mut r.touched)?;
                    rename_retry(&saved, &dest, &dest)?;
                    r.touched.insert(dest.parent().unwrap_or(dir).to_path_buf());
                }
            }
        }
        Ok(())
    }
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
    for c in &j.changes {
        cache.remove(c.path());
        if let Some((e, _)) = c.placed() {
            if let Some(entry) = crate::scan::entry_for(dir, c.path(), &e.sha256) {
                cache.insert(c.path().to_string(), entry);
            }
        }
    }
    let wanted: BTreeSet<&str> = j.target.files.iter().map(|f| f.path.as_str()).collect();
    cache.retain(|p, _| wanted.contains(p.as_str()));
    state.installed = Some(j.target.clone());
    state.cache = cache;
    if j.holds.is_empty() {
        state.set_holds(&Vec::from_iter(j.held.clone()));
    } else {
        state.set_holds(&j.holds);
    }
    state.save(layout)?;
    crash_point("after-state");
    backup::finalize_pending(dir, &j.target.version)?;
    consume_backup(layout, j);
    remove_journal_and_leftovers(layout, j)
}

/// Takes the backup a rollback restored out of the `bkp.NNN` series, while the journal still exists:
/// one rename into `.launcher/consumed`, so a kill at any moment leaves it either a whole backup (the
/// journal is still there and recovery comes back here) or out of the series. Deleting it afterwards
/// may take long and is done after the journal is gone; a kill then leaves only `.launcher/consumed`,
/// which the next start removes. Before this, a kill between the journal's removal and the folder's
/// left a backup of the version now installed, and the next `rollback` went nowhere.
///
/// Best effort, like the deletion was: the change is committed (the state is written), and a backup
/// that could not be moved is one of the installed version, which `rollback` skips.
fn consume_backup(layout: &Layout, j: &Journal) {
    let Some(c) = &j.consume else { return };
    let folder = fsutil::native(&layout.dir, c);
    if fs::symlink_metadata(&folder).is_err() {
        return;
    }
    let aside = layout.consumed();
    let _ = fsutil::remove_dir_all(&aside);
    if fs::rename(&folder, &aside).is_ok() {
        fsutil::sync_dir(&layout.dir);
        fsutil::sync_dir(&layout.meta);
        crash_point("consumed");
    }
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
    if j.consume.is_some() {
        let _ = fsutil::remove_dir_all(&layout.consumed());
    }
    Ok(())
}

/// How a journal left behind was dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// The change was completed.
    Forward { kind: ChangeKind, version: Version },
    /// The change was undone; the previous version is in place.
    Back {
        kind: ChangeKind,
        version: Option<Version>,
    },
    /// The journal could not be read; it was set aside and the install must be verified.
    Unreadable(String),
}

fn sha_of(p: &Path) -> Option<String> {
    fsutil::sha256_file(p).ok().map(|(s, _)| s)
}

/// Removes temp files that an interrupted atomic write left in `.launcher/` (the caller holds the lock,
/// so no other launcher is writing them).
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
        .changes
        .iter()
        .filter_map(|c| {
            fsutil::native(dir, c.path())
                .parent()
                .map(Path::to_path_buf)
        })
        .collect();
    for p in parents {
        remove_temps_in(&p, ".launcher-tmp-");
    }
}

/// Finishes or undoes an interrupted change. Call with the install lock held, before anything else.
///
/// The journal is replayed in its recorded direction: a change being made is finished when every new
/// content is available (already in place, or at its source with the right hash), and otherwise
/// marked as being undone and undone; a change being undone is only ever undone.
pub fn recover(layout: &Layout) -> Result<Option<Recovered>, ApplyError> {
    remove_stale_meta_temps(layout);
    let path = layout.journal();
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // No change in progress: backups left half-made by one that stopped are tidied. Best
            // effort: the next update tidies them again before it makes its own backup.
            let _ = backup::tidy(&layout.dir);
            // A restored backup whose deletion was cut short (see `consume_backup`).
            let _ = fsutil::remove_dir_all(&layout.consumed());
            return Ok(None);
        }
        Err(e) => return Err(fs_err("read", &path)(e).into()),
    };
    let mut j = match Journal::from_slice(&bytes) {
        Ok(j) => j,
        Err(e) => {
            let aside = layout.unreadable_journal();
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
    if j.direction == Direction::Forward && can_finish(dir, &j) {
        let mut state = State::load(layout).ok().flatten().unwrap_or_default();
        let mut replay = Replay::new(layout, &j, true);
        replay.forward(&j)?;
        let cache = std::mem::take(&mut state.cache);
        finish(layout, &j, &mut state, cache, &replay.touched)?;
        // The staged contents were copied into place; the commit that stopped would have cleaned them.
        let staging = format!("{}/", Layout::staging_rel());
        for (_, src) in j.changes.iter().filter_map(Change::placed) {
            if src.starts_with(&staging) {
                let _ = fs::remove_file(fsutil::native(dir, src));
            }
        }
        return Ok(Some(Recovered::Forward {
            kind: j.kind,
            version: j.target.version.clone(),
        }));
    }
    if j.direction == Direction::Forward {
        // From here on the change is only undone, even if its contents turn up again. Best effort:
        // on a full disk the journal cannot be rewritten, and the undo (renames only) must still run;
        // a start after a crash then decides again, as it did here.
        j.direction = Direction::Back;
        if write_journal(layout, &j).is_ok() {
            crash_point("recovery-marked-back");
        }
    }
    undo(layout, &j).map(Some)
}

/// True when every new content of `j` is in place or at its source with the right hash.
fn can_finish(dir: &Path, j: &Journal) -> bool {
    j.changes.iter().all(|c| {
        c.placed().is_none_or(|(e, src)| {
            sha_of(&fsutil::native(dir, c.path())).as_deref() == Some(e.sha256.as_str())
                || sha_of(&fsutil::native(dir, src)).as_deref() == Some(e.sha256.as_str())
        })
    })
}

/// Undoes the change of `j` (every step, last first), removes the journal and the backup made for
/// it, and makes the state describe the files back in place.
fn undo(layout: &Layout, j: &Journal) -> Result<Recovered, ApplyError> {
    let dir = &layout.dir;
    let mut state = State::load(layout).ok().flatten().unwrap_or_default();
    let mut replay = Replay::new(layout, j, true);
    replay.back(j)?;
    for d in &replay.touched {
        fsutil::sync_dir(d);
    }
    let journal = layout.journal();
    fs::remove_file(&journal).map_err(fs_err("remove the journal", &journal))?;
    fsutil::sync_dir(&layout.meta);
    // The backup folders were made for the change that did not happen.
    let _ = fsutil::remove_dir_all(&replay.backup);
    for p in backup::pending_for(dir, &j.target.version) {
        let _ = fsutil::remove_dir_all(&p);
    }
    if state.installed.as_ref() == Some(&j.target) && j.previous.as_ref() != Some(&j.target) {
        // The state was written before the change failed (a step after the state write): it must
        // describe the files that are back in place.
        for c in &j.changes {
            state.cache.remove(c.path());
        }
        state.installed = j.previous.clone();
        state.save(layout)?;
    } else if j.previous.is_none() && state.installed.is_none() {
        let _ = state.save(layout);
    }
    Ok(Recovered::Back {
        kind: j.kind,
        version: j.previous.as_ref().map(|m| m.version.clone()),
    })
}
