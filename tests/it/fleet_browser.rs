//! The fleet page in a real browser (issue 14): a hundred simulated machines (the real launcher, each
//! with its own install folder and machine name) install, update, fail and roll back against a real
//! `launcher serve --reports`; headless Chromium then opens `/fleet`, and the numbers it shows are
//! checked against what the launchers did. Set `LAUNCHER_FLEET_SCREENSHOT=docs/fleet.png` to keep the
//! screenshot (that is how the README's picture is made).

use crate::common::*;
use std::path::Path;

const STABLE: usize = 75;
const BETA: usize = 25;
const UPDATED: usize = 60;
const ROLLED_BACK: usize = 10;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|p| have(p))
        .or_else(|| require("chromium").then_some("chromium"))
}

/// Runs headless Chromium on `url` with `what` (`--dump-dom` or `--screenshot=FILE`); returns stdout.
fn browse(browser: &str, url: &str, what: &str, profile: &Path) -> String {
    let mut c = std::process::Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        // CI containers give /dev/shm 64 MB, where Chromium's renderer can crash; use /tmp instead.
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1280,1700",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(what)
    .arg(url);
    run(c, None).success().stdout()
}

/// Runs `f` over `items` on two threads (the machine has two cores).
fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) + Sync) {
    std::thread::scope(|s| {
        for half in items.chunks(items.len().div_ceil(2).max(1)) {
            let f = &f;
            s.spawn(move || half.iter().for_each(f));
        }
    });
}

/// The text of the element that follows `marker` up to the next `<`.
fn after<'a>(dom: &'a str, marker: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} is not on the page:\n{dom}"));
    let rest = &dom[at + marker.len()..];
    &rest[..rest.find('<').unwrap_or(rest.len())]
}

/// The part of the page for one product/channel card.
fn group<'a>(dom: &'a str, name: &str) -> &'a str {
    let start = dom
        .find(&format!("data-group=\"{name}\""))
        .unwrap_or_else(|| panic!("no card for {name}:\n{dom}"));
    let rest = &dom[start..];
    &rest[..rest.find("</section>").unwrap()]
}

#[test]
fn fleet_page_in_chromium_shows_what_a_hundred_launchers_reported() {
    let Some(browser) = chromium() else {
        return;
    };
    let bench = Bench::new();
    let db = ReportDb::sqlite();
    let srv = report_server(&bench.repo, &db, "127.0.0.1:0", &["--report-limit", "0"]);
    let rel = |v: &str| sample_release(&bench.root, &format!("rel-{v}"), v);
    let publish_to = |v: &str, channel: &str| {
        publish_on(&rel(v), &bench.repo, v, &["--channel", channel]).success();
    };
    publish_to("1.0", "stable");
    publish_to("2.0", "beta");
    let report_url = format!("{}/reports", srv.url);
    let machines: Vec<(String, InstallDir)> = (0..STABLE + BETA)
        .map(|n| {
            let channel = if n < STABLE { "stable" } else { "beta" };
            let name = format!("PC-{n:03}");
            let i = bench.install(
                &name,
                &format!("Platform = {PLATFORM}\nChannel = {channel}\nReportUrl = {report_url}\n"),
            );
            (name, i)
        })
        .collect();
    let launch = |(name, i): &(String, InstallDir), args: &[&str]| {
        i.run(args, &[("COMPUTERNAME", name.as_str())]).success();
    };

    // Day one: every machine installs (an install and a start report each).
    parallel(&machines, |m| launch(m, &[]));
    let mut sent = 2 * machines.len();
    wait_for_reports(&srv.url, sent as i64);

    // 2.0 reaches stable; 60 of the 75 stable machines start and update.
    publish_to("2.0", "stable");
    parallel(&machines[..UPDATED], |m| launch(m, &[]));
    sent += UPDATED;

    // 2.1 on beta has a damaged file on the server: every beta machine fails and keeps 2.0.
    publish_to("2.1", "beta");
    let damaged = sha256_hex(b"2.1\n");
    let blob = bench
        .repo
        .join(format!("demo/blobs/{}/{damaged}", &damaged[..2]));
    assert!(blob.is_file(), "{}", listing(&bench.repo));
    write(&blob, b"9.9\n");
    parallel(&machines[STABLE..], |m| launch(m, &[]));
    sent += BETA;

    // Ten updated machines roll back (a report each), and their next start holds 1.0 (one more each).
    parallel(&machines[..ROLLED_BACK], |m| {
        launch(m, &["rollback"]);
        launch(m, &[]);
    });
    sent += 2 * ROLLED_BACK;
    let fleet = wait_for_reports(&srv.url, sent as i64);
    assert_eq!(db.count(), sent as i64);
    assert!(sent >= 300, "a few hundred reports: {sent}");

    let profile = tempfile::tempdir().unwrap();
    let dom = browse(
        browser,
        &format!("{}/fleet", srv.url),
        "--dump-dom",
        profile.path(),
    );
    assert_eq!(after(&dom, "data-k=\"machines\">"), "100");
    assert_eq!(after(&dom, "data-k=\"reports\">"), sent.to_string());
    assert_eq!(after(&dom, "data-k=\"failures\">"), BETA.to_string());
    assert_eq!(after(&dom, "data-k=\"not-seen\">"), "0");

    let stable = group(&dom, "demo/stable");
    let on_new = UPDATED - ROLLED_BACK;
    assert_eq!(after(stable, "data-k=\"on-newest\">"), on_new.to_string());
    assert_eq!(
        after(stable, "data-k=\"group-machines\">"),
        STABLE.to_string()
    );
    assert_eq!(after(stable, "data-k=\"rollout\">"), "66.7");
    assert_eq!(
        after(
            stable,
            "data-version=\"2.0\"><td>2.0</td><td class=\"num\">"
        ),
        on_new.to_string()
    );
    assert_eq!(
        after(
            stable,
            "data-version=\"1.0\"><td>1.0</td><td class=\"num\">"
        ),
        (STABLE - on_new).to_string()
    );
    let beta = group(&dom, "demo/beta");
    assert!(beta.contains("Newest release <b>2.1</b>"), "{beta}");
    assert_eq!(after(beta, "data-k=\"on-newest\">"), "0");
    assert_eq!(
        after(beta, "data-version=\"2.0\"><td>2.0</td><td class=\"num\">"),
        BETA.to_string()
    );
    // The failures name the machines and say what went wrong.
    assert!(dom.contains(">PC-099</a>"), "{dom}");
    assert_eq!(fleet["failures_24h"].as_array().unwrap().len(), BETA);
    let error = fleet["failures_24h"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("SHA-256") || error.contains("hash"),
        "{error}"
    );

    // A click on a machine: its history, newest first.
    let id = std::fs::read_to_string(machines[0].1.app.join(".launcher/install-id")).unwrap();
    let page = browse(
        browser,
        &format!("{}/fleet?machine={}", srv.url, id.trim()),
        "--dump-dom",
        profile.path(),
    );
    assert_eq!(after(&page, "data-k=\"history\">"), "5");
    let history = &page[page.find("id=\"history\"").unwrap()..];
    for event in ["install", "start", "update", "rollback", "hold"] {
        assert!(
            history.contains(&format!("<td>{event}</td>")),
            "{event}: {history}"
        );
    }

    let shot = profile.path().join("fleet.png");
    browse(
        browser,
        &format!("{}/fleet", srv.url),
        &format!("--screenshot={}", shot.display()),
        &tempfile::tempdir().unwrap().path().join("p"),
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("LAUNCHER_FLEET_SCREENSHOT") {
        std::fs::write(&keep, &png).unwrap();
    }
}
