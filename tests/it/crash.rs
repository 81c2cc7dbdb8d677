//! Issue 4, crashes: the launcher is stopped at every step of an update (deterministic crash points,
//! feature `fault-injection`) and killed at random moments (SIGKILL), and the next start must leave
//! every managed file the old or the new version for the whole set, the user's files untouched, the
//! backups consistent, and the app started. The updates include the operations of issue 9: a file
//! that becomes a folder, a folder that becomes a file, a case-only rename and empty files.

use crate::common::{kill_seed, noise, sample_tree, Bench, InstallDir, Rng, Run, Tree};

/// v0.8.0 → v0.9.0 → v1.0.0 are installed in turn (two backups, `Backups = 2`); v2.0.0 changes, adds
/// and removes files, and shares one content between three new paths.
fn trees() -> Vec<(&'static str, Tree)> {
    let lib = |version: &str, t: &mut Tree, changed: std::ops::Range<usize>| {
        for i in 0..12 {
            let v = if changed.contains(&i) {
                version
            } else {
                "base"
            };
            t.insert(
                format!("lib/mod{i:02}.dat"),
                format!("module {i} of {v}\n").repeat(40).into_bytes(),
            );
        }
    };
    // Issue 9: before 2.0.0, `ext/plugins` is a file, `ext/old` a folder, `docs/LICENSE.TXT` upper
    // case and `pkg/__init__.py` empty; 2.0.0 swaps file and folder and renames by case only.
    let swaps = |t: &mut Tree, new: bool| {
        let files: [(&str, &[u8]); 4] = if new {
            [
                ("ext/plugins/p1.dat", b"plugin 1\n"),
                ("ext/old", b"a file now\n"),
                ("docs/license.txt", b"license\n"),
                ("pkg/new/__init__.py", b""),
            ]
        } else {
            [
                ("ext/plugins", b"plugins in one file\n"),
                ("ext/old/deep/p1.dat", b"old plugin\n"),
                ("docs/LICENSE.TXT", b"license\n"),
                ("pkg/__init__.py", b""),
            ]
        };
        for (p, b) in files {
            t.insert(p.into(), b.to_vec());
        }
    };
    let mut v08 = sample_tree("0.8.0");
    lib("0.8.0", &mut v08, 0..12);
    swaps(&mut v08, false);
    let mut v09 = sample_tree("0.9.0");
    lib("0.9.0", &mut v09, 0..6);
    swaps(&mut v09, false);
    let mut v1 = sample_tree("1.0.0");
    lib("1.0.0", &mut v1, 0..6);
    swaps(&mut v1, false);
    let mut v2 = sample_tree("2.0.0");
    lib("2.0.0", &mut v2, 0..6);
    swaps(&mut v2, true);
    for i in 9..12 {
        v2.remove(&format!("lib/mod{i:02}.dat"));
    }
    v2.remove("data/old-notes.txt");
    v2.insert("data/catalog.dat".into(), noise(2, 300 * 1024));
    let demo = v2["bin/demo"].clone();
    v2.insert("bin/demo".into(), [&demo[..], b"# 2.0.0\n"].concat());
    let shared = noise(3, 50 * 1024);
    for p in [
        "plugins/extra/a.dat",
        "plugins/extra/b.dat",
        "docs/same.dat",
    ] {
        v2.insert(p.into(), shared.clone());
    }
    v2.insert("docs/NEW.txt".into(), b"new in 2.0.0\n".to_vec());
    vec![("0.8.0", v08), ("0.9.0", v09), ("1.0.0", v1), ("2.0.0", v2)]
}

/// Files the user made: one in a folder the app manages, one in a folder of its own, one in `lib/`.
fn user_files() -> Tree {
    let mut u = Tree::new();
    u.insert(
        "data/user-settings.ini".into(),
        b"[me]\ncolour = green\n".to_vec(),
    );
    u.insert("notes/mine.txt".into(), b"my notes\n".to_vec());
    u.insert("lib/user-plugin.dat".into(), b"not the app's\n".to_vec());
    u
}

/// A site whose repository offers 2.0.0 and a template install of 1.0.0 (with two backups and the
/// user's files) to clone for each scenario.
pub struct Fixture {
    pub site: Bench,
    pub template: InstallDir,
    pub v1: Tree,
    pub v2: Tree,
    pub user: Tree,
    pub all: Vec<(&'static str, Tree)>,
    /// The backup settings of the scenarios' launcher.ini.
    pub backups: &'static str,
}

pub fn fixture() -> Fixture {
    let site = Bench::new();
    let all = trees();
    let template = site.install("template", "Backups = 2");
    for (version, tree) in &all[..3] {
        site.publish(version, tree);
        template
            .run(&[], &[])
            .success()
            .stdout_has(&format!("demo app {version}"));
    }
    let user = user_files();
    for (p, b) in &user {
        crate::common::write(&template.app.join(p), b);
    }
    site.publish("2.0.0", &all[3].1);
    Fixture {
        v1: all[2].1.clone(),
        v2: all[3].1.clone(),
        user,
        all,
        template,
        site,
        backups: "Backups = 2",
    }
}

impl Fixture {
    /// A copy of the template install for one scenario, with this fixture's backup settings.
    fn scenario(&self, name: &str) -> InstallDir {
        let i = self.template.clone_to(&self.site.root.join(name));
        i.config(self.site.repo.to_str().unwrap(), self.backups);
        i
    }

    fn versions(&self) -> [(&str, &Tree); 2] {
        [("1.0.0", &self.v1), ("2.0.0", &self.v2)]
    }

    fn all_versions(&self) -> Vec<(&str, &Tree)> {
        self.all.iter().map(|(v, t)| (*v, t)).collect()
    }

    /// Files v2 places (added or replaced) and moves into the backup (replaced or deleted).
    fn counts(&self) -> (usize, usize) {
        let placed = self
            .v2
            .iter()
            .filter(|(p, b)| self.v1.get(*p) != Some(*b))
            .count();
        let moved = self
            .v1
            .iter()
            .filter(|(p, b)| self.v2.get(*p) != Some(*b))
            .count();
        (placed, moved)
    }

    /// After the next start: the whole set is one version, the user's files are untouched, nothing of
    /// the change is left in `.launcher/`, the backups are consistent. Returns the version.
    pub fn check_settled(&self, i: &InstallDir, context: &str) -> String {
        let found = i.assert_whole(&self.versions(), &self.user, context);
        let meta = i.app.join(".launcher");
        assert!(
            !meta.join("journal.json").exists(),
            "{context}: the journal is left behind"
        );
        let leftovers: Vec<String> = std::fs::read_dir(&meta)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp-"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "{context}: temp files left in .launcher: {leftovers:?}"
        );
        i.assert_backups(&self.all_versions(), context);
        found
    }

    /// The update completed: v2 everywhere, the newest backup holds v1's replaced and deleted files,
    /// staging is empty, and `rollback` gives back exactly v1 with the user's files.
    pub fn check_completed(&self, i: &InstallDir, context: &str) {
        assert_eq!(
            self.check_settled(i, context),
            "2.0.0",
            "{context}: the update did not complete"
        );
        let staging = i.app.join(".launcher/staging");
        let staged: Vec<_> = std::fs::read_dir(&staging)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            staged.is_empty(),
            "{context}: staging still holds {staged:?}"
        );
        let backups = i.backups();
        assert_eq!(
            backups,
            ["bkp.001", "bkp.002"],
            "{context}: expected the two newest backups"
        );
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(i.app.join("bkp.002/backup.json")).unwrap())
                .unwrap();
        if self.backups.contains("Backups = 0") {
            // No backup is made; the old ones stay as they were, and the undo folder is gone.
            assert_eq!(info["to"].as_str(), Some("1.0.0"), "{context}");
            assert!(
                !i.app.join(".launcher/undo").exists(),
                "{context}: undo folder left"
            );
            return;
        }
        assert_eq!(
            (info["from"].as_str(), info["to"].as_str()),
            (Some("1.0.0"), Some("2.0.0")),
            "{context}"
        );
        i.run(&["rollback"], &[]).success();
        let back = i.assert_whole(
            &self.versions(),
            &self.user,
            &format!("{context}, then rollback"),
        );
        assert_eq!(back, "1.0.0", "{context}: rollback did not restore 1.0.0");
        i.assert_backups(&self.all_versions(), &format!("{context}, then rollback"));
    }
}

/// Asserts that a run stopped at the crash point (aborted, and said which point).
fn assert_crashed(r: &Run, point: &str) {
    let name = point.split(':').next().unwrap();
    assert!(
        crate::common::aborted(&r.out.status)
            && r.stderr()
                .contains(&format!("crash point `{name}` reached")),
        "expected the launcher to abort at `{point}`{}",
        r.explain()
    );
}

/// A start that cannot reach the server (it names a folder that does not exist): it must recover and
/// start a whole version, without the update's help. Returns the version that started.
pub fn offline_start(
    i: &InstallDir,
    versions: &[(&str, &Tree)],
    user: &Tree,
    context: &str,
) -> String {
    let offline = InstallDir {
        ini: i.root.join("offline.ini"),
        ..i.clone()
    };
    offline.config(i.root.join("no-server").to_str().unwrap(), "Backups = 2");
    let r = offline.run(&[], &[]).success();
    let found = i.assert_whole(versions, user, &format!("{context}, next start offline"));
    assert!(
        r.stdout().contains(&format!("demo app {found}\n")),
        "{context}: the offline start did not start {found}{}",
        r.explain()
    );
    assert!(
        !i.app.join(".launcher/journal.json").exists(),
        "{context}: journal left after the offline start"
    );
    found
}

/// The next starts after the crashes: one offline (recovers, starts a whole version), then one online
/// (completes the update and starts 2.0.0).
fn clean_run(f: &Fixture, i: &InstallDir, context: &str) {
    offline_start(i, &f.versions(), &f.user, context);
    f.check_settled(i, &format!("{context}, after the offline start"));
    let r = i.run(&[], &[]).success();
    assert!(
        r.stdout().contains("demo app 2.0.0"),
        "{context}: 2.0.0 did not start{}",
        r.explain()
    );
    f.check_completed(i, context);
}

#[test]
fn crash_at_every_step_of_an_update_leaves_old_or_new_and_the_next_start_completes_it() {
    let f = fixture();
    let (placed, moved) = f.counts();
    assert!(
        placed >= 10 && moved >= 10,
        "the update should be big enough: {placed} placed, {moved} moved"
    );
    let mut points: Vec<String> = [
        "staged",
        "rotate-deleted",
        "backup-ready",
        "journal-written",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    points.extend((1..=moved).map(|n| format!("moved-to-backup:{n}")));
    points.extend((1..=placed).map(|n| format!("placed:{n}")));
    points.extend([
        "folder-removed".to_string(),
        "before-state".to_string(),
        "after-state".to_string(),
    ]);
    let mut tried = 0;
    for (k, point) in points.iter().enumerate() {
        let i = f.scenario(&format!("c{k}"));
        let r = i.run(&[], &[("LAUNCHER_CRASH_AT", point)]);
        assert_crashed(&r, point);
        // Before the next start the files may be mixed, but the user's files are never touched.
        for (p, b) in &f.user {
            assert_eq!(
                std::fs::read(i.app.join(p)).ok().as_ref(),
                Some(b),
                "`{p}` changed at {point}"
            );
        }
        clean_run(&f, &i, &format!("crash at `{point}`"));
        std::fs::remove_dir_all(&i.root).unwrap();
        tried += 1;
    }
    eprintln!("crash points tried during the update: {tried}");
}

#[test]
fn crash_with_full_backups_or_none_leaves_old_or_new_and_the_next_start_completes_it() {
    let mut f = fixture();
    let mut tried = 0;
    for backups in ["Backups = 2\nBackupMode = full", "Backups = 0"] {
        f.backups = backups;
        let mut points = vec![
            "staged",
            "backup-ready",
            "journal-written",
            "moved-to-backup:1",
        ];
        points.extend([
            "moved-to-backup:7",
            "placed:1",
            "placed:9",
            "before-state",
            "after-state",
        ]);
        if backups.contains("full") {
            points.push("rotate-deleted");
        }
        for (k, point) in points.iter().enumerate() {
            let i = f.scenario(&format!("m{tried}-{k}"));
            assert_crashed(&i.run(&[], &[("LAUNCHER_CRASH_AT", point)]), point);
            clean_run(&f, &i, &format!("{backups:?}, crash at `{point}`"));
            std::fs::remove_dir_all(&i.root).unwrap();
            tried += 1;
        }
    }
    eprintln!("crash points tried with full backups and without backups: {tried}");
}

#[test]
fn crash_during_recovery_is_recovered_by_the_next_start() {
    let f = fixture();
    let (placed, _) = f.counts();
    let mut tried = 0;
    let mut scenario = 0;
    let mut next = |f: &Fixture| {
        scenario += 1;
        f.scenario(&format!("r{scenario}"))
    };

    // Roll-forward recovery stopped at its start and after its first and later placements.
    for (first, second) in [
        ("journal-written", "recovery-start"),
        ("placed:5", "recovery-start"),
        ("placed:2", "recovery-placed:1"),
        ("moved-to-backup:4", "recovery-placed:3"),
        ("journal-written", &*format!("recovery-placed:{placed}")),
        ("moved-to-backup:7", "moved-to-backup:1"),
    ] {
        let i = next(&f);
        assert_crashed(&i.run(&[], &[("LAUNCHER_CRASH_AT", first)]), first);
        assert_crashed(&i.run(&[], &[("LAUNCHER_CRASH_AT", second)]), second);
        clean_run(
            &f,
            &i,
            &format!("crash at `{first}`, then in recovery at `{second}`"),
        );
        tried += 2;
    }

    // Roll-back recovery: the staged contents were lost after the crash, so recovery must undo the
    // change from the backup; it is stopped after each undone operation in turn.
    for n in [1, 2, 5, 9, 13] {
        let i = next(&f);
        assert_crashed(
            &i.run(&[], &[("LAUNCHER_CRASH_AT", "placed:6")]),
            "placed:6",
        );
        std::fs::remove_dir_all(i.app.join(".launcher/staging")).unwrap();
        let point = format!("recovery-undone:{n}");
        assert_crashed(&i.run(&[], &[("LAUNCHER_CRASH_AT", &point)]), &point);
        let context = format!("staging lost after `placed:6`, crash at `{point}`");
        let found = offline_start(&i, &f.versions(), &f.user, &context);
        assert_eq!(found, "1.0.0", "{context}: the undo did not restore 1.0.0");
        let r = i.run(&[], &[]).success();
        assert!(
            r.stdout().contains("demo app 2.0.0"),
            "the update after the undo did not complete{}",
            r.explain()
        );
        f.check_completed(&i, &context);
        tried += 2;
    }

    // A file that cannot be replaced makes the update undo itself; that undo is stopped too.
    for n in [1, 3] {
        let i = next(&f);
        let point = format!("recovery-undone:{n}");
        let r = i.run(
            &[],
            &[
                ("LAUNCHER_LOCKED_FILE", "plugins/extra/b.dat"),
                ("LAUNCHER_CRASH_AT", &point),
            ],
        );
        assert_crashed(&r, &point);
        clean_run(
            &f,
            &i,
            &format!("locked file, crash in the undo at `{point}`"),
        );
        tried += 1;
    }
    eprintln!("crash points tried in recovery scenarios: {tried}");
}

#[test]
fn unreadable_journal_is_reported_and_the_install_is_checked_by_hash() {
    let f = fixture();
    let i = f.scenario("u");
    assert_crashed(
        &i.run(&[], &[("LAUNCHER_CRASH_AT", "placed:5")]),
        "placed:5",
    );
    std::fs::write(i.app.join(".launcher/journal.json"), b"{\"kind\": \"upd").unwrap();
    // A file that 2.0.0 keeps, damaged in place with its size and date kept: only a hash finds it.
    let kept = i.app.join("lib/mod08.dat");
    let mtime = std::fs::metadata(&kept).unwrap().modified().unwrap();
    let mut damaged = std::fs::read(&kept).unwrap();
    damaged[0] ^= 0xff;
    std::fs::write(&kept, &damaged).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&kept)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let r = i.run(&[], &[]).success();
    assert!(
        r.stderr().contains("could not be read") && r.stderr().contains("checking every file"),
        "the unreadable journal was not reported{}",
        r.explain()
    );
    assert!(r.stdout().contains("demo app 2.0.0"), "{}", r.explain());
    assert!(i.app.join(".launcher/journal.unreadable.json").exists());
    assert!(!i.app.join(".launcher/journal.json").exists());
    assert_eq!(
        i.assert_whole(&f.versions(), &f.user, "unreadable journal"),
        "2.0.0"
    );
}

#[test]
fn killing_the_launcher_at_random_moments_never_leaves_a_mixed_install() {
    let seed = kill_seed();
    eprintln!("kill test seed: {seed} (rerun with LAUNCHER_KILL_SEED={seed})");
    let mut rng = Rng(seed);

    // A few hundred files and one large one, updated from a folder source.
    let site = Bench::new();
    let mut v1 = sample_tree("1.0.0");
    for i in 0..300 {
        v1.insert(
            format!("res/{:02}/item{i:03}.txt", i % 17),
            format!("item {i} v1\n").repeat(1 + i % 50).into_bytes(),
        );
    }
    v1.insert("data/big.bin".into(), noise(10, 20 * 1024 * 1024));
    // Issue 9: a file that becomes a folder, a folder that becomes a file, a case-only rename.
    v1.insert("res/plugins".into(), b"one file\n".to_vec());
    v1.insert("res/old/p.txt".into(), b"in a folder\n".to_vec());
    v1.insert("res/CASE.TXT".into(), b"case\n".to_vec());
    let mut v2 = sample_tree("2.0.0");
    for i in 0..300 {
        if i % 3 != 0 {
            let v = if i % 3 == 1 { "v2" } else { "v1" };
            v2.insert(
                format!("res/{:02}/item{i:03}.txt", i % 17),
                format!("item {i} {v}\n").repeat(1 + i % 50).into_bytes(),
            );
        }
    }
    for i in 0..60 {
        v2.insert(
            format!("new/{:02}/added{i:02}.txt", i % 7),
            format!("added {i}\n").into_bytes(),
        );
    }
    v2.insert("data/big.bin".into(), noise(20, 20 * 1024 * 1024));
    v2.insert("res/plugins/p.txt".into(), b"now a folder\n".to_vec());
    v2.insert("res/old".into(), b"now a file\n".to_vec());
    v2.insert("res/case.txt".into(), b"case\n".to_vec());
    let user = user_files();
    let template = site.install("template", "");
    site.publish("1.0.0", &v1);
    template
        .run(&[], &[])
        .success()
        .stdout_has("demo app 1.0.0");
    for (p, b) in &user {
        crate::common::write(&template.app.join(p), b);
    }
    site.publish("2.0.0", &v2);
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];

    // How long an uninterrupted update takes here, and when its journal appears, to spread the
    // kills over it with half of them in the apply phase (randomness, not a timing assertion).
    let probe = template.clone_to(&site.root.join("probe"));
    let (span, apply_from) = crate::common::probe_run(&probe, &[]);
    assert_eq!(probe.assert_whole(&versions, &user, "probe"), "2.0.0");
    std::fs::remove_dir_all(&probe.root).unwrap();

    let iterations = 30;
    let (mut kills, mut landed, mut mid_apply, mut mid_stage) = (0, 0, 0, 0);
    for it in 0..iterations {
        let i = template.clone_to(&site.root.join(format!("k{it}")));
        // One kill, or (one time in three) a second one during the start that recovers.
        let rounds = if rng.below(3) == 0 { 2 } else { 1 };
        for _ in 0..rounds {
            let (_, status) =
                crate::common::spawn_and_kill(&i, &[], &mut rng, apply_from, span, 2000);
            kills += 1;
            if crate::common::killed(&status) {
                landed += 1;
            }
        }
        // Where the last kill hit, for the summary: inside the apply (a journal is left) or while
        // staging (partial downloads are left).
        if i.app.join(".launcher/journal.json").exists() {
            mid_apply += 1;
        } else if std::fs::read_dir(i.app.join(".launcher/staging"))
            .is_ok_and(|rd| rd.flatten().next().is_some())
        {
            mid_stage += 1;
        }
        let context = format!("iteration {it} (seed {seed})");
        offline_start(&i, &versions, &user, &context);
        i.assert_backups(&versions, &context);
        let r = i.run(&[], &[]).success();
        assert!(
            r.stdout().contains("demo app 2.0.0"),
            "{context}: 2.0.0 did not start{}",
            r.explain()
        );
        let found = i.assert_whole(&versions, &user, &context);
        assert_eq!(found, "2.0.0", "{context}");
        assert!(
            !i.app.join(".launcher/journal.json").exists(),
            "{context}: journal left"
        );
        i.assert_backups(&versions, &context);
        std::fs::remove_dir_all(&i.root).unwrap();
    }
    eprintln!(
        "kills tried: {kills}, of which {landed} landed before the launcher finished; \
         {mid_apply} iterations left a journal (killed while applying), {mid_stage} left staged \
         files only (killed while staging) (seed {seed})"
    );
}
