//! Update policy: the one place that decides what an install becomes now, and why.
//!
//! [`decide`] is asked by every command that looks at the server — a start (`run`), `fetch` and
//! `check` — so they agree by construction. In order, it applies these rules:
//!
//! 1. **Retry-After.** When the server asked not to be contacted until a time (`503`/`429` with
//!    `Retry-After`, at most a day ahead), a start and a fetch do not ask it before then. `check` asks
//!    anyway: a person runs it to see the answer, and it changes nothing.
//! 2. **The channel's release**, verified as `update::Session::remote` does; a `Retry-After` in the
//!    answer is recorded here for rule 1.
//! 3. **Holds.** A version that was rolled back from is not reinstalled until a release newer than every
//!    held version appears; until then the target is the installed version (which may still need a
//!    repair).
//! 4. **Mandatory.** A release marked mandatory and newer than the installed version must be applied
//!    before the app starts; the commands turn a failure into exit code 5.
//! 5. **Pin** (`Pin`; `pin`). A pinned install takes the newest release of its line, from the channel
//!    or, when the channel moved on, from the channel's signed release index; the rollout of the
//!    channel's release does not apply to it. A pin that matches nothing keeps the installed version
//!    (with a warning); with nothing installed it is an error.
//!    **Staged rollout** (`rollout`). While the channel's release is rolled out to a share of the
//!    installs, an install outside the share stays on what it has, or (a first install, or one older
//!    than the release before the rollout) takes that previous release, fetched and verified like the
//!    channel's (`Session::release`). The install's id is made here on its first start that asks.
//! 6. **The plan** against what is on disk: nothing to change is "up to date".
//! 7. **Update hours** (`UpdateHours`, `UpdateDays`; `hours`). Outside the window an update to another
//!    version waits: nothing is downloaded or applied, and the installed version starts. A mandatory
//!    release, a first install and a repair of the installed version happen at any hour: the first
//!    blocks work by design, the others have no whole version to start instead. `check` still asks
//!    and says when the window opens.
//! 8. **Back-off.** A release whose content failed verification again and again is not downloaded on
//!    every start; it waits out a growing delay (`State::backoff`). Not for a first install or a
//!    mandatory release, which have nothing else to start.
//! 9. **Download budget.** A start may download an optional update for at most `DownloadTimeout` when
//!    the installed version is whole, so the user gets their app; a first install, a damaged install
//!    and a mandatory release have no whole version to start instead, and a fetch has nobody waiting.
//!
//! Each IT control of issue 13 (pin, rollout, update hours) is one rule here. Commands act on the
//! [`Decision`] and report it. The bookkeeping the rules read is kept where it happens: the Retry-After
//! time here, the failure count behind the back-off where a download fails (`Session::carry_out`).

use crate::manifest::Manifest;
use crate::plan::Plan;
use crate::rollout::{self, Placement};
use crate::scan::Scan;
use crate::state::{self, State};
use crate::update::{Session, UpdateError};
use crate::version::Version;
use std::time::Duration;

/// The longest `Retry-After` honoured: a day (a longer one, or a clock set back, does not block).
pub const MAX_RETRY_AFTER: i64 = crate::source::MAX_RETRY_AFTER as i64;

/// Who asks, because the rules differ a little between them (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// A start of the app: update, then launch.
    Start,
    /// `launcher fetch` (by hand or scheduled): download now, apply at the next start.
    Fetch,
    /// `launcher check`: say what a start would do; changes nothing.
    Check,
}

/// What the install becomes now.
#[derive(Debug)]
pub enum Decision {
    /// The server asked not to be contacted for `seconds` more; nothing was asked. `installed` starts.
    Wait { seconds: i64, installed: Version },
    /// The server was asked; what to do with its answer.
    Planned(Box<Planned>),
}

/// A decision made with the channel's release in hand.
#[derive(Debug)]
pub struct Planned {
    /// The channel's newest release.
    pub offered: Manifest,
    /// What the install becomes: the offered release, or the installed version while it is held.
    pub target: Manifest,
    /// The installed version, when there is one.
    pub from: Option<Version>,
    /// The offered release is held (rolled back from), so the target is the installed version.
    pub held: bool,
    /// Where this install stands when the offered release is being rolled out to a share.
    pub rollout: Option<Placement>,
    /// The release must be applied before the app may start.
    pub mandatory: bool,
    pub scan: Scan,
    pub plan: Plan,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to change.
    UpToDate,
    /// Download what the plan needs (a start gives up after `budget`, the download kept) and apply it.
    Change {
        change: Change,
        budget: Option<Duration>,
    },
    /// The release's content failed verification `count` times; the next attempt is in `wait` s.
    BackedOff { count: u32, wait: i64 },
    /// An optional update outside `UpdateHours`/`UpdateDays`: nothing happens before the window
    /// opens at `opens` (seconds since the epoch; None: the window never opens).
    OutsideHours { opens: Option<i64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing is installed yet.
    Install,
    /// Another version.
    Update,
    /// The same version, with damaged or missing files put right.
    Repair,
}

impl Change {
    /// The verb said before the change: "Installing demo 2.0".
    pub fn verb(self) -> &'static str {
        match self {
            Change::Install => "Installing",
            Change::Update => "Updating to",
            Change::Repair => "Repairing",
        }
    }
}

/// Decides what the install of `s` becomes now (see the module doc for the rules, in order).
pub fn decide(s: &mut Session, asker: Asker) -> Result<Decision, UpdateError> {
    let now = state::now_secs();
    if asker != Asker::Check {
        if let (Some(seconds), Some(i)) = (retry_wait(&s.state, now), s.installed()) {
            return Ok(Decision::Wait {
                seconds,
                installed: i.version.clone(),
            });
        }
    }
    let remote = match s.remote(asker != Asker::Check) {
        Ok(r) => r,
        Err(e) => {
            record_retry_after(&mut s.state, &e, now);
            return Err(e);
        }
    };
    s.state.retry_at = None;
    let offered = remote.manifest;
    if s.state.install_id.is_none() && asker != Asker::Check {
        s.state.install_id = Some(rollout::new_install_id());
        if s.had_state {
            s.save()?;
        }
    }
    let from = s.installed().map(|m| m.version.clone());
    let placement = match s.cfg.pin {
        Some(_) => None,
        None => rollout::placement(&offered, s.state.install_id.as_deref()),
    };
    // The release this install may take: the pinned one, the offered one, the one before a rollout,
    // or (None) none.
    let cfg = s.cfg;
    let candidate = match (&cfg.pin, &placement) {
        (Some(pin), _) => match crate::pin::choose(s, pin, &offered) {
            Ok(m) => Some(m),
            Err(e @ UpdateError::PinMatchesNothing { .. }) if from.is_some() => {
                s.reporter
                    .warn(format!("{e}; the installed version starts"));
                None
            }
            Err(e) => return Err(e),
        },
        (None, Some(p)) if !p.inside => match (&p.previous, &from) {
            (Some(prev), Some(i)) if i >= prev => None,
            (Some(prev), _) => Some(s.release(prev)?),
            (None, Some(_)) => None,
            // The channel had nothing before: a first install takes what there is.
            (None, None) => Some(offered.clone()),
        },
        (None, _) => Some(offered.clone()),
    };
    let mandatory_release = candidate
        .as_ref()
        .is_some_and(|c| c.mandatory && s.installed().is_none_or(|i| i.version() < c.version()));
    let (target, held) = match &candidate {
        // `candidate` is None only when something is installed (see above).
        None => (s.installed().unwrap_or(&offered).clone(), false),
        Some(c) => match s.wanted(c) {
            Some(m) => (m.clone(), false),
            None => (s.installed().unwrap_or(c).clone(), true),
        },
    };
    let mandatory = mandatory_release && !held;
    let scan = s.scan_for(&target);
    let plan = s.plan_for(&target, &scan)?;
    let verdict = if plan.is_empty() {
        Verdict::UpToDate
    } else {
        let change = match &from {
            None => Change::Install,
            Some(v) if *v == target.version => Change::Repair,
            Some(_) => Change::Update,
        };
        let window = s.cfg.update_window.as_ref();
        let closed =
            change == Change::Update && !mandatory && window.is_some_and(|w| !w.is_open(now));
        match s.state.backoff(&target.version, now) {
            _ if closed => Verdict::OutsideHours {
                opens: window.and_then(|w| w.next_open(now)),
            },
            Some((count, wait)) if !mandatory && change != Change::Install => {
                Verdict::BackedOff { count, wait }
            }
            _ => {
                let installed_whole = s.installed().is_some_and(|m| {
                    m.files
                        .iter()
                        .all(|f| scan.sha(&f.path) == Some(f.sha256.as_str()))
                });
                let budget = match asker {
                    Asker::Start if installed_whole && !mandatory => s.cfg.download_timeout,
                    _ => None,
                };
                Verdict::Change { change, budget }
            }
        }
    };
    Ok(Decision::Planned(Box::new(Planned {
        offered,
        target,
        from,
        held,
        rollout: placement,
        mandatory,
        scan,
        plan,
        verdict,
    })))
}

/// Seconds left of a `Retry-After` the server gave, when it is still in force.
fn retry_wait(state: &State, now: i64) -> Option<i64> {
    let at = state.retry_at?;
    (now < at && at - now <= MAX_RETRY_AFTER).then_some(at - now)
}

/// Records the server's `Retry-After` (cut to a day) so that the next starts wait for it.
fn record_retry_after(state: &mut State, e: &UpdateError, now: i64) {
    if let UpdateError::Source(se) = e {
        if let Some(r) = se.retry_after() {
            // `secs` is already cut to a day: the message shows the wait that is honoured.
            state.retry_at = Some(now + (r.secs as i64).min(MAX_RETRY_AFTER));
        }
    }
}
