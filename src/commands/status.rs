//! `launcher status [--json]`: what is installed, what the server has, backups, the last update.

use super::client::load_config;
use super::Ctx;
use crate::backup;
use crate::error::code;
use crate::update::Session;

pub fn run(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let cfg = load_config(ctx)?;
    let mut s = Session::read_only(&cfg, &ctx.reporter);
    let server = if cfg.enable {
        match s.remote(false) {
            Ok(r) => Ok(r.manifest.version),
            Err(e) => Err(super::run::one_line(&e)),
        }
    } else {
        Err("updates are disabled (Enable = 0)".to_string())
    };
    let installed = s.installed();
    // The backup `rollback` would restore: repair backups and backups of the installed version are
    // skipped (`backup::rollback_target`).
    let target = installed.and_then(|m| backup::rollback_target(&cfg.dir, &m.version));
    let rollback_to = target
        .as_ref()
        .and_then(|(_, i)| i.manifest.as_ref().map(|m| m.version.clone()));
    let target = target.map(|(p, _)| p);
    let backups: Vec<serde_json::Value> = backup::list(&cfg.dir)
        .into_iter()
        .map(|(_, p)| {
            let info = backup::read_info(&p).ok();
            serde_json::json!({
                "folder": p.file_name().map(|n| n.to_string_lossy().into_owned()),
                "from": info.as_ref().and_then(|i| i.from.clone()),
                "to": info.as_ref().map(|i| i.to.clone()),
                "created": info.as_ref().map(|i| i.created.clone()),
                "files": info.as_ref().map(|i| i.saved.len()),
                "kind": info.as_ref().map(|i| if i.is_repair() { "repair" } else { "update" }),
                "rollback_target": target.as_deref() == Some(p.as_path()),
            })
        })
        .collect();
    let holds = s.state.holds();
    let v = serde_json::json!({
        "launcher": env!("CARGO_PKG_VERSION"),
        "config": cfg.file.display().to_string(),
        "dir": cfg.dir.display().to_string(),
        "server": cfg.server,
        "product": cfg.product,
        "channel": cfg.channel,
        "platform": cfg.platform,
        "installed": installed.map(|m| m.version.clone()),
        "published": installed.map(|m| m.published.clone()),
        "expires": installed.and_then(|m| m.expires.clone()),
        "expired": installed.map(|m| m.is_expired(std::time::SystemTime::now())),
        "files": installed.map(|m| m.files.len()),
        "server_version": server.as_ref().ok(),
        "server_error": server.as_ref().err(),
        "held": s.state.held,
        "holds": holds,
        "rollback_to": rollback_to,
        "backups": backups,
        "last_update": s.state.last,
        "signed_updates_only": cfg.public_key.is_some(),
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(code::OK);
    }
    let mut out = String::new();
    let mut line = |k: &str, val: String| out.push_str(&format!("{k:<14} {val}\n"));
    line("launcher", env!("CARGO_PKG_VERSION").to_string());
    line("config", format!("`{}`", cfg.file.display()));
    line("install", format!("`{}`", cfg.dir.display()));
    line(
        "product",
        format!(
            "{} ({}, channel `{}`)",
            cfg.product, cfg.platform, cfg.channel
        ),
    );
    line(
        "installed",
        match installed {
            Some(m) => format!(
                "{} ({} files, published {}{})",
                m.version,
                m.files.len(),
                m.published,
                m.expires.as_deref().map(expiry).unwrap_or_default()
            ),
            None => "nothing".into(),
        },
    );
    line(
        "server",
        match &server {
            Ok(v) => format!("{v} at {}", cfg.server),
            Err(e) => format!("unavailable: {e}"),
        },
    );
    if !holds.is_empty() {
        line(
            "held",
            format!(
                "{} not reinstalled after the rollback until a newer release appears",
                match holds.as_slice() {
                    [one] => format!("{one} is"),
                    many => format!("{} are", many.join(", ")),
                }
            ),
        );
    }
    if backups.is_empty() {
        line("backups", "none".into());
    }
    for b in &backups {
        line(
            "backup",
            format!(
                "{}: {} → {} ({} files saved, {}){}",
                b["folder"].as_str().unwrap_or("?"),
                b["from"].as_str().unwrap_or("-"),
                b["to"].as_str().unwrap_or("?"),
                b["files"].as_u64().unwrap_or(0),
                b["created"].as_str().unwrap_or("?"),
                if b["kind"] == "repair" {
                    "; made by a repair, never a rollback target"
                } else if b["rollback_target"] == true {
                    "; `launcher rollback` restores this one"
                } else {
                    ""
                }
            ),
        );
    }
    if let Some(l) = &s.state.last {
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
    if cfg.public_key.is_some() {
        line("signatures", "required (PublicKey is set)".into());
    }
    // The server's answer and the last result quote what a server sent; none of it may drive the terminal.
    print!("{}", crate::text::escape_output(&out));
    Ok(code::OK)
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
