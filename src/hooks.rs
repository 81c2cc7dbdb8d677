//! Install hooks: the program a release names to run after its files are in place
//! (`publish --post-update PATH`, the manifest's `post_update`).
//!
//! What runs is only ever one of the release's own files, listed in its signed manifest and verified
//! and committed with the rest (`Manifest::validate` refuses a hook that is not one of the files);
//! nothing else from the server or the ini ever runs. The steps, after `Session::carry_out` committed
//! the release:
//!
//! 1. Run the hook in the install folder with `LAUNCHER_ACTION=post-update`, `LAUNCHER_OLD_VERSION`
//!    (empty on a first install), `LAUNCHER_NEW_VERSION` and `LAUNCHER_INSTALL_DIR`, for at most
//!    [`HOOK_TIMEOUT`]; its output goes to the update log (`.launcher/launcher.log`).
//! 2. Exit code 0: done. Anything else (a code, a crash, the timeout, a hook that cannot start) rolls
//!    the release back with `rollback::rollback` (files and all, journaled like any change), which
//!    holds the bad version, and the caller starts the previous version.
//!
//! A first install has nothing to roll back to: a failing hook there is reported and the install
//! stays (the app may still start; the publisher sees the failure in the log).

use crate::manifest::Manifest;
use crate::progress::Reporter;
use crate::state::{self, Layout};
use crate::update::{Session, UpdateError};
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
    #[error("cannot start the post-update hook `{}`", path.display())]
    Start {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the post-update hook `{hook}` of {version} {how}")]
    Failed {
        hook: String,
        version: String,
        how: String,
    },
}

/// Runs the post-update hook of `target` (if it names one) after the change from `from` was
/// committed; on failure rolls back to the previous version and returns the error that says so.
pub fn after_update(
    s: &mut Session,
    target: &Manifest,
    from: Option<&Version>,
) -> Result<(), UpdateError> {
    let Some(hook) = &target.post_update else {
        return Ok(());
    };
    let r = s.reporter;
    r.info(format!(
        "Running the post-update hook `{hook}` of {}",
        target.version
    ));
    let result = run_hook(&s.layout, hook, from, &target.version, HOOK_TIMEOUT, r);
    let (outcome, output) = match &result {
        Ok(out) => ("ok".to_string(), out.clone()),
        Err((e, out)) => (format!("failed: {e}"), out.clone()),
    };
    state::log_line(
        &s.layout,
        from.map(Version::as_str),
        Some(target.version.as_str()),
        &format!(
            "post-update hook `{hook}`: {outcome}; output: {}",
            tail(&output)
        ),
        0,
        0.0,
    );
    let Err((e, _)) = result else {
        return Ok(());
    };
    if from.is_none() {
        r.warn(format!("{e}; there is no previous version to roll back to"));
        return Ok(());
    }
    let cause = crate::error::one_line(&e);
    match crate::rollback::rollback(s) {
        Ok(rb) => Err(UpdateError::RolledBack {
            cause,
            from: rb.from,
            to: rb.to,
        }),
        Err(rb) => Err(UpdateError::RollbackFailed {
            cause,
            rollback: crate::error::one_line(&rb),
        }),
    }
}

/// Runs `hook` (a manifest path) in the install folder; Ok with its output when it exits with 0.
fn run_hook(
    layout: &Layout,
    hook: &str,
    from: Option<&Version>,
    to: &Version,
    timeout: Duration,
    reporter: &Reporter,
) -> Result<String, (HookError, String)> {
    let path = crate::fsutil::native(&layout.dir, hook);
    // The output goes to a file, not a pipe: a hook that leaves a program running (a service it
    // restarts) would hold a pipe open, and reading it to the end would never finish.
    let out_path = layout.meta.join("hook-output.txt");
    let started_err = |source| {
        (
            HookError::Start {
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
        .env("LAUNCHER_ACTION", "post-update")
        .env(
            "LAUNCHER_OLD_VERSION",
            from.map(Version::as_str).unwrap_or(""),
        )
        .env("LAUNCHER_NEW_VERSION", to.as_str())
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
            hook: hook.to_string(),
            version: to.to_string(),
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
