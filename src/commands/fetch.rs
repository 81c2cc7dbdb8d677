//! `launcher fetch`: download and verify what the next update needs; the next `run` applies it without
//! downloading again. Changes no app file.

use super::client::{load_config, refused_or, report_recovery};
use super::Ctx;
use crate::error::code;
use crate::fsutil::human_bytes;
use crate::update::Session;
use anyhow::Context;

pub fn run(ctx: &Ctx) -> anyhow::Result<i32> {
    let cfg = load_config(ctx)?;
    let mut s = Session::open(&cfg, &ctx.reporter).context("cannot open the install")?;
    report_recovery(&s.recovered, &ctx.reporter);
    let remote = s
        .remote(true)
        .map_err(|e| refused_or(e, "cannot fetch the update"))?;
    let Some(target) = s.wanted(&remote.manifest).cloned() else {
        ctx.reporter.info(format!(
            "Nothing to fetch: holding {} after a rollback",
            s.state.installed_version().unwrap_or("?")
        ));
        s.save()?;
        return Ok(code::OK);
    };
    let scan = s.scan_for(&target);
    let plan = s.plan_for(&target, &scan)?;
    if plan.is_empty() {
        ctx.reporter.info(format!(
            "Nothing to fetch: {} {} is installed",
            target.product, target.version
        ));
        s.save()?;
        return Ok(code::OK);
    }
    let stats = s.stage(&plan).context("cannot fetch the update")?;
    s.save()?;
    ctx.reporter.info(format!(
        "Fetched {} {}: {} new contents, {} downloaded, {} already staged; the next start applies it",
        target.product,
        target.version,
        stats.fetched,
        human_bytes(stats.downloaded),
        stats.reused
    ));
    Ok(code::OK)
}
