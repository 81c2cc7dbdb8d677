//! `GET /fleet` and `GET /fleet.json`: the same figures, as a page for people and as JSON for scripts.
//!
//! The figures come from the newest report of each install ([`Store::latest`]): per product and channel
//! how many machines run each version and how far the newest release has got (the newest is the
//! channel's manifest in the repository when there is one, else the newest version any machine reported),
//! the failures of the last 24 hours, the machines not heard of for `stale_days` (default 7), and with
//! `?machine=<install id>` that install's history. The page is plain HTML with inline CSS: no script,
//! no framework, nothing fetched from elsewhere; every value from a report is HTML-escaped.

use super::{Fleet, Stored};
use crate::version::Version;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use percent_encoding::percent_decode_str;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

const DEFAULT_STALE_DAYS: u32 = 7;
const DAY: i64 = 86_400;
const MAX_FAILURES: i64 = 500;
const MAX_HISTORY: i64 = 1000;

#[derive(Debug, Serialize)]
pub struct FleetData {
    pub generated: String,
    pub reports: i64,
    pub machines: usize,
    pub stale_days: u32,
    pub groups: Vec<Group>,
    pub failures_24h: Vec<Event>,
    pub not_seen: Vec<Machine>,
    pub all_machines: Vec<Machine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
}

#[derive(Debug, Serialize)]
pub struct Group {
    pub product: String,
    pub channel: String,
    pub machines: usize,
    /// Newest first; machines with nothing installed count under `version: null`.
    pub versions: Vec<VersionCount>,
    pub newest: Option<String>,
    /// `repository` (the channel's manifest) or `reports` (no manifest found for the channel).
    pub newest_from: &'static str,
    pub on_newest: usize,
    pub rollout_percent: f64,
}

#[derive(Debug, Serialize)]
pub struct VersionCount {
    pub version: Option<String>,
    pub machines: usize,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub install_id: String,
    pub machine: String,
    pub os: String,
    pub platform: String,
    pub launcher_version: String,
    pub product: String,
    pub channel: String,
    pub version: Option<String>,
    pub last_event: String,
    pub last_result: String,
    pub last_error: Option<String>,
    pub last_seen: String,
}

#[derive(Debug, Serialize)]
pub struct Event {
    pub time: String,
    pub received: String,
    pub install_id: String,
    pub machine: String,
    pub product: String,
    pub channel: String,
    pub event: String,
    pub result: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub installed: Option<String>,
    pub error: Option<String>,
    pub bytes: u64,
    pub seconds: f64,
    pub dropped: u64,
}

#[derive(Debug, Serialize)]
pub struct History {
    pub install_id: String,
    pub machine: Option<String>,
    pub events: Vec<Event>,
}

pub async fn json(State(fleet): State<Arc<Fleet>>, req: Request) -> Response {
    match gather(&fleet, req.uri().query()).await {
        Ok(data) => match serde_json::to_vec_pretty(&data) {
            Ok(body) => reply(StatusCode::OK, "application/json", body),
            Err(e) => error(&fleet, e.to_string()),
        },
        Err(e) => error(&fleet, e),
    }
}

pub async fn html(State(fleet): State<Arc<Fleet>>, req: Request) -> Response {
    match gather(&fleet, req.uri().query()).await {
        Ok(data) => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            render(&data).into_bytes(),
        ),
        Err(e) => error(&fleet, e),
    }
}

fn error(fleet: &Fleet, e: String) -> Response {
    fleet
        .opts
        .reporter
        .warn(format!("cannot read the report database: {e}"));
    reply(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain; charset=utf-8",
        b"the report database is not available; see the server's log\n".to_vec(),
    )
}

fn reply(status: StatusCode, kind: &'static str, body: Vec<u8>) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `stale_days` and `machine` from the query string; anything else is ignored.
fn query(q: Option<&str>) -> (u32, Option<String>) {
    let mut days = DEFAULT_STALE_DAYS;
    let mut machine = None;
    for pair in q.unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode_str(&v.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        match k {
            "stale_days" => days = v.trim().parse().unwrap_or(DEFAULT_STALE_DAYS).min(3650),
            "machine" if crate::report::is_id(&v) => machine = Some(v),
            _ => {}
        }
    }
    (days, machine)
}

async fn gather(fleet: &Fleet, q: Option<&str>) -> Result<FleetData, String> {
    let (stale_days, machine) = query(q);
    let err = |e: super::StoreError| crate::error::one_line(&e);
    let now = crate::state::now_secs();
    // Counted first: reports only ever get added, so the rows read next include at least those counted
    // (a script that waits for N reports then sees all N on the page).
    let reports = fleet.store.count().await.map_err(err)?;
    let latest = fleet.store.latest().await.map_err(err)?;
    let failures = fleet
        .store
        .failures(now - DAY, MAX_FAILURES)
        .await
        .map_err(err)?;
    let history = match machine {
        Some(id) => {
            let rows = fleet.store.history(&id, MAX_HISTORY).await.map_err(err)?;
            Some(History {
                machine: rows.first().map(|r| r.report.machine.clone()),
                install_id: id,
                events: rows.iter().map(event).collect(),
            })
        }
        None => None,
    };
    Ok(assemble(
        &fleet.opts.repo,
        now,
        stale_days,
        reports,
        latest,
        failures,
        history,
    ))
}

fn assemble(
    repo: &Path,
    now: i64,
    stale_days: u32,
    reports: i64,
    latest: Vec<Stored>,
    failures: Vec<Stored>,
    history: Option<History>,
) -> FleetData {
    let mut all: Vec<Machine> = latest.iter().map(machine).collect();
    all.sort_by(|a, b| {
        (
            &a.product,
            &a.channel,
            a.machine.to_lowercase(),
            &a.install_id,
        )
            .cmp(&(
                &b.product,
                &b.channel,
                b.machine.to_lowercase(),
                &b.install_id,
            ))
    });
    let mut by_group: BTreeMap<(String, String), Vec<&Stored>> = BTreeMap::new();
    for s in &latest {
        by_group
            .entry((s.report.product.clone(), s.report.channel.clone()))
            .or_default()
            .push(s);
    }
    let groups = by_group
        .into_iter()
        .map(|((product, channel), rows)| {
            let mut counts: BTreeMap<Option<String>, usize> = BTreeMap::new();
            for r in &rows {
                *counts.entry(r.report.installed.clone()).or_default() += 1;
            }
            let mut versions: Vec<VersionCount> = counts
                .into_iter()
                .map(|(version, machines)| VersionCount { version, machines })
                .collect();
            versions.sort_by(|a, b| newest_first(a.version.as_deref(), b.version.as_deref()));
            let (newest, newest_from) = match channel_release(repo, &product, &channel) {
                Some(v) => (Some(v), "repository"),
                None => (versions.iter().find_map(|v| v.version.clone()), "reports"),
            };
            let on_newest = versions
                .iter()
                .filter(|v| v.version.is_some() && v.version == newest)
                .map(|v| v.machines)
                .sum::<usize>();
            let machines = rows.len();
            GroupBuilder {
                product,
                channel,
                machines,
                versions,
                newest,
                newest_from,
                on_newest,
            }
            .build()
        })
        .collect();
    let stale_after = now - i64::from(stale_days) * DAY;
    let not_seen = latest
        .iter()
        .filter(|s| s.seen < stale_after)
        .map(machine)
        .collect();
    FleetData {
        generated: time(now),
        reports,
        machines: latest.len(),
        stale_days,
        groups,
        failures_24h: failures.iter().map(event).collect(),
        not_seen,
        all_machines: all,
        history,
    }
}

struct GroupBuilder {
    product: String,
    channel: String,
    machines: usize,
    versions: Vec<VersionCount>,
    newest: Option<String>,
    newest_from: &'static str,
    on_newest: usize,
}

impl GroupBuilder {
    fn build(self) -> Group {
        let rollout_percent = if self.machines == 0 {
            0.0
        } else {
            (self.on_newest as f64 * 1000.0 / self.machines as f64).round() / 10.0
        };
        Group {
            product: self.product,
            channel: self.channel,
            machines: self.machines,
            versions: self.versions,
            newest: self.newest,
            newest_from: self.newest_from,
            on_newest: self.on_newest,
            rollout_percent,
        }
    }
}

/// Newest version first, by the launcher's version order; "nothing installed" last.
fn newest_first(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => match (Version::parse(a), Version::parse(b)) {
            (Ok(va), Ok(vb)) => vb.cmp(&va),
            _ => b.cmp(a),
        },
    }
}

/// The newest version among the channel's manifests (one per platform) in the repository.
fn channel_release(repo: &Path, product: &str, channel: &str) -> Option<String> {
    let dir = repo.join(product).join("channels").join(channel);
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| {
            let bytes = std::fs::read(e.path()).ok()?;
            let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            v.get("version")?.as_str().map(str::to_string)
        })
        .min_by(|a, b| newest_first(Some(a), Some(b)))
}

fn machine(s: &Stored) -> Machine {
    let r = &s.report;
    Machine {
        install_id: r.install_id.clone(),
        machine: r.machine.clone(),
        os: r.os.clone(),
        platform: r.platform.clone(),
        launcher_version: r.launcher_version.clone(),
        product: r.product.clone(),
        channel: r.channel.clone(),
        version: r.installed.clone(),
        last_event: r.event.clone(),
        last_result: r.result.clone(),
        last_error: r.error.clone(),
        last_seen: time(s.seen),
    }
}

fn event(s: &Stored) -> Event {
    let r = &s.report;
    Event {
        time: time_us(s.reported_us),
        received: time(s.received_at),
        install_id: r.install_id.clone(),
        machine: r.machine.clone(),
        product: r.product.clone(),
        channel: r.channel.clone(),
        event: r.event.clone(),
        result: r.result.clone(),
        from: r.from.clone(),
        to: r.to.clone(),
        installed: r.installed.clone(),
        error: r.error.clone(),
        bytes: r.bytes,
        seconds: r.seconds,
        dropped: r.dropped,
    }
}

fn time_us(micros: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros.max(0) as u64);
    humantime::format_rfc3339_micros(t).to_string()
}

fn time(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    crate::manifest::format_time(t)
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn opt(v: &Option<String>) -> String {
    v.as_deref().map(esc).unwrap_or_else(|| "–".into())
}

/// "2026-11-20T20:00:00Z" as "2026-11-20 20:00" (UTC).
fn short(t: &str) -> String {
    esc(&t.replace('T', " ").chars().take(16).collect::<String>())
}

fn machine_link(install_id: &str, name: &str) -> String {
    format!(
        "<a href=\"/fleet?machine={}#history\">{}</a>",
        esc(install_id),
        esc(name)
    )
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2330;background:#f4f6f9}
header{background:#1f3a5f;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85}main{max-width:1180px;margin:0 auto;padding:16px 24px}
section{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:12px 18px;margin:0 0 16px}
h2{font-size:16px;margin:4px 0 10px}h2 small{font-weight:normal;color:#5b6573}
.groups{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px}
.groups{margin-bottom:16px}.groups section{margin:0}td:first-child{white-space:nowrap}summary{cursor:pointer;margin:8px 0;color:#1f5fa8}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #edf0f4;vertical-align:top}
th{font-weight:600;color:#5b6573;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#e6ebf1;border-radius:4px;height:10px;min-width:80px}.bar span{display:block;height:10px;border-radius:4px;background:#3b82c4}
.progress{background:#e6ebf1;border-radius:6px;height:16px;margin:4px 0 10px}.progress span{display:block;height:16px;border-radius:6px;background:#2e9e5b}
.failed{color:#b42318;font-weight:600}.ok{color:#2e7d4f}.err{color:#7a2e24;font-family:ui-monospace,monospace;font-size:12px;word-break:break-word}
.muted{color:#5b6573}a{color:#1f5fa8}form{display:inline}input{width:4em}
";

/// The page.
pub fn render(d: &FleetData) -> String {
    let mut h = String::with_capacity(16 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Fleet – launcher</title><style>{STYLE}</style></head><body>\
         <header><h1>Fleet</h1><p><span data-k=\"machines\">{}</span> machines · \
         <span data-k=\"reports\">{}</span> reports · generated {} UTC · \
         <a style=\"color:#cfe3ff\" href=\"/fleet.json\">fleet.json</a></p></header><main>",
        d.machines,
        d.reports,
        short(&d.generated)
    );
    if d.groups.is_empty() {
        h.push_str("<section><h2>No reports yet</h2><p>Set <code>ReportUrl</code> in the machines' launcher.ini to this server's <code>/reports</code>; each update, rollback, repair and a daily start shows up here.</p></section>");
    }
    h.push_str("<div class=\"groups\">");
    for g in &d.groups {
        let gid = esc(&format!("{}/{}", g.product, g.channel));
        let _ = write!(
            h,
            "<section data-group=\"{gid}\"><h2>{} <small>channel {}</small></h2>",
            esc(&g.product),
            esc(&g.channel)
        );
        match &g.newest {
            Some(v) => {
                let _ = write!(
                    h,
                    "<div>Newest release <b>{}</b> <span class=\"muted\">(from the {})</span>: \
                     <b data-k=\"on-newest\">{}</b> of <b data-k=\"group-machines\">{}</b> machines \
                     (<span data-k=\"rollout\">{}</span>%)</div>\
                     <div class=\"progress\"><span style=\"width:{:.1}%\"></span></div>",
                    esc(v),
                    g.newest_from,
                    g.on_newest,
                    g.machines,
                    g.rollout_percent,
                    g.rollout_percent
                );
            }
            None => h.push_str("<div class=\"muted\">No release known yet</div>"),
        }
        h.push_str("<table><tr><th>Version</th><th class=\"num\">Machines</th><th></th></tr>");
        for v in &g.versions {
            let pct = v.machines as f64 * 100.0 / g.machines.max(1) as f64;
            let _ = write!(
                h,
                "<tr data-version=\"{}\"><td>{}</td><td class=\"num\">{}</td>\
                 <td style=\"width:45%\"><div class=\"bar\"><span style=\"width:{pct:.1}%\"></span></div></td></tr>",
                v.version.as_deref().map(esc).unwrap_or_default(),
                v.version
                    .as_deref()
                    .map(esc)
                    .unwrap_or_else(|| "<i>not installed</i>".into()),
                v.machines
            );
        }
        h.push_str("</table></section>");
    }
    h.push_str("</div>");

    let _ = write!(
        h,
        "<section id=\"failures\"><h2>Failures in the last 24 hours <small>(<span data-k=\"failures\">{}</span>)</small></h2>",
        d.failures_24h.len()
    );
    if d.failures_24h.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
    } else {
        // The same message on many machines is one problem: count them first, list them below.
        let mut by_error: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
        for f in &d.failures_24h {
            let key = (
                f.product.as_str(),
                f.channel.as_str(),
                f.error.as_deref().unwrap_or(""),
            );
            *by_error.entry(key).or_default() += 1;
        }
        let mut by_error: Vec<_> = by_error.into_iter().collect();
        by_error.sort_by_key(|e| std::cmp::Reverse(e.1));
        h.push_str("<table><tr><th class=\"num\">Machines</th><th>Product</th><th>Error</th></tr>");
        for ((product, channel, error), n) in &by_error {
            let _ = write!(
                h,
                "<tr><td class=\"num\">{n}</td><td>{} / {}</td><td class=\"err\">{}</td></tr>",
                esc(product),
                esc(channel),
                esc(error)
            );
        }
        let _ = write!(
            h,
            "</table><details><summary>Every failure ({})</summary>",
            d.failures_24h.len()
        );
        h.push_str("<table><tr><th>Time (UTC)</th><th>Machine</th><th>Product</th><th>What</th><th>Error</th></tr>");
        for f in &d.failures_24h {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{} / {}</td><td>{} {} → {}</td><td class=\"err\">{}</td></tr>",
                short(&f.time),
                machine_link(&f.install_id, &f.machine),
                esc(&f.product),
                esc(&f.channel),
                esc(&f.event),
                opt(&f.from),
                opt(&f.to),
                opt(&f.error)
            );
        }
        h.push_str("</table></details>");
    }
    h.push_str("</section>");

    let _ = write!(
        h,
        "<section id=\"not-seen\"><h2>Not seen for {} days <small>(<span data-k=\"not-seen\">{}</span>)</small> \
         <form method=\"get\" action=\"/fleet\"><label class=\"muted\"> days: <input name=\"stale_days\" type=\"number\" min=\"0\" value=\"{}\"></label> <button>Show</button></form></h2>",
        d.stale_days,
        d.not_seen.len(),
        d.stale_days
    );
    machine_table(&mut h, &d.not_seen);
    h.push_str("</section>");

    let _ = write!(
        h,
        "<section id=\"machines\"><h2>Machines <small>({}; click one for its history)</small></h2>",
        d.all_machines.len()
    );
    machine_table(&mut h, &d.all_machines);
    h.push_str("</section>");

    if let Some(hist) = &d.history {
        let _ = write!(
            h,
            "<section id=\"history\"><h2>History of {} <small>install {} · <span data-k=\"history\">{}</span> reports</small></h2>",
            opt(&hist.machine),
            esc(&hist.install_id),
            hist.events.len()
        );
        h.push_str("<table><tr><th>Time (UTC)</th><th>Event</th><th>Result</th><th>From</th><th>To</th><th>Installed</th><th class=\"num\">Bytes</th><th class=\"num\">Seconds</th><th>Error</th></tr>");
        for e in &hist.events {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{:.2}</td><td class=\"err\">{}</td></tr>",
                short(&e.time),
                esc(&e.event),
                if e.result == "ok" { "ok" } else { "failed" },
                esc(&e.result),
                opt(&e.from),
                opt(&e.to),
                opt(&e.installed),
                e.bytes,
                e.seconds,
                opt(&e.error)
            );
        }
        h.push_str("</table></section>");
    }
    h.push_str("</main></body></html>\n");
    h
}

fn machine_table(h: &mut String, rows: &[Machine]) {
    if rows.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
        return;
    }
    h.push_str("<table><tr><th>Machine</th><th>Product</th><th>Version</th><th>Last event</th><th>Last seen (UTC)</th><th>OS</th></tr>");
    for m in rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{} / {}</td><td>{}</td><td class=\"{}\">{} {}</td><td>{}</td><td class=\"muted\">{} · launcher {}</td></tr>",
            machine_link(&m.install_id, &m.machine),
            esc(&m.product),
            esc(&m.channel),
            opt(&m.version),
            if m.last_result == "ok" { "ok" } else { "failed" },
            esc(&m.last_event),
            esc(&m.last_result),
            short(&m.last_seen),
            esc(&m.os),
            esc(&m.launcher_version)
        );
    }
    h.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_newest_first_and_nothing_installed_last() {
        let mut v = vec![None, Some("1.10"), Some("1.9"), Some("2.0")];
        v.sort_by(|a, b| newest_first(*a, *b));
        assert_eq!(v, vec![Some("2.0"), Some("1.10"), Some("1.9"), None]);
    }

    #[test]
    fn report_text_is_escaped() {
        assert_eq!(esc("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn query_takes_days_and_a_well_formed_machine_only() {
        assert_eq!(
            query(Some("stale_days=3&machine=0123456789abcdef")),
            (3, Some("0123456789abcdef".into()))
        );
        assert_eq!(query(Some("stale_days=x&machine=%3Cscript%3E")), (7, None));
        assert_eq!(query(None), (7, None));
    }
}
