//! Sending the spool: what the detached `launcher __send-reports` process does, oldest report first.
//!
//! One sender at a time per install (`reports/send.lock`, released by the OS if the sender dies); a
//! second one finds the lock taken and leaves. Each report is one `POST` bounded by `Timeout`:
//! - 2xx: delivered, the file is removed;
//! - 408, 429: the server is busy; stop and keep the rest for the next start;
//! - any other 4xx: the server will never take it; one line in `launcher.log`, the file is removed;
//! - 5xx, or no answer: stop and keep everything for the next start.

use super::{dropped_file, read_dropped, spool_dir, spooled, Report};
use crate::config::Config;
use crate::state::Layout;
use std::fs::OpenOptions;
use std::time::Duration;

/// How long a sender waits for the one before it to finish.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// What one pass over the spool did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SendOutcome {
    pub sent: usize,
    pub refused: usize,
    /// Reports left for a later start (the server was unreachable or busy).
    pub kept: usize,
    /// Another sender was running, so this one did nothing.
    pub busy: bool,
}

/// Sends what the spool of `cfg`'s install holds.
pub fn send_spool(cfg: &Config) -> SendOutcome {
    let mut out = SendOutcome::default();
    let Some(url) = cfg.report_url.as_deref() else {
        return out;
    };
    let layout = Layout::new(&cfg.dir);
    let dir = spool_dir(&layout);
    let Ok(lock) = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("send.lock"))
    else {
        return out;
    };
    // The sender before may be about to exit, after its last look at the spool and before a report
    // spooled since; wait for it a little rather than leave that report for the next start.
    let waited = std::time::Instant::now();
    while lock.try_lock().is_err() {
        if waited.elapsed() > LOCK_WAIT {
            out.busy = true;
            return out;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Reports spooled while sending are sent too: look again until the spool is empty.
    loop {
        let Ok(names) = spooled(&dir) else {
            return out;
        };
        let before = out.sent + out.refused;
        if names.is_empty() || !send_all(cfg, url, &layout, &dir, names, &mut out) {
            return out;
        }
        // A file that can be neither read nor removed must not keep the sender going round.
        if out.sent + out.refused == before {
            return out;
        }
    }
}

/// Sends `names` in order; false when the rest must wait for a later start.
fn send_all(
    cfg: &Config,
    url: &str,
    layout: &Layout,
    dir: &std::path::Path,
    names: Vec<String>,
    out: &mut SendOutcome,
) -> bool {
    let client = match client(cfg) {
        Ok(c) => c,
        Err(e) => {
            log(layout, &format!("cannot send reports to `{url}`: {e}"));
            out.kept = names.len();
            return false;
        }
    };
    let mut names = names.into_iter();
    while let Some(name) = names.next() {
        let path = dir.join(&name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(mut report) = serde_json::from_slice::<Report>(&bytes) else {
            log(
                layout,
                &format!("report `{}` is not readable JSON; dropped", path.display()),
            );
            let _ = std::fs::remove_file(&path);
            continue;
        };
        let dropped = read_dropped(dir);
        report.dropped = report.dropped.saturating_add(dropped);
        let Ok(body) = serde_json::to_vec(&report) else {
            continue;
        };
        let mut req = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(token) = &cfg.report_token {
            req = req.bearer_auth(token);
        }
        match req.send() {
            Ok(res) if res.status().is_success() => {
                out.sent += 1;
                let _ = std::fs::remove_file(&path);
                if dropped > 0 {
                    forget_dropped(dir, dropped);
                }
            }
            Ok(res)
                if matches!(res.status().as_u16(), 408 | 429) || res.status().is_server_error() =>
            {
                out.kept = 1 + names.len();
                return false;
            }
            Ok(res) => {
                let status = res.status();
                let why = res.text().unwrap_or_default();
                log(
                    layout,
                    &format!(
                        "report dropped: `{url}` answered {status}: {}",
                        why.trim().chars().take(300).collect::<String>()
                    ),
                );
                out.refused += 1;
                let _ = std::fs::remove_file(&path);
            }
            Err(_) => {
                out.kept = 1 + names.len();
                return false;
            }
        }
    }
    true
}

/// Subtracts what was just delivered from the dropped count (reports dropped meanwhile stay counted).
fn forget_dropped(dir: &std::path::Path, delivered: u64) {
    let left = read_dropped(dir).saturating_sub(delivered);
    if left == 0 {
        let _ = std::fs::remove_file(dropped_file(dir));
    } else {
        let _ = std::fs::write(dropped_file(dir), left.to_string());
    }
}

fn log(layout: &Layout, what: &str) {
    crate::state::log_line(layout, None, None, what, 0, 0.0);
}

/// A client with the install's `Timeout`, `Proxy` and `CaFile`, like the update source's.
fn client(cfg: &Config) -> Result<reqwest::blocking::Client, String> {
    let mut b = reqwest::blocking::Client::builder()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("launcher/", env!("CARGO_PKG_VERSION")));
    if let Some(p) = &cfg.proxy {
        let proxy = reqwest::Proxy::all(p).map_err(|e| format!("Proxy `{p}`: {e}"))?;
        b = b.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
    }
    if let Some(ca) = &cfg.ca_file {
        let pem =
            std::fs::read(ca).map_err(|e| format!("cannot read CaFile `{}`: {e}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("CaFile `{}`: {e}", ca.display()))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| crate::error::one_line(&e))
}
