//! `launcher serve`: serve a repository folder over HTTP until Ctrl-C or SIGTERM.
//!
//! The URL goes to stdout as the first line (flushed, so a script or test can read the real port of
//! `--listen 127.0.0.1:0`); everything else goes to stderr through the reporter. It never writes to the
//! repository.

use super::Ctx;
use crate::error::{code, Failure};
use crate::serve::{self, ServeError};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

pub fn run(ctx: &Ctx, repo: &Path, listen: &str) -> anyhow::Result<i32> {
    let announce = |addr: SocketAddr| -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Serving `{}` at http://{addr}/", repo.display())?;
        out.flush()?;
        ctx.reporter.info("Press Ctrl-C to stop");
        Ok(())
    };
    match serve::serve(repo, listen, &ctx.reporter, announce) {
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
