//! A bounded load test of `POST /reports` on loopback (issue 14): 1,000 simulated launchers, each with
//! its own install id and its own loopback source address (127.0.x.y, as separate machines would be,
//! so the per-address throttle stays on at its default), report once, each on its own connection,
//! 16 at a time. No report may
//! be lost: the database's own count must equal the number sent. The timings are printed, never
//! asserted; `bench/fleet_load.sh` runs this against the release build (`LAUNCHER_BENCH_BIN`) and
//! collects them into bench/README.md.

use crate::common::*;
use std::time::{Duration, Instant};

const LAUNCHERS: usize = 1000;
const CONNECTIONS: usize = 16;

fn load(db: ReportDb, name: &str) {
    let repo = tempfile::tempdir().unwrap();
    let srv = match std::env::var_os("LAUNCHER_BENCH_BIN") {
        Some(bin) => report_server_at(
            std::path::Path::new(&bin),
            repo.path(),
            &db,
            "127.0.0.1:0",
            &[],
        ),
        None => report_server(repo.path(), &db, "127.0.0.1:0", &[]),
    };
    let url = format!("{}/reports", srv.url);
    let started = Instant::now();
    let mut times: Vec<Duration> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|w| {
                let url = url.clone();
                s.spawn(move || {
                    let mut times = Vec::new();
                    for n in (w..LAUNCHERS).step_by(CONNECTIONS) {
                        // One machine: its own source address and install id.
                        let addr = std::net::IpAddr::from([
                            127,
                            0,
                            1 + (n / 250) as u8,
                            1 + (n % 250) as u8,
                        ]);
                        // Plain http: loading the system's CA bundle for each client would only
                        // measure the load generator.
                        let client = reqwest::blocking::Client::builder()
                            .tls_built_in_root_certs(false)
                            .no_proxy()
                            .local_address(addr)
                            .timeout(Duration::from_secs(30))
                            .build()
                            .unwrap();
                        let mut body = fleet_report(n);
                        body["id"] = format!("load-report-{n:06}").into();
                        body["install_id"] = format!("load-install-{n:06}").into();
                        body["machine"] = format!("LOAD-{n:04}").into();
                        body["event"] = if n % 10 == 0 { "update" } else { "start" }.into();
                        body["installed"] = if n % 3 == 0 { "1.0" } else { "2.0" }.into();
                        if n % 50 == 0 {
                            body["result"] = "failed".into();
                            body["error"] = "the server answered 503".into();
                        }
                        let body = serde_json::to_vec(&body).unwrap();
                        let t = Instant::now();
                        let res = client
                            .post(&url)
                            .header("Content-Type", "application/json")
                            .body(body)
                            .send()
                            .unwrap_or_else(|e| panic!("report {n}: {e}"));
                        let status = res.status().as_u16();
                        let _ = res.bytes();
                        times.push(t.elapsed());
                        assert_eq!(status, 201, "report {n} from {addr}");
                    }
                    times
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let wall = started.elapsed();
    assert_eq!(times.len(), LAUNCHERS);
    assert_eq!(db.count(), LAUNCHERS as i64, "no report is lost");
    let fleet = fleet_json(&srv.url, "");
    assert_eq!(fleet["machines"], LAUNCHERS);
    assert_eq!(
        fleet["failures_24h"].as_array().unwrap().len(),
        LAUNCHERS / 50
    );
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).min(times.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "fleet-load {name}: {LAUNCHERS} reports, {CONNECTIONS} at a time, in {:.2} s; POST /reports p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        wall.as_secs_f64(),
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(times[times.len() - 1])
    );
}

#[test]
fn a_thousand_launchers_report_and_none_is_lost_sqlite() {
    load(ReportDb::sqlite(), "sqlite");
}

#[test]
fn a_thousand_launchers_report_and_none_is_lost_postgres() {
    if let Some(db) = ReportDb::postgres() {
        load(db, "postgres");
    }
}
