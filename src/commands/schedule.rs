//! `launcher schedule --at HH:MM [--random-delay D] | --remove`: the CLI face of [`crate::schedule`].

use super::client::load_config;
use super::Ctx;
use crate::error::{code, Failure};
use crate::schedule::{self, Task};
use anyhow::Context;

pub fn run(
    ctx: &Ctx,
    at: Option<&str>,
    random_delay: Option<&str>,
    remove: bool,
) -> anyhow::Result<i32> {
    let cfg = load_config(ctx)?;
    let r = &ctx.reporter;
    let ini = &cfg.file;
    let scheduler = schedule::scheduler_name();
    if remove {
        let removed = schedule::remove(ini).with_context(|| {
            format!("cannot remove the {scheduler} task for `{}`", ini.display())
        })?;
        r.info(if removed {
            format!(
                "Removed the daily `launcher fetch` for `{}` from {scheduler}",
                ini.display()
            )
        } else {
            format!(
                "No `launcher fetch` task for `{}` was registered with {scheduler}",
                ini.display()
            )
        });
        return Ok(code::OK);
    }
    let bad = |e: String| Failure::new(code::USAGE, e);
    let base = schedule::parse_at(at.unwrap_or_default()).map_err(bad)?;
    let span = random_delay
        .map(schedule::parse_delay)
        .transpose()
        .map_err(bad)?
        .unwrap_or(0);
    let delay = schedule::draw_delay(span);
    let exe = std::env::current_exe().context("cannot find the running launcher's path")?;
    // u16 is enough: the delay is at most 12 h and the time of day under 24 h.
    let task = Task::new(&exe, ini, base + delay as u16);
    schedule::install(&task)
        .with_context(|| format!("cannot register the daily `launcher fetch` with {scheduler}"))?;
    let spread = if span > 0 {
        format!(
            " ({} plus a random delay of {delay} of at most {span} min)",
            at.unwrap_or_default()
        )
    } else {
        String::new()
    };
    r.info(format!(
        "Registered with {scheduler}: `launcher fetch` for `{}` daily at {}{spread}; the next start after it applies what it fetched. `launcher schedule --remove` removes it",
        ini.display(),
        task.time()
    ));
    Ok(code::OK)
}
