//! Automatic rollback when a new version does not start (issue 13, item 6): with `HealthCheck` on,
//! the first start after an update is watched; a new version that exits with an error or crashes in
//! that time is rolled back from the backup and held, and the previous version starts. The new
//! versions here fail at once, so nothing depends on how long the watch is.

use crate::common::{sample_release, site, write, Run, Site};

/// Publishes and installs 1.0 with `ini` in [Update], then publishes 2.0 whose `bin/demo` is `script`.
fn installed_then_broken_release(ini: &str, script: &str) -> Site {
    let s = site();
    s.publish("1.0", &[]);
    s.config_folder(ini);
    s.assert_launched(&s.launcher(&[]).success(), "1.0");
    let rel = sample_release(&s.root, "rel-2.0", "2.0");
    write(&rel.join("bin/demo"), script);
    s.publish("2.0", &[]);
    s
}

fn status_json(s: &Site) -> serde_json::Value {
    let r = s.launcher(&["status", "--json"]).success();
    serde_json::from_str(&r.stdout()).unwrap()
}

/// The previous version is back, whole, and 2.0 is held with the reason in the state and the log.
fn assert_rolled_back(s: &Site, r: &Run, how: &str) {
    s.assert_launched(r, "1.0");
    let said = format!("2.0 {how} within 20 s of its first start; rolled back to 1.0");
    assert!(
        r.stderr().contains(&said),
        "{said:?} not said{}",
        r.explain()
    );
    s.launcher(&["verify"]).success();
    let st = status_json(s);
    assert_eq!(st["installed"], "1.0", "{st}");
    assert_eq!(st["holds"], serde_json::json!(["2.0"]), "{st}");
    let last = st["last_update"]["result"].as_str().unwrap_or_default();
    assert!(last.contains(&said), "{st}");
    let log = std::fs::read_to_string(s.app.join(".launcher/launcher.log")).unwrap();
    assert!(log.contains(&said), "{log}");
    // Held: the next start does not try 2.0 again, and starts 1.0 directly.
    let r = s.launcher(&["-v"]).success();
    s.assert_launched(&r, "1.0");
    assert!(!r.stdout().contains("2.0"), "{}", r.explain());
    assert!(!r.stderr().contains("watching"), "{}", r.explain());
}

#[test]
fn a_new_version_that_exits_with_an_error_on_its_first_start_is_rolled_back_and_held() {
    let s = installed_then_broken_release(
        "HealthCheck = 20",
        "#!/bin/sh\necho 'demo app 2.0 cannot open its database' >&2\nexit 3\n",
    );
    let r = s.launcher(&[]).success();
    assert!(r.stderr().contains("demo app 2.0 cannot open its database"));
    assert_rolled_back(&s, &r, "exited with code 3");
}

#[test]
fn a_new_version_that_crashes_on_its_first_start_is_rolled_back_and_held() {
    let s = installed_then_broken_release("HealthCheck = 20", "#!/bin/sh\nkill -SEGV $$\n");
    let r = s.launcher(&[]).success();
    assert_rolled_back(&s, &r, "crashed (signal 11)");
}

#[test]
fn a_new_version_that_starts_well_is_watched_once_and_then_exec_ed() {
    let s = site();
    s.publish("1.0", &[]);
    s.config_folder("HealthCheck = 20");
    s.launcher(&[]).success();
    s.publish("2.0", &[]);
    let r = s.launcher(&["-v"]).success();
    s.assert_launched(&r, "2.0");
    assert!(
        r.stderr()
            .contains("First start of 2.0 after the update: watching it for 20 s"),
        "{}",
        r.explain()
    );
    let state = std::fs::read_to_string(s.app.join(".launcher/state.json")).unwrap();
    assert!(!state.contains("unproven"), "{state}");
    // Proven: later starts are ordinary (exec) ones, and the app's exit code passes through.
    let r = s.launcher(&["-v", "--", "--exit-code=7"]).code_is(7);
    s.assert_launched(&r, "2.0");
    assert!(!r.stderr().contains("watching"), "{}", r.explain());
}

#[test]
fn without_health_check_a_failing_new_version_stays_and_its_exit_code_passes_through() {
    let s = installed_then_broken_release("HealthCheck = 0", "#!/bin/sh\nexit 3\n");
    s.launcher(&[]).code_is(3);
    assert_eq!(status_json(&s)["installed"], "2.0");
}

#[test]
fn a_new_version_still_running_when_the_watch_ends_is_kept_and_its_exit_code_passes_through() {
    // 2.0 runs until the test lets it go, then exits with 5: after the watch, an error is the app's own.
    let s = installed_then_broken_release(
        "HealthCheck = 1",
        "#!/bin/sh\nhere=$(cd \"$(dirname \"$0\")/..\" && pwd)\necho \"demo app $(cat \"$here/VERSION\")\"\nwhile [ ! -f \"$here/../let-go\" ]; do sleep 0.05; done\nexit 5\n",
    );
    let child = s
        .command(&[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Awaited, not slept on: the launcher marks 2.0 proven once the watch is over.
    let state = s.app.join(".launcher/state.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let v: serde_json::Value = std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if v["installed"]["version"] == "2.0" && v.get("unproven").is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "2.0 was never proven: {v}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    write(&s.root.join("let-go"), "");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("demo app 2.0\n"));
    let st = status_json(&s);
    assert_eq!(st["installed"], "2.0", "{st}");
    assert_eq!(st["holds"], serde_json::json!([]), "{st}");
}
