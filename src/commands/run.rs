//! `launcher [run] [--] [ARGS...]`: update per policy, then start the app.
//!
//! When the update cannot happen (server down or slow, bad data, disk full, no permission) the user
//! gets one line on stderr, the log gets one line, and the installed version starts if it is complete.
//! A first run that cannot install, or a mandatory release that cannot be applied, does not start
//! anything and exits non-zero.

use super::client::{load_config, report_recovery};
use super::Ctx;
use crate::config::Config;
use crate::error::{code, Failure};
use crate::fsutil::human_bytes;
use crate::health::FirstStart;
use crate::launch::{self, Launch};
use crate::manifest::Manifest;
use crate::policy::{self, Asker, Change, Decision, Verdict};
use crate::report;
use crate::selfupdate::{self, Me};
use crate::state::{self, LastResult, Outcome};
use crate::update::{Applied, Session, UpdateError};
use crate::version::Version;
use std::ffi::OsString;
use std::time::Instant;

pub fn run(ctx: &Ctx, app_args: Vec<OsString>) -> anyhow::Result<i32> {
    let cfg = load_config(ctx)?;
    let r = &ctx.reporter;
    // Found before the update: afterwards the running executable's file is in the backup.
    let me = Me::detect();
    if me.restarted {
        r.detail("Running the new launcher after a self-update");
    }
    let mut session = match Session::open(&cfg, r) {
        Ok(s) => s,
        // Cannot even open the install for writing: start what is there, if anything.
        Err(e) => return cannot_open(&cfg, r, app_args, &e),
    };
    report_recovery(&session.recovered, r);
    if cfg.enable {
        let started = Instant::now();
        let decided = policy::decide(&mut session, Asker::Start);
        let mandatory = matches!(&decided, Ok(Decision::Planned(p)) if p.mandatory);
        let result = decided.and_then(|d| update(&mut session, &me, d));
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(Some(applied)) => {
                record_applied(&cfg, &session, &applied, secs);
                if let (true, Some(path)) = (applied.replaced_self, me.path.clone()) {
                    drop(session); // the new launcher takes the lock itself
                    return restart_self(&cfg, r, &path, &applied, app_args);
                }
            }
            Ok(None) => {}
            Err(e) => return update_failed(&cfg, &mut session, e, mandatory, secs, app_args),
        }
    } else if session.installed().is_none() {
        return Err(Failure::new(
            code::NOT_INSTALLED,
            format!(
                "updates are disabled (Enable = 0) and nothing is installed in `{}`",
                cfg.dir.display()
            ),
        )
        .hint("set Enable = 1 for the first run, or install the app into Dir by other means")
        .into());
    }
    let m = session.state.installed.take();
    let watch = m
        .as_ref()
        .is_some_and(|m| crate::health::must_watch(&cfg, &session.state, m));
    session.release_lock(); // before the app starts: it may run for hours
                            // `exec` replaces the process: freeing the session's maps first would only cost time.
    std::mem::forget(session);
    let Some(m) = m else {
        return Err(Failure::new(code::NOT_INSTALLED, "nothing is installed").into());
    };
    if watch {
        let l = launch_for(&cfg, &m, app_args.clone())?;
        record_start(&cfg, &m);
        return match crate::health::first_start(&cfg, r, &m, &l)? {
            FirstStart::Proven(code) => Ok(code),
            FirstStart::RolledBack(previous) => {
                report::record(
                    &cfg,
                    &crate::layout::Layout::new(&cfg.dir),
                    &report::Event {
                        event: "auto-rollback",
                        from: Some(m.version.as_str()),
                        to: Some(previous.version.as_str()),
                        installed: Some(previous.version.as_str()),
                        error: Some("the new version failed its first start (HealthCheck)"),
                        ..Default::default()
                    },
                );
                start(&cfg, &previous, app_args)
            }
        };
    }
    start(&cfg, &m, app_args)
}

pub use crate::error::one_line;

/// The install cannot be opened for writing (locked, read-only, damaged state): says so, logs and
/// reports it, and starts what is installed, if it is whole.
fn cannot_open(
    cfg: &Config,
    r: &crate::progress::Reporter,
    app_args: Vec<OsString>,
    e: &UpdateError,
) -> anyhow::Result<i32> {
    let ro = Session::read_only(cfg, r);
    r.warn(format!("cannot update: {e}"));
    state::log_line(
        &ro.layout,
        ro.state.installed_version(),
        None,
        &format!("failed: {}", one_line(e)),
        0,
        0.0,
    );
    report::record(
        cfg,
        &ro.layout,
        &report::Event {
            event: "update",
            from: ro.state.installed_version(),
            installed: ro.state.installed_version(),
            error: Some(&e.to_string()),
            ..Default::default()
        },
    );
    start_installed(cfg, &ro, app_args, e)
}

/// Logs and reports an applied change.
fn record_applied(cfg: &Config, session: &Session, applied: &Applied, secs: f64) {
    let result = session.state.last.as_ref().map(|l| l.result.to_string());
    let (from, to) = (
        applied.from.as_ref().map(Version::as_str),
        applied.to.as_str(),
    );
    state::log_line(
        &session.layout,
        from,
        Some(to),
        result.as_deref().unwrap_or("ok"),
        applied.downloaded,
        secs,
    );
    report::record(
        cfg,
        &session.layout,
        &report::Event {
            event: match &applied.from {
                None => "install",
                Some(f) if *f == applied.to => "repair",
                Some(_) => "update",
            },
            from,
            to: Some(to),
            installed: Some(to),
            bytes: applied.downloaded,
            seconds: secs,
            ..Default::default()
        },
    );
}

/// The change replaced the running launcher: starts the new one with the same arguments and passes
/// its exit code on. When it cannot start, gives up on this release: puts the previous version back,
/// launcher included, so the next double-click finds a launcher that starts (the hold stops a loop).
fn restart_self(
    cfg: &Config,
    r: &crate::progress::Reporter,
    path: &std::path::Path,
    applied: &Applied,
    app_args: Vec<OsString>,
) -> anyhow::Result<i32> {
    r.info("The launcher was updated; restarting it");
    let e = match selfupdate::restart(path) {
        Ok(code) => return Ok(code),
        Err(e) => e,
    };
    r.warn(format!(
        "{}; rolling back to the previous version",
        one_line(&e)
    ));
    let mut s = Session::open(cfg, r)?;
    let rolled = crate::rollback::rollback(&mut s);
    if let Err(rb) = &rolled {
        r.warn(format!("the rollback failed too: {}", one_line(rb)));
    }
    let why = one_line(&e);
    report::record(
        cfg,
        &s.layout,
        &report::Event {
            event: "auto-rollback",
            from: Some(applied.to.as_str()),
            to: rolled.as_ref().ok().map(|rb| rb.to.as_str()),
            installed: s.state.installed_version(),
            error: Some(&why),
            ..Default::default()
        },
    );
    let m = s.installed().cloned();
    drop(s);
    match m {
        Some(m) => start(cfg, &m, app_args),
        None => Err(e.into()),
    }
}

/// An update failed: logs, reports and records it, then starts the installed version when it is
/// whole and the release was optional; a mandatory release or a failed first install starts nothing.
fn update_failed(
    cfg: &Config,
    session: &mut Session,
    e: UpdateError,
    mandatory: bool,
    secs: f64,
    app_args: Vec<OsString>,
) -> anyhow::Result<i32> {
    let r = session.reporter;
    // A change that failed proved nothing: no first start is watched for it.
    session.state.unproven = None;
    let from = session.state.installed_version().map(str::to_string);
    state::log_line(
        &session.layout,
        from.as_deref(),
        None,
        &format!("failed: {}", one_line(&e)),
        0,
        secs,
    );
    report::record(
        cfg,
        &session.layout,
        &report::Event {
            event: if from.is_none() { "install" } else { "update" },
            from: from.as_deref(),
            installed: from.as_deref(),
            error: Some(&e.to_string()),
            seconds: secs,
            ..Default::default()
        },
    );
    session.state.last = Some(LastResult {
        time: crate::manifest::format_time(std::time::SystemTime::now()),
        from: from.clone(),
        to: None,
        result: Outcome::Failed(one_line(&e)),
    });
    if session.had_state {
        let _ = session.save();
    }
    if mandatory {
        let hint = e.hint();
        return Err(anyhow::Error::new(e).context(
            Failure::new(
                code::MANDATORY,
                "a mandatory update could not be applied, so the old version is not started",
            )
            .hint_from(hint),
        ));
    }
    if session.installed().is_none() {
        let exit = if e.is_refusal() {
            code::REFUSED
        } else {
            code::NOT_INSTALLED
        };
        let hint = e.hint();
        return Err(anyhow::Error::new(e).context(
            Failure::new(
                exit,
                "the app is not installed yet and could not be installed",
            )
            .hint_from(hint),
        ));
    }
    r.warn(format!("could not update: {}", one_line(&e)));
    start_installed(cfg, session, app_args, &e)
}

/// One update attempt: asks the policy what the install becomes, reports it, and carries it out.
/// `Ok(None)`: nothing was applied (up to date, held, backed off, waiting for the server).
fn update(s: &mut Session, me: &Me, decided: Decision) -> Result<Option<Applied>, UpdateError> {
    let r = s.reporter;
    let p = match decided {
        Decision::Wait { seconds, installed } => {
            r.detail(format!(
                "The server asked not to be contacted for {seconds} s more; starting {installed}"
            ));
            return Ok(None);
        }
        Decision::Planned(p) => p,
    };
    if p.held {
        r.detail(format!(
            "Holding version {} after a rollback; {} is not newer",
            s.state.installed_version().unwrap_or("?"),
            p.offered.version
        ));
        report::record_daily(
            s.cfg,
            &s.layout,
            &report::Event {
                event: "hold",
                to: Some(p.offered.version.as_str()),
                installed: s.state.installed_version(),
                ..Default::default()
            },
        );
    }
    if let Some(pl) = p.rollout.as_ref().filter(|pl| !pl.inside) {
        r.detail(format!(
            "This install is {}; it stays on {}",
            pl.describe(&p.offered.version),
            p.target.version
        ));
    }
    let (change, budget) = match p.verdict {
        Verdict::UpToDate => {
            s.settle(&p.target, &p.plan, &p.scan)?;
            r.detail(format!(
                "Up to date: {} {}",
                p.target.product, p.target.version
            ));
            return Ok(None);
        }
        Verdict::BackedOff { count, wait } => {
            r.warn(format!(
                "the update to {} failed {count} times with bad content from the server; the next attempt is in {} min",
                p.target.version,
                (wait + 59) / 60
            ));
            state::log_line(
                &s.layout,
                p.from.as_ref().map(Version::as_str),
                Some(p.target.version.as_str()),
                &format!("backed off: {count} failures, next attempt in {wait} s"),
                0,
                0.0,
            );
            report::record_daily(
                s.cfg,
                &s.layout,
                &report::Event {
                    event: "backoff",
                    from: p.from.as_ref().map(Version::as_str),
                    to: Some(p.target.version.as_str()),
                    installed: p.from.as_ref().map(Version::as_str),
                    error: Some(&format!(
                        "{count} failures with bad content from the server"
                    )),
                    ..Default::default()
                },
            );
            return Ok(None);
        }
        Verdict::OutsideHours { opens } => {
            r.info(format!(
                "Update to {} waits for the update window ({}, {}); starting {}",
                p.target.version,
                s.cfg
                    .update_window
                    .as_ref()
                    .map(|w| w.describe())
                    .unwrap_or_default(),
                crate::hours::when_opens(opens),
                p.from
                    .as_ref()
                    .map_or("the installed version", Version::as_str)
            ));
            return Ok(None);
        }
        Verdict::Change { change, budget } => (change, budget),
    };
    r.info(format!(
        "{} {} {}: {} (download {})",
        change.verb(),
        p.target.product,
        p.target.version,
        p.plan.summary(),
        human_bytes(p.plan.download_bytes())
    ));
    let launcher = (!me.restarted)
        .then(|| me.manifest_path(&s.layout.dir))
        .flatten();
    // Saved with the change itself: the first start of the new version is watched (`health`).
    if s.cfg.health_check.is_some() && change == Change::Update {
        s.state.unproven = Some(p.target.version.to_string());
    }
    let applied = s.carry_out(&p.target, &p.plan, &p.scan, budget, launcher.as_deref())?;
    if change != Change::Repair {
        if let Err(e) = crate::hooks::after_update(&s.layout, r, &p.target, applied.from.as_ref()) {
            return Err(undo_update(s, &e, applied.from.is_some()));
        }
    }
    for k in &applied.kept {
        r.warn(k);
    }
    let backup_note = applied
        .backup
        .as_ref()
        .map(|b| format!("; previous files in `{}`", b.display()))
        .unwrap_or_default();
    r.info(format!(
        "{} {} {}: {} files changed, {} downloaded{backup_note}",
        if change == Change::Install {
            "Installed"
        } else {
            "Updated"
        },
        p.target.product,
        p.target.version,
        applied.files,
        human_bytes(applied.downloaded)
    ));
    Ok(Some(applied))
}

/// A release applied but refused by its post-update hook: rolls it back (which holds it) and says so;
/// the caller starts the previous version. A first install has no previous version: it stays.
fn undo_update(s: &mut Session, e: &crate::hooks::HookError, had_previous: bool) -> UpdateError {
    let cause = one_line(e);
    if !had_previous {
        s.reporter.warn(format!(
            "{cause}; there is no previous version to roll back to"
        ));
        return UpdateError::RollbackFailed {
            cause,
            rollback: "nothing was installed before".to_string(),
        };
    }
    match crate::rollback::rollback(s) {
        Ok(rb) => UpdateError::RolledBack {
            cause,
            from: rb.from,
            to: rb.to,
        },
        Err(rb) => UpdateError::RollbackFailed {
            cause,
            rollback: one_line(&rb),
        },
    }
}

fn start_installed(
    cfg: &Config,
    s: &Session,
    app_args: Vec<OsString>,
    why: &UpdateError,
) -> anyhow::Result<i32> {
    let Some(m) = s.installed().cloned() else {
        return Err(Failure::new(
            code::NOT_INSTALLED,
            format!("the app is not installed yet and could not be installed: {why}"),
        )
        .hint_from(why.hint())
        .into());
    };
    if !s.installed_is_complete() {
        return Err(Failure::new(
            code::NOT_INSTALLED,
            format!("the installed version {} is incomplete and could not be repaired: {why}", m.version),
        )
        .hint("run `launcher verify` to see what is damaged; start again when the server is reachable")
        .into());
    }
    s.reporter
        .info(format!("Starting the installed version {}", m.version));
    start(cfg, &m, app_args)
}

/// Starts the app of manifest `m` with the ini's arguments and then the user's.
pub fn start(cfg: &Config, m: &Manifest, app_args: Vec<OsString>) -> anyhow::Result<i32> {
    let l = launch_for(cfg, m, app_args)?;
    record_start(cfg, m);
    Ok(launch::launch(&l)?)
}

/// Spools the report of a start (as `ReportStarts` asks) and lets the background sender send it.
pub fn record_start(cfg: &Config, m: &Manifest) {
    let layout = crate::layout::Layout::new(&cfg.dir);
    report::record_start(
        cfg,
        &layout,
        &report::Event {
            event: "start",
            installed: Some(m.version.as_str()),
            ..Default::default()
        },
    );
    report::send_soon(cfg, &layout);
}

/// What starting the app of manifest `m` runs: the executable, the ini's arguments and the user's.
pub fn launch_for(cfg: &Config, m: &Manifest, app_args: Vec<OsString>) -> anyhow::Result<Launch> {
    let exe_rel = cfg
        .executable
        .clone()
        .unwrap_or_else(|| m.executable.clone());
    if exe_rel.is_empty() {
        return Err(Failure::new(
            code::CONFIG,
            "the release names no executable and launcher.ini sets none",
        )
        .hint("set Executable in the [App] section of launcher.ini")
        .into());
    }
    let executable = crate::fsutil::native(&cfg.dir, &exe_rel.replace('\\', "/"));
    let mut args: Vec<OsString> = cfg.arguments.iter().map(OsString::from).collect();
    args.extend(app_args);
    Ok(Launch {
        executable,
        args,
        cwd: cfg.working_dir.clone().unwrap_or_else(|| cfg.dir.clone()),
    })
}
