//! Update hours (issue 13, item 1): `UpdateHours` / `UpdateDays` against the real binary, a repository
//! written by `publish`, and the clock set by `faketime` in a named zone (`TZ`), so windows across
//! midnight and DST changes are tested at exact wall-clock minutes without waiting.
//!
//! The instants are UTC seconds since 1970, each with its local reading beside it.

use crate::common::{self, launcher_at_time, site, LoggedServer, Site};

/// Monday 2026-11-23 12:00 CET.
const MON_NOON_BERLIN: i64 = 1_795_431_600;
/// Monday 2026-11-23 22:30 CET.
const MON_2230_BERLIN: i64 = 1_795_469_400;

/// Installs 1.0 from `server` (a first install happens at any hour) and publishes 2.0 with `extra`.
fn installed_then_published(s: &Site, server: &str, window: &str, extra: &[&str]) {
    s.publish("1.0", &[]);
    s.config(server, window);
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0");
    s.publish("2.0", extra);
}

#[test]
fn a_start_outside_update_hours_downloads_nothing_and_check_says_when_the_window_opens() {
    let s = site();
    std::fs::create_dir_all(&s.repo).unwrap();
    let server = LoggedServer::start(&s.repo);
    let window = "UpdateHours = 07:00-08:30, 22:00-02:00\nUpdateDays = Mon-Fri";
    installed_then_published(&s, server.url(), window, &[]);
    let before = server.requests().len();

    let Some(r) = launcher_at_time(&s, "Europe/Berlin", MON_NOON_BERLIN, &[]) else {
        return;
    };
    let r = r
        .success()
        .stderr_has("Update to 2.0 waits for the update window");
    s.assert_launched(&r, "1.0");
    assert!(
        r.stderr().contains("opens 2026-11-23 22:00 Mon (+01:00)"),
        "the start did not say when the window opens{}",
        r.explain()
    );
    let r = launcher_at_time(&s, "Europe/Berlin", MON_NOON_BERLIN, &["fetch"]).unwrap();
    r.success()
        .stderr_has("Nothing fetched: demo 2.0 waits for the update window");
    let asked = server.requests()[before..].to_vec();
    assert!(
        asked.iter().all(|l| !l.contains("/blobs/")),
        "a start or fetch outside the window downloaded content: {asked:?}"
    );
    assert!(common::staged_files(&s.app).is_empty());

    // `check` still works: it sees the update and says when a start applies it.
    let r = launcher_at_time(&s, "Europe/Berlin", MON_NOON_BERLIN, &["check"]).unwrap();
    r.code_is(10)
        .stderr_has("Update available: 1.0 → 2.0")
        .stderr_has("the window opens 2026-11-23 22:00 Mon (+01:00)");
    let r = launcher_at_time(&s, "Europe/Berlin", MON_NOON_BERLIN, &["status", "--json"]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["update_window"]["open"], false, "{v}");
    assert_eq!(
        v["update_window"]["next_open_epoch"],
        MON_2230_BERLIN - 1800,
        "{v}"
    );
    let r = launcher_at_time(&s, "Europe/Berlin", MON_NOON_BERLIN, &["status"]).unwrap();
    r.success()
        .stdout_has("closed, opens 2026-11-23 22:00 Mon (+01:00)");

    // Inside the evening window the same start updates.
    let r = launcher_at_time(&s, "Europe/Berlin", MON_2230_BERLIN, &[]).unwrap();
    s.assert_launched(&r.success(), "2.0");
}

#[test]
fn a_mandatory_release_is_applied_outside_update_hours() {
    let s = site();
    let repo = s.repo.to_str().unwrap().to_string();
    installed_then_published(&s, &repo, "UpdateHours = 07:00-08:30", &["--mandatory"]);
    let Some(r) = launcher_at_time(&s, "Europe/Berlin", MON_NOON_BERLIN, &[]) else {
        return;
    };
    s.assert_launched(&r.success(), "2.0");
}

#[test]
fn a_window_across_midnight_belongs_to_the_night_it_starts() {
    // Kyiv, 22:00-06:00 on Fridays only: Saturday 04:00 is Friday's night, Saturday 23:30 is not.
    const SAT_2330_KYIV: i64 = 1_795_901_400;
    const SAT_0400_KYIV: i64 = 1_795_831_200;
    let s = site();
    let repo = s.repo.to_str().unwrap().to_string();
    installed_then_published(
        &s,
        &repo,
        "UpdateHours = 22:00-06:00\nUpdateDays = Fri",
        &[],
    );
    let Some(r) = launcher_at_time(&s, "Europe/Kyiv", SAT_2330_KYIV, &[]) else {
        return;
    };
    s.assert_launched(&r.success(), "1.0");
    let r = launcher_at_time(&s, "Europe/Kyiv", SAT_2330_KYIV, &["status"]).unwrap();
    r.success()
        .stdout_has("closed, opens 2026-12-04 22:00 Fri (+02:00)");
    let r = launcher_at_time(&s, "Europe/Kyiv", SAT_0400_KYIV, &[]).unwrap();
    s.assert_launched(&r.success(), "2.0");
}

#[test]
fn update_hours_follow_the_wall_clock_across_a_dst_change() {
    // Berlin moves from +01:00 to +02:00 at 2026-03-29 01:00 UTC. The window is 07:00-07:30 local.
    const SAT_1300_CET: i64 = 1_774_699_200; // 2026-03-28 12:00 UTC
    const SUN_0810_CEST: i64 = 1_774_764_600; // 2026-03-29 06:10 UTC: 07:10 at the old offset
    const SUN_0710_CEST: i64 = 1_774_761_000; // 2026-03-29 05:10 UTC
    let s = site();
    let repo = s.repo.to_str().unwrap().to_string();
    installed_then_published(&s, &repo, "UpdateHours = 07:00-07:30", &[]);
    let Some(r) = launcher_at_time(&s, "Europe/Berlin", SAT_1300_CET, &["status"]) else {
        return;
    };
    // Sunday's 07:00 is 05:00 UTC, 22 hours after Saturday 13:00 CET, not 23.
    r.success()
        .stdout_has("closed, opens 2026-03-29 07:00 Sun (+02:00)");
    let r = launcher_at_time(&s, "Europe/Berlin", SUN_0810_CEST, &[]).unwrap();
    s.assert_launched(&r.success(), "1.0");
    let r = launcher_at_time(&s, "Europe/Berlin", SUN_0710_CEST, &[]).unwrap();
    s.assert_launched(&r.success(), "2.0");
}

#[test]
fn a_bad_update_hours_value_names_the_file_line_and_what_to_write() {
    let s = site();
    s.config_folder("UpdateHours = 7-8:30\nUpdateDays = Mon-Fry");
    let r = s.launcher(&["status"]).failure();
    let ini = s.ini.display().to_string();
    let e = r.stderr();
    assert!(
        e.contains(&format!(
            "{ini}:5: UpdateHours: `7-8:30` is not a range of hours"
        )) && e.contains("`07:00-08:30, 18:00-23:59`")
            && e.contains(&format!("{ini}:6: UpdateDays: `Mon-Fry` is not a day")),
        "{}",
        r.explain()
    );
}
