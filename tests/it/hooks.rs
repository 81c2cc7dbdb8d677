//! Install hooks (issue 13, item 5): a release published with `--post-update` runs that program from
//! its own files after they are in place; a failing hook rolls the release back, holds it, and the
//! previous version starts. Real binary, real repository, real shell scripts as hooks.

use crate::common::{sample_release, site, write, Site};

/// Publishes 1.0, installs it, and publishes 2.0 with `tools/migrate.sh` = `script` as its hook.
fn installed_with_hooked_release(script: &str) -> Site {
    let s = site();
    s.publish("1.0", &[]);
    s.config_folder("");
    s.assert_launched(&s.launcher(&[]).success(), "1.0");
    let rel = sample_release(&s.root, "rel-2.0", "2.0");
    write(&rel.join("tools/migrate.sh"), script);
    s.publish("2.0", &["--post-update", "tools/migrate.sh"]);
    let m = s.read_json(&s.release("2.0"));
    assert_eq!(m["post_update"], "tools/migrate.sh", "{m}");
    s
}

fn log(s: &Site) -> String {
    std::fs::read_to_string(s.app.join(".launcher/launcher.log")).unwrap_or_default()
}

#[test]
fn a_post_update_hook_runs_with_both_versions_and_the_install_folder_and_its_output_is_logged() {
    let s = installed_with_hooked_release(
        "#!/bin/sh\necho \"migrating $LAUNCHER_OLD_VERSION to $LAUNCHER_NEW_VERSION\"\nprintf '%s\\n' \"$LAUNCHER_ACTION\" \"$LAUNCHER_OLD_VERSION\" \"$LAUNCHER_NEW_VERSION\" \"$LAUNCHER_INSTALL_DIR\" \"$(pwd)\" > \"$LAUNCHER_INSTALL_DIR/hook-ran.txt\"\n",
    );
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "2.0");
    let ran = std::fs::read_to_string(s.app.join("hook-ran.txt")).unwrap_or_else(|e| {
        panic!("the hook did not run: {e}{}", r.explain());
    });
    let app = s.app.display().to_string();
    assert_eq!(
        ran.lines().collect::<Vec<_>>(),
        ["post-update", "1.0", "2.0", app.as_str(), app.as_str()],
        "{}",
        r.explain()
    );
    let log = log(&s);
    assert!(
        log.contains("post-update hook `tools/migrate.sh`: ok; output: migrating 1.0 to 2.0"),
        "{log}"
    );
}

#[test]
fn a_failing_post_update_hook_rolls_back_holds_the_release_and_starts_the_previous_version() {
    let s = installed_with_hooked_release(
        "#!/bin/sh\necho 'cannot migrate: the database is locked' >&2\nexit 3\n",
    );
    let before = std::fs::read(s.app.join("VERSION")).unwrap();
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0");
    assert!(
        r.stderr()
            .contains("the post-update hook `tools/migrate.sh` of 2.0 failed with exit code 3; rolled back to 1.0"),
        "{}",
        r.explain()
    );
    assert_eq!(std::fs::read(s.app.join("VERSION")).unwrap(), before);
    assert!(
        !s.app.join("tools/migrate.sh").exists(),
        "the rolled-back release left its files"
    );
    s.launcher(&["verify"]).success();
    let st = status_json(&s);
    assert_eq!(st["installed"], "1.0", "{st}");
    assert_eq!(st["holds"], serde_json::json!(["2.0"]), "{st}");
    assert!(
        log(&s).contains("failed with exit code 3; output: cannot migrate: the database is locked"),
        "{}",
        log(&s)
    );
    // The hold keeps the next start on 1.0 without trying 2.0 again.
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0");
    assert!(!r.stderr().contains("post-update"), "{}", r.explain());
}

fn status_json(s: &Site) -> serde_json::Value {
    let r = s.launcher(&["status", "--json"]).success();
    serde_json::from_str(&r.stdout()).unwrap()
}

/// Kills the process whose pid a hook wrote, so the test leaves nothing running.
struct KillPid(std::path::PathBuf);

impl Drop for KillPid {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[test]
fn a_hook_that_leaves_a_program_running_does_not_keep_the_app_from_starting() {
    // A hook that (re)starts a service: the service keeps the hook's output open for an hour.
    let s = installed_with_hooked_release(
        "#!/bin/sh\necho 'restarting the service'\nsleep 3600 &\necho $! > \"$LAUNCHER_INSTALL_DIR/service.pid\"\n",
    );
    let _kill = KillPid(s.app.join("service.pid"));
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "2.0");
    assert!(
        log(&s).contains("ok; output: restarting the service"),
        "{}",
        log(&s)
    );
}

/// Publishes 1.0, installs it, then 2.0 with `tools/undo.sh` = `script` as its pre-rollback hook,
/// and updates to it.
fn updated_to_release_with_undo(script: &str) -> Site {
    let s = site();
    s.publish("1.0", &[]);
    s.config_folder("");
    s.launcher(&[]).success();
    let rel = sample_release(&s.root, "rel-2.0", "2.0");
    write(&rel.join("tools/undo.sh"), script);
    s.publish("2.0", &["--pre-rollback", "tools/undo.sh"]);
    s.assert_launched(&s.launcher(&[]).success(), "2.0");
    s
}

#[test]
fn a_pre_rollback_hook_runs_before_the_release_goes_away() {
    let s = updated_to_release_with_undo(
        "#!/bin/sh\nprintf '%s\\n' \"$LAUNCHER_ACTION\" \"$LAUNCHER_OLD_VERSION\" \"$LAUNCHER_NEW_VERSION\" \"$(cat \"$LAUNCHER_INSTALL_DIR/VERSION\")\" > \"$LAUNCHER_INSTALL_DIR/undo-ran.txt\"\n",
    );
    s.launcher(&["rollback"]).success();
    let ran =
        std::fs::read_to_string(s.app.join("undo-ran.txt")).expect("the undo hook did not run");
    // It ran while 2.0's files were still in place.
    assert_eq!(
        ran.lines().collect::<Vec<_>>(),
        ["pre-rollback", "2.0", "1.0", "2.0"]
    );
    s.assert_launched(&s.launcher(&[]).success(), "1.0");
    assert!(
        log(&s).contains("pre-rollback hook `tools/undo.sh`: ok"),
        "{}",
        log(&s)
    );
}

#[test]
fn a_failing_pre_rollback_hook_is_logged_and_the_rollback_goes_on() {
    let s = updated_to_release_with_undo("#!/bin/sh\necho 'undo failed' >&2\nexit 4\n");
    s.launcher(&["rollback"]).success().stderr_has(
        "the pre-rollback hook `tools/undo.sh` of 2.0 failed with exit code 4; rolling back anyway",
    );
    s.assert_launched(&s.launcher(&[]).success(), "1.0");
    s.launcher(&["verify"]).success();
    assert!(log(&s).contains("output: undo failed"), "{}", log(&s));
}
