//! The command line (DESIGN.md, CLI: stable): clap definitions and the rule that decides whether the
//! arguments belong to the launcher or to the app.
//!
//! A launcher stands in for the app, so anything that is not one of the launcher's own subcommands or
//! global flags goes to the app unchanged (`launcher report.pdf` starts the app with `report.pdf`), and
//! `--` forces everything after it through. This module only parses; the work is in `commands`.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "launcher",
    version,
    about = "Update an application from its publisher's repository, then start it",
    long_about = "Update an application from its publisher's repository, then start it.\n\n\
        Without a subcommand the launcher runs `run`: anything that is not one of its own subcommands or \
        flags is passed to the app unchanged, and `--` passes everything after it."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// The launcher.ini to use (default: env LAUNCHER_CONFIG, then `<exe stem>.ini` beside the launcher)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print errors only
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more detail (one line per request for `serve`)
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Plain lines instead of progress bars
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Update (per policy), then start the app with ARGS (the default command)
    Run {
        /// Arguments for the app
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Show what an update would do now; changes nothing (exit 0 up to date, 10 update available)
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Download and verify what the next update needs; the next `run` applies it at once
    Fetch,
    /// Hash every installed file against the installed manifest
    Verify {
        /// Restore missing or damaged files from the repository
        #[arg(long)]
        repair: bool,
    },
    /// Restore the newest backup and hold that version until a newer one appears
    Rollback,
    /// Installed version, channel, server version, backups, last update result
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Turn a release folder into a repository
    Publish(PublishArgs),
    /// Point a channel at an already published release
    Promote(PromoteArgs),
    /// Serve a repository over HTTP
    Serve {
        #[arg(long, value_name = "DIR")]
        repo: PathBuf,
        /// Address to listen on; use 0.0.0.0:PORT to listen on every interface
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: String,
        #[command(flatten)]
        reports: ReportsArgs,
    },
    /// Write a minisign key pair
    Keygen {
        #[arg(long, value_name = "FILE")]
        secret_key: PathBuf,
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// Protect the secret key with a password (asked on the terminal, or env LAUNCHER_KEY_PASSWORD)
        #[arg(long)]
        password: bool,
        /// Overwrite existing key files
        #[arg(long)]
        force: bool,
    },
    /// Create (or with --remove delete) a shortcut that starts this launcher with its ini
    Shortcut {
        /// On the user's desktop (the default when neither place is given)
        #[arg(long)]
        desktop: bool,
        /// In the user's start menu (applications menu on Linux)
        #[arg(long)]
        start_menu: bool,
        /// The shortcut's name (default: the launcher's file name without extension)
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The icon (default: the app executable's own)
        #[arg(long, value_name = "FILE")]
        icon: Option<PathBuf>,
        /// Delete the shortcuts this launcher made for this ini instead
        #[arg(long)]
        remove: bool,
    },
    /// Register a daily `launcher fetch` for this ini with the OS scheduler (cron, Task Scheduler, launchd)
    Schedule {
        /// Local time of day, 24-hour: 02:00
        #[arg(
            long,
            value_name = "HH:MM",
            required_unless_present = "remove",
            conflicts_with = "remove"
        )]
        at: Option<String>,
        /// Spread a fleet: a random delay up to this span (30m, 2h), drawn once per machine
        #[arg(long, value_name = "D", requires = "at")]
        random_delay: Option<String>,
        /// Remove this ini's task
        #[arg(long)]
        remove: bool,
    },
    /// A self-contained walkthrough on loopback: publish, serve, install, update, launch
    Demo {
        /// Keep the demo's temp folder and print where it is
        #[arg(long)]
        keep: bool,
    },
    /// Sends the fleet reports spooled in the install (started detached by the launcher itself)
    #[command(name = "__send-reports", hide = true)]
    SendReports,
}

/// `serve`'s fleet options (issue 14): where reports are stored and who may send them.
#[derive(Debug, Args, Clone, Default)]
pub struct ReportsArgs {
    /// Accept `POST /reports` and serve `/fleet`: a SQLite file (created) or a postgres:// URL; also env
    /// LAUNCHER_REPORTS (keeps a database password out of `ps`)
    #[arg(
        long,
        env = "LAUNCHER_REPORTS",
        value_name = "FILE.db|postgres://...",
        hide_env_values = true
    )]
    pub reports: Option<String>,
    /// Only accept reports that carry this token (ini ReportToken); also env LAUNCHER_REPORT_TOKEN
    #[arg(
        long,
        env = "LAUNCHER_REPORT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub report_token: Option<String>,
    /// Reports accepted per minute from one address (bursts up to the same number); 0: no limit
    #[arg(long, default_value_t = 120, value_name = "N")]
    pub report_limit: u32,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The release folder
    #[arg(long, value_name = "DIR")]
    pub source: PathBuf,
    /// The repository folder (created if missing)
    #[arg(long, value_name = "DIR")]
    pub repo: PathBuf,
    #[arg(long)]
    pub product: String,
    /// Dotted numbers (7.04.200) or semver (1.2.3-beta.1)
    #[arg(long)]
    pub version: String,
    #[arg(long, default_value = "stable")]
    pub channel: String,
    /// Default: the running platform (linux-x86_64, windows-x86_64, ...)
    #[arg(long)]
    pub platform: Option<String>,
    /// The file to start, relative to the release folder
    #[arg(long, value_name = "PATH")]
    pub executable: Option<String>,
    /// Sign the manifests with this minisign secret key
    #[arg(long, value_name = "FILE")]
    pub secret_key: Option<PathBuf>,
    /// Clients may not launch the old version when this release cannot be applied
    #[arg(long)]
    pub mandatory: bool,
    /// The manifest expires this many days after publishing (clients with a key refuse it after that)
    #[arg(long, value_name = "DAYS")]
    pub expires: Option<u32>,
    /// Publish even if the channel has a newer version
    #[arg(long)]
    pub force: bool,
    /// Staged rollout: only this share of the installs takes the release (0-100; 100: all)
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub rollout: Option<u8>,
    /// A program among the release's files to run after its files are in place (a failure rolls back)
    #[arg(long, value_name = "PATH")]
    pub post_update: Option<String>,
    /// A program among the release's files to run before a rollback removes them (the undo)
    #[arg(long, value_name = "PATH")]
    pub pre_rollback: Option<String>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[arg(long, value_name = "DIR")]
    pub repo: PathBuf,
    #[arg(long)]
    pub product: String,
    #[arg(long)]
    pub version: String,
    #[arg(long)]
    pub channel: String,
    #[arg(long)]
    pub platform: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub secret_key: Option<PathBuf>,
    /// Promote even if the channel has a newer version
    #[arg(long)]
    pub force: bool,
    /// Staged rollout: only this share of the installs takes the release (0-100); without it, all
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub rollout: Option<u8>,
}

const SUBCOMMANDS: &[&str] = &[
    "run",
    "check",
    "fetch",
    "verify",
    "rollback",
    "status",
    "publish",
    "promote",
    "serve",
    "keygen",
    "demo",
    "shortcut",
    "schedule",
    "help",
    "__send-reports",
];

/// What the command line asks for.
// Made once per process and matched at once: boxing the larger variant would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Invocation {
    /// Parsed by clap (a subcommand, `--help`, `--version`).
    Clap(Cli),
    /// `run` with the app's arguments, taken verbatim.
    Run {
        global: Global,
        app_args: Vec<OsString>,
    },
}

/// Splits the command line: leading global flags, then a subcommand name (handed to clap) or anything
/// else (the app's arguments, untouched).
pub fn parse(args: Vec<OsString>) -> Result<Invocation, clap::Error> {
    let mut global = Global::default();
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        match a.as_ref() {
            "-q" | "--quiet" => global.quiet = true,
            "-v" | "--verbose" => global.verbose = true,
            "--no-progress" => global.no_progress = true,
            "--config" => {
                let Some(v) = args.get(i + 1) else {
                    return Cli::try_parse_from(&args).map(Invocation::Clap);
                };
                global.config = Some(PathBuf::from(v));
                i += 1;
            }
            s if s.starts_with("--config=") => {
                global.config = Some(PathBuf::from(&s["--config=".len()..]));
            }
            _ => break,
        }
        i += 1;
    }
    let rest = &args[i.min(args.len())..];
    let first = rest.first().map(|a| a.to_string_lossy().into_owned());
    match first.as_deref() {
        Some("--") => Ok(Invocation::Run {
            global,
            app_args: rest[1..].to_vec(),
        }),
        Some("run") => {
            let mut app = &rest[1..];
            if app.first().is_some_and(|a| a == "--") {
                app = &app[1..];
            }
            Ok(Invocation::Run {
                global,
                app_args: app.to_vec(),
            })
        }
        Some(s)
            if SUBCOMMANDS.contains(&s) || matches!(s, "-h" | "--help" | "-V" | "--version") =>
        {
            Cli::try_parse_from(&args).map(Invocation::Clap)
        }
        _ => Ok(Invocation::Run {
            global,
            app_args: rest.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app_args(v: &[&str]) -> Vec<String> {
        let args = v.iter().map(OsString::from).collect();
        match parse(args).unwrap() {
            Invocation::Run { app_args, .. } => app_args
                .into_iter()
                .map(|a| a.into_string().unwrap())
                .collect(),
            Invocation::Clap(c) => panic!("parsed as a subcommand: {c:?}"),
        }
    }

    #[test]
    fn unknown_arguments_go_to_the_app() {
        assert_eq!(app_args(&["l", "report.pdf"]), vec!["report.pdf"]);
        assert_eq!(app_args(&["l", "-q", "--x", "check"]), vec!["--x", "check"]);
        assert_eq!(
            app_args(&["l", "--", "check", "--json"]),
            vec!["check", "--json"]
        );
        assert_eq!(app_args(&["l", "run", "--", "-v"]), vec!["-v"]);
        assert_eq!(app_args(&["l", "--config", "a.ini", "run", "x"]), vec!["x"]);
        assert!(app_args(&["l"]).is_empty());
    }

    #[test]
    fn subcommands_go_to_clap() {
        let args = ["l", "check", "--json"]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(matches!(parse(args).unwrap(), Invocation::Clap(_)));
    }
}
