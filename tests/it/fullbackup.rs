//! Issue 9, item 8: `BackupMode = full` on a small disk. The install folder is a real tmpfs of a few
//! dozen MiB (or with few inodes); the full copy must be counted in the free-space check before
//! anything is written, a copy cut short by a full disk must be removed and its folder named, the disk
//! must not stay full, and later launches must work.

use crate::common::{noise, sample_tree, Bench, InstallDir, Tree};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for one test; unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` at `path`, or says why not and returns None (the test is then
    /// skipped: mounting needs root, or CAP_SYS_ADMIN in a container).
    fn mount(path: &Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs {
                path: path.to_path_buf(),
            }),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs at `{}` ({}); run the suite as root to test a full disk",
                    path.display(),
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run `mount` ({e})");
                None
            }
        }
    }

    fn remount(&self, options: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(st.success(), "remount {options}");
    }

    /// `df` column `what` (`avail` in bytes, `iused`) for the mount.
    fn df(&self, what: &str) -> u64 {
        let out = Command::new("df")
            .args([&format!("--output={what}"), "-B1"])
            .arg(&self.path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("df --output={what}: {text}"))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

const MIB: u64 = 1024 * 1024;

fn backups(i: &InstallDir) -> Vec<String> {
    i.backups()
}

/// A start whose update fails on the full backup: 1.0 starts, whole, the message has `needle` and
/// names `bkp.001`, and no backup folder is left.
fn start_without_backup(
    i: &InstallDir,
    versions: &[(&str, &Tree)],
    needle: &str,
    context: &str,
) -> crate::common::Run {
    let r = i.run(&[], &[]).success();
    assert!(
        r.stdout().contains("demo app 1.0\n"),
        "{context}: the installed version did not start{}",
        r.explain()
    );
    assert!(
        r.stderr().contains(needle) && r.stderr().contains("bkp.001"),
        "{context}: the message does not name the full backup folder being written{}",
        r.explain()
    );
    assert!(
        backups(i).is_empty(),
        "{context}: a backup folder was left{}",
        r.explain()
    );
    assert_eq!(i.assert_whole(versions, &Tree::new(), context), "1.0");
    r
}

#[test]
fn a_full_backup_that_cannot_fit_is_refused_before_anything_is_written() {
    let site = Bench::new();
    let mut v1 = sample_tree("1.0");
    v1.insert("data/a.bin".into(), noise(1, 20 * MIB as usize));
    v1.insert("data/b.bin".into(), noise(2, 20 * MIB as usize));
    let mut v2 = v1.clone();
    v2.insert("VERSION".into(), b"2.0\n".to_vec());
    let i = site.install("full", "Backups = 3\nBackupMode = full");
    let Some(disk) = Tmpfs::mount(&i.app, "size=64m") else {
        return;
    };
    site.publish("1.0", &v1);
    i.run(&[], &[]).success().stdout_has("demo app 1.0\n");
    // 40 MiB installed, about 24 MiB free: the update's download fits, its full copy does not.
    let free = disk.df("avail");
    assert!(
        free < 40 * MIB,
        "the disk should be too small for a full copy"
    );

    site.publish("2.0", &v2);
    for attempt in 1..=2 {
        let context = format!("refused update, attempt {attempt}");
        let r = start_without_backup(&i, &[("1.0", &v1), ("2.0", &v2)], "full backup", &context);
        let now = disk.df("avail");
        assert!(
            now + MIB >= free,
            "{context}: {} of free space was used by a refused update{}",
            free - now,
            r.explain()
        );
    }

    // With backups of the changed files only, the same disk takes the update.
    i.config(
        site.repo.to_str().unwrap(),
        "Backups = 3\nBackupMode = changed",
    );
    i.run(&[], &[]).success().stdout_has("demo app 2.0\n");
    assert_eq!(backups(&i), ["bkp.001"]);
}

#[test]
fn a_full_backup_cut_short_by_a_full_disk_is_removed_and_its_folder_named() {
    let site = Bench::new();
    let mut v1 = sample_tree("1.0");
    for n in 0..80 {
        v1.insert(
            format!("res/{:02}/item{n:02}.txt", n % 4),
            format!("item {n}\n").repeat(50).into_bytes(),
        );
    }
    let mut v2 = v1.clone();
    v2.insert("VERSION".into(), b"2.0\n".to_vec());
    let i = site.install("inodes", "Backups = 3\nBackupMode = full");
    let Some(disk) = Tmpfs::mount(&i.app, "size=64m,nr_inodes=1000") else {
        return;
    };
    site.publish("1.0", &v1);
    i.run(&[], &[]).success().stdout_has("demo app 1.0\n");
    // Bytes to spare, but inodes for only about a fifth of the copy: the disk fills up for real in
    // the middle of the full backup, after the free-space check passed.
    let used = disk.df("iused");
    disk.remount(&format!("nr_inodes={}", used + 24));

    site.publish("2.0", &v2);
    for attempt in 1..=2 {
        let context = format!("backup cut short, attempt {attempt}");
        let versions = [("1.0", &v1), ("2.0", &v2)];
        let r = start_without_backup(&i, &versions, "cannot write the full backup", &context);
        let now = disk.df("iused");
        assert!(
            now <= used + 4,
            "{context}: {} inodes stay used after the failed backup{}",
            now - used,
            r.explain()
        );
    }

    // Room again: the next start makes the full backup and updates.
    disk.remount("nr_inodes=1000");
    i.run(&[], &[]).success().stdout_has("demo app 2.0\n");
    assert_eq!(backups(&i), ["bkp.001"]);
    i.assert_backups(&[("1.0", &v1), ("2.0", &v2)], "after the update");
}
