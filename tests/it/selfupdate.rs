//! The launcher updates itself: IT puts the launcher inside the app folder (`Dir = .`), the release
//! contains the launcher, and a release with a changed launcher replaces the running file through the
//! journal, restarts it once with the same arguments and environment, and the new launcher starts the
//! app. Every launcher here is a copy of the real binary (or a script a release put in its place) in a
//! fresh temp folder, started as a subprocess; "changed" launchers are the binary with bytes appended.
//! On Windows (under Wine) the same scenarios run with `launcher.exe`, which is renamed into the backup
//! while it runs; the scenarios whose new launcher is a shell script stay on Unix.

use crate::common::{
    self, copy_changed_launcher, copy_launcher, launcher_at, publish, run_fresh, sample_release,
    sha256_file, Run,
};

use std::path::{Path, PathBuf};

/// A temp folder with a repository (`repo/`), release folders (`rel-<version>/`) and an install folder
/// (`inst/`) holding a copy of the launcher called `name` (plus `.exe` on Windows) with `<name>.ini`
/// beside it (`Dir = .`).
struct Site {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    inst: PathBuf,
    /// This test's copy of the launcher binary, which every launcher file here is made from.
    bin: PathBuf,
    name: &'static str,
}

fn site(name: &'static str) -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let bin = root.join("launcher-bin");
    copy_launcher(Path::new(common::BIN), &bin);
    Site {
        bin,
        repo: root.join("repo"),
        inst: root.join("inst"),
        root,
        _tmp: tmp,
        name,
    }
}

impl Site {
    /// The sample app as `version` in `rel-<version>/`, changed by `tweak`, published to `repo/`.
    fn publish_with(&self, version: &str, tweak: impl FnOnce(&Path)) -> PathBuf {
        let rel = sample_release(&self.root, &format!("rel-{version}"), version);
        tweak(&rel);
        publish(&rel, &self.repo, version, &[]).success();
        rel
    }

    /// Publishes `version` with the launcher binary in it: unchanged, or with `changed` appended.
    fn publish_launcher(&self, version: &str, changed: Option<&str>) -> PathBuf {
        let name = self.name;
        self.publish_with(version, |rel| match changed {
            Some(tag) => copy_changed_launcher(&self.bin, &rel.join(exe_name(name)), tag),
            None => copy_launcher(&self.bin, &rel.join(exe_name(name))),
        })
    }

    /// Puts a copy of the launcher binary and `<name>.ini` (the repository read as a folder, `Dir = .`)
    /// into the install folder.
    fn deploy(&self) {
        copy_launcher(&self.bin, &self.exe());
        common::write(&self.ini(), self.ini_text(""));
    }

    fn ini_text(&self, comment: &str) -> String {
        format!(
            "{comment}[Update]\nServer = {}\nProduct = demo\n[App]\nDir = .\n",
            self.repo.display()
        )
    }

    fn exe(&self) -> PathBuf {
        self.inst.join(exe_name(self.name))
    }

    fn ini(&self) -> PathBuf {
        self.inst.join(format!("{}.ini", self.name))
    }

    /// The installed launcher with `args`, found by its own name (no `--config`).
    fn start(&self, args: &[&str]) -> Run {
        self.start_env(args, &[])
    }

    fn start_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = launcher_at(&self.exe());
        c.args(args).envs(env.iter().copied());
        run_fresh(c, Some(&self.inst))
    }
}

/// The launcher's file name for `stem` on this platform: `launcher` on Unix, `launcher.exe` on Windows.
fn exe_name(stem: &str) -> String {
    format!("{stem}{}", std::env::consts::EXE_SUFFIX)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode()
}

/// The SHA-256 of every file below `dir`, by `/`-separated relative path.
#[cfg(feature = "fault-injection")]
fn hashes(dir: &Path) -> std::collections::BTreeMap<String, String> {
    fn walk(root: &Path, d: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('\\', "/");
                out.insert(rel, sha256_file(&p));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The newest `bkp.NNN` folder of an install.
#[cfg(feature = "fault-injection")]
fn newest_backup(inst: &Path) -> PathBuf {
    let mut b: Vec<PathBuf> = std::fs::read_dir(inst)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("bkp."))
        })
        .collect();
    b.sort();
    b.pop().unwrap_or_else(|| {
        panic!(
            "no backup in `{}`:\n{}",
            inst.display(),
            common::listing(inst)
        )
    })
}

#[test]
fn a_launcher_found_by_its_own_name_installs_a_release_that_contains_it() {
    let s = site("Opeka");
    s.publish_launcher("1.0", None);
    s.deploy();
    let before = sha256_file(&s.exe());
    let r = s
        .start(&["hello"])
        .success()
        .stdout_has("demo app 1.0")
        .stdout_has("arg[1]: hello");
    assert_eq!(
        count(&r.stderr(), "restarting"),
        0,
        "the same launcher must not restart{}",
        r.explain()
    );
    assert_eq!(
        sha256_file(&s.exe()),
        before,
        "the launcher file changed{}",
        r.explain()
    );
    assert!(
        s.inst.join(".launcher/state.json").is_file(),
        "no state{}",
        r.explain()
    );
    assert!(
        !s.inst.join("launcher.ini").exists(),
        "only `Opeka.ini` is used{}",
        r.explain()
    );
    // The release's own copy of `Opeka` is the installed one: a second start has nothing to do.
    let r = s
        .start(&["-v"])
        .success()
        .stdout_has("demo app 1.0")
        .stderr_has("Up to date");
    assert_eq!(count(&r.stderr(), "restarting"), 0, "{}", r.explain());
}

#[test]
fn a_changed_launcher_replaces_itself_restarts_with_the_original_arguments_and_runs_again() {
    let s = site("launcher");
    s.publish_launcher("1.0", None);
    s.deploy();
    s.start(&[]).success().stdout_has("demo app 1.0");
    let old = sha256_file(&s.exe());
    // 2.0: a changed launcher, and an app that shows an environment variable it got.
    let rel2 = s.publish_with("2.0", |rel| {
        copy_changed_launcher(&s.bin, &rel.join(exe_name("launcher")), "2.0");
        let app = common::native_path(rel, common::APP_EXE);
        let demo = std::fs::read_to_string(&app).unwrap();
        let (find, show) = if cfg!(windows) {
            (
                "echo cwd:",
                "echo mark: %DEMO_MARK%\r\n\
                 if defined LAUNCHER_RESTARTED (echo guard: %LAUNCHER_RESTARTED%) else (echo guard: unset)\r\n",
            )
        } else {
            (
                "echo \"cwd:",
                "echo \"mark: $DEMO_MARK\"\necho \"guard: ${LAUNCHER_RESTARTED:-unset}\"\n",
            )
        };
        let demo = demo.replacen(find, &format!("{show}{find}"), 1);
        std::fs::write(&app, demo).unwrap();
    });
    let new = sha256_file(&rel2.join(exe_name("launcher")));
    assert_ne!(old, new);

    let r = s
        .start_env(
            &["-v", "--", "b c", "--looks-like-a-flag"],
            &[("DEMO_MARK", "xyz")],
        )
        .success()
        .stdout_has("demo app 2.0")
        .stdout_has("arg[1]: b c\n")
        .stdout_has("arg[2]: --looks-like-a-flag\n")
        .stdout_has("mark: xyz\n")
        // The loop guard is for the restarted launcher, not for the app.
        .stdout_has("guard: unset\n");
    let err = r.stderr();
    assert_eq!(
        count(&err, "The launcher was updated; restarting it"),
        1,
        "one restart{}",
        r.explain()
    );
    assert_eq!(
        count(&err, "Running the new launcher after a self-update"),
        1,
        "{}",
        r.explain()
    );
    assert!(
        !r.stdout().contains("arg[3]"),
        "extra arguments reached the app{}",
        r.explain()
    );
    assert_eq!(
        sha256_file(&s.exe()),
        new,
        "the installed launcher is not the new one{}",
        r.explain()
    );
    #[cfg(unix)]
    assert_ne!(
        mode(&s.exe()) & 0o111,
        0,
        "the new launcher lost its executable bit{}",
        r.explain()
    );
    assert_eq!(
        sha256_file(&s.inst.join("bkp.001").join(exe_name("launcher"))),
        old,
        "the old launcher is not in the backup{}",
        r.explain()
    );

    // The next plain start runs the new launcher, which has nothing to do.
    let r = s
        .start(&["-v"])
        .success()
        .stdout_has("demo app 2.0")
        .stderr_has("Up to date");
    assert_eq!(count(&r.stderr(), "restarting"), 0, "{}", r.explain());
    assert_eq!(
        count(&r.stderr(), "Running the new launcher"),
        0,
        "{}",
        r.explain()
    );
}

#[cfg(unix)]
#[test]
fn the_restart_runs_the_new_launcher_file_with_the_same_arguments_and_the_loop_guard() {
    let s = site("launcher");
    s.publish_launcher("1.0", None);
    s.deploy();
    s.start(&[]).success();
    // 2.0's "launcher" is a script that logs how it was started, then starts the app.
    let script = "#!/bin/sh\nhere=$(dirname \"$0\")\n\
        { echo \"restarted=$LAUNCHER_RESTARTED\"; for a in \"$@\"; do echo \"arg: $a\"; done; } >> \"$here/restart.log\"\n\
        exec \"$here/bin/demo\" \"$@\"\n";
    s.publish_with("2.0", |rel| {
        use std::os::unix::fs::PermissionsExt;
        common::write(&rel.join("launcher"), script);
        std::fs::set_permissions(rel.join("launcher"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    });
    let r = s
        .start(&["--", "x y", "--flag"])
        .success()
        .stderr_has("restarting")
        .stdout_has("demo app 2.0");
    assert_eq!(
        std::fs::read_to_string(s.exe()).unwrap(),
        script,
        "{}",
        r.explain()
    );
    let log = std::fs::read_to_string(s.inst.join("restart.log"))
        .unwrap_or_else(|e| panic!("the new launcher never ran ({e}){}", r.explain()));
    assert_eq!(
        log,
        "restarted=1\narg: --\narg: x y\narg: --flag\n",
        "{}",
        r.explain()
    );
}

#[test]
fn a_new_launcher_that_cannot_start_is_rolled_back_and_the_old_version_starts() {
    let s = site("launcher");
    s.publish_launcher("1.0", None);
    s.deploy();
    s.start(&[]).success();
    let old = sha256_file(&s.exe());
    // 2.0's "launcher" verifies fine but cannot be executed: a script whose interpreter does not exist
    // on Unix, a `launcher.exe` that is no program on Windows.
    s.publish_with("2.0", |rel| {
        let exe = rel.join(exe_name("launcher"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            common::write(&exe, "#!/nonexistent/interpreter\n");
            std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        #[cfg(windows)]
        common::write(&exe, "not a program\r\n");
    });
    let r = s
        .start(&["a b"])
        .success()
        .stderr_has("restarting")
        .stderr_has("could not be started")
        .stderr_has("rolling back to the previous version")
        .stdout_has("demo app 1.0")
        .stdout_has("arg[1]: a b\n");
    assert!(!r.stdout().contains("arg[2]"), "{}", r.explain());
    // The launcher in place is the old one again, so the next double-click works, and 2.0 is held.
    assert_eq!(sha256_file(&s.exe()), old, "{}", r.explain());
    let r = s.start(&[]).success().stdout_has("demo app 1.0");
    assert_eq!(count(&r.stderr(), "restarting"), 0, "{}", r.explain());
}

#[test]
fn a_release_whose_launcher_is_corrupt_is_refused_and_the_old_launcher_keeps_working() {
    let s = site("launcher");
    s.publish_launcher("1.0", None);
    s.deploy();
    s.start(&[]).success();
    let old = sha256_file(&s.exe());
    let rel2 = s.publish_launcher("2.0", Some("2.0"));
    let sha = sha256_file(&rel2.join(exe_name("launcher")));
    let blobs = s.repo.join("demo/blobs").join(&sha[..2]);
    let blob = [blobs.join(&sha), blobs.join(format!("{sha}.zst"))]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no blob for {sha}:\n{}", common::listing(&s.repo)));
    // Same size, different bytes in the middle.
    let mut bytes = std::fs::read(&blob).unwrap();
    let (mid, len) = (bytes.len() / 2, bytes.len());
    for b in &mut bytes[mid..len.min(mid + 64)] {
        *b ^= 0x5a;
    }
    std::fs::write(&blob, bytes).unwrap();

    for _ in 0..2 {
        let r = s
            .start(&["a"])
            .success()
            .stdout_has("demo app 1.0")
            .stdout_has("arg[1]: a");
        assert!(r.stderr().contains("warning"), "no warning{}", r.explain());
        assert_eq!(count(&r.stderr(), "restarting"), 0, "{}", r.explain());
        assert_eq!(
            sha256_file(&s.exe()),
            old,
            "the old launcher was touched{}",
            r.explain()
        );
        #[cfg(unix)]
        assert_ne!(mode(&s.exe()) & 0o111, 0, "{}", r.explain());
    }
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_killed_self_update_keeps_old_or_new() {
    let s = site("launcher");
    let rel1 = s.publish_launcher("1.0", None);
    // The template install of 1.0, copied for every crash point.
    s.deploy();
    s.start(&[]).success().stdout_has("demo app 1.0");
    let rel2 = s.publish_launcher("2.0", Some("2.0"));
    let old = hashes(&rel1);
    let new = hashes(&rel2);
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>()
    );
    let me = exe_name("launcher");
    assert_ne!(old[&me], new[&me]);

    let mut notes = Vec::new();
    let points = [
        "journal-written",
        "moved-to-backup:1",
        "moved-to-backup:2",
        "placed:1",
        "placed:2",
        "before-state",
        "after-state",
    ];
    for point in points {
        let inst = s.root.join(format!("inst-{}", point.replace(':', "-")));
        common::copy_tree(&s.inst, &inst);
        common::write(&inst.join("my-notes.txt"), "the user's own file");
        let exe = inst.join(&me);
        let mut c = launcher_at(&exe);
        c.args(["crashed"]).env("LAUNCHER_CRASH_AT", point);
        let r = run_fresh(c, Some(&inst))
            .failure()
            .stderr_has("crash point");

        // The next start, by whatever launcher file is in place.
        let next = if exe.is_file() {
            launcher_at(&exe)
        } else {
            notes.push(format!(
                "`{point}`: the launcher file was missing until the next start recovered"
            ));
            let saved = newest_backup(&inst).join(&me);
            assert!(
                saved.is_file(),
                "{point}: the launcher is neither in place nor in the backup{}",
                r.explain()
            );
            let mut c = launcher_at(&saved);
            c.args(["--config", inst.join("launcher.ini").to_str().unwrap()]);
            c
        };
        let mut next = next;
        next.arg("verify");
        let v = run_fresh(next, Some(&inst));
        assert_eq!(
            v.code(),
            0,
            "{point}: the start after the crash did not recover{}{}",
            r.explain(),
            v.explain()
        );
        assert!(
            exe.is_file(),
            "{point}: the launcher is missing after recovery{}",
            v.explain()
        );
        #[cfg(unix)]
        assert_ne!(
            mode(&exe) & 0o111,
            0,
            "{point}: the launcher lost its executable bit{}",
            v.explain()
        );

        // Old or new, for the whole set, the launcher included.
        let now: std::collections::BTreeMap<String, String> = old
            .keys()
            .map(|p| (p.clone(), sha256_file(&inst.join(p))))
            .collect();
        let all_old = now == old;
        let all_new = now == new;
        assert!(
            all_old || all_new,
            "{point}: a mix of versions: {:?}{}{}",
            now.iter()
                .map(|(p, h)| (
                    p,
                    if h == &old[p] {
                        "old"
                    } else if h == &new[p] {
                        "new"
                    } else {
                        "other"
                    }
                ))
                .collect::<Vec<_>>(),
            r.explain(),
            v.explain()
        );
        assert!(
            !inst.join(".launcher/journal.json").exists(),
            "{point}: journal left{}",
            v.explain()
        );
        assert_eq!(
            std::fs::read_to_string(inst.join("my-notes.txt")).unwrap(),
            "the user's own file"
        );

        // The app starts (and an undone update is done again, with its restart).
        let mut c = launcher_at(&exe);
        c.args(["after"]);
        let a = run_fresh(c, Some(&inst))
            .success()
            .stdout_has("demo app 2.0")
            .stdout_has("arg[1]: after");
        assert_eq!(sha256_file(&exe), new[&me], "{point}{}", a.explain());
        assert_eq!(
            count(&a.stderr(), "restarting"),
            usize::from(all_old),
            "{point}{}",
            a.explain()
        );
        std::fs::remove_dir_all(&inst).unwrap();
    }
    for n in notes {
        eprintln!("note: {n}");
    }
}

#[test]
fn rollback_restores_the_previous_launcher_too() {
    let s = site("launcher");
    s.publish_launcher("1.0", None);
    s.deploy();
    s.start(&[]).success().stdout_has("demo app 1.0");
    let old = sha256_file(&s.exe());
    let rel2 = s.publish_launcher("2.0", Some("2.0"));
    s.start(&[])
        .success()
        .stdout_has("demo app 2.0")
        .stderr_has("restarting");
    assert_eq!(
        sha256_file(&s.exe()),
        sha256_file(&rel2.join(exe_name("launcher")))
    );

    let r = s.start(&["rollback"]).success();
    assert_eq!(
        sha256_file(&s.exe()),
        old,
        "the old launcher is not back{}",
        r.explain()
    );
    #[cfg(unix)]
    assert_ne!(mode(&s.exe()) & 0o111, 0, "{}", r.explain());
    let r = s
        .start(&["x"])
        .success()
        .stdout_has("demo app 1.0")
        .stdout_has("arg[1]: x");
    assert_eq!(
        count(&r.stderr(), "restarting"),
        0,
        "the held version must not update{}",
        r.explain()
    );
    assert_eq!(sha256_file(&s.exe()), old, "{}", r.explain());
}

#[test]
fn launcher_ini_beside_the_launcher_is_never_overwritten_unless_listed() {
    // The releases here do not contain the launcher: only the ini matters.
    let s = site("launcher");
    s.publish_with("1.0", |_| {});
    s.deploy();
    let mine = s.ini_text("; my own settings, edited by hand\n");
    common::write(&s.ini(), &mine);
    s.start(&[]).success().stdout_has("demo app 1.0");
    assert_eq!(std::fs::read_to_string(s.ini()).unwrap(), mine);
    s.publish_with("2.0", |_| {});
    let r = s.start(&[]).success().stdout_has("demo app 2.0");
    assert_eq!(
        std::fs::read_to_string(s.ini()).unwrap(),
        mine,
        "an update changed the user's ini{}",
        r.explain()
    );

    // 3.0 lists launcher.ini: the publisher's content takes its place, and the user's is kept beside
    // it as `launcher.ini.user-file` (not in a backup that rotates away; issue 9).
    let theirs = s.ini_text("; deployed by IT with release 3.0\n");
    s.publish_with("3.0", |rel| {
        common::write(&rel.join("launcher.ini"), &theirs)
    });
    let r = s.start(&[]).success().stdout_has("demo app 3.0");
    assert_eq!(
        std::fs::read_to_string(s.ini()).unwrap(),
        theirs,
        "{}",
        r.explain()
    );
    let saved = s.ini().with_file_name("launcher.ini.user-file");
    assert_eq!(
        std::fs::read_to_string(&saved).ok().as_deref(),
        Some(mine.as_str()),
        "{}",
        r.explain()
    );
    s.start(&[]).success().stdout_has("demo app 3.0");
}

#[test]
fn status_and_version_show_the_launchers_own_version() {
    let s = site("launcher");
    s.publish_with("1.0", |_| {});
    s.deploy();
    s.start(&[]).success();
    let version = env!("CARGO_PKG_VERSION");
    s.start(&["--version"])
        .success()
        .stdout_has(&format!("launcher {version}"));
    let r = s.start(&["status"]).success();
    assert!(
        r.stdout()
            .lines()
            .any(|l| l.starts_with("launcher") && l.trim_end().ends_with(version)),
        "status shows no launcher version{}",
        r.explain()
    );
    let r = s.start(&["status", "--json"]).success();
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("{e}{}", r.explain()));
    assert_eq!(v["launcher"], version, "{}", r.explain());
    assert_eq!(v["installed"], "1.0", "{}", r.explain());
}
