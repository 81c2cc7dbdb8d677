//! Issue 9, item 5: the launcher never writes outside the install folder through links. Real symbolic
//! links are put where the launcher writes (`.launcher/` itself, its log, state, lock, staging, undo
//! and saved channel manifest, a `bkp.NNN` folder), pointing outside a temp install; the launcher must
//! replace them, leave their targets exactly as they were, and still update, roll back and start.

use crate::common::{sample_tree, snapshot, write, Bench, InstallDir, Snapshot, Tree};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// `outside/` beside the install, with a file, a folder with a file, and an empty folder.
fn outside(site: &Bench) -> PathBuf {
    let o = site.root.join("outside");
    write(&o.join("state.json"), "{\"not\": \"the launcher's\"}\n");
    write(&o.join("launcher.log"), "someone else's log\n");
    write(&o.join("staging/keep.txt"), "someone else's folder\n");
    write(&o.join("bkp/keep.txt"), "someone else's folder\n");
    write(&o.join("undo/keep.txt"), "someone else's folder\n");
    std::fs::create_dir_all(o.join("meta")).unwrap();
    o
}

fn assert_untouched(o: &Path, before: &Option<Snapshot>, missing: &[&str], context: &str) {
    let after = snapshot(o);
    assert!(
        after == *before,
        "{context}: something was written outside the install folder:\n{}",
        crate::common::snapshot_diff(before, &after)
    );
    for m in missing {
        assert!(
            !o.join(m).exists(),
            "{context}: `{m}` was created through a dangling link"
        );
    }
}

fn is_real(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| !m.file_type().is_symlink())
}

fn two_versions() -> (Tree, Tree) {
    let v1 = sample_tree("1.0");
    let mut v2 = sample_tree("2.0");
    v2.insert("docs/NEW.txt".into(), b"new in 2.0\n".to_vec());
    (v1, v2)
}

/// Replaces each `.launcher/NAME` with a link to `outside/TARGET`.
fn link_meta(meta: &Path, o: &Path, links: &[(&str, &str)]) {
    for (name, target) in links {
        let p = meta.join(name);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            let _ = std::fs::remove_file(&p);
        }
        symlink(o.join(target), &p).unwrap();
    }
}

#[test]
fn links_where_the_launcher_writes_are_replaced_and_their_targets_stay_untouched() {
    let site = Bench::new();
    let o = outside(&site);
    let (v1, v2) = two_versions();
    let i = site.install("links", "Backups = 2");
    site.publish("1.0", &v1);
    i.run(&[], &[]).success().stdout_has("demo app 1.0\n");
    let meta = i.app.join(".launcher");
    let dangling = ["new-lock", "new-channel.json", "new-journal.json"];

    // A start with nothing new: the state (lost with its link, so every file is hashed again), the
    // journal, the lock and the saved channel manifest.
    link_meta(
        &meta,
        &o,
        &[
            ("state.json", "state.json"),
            ("journal.json", "new-journal.json"),
            ("lock", "new-lock"),
            ("channel.json", "new-channel.json"),
        ],
    );
    let before = snapshot(&o);
    let r = i.run(&[], &[]).success().stdout_has("demo app 1.0\n");
    assert!(
        r.stderr().contains("was a link to") && r.stderr().contains("its target is untouched"),
        "the replaced links were not reported{}",
        r.explain()
    );
    assert_untouched(&o, &before, &dangling, "start with nothing new");
    for name in ["state.json", "lock"] {
        assert!(
            is_real(&meta.join(name)),
            "`{name}` is not a real file{}",
            r.explain()
        );
    }
    assert!(!meta.join("journal.json").exists() && !meta.join("channel.json").is_symlink());

    // An update: the log, the staging folder, the lock, the saved channel manifest and the backup
    // folder it is about to make.
    link_meta(
        &meta,
        &o,
        &[
            ("launcher.log", "launcher.log"),
            ("staging", "staging"),
            ("lock", "new-lock"),
            ("channel.json", "new-channel.json"),
        ],
    );
    symlink(o.join("bkp"), i.app.join("bkp.001")).unwrap();
    site.publish("2.0", &v2);
    let r = i.run(&[], &[]).success().stdout_has("demo app 2.0\n");
    assert_untouched(&o, &before, &dangling, "update");
    for p in [
        meta.join("launcher.log"),
        meta.join("lock"),
        meta.join("channel.json"),
        i.app.join("bkp.001"),
    ] {
        assert!(
            is_real(&p),
            "`{}` is not a real file or folder{}",
            p.display(),
            r.explain()
        );
    }
    assert!(
        i.app.join("bkp.001/backup.json").is_file(),
        "{}",
        r.explain()
    );
    assert!(
        std::fs::read_to_string(meta.join("launcher.log"))
            .unwrap()
            .contains("to=2.0"),
        "the update was not logged in the install's own log"
    );

    // A rollback: its undo folder, and the staging folder again.
    link_meta(&meta, &o, &[("undo", "undo"), ("staging", "staging")]);
    i.run(&["rollback"], &[])
        .success()
        .stderr_has("Rolled back from 2.0 to 1.0");
    assert_untouched(&o, &before, &dangling, "rollback");
    i.run(&[], &[]).success().stdout_has("demo app 1.0\n");
    let found = i.assert_whole(
        &[("1.0", &v1), ("2.0", &v2)],
        &Tree::new(),
        "after the rollback",
    );
    assert_eq!(found, "1.0");
}

#[test]
fn a_launcher_folder_that_is_a_link_is_replaced_on_first_install_and_on_update() {
    let site = Bench::new();
    let o = outside(&site);
    let (v1, v2) = two_versions();
    site.publish("1.0", &v1);

    // Before the first install: a dangling link, and one to an existing folder.
    for (name, target) in [("dangling", "new-meta"), ("existing", "meta")] {
        let i = site.install(name, "");
        std::fs::create_dir_all(&i.app).unwrap();
        symlink(o.join(target), i.app.join(".launcher")).unwrap();
        let before = snapshot(&o);
        i.run(&[], &[]).success().stdout_has("demo app 1.0\n");
        assert_untouched(
            &o,
            &before,
            &["new-meta"],
            &format!("first install, {name} link"),
        );
        assert!(is_real(&i.app.join(".launcher")));
        assert!(i.app.join(".launcher/state.json").is_file());
    }

    // An installed app whose `.launcher/` was moved outside and linked back: the link is replaced
    // (its state stays outside, so every file is hashed again), and the next update works.
    let i: InstallDir = site.install("moved", "");
    i.run(&[], &[]).success().stdout_has("demo app 1.0\n");
    let moved = o.join("moved-meta");
    std::fs::rename(i.app.join(".launcher"), &moved).unwrap();
    symlink(&moved, i.app.join(".launcher")).unwrap();
    let before = snapshot(&o);
    let r = i.run(&[], &[]).success().stdout_has("demo app 1.0\n");
    assert_untouched(&o, &before, &[], "start with `.launcher` linked outside");
    assert!(is_real(&i.app.join(".launcher")), "{}", r.explain());
    site.publish("2.0", &v2);
    i.run(&[], &[]).success().stdout_has("demo app 2.0\n");
    assert_untouched(&o, &before, &[], "the update after");
    assert_eq!(
        i.assert_whole(
            &[("1.0", &v1), ("2.0", &v2)],
            &Tree::new(),
            "after the update"
        ),
        "2.0"
    );
}
