//! Issue 9, data and install integrity: real releases (empty files, odd and non-ASCII names, deep
//! paths, dot-files), a user's file at a path a release adds, case-only renames, and a managed file
//! that becomes a folder (and back), each through install, update, rollback and verify, and through
//! a crash at every step of the journaled apply.

use crate::common::{whole_version, Bench, InstallDir, Run, Tree};

fn tree(files: &[(&str, &[u8])]) -> Tree {
    files
        .iter()
        .map(|(p, b)| (p.to_string(), b.to_vec()))
        .collect()
}

/// The 30-level deep folder `d01/d02/.../d30`.
fn deep_folder() -> String {
    (1..=30)
        .map(|i| format!("d{i:02}"))
        .collect::<Vec<_>>()
        .join("/")
}

/// What a real application folder holds besides the sample app: empty files, names with spaces and
/// `# % + & ( )`, non-ASCII names, a 30-level deep path, dot-files and dot-folders.
fn realistic(version: &str) -> Tree {
    let mut t = crate::common::sample_tree(version);
    let deep = deep_folder();
    let v = version.as_bytes();
    for (p, b) in [
        ("pkg/__init__.py", &b""[..]),
        ("pkg/sub/__init__.py", b""),
        ("logs/.gitkeep", b""),
        ("config/empty.cfg", b""),
        ("My Files/report (final) #2 % + & copy.txt", v),
        ("données/naïve café.txt", v),
        ("文档/说明.txt", "版本".as_bytes()),
        ("Ελληνικά/αρχείο.txt", b"greek"),
        (".env", b"MODE=prod\n"),
        (".config/app/settings.json", b"{}\n"),
        (".hidden/.also-hidden", b""),
    ] {
        t.insert(p.into(), b.to_vec());
    }
    t.insert(format!("{deep}/deep.txt"), v.to_vec());
    t.insert(format!("{deep}/empty"), Vec::new());
    t
}

fn assert_is(i: &InstallDir, versions: &[(&str, &Tree)], user: &Tree, want: &str, ctx: &str) {
    let found = i.assert_whole(versions, user, ctx);
    assert_eq!(found, want, "{ctx}");
}

fn assert_verified(i: &InstallDir, ctx: &str) {
    let r = i.run(&["verify"], &[]);
    assert_eq!(r.code(), 0, "{ctx}: verify found damage{}", r.explain());
}

/// Starts the install with 2.0.0 published (it updates without a warning and starts 2.0.0), then rolls
/// back; after each step the app is exactly that version, the backups hold what they say, and
/// `verify` finds nothing wrong.
fn update_and_roll_back(i: &InstallDir, versions: &[(&str, &Tree); 2]) {
    let none = Tree::new();
    let r = i.run(&[], &[]).success().stdout_has("demo app 2.0.0");
    assert!(!r.stderr().contains("warning"), "{}", r.explain());
    assert_is(i, versions, &none, "2.0.0", "update");
    i.assert_backups(versions, "update");
    assert_verified(i, "after the update");
    i.run(&["rollback"], &[]).success();
    assert_is(i, versions, &none, "1.0.0", "rollback");
    assert_verified(i, "after the rollback");
}

#[test]
fn release_with_empty_files_odd_names_and_deep_paths_installs_updates_rolls_back_and_verifies() {
    let b = Bench::new();
    let v1 = realistic("1.0.0");
    let mut v2 = realistic("2.0.0");
    let deep = deep_folder();
    // Empty files change in every way: one gets content, one loses it, one goes, new ones come.
    v2.insert("config/empty.cfg".into(), b"now=set\n".to_vec());
    v2.insert(".env".into(), Vec::new());
    v2.remove("pkg/sub/__init__.py");
    v2.insert("pkg/new/__init__.py".into(), Vec::new());
    v2.insert(format!("{deep}/d31 (new) #%+&/empty too"), Vec::new());
    v2.insert("données/ünïcödé ñ.txt".into(), Vec::new());
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];
    let none = Tree::new();
    let i = b.install("client", "Backups = 2");

    b.publish("1.0.0", &v1);
    i.run(&[], &[]).success().stdout_has("demo app 1.0.0");
    assert_is(&i, &versions, &none, "1.0.0", "first install");
    assert_verified(&i, "after the first install");

    b.publish("2.0.0", &v2);
    update_and_roll_back(&i, &versions);

    // `verify --repair` brings back empty files and deep odd names too.
    std::fs::remove_file(i.app.join("pkg/__init__.py")).unwrap();
    std::fs::remove_file(i.app.join(format!("{deep}/empty"))).unwrap();
    std::fs::write(i.app.join("données/naïve café.txt"), b"damaged").unwrap();
    assert_eq!(i.run(&["verify"], &[]).code(), 6);
    i.run(&["verify", "--repair"], &[]).success();
    assert_is(&i, &versions, &none, "1.0.0", "repair");
    assert_verified(&i, "after the repair");
}

#[test]
fn user_file_at_a_path_the_release_adds_is_kept_aside_said_in_check_and_log_and_restored_by_rollback(
) {
    let b = Bench::new();
    let v1 = crate::common::sample_tree("1.0.0");
    let mut v2 = crate::common::sample_tree("2.0.0");
    v2.insert("notes.txt".into(), b"release notes of 2.0.0\n".to_vec());
    v2.insert("data/settings.ini".into(), b"[release]\n".to_vec());
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];
    let i = b.install("client", "Backups = 3");
    b.publish("1.0.0", &v1);
    i.run(&[], &[]).success();
    let mine = tree(&[
        ("notes.txt", b"my own notes\n"),
        ("data/settings.ini", b"[mine]\ncolour = green\n"),
        (
            "notes.txt.user-file",
            b"an older file of mine with that name\n",
        ),
    ]);
    for (p, bytes) in &mine {
        crate::common::write(&i.app.join(p), bytes);
    }
    b.publish("2.0.0", &v2);

    let r = i.run(&["check"], &[]).code_is(10);
    assert!(
        r.stderr().contains("2 files of yours kept aside")
            && r.stderr()
                .contains("`notes.txt` is not the launcher's and version 2.0.0 installs a file there: yours is kept as `notes.txt.user-file-2`"),
        "check must say which files are kept aside and as what{}",
        r.explain()
    );
    let r = i.run(&["check", "--json"], &[]).code_is(10);
    let json: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(
        json["kept_aside"],
        serde_json::json!([
            {"path": "data/settings.ini", "kept_as": "data/settings.ini.user-file"},
            {"path": "notes.txt", "kept_as": "notes.txt.user-file-2"},
        ]),
        "{}",
        r.explain()
    );

    let r = i.run(&[], &[]).success().stdout_has("demo app 2.0.0");
    assert!(
        r.stderr()
            .contains("yours is kept as `data/settings.ini.user-file`"),
        "{}",
        r.explain()
    );
    let kept = tree(&[
        ("notes.txt.user-file-2", b"my own notes\n"),
        ("data/settings.ini.user-file", b"[mine]\ncolour = green\n"),
        (
            "notes.txt.user-file",
            b"an older file of mine with that name\n",
        ),
    ]);
    assert_is(&i, &versions, &kept, "2.0.0", "update");
    let log = std::fs::read_to_string(i.app.join(".launcher/launcher.log")).unwrap();
    assert!(
        log.contains("to=2.0.0\tresult=ok; `data/settings.ini` is not the launcher's")
            && log.contains("kept as `notes.txt.user-file-2`"),
        "the log must say where the user's files are:\n{log}"
    );
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(i.app.join("bkp.001/backup.json")).unwrap()).unwrap();
    assert_eq!(info["kept"].as_array().map(Vec::len), Some(2), "{info}");
    i.assert_backups(&versions, "update");

    i.run(&["rollback"], &[]).success();
    assert_is(&i, &versions, &mine, "1.0.0", "rollback");
}

#[test]
fn user_file_in_the_way_survives_with_no_backups_and_on_a_first_install() {
    let b = Bench::new();
    let v1 = crate::common::sample_tree("1.0.0");
    let mut v2 = crate::common::sample_tree("2.0.0");
    v2.insert("notes.txt".into(), b"release notes\n".to_vec());
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];
    b.publish("1.0.0", &v1);

    // A first install into a folder where the user already has a file of the release's name.
    let first = b.install("first", "Backups = 3");
    crate::common::write(&first.app.join("data/config.txt"), b"my config\n");
    let r = first.run(&[], &[]).success().stdout_has("demo app 1.0.0");
    assert!(
        r.stderr()
            .contains("yours is kept as `data/config.txt.user-file`"),
        "{}",
        r.explain()
    );
    let kept = tree(&[("data/config.txt.user-file", b"my config\n")]);
    assert_is(&first, &versions, &kept, "1.0.0", "first install");

    // With `Backups = 0` there is no backup to hide in: the file is kept beside all the same.
    let i = b.install("nobackups", "Backups = 0");
    i.run(&[], &[]).success();
    crate::common::write(&i.app.join("notes.txt"), b"mine\n");
    b.publish("2.0.0", &v2);
    i.run(&[], &[]).success().stdout_has("demo app 2.0.0");
    let kept = tree(&[("notes.txt.user-file", b"mine\n")]);
    assert_is(&i, &versions, &kept, "2.0.0", "update without backups");
    // Later updates leave it alone: it is the user's, not the release's.
    let mut v3 = v2.clone();
    v3.insert("VERSION".into(), b"3.0.0\n".to_vec());
    b.publish("3.0.0", &v3);
    i.run(&[], &[]).success().stdout_has("demo app 3.0.0");
    assert_eq!(
        std::fs::read(i.app.join("notes.txt.user-file")).unwrap(),
        b"mine\n"
    );
}

#[test]
fn case_only_rename_leaves_exactly_the_new_file_and_rollback_gives_back_exactly_the_old() {
    let b = Bench::new();
    let mut v1 = crate::common::sample_tree("1.0.0");
    v1.insert("README.TXT".into(), b"read me\n".to_vec());
    v1.insert("Lib/Core.DLL".into(), b"core 1\n".to_vec());
    let mut v2 = crate::common::sample_tree("2.0.0");
    // Same content, new case; new content, new case (folder and file).
    v2.insert("readme.txt".into(), b"read me\n".to_vec());
    v2.insert("lib/core.dll".into(), b"core 2\n".to_vec());
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];
    let i = b.install("client", "Backups = 3");
    b.publish("1.0.0", &v1);
    i.run(&[], &[]).success();
    b.publish("2.0.0", &v2);
    i.run(&["check"], &[]).code_is(10).stderr_has("2 to delete");
    update_and_roll_back(&i, &versions);
}

#[test]
fn managed_file_that_becomes_a_folder_and_folder_that_becomes_a_file_apply_and_roll_back() {
    let b = Bench::new();
    let mut v1 = crate::common::sample_tree("1.0.0");
    v1.insert("plugins".into(), b"plugins as one file\n".to_vec());
    v1.insert("ext/a/b/p.dat".into(), b"deep in a folder\n".to_vec());
    v1.insert("ext/a/q.dat".into(), b"in a folder\n".to_vec());
    let mut v2 = crate::common::sample_tree("2.0.0");
    v2.insert("plugins/p1".into(), b"plugin one\n".to_vec());
    v2.insert("plugins/sub/p2".into(), b"plugin two\n".to_vec());
    v2.insert("ext/a".into(), b"now a file\n".to_vec());
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];
    let i = b.install("client", "Backups = 3");
    b.publish("1.0.0", &v1);
    i.run(&[], &[]).success();
    // Mandatory: before the fix such a release never applied, and the app did not start (exit 5).
    let rel = b.root.join("rel-2.0.0");
    crate::common::write_tree(&rel, &v2);
    crate::common::publish(&rel, &b.repo, "2.0.0", &["--mandatory"]).success();
    update_and_roll_back(&i, &versions);
}

#[test]
fn managed_folder_holding_a_user_file_is_not_replaced_by_a_file_and_the_user_file_stays() {
    let b = Bench::new();
    let mut v1 = crate::common::sample_tree("1.0.0");
    v1.insert("ext/a/q.dat".into(), b"in a folder\n".to_vec());
    let mut v2 = crate::common::sample_tree("2.0.0");
    v2.insert("ext/a".into(), b"now a file\n".to_vec());
    let i = b.install("client", "Backups = 3");
    b.publish("1.0.0", &v1);
    i.run(&[], &[]).success();
    crate::common::write(&i.app.join("ext/a/mine/notes.txt"), b"mine\n");
    b.publish("2.0.0", &v2);
    let r = i.run(&[], &[]).success().stdout_has("demo app 1.0.0");
    assert!(
        r.stderr().contains("`ext/a`")
            && r.stderr()
                .contains("files the launcher did not install (`ext/a/mine/notes.txt`)"),
        "the warning must name the folder and the user's file{}",
        r.explain()
    );
    let user = tree(&[("ext/a/mine/notes.txt", b"mine\n")]);
    assert_is(&i, &[("1.0.0", &v1)], &user, "1.0.0", "refused update");
}

// --- Crashes at every step of the new operations.

/// A release pair that uses every new operation: a user's file kept aside (and given back by a
/// rollback), a case-only rename, a file that becomes a folder, a folder that becomes a file, and
/// empty files.
struct Swaps {
    site: Bench,
    template: InstallDir,
    v1: Tree,
    v2: Tree,
    /// The user's files while 1.0.0 is installed, and while 2.0.0 is.
    user1: Tree,
    user2: Tree,
}

fn swaps() -> Swaps {
    let site = Bench::new();
    let mut v1 = crate::common::sample_tree("1.0.0");
    v1.insert("docs/LICENSE.TXT".into(), b"license\n".to_vec());
    v1.insert("ext/plugins".into(), b"one file\n".to_vec());
    v1.insert("ext/old/p1.dat".into(), b"old p1\n".to_vec());
    v1.insert("ext/old/deep/p2.dat".into(), Vec::new());
    let mut v2 = crate::common::sample_tree("2.0.0");
    v2.insert("docs/license.txt".into(), b"license\n".to_vec());
    v2.insert("ext/plugins/p1.dat".into(), b"p1\n".to_vec());
    v2.insert("ext/plugins/p2.dat".into(), Vec::new());
    v2.insert("ext/old".into(), b"a file now\n".to_vec());
    v2.insert("notes.txt".into(), b"release notes\n".to_vec());
    v2.insert("pkg/__init__.py".into(), Vec::new());
    let template = site.install("template", "Backups = 2");
    site.publish("1.0.0", &v1);
    template.run(&[], &[]).success();
    let user1 = tree(&[("notes.txt", b"my notes\n"), ("data/user.ini", b"[me]\n")]);
    for (p, bytes) in &user1 {
        crate::common::write(&template.app.join(p), bytes);
    }
    let user2 = tree(&[
        ("notes.txt.user-file", b"my notes\n"),
        ("data/user.ini", b"[me]\n"),
    ]);
    site.publish("2.0.0", &v2);
    Swaps {
        site,
        template,
        v1,
        v2,
        user1,
        user2,
    }
}

impl Swaps {
    /// The app is 1.0.0 with the user's files where they were, or 2.0.0 with the user's file kept
    /// aside; returns which.
    fn whole(&self, i: &InstallDir, ctx: &str) -> String {
        let files = i.app_files();
        whole_version(&files, &[("1.0.0", &self.v1)], &self.user1)
            .or_else(|e1| {
                whole_version(&files, &[("2.0.0", &self.v2)], &self.user2)
                    .map_err(|e2| format!("{e1}; {e2}"))
            })
            .unwrap_or_else(|e| {
                panic!("{ctx}: {e}\n--- folder\n{}", crate::common::listing(&i.app))
            })
    }

    fn versions(&self) -> [(&str, &Tree); 2] {
        [("1.0.0", &self.v1), ("2.0.0", &self.v2)]
    }

    /// An offline start recovers and starts a whole version; the journal is gone.
    fn offline(&self, i: &InstallDir, ctx: &str) -> String {
        let offline = InstallDir {
            ini: i.root.join("offline.ini"),
            ..i.clone()
        };
        offline.config(i.root.join("no-server").to_str().unwrap(), "Backups = 2");
        let r = offline.run(&[], &[]).success();
        let found = self.whole(i, &format!("{ctx}, next start offline"));
        assert!(
            r.stdout().contains(&format!("demo app {found}\n")),
            "{ctx}: {found} did not start{}",
            r.explain()
        );
        assert!(
            !i.app.join(".launcher/journal.json").exists(),
            "{ctx}: journal left"
        );
        i.assert_backups(&self.versions(), ctx);
        found
    }
}

/// True when the run aborted at the crash point; false when it finished (the point was not reached
/// that many times).
fn crashed(r: &Run, point: &str) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let name = point.split(':').next().unwrap();
    if r.out.status.signal().is_some() {
        assert!(
            r.stderr()
                .contains(&format!("crash point `{name}` reached")),
            "killed, but not at `{point}`{}",
            r.explain()
        );
        return true;
    }
    assert_eq!(r.code(), 0, "{}", r.explain());
    false
}

/// Crash points of the apply, each `name:1`, `name:2`... until the point is no longer reached.
fn every_step(mut run_at: impl FnMut(&str) -> bool) -> usize {
    let mut crashes = 0;
    for name in [
        "backup-ready",
        "journal-written",
        "moved-to-backup",
        "kept-aside",
        "kept-moved-back",
        "folder-removed",
        "placed",
        "before-state",
        "after-state",
    ] {
        for n in 1.. {
            if !run_at(&format!("{name}:{n}")) {
                break;
            }
            crashes += 1;
        }
    }
    crashes
}

#[test]
fn crash_at_every_step_of_an_update_with_kept_user_files_renames_and_folder_swaps_leaves_old_or_new(
) {
    let f = swaps();
    let mut k = 0;
    let crashes = every_step(|point| {
        k += 1;
        let i = f.template.clone_to(&f.site.root.join(format!("u{k}")));
        let r = i.run(&[], &[("LAUNCHER_CRASH_AT", point)]);
        if !crashed(&r, point) {
            return false;
        }
        let ctx = format!("update stopped at `{point}`");
        f.offline(&i, &ctx);
        i.run(&[], &[]).success().stdout_has("demo app 2.0.0");
        assert_eq!(f.whole(&i, &ctx), "2.0.0", "{ctx}: not completed");
        i.run(&["rollback"], &[]).success();
        assert_eq!(f.whole(&i, &ctx), "1.0.0", "{ctx}, then rollback");
        true
    });
    // Every kind of step was reached: 6 files saved, 1 kept aside, 1 folder removed, 7 placed.
    assert!(crashes >= 17, "only {crashes} crash points were reached");
}

#[test]
fn crash_at_every_step_of_a_rollback_that_gives_back_a_kept_user_file_leaves_old_or_new() {
    let f = swaps();
    let updated = f.template.clone_to(&f.site.root.join("updated"));
    updated.run(&[], &[]).success().stdout_has("demo app 2.0.0");
    let mut k = 0;
    let crashes = every_step(|point| {
        k += 1;
        let i = updated.clone_to(&f.site.root.join(format!("r{k}")));
        let r = i.run(&["rollback"], &[("LAUNCHER_CRASH_AT", point)]);
        if !crashed(&r, point) {
            return false;
        }
        let ctx = format!("rollback stopped at `{point}`");
        if f.offline(&i, &ctx) == "2.0.0" {
            // Undone: the backup is still there and the rollback can be made again.
            i.run(&["rollback"], &[]).success();
        }
        assert_eq!(f.whole(&i, &ctx), "1.0.0", "{ctx}: rollback not completed");
        true
    });
    assert!(crashes >= 10, "only {crashes} crash points were reached");
}

#[test]
fn the_name_a_user_file_is_kept_under_is_never_one_the_release_uses() {
    let b = Bench::new();
    let mut v1 = crate::common::sample_tree("1.0.0");
    v1.insert("notes.txt.user-file".into(), b"the release's\n".to_vec());
    v1.insert("notes.txt".into(), b"the release's notes\n".to_vec());
    b.publish("1.0.0", &v1);
    let i = b.install("client", "Backups = 3");
    crate::common::write(&i.app.join("notes.txt"), b"mine\n");
    i.run(&[], &[]).success().stdout_has("demo app 1.0.0");
    let kept = tree(&[("notes.txt.user-file-2", b"mine\n")]);
    assert_is(&i, &[("1.0.0", &v1)], &kept, "1.0.0", "first install");
}
