//! Messages that used to point the wrong way (issue 9, item 12, the parts outside HTTP): a read-only
//! folder inside the install, a missing working folder, the free-space need of a tiny update, a CR-only
//! `launcher.ini`, and debug formatting in a message. Real files, real mounts, the real binary.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

#[test]
fn a_read_only_folder_in_the_install_is_named_as_such_not_as_a_file_in_use() {
    let s = site();
    s.publish("1.0.0", &[]);
    s.config_folder("");
    s.launcher(&[]).success();
    let rel = sample_release(&s.root, "rel-2.0.0", "2.0.0");
    write(&rel.join("docs/README.txt"), "the 2.0 manual\n");
    s.publish("2.0.0", &[]);
    let docs = s.app.join("docs");
    let docs_s = docs.to_str().unwrap().to_string();
    if !try_cmd(&["chattr", "+i", &docs_s]) {
        return;
    }
    let undo = Undo(vec![vec!["chattr".into(), "-i".into(), docs_s.clone()]]);
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0.0");
    assert!(
        r.stderr().contains(&format!(
            "the folder `{docs_s}` is read-only or this user may not change it"
        )) && r.stderr().contains("Modify"),
        "the message does not name the read-only folder and what to do{}",
        r.explain()
    );
    assert!(
        !r.stderr().contains("in use"),
        "a read-only folder is reported as a file in use{}",
        r.explain()
    );
    drop(undo);
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "2.0.0");
}

#[test]
fn a_missing_working_folder_is_named_instead_of_the_executable() {
    let s = site();
    s.publish("1.0.0", &[]);
    write(
        &s.ini,
        format!(
            "[Update]\nServer = {}\nProduct = demo\nPlatform = {PLATFORM}\n[App]\nDir = app\nWorkingDir = work/here\n",
            s.repo.display()
        ),
    );
    let r = s.launcher(&[]).failure();
    let missing = s.root.join("work/here");
    assert!(
        r.stderr().contains(&format!(
            "the app's working folder `{}` does not exist",
            missing.display()
        )) && r.stderr().contains("WorkingDir"),
        "{}",
        r.explain()
    );
    assert!(!r.stderr().contains("No such file"), "{}", r.explain());
    std::fs::create_dir_all(&missing).unwrap();
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0.0");
    assert!(
        r.stdout().contains(&format!("cwd: {}", missing.display())),
        "{}",
        r.explain()
    );
}

/// A release of two small files (about 200 bytes in all).
fn tiny_release(dir: &Path) {
    let exe = dir.join("bin/demo");
    write(
        &exe,
        "#!/bin/sh\necho \"demo app $(cat \"$(dirname \"$0\")/../VERSION\")\"\n",
    );
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(&dir.join("VERSION"), "tiny\n");
}

#[test]
fn a_tiny_release_installs_on_a_nearly_full_disk_and_a_big_one_states_its_real_need() {
    let s = site();
    let rel = s.root.join("rel-tiny");
    tiny_release(&rel);
    publish_on(&rel, &s.repo, "1.0.0", &[]).success();
    std::fs::create_dir_all(&s.app).unwrap();
    let app = s.app.to_str().unwrap().to_string();
    // 512 KiB of disk: far more than the release, far less than a fixed 16 MiB margin.
    if !try_cmd(&["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", &app]) {
        return;
    }
    let _undo = Undo(vec![vec!["umount".into(), app.clone()]]);
    s.config_folder("");
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "tiny");

    // 2.0 adds 1 MiB that does not compress: the refusal states the downloads, the rest it keeps free
    // and why, and what is free.
    write(&rel.join("data/big.bin"), noise(7, 1024 * 1024));
    write(&rel.join("VERSION"), "tiny 2\n");
    publish_on(&rel, &s.repo, "2.0.0", &[]).success();
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "tiny");
    let err = r.stderr();
    assert!(
        err.contains("not enough free space in")
            && err.contains("1.0 MiB of downloads and")
            && err.contains("for the launcher's state, journal and file system blocks")
            && !err.contains("16.0 MiB"),
        "{}",
        r.explain()
    );
}

#[test]
fn a_launcher_ini_with_cr_line_ends_is_read_line_by_line() {
    let s = site();
    s.publish("1.0.0", &[]);
    let lines = [
        "[Update]".to_string(),
        format!("Server = {}", s.repo.display()),
        "Product = demo".into(),
        format!("Platform = {PLATFORM}"),
        "[App]".into(),
        "Dir = app".into(),
    ];
    write(&s.ini, lines.join("\r") + "\r");
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0.0");
    // A typo is reported on its own line, not as the whole file in one unknown section.
    let mut typo = lines.clone();
    typo[2] = "Prodct = demo".into();
    write(&s.ini, typo.join("\r"));
    let r = s.launcher(&[]).code_is(3);
    assert!(
        r.stderr().contains(":3: unknown key `Prodct` in [Update]")
            && !r.stderr().contains("unknown section"),
        "{}",
        r.explain()
    );
}

#[test]
fn verbose_check_lists_actions_in_words_not_debug_names() {
    let s = site();
    s.publish("1.0.0", &[]);
    s.config_folder("");
    s.launcher(&[]).success();
    s.publish("2.0.0", &[]);
    let r = s.launcher(&["-v", "check"]).code_is(10);
    assert!(
        r.stderr().contains("  replace VERSION") && !r.stderr().contains("Replace VERSION"),
        "{}",
        r.explain()
    );
}
