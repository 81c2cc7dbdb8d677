//! One update policy for every command (issue 10, item 1): a start, `fetch` and `check` ask
//! `policy::decide`, so they agree on Retry-After, back-off and holds. Each case runs the real binary
//! against the fault-injecting server of faults.rs, and counts the requests that reached it.

use crate::common::Run;
use crate::faults::{assert_fell_back, net, Fault, RetryIn};

/// stderr of `r` has `needle`, or the test fails with the whole run shown.
fn said(r: &Run, needle: &str) {
    assert!(
        r.stderr().contains(needle),
        "expected {needle:?} on stderr{}",
        r.explain()
    );
}

#[test]
fn fetch_and_start_wait_out_the_servers_retry_after_and_check_still_asks() {
    let n = net();
    n.server.set(Fault::BusyManifest(RetryIn::Secs(3600)));
    let r = n.install.run(&["fetch"], &[]).code_is(1);
    said(&r, "the server answered 503");
    said(&r, "hint: check Server in launcher.ini");

    // The server is fine again, but asked for an hour: neither a fetch nor a start asks it.
    n.server.set(Fault::Healthy);
    let r = n.install.run(&["fetch"], &[]).success();
    said(
        &r,
        "Nothing fetched: the server asked not to be contacted for",
    );
    n.install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 1.0.0\n");
    assert!(
        n.server.hits().is_empty(),
        "fetch or a start asked the server before the time it gave: {:?}",
        n.server.hits()
    );

    // `check` is a person asking: it asks, changes nothing, and says what a start would do.
    let r = n.install.run(&["check"], &[]).code_is(10);
    said(&r, "Update available: 1.0.0 → 2.0.0");
    assert!(!n.server.hits().is_empty(), "check did not ask the server");
    assert!(
        !n.install
            .app
            .join(".launcher/staging")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "check downloaded something"
    );
}

#[test]
fn fetch_keeps_the_back_off_of_a_release_whose_content_keeps_failing() {
    let n = net();
    n.server.set(Fault::WrongBytes);
    for _ in 0..3 {
        let r = n.install.run(&["fetch"], &[]).code_is(1);
        said(&r, "does not match the manifest");
    }
    // Three fetches of bad content count like three starts: the fourth does not download it again,
    // and neither does a start; `check` says why the update waits.
    n.server.set(Fault::WrongBytes);
    let r = n.install.run(&["fetch"], &[]).success();
    said(&r, "nothing fetched: the update to 2.0.0 failed 3 times");
    let r = n.install.run(&[], &[]);
    assert_fell_back(&r, &n.install, &n.versions(), "the next attempt is in");
    let r = n.install.run(&["check", "--json"], &[]).code_is(10);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["backed_off"]["failures"], 3, "{v}");
    assert!(
        n.server.target_hits().is_empty(),
        "the bad release was downloaded again: {:?}",
        n.server.hits()
    );
}

#[test]
fn fetch_and_check_keep_the_hold_a_rollback_left_like_a_start() {
    let n = net();
    n.install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 2.0.0");
    n.install.run(&["rollback"], &[]).success();
    n.server.set(Fault::Healthy); // counts the requests from here on
    let r = n.install.run(&["fetch"], &[]).success();
    said(&r, "Nothing to fetch: holding 1.0.0 after a rollback");
    let r = n.install.run(&["check"], &[]).success();
    said(
        &r,
        "Up to date: demo 1.0.0 (holding after the rollback from 2.0.0)",
    );
    n.install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 1.0.0");
    assert!(
        n.server.target_hits().is_empty(),
        "the held release was downloaded again: {:?}",
        n.server.hits()
    );
}
