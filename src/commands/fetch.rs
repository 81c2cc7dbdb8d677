//! `launcher fetch`: download and verify what the next update needs; the next `run` applies it without
//! downloading again. Changes no app file. It follows the same policy as a start (`policy::decide`):
//! it waits out the server's Retry-After, keeps a rollback's hold and a failing release's back-off.

use super::client::{load_config, refused_or, report_recovery};
use super::Ctx;
use crate::error::code;
use crate::fsutil::human_bytes;
use crate::policy::{self, Asker, Decision, Verdict};
use crate::update::Session;
use anyhow::Context;

pub fn run(ctx: &Ctx) -> anyhow::Result<i32> {
    let cfg = load_config(ctx)?;
    let r = &ctx.reporter;
    let mut s = Session::open(&cfg, r).context("cannot open the install")?;
    report_recovery(&s.recovered, r);
    let decided = policy::decide(&mut s, Asker::Fetch);
    if decided.is_err() && s.had_state {
        // A Retry-After in the refusal is kept for the next start and fetch.
        let _ = s.save();
    }
    let p = match decided.map_err(|e| refused_or(e, "cannot fetch the update"))? {
        Decision::Wait { seconds, installed } => {
            r.info(format!(
                "Nothing fetched: the server asked not to be contacted for {seconds} s more ({installed} is installed)"
            ));
            return Ok(code::OK);
        }
        Decision::Planned(p) => p,
    };
    match p.verdict {
        Verdict::UpToDate => {
            let why = if p.held {
                format!(
                    "holding {} after a rollback",
                    s.state.installed_version().unwrap_or("?")
                )
            } else {
                format!("{} {} is installed", p.target.product, p.target.version)
            };
            r.info(format!("Nothing to fetch: {why}"));
            s.save()?;
            Ok(code::OK)
        }
        Verdict::BackedOff { count, wait } => {
            r.warn(format!(
                "nothing fetched: the update to {} failed {count} times with bad content from the server; the next attempt is in {} min",
                p.target.version,
                (wait + 59) / 60
            ));
            Ok(code::OK)
        }
        Verdict::OutsideHours { opens } => {
            r.info(format!(
                "Nothing fetched: {} {} waits for the update window ({}, {})",
                p.target.product,
                p.target.version,
                cfg.update_window
                    .as_ref()
                    .map(|w| w.describe())
                    .unwrap_or_default(),
                crate::hours::when_opens(opens)
            ));
            s.save()?;
            Ok(code::OK)
        }
        Verdict::Change { .. } => {
            let stats = match s.stage(&p.plan) {
                Ok(stats) => stats,
                Err(e) => {
                    s.record_stage_failure(&p.target, &e);
                    if s.had_state {
                        let _ = s.save();
                    }
                    return Err(anyhow::Error::new(e).context("cannot fetch the update"));
                }
            };
            s.save()?;
            r.info(format!(
                "Fetched {} {}: {} new contents, {} downloaded, {} already staged; the next start applies it",
                p.target.product,
                p.target.version,
                stats.fetched,
                human_bytes(stats.downloaded),
                stats.reused
            ));
            Ok(code::OK)
        }
    }
}
