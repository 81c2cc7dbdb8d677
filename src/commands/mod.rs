//! One file per subcommand. Each takes parsed arguments and a [`Ctx`], does its work through the library
//! modules, reports through the reporter, and returns the exit code.

mod check;
mod client;
mod demo;
mod fetch;
mod keygen;
mod promote;
mod publish;
mod rollback;
pub mod run;
mod schedule;
mod serve;
mod shortcut;
mod status;
mod verify;

use crate::cli::{Cli, Command, Global, Invocation};
use crate::progress::{Mode, Reporter};
use std::io::IsTerminal;

/// What every command gets: the global flags and the reporter built from them.
pub struct Ctx {
    pub global: Global,
    pub reporter: Reporter,
}

impl Ctx {
    pub fn new(global: Global) -> Ctx {
        let mode = if global.quiet {
            Mode::Quiet
        } else if global.no_progress || !std::io::stderr().is_terminal() {
            Mode::Plain
        } else {
            Mode::Bar
        };
        let reporter = Reporter::new(mode, global.verbose);
        Ctx { global, reporter }
    }
}

pub fn dispatch(inv: Invocation) -> anyhow::Result<i32> {
    let (global, command) = match inv {
        Invocation::Run { global, app_args } => (global, Command::Run { args: app_args }),
        Invocation::Clap(Cli { global, command }) => {
            (global, command.unwrap_or(Command::Run { args: vec![] }))
        }
    };
    let ctx = Ctx::new(global);
    match command {
        Command::Publish(args) => publish::run(&ctx, args),
        Command::Promote(args) => promote::run(&ctx, args),
        Command::Serve {
            repo,
            listen,
            reports,
        } => serve::run(&ctx, &repo, &listen, &reports),
        Command::Keygen {
            secret_key,
            public_key,
            password,
            force,
        } => keygen::run(&ctx, &secret_key, &public_key, password, force),
        Command::Run { args } => run::run(&ctx, args),
        Command::Check { json } => check::run(&ctx, json),
        Command::Fetch => fetch::run(&ctx),
        Command::Verify { repair } => verify::run(&ctx, repair),
        Command::Rollback => rollback::run(&ctx),
        Command::Status { json } => status::run(&ctx, json),
        Command::Schedule {
            at,
            random_delay,
            remove,
        } => schedule::run(&ctx, at.as_deref(), random_delay.as_deref(), remove),
        Command::Demo { keep } => demo::run(&ctx, keep),
        Command::SendReports => client::send_reports(&ctx),
        Command::Shortcut {
            desktop,
            start_menu,
            name,
            icon,
            remove,
        } => shortcut::run(
            &ctx,
            shortcut::Args {
                desktop,
                start_menu,
                name,
                icon,
                remove,
            },
        ),
    }
}
