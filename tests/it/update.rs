//! Issue 3, "Update, then launch": the real launcher against a repository that `publish` wrote, read as
//! a folder, through `file://`, or served by `launcher serve` on loopback, with an install folder and a
//! `launcher.ini` in a fresh temp folder per test.

use crate::common::{self, launcher_run, publish, sample_release, LoggedServer, Run, Server};
use std::path::{Path, PathBuf};

/// A temp folder with a repository (`repo/`), release folders (`rel-<version>/`), an install folder
/// (`app/`) and the `launcher.ini` that points at them.
struct Site {
    tmp: tempfile::TempDir,
    repo: PathBuf,
    app: PathBuf,
    ini: PathBuf,
}

fn site() -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    Site {
        repo: root.join("repo"),
        app: root.join("app"),
        ini: root.join("launcher.ini"),
        tmp,
    }
}

impl Site {
    /// Publishes the sample app as `version` (after `tweak` changed the release folder).
    fn publish_with(&self, version: &str, extra: &[&str], tweak: impl FnOnce(&Path)) {
        let rel = sample_release(self.tmp.path(), &format!("rel-{version}"), version);
        tweak(&rel);
        publish(&rel, &self.repo, version, extra).success();
    }

    fn publish(&self, version: &str) {
        self.publish_with(version, &[], |_| {});
    }

    /// Writes launcher.ini with `Server = server`, `Product = demo`, `Dir = app` and `extra` lines in
    /// [Update].
    fn config(&self, server: &str, extra: &str) {
        common::write(
            &self.ini,
            format!("[Update]\nServer = {server}\nProduct = demo\n{extra}\n[App]\nDir = app\n"),
        );
    }

    /// The repository read as a folder.
    fn config_folder(&self, extra: &str) {
        self.config(self.repo.to_str().unwrap(), extra);
    }

    /// `launcher --config INI ARGS...`; the install folder is listed when an assertion fails.
    fn launcher(&self, args: &[&str]) -> Run {
        let mut all = vec!["--config", self.ini.to_str().unwrap()];
        all.extend_from_slice(args);
        launcher_run(&all, Some(&self.app))
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.app.join(rel))
            .unwrap_or_else(|e| panic!("read app/{rel}: {e}"))
    }

    /// The `bkp.NNN` folders in the install folder, sorted.
    fn backups(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.app)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("bkp."))
            .collect();
        v.sort();
        v
    }

    fn backup_info(&self, folder: &str) -> serde_json::Value {
        let p = self.app.join(folder).join("backup.json");
        serde_json::from_slice(
            &std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())),
        )
        .unwrap()
    }

    /// Deletes the blobs of `version` that no other published release uses.
    fn delete_new_blobs(&self, version: &str, older: &str) {
        let shas = |v: &str| -> Vec<String> {
            let dir = self.repo.join(format!("demo/releases/{v}"));
            let file = std::fs::read_dir(&dir)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            m["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["sha256"].as_str().unwrap().to_string())
                .collect()
        };
        let old = shas(older);
        let mut deleted = 0;
        for sha in shas(version).into_iter().filter(|s| !old.contains(s)) {
            for name in [sha.clone(), format!("{sha}.zst")] {
                let p = self.repo.join(format!("demo/blobs/{}/{name}", &sha[..2]));
                if std::fs::remove_file(&p).is_ok() {
                    deleted += 1;
                }
            }
        }
        assert!(
            deleted > 0,
            "release {version} has no blob of its own to delete"
        );
    }
}

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

/// Sets a file's modification time, so that an edit keeps size and date.
fn set_mtime(path: &Path, t: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Dates every file below `dir` 2020-01-01.
fn date_tree_in_2020(dir: &Path) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800);
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            date_tree_in_2020(&p);
        } else {
            set_mtime(&p, t);
        }
    }
}

/// Replaces every byte of a file by another of the same length and puts its date back.
fn corrupt_keeping_size_and_date(path: &Path) {
    let meta = std::fs::metadata(path).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    for b in bytes.iter_mut() {
        *b = b.wrapping_add(1);
    }
    std::fs::write(path, &bytes).unwrap();
    set_mtime(path, meta.modified().unwrap());
    assert_eq!(std::fs::metadata(path).unwrap().len(), meta.len());
}

#[test]
fn fresh_install_launches_the_app_with_its_arguments_and_exit_code() {
    let s = site();
    s.publish("1.0");
    let srv = Server::start(&s.repo, &[]);
    s.config(&srv.url, "");
    let r = s
        .launcher(&["--", "--exit-code=7", "two words", "  spaced  ", "ünï"])
        .code_is(7)
        .stdout_has("demo app 1.0")
        .stdout_has("arg[1]: --exit-code=7\n")
        .stdout_has("arg[2]: two words\n")
        .stdout_has("arg[3]:   spaced  \n");
    // A batch file prints in the system's code page, not UTF-8: on Windows `ünï` shows as its bytes in
    // the ANSI code page (Wine: 1252) or the OEM one (a Windows console: 437 or 850).
    let arg4: &[&[u8]] = if cfg!(windows) {
        &[b"arg[4]: \xfcn\xef\r\n", b"arg[4]: \x81n\x8b\r\n"]
    } else {
        &["arg[4]: ünï\n".as_bytes()]
    };
    assert!(
        arg4.iter()
            .any(|want| r.out.stdout.windows(want.len()).any(|w| w == *want)),
        "the non-ASCII argument did not reach the app whole{}",
        r.explain()
    );
    let cwd = format!("cwd: {}\n", crate::common::plain_path(&s.app));
    assert!(
        r.stdout().contains(&cwd),
        "the app did not start in Dir ({cwd:?}){}",
        r.explain()
    );
    assert_eq!(s.read("VERSION"), "1.0\n");
    // The app's own success passes through too.
    s.launcher(&[]).success().stdout_has("demo app 1.0");
}

#[test]
fn second_launch_downloads_no_blob_and_revalidates_the_manifest_with_304() {
    let s = site();
    s.publish("1.0");
    let srv = LoggedServer::start(&s.repo);
    s.config(srv.url(), "");
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    let first = srv.requests();
    assert!(
        first.iter().any(|l| l.contains("/blobs/")),
        "the install fetched no blob: {first:#?}"
    );
    s.launcher(&["again"])
        .success()
        .stdout_has("demo app 1.0")
        .stdout_has("arg[1]: again");
    let second = srv.requests()[first.len()..].to_vec();
    assert!(
        !second.iter().any(|l| l.contains("/blobs/")),
        "the second launch downloaded blobs: {second:#?}"
    );
    let channel: Vec<&String> = second
        .iter()
        .filter(|l| l.contains("/demo/channels/stable/"))
        .collect();
    assert_eq!(
        channel.len(),
        1,
        "expected one channel request: {second:#?}"
    );
    assert!(
        channel[0].contains(".json 304 "),
        "the channel manifest was not answered 304: {second:#?}"
    );
}

#[test]
fn update_replaces_adds_and_removes_files_and_keeps_user_files() {
    let s = site();
    s.publish("1.0");
    let srv = Server::start(&s.repo, &[]);
    s.config(&srv.url, "");
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    let catalog = std::fs::read(s.app.join("data/catalog.dat")).unwrap();
    let old_config = s.read("data/config.txt");
    let old_notes = s.read("data/old-notes.txt");
    common::write(
        &s.app.join("data/user-notes.txt"),
        "mine, inside a managed folder\n",
    );
    common::write(&s.app.join("user-top.txt"), "mine, at the top\n");
    common::write(&s.app.join("docs/mine/deep.txt"), "mine, deeper\n");

    s.publish_with("2.0", &[], |rel| {
        common::write(&rel.join("data/config.txt"), "colour = blue\nversion = 2\n");
        std::fs::remove_file(rel.join("data/old-notes.txt")).unwrap();
        common::write(&rel.join("docs/CHANGES.txt"), "2.0: blue\n");
        common::write(&rel.join("plugins/extra/plugin.txt"), "a new folder\n");
    });
    s.launcher(&[]).success().stdout_has("demo app 2.0");

    assert_eq!(s.read("VERSION"), "2.0\n");
    assert_eq!(s.read("data/config.txt"), "colour = blue\nversion = 2\n");
    assert_eq!(s.read("docs/CHANGES.txt"), "2.0: blue\n");
    assert_eq!(s.read("plugins/extra/plugin.txt"), "a new folder\n");
    assert!(
        !s.app.join("data/old-notes.txt").exists(),
        "a removed file is still there"
    );
    assert_eq!(
        std::fs::read(s.app.join("data/catalog.dat")).unwrap(),
        catalog
    );
    assert_eq!(
        s.read("data/user-notes.txt"),
        "mine, inside a managed folder\n"
    );
    assert_eq!(s.read("user-top.txt"), "mine, at the top\n");
    assert_eq!(s.read("docs/mine/deep.txt"), "mine, deeper\n");
    // What was replaced or removed went into the backup, not away.
    assert_eq!(s.read("bkp.001/data/config.txt"), old_config);
    assert_eq!(s.read("bkp.001/data/old-notes.txt"), old_notes);
    assert_eq!(s.read("bkp.001/VERSION"), "1.0\n");
    assert!(!s.app.join("bkp.001/data/user-notes.txt").exists());
}

#[test]
fn four_updates_keep_three_rotating_backups_newest_highest() {
    let s = site();
    let release = |v: &str| {
        let config = format!("config of {v}\n");
        s.publish_with(v, &[], |rel| {
            common::write(&rel.join("data/config.txt"), config)
        });
    };
    s.config_folder("");
    release("1.0");
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    assert!(
        s.backups().is_empty(),
        "an install into an empty folder made a backup: {:?}",
        s.backups()
    );
    for v in ["2.0", "3.0", "4.0", "5.0"] {
        release(v);
        s.launcher(&[])
            .success()
            .stdout_has(&format!("demo app {v}"));
    }
    assert_eq!(s.backups(), ["bkp.001", "bkp.002", "bkp.003"]);
    for (folder, from, to) in [
        ("bkp.001", "2.0", "3.0"),
        ("bkp.002", "3.0", "4.0"),
        ("bkp.003", "4.0", "5.0"),
    ] {
        let info = s.backup_info(folder);
        assert_eq!(info["from"], from, "{folder}/backup.json: {info:#}");
        assert_eq!(info["to"], to, "{folder}/backup.json: {info:#}");
        let mut saved: Vec<&str> = info["saved"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        saved.sort();
        assert_eq!(
            saved,
            ["VERSION", "data/config.txt"],
            "{folder}/backup.json: {info:#}"
        );
        assert_eq!(s.read(&format!("{folder}/VERSION")), format!("{from}\n"));
        assert_eq!(
            s.read(&format!("{folder}/data/config.txt")),
            format!("config of {from}\n")
        );
        assert!(
            !s.app.join(folder).join("data/catalog.dat").exists(),
            "{folder} holds an unchanged file"
        );
    }
}

#[test]
fn backups_zero_makes_no_backup_folder() {
    let s = site();
    s.publish("1.0");
    s.config_folder("Backups = 0");
    s.launcher(&[]).success();
    s.publish("2.0");
    s.launcher(&[]).success().stdout_has("demo app 2.0");
    s.publish("3.0");
    s.launcher(&[]).success().stdout_has("demo app 3.0");
    assert!(s.backups().is_empty(), "Backups = 0 made {:?}", s.backups());
    assert!(
        !s.app.join(".launcher/undo").exists(),
        "the temporary undo folder was left behind"
    );
}

#[test]
fn backup_mode_full_copies_the_whole_previous_app() {
    let s = site();
    s.publish("1.0");
    s.config_folder("BackupMode = full");
    s.launcher(&[]).success();
    assert!(
        s.backups().is_empty(),
        "an install into an empty folder made a backup: {:?}",
        s.backups()
    );
    common::write(&s.app.join("user-top.txt"), "mine\n");
    s.publish("2.0");
    s.launcher(&[]).success().stdout_has("demo app 2.0");
    assert_eq!(s.backups(), ["bkp.001"]);
    let v1 = common::assets_app();
    for rel in [
        "bin/demo",
        "data/catalog.dat",
        "data/config.txt",
        "data/old-notes.txt",
        "docs/README.txt",
    ] {
        assert_eq!(
            std::fs::read(s.app.join("bkp.001").join(rel)).unwrap_or_default(),
            std::fs::read(v1.join(rel)).unwrap(),
            "bkp.001/{rel} is not the previous version's file{}",
            common::listing(&s.app)
        );
    }
    assert_eq!(s.read("bkp.001/VERSION"), "1.0\n");
    assert_eq!(s.backup_info("bkp.001")["mode"], "full");
    // The unchanged files are still installed (copied, not moved) and the user file is not in the backup.
    assert_eq!(
        std::fs::read(s.app.join("data/catalog.dat")).unwrap(),
        std::fs::read(v1.join("data/catalog.dat")).unwrap()
    );
    assert_eq!(s.read("user-top.txt"), "mine\n");
    assert!(!s.app.join("bkp.001/user-top.txt").exists());
}

#[test]
fn install_into_an_empty_folder_makes_no_backup() {
    let s = site();
    s.publish("1.0");
    s.config_folder("");
    std::fs::create_dir_all(&s.app).unwrap();
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    assert!(s.backups().is_empty(), "{:?}", s.backups());
}

#[test]
fn hand_edited_file_with_a_new_size_is_restored_by_the_quick_check() {
    let s = site();
    s.publish("1.0");
    s.config_folder("");
    s.launcher(&[]).success();
    let original = s.read("data/config.txt");
    common::write(
        &s.app.join("data/config.txt"),
        "edited by hand, and longer than before....................\n",
    );
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    assert_eq!(s.read("data/config.txt"), original);
}

#[test]
fn hand_edited_file_with_same_size_and_date_is_restored_with_check_full() {
    let s = site();
    // Files dated long ago, so the stat cache is not racy and only hashing can see the edit.
    s.publish_with("1.0", &[], date_tree_in_2020);
    s.config_folder("Check = full");
    s.launcher(&[]).success();
    s.launcher(&[]).success();
    let path = s.app.join("data/catalog.dat");
    let original = std::fs::read(&path).unwrap();
    corrupt_keeping_size_and_date(&path);
    assert_ne!(std::fs::read(&path).unwrap(), original);
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        original,
        "the edited file was not restored"
    );
}

#[test]
fn check_exit_codes_and_json_and_check_changes_nothing() {
    let s = site();
    s.publish("1.0");
    let srv = Server::start(&s.repo, &[]);
    s.config(&srv.url, "");

    // Nothing installed: an update is available, and checking creates nothing.
    let before = common::snapshot(&s.app);
    let r = s.launcher(&["check"]).code_is(10);
    common::assert_unchanged(&r, &s.app, &before);

    s.launcher(&[]).success();
    s.launcher(&["check"]).code_is(0).stderr_has("Up to date");

    s.publish_with("2.0", &[], |rel| {
        common::write(&rel.join("docs/CHANGES.txt"), "new\n");
        std::fs::remove_file(rel.join("data/old-notes.txt")).unwrap();
    });
    let before = common::snapshot(&s.app);
    let r = s.launcher(&["check"]).code_is(10).stderr_has("2.0");
    common::assert_unchanged(&r, &s.app, &before);
    let r = s.launcher(&["check", "--json"]).code_is(10);
    common::assert_unchanged(&r, &s.app, &before);
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("{e}{}", r.explain()));
    assert_eq!(v["installed"], "1.0", "{v:#}");
    assert_eq!(v["available"], "2.0", "{v:#}");
    assert_eq!(v["target"], "2.0", "{v:#}");
    assert_eq!(v["update_available"], true, "{v:#}");
    assert_eq!(v["mandatory"], false, "{v:#}");
    assert_eq!(v["add"], 1, "{v:#}");
    assert_eq!(v["replace"], 1, "{v:#}");
    assert_eq!(v["delete"], 1, "{v:#}");
    assert!(v["download_bytes"].as_u64().unwrap() > 0, "{v:#}");
    let ops: Vec<(String, String)> = v["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["path"].as_str().unwrap().to_string(),
                o["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(ops.contains(&("VERSION".into(), "replace".into())), "{v:#}");
    assert!(
        ops.contains(&("docs/CHANGES.txt".into(), "add".into())),
        "{v:#}"
    );
    assert!(
        ops.contains(&("data/old-notes.txt".into(), "delete".into())),
        "{v:#}"
    );

    s.launcher(&[]).success().stdout_has("demo app 2.0");
    let r = s.launcher(&["check", "--json"]).code_is(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["update_available"], false, "{v:#}");
    assert_eq!(v["installed"], "2.0", "{v:#}");

    // An unknown product is an error, not "up to date" nor "update available".
    common::write(
        &s.ini,
        format!(
            "[Update]\nServer = {}\nProduct = nosuch\n[App]\nDir = app\n",
            srv.url
        ),
    );
    let r = s.launcher(&["check"]).failure().stderr_has("nosuch");
    assert_ne!(r.code(), 10, "{}", r.explain());
}

#[test]
fn verify_repair_restores_a_file_corrupted_with_same_size_and_date() {
    let s = site();
    s.publish("1.0");
    let srv = Server::start(&s.repo, &[]);
    s.config(&srv.url, "");
    s.launcher(&[]).success();
    s.launcher(&["verify"]).success();
    let path = s.app.join("data/catalog.dat");
    let original = std::fs::read(&path).unwrap();
    corrupt_keeping_size_and_date(&path);
    s.launcher(&["verify"])
        .code_is(6)
        .stdout_has("data/catalog.dat");
    s.launcher(&["verify", "--repair"]).success();
    assert_eq!(std::fs::read(&path).unwrap(), original);
    s.launcher(&["verify"]).success();
}

#[test]
fn rollback_restores_the_previous_version_and_holds_it_until_a_newer_release() {
    let s = site();
    s.publish("1.0");
    let srv = Server::start(&s.repo, &[]);
    s.config(&srv.url, "");
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    s.publish_with("2.0", &[], |rel| {
        common::write(&rel.join("docs/CHANGES.txt"), "2.0\n")
    });
    s.launcher(&[]).success().stdout_has("demo app 2.0");
    assert!(s.app.join("docs/CHANGES.txt").exists());

    s.launcher(&["rollback"]).success();
    assert_eq!(s.read("VERSION"), "1.0\n");
    assert!(
        !s.app.join("docs/CHANGES.txt").exists(),
        "a file added by the rolled-back update is still there"
    );
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    s.launcher(&["check"]).code_is(0);

    s.publish("3.0");
    s.launcher(&[]).success().stdout_has("demo app 3.0");
}

#[test]
fn fetch_then_run_downloads_nothing_more() {
    let s = site();
    s.publish("1.0");
    let srv = LoggedServer::start(&s.repo);
    s.config(srv.url(), "");
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    s.publish_with("2.0", &[], |rel| {
        common::write(&rel.join("data/catalog.dat"), vec![42u8; 50_000])
    });
    let before = srv.requests().len();
    s.launcher(&["fetch"]).success();
    assert_eq!(s.read("VERSION"), "1.0\n", "fetch changed an app file");
    let fetched = srv.requests()[before..].to_vec();
    assert!(
        fetched.iter().any(|l| l.contains("/blobs/")),
        "fetch downloaded nothing: {fetched:#?}"
    );
    let before = srv.requests().len();
    s.launcher(&[]).success().stdout_has("demo app 2.0");
    let run = srv.requests()[before..].to_vec();
    assert!(
        !run.iter().any(|l| l.contains("/blobs/")),
        "run downloaded blobs after fetch: {run:#?}"
    );
    assert_eq!(
        std::fs::read(s.app.join("data/catalog.dat")).unwrap(),
        vec![42u8; 50_000]
    );
}

#[test]
fn server_down_launches_the_installed_version_with_one_warning() {
    let s = site();
    s.publish("1.0");
    s.config_folder("");
    s.launcher(&[]).success();
    let port = common::free_port();
    s.config(&format!("http://127.0.0.1:{port}/"), "Timeout = 5");
    let r = s
        .launcher(&["--exit-code=3"])
        .code_is(3)
        .stdout_has("demo app 1.0");
    let err = r.stderr();
    assert_eq!(
        lines_with(&err, "warning").len(),
        1,
        "expected one warning line{}",
        r.explain()
    );
    assert!(
        err.contains(&format!("127.0.0.1:{port}")),
        "the warning does not name the server{}",
        r.explain()
    );
}

#[test]
fn an_overloaded_server_s_retry_after_is_honoured_on_the_next_launches() {
    use std::io::{Read, Write};
    let s = site();
    s.publish("1.0");
    s.config_folder("");
    s.launcher(&[]).success();
    // A server that answers every request `503` with `Retry-After: 3600`, serving one connection per
    // `answer()` call, so the test knows exactly how many requests reached it.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    busy.set_nonblocking(true).unwrap();
    let answer = |busy: &std::net::TcpListener| -> usize {
        let mut served = 0;
        while let Ok((mut c, _)) = busy.accept() {
            c.set_nonblocking(false).unwrap();
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = c.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3600\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            served += 1;
        }
        served
    };
    s.config(&format!("http://127.0.0.1:{port}/"), "Timeout = 5");
    // The launcher blocks on its request until the test answers it: run it in a thread.
    let first = std::thread::scope(|scope| {
        let h = scope.spawn(|| s.launcher(&["one"]));
        let mut served = 0;
        while !h.is_finished() {
            served += answer(&busy);
            std::thread::yield_now();
        }
        (h.join().unwrap(), served)
    });
    let (r, served) = first;
    let r = r.success().stdout_has("demo app 1.0").stderr_has("503");
    assert_eq!(served, 1, "the first launch asks once{}", r.explain());
    // The next launches do not contact the server until the hour is over, and still start the app.
    let r = s.launcher(&["two"]).success().stdout_has("demo app 1.0");
    assert_eq!(
        answer(&busy),
        0,
        "the second launch contacted the server{}",
        r.explain()
    );
    assert!(!r.stderr().contains("warning"), "{}", r.explain());
}

#[test]
fn server_that_never_answers_still_launches_the_installed_version() {
    let s = site();
    s.publish("1.0");
    s.config_folder("");
    s.launcher(&[]).success();
    // Accepts connections (the kernel completes them) but never reads nor answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    s.config(&format!("http://127.0.0.1:{port}/"), "Timeout = 2");
    s.launcher(&["arg"])
        .success()
        .stdout_has("demo app 1.0")
        .stdout_has("arg[1]: arg");
    drop(silent);
}

#[test]
fn first_run_with_the_server_down_fails_clearly_and_launches_nothing() {
    let s = site();
    let port = common::free_port();
    s.config(&format!("http://127.0.0.1:{port}/"), "Timeout = 5");
    let r = s
        .launcher(&[])
        .code_is(4)
        .stderr_has(&format!("127.0.0.1:{port}"));
    assert!(
        !r.stdout().contains("demo app"),
        "something was launched{}",
        r.explain()
    );
    assert!(r.stderr().contains("error:"), "{}", r.explain());
}

#[test]
fn update_from_a_folder_source() {
    let s = site();
    s.publish("1.0");
    s.config_folder("");
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    s.publish("2.0");
    s.launcher(&[]).success().stdout_has("demo app 2.0");
    assert_eq!(s.read("bkp.001/VERSION"), "1.0\n");
}

#[test]
fn update_from_a_file_url() {
    let s = site();
    s.publish("1.0");
    s.config(&crate::common::file_url(&s.repo), "");
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    s.publish("2.0");
    s.launcher(&[]).success().stdout_has("demo app 2.0");
}

#[test]
fn update_from_launcher_serve() {
    let s = site();
    s.publish("1.0");
    let srv = Server::start(&s.repo, &[]);
    s.config(&srv.url, "");
    s.launcher(&[]).success().stdout_has("demo app 1.0");
    s.publish("2.0");
    s.launcher(&[]).success().stdout_has("demo app 2.0");
}

#[test]
fn unknown_arguments_and_everything_after_double_dash_reach_the_app() {
    let s = site();
    s.publish("1.0");
    s.config_folder("");
    s.launcher(&["report.pdf"])
        .success()
        .stdout_has("arg[1]: report.pdf\n");
    let r = s
        .launcher(&["--", "check"])
        .success()
        .stdout_has("demo app 1.0")
        .stdout_has("arg[1]: check\n");
    assert!(!r.stdout().contains("arg[2]"), "{}", r.explain());
    s.launcher(&["run", "--", "--json"])
        .success()
        .stdout_has("arg[1]: --json\n");
}

#[test]
fn unknown_ini_key_exits_3_naming_file_and_line() {
    let s = site();
    common::write(
        &s.ini,
        format!(
            "[Update]\nServer = {}\nProduct = demo\nServr = typo\n[App]\nDir = app\n",
            s.repo.display()
        ),
    );
    s.launcher(&[])
        .code_is(3)
        .stderr_has(&format!("{}:4", s.ini.display()))
        .stderr_has("Servr");
    assert!(
        !s.app.exists(),
        "a bad ini still created the install folder"
    );
}

#[test]
fn missing_ini_names_the_path_it_looked_for() {
    let s = site();
    let missing = s.tmp.path().join("nowhere").join("launcher.ini");
    let r = launcher_run(&["--config", missing.to_str().unwrap()], None).code_is(3);
    assert!(
        r.stderr().contains(&missing.display().to_string()),
        "{}",
        r.explain()
    );
}

#[test]
fn renamed_launcher_finds_the_ini_named_after_it() {
    let s = site();
    s.publish("1.0");
    let bin = s.tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("Opeka");
    std::fs::copy(common::BIN, &exe).unwrap();
    let expected = bin.join("Opeka.ini");
    let run_opeka = |args: &[&str]| {
        let mut c = std::process::Command::new(&exe);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1");
        c.stdin(std::process::Stdio::null()).args(args);
        common::run(c, Some(&bin))
    };
    // Without the ini, the error names the file it looked for.
    run_opeka(&[])
        .code_is(3)
        .stderr_has(&expected.display().to_string());
    common::write(
        &expected,
        format!(
            "[Update]\nServer = {}\nProduct = demo\n[App]\nDir = opeka-app\n",
            s.repo.display()
        ),
    );
    run_opeka(&["hello"])
        .success()
        .stdout_has("demo app 1.0")
        .stdout_has("arg[1]: hello");
    assert!(
        bin.join("opeka-app/VERSION").exists(),
        "Dir was not resolved next to Opeka.ini"
    );
}

#[test]
fn mandatory_release_that_cannot_be_applied_does_not_launch_the_old_version() {
    let s = site();
    s.publish("1.0");
    s.config_folder("");
    s.launcher(&[]).success();
    s.publish_with("2.0", &["--mandatory"], |rel| {
        common::write(&rel.join("data/config.txt"), "v2 config\n")
    });
    s.delete_new_blobs("2.0", "1.0");
    let r = s.launcher(&[]).code_is(5).stderr_has("mandatory");
    assert!(
        !r.stdout().contains("demo app"),
        "the old version was started{}",
        r.explain()
    );
    assert_eq!(s.read("VERSION"), "1.0\n", "a half-applied update");
}

#[test]
fn optional_release_that_cannot_be_applied_launches_the_old_version() {
    let s = site();
    s.publish("1.0");
    s.config_folder("");
    s.launcher(&[]).success();
    s.publish_with("2.0", &[], |rel| {
        common::write(&rel.join("data/config.txt"), "v2 config\n")
    });
    s.delete_new_blobs("2.0", "1.0");
    let r = s
        .launcher(&["--exit-code=4"])
        .code_is(4)
        .stdout_has("demo app 1.0");
    assert_eq!(
        lines_with(&r.stderr(), "warning").len(),
        1,
        "expected one warning{}",
        r.explain()
    );
    assert_eq!(s.read("VERSION"), "1.0\n", "a half-applied update");
}
