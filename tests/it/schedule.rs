//! Scheduled pre-download (issue 13, item 2) on Linux: `launcher schedule` writes a real entry into the
//! user's crontab with Debian's `crontab`, the entry's command (run with `sh` as cron does) fetches
//! the update, and `--remove` takes away only that entry. The `schtasks` command line is tested in
//! `src/schedule/windows.rs`.

use crate::common::{self, run, site, Site};
use std::process::Command;

fn crontab_l() -> String {
    let out = Command::new("crontab").arg("-l").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes the test's entry even when an assertion fails, so no stale task stays in the crontab.
struct Unschedule<'a>(&'a Site);

impl Drop for Unschedule<'_> {
    fn drop(&mut self) {
        let _ = self.0.command(&["schedule", "--remove"]).output();
    }
}

/// This ini's lines in the crontab.
fn ours(s: &Site) -> Vec<String> {
    let ini = s.ini.display().to_string();
    crontab_l()
        .lines()
        .filter(|l| l.contains(&ini))
        .map(str::to_string)
        .collect()
}

#[test]
fn schedule_adds_a_crontab_entry_that_fetches_and_remove_takes_only_it_away() {
    if !common::require("crontab") {
        return;
    }
    let s = site();
    s.publish("1.0", &[]);
    s.config_folder("");
    s.assert_launched(&s.launcher(&[]).success(), "1.0");
    s.publish("2.0", &[]);
    let before = crontab_l();
    let _cleanup = Unschedule(&s);

    s.launcher(&["schedule", "--at", "02:00", "--random-delay", "30m"])
        .success()
        .stderr_has("Registered with cron: `launcher fetch`");
    let lines = ours(&s);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    let minute: u32 = fields[0].parse().unwrap();
    assert!(
        minute <= 30 && fields[1..5] == ["2", "*", "*", "*"],
        "{lines:?}"
    );
    let others: Vec<String> = crontab_l()
        .lines()
        .filter(|l| !lines.contains(&l.to_string()))
        .map(str::to_string)
        .collect();
    assert_eq!(
        others,
        before.lines().map(str::to_string).collect::<Vec<_>>(),
        "other crontab lines changed"
    );
    s.launcher(&["status"])
        .success()
        .stdout_has(&format!("`launcher fetch` daily at 02:{minute:02} (cron)"));

    // What cron would run: the command after the five time fields, through `sh`.
    let command = lines[0].splitn(6, ' ').nth(5).unwrap().to_string();
    let mut sh = Command::new("sh");
    sh.env_clear().arg("-c").arg(&command);
    run(sh, Some(&s.app)).success();
    assert!(
        !common::staged_files(&s.app).is_empty(),
        "the scheduled fetch staged nothing: {command}"
    );
    s.assert_launched(&s.launcher(&[]).success(), "2.0");

    // Registering again replaces the entry; removing leaves the crontab as it was.
    s.launcher(&["schedule", "--at", "03:30"]).success();
    let lines = ours(&s);
    assert!(
        lines.len() == 1 && lines[0].starts_with("30 3 * * * "),
        "{lines:?}"
    );
    s.launcher(&["schedule", "--remove"])
        .success()
        .stderr_has("Removed the daily `launcher fetch`");
    assert_eq!(crontab_l().trim_end(), before.trim_end());
    s.launcher(&["schedule", "--remove"])
        .success()
        .stderr_has("No `launcher fetch` task");
}

#[test]
fn a_bad_schedule_time_is_a_usage_error_that_says_what_to_write() {
    let s = site();
    s.config_folder("");
    s.launcher(&["schedule", "--at", "2am"])
        .code_is(2)
        .stderr_has("`--at 2am` is not a time of day; give 24-hour local time such as 02:00");
    s.launcher(&["schedule", "--at", "02:00", "--random-delay", "3 days"])
        .code_is(2)
        .stderr_has("at most 12h");
}
