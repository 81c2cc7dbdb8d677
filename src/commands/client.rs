//! What the client commands share: loading the configuration with the right exit code and hint, and
//! describing a recovery.

use super::Ctx;
use crate::apply::Recovered;
use crate::config::{self, Config, ConfigError};
use crate::error::{code, Failure};
use crate::progress::Reporter;
use crate::update::UpdateError;

/// Finds and loads launcher.ini; errors carry exit code 3 and a hint.
pub fn load_config(ctx: &Ctx) -> anyhow::Result<Config> {
    let path = config::discover(ctx.global.config.as_deref())
        .map_err(|e| Failure::new(code::CONFIG, e.to_string()))?;
    config::load(&path).map_err(|e| {
        let hint = match &e {
            ConfigError::NotFound(_) => {
                "put a launcher.ini beside the launcher (see launcher.ini.example), or pass --config FILE or set LAUNCHER_CONFIG"
            }
            _ => "fix launcher.ini; launcher.ini.example documents every key",
        };
        let msg = match &e {
            ConfigError::Invalid(_) => format!("launcher.ini has errors:\n{e}"),
            _ => e.to_string(),
        };
        anyhow::Error::new(Failure::new(code::CONFIG, msg).hint(hint))
    })
}

/// Adds `what` to an update error, with exit code 7 when the repository was refused (bad signature,
/// hostile manifest, downgrade, expired), and the error's hint.
pub fn refused_or(e: UpdateError, what: &'static str) -> anyhow::Error {
    let code = if e.is_refusal() {
        code::REFUSED
    } else {
        code::ERROR
    };
    let hint = e.hint();
    anyhow::Error::new(e).context(Failure::new(code, what).hint_from(hint))
}

/// Tells the user what recovery did at start.
pub fn report_recovery(r: &Option<Recovered>, reporter: &Reporter) {
    match r {
        Some(Recovered::Forward { kind, version }) => reporter.warn(format!(
            "an interrupted {kind} was completed: version {version} is installed"
        )),
        Some(Recovered::Back { kind, version }) => reporter.warn(format!(
            "an interrupted {kind} was undone: version {} is installed",
            version.as_ref().map_or("(none)", |v| v.as_str())
        )),
        Some(Recovered::Unreadable(msg)) => reporter.warn(format!("{msg}; checking every file")),
        None => {}
    }
}

/// `launcher __send-reports`: send the install's spooled fleet reports (see `report`); always exit 0,
/// since nobody waits for this process.
pub fn send_reports(ctx: &Ctx) -> anyhow::Result<i32> {
    if let Ok(cfg) = load_config(ctx) {
        crate::report::send_spool(&cfg);
    }
    Ok(code::OK)
}
