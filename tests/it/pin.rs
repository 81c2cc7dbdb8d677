//! Pinning (issue 13, item 3): `Pin = 7.04` keeps an install on the newest 7.04 release while the
//! channel moves on, through the signed release index that `publish` writes beside the channel
//! manifest. Real binary, signed repository read as a folder.

use crate::common::{self, launcher, run, write, Keys, Run};
use std::path::{Path, PathBuf};

struct Pinned {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    keys: Keys,
}

impl Pinned {
    fn new() -> Pinned {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let keys = common::keygen_at(&root, "release");
        Pinned {
            repo: root.join("repo"),
            root,
            keys,
            _tmp: tmp,
        }
    }

    fn publish(&self, version: &str) {
        let rel = common::sample_release(&self.root, &format!("rel-{version}"), version);
        common::publish_on(
            &rel,
            &self.repo,
            version,
            &["--secret-key", self.keys.sk.to_str().unwrap()],
        )
        .success();
    }

    /// An install `name` with `extra` in [Update]; returns its ini.
    fn install(&self, name: &str, extra: &str) -> PathBuf {
        let ini = self.root.join(format!("{name}.ini"));
        write(
            &ini,
            format!(
                "[Update]\nServer = {}\nProduct = demo\nPlatform = {}\nPublicKey = {}\n{extra}\n[App]\nDir = {name}\n",
                self.repo.display(),
                common::PLATFORM,
                self.keys.b64
            ),
        );
        ini
    }

    fn index(&self) -> PathBuf {
        self.repo.join(format!(
            "demo/channels/stable/index/{}.json",
            common::PLATFORM
        ))
    }
}

fn start(ini: &Path, args: &[&str]) -> Run {
    let mut c = launcher();
    c.arg("--config").arg(ini).args(args);
    run(c, ini.parent())
}

fn started(r: &Run, version: &str) {
    assert!(
        r.stdout().contains(&format!("demo app {version}\n")),
        "{version} did not start{}",
        r.explain()
    );
}

#[test]
fn a_pin_holds_while_the_channel_moves_on() {
    let p = Pinned::new();
    p.publish("7.04.100");
    let pinned = p.install("pinned", "Pin = 7.04");
    let follower = p.install("follower", "");
    started(&start(&pinned, &[]).success(), "7.04.100");
    started(&start(&follower, &[]).success(), "7.04.100");

    p.publish("7.04.200");
    started(&start(&pinned, &[]).success(), "7.04.200");
    p.publish("7.05.1");
    started(&start(&follower, &[]).success(), "7.05.1");
    let r = start(&pinned, &[]).success();
    started(&r, "7.04.200");
    start(&pinned, &["check"])
        .success()
        .stderr_has("Up to date: demo 7.04.200");
    start(&pinned, &["status"])
        .success()
        .stdout_has("pin            7.04: the newest 7.04 release");

    // The index lists the channel's releases newest first, signed like the manifests.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.index()).unwrap()).unwrap();
    let versions: Vec<&str> = index["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["7.05.1", "7.04.200", "7.04.100"]);
    assert!(common::sig_path(&p.index()).exists());

    // A new machine pinned to 7.04 installs 7.04.200 although the channel serves 7.05.1.
    let fresh = p.install("fresh", "Pin = 7.04");
    started(&start(&fresh, &[]).success(), "7.04.200");
}

#[test]
fn a_pin_that_matches_nothing_warns_and_the_installed_version_starts() {
    let p = Pinned::new();
    p.publish("7.04.100");
    p.publish("7.05.1");
    let ini = p.install("app", "");
    started(&start(&ini, &[]).success(), "7.05.1");
    let ini = p.install("app", "Pin = 6.0");
    let r = start(&ini, &[]).success();
    started(&r, "7.05.1");
    let said = "matches no release of channel `stable` (its releases: 7.05.1, 7.04.100); the installed version starts";
    assert!(
        r.stderr().contains("Pin = 6.0 in `") && r.stderr().contains(said),
        "{}",
        r.explain()
    );
    // With nothing installed there is nothing to start: a clear failure.
    let fresh = p.install("fresh", "Pin = 6.0");
    start(&fresh, &[]).failure().stderr_has("Pin = 6.0 in `");
}

#[test]
fn a_release_index_changed_without_the_key_is_refused() {
    let p = Pinned::new();
    p.publish("7.04.100");
    p.publish("7.05.1");
    let text = std::fs::read_to_string(p.index()).unwrap();
    write(&p.index(), text.replace("7.04.100", "7.04.999"));
    let fresh = p.install("fresh", "Pin = 7.04");
    start(&fresh, &[])
        .failure()
        .stderr_has("index/linux-x86_64.json` is refused");
}
