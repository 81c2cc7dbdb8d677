//! `launcher publish`: the CLI face of [`crate::publish::publish`].

use super::Ctx;
use crate::cli::PublishArgs;
use crate::error::code;
use crate::fsutil::human_bytes;
use crate::publish::{publish, PublishRequest};
use anyhow::Context;

pub fn run(ctx: &Ctx, a: PublishArgs) -> anyhow::Result<i32> {
    let req = PublishRequest {
        platform: a.platform.unwrap_or_else(crate::repo::current_platform),
        source: a.source,
        repo: a.repo,
        product: a.product,
        version: a.version,
        channel: a.channel,
        executable: a.executable,
        secret_key: a.secret_key,
        mandatory: a.mandatory,
        expires_days: a.expires,
        force: a.force,
        rollout: a.rollout,
        post_update: a.post_update,
        pre_rollback: a.pre_rollback,
    };
    let s = publish(&req, &ctx.reporter).with_context(|| {
        format!(
            "cannot publish `{}` as {} {} ({}, channel `{}`)",
            req.source.display(),
            req.product,
            req.version,
            req.platform,
            req.channel
        )
    })?;
    if let Some(exe) = &s.exec_bit_added {
        ctx.reporter.warn(format!(
            "the executable `{exe}` has no executable bit in `{}`; it is published as executable (`exec: true`), so clients can start it",
            req.source.display()
        ));
    }
    if req.secret_key.is_none() && !s.unchanged {
        ctx.reporter.warn(format!(
            "{} {} was published unsigned (no --secret-key): clients cannot tell it from a release that a compromised server or a man in the middle made. Create a key once with `launcher keygen --secret-key FILE --public-key FILE`, publish with `--secret-key FILE`, and set PublicKey in launcher.ini",
            req.product, req.version
        ));
    }
    if s.unchanged {
        ctx.reporter.info(format!(
            "Nothing to do: {} {} is already published on `{}` with the same content",
            req.product, req.version, req.channel
        ));
    } else if s.existing_release {
        ctx.reporter.info(format!(
            "Channel `{}` now points at the already published {} {} ({} files, no new content)",
            req.channel, req.product, req.version, s.files
        ));
    } else {
        ctx.reporter.info(format!(
            "Published {} {} for {} on `{}`: {} files, {}, {} new blobs, {} written",
            req.product,
            req.version,
            req.platform,
            req.channel,
            s.files,
            human_bytes(s.bytes),
            s.new_blobs,
            human_bytes(s.bytes_written)
        ));
    }
    ctx.reporter.detail(format!(
        "Channel manifest: `{}`",
        s.channel_manifest.display()
    ));
    if let Some(percent) = req.rollout.filter(|p| *p < 100) {
        ctx.reporter.info(format!(
            "Staged rollout: {percent}% of the installs take {}; the others stay where they are (raise it with `launcher promote --rollout`, complete it with `--rollout 100`)",
            req.version
        ));
    }
    Ok(code::OK)
}
