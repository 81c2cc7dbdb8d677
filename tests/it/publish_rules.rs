//! What `publish` refuses or corrects in a release (issue 9, item 13): an executable without its
//! executable bit, a second spelling of a published version, and invisible or text-direction
//! characters in file names, each with the real binary and a client installing what was published.

use crate::common::{self, *};
use std::os::unix::fs::PermissionsExt;

#[test]
fn an_executable_without_the_executable_bit_is_published_as_executable_and_starts() {
    let s = site();
    let rel = sample_release(&s.root, "rel", "1.0.0");
    let exe = rel.join("bin/demo");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = publish_on(&rel, &s.repo, "1.0.0", &[]).success();
    assert!(
        r.stderr().contains("`bin/demo` has no executable bit")
            && r.stderr().contains("published as executable"),
        "publish did not say it set the bit{}",
        r.explain()
    );
    let m = s.read_json(&s.channel());
    let entry = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "bin/demo")
        .unwrap();
    assert_eq!(entry["exec"], true, "{m}");
    s.config_folder("");
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0.0");
    let mode = std::fs::metadata(s.app.join("bin/demo"))
        .unwrap()
        .permissions()
        .mode();
    assert_ne!(
        mode & 0o111,
        0,
        "the installed executable has no executable bit"
    );
    // Publishing the same folder again is the same release, not "other content".
    publish_on(&rel, &s.repo, "1.0.0", &[])
        .success()
        .stderr_has("Nothing to do");
}

#[test]
fn a_second_spelling_of_a_published_version_is_refused_naming_the_first() {
    let s = site();
    let rel = sample_release(&s.root, "rel", "1.0");
    publish_on(&rel, &s.repo, "1.0", &[]).success();
    let other = sample_release(&s.root, "rel-other", "1.00");
    for spelling in ["1.00", "01.0", "1.0.0", "1"] {
        for source in [&rel, &other] {
            let r = publish_on(source, &s.repo, spelling, &[]).failure();
            assert!(
                r.stderr().contains(&format!(
                    "version {spelling} of `demo` is already published as `1.0`"
                )) && r.stderr().contains("--version 1.0"),
                "{spelling} was not refused as a second spelling of 1.0{}",
                r.explain()
            );
        }
    }
    let releases: Vec<String> = std::fs::read_dir(s.repo.join("demo/releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(releases, vec!["1.0".to_string()]);
    // Semver build metadata does not make a new version either.
    publish_on(&rel, &s.repo, "2.0.0+build.1", &[]).success();
    publish_on(&other, &s.repo, "2.0.0+build.2", &[])
        .failure()
        .stderr_has("already published as `2.0.0+build.1`");
    // promote with another spelling is told the published one.
    let r = common::launcher_run(
        &[
            "promote",
            "--repo",
            s.repo.to_str().unwrap(),
            "--product",
            "demo",
            "--version",
            "1.00",
            "--channel",
            "test",
            "--platform",
            PLATFORM,
        ],
        Some(&s.repo),
    )
    .failure();
    assert!(
        r.stderr().contains("published as `1.0`: use --version 1.0"),
        "{}",
        r.explain()
    );
    // The client installs the channel's release (2.0.0+build.1, made of the 1.0 folder).
    s.config_folder("");
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0");
}

#[test]
fn invisible_and_text_direction_characters_in_release_names_are_refused() {
    let s = site();
    let rel = sample_release(&s.root, "rel", "1.0.0");
    // `evil<RLO>txt.exe` shows as `evilexe.txt`; `de<ZWSP>mo` looks like `demo`; a BOM and a word joiner hide.
    let names = [
        "docs/evil\u{202e}txt.exe",
        "bin/de\u{200b}mo",
        "data/\u{feff}config.txt",
        "data/a\u{2060}b",
        "data/\u{2067}isolate",
    ];
    for n in names {
        write(&rel.join(n), "x");
    }
    let r = publish_on(&rel, &s.repo, "1.0.0", &[]).failure();
    let err = r.stderr();
    let shown_as = [
        "docs/evil\\u{202e}txt.exe",
        "bin/de\\u{200b}mo",
        "data/\\u{feff}config.txt",
        "data/a\\u{2060}b",
        "data/\\u{2067}isolate",
    ];
    let codes = ["U+202E", "U+200B", "U+FEFF", "U+2060", "U+2067"];
    for (shown, code) in shown_as.iter().zip(codes) {
        assert!(
            err.contains(&format!(
                "`{shown}`: the invisible or text-direction character {code}"
            )),
            "`{shown}` is not refused with its character{}",
            r.explain()
        );
    }
    assert!(
        !err.contains(['\u{202e}', '\u{200b}', '\u{feff}', '\u{2060}', '\u{2067}']),
        "the refusal prints the hidden characters raw{}",
        r.explain()
    );
    assert!(
        !s.repo.join("demo/releases").exists(),
        "something was published"
    );
}

#[test]
fn publishing_without_a_key_warns_that_the_release_is_unsigned_and_with_a_key_does_not() {
    let s = site();
    let rel = sample_release(&s.root, "rel", "1.0.0");
    let r = publish_on(&rel, &s.repo, "1.0.0", &[]).success();
    assert!(
        r.stderr()
            .contains("demo 1.0.0 was published unsigned (no --secret-key)")
            && r.stderr().contains("launcher keygen"),
        "publish without a key did not warn{}",
        r.explain()
    );
    assert!(
        !s.channel().with_extension("json.minisig").exists(),
        "an unsigned publish wrote a signature"
    );
    let keys = keygen_at(&s.root, "publisher");
    let rel = sample_release(&s.root, "rel2", "1.0.1");
    let r = publish_on(
        &rel,
        &s.repo,
        "1.0.1",
        &["--secret-key", keys.sk.to_str().unwrap()],
    )
    .success();
    assert!(
        !r.stderr().contains("unsigned"),
        "a signed publish warned about signing{}",
        r.explain()
    );
    s.config_folder(&format!("PublicKey = {}", keys.b64));
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0.1");
}
