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
use crate::launch::{self, Launch};
use crate::manifest::Manifest;
use crate::report;
use crate::selfupdate::{self, Me};
use crate::source::SourceError;
use crate::state::{self, LastResult};
use crate::update::{Session, UpdateError};
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
        Err(e) => {
            // Cannot even open the install for writing: start what is there, if anything.
            let ro = Session::read_only(&cfg, r);
            r.warn(format!("cannot update: {e}"));
            state::log_line(
                &ro.layout,
                ro.state.installed_version(),
                None,
                &format!("failed: {e}"),
                0,
                0.0,
            );
            report::record(
                &cfg,
                &ro.layout,
                &report::Event {
                    event: "update",
                    from: ro.state.installed_version(),
                    installed: ro.state.installed_version(),
                    error: Some(&e.to_string()),
                    ..Default::default()
                },
            );
            return start_installed(&cfg, &ro, app_args, &e.to_string());
        }
    };
    report_recovery(&session.recovered, r);
    if cfg.enable {
        let started = Instant::now();
        let mut mandatory = false;
        let result = update(&mut session, &mut mandatory, &me);
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(Some((to, bytes, replaced_self))) => {
                let from = session.state.last.as_ref().and_then(|l| l.from.clone());
                state::log_line(
                    &session.layout,
                    from.as_deref(),
                    Some(&to),
                    "ok",
                    bytes,
                    secs,
                );
                report::record(
                    &cfg,
                    &session.layout,
                    &report::Event {
                        event: match from.as_deref() {
                            None => "install",
                            Some(f) if f == to => "repair",
                            Some(_) => "update",
                        },
                        from: from.as_deref(),
                        to: Some(&to),
                        installed: Some(&to),
                        bytes,
                        seconds: secs,
                        ..Default::default()
                    },
                );
                if let (true, Some(path)) = (replaced_self, me.path.clone()) {
                    drop(session); // the new launcher takes the lock itself
                    r.info("The launcher was updated; restarting it");
                    match selfupdate::restart(&path) {
                        Ok(code) => return Ok(code),
                        Err(e) => {
                            // Give up on this release: put the previous version back, launcher included,
                            // so the next double-click finds a launcher that starts; the hold stops a loop.
                            r.warn(format!(
                                "{}; rolling back to the previous version",
                                one_line(&e)
                            ));
                            let mut s = Session::open(&cfg, r)?;
                            let rolled = crate::rollback::rollback(&mut s);
                            if let Err(rb) = &rolled {
                                r.warn(format!("the rollback failed too: {}", one_line(rb)));
                            }
                            let why = one_line(&e);
                            report::record(
                                &cfg,
                                &s.layout,
                                &report::Event {
                                    event: "auto-rollback",
                                    from: Some(&to),
                                    to: rolled.as_ref().ok().map(|rb| rb.to.as_str()),
                                    installed: s.state.installed_version(),
                                    error: Some(&why),
                                    ..Default::default()
                                },
                            );
                            let m = s.installed().cloned();
                            drop(s);
                            if let Some(m) = m {
                                return start(&cfg, &m, app_args);
                            }
                            return Err(e.into());
                        }
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                let from = session.state.installed_version().map(str::to_string);
                state::log_line(
                    &session.layout,
                    from.as_deref(),
                    None,
                    &format!("failed: {e}"),
                    0,
                    secs,
                );
                report::record(
                    &cfg,
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
                    result: format!("failed: {e}"),
                });
                if session.had_state {
                    let _ = session.save();
                }
                if mandatory {
                    return Err(anyhow::Error::new(e).context(Failure::new(
                        code::MANDATORY,
                        "a mandatory update could not be applied, so the old version is not started",
                    ).hint("check the network and the log `.launcher/launcher.log`, then start again; IT can see the details with `launcher status`")));
                }
                let exit = if e.is_refusal() {
                    code::REFUSED
                } else {
                    code::NOT_INSTALLED
                };
                if session.installed().is_none() {
                    return Err(anyhow::Error::new(e).context(
                        Failure::new(exit, "the app is not installed yet and could not be installed")
                            .hint("check Server in launcher.ini and that the update server is reachable, then start again"),
                    ));
                }
                r.warn(format!("could not update: {}", one_line(&e)));
                return start_installed(&cfg, &session, app_args, &e.to_string());
            }
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
    session.release_lock(); // before the app starts: it may run for hours
                            // `exec` replaces the process: freeing the session's maps first would only cost time.
    std::mem::forget(session);
    let Some(m) = m else {
        return Err(Failure::new(code::NOT_INSTALLED, "nothing is installed").into());
    };
    start(&cfg, &m, app_args)
}

pub use crate::error::one_line;

/// The longest `Retry-After` honoured: a day.
const MAX_RETRY_AFTER: i64 = 86_400;

/// One update attempt: Ok(Some((version, bytes, replaced_self))) when something was applied;
/// `replaced_self` is true when the running launcher's own file was replaced and it must restart.
fn update(
    s: &mut Session,
    mandatory: &mut bool,
    me: &Me,
) -> Result<Option<(String, u64, bool)>, UpdateError> {
    let r = s.reporter;
    let now = state::now_secs();
    if let (Some(at), Some(i)) = (s.state.retry_at, s.installed()) {
        // Honour the server's Retry-After (a clock set back does not block: `at` is at most a day ahead).
        if now < at && at - now <= MAX_RETRY_AFTER {
            r.detail(format!(
                "The server asked not to be contacted for {} s more; starting {}",
                at - now,
                i.version
            ));
            return Ok(None);
        }
    }
    let remote = match s.remote(true) {
        Err(UpdateError::Source(SourceError::Status {
            retry_after: Some(secs),
            url,
            status,
        })) => {
            s.state.retry_at = Some(now + secs.min(MAX_RETRY_AFTER as u64) as i64);
            return Err(UpdateError::Source(SourceError::Status {
                retry_after: Some(secs),
                url,
                status,
            }));
        }
        other => other?,
    };
    s.state.retry_at = None;
    *mandatory = remote.manifest.mandatory
        && s.installed()
            .is_none_or(|i| i.version() < remote.manifest.version());
    let target: Manifest = match s.wanted(&remote.manifest) {
        Some(m) => m.clone(),
        None => {
            r.detail(format!(
                "Holding version {} after a rollback; {} is not newer",
                s.state.installed_version().unwrap_or("?"),
                remote.manifest.version
            ));
            report::record_daily(
                s.cfg,
                &s.layout,
                &report::Event {
                    event: "hold",
                    to: Some(&remote.manifest.version),
                    installed: s.state.installed_version(),
                    ..Default::default()
                },
            );
            *mandatory = false;
            match s.installed() {
                Some(i) => i.clone(),
                None => remote.manifest.clone(),
            }
        }
    };
    let scan = s.scan_for(&target);
    let plan = s.plan_for(&target, &scan)?;
    if plan.is_empty() {
        s.settle(&target, &plan, &scan)?;
        r.detail(format!("Up to date: {} {}", target.product, target.version));
        return Ok(None);
    }
    let from = s.installed().map(|m| m.version.clone());
    let first = from.is_none();
    let verb = if first {
        "Installing"
    } else if from.as_deref() == Some(target.version.as_str()) {
        "Repairing"
    } else {
        "Updating to"
    };
    // A release whose content keeps failing verification is not downloaded again on every start.
    let now = state::now_secs();
    if !*mandatory && !first {
        if let Some((count, wait)) = s.state.backoff(&target.version, now) {
            r.warn(format!(
                "the update to {} failed {count} times with bad content from the server; the next attempt is in {} min",
                target.version,
                (wait + 59) / 60
            ));
            state::log_line(
                &s.layout,
                from.as_deref(),
                Some(&target.version),
                &format!("backed off: {count} failures, next attempt in {wait} s"),
                0,
                0.0,
            );
            report::record_daily(
                s.cfg,
                &s.layout,
                &report::Event {
                    event: "backoff",
                    from: from.as_deref(),
                    to: Some(&target.version),
                    installed: from.as_deref(),
                    error: Some(&format!(
                        "{count} failures with bad content from the server"
                    )),
                    ..Default::default()
                },
            );
            return Ok(None);
        }
    }
    r.info(format!(
        "{verb} {} {}: {} (download {})",
        target.product,
        target.version,
        plan.summary(),
        human_bytes(plan.download_bytes())
    ));
    let stats = match s.stage(&plan) {
        Ok(stats) => stats,
        Err(e) => {
            if matches!(&e, UpdateError::Stage(se) if se.is_bad_content()) {
                s.state.record_failure(&target.version, now);
            }
            return Err(e);
        }
    };
    let self_rel = me.manifest_path(&s.layout.dir);
    let replaced_self = !me.restarted
        && self_rel.is_some_and(|p| {
            let me = crate::paths::fold(&p); // NTFS and APFS ignore case
            plan.ops.iter().any(|o| {
                crate::paths::fold(&o.path) == me && o.action == crate::plan::Action::Replace
            })
        });
    let backup = s.commit(&target, &plan, &scan, "update")?;
    s.state.last = Some(LastResult {
        time: crate::manifest::format_time(std::time::SystemTime::now()),
        from: from.clone(),
        to: Some(target.version.clone()),
        result: "ok".into(),
    });
    s.state.failures = None;
    s.save()?;
    let backup_note = backup
        .map(|b| format!("; previous files in `{}`", b.display()))
        .unwrap_or_default();
    r.info(format!(
        "{} {} {}: {} files changed, {} downloaded{backup_note}",
        if first { "Installed" } else { "Updated" },
        target.product,
        target.version,
        plan.ops.len(),
        human_bytes(stats.downloaded)
    ));
    Ok(Some((
        target.version.clone(),
        stats.downloaded,
        replaced_self,
    )))
}

fn start_installed(
    cfg: &Config,
    s: &Session,
    app_args: Vec<OsString>,
    why: &str,
) -> anyhow::Result<i32> {
    let Some(m) = s.installed().cloned() else {
        return Err(Failure::new(
            code::NOT_INSTALLED,
            format!("the app is not installed yet and could not be installed: {why}"),
        )
        .hint("check Server in launcher.ini and that the update server is reachable, then start again")
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
    let l = Launch {
        executable,
        args,
        cwd: cfg.working_dir.clone().unwrap_or_else(|| cfg.dir.clone()),
    };
    let layout = crate::state::Layout::new(&cfg.dir);
    report::record_start(
        cfg,
        &layout,
        &report::Event {
            event: "start",
            installed: Some(&m.version),
            ..Default::default()
        },
    );
    report::send_soon(cfg, &layout);
    Ok(launch::launch(&l)?)
}
