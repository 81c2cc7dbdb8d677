//! Issue 10, the journal of typed steps: a journal the previous launcher left behind (its flags
//! format, `had_old` / `new` / `src` / `kept_as` / `restore_from`) is still finished or undone, since
//! a self-update brings this launcher into a folder where that one crashed; a recovery that began to
//! undo a change keeps undoing it; a failure while a failed change is undone is reported, and the
//! next start finishes the undo; a repair stopped at any step leaves the damaged or the repaired files.
//!
//! The fixtures under `tests/fixtures/old-journal/` are install folders captured from real crashes
//! of the launcher before typed steps (`capture_old_format_journals` wrote them, with that binary).

use crate::common::{whole_version, Bench, InstallDir, Run, Tree};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/old-journal")
}

/// 1.0.0 → 2.0.0 replaces three files, deletes one, adds one, and adds `notes.txt` where the user has
/// a file of that name (kept aside as `notes.txt.user-file`).
fn versions() -> [(&'static str, Tree); 2] {
    let demo = std::fs::read(crate::common::assets_app().join("bin/demo")).unwrap();
    let t = |files: &[(&str, &[u8])]| -> Tree {
        files
            .iter()
            .map(|(p, b)| (p.to_string(), b.to_vec()))
            .collect()
    };
    let v1 = t(&[
        ("bin/demo", &demo),
        ("VERSION", b"1.0.0\n"),
        ("data/config.txt", b"config of 1.0.0\n"),
        ("data/old.txt", b"only in 1.0.0\n"),
        ("docs/README.txt", b"the same in both\n"),
    ]);
    let v2 = t(&[
        ("bin/demo", &[&demo[..], b"# 2.0.0\n"].concat()),
        ("VERSION", b"2.0.0\n"),
        ("data/config.txt", b"config of 2.0.0\n"),
        ("data/new.txt", b"new in 2.0.0\n"),
        ("docs/README.txt", b"the same in both\n"),
        ("notes.txt", b"the release's notes\n"),
    ]);
    [("1.0.0", v1), ("2.0.0", v2)]
}

const MINE: &[u8] = b"the user's own notes\n";

/// The user's files when `version` is installed: `notes.txt` is kept aside while 2.0.0 has one.
fn user(version: &str) -> Tree {
    let name = if version == "2.0.0" {
        "notes.txt.user-file"
    } else {
        "notes.txt"
    };
    Tree::from([(name.to_string(), MINE.to_vec())])
}

/// The app folder is exactly `version` plus the user's files.
fn assert_is(i: &InstallDir, version: &str, ctx: &str) {
    let all = versions();
    let want = &all.iter().find(|(n, _)| *n == version).unwrap().1;
    if let Err(e) = whole_version(&i.app_files(), &[(version, want)], &user(version)) {
        panic!("{ctx}: {e}\n--- folder\n{}", crate::common::listing(&i.app));
    }
}

fn crashed(r: &Run, point: &str) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let name = point.split(':').next().unwrap();
    r.out.status.signal().is_some()
        && r.stderr()
            .contains(&format!("crash point `{name}` reached"))
}

fn journal(i: &InstallDir) -> PathBuf {
    i.app.join(".launcher/journal.json")
}

fn installed_version(i: &InstallDir) -> String {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(i.app.join(".launcher/state.json")).unwrap())
            .unwrap();
    state["installed"]["version"].as_str().unwrap().to_string()
}

/// A copy of the captured install `name` in a fresh folder, with a launcher.ini whose server cannot
/// be reached: the start that follows can only recover, as after a crash while offline.
fn from_fixture(b: &Bench, name: &str) -> InstallDir {
    let i = InstallDir::at(&b.root.join(name));
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixtures().join(name).join("app"))
        .arg(&i.app)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a of the fixture `{name}`");
    i.config(b.root.join("no-server").to_str().unwrap(), "Backups = 2");
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(journal(&i)).unwrap()).unwrap();
    assert!(
        j.get("changes").is_none() && j["ops"][0].get("had_old").is_some(),
        "the fixture `{name}` should hold a journal in the previous launcher's format: {j}"
    );
    i
}

#[test]
#[ignore = "writes tests/fixtures/old-journal; needs LAUNCHER_OLD_BINARY, a fault-injection build of the launcher before typed journal steps"]
fn capture_old_format_journals() {
    let old = PathBuf::from(std::env::var_os("LAUNCHER_OLD_BINARY").expect("LAUNCHER_OLD_BINARY"));
    let old_run = |i: &InstallDir, args: &[&str], env: &[(&str, &str)]| {
        let mut c = crate::common::launcher_at(&old);
        c.arg("--config")
            .arg(&i.ini)
            .args(args)
            .envs(env.iter().copied());
        crate::common::run(c, Some(&i.app))
    };
    let [(n1, v1), (n2, v2)] = versions();
    let b = Bench::new();
    b.publish(n1, &v1);
    let update = b.install("update-placed-2", "Backups = 2");
    let rollback = b.install("rollback-placed-1", "Backups = 2");
    for i in [&update, &rollback] {
        crate::common::write(&i.app.join("notes.txt"), MINE);
        old_run(i, &[], &[]).success().stdout_has("demo app 1.0.0");
    }
    b.publish(n2, &v2);
    let r = old_run(&update, &[], &[("LAUNCHER_CRASH_AT", "placed:2")]);
    assert!(crashed(&r, "placed:2"), "{}", r.explain());
    old_run(&rollback, &[], &[])
        .success()
        .stdout_has("demo app 2.0.0");
    let r = old_run(
        &rollback,
        &["rollback"],
        &[("LAUNCHER_CRASH_AT", "placed:1")],
    );
    assert!(crashed(&r, "placed:1"), "{}", r.explain());
    for i in [&update, &rollback] {
        let name = i.root.file_name().unwrap();
        let to = fixtures().join(name);
        let _ = std::fs::remove_dir_all(&to);
        std::fs::create_dir_all(&to).unwrap();
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(&i.app)
            .arg(to.join("app"))
            .status()
            .unwrap();
        assert!(st.success());
        // Not part of the crash: the lock file and the log of the runs before it.
        let _ = std::fs::remove_file(to.join("app/.launcher/lock"));
        let _ = std::fs::remove_file(to.join("app/.launcher/launcher.log"));
    }
}

#[test]
fn an_update_journal_of_the_previous_launcher_is_finished_by_this_one() {
    let b = Bench::new();
    let i = from_fixture(&b, "update-placed-2");
    let r = i.run(&[], &[]).success().stdout_has("demo app 2.0.0");
    assert!(
        r.stderr()
            .contains("an interrupted update was completed: version 2.0.0 is installed"),
        "{}",
        r.explain()
    );
    assert_is(&i, "2.0.0", "after the recovery");
    assert!(!journal(&i).exists(), "journal left behind");
    assert_eq!(installed_version(&i), "2.0.0");
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(i.app.join("bkp.001/backup.json")).unwrap()).unwrap();
    assert_eq!(
        (info["from"].as_str(), info["to"].as_str()),
        (Some("1.0.0"), Some("2.0.0")),
        "the backup of the finished update: {info}"
    );
    // The backup holds what the recovery moved out: a rollback gives back 1.0.0 and the user's file.
    i.run(&["rollback"], &[]).success();
    assert_is(&i, "1.0.0", "after a rollback of the recovered update");
    assert_eq!(installed_version(&i), "1.0.0");
}

#[test]
fn an_update_journal_of_the_previous_launcher_whose_staged_files_are_lost_is_undone_by_this_one() {
    let b = Bench::new();
    let i = from_fixture(&b, "update-placed-2");
    std::fs::remove_dir_all(i.app.join(".launcher/staging")).unwrap();
    let r = i.run(&[], &[]).success().stdout_has("demo app 1.0.0");
    assert!(
        r.stderr()
            .contains("an interrupted update was undone: version 1.0.0 is installed"),
        "{}",
        r.explain()
    );
    assert_is(&i, "1.0.0", "after the undo");
    assert!(!journal(&i).exists(), "journal left behind");
    assert_eq!(installed_version(&i), "1.0.0");
    assert!(
        !i.app.join("bkp.001/backup.json").exists(),
        "the backup of the undone update was kept{}",
        r.explain()
    );
}

#[test]
fn a_rollback_journal_of_the_previous_launcher_is_finished_and_gives_the_users_file_back() {
    let b = Bench::new();
    let i = from_fixture(&b, "rollback-placed-1");
    let r = i.run(&[], &[]).success().stdout_has("demo app 1.0.0");
    assert!(
        r.stderr()
            .contains("an interrupted rollback was completed: version 1.0.0 is installed"),
        "{}",
        r.explain()
    );
    assert_is(&i, "1.0.0", "after the recovered rollback");
    assert!(!journal(&i).exists(), "journal left behind");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(i.app.join(".launcher/state.json")).unwrap())
            .unwrap();
    assert_eq!(
        state["held"], "2.0.0",
        "the version rolled back from is held"
    );
    assert!(
        i.backups().is_empty(),
        "the restored backup is consumed: {:?}",
        i.backups()
    );
}

/// 1.0.0 installed with the user's `notes.txt`, 2.0.0 published.
fn updating(b: &Bench, name: &str) -> InstallDir {
    let [(n1, v1), (n2, v2)] = versions();
    b.publish(n1, &v1);
    let i = b.install(name, "Backups = 2");
    crate::common::write(&i.app.join("notes.txt"), MINE);
    i.run(&[], &[]).success().stdout_has("demo app 1.0.0");
    b.publish(n2, &v2);
    i
}

fn offline(b: &Bench, i: &InstallDir) -> InstallDir {
    let o = InstallDir {
        ini: i.root.join("offline.ini"),
        ..i.clone()
    };
    o.config(b.root.join("no-server").to_str().unwrap(), "Backups = 2");
    o
}

#[test]
fn a_recovery_that_began_to_undo_keeps_undoing_when_the_new_contents_come_back() {
    let b = Bench::new();
    let i = updating(&b, "marked");
    let r = i.run(&[], &[("LAUNCHER_CRASH_AT", "placed:2")]);
    assert!(crashed(&r, "placed:2"), "{}", r.explain());
    // The staged contents are lost (and found again later): the recovery must undo, and says so in
    // the journal before its first step.
    let staging = i.app.join(".launcher/staging");
    let saved = b.root.join("staging-saved");
    std::fs::rename(&staging, &saved).unwrap();
    let o = offline(&b, &i);
    let r = o.run(&[], &[("LAUNCHER_CRASH_AT", "recovery-marked-back")]);
    assert!(crashed(&r, "recovery-marked-back"), "{}", r.explain());
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(journal(&i)).unwrap()).unwrap();
    assert_eq!(j["direction"], "back", "{j}");
    std::fs::remove_dir_all(&staging).ok();
    std::fs::rename(&saved, &staging).unwrap();
    o.run(&[], &[]).success().stdout_has("demo app 1.0.0");
    assert_is(
        &i,
        "1.0.0",
        "the undo went on although the contents were back",
    );
    assert!(!journal(&i).exists());
    i.run(&[], &[]).success().stdout_has("demo app 2.0.0");
    assert_is(&i, "2.0.0", "the next update");
}

#[test]
fn a_failure_while_undoing_a_failed_update_is_reported_and_the_next_start_finishes_the_undo() {
    let b = Bench::new();
    let i = updating(&b, "undo-fails");
    let r = i.run(
        &[],
        &[
            ("LAUNCHER_LOCKED_FILE", "data/config.txt"),
            ("LAUNCHER_FAIL_AT", "undo:2"),
        ],
    );
    let err = r.stderr();
    assert!(
        err.contains("`data/config.txt` is in use")
            || err.contains("config.txt` is in use or locked"),
        "the first failure is named{}",
        r.explain()
    );
    assert!(
        err.contains("undoing the change failed too")
            && err.contains("injected failure at `undo`")
            && err.contains("journal.json"),
        "the failed undo is reported with the journal that stays{}",
        r.explain()
    );
    assert!(
        !r.stdout().contains("demo app"),
        "a half-changed app must not start{}",
        r.explain()
    );
    assert!(
        journal(&i).exists(),
        "the journal must stay for the next start"
    );
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(journal(&i)).unwrap()).unwrap();
    assert_eq!(j["direction"], "back", "{j}");
    offline(&b, &i)
        .run(&[], &[])
        .success()
        .stdout_has("demo app 1.0.0");
    assert_is(&i, "1.0.0", "the next start finished the undo");
    assert!(!journal(&i).exists());
    assert_eq!(installed_version(&i), "1.0.0");
    i.run(&[], &[]).success().stdout_has("demo app 2.0.0");
    assert_is(&i, "2.0.0", "the update once the file is free");
}

#[test]
fn a_repair_stopped_at_every_step_leaves_the_damaged_or_the_repaired_files() {
    let [_, (n2, v2)] = versions();
    let b = Bench::new();
    let template = updating(&b, "repair-template");
    template
        .run(&[], &[])
        .success()
        .stdout_has("demo app 2.0.0");
    let damaged = [
        ("data/config.txt", &b"edited by hand\n"[..]),
        ("VERSION", b"9.9.9\n"),
    ];
    let mut tried = 0;
    for name in [
        "backup-ready",
        "journal-written",
        "moved-to-backup",
        "placed",
        "before-state",
        "after-state",
    ] {
        for n in 1.. {
            let point = format!("{name}:{n}");
            let i = template.clone_to(&b.root.join(format!("repair-{name}-{n}")));
            for (p, bytes) in damaged {
                crate::common::write(&i.app.join(p), bytes);
            }
            let r = i.run(&["verify", "--repair"], &[("LAUNCHER_CRASH_AT", &point)]);
            if !crashed(&r, &point) {
                assert_eq!(r.code(), 0, "{}", r.explain());
                std::fs::remove_dir_all(&i.root).unwrap();
                break;
            }
            tried += 1;
            let ctx = format!("repair stopped at `{point}`");
            // Every managed file is the damaged or the repaired one; the user's file is untouched.
            let files = i.app_files();
            for (p, good) in &v2 {
                let bad = damaged.iter().find(|(d, _)| d == p).map(|(_, b)| *b);
                let now = files.get(p).map(Vec::as_slice);
                assert!(
                    now == Some(good.as_slice()) || (bad.is_some() && now == bad),
                    "{ctx}: `{p}` is neither damaged nor repaired\n{}",
                    crate::common::listing(&i.app)
                );
            }
            assert_eq!(
                files.get("notes.txt.user-file").map(Vec::as_slice),
                Some(MINE),
                "{ctx}"
            );
            // The next repair (it recovers first) ends with every file intact.
            i.run(&["verify", "--repair"], &[]).success();
            i.run(&["verify"], &[]).success();
            assert_is(&i, n2, &ctx);
            assert!(!journal(&i).exists(), "{ctx}: journal left behind");
            std::fs::remove_dir_all(&i.root).unwrap();
        }
    }
    // 2 files saved and 2 placed, plus the four single steps.
    assert!(tried >= 8, "only {tried} crash points were reached");
}
