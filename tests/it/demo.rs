//! `launcher demo`, the README's first command, keeps working end to end.

use crate::common::launcher_run;

#[test]
fn demo_publishes_serves_installs_updates_rolls_back_and_cleans_up() {
    let r = launcher_run(&["demo"], None).success();
    let out = r.stdout();
    for needle in [
        "Wrote the secret key",
        "launcher.ini: PublicKey = RW",
        "--secret-key $DEMO",
        "Published demo 1.0.0",
        "serving at http://127.0.0.1:",
        "Installed demo 1.0.0",
        "demo app 1.0.0",
        "arg[1]: report.pdf",
        "Update available: 1.0.0 → 2.0.0",
        "Updated demo 2.0.0",
        "demo app 2.0.0",
        "bkp.001",
        "Rolled back from 2.0.0 to 1.0.0",
        "its temp folder was removed",
    ] {
        assert!(
            out.contains(needle),
            "the demo did not show {needle:?}{}",
            r.explain()
        );
    }
    let root = out
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().find(|w| w.contains("launcher-demo-")))
        .unwrap_or_else(|| panic!("no temp folder named{}", r.explain()));
    assert!(
        !std::path::Path::new(root).exists(),
        "`{root}` was left behind{}",
        r.explain()
    );
}
