//! `launcher rollback`: restore the newest backup and hold that version until a newer one appears.

use super::client::{load_config, report_recovery};
use super::Ctx;
use crate::error::{code, Failure};
use crate::rollback::{rollback, RollbackError};
use crate::state::{self, LastResult};
use crate::update::Session;
use anyhow::Context;

pub fn run(ctx: &Ctx) -> anyhow::Result<i32> {
    let cfg = load_config(ctx)?;
    let mut s = Session::open(&cfg, &ctx.reporter).context("cannot open the install")?;
    report_recovery(&s.recovered, &ctx.reporter);
    let started = std::time::Instant::now();
    let result = rollback(&mut s);
    if let Err(e) = &result {
        let installed = s.state.installed_version().map(str::to_string);
        crate::report::record(
            &cfg,
            &s.layout,
            &crate::report::Event {
                event: "rollback",
                from: installed.as_deref(),
                installed: installed.as_deref(),
                error: Some(&crate::error::one_line(e)),
                ..Default::default()
            },
        );
        crate::report::send_soon(&cfg, &s.layout);
    }
    match result {
        Ok(rb) => {
            s.state.last = Some(LastResult {
                time: crate::manifest::format_time(std::time::SystemTime::now()),
                from: Some(rb.from.clone()),
                to: Some(rb.to.clone()),
                result: state::Outcome::RolledBack,
            });
            s.save()?;
            state::log_line(
                &s.layout,
                Some(&rb.from),
                Some(&rb.to),
                "rolled back",
                0,
                started.elapsed().as_secs_f64(),
            );
            crate::report::record(
                &cfg,
                &s.layout,
                &crate::report::Event {
                    event: "rollback",
                    from: Some(&rb.from),
                    to: Some(&rb.to),
                    installed: Some(&rb.to),
                    seconds: started.elapsed().as_secs_f64(),
                    ..Default::default()
                },
            );
            crate::report::send_soon(&cfg, &s.layout);
            ctx.reporter.info(format!(
                "Rolled back from {} to {} ({} files) using `{}`; {} is held until a newer release appears",
                rb.from,
                rb.to,
                rb.files,
                rb.backup.display(),
                rb.from
            ));
            Ok(code::OK)
        }
        Err(
            e @ (RollbackError::NoBackup(_)
            | RollbackError::NoVersion(_)
            | RollbackError::NotInstalled(_)),
        ) => Err(Failure::new(code::ERROR, e.to_string()).into()),
        Err(e) => {
            Err(anyhow::Error::new(e)
                .context("cannot roll back; the installed version is unchanged"))
        }
    }
}
