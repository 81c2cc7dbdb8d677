//! Install hooks: the programs a release names to run after its files are in place
//! (`publish --post-update PATH`, the manifest's `post_update`) and before a rollback takes them away
//! (`publish --pre-rollback PATH`, `pre_rollback`: the undo of what the first one did).
//!
//! What runs is only ever one of the release's own files, listed in its signed manifest and verified
//! and committed with the rest (`Manifest::validate` refuses a hook that is not one of the files);
//! nothing else from the server or the ini ever runs. A hook runs in the install folder with
//! `LAUNCHER_ACTION` (`post-update` or `pre-rollback`), `LAUNCHER_OLD_VERSION` (the version being left;
//! empty on a first install), `LAUNCHER_NEW_VERSION` (the version being installed or restored) and
//! `LAUNCHER_INSTALL_DIR`, for at most [`HOOK_TIMEOUT`]; its output goes to the update log
//! (`.launcher/launcher.log`), through a file so that a program it leaves running cannot hang us.
//!
//! - [`after_update`]: exit code 0 is success; anything else (a code, a crash, the timeout, a hook
//!   that cannot start) is returned, and the caller rolls the release back (`commands::run`).
//! - [`before_rollback`]: a failure is logged and warned about, and the rollback goes on: it is the
//!   safety net, and a broken undo must not keep the previous version from coming back.

use crate::manifest::Manifest;
use crate::progress::Reporter;
use crate::state::{self, Layout};
use crate::version::Version;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest a hook may run: a data migration of a large install can take minutes, but a hook that
/// hangs must not keep the user from their app for ever.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(300);
/// How much of a hook's output is kept in the log line (its end is what explains a failure).
const OUTPUT_KEPT: usize = 4000;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("cannot start the {action} hook `{}`", path.display())]
    Start {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the {action} hook `{hook}` of {version} {how}")]
    Failed {
        action: &'static str,
        hook: String,
        version: String,
        how: String,
    },
}

/// Runs the post-update hook of `target` (if it names one) after the change from `from` was
/// committed. An error means the caller must roll the release back.
pub fn after_update(
    layout: &Layout,
    reporter: &Reporter,
    target: &Manifest,
    from: Option<&Version>,
) -> Result<(), HookError> {
    let Some(hook) = &target.post_update else {
        return Ok(());
    };
    reporter.info(format!(
        "Running the post-update hook `{hook}` of {}",
        target.version
    ));
    let hook = Hook {
        action: "post-update",
        path: hook,
        owner: &target.version,
        old: from,
        new: &target.version,
    };
    run_logged(layout, reporter, &hook)
}

/// Runs the pre-rollback hook of `current` (if it names one) before a rollback to `to` takes its
/// files away. A failure is logged and warned about; the rollback goes on.
pub fn before_rollback(layout: &Layout, reporter: &Reporter, current: &Manifest, to: &Version) {
    let Some(hook) = &current.pre_rollback else {
        return;
    };
    reporter.info(format!(
        "Running the pre-rollback hook `{hook}` of {}",
        current.version
    ));
    let hook = Hook {
        action: "pre-rollback",
        path: hook,
        owner: &current.version,
        old: Some(&current.version),
        new: to,
    };
    if let Err(e) = run_logged(layout, reporter, &hook) {
        reporter.warn(format!("{e}; rolling back anyway"));
    }
}

/// One hook run: which, whose, and the versions it moves between.
struct Hook<'a> {
    action: &'static str,
    /// Its manifest path.
    path: &'a str,
    /// The release that names it.
    owner: &'a Version,
    old: Option<&'a Version>,
    new: &'a Version,
}

/// Runs `hook` and writes its result and output to the update log.
fn run_logged(layout: &Layout, reporter: &Reporter, hook: &Hook) -> Result<(), HookError> {
    let result = run_hook(layout, hook, HOOK_TIMEOUT, reporter);
    let (outcome, output) = match &result {
        Ok(out) => ("ok".to_string(), out.clone()),
        Err((e, out)) => (format!("failed: {e}"), out.clone()),
    };
    state::log_line(
        layout,
        hook.old.map(Version::as_str),
        Some(hook.new.as_str()),
        &format!(
            "{} hook `{}`: {outcome}; output: {}",
            hook.action,
            hook.path,
            tail(&output)
        ),
        0,
        0.0,
    );
    result.map(|_| ()).map_err(|(e, _)| e)
}

/// Runs `hook` (a manifest path) in the install folder; Ok with its output when it exits with 0.
fn run_hook(
    layout: &Layout,
    hook: &Hook,
    timeout: Duration,
    reporter: &Reporter,
) -> Result<String, (HookError, String)> {
    let path = crate::fsutil::native(&layout.dir, hook.path);
    // The output goes to a file, not a pipe: a hook that leaves a program running (a service it
    // restarts) would hold a pipe open, and reading it to the end would never finish.
    let out_path = layout.meta.join("hook-output.txt");
    let started_err = |source| {
        (
            HookError::Start {
                action: hook.action,
                path: path.clone(),
                source,
            },
            String::new(),
        )
    };
    let out = std::fs::File::create(&out_path).map_err(started_err)?;
    let err = out.try_clone().map_err(started_err)?;
    let mut cmd = command_for(&path);
    cmd.current_dir(&layout.dir)
        .env("LAUNCHER_ACTION", hook.action)
        .env(
            "LAUNCHER_OLD_VERSION",
            hook.old.map(Version::as_str).unwrap_or(""),
        )
        .env("LAUNCHER_NEW_VERSION", hook.new.as_str())
        .env("LAUNCHER_INSTALL_DIR", &layout.dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let mut child = cmd.spawn().map_err(started_err)?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let output = std::fs::read(&out_path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        reporter.detail(format!("  hook: {line}"));
    }
    let how = match status {
        Some(s) if s.success() => return Ok(output),
        Some(s) => match s.code() {
            Some(code) => format!("failed with exit code {code}"),
            None => "crashed (killed by a signal)".to_string(),
        },
        None => format!("did not finish within {} s", timeout.as_secs()),
    };
    Err((
        HookError::Failed {
            action: hook.action,
            hook: hook.path.to_string(),
            version: hook.owner.to_string(),
            how,
        },
        output,
    ))
}

/// The command that runs `path`: batch files through `cmd /C` on Windows, the file itself elsewhere.
fn command_for(path: &Path) -> Command {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if cfg!(windows) && matches!(ext.as_deref(), Some("cmd" | "bat")) {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(path);
        c
    } else {
        Command::new(path)
    }
}

/// The last [`OUTPUT_KEPT`] bytes of `output` on one line.
fn tail(output: &str) -> String {
    let flat = output.trim().replace(['\n', '\r'], " | ");
    let start = flat.len().saturating_sub(OUTPUT_KEPT);
    let start = (start..flat.len())
        .find(|i| flat.is_char_boundary(*i))
        .unwrap_or(flat.len());
    flat[start..].to_string()
}
