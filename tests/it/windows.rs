//! Windows semantics (issue 11), run for real under Wine by `scripts/windows.sh test`: a file held open
//! without `FILE_SHARE_DELETE`, the read-only attribute, case-only name differences, paths over 260
//! characters, drive-letter `Dir`, the GUI-subsystem `launcher.exe` and what reaches `cmd.exe`. The
//! scenarios that hold on every platform (an ini with a BOM and CRLF line ends, the lock released while
//! the app runs) run on Linux too.

#[cfg(windows)]
use crate::common::{plain_path, InstallDir, Tree, APP_EXE};
use crate::common::{sample_tree, write, write_script, Bench, BIN};

#[cfg(windows)]
/// Version 1.0.0 installed from a folder repository, and 2.0.0 (which changes `data/config.txt` and
/// `data/catalog.dat`) published.
fn installed_then_published() -> (Bench, InstallDir, Tree, Tree) {
    let bench = Bench::new();
    let v1 = sample_tree("1.0.0");
    let mut v2 = sample_tree("2.0.0");
    v2.insert("data/config.txt".into(), b"setting = 2\n".to_vec());
    v2.insert("data/catalog.dat".into(), b"catalog of 2.0.0\n".to_vec());
    bench.publish("1.0.0", &v1);
    let install = bench.install("a", "");
    install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 1.0.0\n");
    bench.publish("2.0.0", &v2);
    (bench, install, v1, v2)
}

#[test]
fn ini_with_a_bom_and_crlf_line_ends_is_read() {
    let bench = Bench::new();
    let v1 = sample_tree("1.0.0");
    bench.publish("1.0.0", &v1);
    let install = bench.install("a", "");
    let text = std::fs::read_to_string(&install.ini).unwrap();
    let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    write(&install.ini, crlf);
    install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 1.0.0\n");
    install.run(&["status"], &[]).success();
}

/// While the app runs, the launcher holds no lock on the install: the app itself starts another
/// launcher on the same install (`fetch`, which takes the lock), and that one finishes. The app's
/// exit code comes back through the launcher.
#[test]
fn app_runs_without_the_install_lock_and_its_exit_code_comes_back() {
    let bench = Bench::new();
    let rel = bench.root.join("rel-1.0.0");
    crate::common::write_tree(&rel, &sample_tree("1.0.0"));
    let app = write_script(
        &rel.join("bin/nested"),
        "\"$LAUNCHER_UNDER_TEST\" --config \"$LAUNCHER_INI\" fetch\n\
         echo \"inner exit $?\"\nexit 7",
        "\"%LAUNCHER_UNDER_TEST%\" --config \"%LAUNCHER_INI%\" fetch\n\
         echo inner exit %errorlevel%\nexit /b 7",
    );
    let exe = format!("bin/{}", app.file_name().unwrap().to_str().unwrap());
    let publish =
        crate::common::publish_command(&rel, &bench.repo, "demo", "1.0.0", &["--executable", &exe]);
    crate::common::run(publish, Some(&bench.repo)).success();
    let install = bench.install("a", "");
    let ini = install.ini.to_str().unwrap().to_string();
    let r = install
        .run(&[], &[("LAUNCHER_UNDER_TEST", BIN), ("LAUNCHER_INI", &ini)])
        .code_is(7);
    assert!(
        r.stdout().contains("inner exit 0\n"),
        "the launcher started by the app did not finish{}",
        r.explain()
    );
}

/// The PE header's Subsystem field of `launcher.exe` is 2 (`IMAGE_SUBSYSTEM_WINDOWS_GUI`): Explorer and
/// shortcuts open no console window for it.
#[cfg(windows)]
#[test]
fn launcher_exe_is_a_gui_subsystem_program() {
    let exe = std::fs::read(BIN).unwrap();
    let u32_at = |o: usize| u32::from_le_bytes(exe[o..o + 4].try_into().unwrap()) as usize;
    let pe = u32_at(0x3c);
    assert_eq!(&exe[pe..pe + 4], b"PE\0\0", "{BIN} has no PE header");
    // The optional header follows the 20-byte file header; Subsystem is at offset 68 in PE32 and PE32+.
    let optional = pe + 4 + 20;
    let subsystem = u16::from_le_bytes([exe[optional + 68], exe[optional + 69]]);
    assert_eq!(subsystem, 2, "{BIN} is not a GUI-subsystem program");
}

/// Started from `cmd.exe`, the GUI-subsystem launcher still writes to cmd's output, cmd waits for it,
/// and its exit code (10: an update is available) is cmd's.
#[cfg(windows)]
#[test]
fn output_and_exit_code_reach_cmd_exe() {
    use std::os::windows::process::CommandExt;
    let (_bench, install, _v1, _v2) = installed_then_published();
    let mut c = std::process::Command::new("cmd.exe");
    c.raw_arg("/d /c").raw_arg(format!(
        "\"\"{BIN}\" --config \"{}\" check --json\"",
        install.ini.display()
    ));
    c.env("NO_COLOR", "1").stdin(std::process::Stdio::null());
    let r = crate::common::run(c, Some(&install.app)).code_is(10);
    let json: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON from `check --json` through cmd.exe: {e}{}",
            r.explain()
        )
    });
    assert_eq!(json["available"].as_str(), Some("2.0.0"), "{}", r.explain());
}

/// The running app holds one of its files open without `FILE_SHARE_DELETE` (as Windows does for a
/// running program's own files): the update retries, gives up, undoes what it did and starts the
/// installed version; once the file is closed, the next start updates.
#[cfg(windows)]
#[test]
fn file_held_open_without_share_delete_makes_the_update_give_up_cleanly() {
    use std::os::windows::fs::OpenOptionsExt;
    let (_bench, install, v1, v2) = installed_then_published();
    const FILE_SHARE_READ: u32 = 1;
    let held = std::fs::OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ)
        .open(install.app.join("data/catalog.dat"))
        .unwrap();
    let r = install.run(&[], &[]).success();
    assert!(
        r.stdout().contains("demo app 1.0.0\n")
            && r.stderr()
                .contains("is in use or locked and cannot be replaced"),
        "the installed version did not start with a warning{}",
        r.explain()
    );
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];
    let found = install.assert_whole(&versions, &Tree::new(), "file held open");
    assert_eq!(found, "1.0.0", "the update was applied around a held file");
    assert!(install.backups().is_empty(), "{:?}", install.backups());
    drop(held);
    install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 2.0.0\n");
    install.assert_whole(&versions, &Tree::new(), "after the file was closed");
    install.assert_backups(&versions, "after the file was closed");
}

/// An installed file marked read-only is replaced by the update, and the backup that holds it can be
/// rotated away later.
#[cfg(windows)]
#[test]
fn read_only_installed_file_is_updated_and_its_backup_rotated() {
    let (bench, install, v1, v2) = installed_then_published();
    install.config(bench.repo.to_str().unwrap(), "Backups = 1");
    let config = install.app.join("data/config.txt");
    let mut perms = std::fs::metadata(&config).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&config, perms).unwrap();
    install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 2.0.0\n");
    let mut v3 = sample_tree("3.0.0");
    v3.insert("data/config.txt".into(), b"setting = 3\n".to_vec());
    bench.publish("3.0.0", &v3);
    install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 3.0.0\n");
    let versions = [("1.0.0", &v1), ("2.0.0", &v2), ("3.0.0", &v3)];
    assert_eq!(
        install.assert_whole(&versions, &Tree::new(), "read-only"),
        "3.0.0"
    );
    assert_eq!(install.backups(), ["bkp.001"]);
    install.assert_backups(&versions, "read-only file rotated");
}

/// A file whose name differs from the manifest's only in case is the same file on Windows: `verify`
/// accepts it, and an update replaces it under the manifest's spelling.
#[cfg(windows)]
#[test]
fn case_only_difference_between_the_disk_and_the_manifest() {
    let (_bench, install, _v1, v2) = installed_then_published();
    std::fs::rename(
        install.app.join("data/config.txt"),
        install.app.join("data/Config.TXT"),
    )
    .unwrap();
    install.run(&["verify"], &[]).success();
    install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 2.0.0\n");
    assert_eq!(
        install.app_files(),
        v2,
        "the update left another spelling behind"
    );
}

/// Files whose full path is longer than 260 characters (MAX_PATH) are published, installed and updated.
#[cfg(windows)]
#[test]
fn paths_longer_than_260_characters_install_and_update() {
    let bench = Bench::new();
    let deep = format!("deep/{}/{}/file.txt", "d".repeat(120), "e".repeat(120));
    let mut v1 = sample_tree("1.0.0");
    v1.insert(deep.clone(), b"one\n".to_vec());
    let mut v2 = sample_tree("2.0.0");
    v2.insert(deep.clone(), b"two\n".to_vec());
    bench.publish("1.0.0", &v1);
    let install = bench.install("a", "");
    assert!(install.app.join(&deep).to_str().unwrap().len() > 260);
    install_then_update(
        &install,
        &v1,
        &v2,
        || bench.publish("2.0.0", &v2),
        "long path",
    );
}

/// Starts `install` (1.0.0 installs), publishes 2.0.0 with `publish_v2`, starts it again (2.0.0
/// replaces what changed, with a backup), and checks the install and its backups are whole.
#[cfg(windows)]
fn install_then_update(
    install: &InstallDir,
    v1: &Tree,
    v2: &Tree,
    publish_v2: impl FnOnce(),
    context: &str,
) {
    install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 1.0.0\n");
    publish_v2();
    install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 2.0.0\n");
    let versions = [("1.0.0", v1), ("2.0.0", v2)];
    assert_eq!(
        install.assert_whole(&versions, &Tree::new(), context),
        "2.0.0"
    );
    install.assert_backups(&versions, context);
}

/// `Dir` given as a drive-letter path (`C:\...`) and `Server` as one too, both outside the ini's folder.
#[cfg(windows)]
#[test]
fn dir_and_server_as_drive_letter_paths() {
    let bench = Bench::new();
    let v1 = sample_tree("1.0.0");
    bench.publish("1.0.0", &v1);
    let app = plain_path(&bench.root.join("elsewhere").join("app"));
    assert!(app.as_bytes()[1] == b':', "not a drive path: {app}");
    let ini = bench.root.join("ini").join("launcher.ini");
    write(
        &ini,
        format!(
            "[Update]\r\nServer = {}\r\nProduct = demo\r\n[App]\r\nDir = {app}\r\n",
            plain_path(&bench.repo)
        ),
    );
    let mut c = crate::common::launcher();
    c.arg("--config").arg(&ini);
    crate::common::run(c, None)
        .success()
        .stdout_has("demo app 1.0.0\n");
    assert!(std::path::Path::new(&app).join(APP_EXE).is_file());
}

/// A shared folder reached by a UNC path (`\\server\share`), removed when dropped. Under Wine a share is
/// a folder below the prefix's `dosdevices\unc\SERVER\SHARE` (Wine's own mapping of UNC paths); on
/// Windows it is the temp folder through the administrative share `\\localhost\C$`.
#[cfg(windows)]
struct UncShare {
    /// The UNC path of the share.
    unc: String,
    /// The same folder by its local path, for the test's own checks.
    local: std::path::PathBuf,
    /// Removed on drop (under Wine); None when the share is the test's temp folder itself.
    remove: Option<std::path::PathBuf>,
}

#[cfg(windows)]
impl UncShare {
    fn new(bench: &Bench) -> UncShare {
        let unique = bench
            .root
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        match std::env::var("WINEPREFIX") {
            Ok(prefix) => {
                let prefix = format!("Z:{}", prefix.replace('/', "\\"));
                let local = std::path::PathBuf::from(prefix)
                    .join(r"dosdevices\unc\launcher-test")
                    .join(&unique);
                std::fs::create_dir_all(&local).unwrap();
                UncShare {
                    unc: format!(r"\\launcher-test\{unique}"),
                    remove: Some(local.clone()),
                    local,
                }
            }
            Err(_) => {
                let s = plain_path(&bench.root);
                let (drive, rest) = s.split_once(":\\").expect("a drive path");
                UncShare {
                    unc: format!(r"\\localhost\{drive}$\{rest}"),
                    local: bench.root.clone(),
                    remove: None,
                }
            }
        }
    }
}

#[cfg(windows)]
impl Drop for UncShare {
    fn drop(&mut self) {
        if let Some(p) = &self.remove {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// `Dir` and `Server` as UNC paths (`\\server\share\...`), as on an office network: the first start
/// installs, an update replaces what changed with a backup, and `verify` finds the install whole.
#[cfg(windows)]
#[test]
fn dir_and_server_as_unc_paths() {
    let bench = Bench::new();
    let share = UncShare::new(&bench);
    let (v1, mut v2) = (sample_tree("1.0.0"), sample_tree("2.0.0"));
    v2.insert("data/config.txt".into(), b"setting = 2\n".to_vec());
    let repo = share.local.join("repo");
    let publish = |version: &str, tree: &Tree| {
        let rel = bench.root.join(format!("rel-{version}"));
        crate::common::write_tree(&rel, tree);
        crate::common::publish(&rel, &repo, version, &[]).success();
    };
    publish("1.0.0", &v1);
    let ini = bench.root.join("ini").join("launcher.ini");
    write(
        &ini,
        format!(
            "[Update]\r\nServer = {unc}\\repo\r\nProduct = demo\r\n[App]\r\nDir = {unc}\\app\r\n",
            unc = share.unc
        ),
    );
    let install = InstallDir {
        root: bench.root.join("ini"),
        ini: ini.clone(),
        app: share.local.join("app"),
    };
    install_then_update(&install, &v1, &v2, || publish("2.0.0", &v2), "UNC");
    install.run(&["verify"], &[]).success();
}
