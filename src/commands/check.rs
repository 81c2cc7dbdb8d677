//! `launcher check [--json]`: what an update would do now. Changes nothing: no lock, no state write,
//! no download. Exit 0 up to date, 10 update available.

use super::client::{load_config, refused_or};
use super::Ctx;
use crate::error::code;
use crate::fsutil::human_bytes;
use crate::update::Session;
use anyhow::Context;

pub fn run(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let cfg = load_config(ctx)?;
    let mut s = Session::read_only(&cfg, &ctx.reporter);
    if s.layout.journal().exists() {
        ctx.reporter.warn(
            "an interrupted update is pending; the next start finishes or undoes it before anything else",
        );
    }
    let remote = s
        .remote(false)
        .map_err(|e| refused_or(e, "cannot check for updates"))?;
    let installed = s.installed().map(|m| m.version.clone());
    let held = s.state.held.clone();
    let holds = s.state.holds();
    let target = match s.wanted(&remote.manifest) {
        Some(m) => m.clone(),
        None => s
            .installed()
            .cloned()
            .unwrap_or_else(|| remote.manifest.clone()),
    };
    let scan = s.scan_for(&target);
    let plan = s
        .plan_for(&target, &scan)
        .context("cannot plan the update")?;
    let available = !plan.is_empty();
    if json {
        let v = serde_json::json!({
            "installed": installed,
            "available": remote.manifest.version,
            "target": target.version,
            "held": held,
            "holds": holds,
            "mandatory": remote.manifest.mandatory,
            "update_available": available,
            "add": plan.count(crate::plan::Action::Add),
            "replace": plan.count(crate::plan::Action::Replace),
            "delete": plan.count(crate::plan::Action::Delete),
            "unchanged": plan.unchanged,
            "download_bytes": plan.download_bytes(),
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
            .filter(|_| remote.manifest.version != target.version)
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
