//! The fleet side of `launcher serve --reports` (issue 14): `POST /reports` takes the launchers'
//! reports into the [`store`], `GET /fleet` shows them as a page and `GET /fleet.json` as data.
//!
//! It owns what the server accepts. A report goes through these steps, and the first that fails
//! answers with a 4xx saying why (the launcher logs it and drops the report, so it is not retried):
//! 1. Throttle: each address may send `--report-limit` reports a minute (bursts up to the same number);
//!    more is `429` with `Retry-After` (the launcher keeps those and tries on a later start).
//! 2. Token: with `--report-token`, `Authorization: Bearer <token>` must match, else `401`.
//! 3. Size: a body over [`MAX_BODY`] is `413`.
//! 4. Shape: JSON of [`Report`] with every field within its bounds ([`validate`]), else `400`/`422`.
//! 5. Store: inserted once by id (`201`, or `200` for a report already stored); a database failure is
//!    `503`, which the launcher retries later.
//!
//! It never writes to the repository and only reads its channel manifests (for the newest release).

mod page;
pub mod store;

use crate::report::{is_id, Report};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
pub use store::{Store, StoreError};

/// The largest report body accepted; a report is a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// A stored report with its time (microseconds since 1970) and the server's (seconds).
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    #[serde(flatten)]
    pub report: Report,
    pub reported_us: i64,
    pub received_at: i64,
    /// For the newest report of an install: when the install was last heard of; else `received_at`.
    pub seen: i64,
}

/// How the fleet routes behave.
pub struct Options {
    pub token: Option<String>,
    /// Reports a minute from one address; 0: no limit.
    pub limit_per_minute: u32,
    /// The repository, for the channels' newest releases.
    pub repo: PathBuf,
    pub reporter: crate::progress::Reporter,
}

struct Fleet {
    store: Store,
    opts: Options,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The fleet routes over `store`.
pub fn router(store: Store, opts: Options) -> Router {
    let fleet = Arc::new(Fleet {
        store,
        opts,
        buckets: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/reports", post(post_report))
        .route("/fleet", get(page::html))
        .route("/fleet.json", get(page::json))
        .with_state(fleet)
}

async fn post_report(
    State(fleet): State<Arc<Fleet>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    if let Some(wait) = fleet.throttle(peer.ip()) {
        let mut res = text(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many reports from {}: at most {} a minute",
                peer.ip(),
                fleet.opts.limit_per_minute
            ),
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return res;
    }
    if let Some(token) = &fleet.opts.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same(given.as_bytes(), token.as_bytes()) {
            return text(
                StatusCode::UNAUTHORIZED,
                "missing or wrong report token: set ReportToken in launcher.ini to the server's --report-token",
            );
        }
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a report is at most {MAX_BODY} bytes"),
            )
        }
    };
    let report: Report = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("not a report: {e}")),
    };
    let reported_us = match validate(&report) {
        Ok(t) => t,
        Err(why) => return text(StatusCode::UNPROCESSABLE_ENTITY, why),
    };
    let now = crate::state::now_secs();
    match fleet
        .store
        .insert(&report, reported_us, now, &peer.ip().to_string())
        .await
    {
        Ok(true) => text(StatusCode::CREATED, "stored"),
        Ok(false) => text(StatusCode::OK, "already stored"),
        Err(e) => {
            fleet.opts.reporter.warn(format!(
                "cannot store a report: {}",
                crate::error::one_line(&e)
            ));
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the report database is not available; try later",
            )
        }
    }
}

impl Fleet {
    /// None when `ip` may send now, else the seconds to wait.
    fn throttle(&self, ip: IpAddr) -> Option<u64> {
        let limit = self.opts.limit_per_minute;
        if limit == 0 {
            return None;
        }
        let cap = f64::from(limit);
        let per_sec = cap / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // A flood from many addresses must not grow the map without bound: forget the full buckets
            // (an address that has not sent for a minute is as good as new).
            buckets
                .retain(|_, b| now.duration_since(b.at).as_secs_f64() * per_sec + b.tokens < cap);
        }
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            Some(((1.0 - b.tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a token was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks every field of a report; Ok gives its time in microseconds since 1970.
pub fn validate(r: &Report) -> Result<i64, String> {
    let plain = |field: &str, v: &str, max: usize, required: bool| -> Result<(), String> {
        if required && v.is_empty() {
            return Err(format!("field `{field}` is empty"));
        }
        if v.len() > max {
            return Err(format!("field `{field}` is longer than {max} bytes"));
        }
        if v.chars().any(char::is_control) {
            return Err(format!("field `{field}` contains control characters"));
        }
        Ok(())
    };
    for (field, v) in [("id", &r.id), ("install_id", &r.install_id)] {
        if !is_id(v) {
            return Err(format!(
                "field `{field}` must be 8 to 64 letters, digits or dashes"
            ));
        }
    }
    plain("machine", &r.machine, 255, true)?;
    plain("os", &r.os, 64, true)?;
    plain("launcher_version", &r.launcher_version, 64, true)?;
    for (field, v) in [
        ("product", &r.product),
        ("channel", &r.channel),
        ("platform", &r.platform),
    ] {
        crate::manifest::check_name(field, v).map_err(|e| format!("field `{field}`: {e}"))?;
    }
    if r.event.is_empty()
        || r.event.len() > 32
        || !r.event.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
    {
        return Err("field `event` must be 1 to 32 lowercase letters or dashes".into());
    }
    if r.result != "ok" && r.result != "failed" {
        return Err("field `result` must be `ok` or `failed`".into());
    }
    for (field, v) in [
        ("from", &r.from),
        ("to", &r.to),
        ("installed", &r.installed),
    ] {
        if let Some(v) = v {
            plain(field, v, 64, true)?;
        }
    }
    if let Some(e) = &r.error {
        if e.len() > 4000 {
            return Err("field `error` is longer than 4000 bytes".into());
        }
    }
    if !(r.seconds.is_finite() && (0.0..=1e7).contains(&r.seconds)) {
        return Err("field `seconds` must be between 0 and 10000000".into());
    }
    if r.bytes > i64::MAX as u64 || r.dropped > i64::MAX as u64 {
        return Err("fields `bytes` and `dropped` must fit in 63 bits".into());
    }
    let t = crate::manifest::parse_time(&r.time)
        .ok_or("field `time` must be an RFC 3339 time such as 2026-11-20T20:00:00Z")?;
    // Microseconds: one launch makes several reports within the same second, and their order is
    // what tells which is the install's current state.
    Ok(t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0))
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut res = Response::new(Body::from(body.into() + "\n"));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            id: "0123456789abcdef".into(),
            install_id: "fedcba9876543210".into(),
            machine: "PC-017".into(),
            os: "linux x86_64".into(),
            launcher_version: "0.1.0".into(),
            product: "demo".into(),
            channel: "stable".into(),
            platform: "linux-x86_64".into(),
            event: "update".into(),
            result: "ok".into(),
            from: Some("1.0".into()),
            to: Some("2.0".into()),
            installed: Some("2.0".into()),
            error: None,
            bytes: 10,
            seconds: 0.5,
            time: "2026-11-20T20:00:00Z".into(),
            dropped: 0,
        }
    }

    #[test]
    fn a_report_out_of_bounds_is_refused_with_the_field_named() {
        assert!(validate(&report()).is_ok());
        type Breaker = Box<dyn Fn(&mut Report)>;
        let cases: Vec<(&str, Breaker)> = vec![
            ("id", Box::new(|r| r.id = "x".into())),
            ("machine", Box::new(|r| r.machine = "a\nb".into())),
            ("product", Box::new(|r| r.product = "../etc".into())),
            ("event", Box::new(|r| r.event = "DROP TABLE".into())),
            ("result", Box::new(|r| r.result = "maybe".into())),
            ("seconds", Box::new(|r| r.seconds = f64::NAN)),
            ("time", Box::new(|r| r.time = "yesterday".into())),
            ("to", Box::new(|r| r.to = Some("x".repeat(65)))),
        ];
        for (field, break_it) in cases {
            let mut r = report();
            break_it(&mut r);
            let err = validate(&r).unwrap_err();
            assert!(err.contains(&format!("`{field}`")), "{field}: {err}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
    }
}
