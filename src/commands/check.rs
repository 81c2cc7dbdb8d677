//! `launcher check [--json]`: what an update would do now. Changes nothing: no lock, no state write,
//! no download. Exit 0 up to date, 10 update available.

use super::client::{load_config, refused_or};
use super::Ctx;
use crate::error::code;
use crate::fsutil::human_bytes;
use crate::policy::{self, Asker, Decision, Verdict};
use crate::update::Session;

pub fn run(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let cfg = load_config(ctx)?;
    let mut s = Session::read_only(&cfg, &ctx.reporter);
    if s.layout.journal().exists() {
        ctx.reporter.warn(
            "an interrupted update is pending; the next start finishes or undoes it before anything else",
        );
    }
    let installed = s.installed().map(|m| m.version.clone());
    let held = s.state.held.clone();
    let holds = s.state.holds();
    let p = match policy::decide(&mut s, Asker::Check)
        .map_err(|e| refused_or(e, "cannot check for updates"))?
    {
        Decision::Planned(p) => p,
        // The policy lets `check` ask the server whatever Retry-After said; should that change, say it.
        Decision::Wait { seconds, installed } => {
            ctx.reporter.info(format!(
                "The server asked not to be contacted for {seconds} s more; {installed} is installed"
            ));
            return Ok(code::OK);
        }
    };
    let backoff = match p.verdict {
        Verdict::BackedOff { count, wait } => Some((count, wait)),
        _ => None,
    };
    let waits_for_window = match p.verdict {
        Verdict::OutsideHours { opens } => Some(opens),
        _ => None,
    };
    let (remote, target, plan) = (&p.offered, &p.target, &p.plan);
    let available = !plan.is_empty();
    if let Some(pl) = p.rollout.as_ref().filter(|_| !json) {
        ctx.reporter.info(format!(
            "This install is {}{}",
            pl.describe(&remote.version),
            if pl.inside {
                String::new()
            } else {
                format!("; it takes {}", target.version)
            }
        ));
    }
    if json {
        let v = serde_json::json!({
            "installed": installed,
            "available": remote.version,
            "target": target.version,
            "held": held,
            "holds": holds,
            "mandatory": remote.mandatory,
            "update_available": available,
            "add": plan.count(crate::plan::Action::Add),
            "replace": plan.count(crate::plan::Action::Replace),
            "delete": plan.count(crate::plan::Action::Delete),
            "unchanged": plan.unchanged,
            "download_bytes": plan.download_bytes(),
            "outside_update_hours": waits_for_window.map(|opens| serde_json::json!({
                "window": cfg.update_window.as_ref().map(|w| w.describe()),
                "opens": opens.and_then(crate::hours::LocalTime::at).map(|t| t.display()),
                "opens_epoch": opens,
            })),
            "rollout": p.rollout,
            "backed_off": backoff.map(|(count, wait)| serde_json::json!({"failures": count, "next_attempt_in": wait})),
            "ops": plan.ops.iter().map(|o| match &o.kept_as {
                Some(k) => serde_json::json!({"path": o.path, "action": o.action, "kept_as": k}),
                None => serde_json::json!({"path": o.path, "action": o.action}),
            }).collect::<Vec<_>>(),
            "kept_aside": plan.kept().map(|(p, k)| serde_json::json!({"path": p, "kept_as": k})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if available {
        ctx.reporter.info(format!(
            "Update available: {} → {}: {} (download {})",
            installed.as_ref().map_or("(not installed)", |v| v.as_str()),
            target.version,
            plan.summary(),
            human_bytes(plan.download_bytes())
        ));
        for k in plan.kept_lines(3) {
            ctx.reporter.warn(k);
        }
        if let Some(opens) = waits_for_window {
            ctx.reporter.info(format!(
                "A start applies it inside the update window ({}); the window {}",
                cfg.update_window
                    .as_ref()
                    .map(|w| w.describe())
                    .unwrap_or_default(),
                crate::hours::when_opens(opens)
            ));
        }
        if let Some((count, wait)) = backoff {
            ctx.reporter.warn(format!(
                "the update to {} failed {count} times with bad content from the server; a start tries again in {} min",
                target.version,
                (wait + 59) / 60
            ));
        }
        if ctx.reporter.is_verbose() {
            for o in &plan.ops {
                let action = match o.action {
                    crate::plan::Action::Add => "add",
                    crate::plan::Action::Replace => "replace",
                    crate::plan::Action::Delete => "delete",
                };
                ctx.reporter.detail(format!("  {action} {}", o.path));
            }
        }
    } else {
        let hold = held
            .filter(|_| remote.version != target.version)
            .map(|h| format!(" (holding after the rollback from {h})"))
            .unwrap_or_default();
        ctx.reporter.info(format!(
            "Up to date: {} {}{hold}",
            target.product, target.version
        ));
    }
    Ok(if available {
        code::UPDATE_AVAILABLE
    } else {
        code::OK
    })
}
