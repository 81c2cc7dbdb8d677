//! Staged rollout (issue 13, item 4): `publish`/`promote --rollout` against several real installs of
//! one repository. Each install's place in the rollout is what `status --json` reports; the test picks
//! percentages from those places, so it splits the installs without depending on their random ids.
//! (The share over 1,000 ids is tested in `src/rollout.rs`: running the binary 1,000 times would
//! test the same function far more slowly.)

use crate::common::{self, launcher, run, site, write, Run, Site, PLATFORM};
use std::path::PathBuf;

/// One install of the site's repository: `<root>/inst-N.ini` with `Dir = app-N`.
struct Install {
    ini: PathBuf,
    app: PathBuf,
}

impl Install {
    fn new(s: &Site, n: usize, extra: &str) -> Install {
        let ini = s.root.join(format!("inst-{n}.ini"));
        write(
            &ini,
            format!(
                "[Update]\nServer = {}\nProduct = demo\nPlatform = {PLATFORM}\n{extra}\n[App]\nDir = app-{n}\n",
                s.repo.display()
            ),
        );
        Install {
            ini,
            app: s.root.join(format!("app-{n}")),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut c = launcher();
        c.arg("--config").arg(&self.ini).args(args);
        run(c, Some(&self.app))
    }

    /// Starts the app and returns the version it printed.
    fn start(&self) -> String {
        let r = self.run(&[]).success();
        let out = r.stdout();
        out.lines()
            .find_map(|l| l.strip_prefix("demo app "))
            .unwrap_or_else(|| panic!("the app did not start{}", r.explain()))
            .to_string()
    }

    fn status(&self) -> serde_json::Value {
        let r = self.run(&["status", "--json"]).success();
        serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("{e}{}", r.explain()))
    }
}

fn promote(s: &Site, version: &str, extra: &[&str]) {
    let mut c = launcher();
    c.args(["promote", "--repo"])
        .arg(&s.repo)
        .args([
            "--product",
            "demo",
            "--version",
            version,
            "--channel",
            "stable",
        ])
        .args(["--platform", PLATFORM])
        .args(extra);
    run(c, Some(&s.repo)).success();
}

#[test]
fn a_staged_rollout_reaches_only_its_share_and_raising_it_only_adds_installs() {
    let s = site();
    s.publish("1.0", &[]);
    let installs: Vec<Install> = (0..6).map(|n| Install::new(&s, n, "")).collect();
    for i in &installs {
        assert_eq!(i.start(), "1.0");
    }
    // Nobody takes 2.0 at 0 %: the rollout is published, the places are known.
    s.publish("2.0", &["--rollout", "0"]);
    let chan = s.read_json(&s.channel());
    assert_eq!(chan["rollout"]["percent"], 0, "{chan}");
    assert_eq!(chan["rollout"]["previous"], "1.0", "{chan}");
    let release = s.read_json(&s.release("2.0"));
    assert!(release.get("rollout").is_none(), "{release}");
    let places: Vec<f64> = installs
        .iter()
        .map(|i| {
            let st = i.status();
            assert!(
                st["install_id"].as_str().is_some_and(|id| id.len() == 32),
                "{st}"
            );
            assert_eq!(st["rollout"]["inside"], false, "{st}");
            st["rollout"]["place"].as_f64().unwrap()
        })
        .collect();
    for i in &installs {
        assert_eq!(i.start(), "1.0", "an install outside a 0 % rollout updated");
    }

    // A share that holds the lowest place but not the highest.
    let mut sorted = places.clone();
    sorted.sort_by(f64::total_cmp);
    let first = sorted[0].floor() as u8 + 1;
    assert!(
        f64::from(first) <= sorted[5],
        "all six places are in one percent ({sorted:?}); that is a one-in-10^10 draw"
    );
    promote(&s, "2.0", &["--rollout", &first.to_string()]);
    let mut had = Vec::new();
    for (i, place) in installs.iter().zip(&places) {
        let inside = *place < f64::from(first);
        assert_eq!(
            i.start(),
            if inside { "2.0" } else { "1.0" },
            "place {place} at {first}%"
        );
        let r = i.run(&["status"]).success();
        let word = if inside {
            "this install is in the"
        } else {
            "this install is not in the"
        };
        assert!(r.stdout().contains(word), "{}", r.explain());
        had.push(inside);
    }

    // Raising the share keeps everybody who had the release and adds the ones below the new share.
    let second = sorted[3].floor() as u8 + 1;
    promote(&s, "2.0", &["--rollout", &second.to_string()]);
    for ((i, place), had) in installs.iter().zip(&places).zip(&had) {
        let v = i.start();
        assert!(
            !had || v == "2.0",
            "an install left the rollout when it was raised"
        );
        assert_eq!(
            v == "2.0",
            *place < f64::from(second),
            "place {place} at {second}%"
        );
    }

    // 100 % completes it: the channel manifest has no rollout left, and every install updates.
    promote(&s, "2.0", &["--rollout", "100"]);
    assert!(s.read_json(&s.channel()).get("rollout").is_none());
    for i in &installs {
        assert_eq!(i.start(), "2.0");
    }
}

#[test]
fn a_first_install_outside_a_signed_rollout_installs_the_previous_release() {
    let s = site();
    let keys = common::keygen_at(&s.root, "release");
    let sk = keys.sk.to_str().unwrap().to_string();
    s.publish("1.0", &["--secret-key", &sk]);
    s.publish("2.0", &["--secret-key", &sk, "--rollout", "0"]);
    let key = format!("PublicKey = {}", keys.b64);
    let fresh = Install::new(&s, 0, &key);
    assert_eq!(fresh.start(), "1.0");
    let r = fresh.run(&["check"]).success();
    assert!(
        r.stderr().contains("not in the 0% rollout of 2.0") && r.stderr().contains("it takes 1.0"),
        "{}",
        r.explain()
    );

    // The rollout is part of what is signed: raised by hand without the key, the channel is refused.
    let text = std::fs::read_to_string(s.channel()).unwrap();
    write(
        &s.channel(),
        text.replace("\"percent\": 0", "\"percent\": 99"),
    );
    fresh
        .run(&[])
        .stderr_has("is refused")
        .stdout_has("demo app 1.0\n");
}
