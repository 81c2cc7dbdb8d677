//! `launcher publish` and `launcher promote` against a real repository folder: the layout and every
//! manifest field checked against hashes, sizes and dates the test computes itself, blob sharing between
//! releases, version ordering, and each refusal (with nothing written to the repository).

use crate::common::{
    self, assert_unchanged, launcher_run, publish_command, publish_on, sample_release, sha256_hex,
    snapshot, PLATFORM,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn channel_manifest(repo: &Path, channel: &str) -> PathBuf {
    repo.join("demo/channels")
        .join(channel)
        .join(format!("{PLATFORM}.json"))
}

fn release_manifest(repo: &Path, version: &str) -> PathBuf {
    repo.join("demo/releases")
        .join(version)
        .join(format!("{PLATFORM}.json"))
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()));
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("`{}` is not JSON: {e}", path.display()))
}

/// Every regular file below `dir`, as `/`-separated relative paths.
fn files_below(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeSet<String>) {
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('\\', "/");
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

fn set_mtime(path: &Path, t: SystemTime) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// `YYYY-MM-DDTHH:MM:SSZ` to seconds since the epoch, written here so the test does not trust the
/// product's own date code.
fn rfc3339_utc_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19))
}

/// Finds the stored blob of `sha`: `(path, compressed)`; asserts there is exactly one form of it.
fn blob_of(repo: &Path, sha: &str) -> (PathBuf, bool) {
    let raw = repo.join("demo/blobs").join(&sha[..2]).join(sha);
    let zst = raw.with_file_name(format!("{sha}.zst"));
    match (raw.is_file(), zst.is_file()) {
        (true, false) => (raw, false),
        (false, true) => (zst, true),
        (r, z) => panic!(
            "blob {sha}: raw present {r}, zst present {z}\n{}",
            common::listing(repo)
        ),
    }
}

/// Checks a blob's content against the bytes it stands for: raw blobs byte for byte, compressed ones
/// by their zstd magic and, when the `zstd` tool is installed, by decompressing them.
fn check_blob(repo: &Path, sha: &str, content: &[u8]) {
    let (path, compressed) = blob_of(repo, sha);
    let stored = fs::read(&path).unwrap();
    if !compressed {
        assert_eq!(
            sha256_hex(&stored),
            sha,
            "raw blob `{}` does not hash to its name",
            path.display()
        );
        assert_eq!(
            stored,
            content,
            "raw blob `{}` differs from the file",
            path.display()
        );
        return;
    }
    assert!(
        stored.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]),
        "`{}` does not start with the zstd magic",
        path.display()
    );
    assert!(
        (stored.len() as u64) < content.len() as u64,
        "`{}` is stored compressed but is not smaller ({} >= {})",
        path.display(),
        stored.len(),
        content.len()
    );
    if common::have("zstd") {
        let out = std::process::Command::new("zstd")
            .args(["-d", "-c", "-q"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "zstd -d `{}` failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            sha256_hex(&out.stdout),
            sha,
            "`{}` does not decompress to its content",
            path.display()
        );
    } else {
        eprintln!(
            "note: `zstd` is not installed; compressed blobs were checked by their magic only"
        );
    }
}

#[test]
fn publish_writes_layout_and_manifest_matching_independent_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let rel = sample_release(tmp.path(), "release", "7.04.200");
    common::write(&rel.join("data/empty.dat"), b"");
    // Same content as docs/README.txt under another name: one blob for both.
    fs::copy(
        rel.join("docs/README.txt"),
        rel.join("docs/README-copy.txt"),
    )
    .unwrap();
    let repo = tmp.path().join("repo");

    // Known dates, including one with a fraction of a second (whole seconds, not rounded up), one
    // before 2000, and a leap day.
    let dates: BTreeMap<&str, (u64, u32, &str)> = [
        ("VERSION", (1_700_000_000, 0, "2023-11-14T22:13:20Z")),
        (
            "bin/demo",
            (946_684_799, 999_000_000, "1999-12-31T23:59:59Z"),
        ),
        ("bin/demo.cmd", (951_782_400, 0, "2000-02-29T00:00:00Z")),
        (
            "data/catalog.dat",
            (1_234_567_890, 500_000_000, "2009-02-13T23:31:30Z"),
        ),
        (
            "data/config.txt",
            (1_735_689_599, 0, "2024-12-31T23:59:59Z"),
        ),
        ("data/empty.dat", (2_000_000_000, 0, "2033-05-18T03:33:20Z")),
        (
            "data/old-notes.txt",
            (1_700_000_000, 0, "2023-11-14T22:13:20Z"),
        ),
        (
            "docs/README-copy.txt",
            (1_700_003_601, 0, "2023-11-14T23:13:21Z"),
        ),
        (
            "docs/README.txt",
            (1_700_000_000, 0, "2023-11-14T22:13:20Z"),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        files_below(&rel),
        dates.keys().map(|s| s.to_string()).collect(),
        "the sample tree changed"
    );
    for (path, (secs, nanos, _)) in &dates {
        set_mtime(&rel.join(path), UNIX_EPOCH + Duration::new(*secs, *nanos));
    }

    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let run = publish_on(&rel, &repo, "7.04.200", &[]).success();
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let unique: BTreeSet<String> = dates
        .keys()
        .map(|p| sha256_hex(&fs::read(rel.join(p)).unwrap()))
        .collect();
    let run = run
        .stderr_has("Published demo 7.04.200 for linux-x86_64 on `stable`: 9 files")
        .stderr_has(&format!("{} new blobs", unique.len()));

    // Layout: exactly the two manifests and one blob per distinct content, nothing else (no temp files).
    let mut expected: BTreeSet<String> = unique
        .iter()
        .map(|sha| {
            let (path, _) = blob_of(&repo, sha);
            path.strip_prefix(&repo)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/")
        })
        .collect();
    expected.insert(format!("demo/channels/stable/{PLATFORM}.json"));
    expected.insert(format!("demo/releases/7.04.200/{PLATFORM}.json"));
    // The channel's release index (issue 13, `Pin`).
    expected.insert(format!("demo/channels/stable/index/{PLATFORM}.json"));
    // The product's publish lock: an empty file, locked only while a publish or promote runs.
    expected.insert("demo/.lock".to_string());
    assert_eq!(
        files_below(&repo),
        expected,
        "repository layout{}",
        run.explain()
    );

    // The release manifest and the channel manifest are the same bytes after a first publish.
    let release_bytes = fs::read(release_manifest(&repo, "7.04.200")).unwrap();
    let channel_bytes = fs::read(channel_manifest(&repo, "stable")).unwrap();
    assert_eq!(
        release_bytes,
        channel_bytes,
        "release and channel manifests differ{}",
        run.explain()
    );

    let m = read_json(&channel_manifest(&repo, "stable"));
    assert_eq!(m["format"], 1);
    assert_eq!(m["product"], "demo");
    assert_eq!(m["version"], "7.04.200");
    assert_eq!(m["channel"], "stable");
    assert_eq!(m["platform"], PLATFORM);
    assert_eq!(m["executable"], common::APP_EXE);
    assert_eq!(m["mandatory"], false);
    assert!(m["expires"].is_null(), "expires: {}", m["expires"]);
    let published = m["published"].as_str().expect("published is a string");
    let published_secs = rfc3339_utc_seconds(published)
        .unwrap_or_else(|| panic!("published `{published}` is not YYYY-MM-DDTHH:MM:SSZ"));
    assert!(
        (before..=after).contains(&published_secs),
        "published `{published}` ({published_secs}) is not between {before} and {after}"
    );

    let files = m["files"].as_array().expect("files is an array");
    let listed: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "files are not sorted by path");
    assert_eq!(
        listed,
        dates.keys().copied().collect::<Vec<_>>(),
        "listed files"
    );
    for f in files {
        let path = f["path"].as_str().unwrap();
        let content = fs::read(rel.join(path)).unwrap();
        assert_eq!(f["sha256"], sha256_hex(&content), "`{path}` sha256");
        assert_eq!(f["size"], content.len() as u64, "`{path}` size");
        assert_eq!(f["mtime"], dates[path].2, "`{path}` mtime");
        let exec = f
            .get("exec")
            .map(|e| e.as_bool().expect("exec is a bool"))
            .unwrap_or(false);
        // The file given as `--executable` is always published executable (on Windows, where files
        // have no executable bit, it is the only one).
        assert_eq!(exec, path == crate::common::APP_EXE, "`{path}` exec");
        let sha = f["sha256"].as_str().unwrap();
        check_blob(&repo, sha, &content);
        // `zsize` is there exactly when the blob is stored compressed, and is its size in the repository:
        // clients pick the blob's name and the download size from it.
        let (blob, compressed) = blob_of(&repo, sha);
        let zsize = f
            .get("zsize")
            .map(|z| z.as_u64().expect("zsize is a number"));
        let expected = compressed.then(|| fs::metadata(&blob).unwrap().len());
        assert_eq!(zsize, expected, "`{path}` zsize for `{}`", blob.display());
    }
    // Unsigned: no signature files anywhere.
    assert!(
        files_below(&repo).iter().all(|p| !p.ends_with(".minisig")),
        "unsigned publish wrote a signature\n{}",
        common::listing(&repo)
    );
}

#[test]
fn two_releases_share_their_common_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let v1 = sample_release(tmp.path(), "v1", "7.04.200");
    publish_on(&v1, &repo, "7.04.200", &[])
        .success()
        .stderr_has("7 new blobs");
    let blobs_before = files_below(&repo.join("demo/blobs"));
    let release1 = fs::read(release_manifest(&repo, "7.04.200")).unwrap();

    // The same tree with only VERSION changed.
    let v2 = sample_release(tmp.path(), "v2", "7.05.100");
    let run = publish_on(&v2, &repo, "7.05.100", &[])
        .success()
        .stderr_has(" 1 new blobs");
    let blobs_after = files_below(&repo.join("demo/blobs"));
    let added: Vec<&String> = blobs_after.difference(&blobs_before).collect();
    assert_eq!(added.len(), 1, "new blobs: {added:?}{}", run.explain());
    assert!(
        blobs_before.is_subset(&blobs_after),
        "a blob disappeared{}",
        run.explain()
    );
    let version_sha = sha256_hex(b"7.05.100\n");
    assert!(
        added[0].contains(&version_sha),
        "the new blob {} is not VERSION's content",
        added[0]
    );

    // Both manifests point into the shared store; the first release was not rewritten.
    assert_eq!(
        fs::read(release_manifest(&repo, "7.04.200")).unwrap(),
        release1
    );
    let m1 = read_json(release_manifest(&repo, "7.04.200").as_path());
    let m2 = read_json(&channel_manifest(&repo, "stable"));
    assert_eq!(m2["version"], "7.05.100");
    for (a, b) in m1["files"]
        .as_array()
        .unwrap()
        .iter()
        .zip(m2["files"].as_array().unwrap())
    {
        assert_eq!(a["path"], b["path"]);
        assert_eq!(
            a["sha256"] == b["sha256"],
            a["path"] != "VERSION",
            "{} vs {}",
            a,
            b
        );
        blob_of(&repo, b["sha256"].as_str().unwrap());
    }
}

#[test]
fn publish_refuses_same_version_with_other_content() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "1.0");
    publish_on(&rel, &repo, "1.0", &[]).success();
    let before = snapshot(&repo);
    common::write(&rel.join("data/config.txt"), "colour = blue\n");
    let run = publish_on(&rel, &repo, "1.0", &[])
        .failure()
        .stderr_has(
            "version 1.0 of `demo` for linux-x86_64 is already published with other content",
        )
        .stderr_has("`data/config.txt` changed")
        .stderr_has("publish it as a new version");
    assert_unchanged(&run, &repo, &before);

    // A file added or removed is other content too.
    common::write(
        &rel.join("data/config.txt"),
        fs::read(common::assets_app().join("data/config.txt")).unwrap(),
    );
    common::write(&rel.join("data/extra.txt"), "new\n");
    let run = publish_on(&rel, &repo, "1.0", &[])
        .failure()
        .stderr_has("`data/extra.txt` is new");
    assert_unchanged(&run, &repo, &before);
    fs::remove_file(rel.join("data/extra.txt")).unwrap();
    fs::remove_file(rel.join("data/old-notes.txt")).unwrap();
    let run = publish_on(&rel, &repo, "1.0", &[])
        .failure()
        .stderr_has("`data/old-notes.txt` is gone");
    assert_unchanged(&run, &repo, &before);
}

#[test]
fn publish_refuses_an_older_version_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let new = sample_release(tmp.path(), "new", "2.0");
    let old = sample_release(tmp.path(), "old", "1.5");
    publish_on(&new, &repo, "2.0", &[]).success();
    let before = snapshot(&repo);
    let run = publish_on(&old, &repo, "1.5", &[])
        .failure()
        .stderr_has("channel `stable` is at version 2.0, newer than 1.5")
        .stderr_has("--force");
    assert_unchanged(&run, &repo, &before);

    let run = publish_on(&old, &repo, "1.5", &["--force"]).success();
    let m = read_json(&channel_manifest(&repo, "stable"));
    assert_eq!(m["version"], "1.5", "{}", run.explain());
    assert!(
        release_manifest(&repo, "2.0").is_file(),
        "release 2.0 was removed{}",
        run.explain()
    );
    assert!(
        release_manifest(&repo, "1.5").is_file(),
        "release 1.5 is missing{}",
        run.explain()
    );
}

#[test]
fn publish_refuses_an_executable_that_is_not_in_the_release_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "1.0");
    let run = common::run(
        publish_command(
            &rel,
            &repo,
            "demo",
            "1.0",
            &["--platform", PLATFORM, "--executable", "bin/missing"],
        ),
        Some(tmp.path()),
    )
    .failure()
    .stderr_has("the executable `bin/missing` is not a file in the release folder");
    assert_unchanged(&run, &repo, &None);

    // A folder is not a file either.
    let run = common::run(
        publish_command(
            &rel,
            &repo,
            "demo",
            "1.0",
            &["--platform", PLATFORM, "--executable", "bin"],
        ),
        Some(tmp.path()),
    )
    .failure()
    .stderr_has("the executable `bin` is not a file");
    assert_unchanged(&run, &repo, &None);
}

#[cfg(unix)]
#[test]
fn publish_refuses_a_symlink_in_the_release_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "1.0");
    std::os::unix::fs::symlink("../VERSION", rel.join("data/link.txt")).unwrap();
    std::os::unix::fs::symlink("/nonexistent", rel.join("dangling")).unwrap();
    let run = publish_on(&rel, &repo, "1.0", &[])
        .failure()
        .stderr_has("`data/link.txt`: symbolic links cannot be published")
        .stderr_has("`dangling`: symbolic links cannot be published");
    assert_unchanged(&run, &repo, &None);
}

#[cfg(unix)]
#[test]
fn publish_refuses_a_fifo_in_the_release_folder() {
    if !common::require("mkfifo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "1.0");
    let fifo = rel.join("data/pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    // If publish opened the pipe to hash it, it would hang here; the test would time out.
    let run = publish_on(&rel, &repo, "1.0", &[])
        .failure()
        .stderr_has("`data/pipe`: not a regular file");
    assert_unchanged(&run, &repo, &None);
}

/// Most of these names cannot exist in a Windows folder at all; there, the same rules are checked on
/// the client by the hostile-manifest table (tests/it/hostile.rs), which runs under Wine.
#[cfg(unix)]
#[test]
fn publish_refuses_bad_names_listing_every_path() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "1.0");
    let bad: &[(&str, &str)] = &[
        ("a:b", "drive letters are not allowed"),
        ("data/x:y", "`:` is not allowed"),
        ("CON.txt", "`CON.txt` is a reserved device name on Windows"),
        ("docs/nul", "`nul` is a reserved device name on Windows"),
        ("trailing.", "a name may not end with a dot or a space"),
        ("data/space ", "a name may not end with a dot or a space"),
        ("back\\slash", "backslashes are not allowed"),
        ("q?.txt", "`?` is not allowed in a file name on Windows"),
        ("a.txt", "differs from `A.txt` only in case"),
        ("bkp.001/x.txt", "(a backup folder) belongs to the launcher"),
        (
            ".launcher/state.json",
            "`.launcher/` belongs to the launcher",
        ),
    ];
    common::write(&rel.join("A.txt"), "upper\n");
    for (path, _) in bad {
        common::write(&rel.join(path), format!("{path}\n"));
    }
    let run = publish_on(&rel, &repo, "1.0", &[])
        .failure()
        .stderr_has("file(s) that cannot be published");
    for (path, reason) in bad {
        let line = run
            .stderr()
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("`{path}`: ")))
            .map(str::to_string);
        let Some(line) = line else {
            panic!("stderr does not list `{path}`{}", run.explain());
        };
        assert!(
            line.contains(reason),
            "`{path}` is listed without the reason {reason:?}: {line}{}",
            run.explain()
        );
    }
    // The folders themselves are named too, and the good files are not listed.
    let run = run
        .stderr_has("`bkp.001/`: the name belongs to the launcher")
        .stderr_has("`.launcher/`");
    for good in ["`A.txt`", "`bin/demo`", "`VERSION`", "`docs/README.txt`"] {
        assert!(
            !run.stderr()
                .lines()
                .any(|l| l.trim_start().starts_with(good)),
            "{good} is listed as bad{}",
            run.explain()
        );
    }
    assert_unchanged(&run, &repo, &None);
}

#[cfg(unix)]
#[test]
fn publish_refuses_an_unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "1.0");
    let secret = rel.join("data/secret.dat");
    common::write(&secret, "secret\n");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    if File::open(&secret).is_ok() {
        // Root (and CAP_DAC_OVERRIDE) reads files whatever their mode, so there is nothing to refuse.
        common::skip("the unreadable-file case: this user can read a mode 000 file (root?)");
        return;
    }
    let run = publish_on(&rel, &repo, "1.0", &[])
        .failure()
        .stderr_has("`data/secret.dat`: cannot be read");
    assert_unchanged(&run, &repo, &None);
}

#[test]
fn publish_refuses_a_missing_or_empty_release_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let missing = tmp.path().join("no-such-release");
    let run = publish_on(&missing, &repo, "1.0", &[])
        .failure()
        .stderr_has(&format!(
            "the release folder `{}` does not exist",
            missing.display()
        ));
    assert_unchanged(&run, &repo, &None);

    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let run = publish_on(&empty, &repo, "1.0", &[])
        .failure()
        .stderr_has(&format!(
            "the release folder `{}` has no files",
            empty.display()
        ));
    assert_unchanged(&run, &repo, &None);

    // Folders without files are still an empty release.
    fs::create_dir_all(empty.join("bin/sub")).unwrap();
    let run = publish_on(&empty, &repo, "1.0", &[])
        .failure()
        .stderr_has("has no files");
    assert_unchanged(&run, &repo, &None);

    let file = tmp.path().join("file.txt");
    common::write(&file, "x");
    let run = publish_on(&file, &repo, "1.0", &[])
        .failure()
        .stderr_has("is not a folder");
    assert_unchanged(&run, &repo, &None);
}

#[test]
fn publish_refuses_an_invalid_version_showing_both_forms() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "1.0");
    for bad in ["v1.x", "1..2", "1.2.3-", "../1.0"] {
        let run = publish_on(&rel, &repo, bad, &[])
            .failure()
            .stderr_has(&format!("`{bad}` is not a version"))
            .stderr_has("`7.04.200`")
            .stderr_has("`1.2.3-beta.1`");
        assert_unchanged(&run, &repo, &None);
    }
}

#[test]
fn publish_refuses_a_bad_product_channel_or_platform_name() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "1.0");
    for product in ["../evil", "a/b", "my app", ".hidden", ""] {
        let run = common::run(
            publish_command(
                &rel,
                &repo,
                product,
                "1.0",
                &["--platform", PLATFORM, "--executable", "bin/demo"],
            ),
            Some(tmp.path()),
        )
        .failure()
        .stderr_has(&format!("product `{product}` is not allowed"));
        assert_unchanged(&run, &repo, &None);
    }
    assert!(
        !tmp.path().join("evil").exists(),
        "a product name escaped the repository"
    );
    let run = publish_on(&rel, &repo, "1.0", &["--channel", "../x"])
        .failure()
        .stderr_has("channel `../x` is not allowed");
    assert_unchanged(&run, &repo, &None);
}

#[test]
fn publishing_an_identical_release_again_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "7.04.200");
    publish_on(&rel, &repo, "7.04.200", &[]).success();
    // Back-date the manifests, so a rewrite would show even within the file system's time resolution.
    let old = UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    set_mtime(&release_manifest(&repo, "7.04.200"), old);
    set_mtime(&channel_manifest(&repo, "stable"), old);
    let before = snapshot(&repo);

    let run = publish_on(&rel, &repo, "7.04.200", &[])
        .success()
        .stderr_has(
            "Nothing to do: demo 7.04.200 is already published on `stable` with the same content",
        );
    assert_unchanged(&run, &repo, &before);

    // New dates on the same content are still the same release.
    for f in files_below(&rel) {
        set_mtime(&rel.join(f), SystemTime::now());
    }
    let run = publish_on(&rel, &repo, "7.04.200", &[])
        .success()
        .stderr_has("Nothing to do");
    assert_unchanged(&run, &repo, &before);
}

/// One source folder per version, made once, so publishing a version again offers the same content.
fn source_for(dir: &Path, version: &str) -> PathBuf {
    let p = dir.join(format!("src-{version}"));
    if !p.exists() {
        sample_release(dir, &format!("src-{version}"), version);
    }
    p
}

#[test]
fn publish_orders_versions_numerically_and_as_semver() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let src = |v: &str| source_for(tmp.path(), v);

    publish_on(&src("7.04.200"), &repo, "7.04.200", &[]).success();
    publish_on(&src("7.05.100"), &repo, "7.05.100", &[]).success();
    // 7.4.9 sorts after 7.05.100 as text, but 4 < 5.
    let before = snapshot(&repo);
    let run = publish_on(&src("7.4.9"), &repo, "7.4.9", &[])
        .failure()
        .stderr_has("channel `stable` is at version 7.05.100, newer than 7.4.9");
    assert_unchanged(&run, &repo, &before);

    let pairs = [
        ("6.0.51.22965", "6.0.51.22966"),
        ("6.0.51.22966", "6.0.52.1"),
        ("6.0.9.1", "6.0.52.1"),
        ("1.2.3-beta.1", "1.2.3"),
        ("1.9.0", "1.10.0"),
    ];
    for (i, (lower, higher)) in pairs.into_iter().enumerate() {
        // Upwards on one channel works...
        let up = format!("up{i}");
        publish_on(&src(lower), &repo, lower, &["--channel", &up]).success();
        publish_on(&src(higher), &repo, higher, &["--channel", &up]).success();
        assert_eq!(read_json(&channel_manifest(&repo, &up))["version"], higher);
        // ...downwards on another is refused.
        let down = format!("down{i}");
        publish_on(&src(higher), &repo, higher, &["--channel", &down]).success();
        let before = snapshot(&repo);
        let run = publish_on(&src(lower), &repo, lower, &["--channel", &down])
            .failure()
            .stderr_has(&format!(
                "channel `{down}` is at version {higher}, newer than {lower}"
            ));
        assert_unchanged(&run, &repo, &before);
    }
}

fn promote(repo: &Path, version: &str, channel: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "promote",
        "--repo",
        repo.to_str().unwrap(),
        "--product",
        "demo",
        "--version",
        version,
        "--channel",
        channel,
        "--platform",
        PLATFORM,
    ];
    args.extend_from_slice(extra);
    launcher_run(&args, Some(repo))
}

#[test]
fn promote_points_stable_at_a_release_tested_on_test() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "2.0");
    publish_on(&rel, &repo, "2.0", &["--channel", "test"]).success();
    assert!(!channel_manifest(&repo, "stable").exists());
    let release_before = fs::read(release_manifest(&repo, "2.0")).unwrap();
    let blobs_before = files_below(&repo.join("demo/blobs"));

    let run = promote(&repo, "2.0", "stable", &[])
        .success()
        .stderr_has("now serves 2.0 (was empty)");
    let stable = read_json(&channel_manifest(&repo, "stable"));
    let test = read_json(&channel_manifest(&repo, "test"));
    assert_eq!(stable["version"], "2.0", "{}", run.explain());
    assert_eq!(stable["channel"], "stable", "{}", run.explain());
    assert_eq!(test["channel"], "test");
    assert_eq!(stable["files"], test["files"]);
    assert_eq!(stable["executable"], test["executable"]);
    assert_eq!(
        fs::read(release_manifest(&repo, "2.0")).unwrap(),
        release_before,
        "the release was rewritten"
    );
    assert_eq!(
        files_below(&repo.join("demo/blobs")),
        blobs_before,
        "promote wrote blobs"
    );
}

#[test]
fn promote_refuses_a_version_that_is_not_published() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let rel = sample_release(tmp.path(), "release", "2.0");
    publish_on(&rel, &repo, "2.0", &["--channel", "test"]).success();
    let before = snapshot(&repo);
    let run = promote(&repo, "2.1", "stable", &[])
        .failure()
        .stderr_has("release 2.1 of `demo` for linux-x86_64 is not in the repository");
    assert_unchanged(&run, &repo, &before);
}

#[test]
fn promote_refuses_a_signed_release_without_a_secret_key() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let (sk, pk) = (
        tmp.path().join("keys/demo.key"),
        tmp.path().join("keys/demo.pub"),
    );
    launcher_run(
        &[
            "keygen",
            "--secret-key",
            sk.to_str().unwrap(),
            "--public-key",
            pk.to_str().unwrap(),
        ],
        Some(tmp.path()),
    )
    .success();
    let rel = sample_release(tmp.path(), "release", "2.0");
    publish_on(
        &rel,
        &repo,
        "2.0",
        &["--channel", "test", "--secret-key", sk.to_str().unwrap()],
    )
    .success();
    let before = snapshot(&repo);
    let run = promote(&repo, "2.0", "stable", &[])
        .failure()
        .stderr_has("release 2.0 is signed, but no --secret-key was given");
    assert_unchanged(&run, &repo, &before);

    let run = promote(
        &repo,
        "2.0",
        "stable",
        &["--secret-key", sk.to_str().unwrap()],
    )
    .success();
    let sig = channel_manifest(&repo, "stable").with_extension("json.minisig");
    assert!(
        sig.is_file(),
        "promote with a key wrote no signature{}",
        run.explain()
    );
}
