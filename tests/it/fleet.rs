//! Fleet reports (issue 14): the real launcher reports to the real `launcher serve --reports`, and the
//! same scenarios run against SQLite and against a real PostgreSQL started by the test.

use crate::common::*;
use std::io::{Read, Write};
use std::path::Path;

/// Publishes the sample app into `site.repo` and writes an ini whose `ReportUrl` is `report_url`.
fn install_with_reports(site: &Site, server: &str, report_url: &str, extra: &str) {
    site.config(server, &format!("ReportUrl = {report_url}\n{extra}"));
}

fn db_or_skip(postgres: bool) -> Option<ReportDb> {
    if postgres {
        ReportDb::postgres()
    } else {
        Some(ReportDb::sqlite())
    }
}

fn machine<'a>(fleet: &'a serde_json::Value, install_id: &str) -> &'a serde_json::Value {
    fleet["all_machines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["install_id"] == install_id)
        .unwrap_or_else(|| panic!("install {install_id} is not on /fleet:\n{fleet:#}"))
}

pub(crate) fn install_id(app: &Path) -> String {
    std::fs::read_to_string(app.join(".launcher/install-id"))
        .unwrap()
        .trim()
        .to_string()
}

fn install_update_and_history_reach_the_fleet(postgres: bool) {
    let Some(db) = db_or_skip(postgres) else {
        return;
    };
    let site = site();
    site.publish("1.0", &[]);
    let srv = report_server(&site.repo, &db, "127.0.0.1:0", &[]);
    install_with_reports(&site, &srv.url, &format!("{}/reports", srv.url), "");
    let first = site.launcher(&[]).success();
    site.assert_launched(&first, "1.0");
    // The install and the day's first start.
    wait_for_reports(&srv.url, 2);
    site.publish("2.0", &[]);
    let second = site.launcher(&[]).success();
    site.assert_launched(&second, "2.0");
    let fleet = wait_for_reports(&srv.url, 3);
    assert_eq!(db.count(), 3, "the database itself holds the reports");

    let id = install_id(&site.app);
    let m = machine(&fleet, &id);
    assert_eq!(m["version"], "2.0", "{fleet:#}");
    assert_eq!(m["last_event"], "update");
    assert_eq!(fleet["machines"], 1);
    let group = &fleet["groups"][0];
    assert_eq!(group["product"], "demo");
    assert_eq!(group["channel"], "stable");
    assert_eq!(group["newest"], "2.0");
    assert_eq!(group["newest_from"], "repository");
    assert_eq!(group["on_newest"], 1);
    assert_eq!(group["rollout_percent"], 100.0);
    assert_eq!(fleet["failures_24h"].as_array().unwrap().len(), 0);

    let history = fleet_json(&srv.url, &format!("?machine={id}"));
    let events: Vec<(String, Option<String>, Option<String>)> = history["history"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["from"].as_str().map(str::to_string),
                e["to"].as_str().map(str::to_string),
            )
        })
        .collect();
    for want in [
        ("install".to_string(), None, Some("1.0".to_string())),
        (
            "update".to_string(),
            Some("1.0".to_string()),
            Some("2.0".to_string()),
        ),
        ("start".to_string(), None, None),
    ] {
        assert!(events.contains(&want), "{want:?} missing from {events:?}");
    }
    let update = history["history"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "update")
        .unwrap();
    assert!(update["bytes"].as_u64().unwrap() > 0, "{update:#}");
    assert_eq!(update["result"], "ok");
    assert!(
        spooled_reports(&site.app).is_empty(),
        "{}",
        listing(&site.app)
    );
}

#[test]
fn install_update_and_history_reach_the_fleet_sqlite() {
    install_update_and_history_reach_the_fleet(false);
}

#[test]
fn install_update_and_history_reach_the_fleet_postgres() {
    install_update_and_history_reach_the_fleet(true);
}

fn offline_reports_are_spooled_and_arrive_when_the_server_is_back(postgres: bool) {
    let Some(db) = db_or_skip(postgres) else {
        return;
    };
    let site = site();
    site.publish("1.0", &[]);
    let port = free_port();
    // The repository is read as a folder; the report server is down.
    install_with_reports(
        &site,
        site.repo.to_str().unwrap(),
        &format!("http://127.0.0.1:{port}/reports"),
        "",
    );
    site.assert_launched(&site.launcher(&[]).success(), "1.0");
    site.publish("2.0", &[]);
    site.assert_launched(&site.launcher(&[]).success(), "2.0");
    // Install, start, update: all kept, none lost to the refused connections.
    let spooled = spooled_reports(&site.app);
    assert_eq!(spooled.len(), 3, "{}", listing(&site.app));

    let srv = report_server(&site.repo, &db, &format!("127.0.0.1:{port}"), &[]);
    // A launch with nothing new sends what was kept.
    site.assert_launched(&site.launcher(&[]).success(), "2.0");
    let fleet = wait_for_reports(&srv.url, 3);
    assert_eq!(db.count(), 3);
    let id = install_id(&site.app);
    assert_eq!(
        machine(&fleet, &id)["version"],
        "2.0",
        "{:#}",
        fleet_json(&srv.url, &format!("?machine={id}"))["history"]
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !spooled_reports(&site.app).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            listing(&site.app)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn offline_reports_are_spooled_and_arrive_when_the_server_is_back_sqlite() {
    offline_reports_are_spooled_and_arrive_when_the_server_is_back(false);
}

#[test]
fn offline_reports_are_spooled_and_arrive_when_the_server_is_back_postgres() {
    offline_reports_are_spooled_and_arrive_when_the_server_is_back(true);
}

fn post(base: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let mut req = format!(
        "POST /reports HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // A server may answer (413) before reading a large body; it may then reset the rest.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Reply {
        status,
        headers: head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

fn bad_reports_are_refused_with_a_reason_and_not_stored(postgres: bool) {
    let Some(db) = db_or_skip(postgres) else {
        return;
    };
    let site = site();
    let srv = report_server(
        &site.repo,
        &db,
        "127.0.0.1:0",
        &["--report-token", "s3cret", "--report-limit", "1000"],
    );
    let auth = [("Authorization", "Bearer s3cret")];
    let good = serde_json::to_vec(&fleet_report(1)).unwrap();
    let body = |r: &Reply| String::from_utf8_lossy(&r.body).into_owned();

    let r = post(&srv.url, &good, &[]);
    assert_eq!(r.status, 401, "{}", body(&r));
    assert!(body(&r).contains("ReportToken"), "{}", body(&r));
    let r = post(&srv.url, &good, &[("Authorization", "Bearer wrong")]);
    assert_eq!(r.status, 401);

    let r = post(&srv.url, b"{not json", &auth);
    assert_eq!(r.status, 400, "{}", body(&r));
    let mut bad = fleet_report(2);
    bad["product"] = "../../etc".into();
    let r = post(&srv.url, &serde_json::to_vec(&bad).unwrap(), &auth);
    assert_eq!(r.status, 422, "{}", body(&r));
    assert!(body(&r).contains("`product`"), "{}", body(&r));
    let mut bad = fleet_report(3);
    bad["machine"] = "x".repeat(300).into();
    let r = post(&srv.url, &serde_json::to_vec(&bad).unwrap(), &auth);
    assert_eq!(r.status, 422, "{}", body(&r));
    let mut huge = fleet_report(4);
    huge["error"] = "e".repeat(100_000).into();
    let r = post(&srv.url, &serde_json::to_vec(&huge).unwrap(), &auth);
    assert_eq!(r.status, 413, "{}", body(&r));

    let r = post(&srv.url, &good, &auth);
    assert_eq!(r.status, 201, "{}", body(&r));
    // A resend (the sender died after the server stored it) is acknowledged, not stored twice.
    let r = post(&srv.url, &good, &auth);
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(db.count(), 1);

    // A launcher with the wrong token: the 401 is logged and the report dropped, not retried.
    site.publish("1.0", &[]);
    install_with_reports(
        &site,
        site.repo.to_str().unwrap(),
        &format!("{}/reports", srv.url),
        "ReportToken = not-the-token",
    );
    site.assert_launched(&site.launcher(&[]).success(), "1.0");
    let log = site.app.join(".launcher/launcher.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let dropped = text.matches("report dropped").count();
        if dropped == 2 && spooled_reports(&site.app).is_empty() {
            assert!(text.contains("401"), "{text}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected the install and start reports dropped:\n{text}\n{}",
            listing(&site.app)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(db.count(), 1);
}

#[test]
fn bad_reports_are_refused_with_a_reason_and_not_stored_sqlite() {
    bad_reports_are_refused_with_a_reason_and_not_stored(false);
}

#[test]
fn bad_reports_are_refused_with_a_reason_and_not_stored_postgres() {
    bad_reports_are_refused_with_a_reason_and_not_stored(true);
}

#[test]
fn a_flood_from_one_address_is_throttled_and_others_still_get_in() {
    let db = ReportDb::sqlite();
    let site = site();
    let srv = report_server(&site.repo, &db, "127.0.0.1:0", &["--report-limit", "5"]);
    let statuses: Vec<u16> = (0..8)
        .map(|n| {
            post(
                &srv.url,
                &serde_json::to_vec(&fleet_report(n)).unwrap(),
                &[],
            )
            .status
        })
        .collect();
    assert_eq!(&statuses[..5], &[201; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let r = post(
        &srv.url,
        &serde_json::to_vec(&fleet_report(9)).unwrap(),
        &[],
    );
    assert!(r.header("retry-after").is_some(), "{r:?}");
    assert_eq!(db.count(), 5);
    // Another machine (another loopback source address) is not held back by the flood.
    let client = reqwest::blocking::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let res = client
        .post(format!("{}/reports", srv.url))
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&fleet_report(10)).unwrap())
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    assert_eq!(db.count(), 6);
}

#[test]
fn a_report_server_that_never_answers_does_not_delay_the_app() {
    let site = site();
    site.publish("1.0", &[]);
    // A report server that accepts connections and never answers.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    install_with_reports(
        &site,
        site.repo.to_str().unwrap(),
        &format!("http://127.0.0.1:{port}/reports"),
        "Timeout = 3600",
    );
    // The app runs to its end while the report's connection still waits for an answer.
    let run = site.launcher(&[]).success();
    site.assert_launched(&run, "1.0");
    let (conn, _) = hole.accept().unwrap();
    let mut buf = [0u8; 4];
    conn.set_nonblocking(true).unwrap();
    // The sender is still connected: nothing has closed the connection yet.
    let mut c = &conn;
    let read = c.read(&mut buf);
    assert!(
        !matches!(read, Ok(0)),
        "the sender gave up although the app already ran"
    );
    assert!(
        !spooled_reports(&site.app).is_empty(),
        "{}",
        listing(&site.app)
    );
    // The sender is detached and bounded by Timeout; end it now by closing its connection.
    drop(conn);
    drop(hole);
}

#[test]
fn a_full_spool_drops_the_oldest_and_says_how_many() {
    let db = ReportDb::sqlite();
    let site = site();
    site.publish("1.0", &[]);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    // The first launch installs from the folder; after that the server (down) is the update source.
    install_with_reports(
        &site,
        site.repo.to_str().unwrap(),
        &format!("{url}/reports"),
        "",
    );
    site.assert_launched(&site.launcher(&[]).success(), "1.0");
    install_with_reports(&site, &url, &format!("{url}/reports"), "");
    let launches = 105;
    for _ in 0..launches {
        site.assert_launched(&site.launcher(&[]).success(), "1.0");
    }
    // Made: install + start + one failed update per launch.
    let made = 2 + launches as u64;
    assert_eq!(
        spooled_reports(&site.app).len(),
        100,
        "{}",
        listing(&site.app)
    );
    let dropped: u64 = std::fs::read_to_string(site.app.join(".launcher/reports/dropped"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(dropped, made - 100);

    let srv = report_server(&site.repo, &db, &format!("127.0.0.1:{port}"), &[]);
    site.assert_launched(&site.launcher(&[]).success(), "1.0");
    // The spool's 100; the launch itself had nothing new to tell.
    let fleet = wait_for_reports(&srv.url, 100);
    assert_eq!(db.count(), 100);
    let id = install_id(&site.app);
    let history = fleet_json(&srv.url, &format!("?machine={id}"));
    let told: u64 = history["history"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["dropped"].as_u64().unwrap())
        .sum();
    assert_eq!(told, dropped, "the server learns how many were dropped");
    assert!(!fleet["failures_24h"].as_array().unwrap().is_empty());
    assert!(!site.app.join(".launcher/reports/dropped").exists());
}

#[test]
fn a_bad_report_url_is_a_config_error_naming_the_key() {
    let site = site();
    site.publish("1.0", &[]);
    install_with_reports(&site, site.repo.to_str().unwrap(), "ftp://x/reports", "");
    site.launcher(&[])
        .code_is(3)
        .stderr_has("ReportUrl = ftp://x/reports")
        .stderr_has("POST /reports");
}

/// Version 1.0 installed from the repository folder, reporting to a fresh `serve --reports` (SQLite).
fn installed_and_reporting() -> (Site, ReportDb, Server) {
    let db = ReportDb::sqlite();
    let site = site();
    site.publish("1.0", &[]);
    let srv = report_server(&site.repo, &db, "127.0.0.1:0", &[]);
    install_with_reports(
        &site,
        site.repo.to_str().unwrap(),
        &format!("{}/reports", srv.url),
        "",
    );
    site.assert_launched(&site.launcher(&[]).success(), "1.0");
    (site, db, srv)
}

#[test]
fn a_rollback_that_cannot_happen_is_reported_as_a_failure() {
    let (site, _db, srv) = installed_and_reporting();
    // Nothing was updated yet, so there is no backup to go back to.
    site.launcher(&["rollback"]).failure();
    let fleet = wait_for_reports(&srv.url, 3);
    let failures = fleet["failures_24h"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{fleet:#}");
    assert_eq!(failures[0]["event"], "rollback");
    assert_eq!(failures[0]["installed"], "1.0");
    assert!(
        failures[0]["error"].as_str().unwrap().contains("backup"),
        "{fleet:#}"
    );
}

#[test]
fn a_repair_is_reported() {
    let (site, _db, srv) = installed_and_reporting();
    write(&site.app.join("VERSION"), "damaged\n");
    site.launcher(&["verify", "--repair"]).success();
    let fleet = wait_for_reports(&srv.url, 3);
    let m = machine(&fleet, &install_id(&site.app));
    assert_eq!(m["last_event"], "repair", "{fleet:#}");
    assert_eq!(m["last_result"], "ok");
    assert_eq!(m["version"], "1.0");
}

#[test]
fn serve_takes_the_report_database_and_token_from_the_environment() {
    let site = site();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-env.db");
    std::fs::create_dir_all(&site.repo).unwrap();
    let mut c = launcher();
    c.args([
        "serve",
        "--repo",
        site.repo.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ])
    .env("LAUNCHER_REPORTS", &db)
    .env("LAUNCHER_REPORT_TOKEN", "from-the-env");
    let srv = Server::spawn(c);
    let good = serde_json::to_vec(&fleet_report(1)).unwrap();
    assert_eq!(post(&srv.url, &good, &[]).status, 401);
    let r = post(&srv.url, &good, &[("Authorization", "Bearer from-the-env")]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let mut count = std::process::Command::new("sqlite3");
    count.arg(&db).arg("SELECT COUNT(*) FROM reports");
    assert_eq!(run(count, None).success().stdout().trim(), "1");
}

#[test]
fn report_starts_every_reports_each_start_and_off_reports_none() {
    let db = ReportDb::sqlite();
    let repo = tempfile::tempdir().unwrap();
    let srv = report_server(repo.path(), &db, "127.0.0.1:0", &[]);
    let mut sent = 0;
    for (setting, starts) in [("every", 3), ("off", 0), ("daily", 1)] {
        let site = site();
        site.publish("1.0", &[]);
        install_with_reports(
            &site,
            site.repo.to_str().unwrap(),
            &format!("{}/reports", srv.url),
            &format!("ReportStarts = {setting}"),
        );
        for _ in 0..3 {
            site.assert_launched(&site.launcher(&[]).success(), "1.0");
        }
        // The install, then the starts.
        sent += 1 + starts;
        wait_for_reports(&srv.url, sent);
        let id = install_id(&site.app);
        let history = fleet_json(&srv.url, &format!("?machine={id}"));
        let events = history["history"]["events"].as_array().unwrap();
        let told = events.iter().filter(|e| e["event"] == "start").count();
        assert_eq!(told as i64, starts, "ReportStarts = {setting}: {history:#}");
    }
    assert_eq!(db.count(), sent);
}

#[test]
fn a_bad_report_starts_value_is_a_config_error_naming_the_key() {
    let site = site();
    site.publish("1.0", &[]);
    install_with_reports(
        &site,
        site.repo.to_str().unwrap(),
        "http://127.0.0.1:9/reports",
        "ReportStarts = hourly",
    );
    site.launcher(&[])
        .code_is(3)
        .stderr_has("ReportStarts = hourly")
        .stderr_has("daily");
}

#[test]
fn machines_not_heard_of_for_days_are_listed_and_old_failures_leave_the_last_day() {
    if !require("faketime") {
        return;
    }
    let (site, db, srv) = installed_and_reporting();
    {
        let mut failed = fleet_report(7);
        failed["result"] = "failed".into();
        failed["error"] = "the disk is full".into();
        let r = post(&srv.url, &serde_json::to_vec(&failed).unwrap(), &[]);
        assert_eq!(r.status, 201);
        let fleet = wait_for_reports(&srv.url, 3);
        assert_eq!(fleet["failures_24h"].as_array().unwrap().len(), 1);
        assert_eq!(fleet["not_seen"].as_array().unwrap().len(), 0);
    }
    drop(srv);

    // Ten days on (the server's clock moved by faketime), and nothing has come in since.
    let mut c = std::process::Command::new("faketime");
    c.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        c.env("PATH", path);
    }
    c.arg("+10 days")
        .arg(BIN)
        .args(["serve", "--repo", site.repo.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--reports"])
        .arg(db.target());
    // `faketime` runs the server as its child: stop the whole group, not only `faketime`.
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    let later = Server::spawn(c);
    let _group = KillGroup(later.child.id());
    let fleet = fleet_json(&later.url, "");
    assert_eq!(fleet["stale_days"], 7);
    let stale: Vec<&str> = fleet["not_seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["machine"].as_str().unwrap())
        .collect();
    assert_eq!(stale.len(), 2, "{fleet:#}");
    assert!(stale.contains(&"PC-007"), "{stale:?}");
    assert_eq!(fleet["failures_24h"].as_array().unwrap().len(), 0);
    let page = http(&later.url, "GET", "/fleet", &[]);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("data-k=\"not-seen\">2<"), "{html}");
    // A wider window: nobody is missing.
    let fleet = fleet_json(&later.url, "?stale_days=30");
    assert_eq!(fleet["not_seen"].as_array().unwrap().len(), 0, "{fleet:#}");
}

/// Kills a process group when dropped.
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a negative pid signals the group; no memory is involved.
        unsafe {
            libc::kill(-(self.0 as i32), libc::SIGKILL);
        }
    }
}

#[test]
fn serve_with_a_report_database_it_cannot_open_says_which_and_what_to_do() {
    let site = site();
    std::fs::create_dir_all(&site.repo).unwrap();
    let serve = |reports: &str| {
        let mut c = launcher();
        c.args(["serve", "--repo", site.repo.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--reports", reports]);
        run(c, None)
    };
    // Nothing listens on the port: the URL is named, without its password.
    let url = format!("postgres://fleet:s3cret@127.0.0.1:{}/fleet", free_port());
    let r = serve(&url).code_is(1);
    let err = r.stderr();
    assert!(err.contains("cannot open the report database"), "{err}");
    assert!(err.contains("postgres://fleet:***@127.0.0.1"), "{err}");
    assert!(!err.contains("s3cret"), "the password is shown: {err}");
    assert!(
        err.contains("hint:") && err.contains("PostgreSQL runs"),
        "{err}"
    );
    // A SQLite file in a folder that does not exist.
    let missing = site.root.join("no-such-folder/reports.db");
    let r = serve(missing.to_str().unwrap()).code_is(1);
    let err = r.stderr();
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    assert!(err.contains("writable file path"), "{err}");
}
