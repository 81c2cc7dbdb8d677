//! Keys and signatures interoperate with the real `minisign` tool, both ways: keys from `launcher keygen`
//! sign and verify with `minisign`, keys from `minisign -G` sign `launcher publish`, and `minisign -V`
//! accepts what `publish` signs. Encrypted keys take their password from `LAUNCHER_KEY_PASSWORD`.

use crate::common::{self, assert_unchanged, launcher, snapshot, Run};
// The minisign scenarios are Unix-only (minisign is a Linux program); so is what only they use.
#[cfg(unix)]
use crate::common::{minisign, sample_release};
use std::path::Path;
#[cfg(unix)]
use std::path::PathBuf;

fn keygen(dir: &Path, sk: &Path, pk: &Path, extra: &[&str], password: Option<&str>) -> Run {
    let mut c = launcher();
    c.args([
        "keygen",
        "--secret-key",
        sk.to_str().unwrap(),
        "--public-key",
        pk.to_str().unwrap(),
    ])
    .args(extra);
    if let Some(p) = password {
        c.env("LAUNCHER_KEY_PASSWORD", p);
    }
    common::run(c, Some(dir))
}

#[cfg(unix)] // used by the minisign scenarios only
fn publish_signed(tmp: &Path, repo: &Path, key: &Path, password: Option<&str>) -> Run {
    let rel = tmp.join("release");
    if !rel.exists() {
        sample_release(tmp, "release", "1.0");
    }
    let mut c = common::publish_command(
        &rel,
        repo,
        "demo",
        "1.0",
        &[
            "--executable",
            "bin/demo",
            "--platform",
            common::PLATFORM,
            "--secret-key",
            key.to_str().unwrap(),
        ],
    );
    if let Some(p) = password {
        c.env("LAUNCHER_KEY_PASSWORD", p);
    }
    common::run(c, Some(repo))
}

#[cfg(unix)] // used by the minisign scenarios only
fn manifests(repo: &Path) -> [PathBuf; 2] {
    let name = format!("{}.json", common::PLATFORM);
    [
        repo.join("demo/channels/stable").join(&name),
        repo.join("demo/releases/1.0").join(name),
    ]
}

/// `minisign -V` of both manifests against `pk`, with the signature at minisign's default `<file>.minisig`.
#[cfg(unix)] // used by the minisign scenarios only
fn verify_with_minisign(repo: &Path, pk: &Path) {
    for m in manifests(repo) {
        assert!(
            m.with_extension("json.minisig").is_file(),
            "no signature beside `{}`\n{}",
            m.display(),
            common::listing(repo)
        );
        minisign(
            &["-V", "-p", pk.to_str().unwrap(), "-m", m.to_str().unwrap()],
            "",
            repo,
        )
        .success()
        .stdout_has("Trusted comment: ")
        .stdout_has("product:demo")
        .stdout_has("version:1.0");
    }
}

// minisign is a Linux program: under Wine this scenario could only skip itself.
#[cfg(unix)]
#[test]
fn keys_from_launcher_keygen_work_with_minisign() {
    if !common::require("minisign") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (sk, pk) = (d.join("keys/launcher.key"), d.join("keys/launcher.pub"));
    let run = keygen(d, &sk, &pk, &[], None)
        .success()
        .stderr_has("PublicKey = RW");
    // The line printed for launcher.ini is the public key file's key line.
    let pub_text = std::fs::read_to_string(&pk).unwrap();
    let key_line = pub_text.lines().nth(1).unwrap_or_default().to_string();
    let run = run.stderr_has(&format!("PublicKey = {key_line}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode,
            0o600,
            "the secret key is readable by others{}",
            run.explain()
        );
    }

    let file = d.join("report.txt");
    common::write(&file, "signed by a launcher key\n");
    minisign(
        &[
            "-S",
            "-s",
            sk.to_str().unwrap(),
            "-m",
            file.to_str().unwrap(),
        ],
        "",
        d,
    )
    .success();
    minisign(
        &[
            "-V",
            "-p",
            pk.to_str().unwrap(),
            "-m",
            file.to_str().unwrap(),
        ],
        "",
        d,
    )
    .success()
    .stdout_has("Signature and comment signature verified");
    minisign(
        &["-V", "-P", &key_line, "-m", file.to_str().unwrap()],
        "",
        d,
    )
    .success();
    // And a changed file is refused, so the check above means something.
    common::write(&file, "signed by a launcher key, then changed\n");
    minisign(
        &[
            "-V",
            "-p",
            pk.to_str().unwrap(),
            "-m",
            file.to_str().unwrap(),
        ],
        "",
        d,
    )
    .failure();
}

// minisign is a Linux program: under Wine this scenario could only skip itself.
#[cfg(unix)]
#[test]
fn publish_signs_with_an_unencrypted_minisign_key_and_minisign_verifies() {
    if !common::require("minisign") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (sk, pk) = (d.join("minisign.key"), d.join("minisign.pub"));
    minisign(
        &[
            "-G",
            "-W",
            "-p",
            pk.to_str().unwrap(),
            "-s",
            sk.to_str().unwrap(),
        ],
        "",
        d,
    )
    .success();
    let repo = d.join("repo");
    publish_signed(d, &repo, &sk, None).success();
    verify_with_minisign(&repo, &pk);

    // A signature made by another key is refused by minisign, so the check is not vacuous.
    let (sk2, pk2) = (d.join("other.key"), d.join("other.pub"));
    minisign(
        &[
            "-G",
            "-W",
            "-p",
            pk2.to_str().unwrap(),
            "-s",
            sk2.to_str().unwrap(),
        ],
        "",
        d,
    )
    .success();
    let [channel, _] = manifests(&repo);
    minisign(
        &[
            "-V",
            "-p",
            pk2.to_str().unwrap(),
            "-m",
            channel.to_str().unwrap(),
        ],
        "",
        d,
    )
    .failure();
}

// minisign is a Linux program: under Wine this scenario could only skip itself.
#[cfg(unix)]
#[test]
fn publish_opens_an_encrypted_minisign_key_with_the_password_from_the_environment() {
    if !common::require("minisign") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (sk, pk) = (d.join("enc.key"), d.join("enc.pub"));
    // minisign reads the password twice from a stdin that is not a terminal.
    let made = minisign(
        &["-G", "-p", pk.to_str().unwrap(), "-s", sk.to_str().unwrap()],
        "pw\npw\n",
        d,
    );
    if made.code() != 0 || !sk.is_file() {
        crate::common::skip(format_args!(
            "this minisign cannot create an encrypted key without a terminal{}",
            made.explain()
        ));
        return;
    }
    let repo = d.join("repo");

    // Without the variable, and stdin not a terminal: refused, naming the variable, nothing written.
    let run = publish_signed(d, &repo, &sk, None)
        .failure()
        .stderr_has("is encrypted")
        .stderr_has("LAUNCHER_KEY_PASSWORD");
    assert_unchanged(&run, &repo, &None);

    let run = publish_signed(d, &repo, &sk, Some("not-pw"))
        .failure()
        .stderr_has("wrong password")
        .stderr_has(sk.to_str().unwrap());
    assert_unchanged(&run, &repo, &None);

    publish_signed(d, &repo, &sk, Some("pw")).success();
    verify_with_minisign(&repo, &pk);
}

// minisign is a Linux program: under Wine this scenario could only skip itself.
#[cfg(unix)]
#[test]
fn encrypted_key_from_launcher_keygen_works_with_minisign() {
    if !common::require("minisign") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (sk, pk) = (d.join("enc.key"), d.join("enc.pub"));
    keygen(d, &sk, &pk, &["--password"], Some("s3cret")).success();
    let file = d.join("report.txt");
    common::write(&file, "signed with an encrypted launcher key\n");
    let sign = |password: &str| {
        minisign(
            &[
                "-S",
                "-s",
                sk.to_str().unwrap(),
                "-m",
                file.to_str().unwrap(),
            ],
            password,
            d,
        )
    };
    // The key really is encrypted: the wrong password does not open it.
    sign("wrong\n").failure();
    assert!(
        !d.join("report.txt.minisig").exists(),
        "minisign signed with the wrong password"
    );
    sign("s3cret\n").success();
    minisign(
        &[
            "-V",
            "-p",
            pk.to_str().unwrap(),
            "-m",
            file.to_str().unwrap(),
        ],
        "",
        d,
    )
    .success();

    // The launcher opens its own encrypted key the same way.
    let repo = d.join("repo");
    publish_signed(d, &repo, &sk, Some("wrong"))
        .failure()
        .stderr_has("wrong password");
    publish_signed(d, &repo, &sk, Some("s3cret")).success();
    verify_with_minisign(&repo, &pk);
}

#[test]
fn keygen_password_without_a_terminal_or_variable_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (sk, pk) = (d.join("k.key"), d.join("k.pub"));
    let run = keygen(d, &sk, &pk, &["--password"], None)
        .failure()
        .stderr_has("LAUNCHER_KEY_PASSWORD");
    assert!(
        !sk.exists() && !pk.exists(),
        "keygen wrote a key anyway{}",
        run.explain()
    );
}

#[test]
fn keygen_refuses_to_overwrite_existing_keys_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (sk, pk) = (d.join("k.key"), d.join("k.pub"));
    keygen(d, &sk, &pk, &[], None).success();
    let before = snapshot(d);
    let run = keygen(d, &sk, &pk, &[], None)
        .failure()
        .stderr_has(&format!(
            "`{}` already exists; pass --force to overwrite it",
            sk.display()
        ));
    assert_unchanged(&run, d, &before);

    // Only the public key left: still refused, and the secret key is not written beside it.
    std::fs::remove_file(&sk).unwrap();
    let before = snapshot(d);
    let run = keygen(d, &sk, &pk, &[], None)
        .failure()
        .stderr_has(&format!("`{}` already exists", pk.display()));
    assert_unchanged(&run, d, &before);

    let old_pub = std::fs::read(&pk).unwrap();
    let run = keygen(d, &sk, &pk, &["--force"], None).success();
    assert!(sk.is_file(), "--force wrote no secret key{}", run.explain());
    assert_ne!(
        std::fs::read(&pk).unwrap(),
        old_pub,
        "--force kept the old public key{}",
        run.explain()
    );
}
