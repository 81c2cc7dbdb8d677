//! `launcher keygen`: write a minisign key pair for signing releases.

use super::Ctx;
use crate::error::code;
use crate::sign;
use anyhow::Context;
use std::path::Path;

pub fn run(
    ctx: &Ctx,
    secret: &Path,
    public: &Path,
    password: bool,
    force: bool,
) -> anyhow::Result<i32> {
    let password = if password {
        Some(ask_password()?)
    } else {
        None
    };
    let b64 = sign::keygen(secret, public, password, force).context("cannot write the key pair")?;
    ctx.reporter.info(format!(
        "Wrote the secret key `{}` and the public key `{}`",
        secret.display(),
        public.display()
    ));
    ctx.reporter.info(format!(
        "Put this line in launcher.ini so clients accept only releases signed by this key:\n  PublicKey = {b64}"
    ));
    ctx.reporter
        .info("Keep the secret key off the update server; anyone who has it can publish releases");
    Ok(code::OK)
}

fn ask_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(sign::PASSWORD_ENV) {
        anyhow::ensure!(!p.is_empty(), "{} is set but empty", sign::PASSWORD_ENV);
        return Ok(p);
    }
    use std::io::IsTerminal;
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "--password needs a terminal to type the password, or the password in {}",
        sign::PASSWORD_ENV
    );
    let first = rpassword::prompt_password("Password for the new secret key: ")
        .context("cannot read the password")?;
    anyhow::ensure!(
        !first.is_empty(),
        "the password is empty; leave out --password for a key without one"
    );
    let second = rpassword::prompt_password("The same password again: ")
        .context("cannot read the password")?;
    anyhow::ensure!(
        first == second,
        "the two passwords differ; nothing was written"
    );
    Ok(first)
}
