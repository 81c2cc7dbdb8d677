//! `launcher promote`: the CLI face of [`crate::publish::promote`].

use super::Ctx;
use crate::cli::PromoteArgs;
use crate::error::code;
use crate::publish::{promote, PromoteRequest};
use anyhow::Context;

pub fn run(ctx: &Ctx, a: PromoteArgs) -> anyhow::Result<i32> {
    let req = PromoteRequest {
        platform: a.platform.unwrap_or_else(crate::repo::current_platform),
        repo: a.repo,
        product: a.product,
        version: a.version,
        channel: a.channel,
        secret_key: a.secret_key,
        force: a.force,
        rollout: a.rollout,
    };
    let before = promote(&req, &ctx.reporter).with_context(|| {
        format!(
            "cannot promote {} {} to channel `{}`",
            req.product, req.version, req.channel
        )
    })?;
    ctx.reporter.info(format!(
        "Channel `{}` of {} ({}) now serves {} (was {})",
        req.channel,
        req.product,
        req.platform,
        req.version,
        before.as_deref().unwrap_or("empty")
    ));
    if let Some(percent) = req.rollout.filter(|p| *p < 100) {
        ctx.reporter.info(format!(
            "Staged rollout: {percent}% of the installs take {}; the others stay where they are (raise it with `launcher promote --rollout`, complete it with `--rollout 100`)",
            req.version
        ));
    }
    Ok(code::OK)
}
