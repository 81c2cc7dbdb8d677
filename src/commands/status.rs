//! `launcher status [--json]`: what is installed, what the server has, backups, the last update.

use super::client::load_config;
use super::Ctx;
use crate::backup;
use crate::config::Config;
use crate::error::code;
use crate::state::LastResult;
use crate::update::Session;
use crate::version::Version;
use serde::Serialize;

/// Everything `status` reports, gathered once; `--json` prints it as it is (field names are what
/// scripts read), the text form is drawn from the same fields.
#[derive(Serialize)]
struct Status {
    launcher: &'static str,
    config: String,
    dir: String,
    server: String,
    product: String,
    channel: String,
    platform: String,
    installed: Option<Version>,
    published: Option<String>,
    expires: Option<String>,
    expired: Option<bool>,
    files: Option<usize>,
    server_version: Option<Version>,
    server_error: Option<String>,
    held: Option<String>,
    holds: Vec<String>,
    rollback_to: Option<Version>,
    backups: Vec<Backup>,
    last_update: Option<LastResult>,
    signed_updates_only: bool,
    update_window: Option<UpdateWindow>,
    install_id: Option<String>,
    /// `Pin` from launcher.ini.
    pin: Option<String>,
    /// The time of day of this ini's scheduled `launcher fetch` (`launcher schedule`), if any.
    scheduled_fetch: Option<String>,
    /// Where this install stands when the server's release is being rolled out to a share.
    rollout: Option<crate::rollout::Placement>,
}

/// `UpdateHours` / `UpdateDays` now: open or not, and when it opens next.
#[derive(Serialize)]
struct UpdateWindow {
    window: String,
    open: bool,
    /// Local time with the zone's offset, when closed.
    next_open: Option<String>,
    next_open_epoch: Option<i64>,
}

#[derive(Serialize)]
struct Backup {
    folder: Option<String>,
    from: Option<Version>,
    to: Option<Version>,
    created: Option<String>,
    files: Option<usize>,
    kind: Option<&'static str>,
    rollback_target: bool,
}

pub fn run(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let cfg = load_config(ctx)?;
    let mut s = Session::read_only(&cfg, &ctx.reporter);
    let status = gather(&cfg, &mut s);
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        // The server's answer and the last result quote what a server sent; none of it may drive the
        // terminal.
        print!("{}", crate::text::escape_output(&text(&status)));
    }
    Ok(code::OK)
}

fn gather(cfg: &Config, s: &mut Session) -> Status {
    let mut rollout = None;
    let (server_version, server_error) = if cfg.enable {
        match s.remote(false) {
            Ok(r) => {
                rollout = crate::rollout::placement(&r.manifest, s.state.install_id.as_deref());
                (Some(r.manifest.version), None)
            }
            Err(e) => (None, Some(super::run::one_line(&e))),
        }
    } else {
        (None, Some("updates are disabled (Enable = 0)".to_string()))
    };
    let installed = s.installed();
    // The backup `rollback` would restore: repair backups and backups of the installed version are
    // skipped (`backup::rollback_target`).
    let target = installed.and_then(|m| backup::rollback_target(&cfg.dir, &m.version));
    let rollback_to = target
        .as_ref()
        .and_then(|(_, i)| i.manifest.as_ref().map(|m| m.version.clone()));
    let target = target.map(|(p, _)| p);
    let backups = backup::list(&cfg.dir)
        .into_iter()
        .map(|(_, p)| {
            let info = backup::read_info(&p).ok();
            Backup {
                folder: p.file_name().map(|n| n.to_string_lossy().into_owned()),
                from: info.as_ref().and_then(|i| i.from.clone()),
                to: info.as_ref().map(|i| i.to.clone()),
                created: info.as_ref().map(|i| i.created.clone()),
                files: info.as_ref().map(|i| i.saved.len()),
                kind: info
                    .as_ref()
                    .map(|i| if i.is_repair() { "repair" } else { "update" }),
                rollback_target: target.as_deref() == Some(p.as_path()),
            }
        })
        .collect();
    Status {
        launcher: env!("CARGO_PKG_VERSION"),
        config: cfg.file.display().to_string(),
        dir: cfg.dir.display().to_string(),
        server: cfg.server.clone(),
        product: cfg.product.clone(),
        channel: cfg.channel.clone(),
        platform: cfg.platform.clone(),
        installed: installed.map(|m| m.version.clone()),
        published: installed.map(|m| m.published.clone()),
        expires: installed.and_then(|m| m.expires.clone()),
        expired: installed.map(|m| m.is_expired(std::time::SystemTime::now())),
        files: installed.map(|m| m.files.len()),
        server_version,
        server_error,
        held: s.state.held.clone(),
        holds: s.state.holds(),
        rollback_to,
        backups,
        last_update: s.state.last.clone(),
        signed_updates_only: cfg.public_key.is_some(),
        install_id: s.state.install_id.clone(),
        pin: cfg.pin.clone(),
        // A scheduler that cannot be asked has no task of ours to show.
        scheduled_fetch: crate::schedule::show(&cfg.file).ok().flatten(),
        rollout,
        update_window: cfg.update_window.as_ref().map(|w| {
            let now = crate::state::now_secs();
            let open = w.is_open(now);
            let next = (!open).then(|| w.next_open(now)).flatten();
            UpdateWindow {
                window: w.describe(),
                open,
                next_open: next
                    .and_then(crate::hours::LocalTime::at)
                    .map(|t| t.display()),
                next_open_epoch: next,
            }
        }),
    }
}

/// The text form: one `key   value` line per fact.
fn text(st: &Status) -> String {
    let mut out = String::new();
    let mut line = |k: &str, val: String| out.push_str(&format!("{k:<14} {val}\n"));
    line("launcher", st.launcher.to_string());
    line("config", format!("`{}`", st.config));
    line("install", format!("`{}`", st.dir));
    line(
        "product",
        format!("{} ({}, channel `{}`)", st.product, st.platform, st.channel),
    );
    line(
        "installed",
        match &st.installed {
            Some(v) => format!(
                "{v} ({} files, published {}{})",
                st.files.unwrap_or(0),
                st.published.as_deref().unwrap_or("?"),
                st.expires.as_deref().map(expiry).unwrap_or_default()
            ),
            None => "nothing".into(),
        },
    );
    line(
        "server",
        match (&st.server_version, &st.server_error) {
            (Some(v), _) => format!("{v} at {}", st.server),
            (None, e) => format!("unavailable: {}", e.as_deref().unwrap_or("?")),
        },
    );
    if let (Some(p), Some(v)) = (&st.rollout, &st.server_version) {
        line("rollout", format!("this install is {}", p.describe(v)));
    }
    if let Some(pin) = &st.pin {
        line(
            "pin",
            format!("{pin}: the newest {pin} release is installed, whatever the channel serves"),
        );
    }
    if let Some(t) = &st.scheduled_fetch {
        line(
            "scheduled",
            format!(
                "`launcher fetch` daily at {t} ({})",
                crate::schedule::scheduler_name()
            ),
        );
    }
    if let Some(id) = &st.install_id {
        line("install id", id.clone());
    }
    if !st.holds.is_empty() {
        line(
            "held",
            format!(
                "{} not reinstalled after the rollback until a newer release appears",
                match st.holds.as_slice() {
                    [one] => format!("{one} is"),
                    many => format!("{} are", many.join(", ")),
                }
            ),
        );
    }
    if st.backups.is_empty() {
        line("backups", "none".into());
    }
    for b in &st.backups {
        line(
            "backup",
            format!(
                "{}: {} → {} ({} files saved, {}){}",
                b.folder.as_deref().unwrap_or("?"),
                b.from.as_ref().map_or("-", Version::as_str),
                b.to.as_ref().map_or("?", Version::as_str),
                b.files.unwrap_or(0),
                b.created.as_deref().unwrap_or("?"),
                if b.kind == Some("repair") {
                    "; made by a repair, never a rollback target"
                } else if b.rollback_target {
                    "; `launcher rollback` restores this one"
                } else {
                    ""
                }
            ),
        );
    }
    if let Some(l) = &st.last_update {
        line(
            "last update",
            format!(
                "{}: {} → {}: {}",
                l.time,
                l.from.as_deref().unwrap_or("-"),
                l.to.as_deref().unwrap_or("-"),
                l.result
            ),
        );
    }
    if let Some(w) = &st.update_window {
        line(
            "update hours",
            if w.open {
                format!("{}: open now", w.window)
            } else {
                format!(
                    "{}: closed, {} (mandatory releases are applied at any hour)",
                    w.window,
                    crate::hours::when_opens(w.next_open_epoch)
                )
            },
        );
    }
    if st.signed_updates_only {
        line("signatures", "required (PublicKey is set)".into());
    }
    out
}

/// `, expires DATE (in 3 days)` or `, expired DATE (2 hours ago)`: when the signed manifest of the
/// installed release stops being accepted, so IT sees a channel that the publisher forgot to refresh.
fn expiry(date: &str) -> String {
    let Some(t) = crate::manifest::parse_time(date) else {
        return format!(", expires {date}");
    };
    let now = std::time::SystemTime::now();
    let (verb, span, ago) = match t.duration_since(now) {
        Ok(left) => ("expires", left, false),
        Err(e) => ("expired", e.duration(), true),
    };
    let secs = span.as_secs();
    let amount = match secs {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 2 * 3_600 => format!("{} hours", s / 3_600),
        s => format!("{} minutes", s / 60),
    };
    if ago {
        format!(", {verb} {date} ({amount} ago)")
    } else {
        format!(", {verb} {date} (in {amount})")
    }
}
