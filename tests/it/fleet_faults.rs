//! Fleet reports when the report server misbehaves (issue 14): a small fault-injecting HTTP proxy on
//! loopback stands between the real launcher and the real `launcher serve --reports`, and answers with
//! an error, or passes a report on and cuts the connection before the answer comes back; a full disk
//! under the spool is a real tmpfs. Each time the app starts at once, no report is lost, and none is
//! stored twice.

use crate::common::*;
use crate::common::{try_cmd, Undo};
use crate::faults::reset_on_close;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the proxy does with each `POST /reports`.
#[derive(Debug, Clone)]
enum Mode {
    /// Answers with this status itself; the report goes nowhere.
    Answer(u16),
    /// Passes the report to the server at this address and its answer back.
    Forward(String),
    /// Passes the report to the server (which stores it), then resets the connection instead of
    /// passing the answer back: the launcher cannot know that the report arrived.
    StoreThenCut(String),
}

struct ReportProxy {
    url: String,
    mode: Arc<Mutex<Mode>>,
    /// How many requests reached the proxy.
    hits: Arc<Mutex<usize>>,
}

impl ReportProxy {
    fn start(mode: Mode) -> ReportProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(mode));
        let hits = Arc::new(Mutex::new(0));
        let (m, h) = (mode.clone(), hits.clone());
        // The thread ends with the test process; a test drops its proxy only after the last launch.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (m, h) = (m.clone(), h.clone());
                std::thread::spawn(move || {
                    let mode = m.lock().unwrap().clone();
                    proxy_one(conn, &mode, &h);
                });
            }
        });
        ReportProxy { url, mode, hits }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }
}

/// Reads one HTTP/1.1 message (head and a `Content-Length` body) from `s`.
fn read_message(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(buf);
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn proxy_one(mut client: TcpStream, mode: &Mode, hits: &Mutex<usize>) {
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let Some(request) = read_message(&mut client) else {
        return;
    };
    *hits.lock().unwrap() += 1;
    let pass_on = |upstream: &str| -> Vec<u8> {
        let mut up = TcpStream::connect(upstream).unwrap();
        up.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        up.write_all(&request).unwrap();
        read_message(&mut up).expect("the report server answered")
    };
    match mode {
        Mode::Answer(status) => {
            let body = format!("fault injected: {status}\n");
            let _ = client.write_all(
                format!(
                    "HTTP/1.1 {status} Fault\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
        Mode::Forward(upstream) => {
            let answer = pass_on(upstream);
            // One request per connection, so the sender never reuses a connection the proxy closed.
            let at = answer.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            let _ = client.write_all(&answer[..at]);
            let _ = client.write_all(b"Connection: close\r\n");
            let _ = client.write_all(&answer[at..]);
        }
        Mode::StoreThenCut(upstream) => {
            pass_on(upstream);
            reset_on_close(&client);
        }
    }
}

/// The site's app installed from the repository folder, reporting to `report_url`.
fn reporting_site(report_url: &str) -> Site {
    let site = site();
    site.publish("1.0", &[]);
    site.config(
        site.repo.to_str().unwrap(),
        &format!("ReportUrl = {report_url}\n"),
    );
    site
}

/// Waits (bounded) until the proxy has seen `n` requests and the detached sender has let go of the
/// spool's lock, that is, until the sender has finished its pass.
fn wait_for_sender(site: &Site, proxy: &ReportProxy, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let lock = site.app.join(".launcher/reports/send.lock");
    loop {
        if proxy.hits() >= n {
            let f = std::fs::File::options().write(true).open(&lock).unwrap();
            if f.try_lock().is_ok() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the sender did not finish: {} requests{}",
            proxy.hits(),
            listing(&site.app)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_of(app: &Path) -> String {
    std::fs::read_to_string(app.join(".launcher/launcher.log")).unwrap_or_default()
}

#[test]
fn a_busy_or_failing_report_server_keeps_the_reports_for_a_later_start() {
    for status in [408, 429, 500, 502, 503] {
        let db = ReportDb::sqlite();
        let repo = tempfile::tempdir().unwrap();
        let srv = report_server(repo.path(), &db, "127.0.0.1:0", &[]);
        let proxy = ReportProxy::start(Mode::Answer(status));
        let site = reporting_site(&format!("{}/reports", proxy.url));
        site.assert_launched(&site.launcher(&[]).success(), "1.0");
        // The sender stops at the first such answer and keeps the install and start reports.
        wait_for_sender(&site, &proxy, 1);
        assert_eq!(proxy.hits(), 1, "{status}: the sender went on");
        assert_eq!(
            spooled_reports(&site.app).len(),
            2,
            "{status}{}",
            listing(&site.app)
        );
        assert!(
            !log_of(&site.app).contains("report dropped"),
            "{status}: {}",
            log_of(&site.app)
        );

        // The server is well again: the next start (with nothing new to tell) sends what was kept.
        proxy.set(Mode::Forward(srv.url.trim_start_matches("http://").into()));
        site.assert_launched(&site.launcher(&[]).success(), "1.0");
        wait_for_reports(&srv.url, 2);
        wait_for_sender(&site, &proxy, 3);
        assert!(
            spooled_reports(&site.app).is_empty(),
            "{status}{}",
            listing(&site.app)
        );
        assert_eq!(db.count(), 2, "{status}");
    }
}

#[test]
fn a_report_the_server_refuses_is_logged_and_dropped_not_retried() {
    for status in [400, 404, 413, 422] {
        let proxy = ReportProxy::start(Mode::Answer(status));
        let site = reporting_site(&format!("{}/reports", proxy.url));
        site.assert_launched(&site.launcher(&[]).success(), "1.0");
        // Both reports are tried once, refused, logged and dropped.
        wait_for_sender(&site, &proxy, 2);
        assert!(
            spooled_reports(&site.app).is_empty(),
            "{status}{}",
            listing(&site.app)
        );
        let log = log_of(&site.app);
        assert_eq!(
            log.matches(&format!(
                "report dropped: `{}/reports` answered {status}",
                proxy.url
            ))
            .count(),
            2,
            "{log}"
        );
        assert!(log.contains(&format!("fault injected: {status}")), "{log}");
        // Nothing is left to send, so the next start sends nothing.
        site.assert_launched(&site.launcher(&[]).success(), "1.0");
        assert_eq!(proxy.hits(), 2, "{status}: a refused report was sent again");
    }
}

fn a_report_stored_but_not_acknowledged_is_sent_again_and_stored_once(db: ReportDb) {
    let repo = tempfile::tempdir().unwrap();
    let srv = report_server(repo.path(), &db, "127.0.0.1:0", &[]);
    let upstream = srv.url.trim_start_matches("http://").to_string();
    let proxy = ReportProxy::start(Mode::StoreThenCut(upstream.clone()));
    let site = reporting_site(&format!("{}/reports", proxy.url));
    site.assert_launched(&site.launcher(&[]).success(), "1.0");
    // The install report reached the database, but the sender saw the connection reset: it keeps it
    // (and the start report behind it) for the next start.
    wait_for_sender(&site, &proxy, 1);
    assert_eq!(db.count(), 1);
    assert_eq!(
        spooled_reports(&site.app).len(),
        2,
        "{}",
        listing(&site.app)
    );

    proxy.set(Mode::Forward(upstream));
    site.assert_launched(&site.launcher(&[]).success(), "1.0");
    wait_for_sender(&site, &proxy, 3);
    assert!(
        spooled_reports(&site.app).is_empty(),
        "{}",
        listing(&site.app)
    );
    // Sent twice, stored once.
    assert_eq!(db.count(), 2);
    let id = crate::fleet::install_id(&site.app);
    let history = fleet_json(&srv.url, &format!("?machine={id}"));
    let events: Vec<&str> = history["history"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["start", "install"], "{history:#}");
}

#[test]
fn a_report_stored_but_not_acknowledged_is_sent_again_and_stored_once_sqlite() {
    a_report_stored_but_not_acknowledged_is_sent_again_and_stored_once(ReportDb::sqlite());
}

#[test]
fn a_report_stored_but_not_acknowledged_is_sent_again_and_stored_once_postgres() {
    if let Some(db) = ReportDb::postgres() {
        a_report_stored_but_not_acknowledged_is_sent_again_and_stored_once(db);
    }
}

#[test]
fn a_full_disk_under_the_spool_does_not_stop_the_update_or_the_app() {
    let port = free_port();
    let site = reporting_site(&format!("http://127.0.0.1:{port}/reports"));
    site.assert_launched(&site.launcher(&[]).success(), "1.0");
    // A tiny tmpfs over the spool, filled up: no report can be written.
    let spool = site.app.join(".launcher/reports");
    let dir = spool.to_str().unwrap();
    if !try_cmd(&["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]) {
        return;
    }
    let _undo = Undo(vec![vec!["umount".into(), dir.into()]]);
    let mut filler = std::fs::File::create(spool.join("filler")).unwrap();
    while filler.write_all(&[0u8; 4096]).is_ok() {}
    drop(filler);

    site.publish("2.0", &[]);
    let run = site.launcher(&[]).success();
    site.assert_launched(&run, "2.0");
    let log = log_of(&site.app);
    assert!(
        log.contains("report not spooled") && log.contains("to=2.0\tresult=ok"),
        "{log}"
    );
}

#[test]
fn reports_reach_postgres_again_after_it_restarts_under_the_server() {
    let Some(db) = ReportDb::postgres() else {
        return;
    };
    let repo = tempfile::tempdir().unwrap();
    let srv = report_server(repo.path(), &db, "127.0.0.1:0", &[]);
    let site = reporting_site(&format!("{}/reports", srv.url));
    site.assert_launched(&site.launcher(&[]).success(), "1.0");
    wait_for_reports(&srv.url, 2);

    let ReportDb::Postgres(pg) = &db else {
        unreachable!()
    };
    pg.restart();
    site.publish("2.0", &[]);
    // A report that meets a connection closed by the restart is answered 503 and kept by the launcher;
    // the server reconnects, so a later start delivers it. Launch until the spool is empty (bounded).
    for round in 0.. {
        site.assert_launched(&site.launcher(&[]).success(), "2.0");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !spooled_reports(&site.app).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if spooled_reports(&site.app).is_empty() {
            break;
        }
        assert!(
            round < 5,
            "the reports never reached the restarted database{}\n{}",
            listing(&site.app),
            log_of(&site.app)
        );
    }
    let fleet = wait_for_reports(&srv.url, 3);
    assert_eq!(db.count(), 3);
    let id = crate::fleet::install_id(&site.app);
    assert_eq!(fleet["all_machines"][0]["install_id"], id.as_str());
    assert_eq!(fleet["all_machines"][0]["version"], "2.0", "{fleet:#}");
}
