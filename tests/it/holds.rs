//! Issue 9, item 6: rollback holds and backups. Every version rolled back from stays held until a newer
//! release is published; a backup made by `verify --repair` is kept but never a rollback target; a
//! rollback stopped at any step (crash points, SIGKILL) leaves the state before it or after it, with the
//! holds right, and the next `rollback` goes back one more version.

use crate::common::{
    kill_seed, killed, noise, sample_tree, spawn_and_kill, Bench, InstallDir, Rng, Tree,
};

/// 1.1, 1.2 and 1.3: each changes some of the resources and the big file, adds one file and drops
/// another, so a rollback moves files both ways.
fn versions(resources: usize, big: usize) -> Vec<(&'static str, Tree)> {
    ["1.1", "1.2", "1.3"]
        .iter()
        .enumerate()
        .map(|(n, v)| {
            let mut t = sample_tree(v);
            for i in 0..resources {
                let changed = if i % 3 == n % 3 { *v } else { "base" };
                t.insert(
                    format!("res/{:02}/item{i:03}.txt", i % 7),
                    format!("item {i} of {changed}\n")
                        .repeat(1 + i % 20)
                        .into_bytes(),
                );
            }
            t.insert("data/big.bin".into(), noise(n as u64 + 1, big));
            t.insert(format!("only/in-{v}.txt"), format!("{v}\n").into_bytes());
            (*v, t)
        })
        .collect()
}

/// An install that went 1.1 → 1.2 → 1.3 with `Backups = 3`: `bkp.001` (1.1 → 1.2), `bkp.002`
/// (1.2 → 1.3), and 1.3 on the channel.
fn installed_three(site: &Bench, all: &[(&'static str, Tree)], name: &str) -> InstallDir {
    let i = site.install(name, "Backups = 3");
    for (v, t) in all {
        site.publish(v, t);
        i.run(&[], &[])
            .success()
            .stdout_has(&format!("demo app {v}\n"));
    }
    i
}

fn status(i: &InstallDir) -> serde_json::Value {
    let r = i.run(&["status", "--json"], &[]).success();
    serde_json::from_str(&r.stdout())
        .unwrap_or_else(|e| panic!("status --json: {e}{}", r.explain()))
}

fn holds(i: &InstallDir) -> Vec<String> {
    status(i)["holds"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn refs<'a>(all: &'a [(&'static str, Tree)]) -> Vec<(&'a str, &'a Tree)> {
    all.iter().map(|(v, t)| (*v, t)).collect()
}

/// The version before `v` in 1.1, 1.2, 1.3.
fn previous(v: &str) -> &'static str {
    match v {
        "1.3" => "1.2",
        "1.2" => "1.1",
        other => panic!("no version before {other}"),
    }
}

/// The holds a state at `found` must have, starting from 1.3 with no holds: every version above it.
fn holds_at(found: &str) -> Vec<String> {
    ["1.2", "1.3"]
        .iter()
        .filter(|h| **h > found)
        .map(|h| h.to_string())
        .collect()
}

#[test]
fn two_rollbacks_in_a_row_hold_both_versions_until_a_newer_release() {
    let site = Bench::new();
    let all = versions(6, 1000);
    let i = installed_three(&site, &all, "two");
    i.run(&["rollback"], &[])
        .success()
        .stderr_has("Rolled back from 1.3 to 1.2");
    i.run(&["rollback"], &[])
        .success()
        .stderr_has("Rolled back from 1.2 to 1.1");
    // The channel still offers 1.3: neither 1.3 nor 1.2 comes back.
    for _ in 0..2 {
        i.run(&[], &[]).success().stdout_has("demo app 1.1\n");
    }
    assert_eq!(holds(&i), ["1.2", "1.3"]);
    assert_eq!(status(&i)["held"], "1.3", "`held` names the newest hold");
    assert_eq!(
        i.assert_whole(&refs(&all), &Tree::new(), "after two rollbacks"),
        "1.1"
    );
    let check = i.run(&["check", "--json"], &[]).code_is(0);
    let check: serde_json::Value = serde_json::from_str(&check.stdout()).unwrap();
    assert_eq!(
        check["holds"],
        serde_json::json!(["1.2", "1.3"]),
        "{check:#}"
    );
    let text = i.run(&["status"], &[]).success().stdout();
    assert!(
        text.contains("1.2, 1.3 are not reinstalled"),
        "status does not show both holds:\n{text}"
    );

    let mut v14 = all[2].1.clone();
    v14.insert("VERSION".into(), b"1.4\n".to_vec());
    site.publish("1.4", &v14);
    i.run(&[], &[]).success().stdout_has("demo app 1.4\n");
    assert!(holds(&i).is_empty(), "a newer release ends the holds");
    assert!(status(&i)["held"].is_null());
}

#[test]
fn a_state_written_with_a_single_held_version_still_holds_it() {
    let site = Bench::new();
    let all = versions(3, 100);
    let i = installed_three(&site, &all, "old-state");
    i.run(&["rollback"], &[]).success();
    // The state as launchers before holds were a list wrote it: `held` only.
    let path = i.app.join(".launcher/state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(state["holds"], serde_json::json!(["1.3"]));
    state.as_object_mut().unwrap().remove("holds");
    assert_eq!(state["held"], "1.3");
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();

    i.run(&[], &[]).success().stdout_has("demo app 1.2\n");
    assert_eq!(holds(&i), ["1.3"]);
    i.run(&["rollback"], &[])
        .success()
        .stderr_has("Rolled back from 1.2 to 1.1");
    assert_eq!(holds(&i), ["1.2", "1.3"]);
    i.run(&[], &[]).success().stdout_has("demo app 1.1\n");
}

#[test]
fn a_repair_backup_is_kept_but_rollback_goes_back_one_version() {
    let site = Bench::new();
    let all = versions(3, 100);
    let i = site.install("repair", "Backups = 3");
    for (v, t) in &all[..2] {
        site.publish(v, t);
        i.run(&[], &[]).success();
    }
    let damaged_path = i.app.join("VERSION");
    std::fs::write(&damaged_path, b"damaged\n").unwrap();
    i.run(&["verify", "--repair"], &[]).success();
    assert_eq!(i.backups(), ["bkp.001", "bkp.002"]);
    let st = status(&i);

    let r = i.run(&["rollback"], &[]).success();
    assert!(
        r.stderr().contains("Rolled back from 1.2 to 1.1"),
        "rollback did not go back one version{}",
        r.explain()
    );
    // What `status` said before the rollback.
    assert_eq!(st["backups"][1]["kind"], "repair", "{st:#}");
    assert_eq!(st["backups"][0]["rollback_target"], true, "{st:#}");
    assert_eq!(st["rollback_to"], "1.1", "{st:#}");
    assert_eq!(
        i.assert_whole(&refs(&all), &Tree::new(), "after the rollback"),
        "1.1"
    );
    // The repair's backup is still there, with the damaged file in it.
    let kept: Vec<String> = i
        .backups()
        .into_iter()
        .filter(|b| {
            std::fs::read(i.app.join(b).join("VERSION")).ok().as_deref() == Some(b"damaged\n")
        })
        .collect();
    assert_eq!(kept.len(), 1, "the repair backup is gone{}", r.explain());
    assert_eq!(holds(&i), ["1.2"]);
    // No backup goes back further: a second rollback says so and changes nothing.
    let again = i.run(&["rollback"], &[]).failure();
    assert!(
        again.stderr().contains("no backup"),
        "a repair backup was used as a rollback target{}",
        again.explain()
    );
    assert_eq!(
        i.assert_whole(&refs(&all), &Tree::new(), "after the refused rollback"),
        "1.1"
    );
    i.run(&[], &[]).success().stdout_has("demo app 1.1\n");
}

/// After a stopped rollback and a start that recovers it (`verify`, which updates nothing): the app
/// is 1.3 with no holds and both backups (before), or 1.2 holding 1.3 with `bkp.001` left (after).
/// Then `rollback` goes back one more, and a start with 1.3 on the channel installs nothing held.
/// Returns the version found after the stopped rollback.
fn check_before_or_after(i: &InstallDir, all: &[(&'static str, Tree)], context: &str) -> String {
    let r = i.run(&["verify"], &[]);
    assert_eq!(
        r.code(),
        0,
        "{context}: the install is damaged{}",
        r.explain()
    );
    let found = i.assert_whole(&refs(all), &Tree::new(), context);
    assert!(found == "1.3" || found == "1.2", "{context}: found {found}");
    assert!(
        !i.app.join(".launcher/journal.json").exists(),
        "{context}: the journal is left"
    );
    let expected_backups: &[&str] = if found == "1.3" {
        &["bkp.001", "bkp.002"]
    } else {
        &["bkp.001"]
    };
    assert_eq!(
        i.backups(),
        expected_backups,
        "{context}: backups at {found}"
    );
    i.assert_backups(&refs(all), context);
    assert_eq!(holds(i), holds_at(&found), "{context}: holds at {found}");

    let back = previous(&found);
    let r = i.run(&["rollback"], &[]);
    assert!(
        r.code() == 0
            && r.stderr()
                .contains(&format!("Rolled back from {found} to {back}")),
        "{context}: the next rollback did not go from {found} to {back}{}",
        r.explain()
    );
    assert_eq!(
        holds(i),
        holds_at(back),
        "{context}: holds after the next rollback"
    );
    let r = i.run(&[], &[]).success();
    assert!(
        r.stdout().contains(&format!("demo app {back}\n")),
        "{context}: a held version was reinstalled{}",
        r.explain()
    );
    found
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_rollback_stopped_at_every_step_leaves_before_or_after_with_the_holds_right() {
    use std::os::unix::process::ExitStatusExt;
    let site = Bench::new();
    let all = versions(12, 1000);
    let template = installed_three(&site, &all, "template");
    // Files the rollback 1.3 → 1.2 moves aside (into its undo folder) and places from `bkp.002`.
    let (v12, v13) = (&all[1].1, &all[2].1);
    let moved = v13.iter().filter(|(p, b)| v12.get(*p) != Some(*b)).count();
    let placed = v12.iter().filter(|(p, b)| v13.get(*p) != Some(*b)).count();
    let mut points = vec!["journal-written".to_string()];
    points.extend(
        (1..=moved)
            .step_by(2)
            .map(|n| format!("moved-to-backup:{n}")),
    );
    points.extend((1..=placed).step_by(2).map(|n| format!("placed:{n}")));
    points.extend(["before-state", "after-state", "consumed"].map(String::from));
    for (k, point) in points.iter().enumerate() {
        let i = template.clone_to(&site.root.join(format!("p{k}")));
        let r = i.run(&["rollback"], &[("LAUNCHER_CRASH_AT", point)]);
        let name = point.split(':').next().unwrap();
        assert!(
            r.out.status.signal().is_some()
                && r.stderr()
                    .contains(&format!("crash point `{name}` reached")),
            "the rollback did not stop at `{point}`{}",
            r.explain()
        );
        let _ = check_before_or_after(&i, &all, &format!("rollback stopped at `{point}`"));
        std::fs::remove_dir_all(&i.root).unwrap();
    }
    eprintln!("rollback crash points tried: {}", points.len());
}

#[test]
fn killing_a_rollback_at_random_moments_leaves_before_or_after_and_the_next_goes_back_one() {
    let seed = kill_seed();
    eprintln!("rollback kill test seed: {seed} (rerun with LAUNCHER_KILL_SEED={seed})");
    let mut rng = Rng(seed);
    // Many files, so that the end of a rollback (clearing its undo folder, removing the restored
    // backup) is long enough for kills to land in it.
    let site = Bench::new();
    let all = versions(240, 4 * 1024 * 1024);
    let template = installed_three(&site, &all, "template");

    // How long an uninterrupted rollback takes here, and when its journal appears, to spread the
    // kills over it with half of them in the apply phase and the clean-up after it (randomness, not a
    // timing assertion).
    let probe = template.clone_to(&site.root.join("probe"));
    let (span, apply_from) = crate::common::probe_run(&probe, &["rollback"]);
    assert_eq!(
        probe.assert_whole(&refs(&all), &Tree::new(), "probe"),
        "1.2"
    );
    std::fs::remove_dir_all(&probe.root).unwrap();

    let iterations = 16;
    let (mut landed, mut before, mut after) = (0, 0, 0);
    for it in 0..iterations {
        let i = template.clone_to(&site.root.join(format!("k{it}")));
        let (delay, status) = spawn_and_kill(&i, &["rollback"], &mut rng, apply_from, span, 2000);
        if killed(&status) {
            landed += 1;
        }
        let context = format!("kill {it} after {delay} µs (seed {seed})");
        match check_before_or_after(&i, &all, &context).as_str() {
            "1.3" => before += 1,
            _ => after += 1,
        }
        std::fs::remove_dir_all(&i.root).unwrap();
    }
    eprintln!(
        "rollback kills: {iterations}, {landed} landed before the rollback finished; \
         {before} left 1.3 (before), {after} left 1.2 (after) (seed {seed})"
    );
}
