//! The client's flow, shared by `run`, `check`, `fetch`, `verify` and `rollback`:
//! config → source → manifest (+ signature, + policy) → scan → plan → stage → commit.
//!
//! [`Session::open`] takes the install lock and finishes an interrupted change before anything else.
//! [`Session::remote`] gets the channel manifest (a `304` reuses the copy saved in `.launcher/`) and
//! applies the trust rules. [`Session::plan_for`], [`Session::stage`] and [`Session::commit`] are the
//! rest of an update. Nothing here prints; everything goes through the reporter.

use crate::apply::{self, Recovered};
use crate::backup::{self, BackupError, BackupInfo};
use crate::config::{BackupMode, CheckMode, Config};
use crate::fault::crash_point;
use crate::fsutil::{self, FsError};
use crate::journal::{ChangeKind, Direction, Journal};
use crate::layout::{probe_writable, Layout, NotWritable};
use crate::links;
use crate::lock::{self, InstallLock, LockError};
use crate::manifest::{self, Manifest, ManifestError};
use crate::plan::{self, Action, Plan};
use crate::progress::Reporter;
use crate::repo;
use crate::scan::{self, Scan};
use crate::sign::{TrustedKey, VerifyError};
use crate::source::{self, Fetched, Source, SourceError};
use crate::stage::{self, StageError, StageStats};
use crate::state::State;
use crate::version::Version;
use std::path::PathBuf;
use std::time::SystemTime;

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("the repository `{server}` has no channel `{channel}` of product `{product}` for {platform} (`{url}` is missing); check Server, Product and Channel in launcher.ini")]
    NoChannel {
        server: String,
        product: String,
        channel: String,
        platform: String,
        url: String,
    },
    #[error("the manifest `{url}` is refused")]
    BadManifest {
        url: String,
        #[source]
        source: ManifestError,
    },
    #[error("the manifest `{url}` is refused")]
    Signature {
        url: String,
        #[source]
        source: VerifyError,
    },
    #[error("the manifest `{url}` is refused: {reason}")]
    Refused { url: String, reason: String },
    #[error(transparent)]
    Blocked(#[from] plan::Blocked),
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    ReadOnly(#[from] NotWritable),
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// A release was applied, then taken back (a failed post-update hook or first start).
    #[error("{cause}; rolled back to {to}, which starts instead, and {from} is held until a newer release appears")]
    RolledBack {
        cause: String,
        from: String,
        to: String,
    },
    #[error("{cause}, and rolling it back failed: {rollback}")]
    RollbackFailed { cause: String, rollback: String },
    #[error("Pin = {pin} in `{}` matches no release of channel `{channel}` (its releases: {available})", ini.display())]
    PinMatchesNothing {
        pin: String,
        ini: PathBuf,
        channel: String,
        available: String,
    },
}

impl UpdateError {
    /// What the user can do, when the message does not say it already: the one place that picks the
    /// hint for an update that failed, so no advice is printed twice. Errors that name their own remedy
    /// (a missing channel, a full disk, a locked file, a proxy asking for a password) have none here.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            UpdateError::Source(
                SourceError::NotFound { .. }
                | SourceError::Status { .. }
                | SourceError::Redirected { .. }
                | SourceError::Timeout { .. }
                | SourceError::Connect { .. }
                | SourceError::Io { .. }
                | SourceError::Hung { .. },
            ) => Some("check Server in launcher.ini and that the update server is reachable, then start again; the log is `.launcher/launcher.log`"),
            UpdateError::Source(SourceError::BadServer { .. }) => {
                Some("fix Server in launcher.ini: give the repository root (http://, https://, file:// or a folder)")
            }
            UpdateError::BadManifest { .. }
            | UpdateError::Signature { .. }
            | UpdateError::Refused { .. } => Some(
                "the update server offers something this launcher must not install; tell the publisher (IT can see the details with `launcher status`)",
            ),
            _ => None,
        }
    }

    /// True for errors about what the server sent (as opposed to: could not reach it, disk trouble).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            UpdateError::BadManifest { .. }
                | UpdateError::Signature { .. }
                | UpdateError::Refused { .. }
        )
    }
}

/// The channel manifest as received and accepted.
#[derive(Debug, Clone)]
pub struct Remote {
    pub manifest: Manifest,
    /// The server answered `304`: the saved copy is current.
    pub not_modified: bool,
}

/// What [`Session::carry_out`] did.
#[derive(Debug)]
pub struct Applied {
    /// The version installed before, if any.
    pub from: Option<Version>,
    pub to: Version,
    pub downloaded: u64,
    /// Files added, replaced or deleted.
    pub files: usize,
    /// The running launcher's own file was replaced: it must restart to run the new one.
    pub replaced_self: bool,
    /// The backup folder made, if any.
    pub backup: Option<PathBuf>,
    /// One line per user's file kept aside (at most 3, then a count).
    pub kept: Vec<String>,
}

/// An open install: configuration, layout, state, and (for changing commands) the lock.
pub struct Session<'a> {
    pub cfg: &'a Config,
    pub layout: Layout,
    pub state: State,
    /// The state file existed (something was installed or attempted before).
    pub had_state: bool,
    pub reporter: &'a Reporter,
    pub recovered: Option<Recovered>,
    /// Force a full check this run (after an unreadable journal or state).
    pub force_full: bool,
    _lock: Option<InstallLock>,
    source: Option<Box<dyn Source>>,
}

impl<'a> Session<'a> {
    /// Opens the install for reading only (`check`, `status`): no lock, no recovery, nothing created.
    pub fn read_only(cfg: &'a Config, reporter: &'a Reporter) -> Session<'a> {
        let layout = Layout::new(&cfg.dir);
        let loaded = State::load(&layout);
        let had_state = matches!(loaded, Ok(Some(_)));
        Session {
            cfg,
            state: loaded.ok().flatten().unwrap_or_default(),
            had_state,
            layout,
            reporter,
            recovered: None,
            force_full: false,
            _lock: None,
            source: None,
        }
    }

    /// Opens the install for changing: creates `.launcher/`, takes the lock, recovers a journal.
    pub fn open(cfg: &'a Config, reporter: &'a Reporter) -> Result<Session<'a>, UpdateError> {
        let layout = Layout::new(&cfg.dir);
        // Nothing is written through a link (`links`): `.launcher/` and the lock file are checked
        // before they are used, the rest once the lock is held.
        let mut replaced = links::replace_meta(&layout)?;
        std::fs::create_dir_all(&layout.meta).map_err(|source| NotWritable {
            dir: cfg.dir.clone(),
            source,
        })?;
        replaced.extend(links::replace(&layout.lock())?);
        let lock = lock::acquire(&layout.lock(), reporter).map_err(|e| match e {
            LockError::Fs(f)
                if matches!(
                    f.source.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                UpdateError::ReadOnly(NotWritable {
                    dir: cfg.dir.clone(),
                    source: f.source,
                })
            }
            other => other.into(),
        })?;
        replaced.extend(links::replace_inner(&layout)?);
        for r in &replaced {
            reporter.warn(r);
        }
        let recovered = apply::recover(&layout)?;
        let mut force_full = matches!(recovered, Some(Recovered::Unreadable(_)));
        let (state, had_state) = match State::load(&layout) {
            Ok(Some(s)) => (s, true),
            Ok(None) => (State::default(), false),
            Err(e) => {
                reporter.warn(&e);
                force_full = true;
                (State::default(), false)
            }
        };
        Ok(Session {
            cfg,
            layout,
            state,
            had_state,
            reporter,
            recovered,
            force_full,
            _lock: Some(lock),
            source: None,
        })
    }

    /// Lets other launchers in (the app is about to start).
    pub fn release_lock(&mut self) {
        self._lock = None;
    }

    pub fn installed(&self) -> Option<&Manifest> {
        self.state.installed.as_ref()
    }

    fn ensure_source(&mut self) -> Result<(), UpdateError> {
        if self.source.is_none() {
            self.source = Some(source::open(self.cfg)?);
        }
        Ok(())
    }

    fn trusted_key(&self) -> Option<TrustedKey> {
        // The config was validated at load time, so a set key parses.
        self.cfg
            .public_key
            .as_deref()
            .and_then(|k| TrustedKey::parse(k).ok())
    }

    /// Gets and checks the channel manifest. With `persist`, a new copy is saved for the next `304`.
    pub fn remote(&mut self, persist: bool) -> Result<Remote, UpdateError> {
        let key = repo::channel_manifest(&self.cfg.product, &self.cfg.channel, &self.cfg.platform);
        self.ensure_source()?;
        let src = self.source.as_deref().expect("ensure_source set it");
        let url = src.url(&key);
        let saved = std::fs::read(self.layout.channel()).ok();
        let prev = if self.state.channel_url.as_deref() == Some(url.as_str()) && saved.is_some() {
            self.state.channel_validators.clone()
        } else {
            None
        };
        let fetched = match src.manifest(&key, prev.as_ref(), manifest::MAX_MANIFEST_BYTES) {
            Err(e) if e.is_not_found() => {
                return Err(UpdateError::NoChannel {
                    server: self.cfg.server.clone(),
                    product: self.cfg.product.clone(),
                    channel: self.cfg.channel.clone(),
                    platform: self.cfg.platform.clone(),
                    url,
                })
            }
            other => other?,
        };
        let key_trusted = self.trusted_key();
        let saved_is_installed = self.state.channel_version.is_some()
            && self.state.channel_version.as_ref() == self.installed().map(|m| &m.version)
            && !(key_trusted.is_some()
                && self
                    .installed()
                    .is_some_and(|m| m.is_expired(SystemTime::now())));
        let (bytes, sig, validators, not_modified) = match fetched {
            Fetched::NotModified if saved_is_installed => {
                // Nothing new and the saved copy is what is installed: it was checked when it arrived.
                let manifest = self.installed().cloned().expect("checked just above");
                return Ok(Remote {
                    manifest,
                    not_modified: true,
                });
            }
            Fetched::NotModified => {
                let bytes = saved.unwrap_or_default();
                let sig = std::fs::read_to_string(self.layout.channel_sig()).ok();
                (bytes, sig, None, true)
            }
            Fetched::Data { bytes, validators } => {
                let sig = if key_trusted.is_some() {
                    src.optional(&repo::signature_of(&key), 64 * 1024)?
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                } else {
                    None
                };
                (bytes, sig, Some(validators), false)
            }
        };
        let m = accept(key_trusted.as_ref(), &url, &bytes, sig.as_deref())?;
        let refuse = |reason: String| UpdateError::Refused {
            url: url.clone(),
            reason,
        };
        if m.product != self.cfg.product
            || m.channel != self.cfg.channel
            || m.platform != self.cfg.platform
        {
            return Err(refuse(format!(
                "it is for {} `{}` on {}, but launcher.ini asks for {} `{}` on {}",
                m.product,
                m.channel,
                m.platform,
                self.cfg.product,
                self.cfg.channel,
                self.cfg.platform
            )));
        }
        if key_trusted.is_some() {
            if m.is_expired(SystemTime::now()) {
                return Err(refuse(format!(
                    "it expired on {} (a frozen or replayed manifest); the publisher must publish again",
                    m.expires.as_deref().unwrap_or("?")
                )));
            }
            if let Some(inst) = self.installed() {
                if m.version() < inst.version() {
                    return Err(refuse(format!(
                        "its version {} is older than the installed {} (downgrades are refused; use `launcher rollback`)",
                        m.version,
                        inst.version
                    )));
                }
            }
        }
        if persist && !not_modified {
            fsutil::write_atomic(&self.layout.channel(), &bytes)?;
            match &sig {
                Some(s) => fsutil::write_atomic(&self.layout.channel_sig(), s.as_bytes())?,
                None => {
                    let _ = std::fs::remove_file(self.layout.channel_sig());
                }
            }
            self.state.channel_validators = validators;
            self.state.channel_url = Some(url);
            self.state.channel_version = Some(m.version.clone());
        }
        Ok(Remote {
            manifest: m,
            not_modified,
        })
    }

    /// The signed release manifest of `version` (for `verify --repair`, which must not trust the local
    /// state alone when a key is configured).
    pub fn release(&mut self, version: &Version) -> Result<Manifest, UpdateError> {
        let key = repo::release_manifest(&self.cfg.product, version.as_str(), &self.cfg.platform);
        self.ensure_source()?;
        let src = self.source.as_deref().expect("ensure_source set it");
        let url = src.url(&key);
        let bytes = match src.manifest(&key, None, manifest::MAX_MANIFEST_BYTES)? {
            Fetched::Data { bytes, .. } => bytes,
            Fetched::NotModified => Vec::new(),
        };
        let key_trusted = self.trusted_key();
        let sig = match &key_trusted {
            Some(_) => src
                .optional(&repo::signature_of(&key), 64 * 1024)?
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            None => None,
        };
        let m = accept(key_trusted.as_ref(), &url, &bytes, sig.as_deref())?;
        if m.product != self.cfg.product || m.platform != self.cfg.platform || m.version != *version
        {
            return Err(UpdateError::Refused {
                url,
                reason: format!(
                    "it is {} {} for {}, not {} {version} for {}",
                    m.product, m.version, m.platform, self.cfg.product, self.cfg.platform
                ),
            });
        }
        Ok(m)
    }

    /// A small signed file of the repository other than a manifest (the release index): its URL and
    /// bytes, None when the repository has none. With `PublicKey` set its signature is checked like a
    /// manifest's.
    pub fn signed_file(
        &mut self,
        key: &str,
        limit: u64,
    ) -> Result<(String, Option<Vec<u8>>), UpdateError> {
        self.ensure_source()?;
        let src = self.source.as_deref().expect("ensure_source set it");
        let url = src.url(key);
        let Some(bytes) = src.optional(key, limit)? else {
            return Ok((url, None));
        };
        if let Some(k) = self.trusted_key() {
            let sig = src
                .optional(&repo::signature_of(key), 64 * 1024)?
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            k.verify(&bytes, sig.as_deref())
                .map_err(|source| UpdateError::Signature {
                    url: url.clone(),
                    source,
                })?;
        }
        Ok((url, Some(bytes)))
    }

    /// The version `remote` should install, given the hold left by a rollback.
    pub fn wanted<'m>(&mut self, remote: &'m Manifest) -> Option<&'m Manifest> {
        if self.state.is_held(remote.version()) {
            return None;
        }
        // A release newer than every held version ends the holds.
        self.state.set_holds(&[]);
        Some(remote)
    }

    /// Scans the install against `target` and the installed manifest.
    pub fn scan_for(&self, target: &Manifest) -> Scan {
        let mode = if self.force_full {
            CheckMode::Full
        } else {
            self.cfg.check
        };
        let paths = plan::paths_to_scan(target, self.installed());
        scan::scan(
            &self.layout.dir,
            paths,
            &self.state.cache,
            mode,
            self.reporter,
        )
    }

    pub fn plan_for(&self, target: &Manifest, scan: &Scan) -> Result<Plan, UpdateError> {
        let mut p = plan::plan(target, self.installed(), scan)?;
        plan::name_kept(&mut p, &self.layout.dir, target);
        Ok(p)
    }

    /// Downloads what `plan` needs.
    pub fn stage(&mut self, plan: &Plan) -> Result<StageStats, UpdateError> {
        self.stage_within(plan, None)
    }

    /// Downloads what `plan` needs, stopping (progress kept) when `budget` runs out first.
    pub fn stage_within(
        &mut self,
        plan: &Plan,
        budget: Option<std::time::Duration>,
    ) -> Result<StageStats, UpdateError> {
        // Only when there is something to change: a normal day writes nothing into the app folder.
        check_writable(&self.layout)?;
        let needed = plan.needed();
        if needed.iter().all(|e| stage::is_staged(&self.layout, e)) {
            return Ok(StageStats {
                reused: needed.len(),
                ..Default::default()
            });
        }
        let reserve = self.full_backup_reserve(plan);
        let product = self.cfg.product.clone();
        let layout = self.layout.clone();
        let reporter = self.reporter;
        self.ensure_source()?;
        let src = self.source.as_deref().expect("ensure_source set it");
        Ok(stage::stage_until(
            &layout,
            src,
            &product,
            &needed,
            reserve.as_ref(),
            reporter,
            budget,
        )?)
    }

    /// The full backup that committing `plan` will write (`BackupMode = full`), so that the download
    /// does not start when the copy cannot fit. Only plans of an installed version make one: a first
    /// install has nothing to copy, and the download plan of a rollback (`from` is None) makes no backup.
    fn full_backup_reserve(&self, plan: &Plan) -> Option<stage::Reserve> {
        let installed = self.installed()?;
        if self.cfg.backup_mode != BackupMode::Full || self.cfg.backups == 0 || plan.from.is_none()
        {
            return None;
        }
        Some(stage::Reserve {
            folder: backup::next_folder(&self.layout.dir, self.cfg.backups),
            bytes: backup::full_copy_bytes(
                &self.layout.dir,
                installed.files.iter().map(|f| f.path.as_str()),
            ),
        })
    }

    /// Counts a download of `target` whose content was not the release's towards its back-off
    /// (`policy`, rule 6); other failures (network, disk) do not count.
    pub fn record_stage_failure(&mut self, target: &Manifest, e: &UpdateError) {
        if matches!(e, UpdateError::Stage(se) if se.is_bad_content()) {
            self.state
                .record_failure(&target.version, crate::state::now_secs());
        }
    }

    /// Downloads what `plan` needs (giving up after `budget`, the download kept) and applies it, with the
    /// result recorded in the state in the same save as the change itself. `launcher` is the running
    /// launcher's path in the manifest when it runs from the install folder and was not just restarted:
    /// when the change replaces that file, [`Applied::replaced_self`] says the launcher must restart.
    /// Content that fails verification counts towards the release's back-off (`policy`, rule 6).
    pub fn carry_out(
        &mut self,
        target: &Manifest,
        plan: &Plan,
        scan: &Scan,
        budget: Option<std::time::Duration>,
        launcher: Option<&str>,
    ) -> Result<Applied, UpdateError> {
        let stats = match self.stage_within(plan, budget) {
            Ok(stats) => stats,
            Err(e) => {
                self.record_stage_failure(target, &e);
                return Err(e);
            }
        };
        let replaced_self = launcher.is_some_and(|p| {
            let me = crate::paths::fold(p); // NTFS and APFS ignore case
            plan.ops.iter().any(|o| {
                // A launcher found at a path the release adds (kept aside) was replaced too.
                crate::paths::fold(&o.path) == me
                    && (o.action == Action::Replace || o.kept_as.is_some())
            })
        });
        // The user's files kept aside are said in the result: they are not lost, but the user must
        // know where to find them.
        let kept = plan.kept_lines(3);
        let from = self.installed().map(|m| m.version.clone());
        self.state.last = Some(crate::state::LastResult {
            time: manifest::format_time(SystemTime::now()),
            from: from.as_ref().map(Version::to_string),
            to: Some(target.version.to_string()),
            result: crate::state::Outcome::Ok { kept: kept.clone() },
        });
        self.state.failures = None;
        let backup = self.commit(target, plan, scan, ChangeKind::Update)?;
        Ok(Applied {
            from,
            to: target.version.clone(),
            downloaded: stats.downloaded,
            files: plan.ops.len(),
            replaced_self,
            backup,
            kept,
        })
    }

    /// Applies a staged plan (journal, backup, renames, state). Returns the backup folder, if one was made.
    pub fn commit(
        &mut self,
        target: &Manifest,
        plan: &Plan,
        scan: &Scan,
        kind: ChangeKind,
    ) -> Result<Option<PathBuf>, UpdateError> {
        let previous = self.installed().cloned();
        // Files that are moved aside: replaced and deleted ones.
        let moved: Vec<&str> = plan
            .ops
            .iter()
            .filter(|o| o.action != Action::Add)
            .map(|o| o.path.as_str())
            .collect();
        let full = self.cfg.backup_mode == BackupMode::Full;
        let keep = if previous.is_none() && moved.is_empty() {
            0 // a first install into an empty folder makes no backup
        } else {
            self.cfg.backups
        };
        let saved: Vec<String> = if full {
            previous
                .iter()
                .flat_map(|m| m.files.iter())
                .filter(|f| scan.sha(&f.path).is_some())
                .map(|f| f.path.clone())
                .collect()
        } else {
            moved.iter().map(|p| p.to_string()).collect()
        };
        let info = BackupInfo {
            from: previous.as_ref().map(|m| m.version.clone()),
            to: target.version.clone(),
            created: manifest::format_time(SystemTime::now()),
            mode: self.cfg.backup_mode,
            added: plan
                .ops
                .iter()
                .filter(|o| o.action == Action::Add)
                .map(|o| o.path.clone())
                .collect(),
            saved,
            manifest: previous.clone(),
            // A start that puts damaged files right keeps the version: its backup is a repair's too.
            kind: Some(
                if previous
                    .as_ref()
                    .is_some_and(|p| p.version == target.version)
                {
                    ChangeKind::Repair
                } else {
                    kind
                },
            ),
            kept: plan
                .kept()
                .map(|(path, kept_as)| backup::KeptFile {
                    path: path.to_string(),
                    kept_as: kept_as.to_string(),
                })
                .collect(),
        };
        let made = backup::make_backup(&self.layout, keep, full, info)?;
        crash_point("backup-ready");
        let changes = Journal::changes_for(
            &plan.ops,
            |_, e| Layout::staged_rel(&e.sha256),
            std::iter::empty(),
        );
        let journal = Journal {
            kind,
            target: target.clone(),
            previous,
            backup: made.receives,
            backup_is_temporary: made.temporary,
            consume: None,
            held: self.state.held.clone(),
            holds: self.state.holds(),
            direction: Direction::Forward,
            changes,
        };
        let cache = self.touch(target, plan, scan)?;
        apply::commit(&self.layout, &journal, &mut self.state, cache)?;
        let keep: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        stage::clean(&self.layout, &keep);
        Ok(made.folder)
    }

    /// Sets the date and executable bit of files whose content is right; returns the stat cache for
    /// `target`'s files, with the scan's fresh entries and the touched files' new stats.
    pub(crate) fn touch(
        &self,
        target: &Manifest,
        plan: &Plan,
        scan: &Scan,
    ) -> Result<std::collections::BTreeMap<String, crate::state::StatEntry>, UpdateError> {
        let mut cache = scan.cache_after(
            &self.state.cache,
            target.files.iter().map(|f| f.path.as_str()),
        );
        for t in &plan.touch {
            apply::set_meta(&fsutil::native(&self.layout.dir, &t.path), t)?;
            if let Some(e) = scan::entry_for(&self.layout.dir, &t.path, &t.sha256) {
                cache.insert(t.path.clone(), e);
            }
        }
        Ok(cache)
    }

    /// Saves the state when the scan refreshed the cache or metadata was fixed (no update needed).
    /// On a normal day (every file answered from the cache, nothing to fix) it writes nothing.
    pub fn settle(
        &mut self,
        target: &Manifest,
        plan: &Plan,
        scan: &Scan,
    ) -> Result<(), UpdateError> {
        let same_release = self.installed().is_some_and(|i| {
            i.version == target.version
                && i.published == target.published
                && i.files.len() == target.files.len()
        });
        let unchanged = same_release
            && self.had_state
            && plan.touch.is_empty()
            && scan.fresh.is_empty()
            && scan.hits == target.files.len()
            && self.state.cache.len() == target.files.len();
        if unchanged {
            return Ok(());
        }
        let cache = self.touch(target, plan, scan)?;
        self.state.cache = cache;
        self.state.installed = Some(target.clone());
        self.save()
    }

    pub fn save(&mut self) -> Result<(), UpdateError> {
        self.state.save(&self.layout)?;
        self.had_state = true;
        Ok(())
    }

    /// True when every file of the installed version is present with the right content.
    pub fn installed_is_complete(&self) -> bool {
        let Some(m) = self.installed() else {
            return false;
        };
        let s = scan::scan(
            &self.layout.dir,
            m.files.iter().map(|f| f.path.as_str()),
            &self.state.cache,
            self.cfg.check,
            &Reporter::silent(),
        );
        m.files
            .iter()
            .all(|f| s.sha(&f.path) == Some(f.sha256.as_str()))
    }
}

/// Fails early, before any download, with the folder and the right needed, when the install folder
/// or its `.launcher` folder does not let the launcher create, rename and delete files.
fn check_writable(layout: &Layout) -> Result<(), UpdateError> {
    for dir in [&layout.meta, &layout.dir] {
        probe_writable(dir, &layout.dir)?;
    }
    Ok(())
}

/// Checks the signature (when a key is trusted), then parses and validates a manifest.
fn accept(
    key: Option<&TrustedKey>,
    url: &str,
    bytes: &[u8],
    sig: Option<&str>,
) -> Result<Manifest, UpdateError> {
    if let Some(k) = key {
        k.verify(bytes, sig)
            .map_err(|source| UpdateError::Signature {
                url: url.to_string(),
                source,
            })?;
    }
    Manifest::from_slice(bytes).map_err(|source| UpdateError::BadManifest {
        url: url.to_string(),
        source,
    })
}
