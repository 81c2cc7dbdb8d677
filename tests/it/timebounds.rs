//! Issue 9, items 9, 10 and the HTTP messages of 12: `Timeout` bounds a launch. A crawling server does
//! not hold an optional update's launch past `DownloadTimeout` (the installed version starts, the
//! partial download is kept and resumed); a first install or a mandatory release goes on while bytes
//! flow; a folder source that blocks (a FIFO where a file should be, as a hung share behaves) is given
//! up after `Timeout`. And what the launcher says when a server redirects, overstates a size, answers
//! `304` unasked, asks to retry at a date, or answers a range from elsewhere.

use crate::common::{
    noise, publish, sample_tree, sha256_hex, write_tree, Bench, InstallDir, Run, Tree,
};
use crate::faults::{assert_fell_back_logged, net, Fault, FaultServer, Hit, Net, RetryIn, BIG};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `c` to completion, killing it (and failing) if it has not finished after two minutes: a
/// launcher that blocks forever must fail the test, not hang the suite.
fn run_bounded(mut c: Command, dir: &Path) -> Run {
    let cmd = format!("{c:?}");
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: `pid` is our own child, not yet reaped (its waiter is still blocked).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            let out = rx.recv().unwrap().unwrap();
            panic!(
                "the launcher was still running after 120 s: {cmd}\n--- stderr\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    Run {
        cmd,
        out,
        dir: Some(dir.to_path_buf()),
    }
}

fn launch(install: &InstallDir, args: &[&str]) -> Run {
    run_bounded(install.command(args, &[]), &install.app)
}

/// Waits until the server has recorded `n` requests for the big blob: a dripping answer is recorded
/// when the server stops writing, which is after the launcher went away.
fn await_target_hits(server: &FaultServer, n: usize) -> Vec<Hit> {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let hits = server.target_hits();
        if hits.len() >= n || Instant::now() > until {
            return hits;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// No failure with bad content is recorded (so no back-off follows).
fn assert_no_back_off(install: &InstallDir) {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(install.app.join(".launcher/state.json")).unwrap())
            .unwrap();
    assert!(state["failures"].is_null(), "{state}");
}

/// A start whose download of the big blob stalled half-way; returns the bytes kept.
fn stalled() -> (Net, u64) {
    let n = net();
    n.server.set(Fault::Stall);
    let r = launch(&n.install, &[]);
    let have = assert_cut_off_with_progress_kept(&n, &r, "the server stopped sending");
    (n, have)
}

/// The bytes of the partial download kept for the big blob (empty when there is none).
fn kept(n: &Net) -> Vec<u8> {
    std::fs::read(n.part()).unwrap_or_default()
}

/// The big blob's content (see `faults::net`).
fn big() -> Vec<u8> {
    noise(7, BIG)
}

/// A 16 KiB trickle every 100 ms: the 4 MiB blob would take about 26 s.
const CRAWL: Fault = Fault::Drip {
    bytes: 16 * 1024,
    every_ms: 100,
};

/// The fault's start fell back to 1.0.0 with `expected` in its one warning, kept a non-empty prefix of
/// the big blob, and staged nothing whole; returns how many bytes were kept.
fn assert_cut_off_with_progress_kept(n: &Net, r: &Run, expected: &str) -> u64 {
    assert_fell_back_logged(r, &n.install, &n.versions(), expected);
    let part = kept(n);
    assert!(
        !part.is_empty() && part.len() < BIG,
        "expected a partial download: {} bytes kept{}",
        part.len(),
        r.explain()
    );
    assert!(
        big().starts_with(&part),
        "the kept bytes are not the start of the blob"
    );
    assert!(!n
        .install
        .app
        .join(format!(".launcher/staging/{}", n.big_sha))
        .exists());
    part.len() as u64
}

#[test]
fn crawling_download_stops_at_download_timeout_the_old_version_starts_and_the_next_start_resumes() {
    let n = net();
    n.install
        .config(&n.server.url, "Timeout = 2\nDownloadTimeout = 1");
    n.server.set(CRAWL);
    let r = launch(&n.install, &[]);
    let have = assert_cut_off_with_progress_kept(
        &n,
        &r,
        "the download was not finished within DownloadTimeout = 1 s",
    );
    assert!(
        r.stderr()
            .contains("the next start (or `launcher fetch`) resumes it"),
        "{}",
        r.explain()
    );
    // A stop for time is not bad content: no back-off is recorded.
    assert_no_back_off(&n.install);
    await_target_hits(&n.server, 1);

    n.server.set(Fault::Healthy);
    let r = launch(&n.install, &[]).success();
    assert!(r.stdout().contains("demo app 2.0.0\n"), "{}", r.explain());
    assert_eq!(
        n.install
            .assert_whole(&n.versions(), &Tree::new(), "after the resume"),
        "2.0.0"
    );
    let hits = n.server.target_hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].range.as_deref(), Some(&*format!("bytes={have}-")));
    assert_eq!((hits[0].status, hits[0].sent), (206, BIG as u64 - have));
}

#[test]
fn fetch_finishes_a_download_that_ran_out_of_time_and_the_next_start_applies_it_without_downloading(
) {
    let n = net();
    n.install
        .config(&n.server.url, "Timeout = 2\nDownloadTimeout = 1");
    n.server.set(CRAWL);
    let r = launch(&n.install, &[]);
    let have = assert_cut_off_with_progress_kept(&n, &r, "not finished within DownloadTimeout");
    await_target_hits(&n.server, 1);

    // `fetch` has no time limit: it is run to download.
    n.server.set(Fault::Healthy);
    let r = launch(&n.install, &["fetch"]).success();
    assert!(r.stderr().contains("Fetched demo 2.0.0"), "{}", r.explain());
    let hits = n.server.target_hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].range.as_deref(), Some(&*format!("bytes={have}-")));

    n.server.set(Fault::Healthy);
    let r = launch(&n.install, &[]).success();
    assert!(r.stdout().contains("demo app 2.0.0\n"), "{}", r.explain());
    assert!(
        n.server.target_hits().is_empty(),
        "the fetched blob was downloaded again"
    );
}

#[test]
fn download_timeout_defaults_to_six_times_timeout() {
    let n = net();
    n.install.config(&n.server.url, "Timeout = 1");
    n.server.set(CRAWL);
    let r = launch(&n.install, &[]);
    assert_cut_off_with_progress_kept(
        &n,
        &r,
        "the download was not finished within DownloadTimeout = 6 s",
    );
}

/// What is there before the slow download starts.
enum Before {
    Nothing,
    Installed,
    /// 1.0.0 installed, with one of its files changed since.
    Damaged,
}

/// Release 1.0.0 (installed as `before` says) and 2.0.0 with the big blob, published with `extra`, on a
/// fault server that drips the big blob at 128 KiB per 100 ms (about 3.2 s of sleeps, three times the
/// 1 s `DownloadTimeout`): the start must download it whole and start 2.0.0.
fn assert_slow_but_steady_download_completes(before: Before, extra: &[&str]) {
    let bench = Bench::new();
    let v1 = sample_tree("1.0.0");
    let mut v2 = sample_tree("2.0.0");
    let big = big();
    let big_sha = sha256_hex(&big);
    v2.insert("data/big.bin".into(), big);
    bench.publish("1.0.0", &v1);
    let install = bench.install("a", "");
    if !matches!(before, Before::Nothing) {
        launch(&install, &[]).success().stdout_has("demo app 1.0.0");
    }
    if matches!(before, Before::Damaged) {
        std::fs::write(install.app.join("data/config.txt"), b"damaged").unwrap();
    }
    let rel = bench.root.join("rel-2.0.0");
    write_tree(&rel, &v2);
    publish(&rel, &bench.repo, "2.0.0", extra).success();
    let server = FaultServer::start(&bench.repo, &big_sha);
    install.config(&server.url, "Timeout = 2\nDownloadTimeout = 1");
    server.set(Fault::Drip {
        bytes: 128 * 1024,
        every_ms: 100,
    });

    let r = launch(&install, &[]).success();
    assert!(r.stdout().contains("demo app 2.0.0\n"), "{}", r.explain());
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];
    assert_eq!(
        install.assert_whole(&versions, &Tree::new(), "after the update"),
        "2.0.0"
    );
    let hits = await_target_hits(&server, 1);
    assert_eq!((hits.len(), hits[0].sent), (1, BIG as u64), "{hits:?}");
}

#[test]
fn mandatory_release_keeps_downloading_past_download_timeout_while_bytes_flow() {
    assert_slow_but_steady_download_completes(Before::Installed, &["--mandatory"]);
}

#[test]
fn first_install_keeps_downloading_past_download_timeout_while_bytes_flow() {
    assert_slow_but_steady_download_completes(Before::Nothing, &[]);
}

#[test]
fn damaged_install_keeps_downloading_past_download_timeout_while_bytes_flow() {
    // With a file of 1.0.0 damaged there is no whole version to fall back on: the update is the repair.
    assert_slow_but_steady_download_completes(Before::Damaged, &[]);
}

#[test]
fn blob_announced_larger_than_declared_is_refused_before_its_bytes_are_read() {
    // The body is dripped for minutes: only a refusal from the headers lets the launch go on now.
    let n = net();
    n.server.set(Fault::Overstated);
    let r = launch(&n.install, &[]);
    assert_fell_back_logged(
        &r,
        &n.install,
        &n.versions(),
        &format!(
            "is {} bytes (according to the server's Content-Length), but the manifest declares {BIG}; it was not downloaded",
            BIG + 10
        ),
    );
    assert!(!r.stderr().contains("transfer stopped"), "{}", r.explain());
    assert!(kept(&n).is_empty(), "a refused download left bytes");
    await_target_hits(&n.server, 1);

    n.server.set(Fault::Healthy);
    let r = launch(&n.install, &[]).success();
    assert!(r.stdout().contains("demo app 2.0.0\n"), "{}", r.explain());
}

#[test]
fn range_answered_from_byte_zero_is_followed_not_counted_as_bad_content() {
    let (n, have) = stalled();

    n.server.set(Fault::RangeFromZero);
    let r = launch(&n.install, &[]).success();
    assert!(r.stdout().contains("demo app 2.0.0\n"), "{}", r.explain());
    let hits = n.server.target_hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].range.as_deref(), Some(&*format!("bytes={have}-")));
    assert_eq!((hits[0].status, hits[0].sent), (206, BIG as u64));
    assert_eq!(
        n.install
            .assert_whole(&n.versions(), &Tree::new(), "after the update"),
        "2.0.0"
    );
}

#[test]
fn range_answered_from_a_later_byte_keeps_the_partial_download_and_is_not_counted_as_bad_content() {
    let (n, have) = stalled();

    n.server.set(Fault::RangeLater);
    let r = launch(&n.install, &[]);
    assert_fell_back_logged(
        &r,
        &n.install,
        &n.versions(),
        &format!(
            "the server answered with the bytes from {} on to a request for the bytes from {have} on; the partial download is kept",
            have + 1
        ),
    );
    assert_eq!(kept(&n).len() as u64, have, "the partial download changed");
    assert_no_back_off(&n.install);

    n.server.set(Fault::Healthy);
    let r = launch(&n.install, &[]).success();
    assert!(r.stdout().contains("demo app 2.0.0\n"), "{}", r.explain());
    let hits = n.server.target_hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].range.as_deref(), Some(&*format!("bytes={have}-")));
}

#[test]
fn failed_redirect_names_the_url_it_was_redirected_to() {
    let n = net();
    n.server.set(Fault::RedirectGone);
    let r = launch(&n.install, &[]);
    let blob = n
        .server
        .target_hits()
        .into_iter()
        .map(|h| h.path)
        .find(|p| !p.starts_with("/moved/"))
        .expect("the blob was asked for");
    let asked = format!("{}{}", n.server.url, blob.trim_start_matches('/'));
    let moved = format!("{}moved{blob}", n.server.url);
    assert_fell_back_logged(
        &r,
        &n.install,
        &n.versions(),
        &format!(
            "`{asked}` was redirected to `{moved}`: `{moved}` was not found on the server (404)"
        ),
    );
}

#[test]
fn not_modified_on_a_first_install_says_a_cache_answered_wrongly() {
    let bench = Bench::new();
    bench.publish("1.0.0", &sample_tree("1.0.0"));
    let server = FaultServer::start(&bench.repo, "no-such-blob");
    let install = bench.install("a", "");
    install.config(&server.url, "Timeout = 2");
    server.set(Fault::NotModifiedManifest);
    let r = launch(&install, &[]).code_is(4);
    assert!(
        r.stderr().contains("answered 304 Not Modified for `")
            && r.stderr().contains("had no copy to revalidate")
            && !r.stderr().contains("JSON"),
        "{}",
        r.explain()
    );
    let hits = server.hits();
    assert!(
        !hits.is_empty() && hits.iter().all(|h| !h.conditional),
        "validators were sent with nothing saved: {hits:?}"
    );

    server.set(Fault::Healthy);
    launch(&install, &[]).success().stdout_has("demo app 1.0.0");
}

/// An installed 1.0.0 whose channel manifest is answered `503` with `Retry-After: after`; returns the
/// warning line.
fn busy(after: RetryIn) -> (Net, String) {
    let n = net();
    n.server.set(Fault::BusyManifest(after));
    let r = launch(&n.install, &[]);
    assert_fell_back_logged(&r, &n.install, &n.versions(), "the server answered 503");
    let line = r
        .stderr()
        .lines()
        .find(|l| l.starts_with("warning:"))
        .unwrap()
        .to_string();
    (n, line)
}

#[test]
fn retry_after_as_an_http_date_is_shown_in_seconds_and_honoured() {
    let (n, line) = busy(RetryIn::Date(3600));
    let secs: u64 = line
        .split("(retry after ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no wait in {line:?}"));
    assert!((3500..=3600).contains(&secs), "{line}");

    n.server.set(Fault::Healthy);
    launch(&n.install, &[])
        .success()
        .stdout_has("demo app 1.0.0");
    assert!(
        n.server.hits().is_empty(),
        "the server was contacted before the date it gave"
    );
}

#[test]
fn retry_after_longer_than_a_day_shows_the_day_that_is_honoured() {
    let (_n, line) = busy(RetryIn::Secs(864_000));
    assert!(
        line.contains(
            "(retry after 86400 s, the longest the launcher waits; the server asked for 864000 s)"
        ),
        "{line}"
    );
}

// --- Folder sources.

/// Replaces `path` with a FIFO that nobody writes to: opening it blocks, as a read from a hung share
/// does. Returns the original bytes.
fn fifo_in_place_of(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    std::fs::remove_file(path).unwrap();
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    bytes
}

fn restore(path: &Path, bytes: &[u8]) {
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// An install of 1.0.0 from a folder with `Timeout = 1`, and 2.0.0 published in the folder.
fn folder() -> (Bench, InstallDir, Tree, Tree) {
    let bench = Bench::new();
    let v1 = sample_tree("1.0.0");
    let v2 = sample_tree("2.0.0");
    bench.publish("1.0.0", &v1);
    let install = bench.install("a", "Timeout = 1");
    launch(&install, &[]).success().stdout_has("demo app 1.0.0");
    bench.publish("2.0.0", &v2);
    (bench, install, v1, v2)
}

fn only_file_in(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// The fallback start named `path` and the time bound, then the restored file lets 2.0.0 install.
fn assert_folder_fault(install: &InstallDir, path: &Path, bytes: &[u8], v: [&Tree; 2]) {
    let versions = [("1.0.0", v[0]), ("2.0.0", v[1])];
    let r = launch(install, &[]);
    assert_fell_back_logged(
        &r,
        install,
        &versions,
        &format!("reading `{}` did not finish within 1 s", path.display()),
    );
    restore(path, bytes);
    let r = launch(install, &[]).success();
    assert!(r.stdout().contains("demo app 2.0.0\n"), "{}", r.explain());
}

#[test]
fn folder_source_whose_channel_manifest_blocks_is_given_up_after_timeout() {
    let (bench, install, v1, v2) = folder();
    let channel = only_file_in(&bench.repo.join("demo/channels/stable"));
    let bytes = fifo_in_place_of(&channel);
    assert_folder_fault(&install, &channel, &bytes, [&v1, &v2]);
}

#[test]
fn folder_source_whose_blob_blocks_is_given_up_after_timeout() {
    let (bench, install, v1, v2) = folder();
    let sha = sha256_hex(b"2.0.0\n");
    let dir = bench.repo.join(format!("demo/blobs/{}", &sha[..2]));
    let blob = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&sha))
        .expect("the blob of VERSION 2.0.0");
    let bytes = fifo_in_place_of(&blob);
    assert_folder_fault(&install, &blob, &bytes, [&v1, &v2]);
}

#[test]
fn bad_download_timeout_names_the_key_and_what_is_allowed() {
    let bench = Bench::new();
    let install = bench.install("a", "DownloadTimeout = soon");
    let r = launch(&install, &[]).code_is(3);
    assert!(
        r.stderr().contains("DownloadTimeout")
            && r.stderr().contains("soon")
            && r.stderr().contains("0 (no limit)"),
        "{}",
        r.explain()
    );
}
