//! Where an install keeps what is not the app's own files: the paths under `<Dir>/.launcher/`
//! (DESIGN.md, "An installed app on disk"), in one place, both as native paths and as the `/`-separated
//! paths relative to `Dir` that a journal records, and the one test that a folder can be written.
//!
//! It owns names only: it never creates, reads or removes anything, except the short-lived probe file
//! of [`probe_writable`].

use std::io;
use std::path::{Path, PathBuf};

/// The launcher's folder inside the install folder.
pub const META_DIR: &str = ".launcher";
/// Prefix of the files [`probe_writable`] creates (a launcher killed while probing leaves one behind,
/// which recovery removes).
pub const PROBE_PREFIX: &str = ".launcher-probe-";

/// The paths of an install's metadata.
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
    pub meta: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        Layout {
            dir: dir.to_path_buf(),
            meta: dir.join(META_DIR),
        }
    }
    pub fn state(&self) -> PathBuf {
        self.meta.join("state.json")
    }
    pub fn journal(&self) -> PathBuf {
        self.meta.join("journal.json")
    }
    pub fn staging(&self) -> PathBuf {
        self.meta.join("staging")
    }
    pub fn lock(&self) -> PathBuf {
        self.meta.join("lock")
    }
    pub fn log(&self) -> PathBuf {
        self.meta.join("launcher.log")
    }
    pub fn channel(&self) -> PathBuf {
        self.meta.join("channel.json")
    }
    pub fn channel_sig(&self) -> PathBuf {
        self.meta.join("channel.json.minisig")
    }
    pub fn undo(&self) -> PathBuf {
        self.meta.join("undo")
    }
    /// Where the backup a rollback restored waits to be deleted.
    pub fn consumed(&self) -> PathBuf {
        self.meta.join("consumed")
    }
    /// Where `journal.json` is set aside when it cannot be read.
    pub fn unreadable_journal(&self) -> PathBuf {
        self.meta.join("journal.unreadable.json")
    }

    /// The staging folder as a journal names it (relative to `Dir`, `/`-separated).
    pub fn staging_rel() -> String {
        format!("{META_DIR}/staging")
    }
    /// The staged content `sha256` as a journal names it.
    pub fn staged_rel(sha256: &str) -> String {
        format!("{META_DIR}/staging/{sha256}")
    }
    /// The temporary undo folder (used instead of a `bkp.NNN` when none is kept) as a journal names it.
    pub fn undo_rel() -> String {
        format!("{META_DIR}/undo")
    }
}

/// A folder the launcher must change but may not.
#[derive(Debug, thiserror::Error)]
#[error("the install folder `{}` cannot be written; the launcher needs to create, rename and delete files there: run it as a user who may, or ask IT to grant Modify on the folder", dir.display())]
pub struct NotWritable {
    /// The install folder (the one the user or IT can act on), even when the probe failed in a folder
    /// inside it.
    pub dir: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Checks that a file can be created, renamed and deleted in `folder`, as an update must, before
/// anything is changed. The probe's name carries the pid, so it never collides with another
/// process's; a failure is reported as [`NotWritable`] naming `install_dir`.
pub fn probe_writable(folder: &Path, install_dir: &Path) -> Result<(), NotWritable> {
    let pid = std::process::id();
    let probe = folder.join(format!("{PROBE_PREFIX}{pid}"));
    let moved = folder.join(format!("{PROBE_PREFIX}{pid}.moved"));
    let result = std::fs::write(&probe, b"")
        .and_then(|()| std::fs::rename(&probe, &moved))
        .and_then(|()| std::fs::remove_file(&moved));
    result.map_err(|source| {
        let _ = std::fs::remove_file(&probe);
        let _ = std::fs::remove_file(&moved);
        NotWritable {
            dir: install_dir.to_path_buf(),
            source,
        }
    })
}
