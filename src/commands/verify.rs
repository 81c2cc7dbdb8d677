//! `launcher verify [--repair]`: hash every installed file against the installed manifest. Exit 6 and
//! the damaged paths when something is wrong; `--repair` downloads and restores them (the damaged files
//! go into a backup like any replaced file).

use super::client::{load_config, refused_or, report_recovery};
use super::Ctx;
use crate::config::CheckMode;
use crate::error::{code, Failure};
use crate::scan::{self, Observed};
use crate::update::Session;
use anyhow::Context;

pub fn run(ctx: &Ctx, repair: bool) -> anyhow::Result<i32> {
    let mut cfg = load_config(ctx)?;
    cfg.check = CheckMode::Full;
    let r = &ctx.reporter;
    let mut s = Session::open(&cfg, r).context("cannot open the install")?;
    report_recovery(&s.recovered, r);
    let Some(m) = s.installed().cloned() else {
        return Err(Failure::new(
            code::NOT_INSTALLED,
            format!("nothing is installed in `{}`", cfg.dir.display()),
        )
        .hint("start the launcher once to install the app")
        .into());
    };
    let result = scan::scan(
        &s.layout.dir,
        m.files.iter().map(|f| f.path.as_str()),
        &s.state.cache,
        CheckMode::Full,
        r,
    );
    let mut damaged = Vec::new();
    for f in &m.files {
        match result.files.get(&f.path) {
            Some(Observed::File { sha256, .. }) if *sha256 == f.sha256 => {}
            Some(Observed::File { .. }) => damaged.push(format!("changed: {}", f.path)),
            Some(Observed::Missing) | None => damaged.push(format!("missing: {}", f.path)),
            Some(Observed::Blocked(why)) | Some(Observed::Unreadable(why)) => {
                damaged.push(format!("unreadable: {} ({why})", f.path))
            }
        }
    }
    if damaged.is_empty() {
        r.info(format!(
            "All {} files of {} {} are intact",
            m.files.len(),
            m.product,
            m.version
        ));
        s.settle(&m, &crate::plan::plan(&m, Some(&m), &result)?, &result)?;
        return Ok(code::OK);
    }
    for d in &damaged {
        println!("{d}");
    }
    if !repair {
        r.info(format!(
            "{} of {} files are damaged; `launcher verify --repair` restores them",
            damaged.len(),
            m.files.len()
        ));
        return Ok(code::DAMAGED);
    }
    // With a key, repair only from the signed release manifest, not from the local state alone.
    let m = if cfg.public_key.is_some() {
        let mut signed = s
            .release(&m.version)
            .map_err(|e| refused_or(e, "cannot repair"))?;
        signed.channel = m.channel.clone();
        signed
    } else {
        m
    };
    let result = scan::scan(
        &s.layout.dir,
        crate::plan::paths_to_scan(&m, s.installed()),
        &s.state.cache,
        CheckMode::Full,
        &crate::progress::Reporter::silent(),
    );
    let plan = s.plan_for(&m, &result)?;
    let applied = s
        .stage(&plan)
        .context("cannot download the files to repair")
        .and_then(|_| {
            s.commit(&m, &plan, &result, crate::journal::ChangeKind::Repair)
                .context("cannot repair")
        });
    let error = applied.as_ref().err().map(|e| format!("{e:#}"));
    crate::report::record(
        &cfg,
        &s.layout,
        &crate::report::Event {
            event: "repair",
            from: Some(m.version.as_str()),
            to: Some(m.version.as_str()),
            installed: Some(m.version.as_str()),
            error: error.as_deref(),
            ..Default::default()
        },
    );
    crate::report::send_soon(&cfg, &s.layout);
    let backup = applied?;
    s.save()?;
    r.info(format!(
        "Repaired {} files of {} {}{}",
        plan.ops.len(),
        m.product,
        m.version,
        backup
            .map(|b| format!("; the damaged files are in `{}`", b.display()))
            .unwrap_or_default()
    ));
    Ok(code::OK)
}
