//! Issue 5, signatures and policy: with `PublicKey` set, `run`, `check`, `fetch` and `verify --repair`
//! accept only manifests signed by that key; an unsigned manifest, one signed by another key, changed
//! content and a changed trusted comment are each refused by name, before any blob is downloaded, and
//! the installed version starts. Signatures made by the real `minisign` tool are accepted, and the
//! tool accepts ours. With a key, downgrades (except `rollback`) and expired manifests are refused.

use crate::common::{self, keygen_at, sig_path, site, Keys, LoggedServer, Run, Site};
use std::path::Path;
use std::process::{Command, Stdio};

/// Blob requests a `launcher serve -v` has logged so far.
fn blob_requests(server: &LoggedServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|l| l.contains("/blobs/"))
        .collect()
}

/// Ways to spoil a signed manifest, and the words the refusal must use.
struct Spoil {
    name: &'static str,
    apply: fn(&Path, &Keys),
    says: &'static str,
}

const SPOILS: &[Spoil] = &[
    Spoil {
        name: "unsigned",
        apply: |m, _| std::fs::remove_file(sig_path(m)).unwrap(),
        says: "the manifest is not signed",
    },
    Spoil {
        name: "signed by another key",
        apply: |m, other| {
            let bytes = std::fs::read(m).unwrap();
            common::write(
                &sig_path(m),
                common::sign_bytes(other, &bytes, "timestamp:0\tfile:x.json"),
            );
        },
        says: "the manifest is signed by another key",
    },
    Spoil {
        name: "content changed after signing",
        apply: |m, _| {
            // Still a valid manifest, so only the signature can catch it.
            let text = std::fs::read_to_string(m).unwrap();
            assert!(text.contains("\"mandatory\": false"), "{text}");
            common::write(
                m,
                text.replace("\"mandatory\": false", "\"mandatory\": true"),
            );
        },
        says: "its content was changed after signing",
    },
    Spoil {
        name: "trusted comment changed",
        apply: |m, _| {
            let sig = std::fs::read_to_string(sig_path(m)).unwrap();
            let changed = sig.replacen(
                "trusted comment: timestamp:",
                "trusted comment: timestamp:9",
                1,
            );
            assert_ne!(sig, changed, "{sig}");
            common::write(&sig_path(m), changed);
        },
        says: "the signature's trusted comment was changed after signing",
    },
];

/// A site with key `k` (and another key `o`), 1.0 installed from a `launcher serve -v`, and 2.0
/// published, signed by `k`.
fn signed_site() -> (Site, Keys, Keys, LoggedServer) {
    let s = site();
    let k = keygen_at(&s.root, "publisher");
    let o = keygen_at(&s.root, "other");
    let sk = k.sk.to_str().unwrap().to_string();
    s.publish("1.0", &["--secret-key", &sk]);
    let server = LoggedServer::start(&s.repo);
    s.config(server.url(), &format!("PublicKey = {}", k.b64));
    let first = s.launcher(&[]).success();
    s.assert_launched(&first, "1.0");
    s.publish("2.0", &["--secret-key", &sk]);
    (s, k, o, server)
}

#[test]
fn bad_signatures_are_refused_by_run_check_and_fetch_before_any_download() {
    let (s, _k, o, server) = signed_site();
    let channel = s.channel();
    let good = (
        std::fs::read(&channel).unwrap(),
        std::fs::read(sig_path(&channel)).unwrap(),
    );
    let blobs_before = blob_requests(&server).len();
    for spoil in SPOILS {
        common::write(&channel, &good.0);
        common::write(&sig_path(&channel), &good.1);
        (spoil.apply)(&channel, &o);
        let before = common::app_snapshot(&s.app);

        let run = s.launcher(&[]).success().stderr_has(spoil.says);
        s.assert_launched(&run, "1.0");
        common::assert_app_unchanged(&run, &s.app, &before);

        let check = s.launcher(&["check"]).failure().stderr_has(spoil.says);
        common::assert_app_unchanged(&check, &s.app, &before);
        let fetch = s.launcher(&["fetch"]).failure().stderr_has(spoil.says);
        common::assert_app_unchanged(&fetch, &s.app, &before);
        assert!(
            common::staged_files(&s.app).is_empty(),
            "{}: staged {:?}",
            spoil.name,
            common::staged_files(&s.app)
        );
        let blobs = blob_requests(&server);
        assert_eq!(
            blobs.len(),
            blobs_before,
            "{}: blobs were downloaded: {blobs:#?}",
            spoil.name
        );
    }
    // The untouched signature is accepted: 2.0 installs.
    common::write(&channel, &good.0);
    common::write(&sig_path(&channel), &good.1);
    let run = s.launcher(&[]).success();
    s.assert_launched(&run, "2.0");
    assert!(
        blob_requests(&server).len() > blobs_before,
        "2.0 downloaded nothing"
    );
    eprintln!(
        "{} kinds of bad signature refused by run, check and fetch",
        SPOILS.len()
    );
}

#[test]
fn verify_repair_takes_only_a_release_manifest_signed_by_the_key() {
    let (s, _k, o, server) = signed_site();
    let release = s.release("1.0");
    let good = (
        std::fs::read(&release).unwrap(),
        std::fs::read(sig_path(&release)).unwrap(),
    );
    let damaged = s.app.join("data/config.txt");
    common::write(&damaged, "damaged by someone\n");
    let blobs_before = blob_requests(&server).len();
    for spoil in SPOILS {
        common::write(&release, &good.0);
        common::write(&sig_path(&release), &good.1);
        (spoil.apply)(&release, &o);
        let before = common::app_snapshot(&s.app);
        let r = s
            .launcher(&["verify", "--repair"])
            .failure()
            .stderr_has(spoil.says);
        common::assert_app_unchanged(&r, &s.app, &before);
        assert_eq!(
            blob_requests(&server).len(),
            blobs_before,
            "{}: a blob was downloaded",
            spoil.name
        );
    }
    common::write(&release, &good.0);
    common::write(&sig_path(&release), &good.1);
    s.launcher(&["verify", "--repair"]).success();
    assert_eq!(
        std::fs::read(&damaged).unwrap(),
        std::fs::read(common::assets_app().join("data/config.txt")).unwrap()
    );
    s.launcher(&["verify"]).success();
}

// minisign is a Linux program: under Wine this scenario could only skip itself.
#[cfg(unix)]
#[test]
fn minisign_tool_signatures_are_accepted_and_minisign_accepts_ours() {
    if !common::require("minisign") {
        return;
    }
    let s = site();
    let (sk, pk) = (s.root.join("tool.key"), s.root.join("tool.pub"));
    common::minisign(
        &[
            "-G",
            "-W",
            "-s",
            sk.to_str().unwrap(),
            "-p",
            pk.to_str().unwrap(),
        ],
        "\n",
        &s.root,
    )
    .success();
    // 1.0: published unsigned, then signed by the tool with a trusted comment of its own.
    s.publish("1.0", &[]);
    for m in [s.channel(), s.release("1.0")] {
        assert!(!sig_path(&m).exists());
        common::minisign(
            &[
                "-S",
                "-s",
                sk.to_str().unwrap(),
                "-m",
                m.to_str().unwrap(),
                "-t",
                "signed by the minisign tool",
            ],
            "\n",
            &s.root,
        )
        .success();
        assert!(
            sig_path(&m).is_file(),
            "minisign wrote no `{}`",
            sig_path(&m).display()
        );
    }
    s.config_folder(&format!("PublicKey = {}", common::public_key_line(&pk)));
    let run = s.launcher(&[]).success();
    s.assert_launched(&run, "1.0");
    common::write(&s.app.join("bin/demo"), "#!/bin/sh\necho broken\n");
    s.launcher(&["verify", "--repair"]).success();
    s.launcher(&["verify"]).success();

    // 2.0: signed by `publish` with the tool's key; the tool accepts the signature, and so does the client.
    s.publish("2.0", &["--secret-key", sk.to_str().unwrap()]);
    for m in [s.channel(), s.release("2.0")] {
        common::minisign(
            &["-V", "-p", pk.to_str().unwrap(), "-m", m.to_str().unwrap()],
            "\n",
            &s.root,
        )
        .success()
        .stdout_has("version:2.0");
    }
    let run = s.launcher(&[]).success();
    s.assert_launched(&run, "2.0");
}

#[test]
fn with_a_key_an_older_channel_manifest_is_refused_and_only_rollback_goes_back() {
    let (s, k, _o, server) = signed_site();
    let run = s.launcher(&[]).success();
    s.assert_launched(&run, "2.0");
    // The channel is pointed back at 1.0 (a correctly signed, but older, manifest: a replay or a mistake).
    common::launcher_run(
        &[
            "promote",
            "--repo",
            s.repo.to_str().unwrap(),
            "--product",
            "demo",
            "--version",
            "1.0",
            "--channel",
            "stable",
            "--platform",
            common::PLATFORM,
            "--secret-key",
            k.sk.to_str().unwrap(),
            "--force",
        ],
        Some(&s.repo),
    )
    .success();
    let before = common::app_snapshot(&s.app);
    let blobs_before = blob_requests(&server).len();
    let says = "is older than the installed 2.0";
    let run = s.launcher(&[]).success().stderr_has(says);
    s.assert_launched(&run, "2.0");
    common::assert_app_unchanged(&run, &s.app, &before);
    s.launcher(&["check"]).failure().stderr_has(says);
    s.launcher(&["fetch"]).failure().stderr_has(says);
    common::assert_app_unchanged(&run, &s.app, &before);
    assert_eq!(
        blob_requests(&server).len(),
        blobs_before,
        "a blob was downloaded"
    );

    // `rollback` goes back with the key set, and 2.0 is held afterwards.
    s.launcher(&["rollback"]).success();
    let run = s.launcher(&[]).success();
    s.assert_launched(&run, "1.0");
    s.launcher(&["verify"]).success();
}

/// Runs `cmd` with the clock moved by `offset` (`faketime '+3 days'`).
fn under_faketime(s: &Site, offset: &str, args: &[&str]) -> Run {
    let mut c = Command::new("faketime");
    c.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        c.env("PATH", path);
    }
    c.env("NO_COLOR", "1").stdin(Stdio::null());
    c.arg(offset)
        .arg(common::BIN)
        .arg("--config")
        .arg(&s.ini)
        .args(args);
    common::run(c, Some(&s.app))
}

#[test]
fn with_a_key_an_expired_manifest_is_refused_and_status_shows_the_expiry() {
    let (s, k, _o, server) = signed_site();
    // 2.0 again, expiring one day after publishing.
    std::fs::remove_dir_all(s.repo.join("demo/releases/2.0")).unwrap();
    s.publish(
        "2.0",
        &["--secret-key", k.sk.to_str().unwrap(), "--expires", "1"],
    );
    let expires = s.read_json(&s.channel())["expires"]
        .as_str()
        .unwrap()
        .to_string();
    let says = format!("it expired on {expires}");
    let blobs_before = blob_requests(&server).len();

    // A hand-made manifest whose `expires` is already past, correctly signed: refused, whatever the clock.
    let good = (
        std::fs::read(s.channel()).unwrap(),
        std::fs::read(sig_path(&s.channel())).unwrap(),
    );
    let mut old = s.read_json(&s.channel());
    old["expires"] = "2001-01-01T00:00:00Z".into();
    s.put_manifest(
        &s.channel(),
        &serde_json::to_vec_pretty(&old).unwrap(),
        Some(&k),
    );
    let before = common::app_snapshot(&s.app);
    let run = s
        .launcher(&[])
        .success()
        .stderr_has("it expired on 2001-01-01T00:00:00Z");
    s.assert_launched(&run, "1.0");
    common::assert_app_unchanged(&run, &s.app, &before);
    s.launcher(&["check"])
        .failure()
        .stderr_has("it expired on 2001-01-01");
    common::write(&s.channel(), &good.0);
    common::write(&sig_path(&s.channel()), &good.1);

    // The real manifest, three days later (faketime), is refused the same way.
    if common::require("faketime") {
        let run = under_faketime(&s, "+3 days", &[])
            .success()
            .stderr_has(&says);
        s.assert_launched(&run, "1.0");
        common::assert_app_unchanged(&run, &s.app, &before);
        under_faketime(&s, "+3 days", &["check"])
            .failure()
            .stderr_has(&says);
    }
    assert_eq!(
        blob_requests(&server).len(),
        blobs_before,
        "a blob was downloaded"
    );

    // Today it is valid: 2.0 installs, and `status` says when its manifest expires.
    let run = s.launcher(&[]).success();
    s.assert_launched(&run, "2.0");
    s.launcher(&["status"])
        .success()
        .stdout_has(&format!("expires {expires} (in 23 hours)"));
    let json = s.launcher(&["status", "--json"]).success().stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["expires"].as_str(), Some(expires.as_str()), "{json}");
    assert_eq!(v["expired"].as_bool(), Some(false), "{json}");
    if common::require("faketime") {
        // Three days on, `status` says the manifest has expired (and updates from it are refused).
        under_faketime(&s, "+3 days", &["status"])
            .success()
            .stdout_has(&format!("expired {expires} ("));
    }
}
