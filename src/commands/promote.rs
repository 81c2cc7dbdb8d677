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
    Ok(code::OK)
}
