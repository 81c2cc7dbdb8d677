//! Publishers at the same time (issue 9, item 7): many real `launcher publish` processes on one
//! repository at once, then every manifest checked with the real `minisign -V`, and release and channel
//! compared. A publisher killed while it holds the repository lock must not block the next one.

use crate::common::*;
use std::path::Path;
use std::process::{Child, Stdio};

/// Starts `launcher publish` of `source` as `version`, signed with `keys`, without waiting.
fn spawn_publish(
    source: &Path,
    repo: &Path,
    version: &str,
    keys: &Keys,
    env: &[(&str, &str)],
) -> Child {
    let mut c = publish_command(
        source,
        repo,
        "demo",
        version,
        &["--executable", "bin/demo", "--platform", PLATFORM],
    );
    c.arg("--secret-key").arg(&keys.sk);
    c.envs(env.iter().copied());
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c.spawn().expect("start launcher publish")
}

struct Done {
    version: String,
    code: i32,
    stderr: String,
}

fn finish(version: &str, child: Child) -> Done {
    let out = child.wait_with_output().unwrap();
    Done {
        version: version.to_string(),
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn report(done: &[Done]) -> String {
    done.iter()
        .map(|d| format!("--- {} exit {}\n{}", d.version, d.code, d.stderr))
        .collect()
}

/// `minisign -Vm manifest -p key` must accept the manifest.
fn assert_signed(manifest: &Path, keys: &Keys, context: &str) {
    let r = minisign(
        &[
            "-V",
            "-m",
            manifest.to_str().unwrap(),
            "-p",
            keys.pk.to_str().unwrap(),
        ],
        "",
        manifest.parent().unwrap(),
    );
    assert_eq!(
        r.code(),
        0,
        "minisign refuses `{}` ({context}){}",
        manifest.display(),
        r.explain()
    );
}

/// Every blob a manifest lists is in the repository.
fn assert_blobs_present(repo: &Path, manifest: &serde_json::Value) {
    for f in manifest["files"].as_array().unwrap() {
        let sha = f["sha256"].as_str().unwrap();
        let raw = repo.join(format!("demo/blobs/{}/{sha}", &sha[..2]));
        let zst = repo.join(format!("demo/blobs/{}/{sha}.zst", &sha[..2]));
        assert!(
            raw.is_file() || zst.is_file(),
            "blob of `{}` is missing",
            f["path"]
        );
    }
}

#[test]
fn concurrent_publishes_of_one_version_with_different_content_leave_one_signed_release() {
    if !require("minisign") {
        return;
    }
    let s = site();
    let keys = keygen_at(&s.root, "release");
    const N: usize = 8;
    let sources: Vec<_> = (0..N)
        .map(|i| sample_release(&s.root, &format!("rel-{i}"), &format!("1.0.0 build {i}")))
        .collect();
    let children: Vec<Child> = sources
        .iter()
        .map(|src| spawn_publish(src, &s.repo, "1.0.0", &keys, &[]))
        .collect();
    let done: Vec<Done> = children.into_iter().map(|c| finish("1.0.0", c)).collect();
    let winners: Vec<usize> = (0..N).filter(|&i| done[i].code == 0).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one publish of 1.0.0 may win{}",
        report(&done)
    );
    for (i, d) in done.iter().enumerate() {
        if i == winners[0] {
            continue;
        }
        assert!(
            d.stderr.contains("version 1.0.0 of `demo`")
                && d.stderr.contains("other content")
                && d.stderr.contains("as a new version"),
            "publish {i} did not say that 1.0.0 was taken and what to do{}",
            report(&done)
        );
    }
    assert_signed(&s.channel(), &keys, "channel");
    assert_signed(&s.release("1.0.0"), &keys, "release");
    let channel = std::fs::read(s.channel()).unwrap();
    assert_eq!(
        channel,
        std::fs::read(s.release("1.0.0")).unwrap(),
        "the channel manifest is not the release's"
    );
    let m = s.read_json(&s.channel());
    assert_blobs_present(&s.repo, &m);
    let version_file = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "VERSION")
        .unwrap();
    let winner_version = std::fs::read(sources[winners[0]].join("VERSION")).unwrap();
    assert_eq!(
        version_file["sha256"],
        sha256_hex(&winner_version),
        "the channel does not hold the winning publish's content"
    );
    // A client that checks signatures installs and starts the winner.
    s.config_folder(&format!("PublicKey = {}", keys.b64));
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, &format!("1.0.0 build {}", winners[0]));
}

#[test]
fn concurrent_publishes_of_different_versions_leave_the_channel_at_the_newest_signed_one() {
    if !require("minisign") {
        return;
    }
    let s = site();
    let keys = keygen_at(&s.root, "release");
    let versions: Vec<String> = (1..=8).map(|i| format!("2.0.{i}")).collect();
    let children: Vec<(String, Child)> = versions
        .iter()
        .zip(1u64..)
        .map(|(v, seed)| {
            let src = sample_release(&s.root, &format!("rel-{v}"), v);
            // Content of its own to store, so each publish spends a while between its checks and its
            // writes, as real ones do; the newer the version, the less, so without the lock an older
            // version that started with the others would write its channel manifest last.
            write(
                &src.join("data/payload.bin"),
                noise(seed, (9 - seed as usize) << 20),
            );
            (v.clone(), spawn_publish(&src, &s.repo, v, &keys, &[]))
        })
        .collect();
    let done: Vec<Done> = children.into_iter().map(|(v, c)| finish(&v, c)).collect();
    for d in &done {
        let release = s.release(&d.version);
        if d.code == 0 {
            assert_signed(&release, &keys, &d.version);
            assert_blobs_present(&s.repo, &s.read_json(&release));
        } else {
            // Only a version older than one that got in first may lose, and it says so and writes nothing.
            assert!(
                d.stderr.contains(&format!("newer than {}", d.version))
                    && d.stderr.contains("--force"),
                "{} failed for another reason{}",
                d.version,
                report(&done)
            );
            assert!(
                !release.exists(),
                "the refused {} left a release manifest",
                d.version
            );
        }
    }
    let newest = done.last().unwrap();
    assert_eq!(
        newest.code,
        0,
        "the newest version must get in{}",
        report(&done)
    );
    assert_signed(&s.channel(), &keys, "channel");
    assert_eq!(
        std::fs::read(s.channel()).unwrap(),
        std::fs::read(s.release("2.0.8")).unwrap(),
        "the channel is not the newest release{}",
        report(&done)
    );
    s.config_folder(&format!("PublicKey = {}", keys.b64));
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "2.0.8");
}

/// Reads a child's stderr line by line until a line contains `needle`; returns what was read.
#[cfg(feature = "fault-injection")]
fn await_stderr(child: &mut Child, needle: &str) -> String {
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().unwrap();
    let mut reader = BufReader::new(stderr);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(
            n > 0,
            "the process ended without saying {needle:?}:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains(needle) {
            // Keep draining in the background so the child never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return seen;
        }
    }
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_publisher_killed_while_holding_the_lock_does_not_block_the_next_one() {
    if !require("minisign") {
        return;
    }
    let s = site();
    let keys = keygen_at(&s.root, "release");
    let a = sample_release(&s.root, "rel-a", "3.0.0");
    let b = sample_release(&s.root, "rel-b", "3.0.1");
    let earlier = sample_release(&s.root, "rel-earlier", "2.9.0");
    let sk = keys.sk.to_str().unwrap();
    publish_on(&earlier, &s.repo, "2.9.0", &["--secret-key", sk]).success();
    let mut first = spawn_publish(
        &a,
        &s.repo,
        "3.0.0",
        &keys,
        &[("LAUNCHER_PAUSE_AT", "publish_locked")],
    );
    await_stderr(&mut first, "crash point `publish_locked` reached");
    let mut second = spawn_publish(&b, &s.repo, "3.0.1", &keys, &[]);
    let said = await_stderr(&mut second, "waiting for it to finish");
    assert!(
        said.contains(&s.repo.join("demo/.lock").display().to_string()),
        "the wait does not name the lock file: {said}"
    );
    // `promote` waits for the same lock.
    let mut promote = launcher();
    promote
        .args(["promote", "--repo"])
        .arg(&s.repo)
        .args([
            "--product",
            "demo",
            "--version",
            "2.9.0",
            "--channel",
            "test",
        ])
        .args(["--platform", PLATFORM, "--secret-key", sk])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut promote = promote.spawn().expect("start launcher promote");
    await_stderr(&mut promote, "waiting for it to finish");
    first.kill().unwrap();
    first.wait().unwrap();
    let status = second.wait().unwrap();
    assert!(
        status.success(),
        "the second publish failed after the first was killed"
    );
    let status = promote.wait().unwrap();
    assert!(
        status.success(),
        "the promote failed after the publish was killed"
    );
    let test_channel = s.repo.join(format!("demo/channels/test/{PLATFORM}.json"));
    assert_signed(&test_channel, &keys, "test channel");
    assert_signed(&s.channel(), &keys, "channel");
    assert_eq!(
        std::fs::read(s.channel()).unwrap(),
        std::fs::read(s.release("3.0.1")).unwrap()
    );
    assert!(
        !s.release("3.0.0").exists(),
        "the killed publish wrote a release"
    );
    // The lock file stays behind and blocks nothing.
    assert!(s.repo.join("demo/.lock").is_file());
    let c = sample_release(&s.root, "rel-c", "3.0.2");
    publish_on(&c, &s.repo, "3.0.2", &["--secret-key", sk]).success();
}
