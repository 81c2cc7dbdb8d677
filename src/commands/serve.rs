//! `launcher serve`: serve a repository folder over HTTP until Ctrl-C or SIGTERM.
//!
//! The URL goes to stdout as the first line (flushed, so a script or test can read the real port of
//! `--listen 127.0.0.1:0`); everything else goes to stderr through the reporter. It never writes to the
//! repository.

use super::Ctx;
use crate::cli::ReportsArgs;
use crate::error::{code, Failure};
use crate::fleet;
use crate::serve::{self, ServeError};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

pub fn run(ctx: &Ctx, repo: &Path, listen: &str, reports: &ReportsArgs) -> anyhow::Result<i32> {
    let announce = |addr: SocketAddr| -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Serving `{}` at http://{addr}/", repo.display())?;
        out.flush()?;
        ctx.reporter.info("Press Ctrl-C to stop");
        Ok(())
    };
    let served = match &reports.reports {
        None => serve::serve(repo, listen, &ctx.reporter, announce),
        Some(target) => {
            let runtime = serve::runtime()?;
            let store = runtime
                .block_on(fleet::Store::open(target))
                .map_err(|e| {
                    let hint = if target.starts_with("postgres") {
                        "check that PostgreSQL runs and the URL's user, password and database are right (postgres://USER:PASSWORD@HOST:5432/DB; TLS is not supported: use a local or private-network connection)"
                    } else {
                        "give a writable file path for the SQLite database, in a folder that exists, such as --reports /var/lib/launcher/reports.db"
                    };
                    anyhow::Error::new(e).context(Failure::new(code::ERROR, "cannot open the report database").hint(hint))
                })?;
            let router = fleet::router(
                store,
                fleet::Options {
                    token: reports.report_token.clone().filter(|t| !t.is_empty()),
                    limit_per_minute: reports.report_limit,
                    repo: repo.to_path_buf(),
                    reporter: ctx.reporter.clone(),
                },
            );
            let where_ = fleet::store::redact(target);
            serve::serve_with(repo, listen, &ctx.reporter, runtime, router, |addr| {
                announce(addr)?;
                ctx.reporter.info(format!(
                    "Reports: POST http://{addr}/reports into `{where_}`; the fleet at http://{addr}/fleet"
                ));
                Ok(())
            })
        }
    };
    match served {
        Ok(()) => Ok(code::OK),
        Err(e @ ServeError::AddressInUse { addr }) => {
            let next = SocketAddr::new(addr.ip(), addr.port().checked_add(1).unwrap_or(8080));
            Err(Failure::new(code::ERROR, e.to_string())
                .hint(format!(
                    "another program (or another `launcher serve`) is listening there; pick another with --listen {next}"
                ))
                .into())
        }
        Err(e @ ServeError::RepoMissing { .. }) => Err(Failure::new(code::ERROR, e.to_string())
            .hint("give the folder that `launcher publish --repo` wrote")
            .into()),
        Err(e) => Err(e.into()),
    }
}
