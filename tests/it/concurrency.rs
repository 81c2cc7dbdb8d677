//! Issue 4, concurrent launchers: many started at once on an install with an update pending (one
//! applies it, the others wait for the lock and start the new version), and a launcher killed while it
//! holds the lock (the next one is not blocked, and finishes what the killed one started).

use crate::common::{noise, sample_tree, Bench, InstallDir, Tree};
use std::process::{Child, Stdio};

fn pending_update() -> (Bench, InstallDir, Tree, Tree) {
    let bench = Bench::new();
    let v1 = sample_tree("1.0.0");
    let mut v2 = sample_tree("2.0.0");
    v2.insert("data/big.bin".into(), noise(5, 8 << 20));
    for i in 0..40 {
        v2.insert(
            format!("res/r{i:02}.txt"),
            format!("resource {i}\n").into_bytes(),
        );
    }
    v2.remove("data/old-notes.txt");
    bench.publish("1.0.0", &v1);
    let install = bench.install("a", "");
    install.run(&[], &[]).success().stdout_has("demo app 1.0.0");
    crate::common::write(&install.app.join("data/mine.txt"), "the user's\n");
    bench.publish("2.0.0", &v2);
    (bench, install, v1, v2)
}

fn user() -> Tree {
    let mut u = Tree::new();
    u.insert("data/mine.txt".into(), b"the user's\n".to_vec());
    u
}

#[test]
fn a_dozen_launchers_at_once_apply_the_update_once_and_all_start_the_new_version() {
    let (_bench, install, v1, v2) = pending_update();
    let children: Vec<Child> = (0..12)
        .map(|_| {
            install
                .command(&[], &[])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<std::process::Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut applied = 0;
    for (k, o) in outputs.iter().enumerate() {
        let (out, err) = (
            crate::common::crlf_to_lf(String::from_utf8_lossy(&o.stdout).into_owned()),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(
            o.status.success() && out.contains("demo app 2.0.0\n"),
            "launcher {k} did not start 2.0.0: {:?}\n--- stdout\n{out}--- stderr\n{err}",
            o.status
        );
        assert!(!err.contains("warning:"), "launcher {k} warned:\n{err}");
        if err.contains("Updated demo 2.0.0") {
            applied += 1;
        }
    }
    assert_eq!(
        applied, 1,
        "expected exactly one launcher to apply the update"
    );
    assert_eq!(
        install.backups(),
        ["bkp.001"],
        "expected exactly one new backup"
    );
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];
    assert_eq!(
        install.assert_whole(&versions, &user(), "after 12 launchers"),
        "2.0.0"
    );
    install.assert_backups(&versions, "after 12 launchers");
    let log = std::fs::read_to_string(install.app.join(".launcher/launcher.log")).unwrap();
    let updates = log
        .lines()
        .filter(|l| l.contains("to=2.0.0") && l.contains("result=ok"))
        .count();
    assert_eq!(
        updates, 1,
        "the log should show one update to 2.0.0:\n{log}"
    );
}

/// Reads `child`'s stderr line by line until a line contains `needle`; returns the lines read.
#[cfg(feature = "fault-injection")]
fn read_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    needle: &str,
    who: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    for line in lines {
        let line = line.unwrap();
        let done = line.contains(needle);
        seen.push(line);
        if done {
            return seen;
        }
    }
    panic!(
        "{who} ended without printing {needle:?}; stderr:\n{}",
        seen.join("\n")
    );
}

#[cfg(feature = "fault-injection")]
#[test]
fn launcher_killed_while_holding_the_lock_does_not_block_the_next_one() {
    use std::io::{BufRead, BufReader, Read};
    let (_bench, install, v1, v2) = pending_update();
    // A stops in the middle of applying the update, holding the lock.
    let mut a = install
        .command(&[], &[("LAUNCHER_PAUSE_AT", "placed:3")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut a_err = BufReader::new(a.stderr.take().unwrap()).lines();
    read_until(&mut a_err, "pausing until killed", "the first launcher");
    // B waits for the lock, and says so.
    let mut b = install
        .command(&[], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut b_err = BufReader::new(b.stderr.take().unwrap()).lines();
    let mut b_seen = read_until(
        &mut b_err,
        "Another launcher is updating this app; waiting",
        "the second launcher",
    );
    a.kill().unwrap();
    a.wait().unwrap();
    b_seen.extend(b_err.map(|l| l.unwrap()));
    let mut out = String::new();
    b.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let out = crate::common::crlf_to_lf(out);
    let status = b.wait().unwrap();
    let err = b_seen.join("\n");
    assert!(
        status.success() && out.contains("demo app 2.0.0\n"),
        "B did not start 2.0.0: {status:?}\n{out}\n{err}"
    );
    assert!(
        err.contains("an interrupted update was completed: version 2.0.0 is installed"),
        "B did not finish what A started:\n{err}"
    );
    let versions = [("1.0.0", &v1), ("2.0.0", &v2)];
    assert_eq!(
        install.assert_whole(&versions, &user(), "after the killed lock holder"),
        "2.0.0"
    );
    install.assert_backups(&versions, "after the killed lock holder");
}
