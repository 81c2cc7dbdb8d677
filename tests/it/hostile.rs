//! Issue 5, hostile repositories: a table of malicious channel manifests and blobs, one for every rule
//! of DESIGN.md's Security section, written straight into a repository that `publish` made (read as a
//! folder). Each is refused before anything is written: the install folder (apart from the lock, the
//! log line and the state's "last result") and a sentinel folder outside it are byte-for-byte and
//! date-for-date unchanged, nothing stays in staging, and the installed 1.0 starts. The rules hold
//! with and without `PublicKey`; with it, every hostile manifest carries a valid signature from the
//! trusted key, so what refuses it is the rule, not the signature.

use crate::common::{self, keygen_at, site, Keys, Site};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Where the refusal happens, which says what may be looked at before it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    /// Reading the manifest: `check` refuses too, and no blob is even looked at.
    Manifest,
    /// Planning against the install folder (links, blocked paths): nothing is downloaded.
    Plan,
    /// Downloading: the blob is fetched and discarded (staging may have been written, keeps nothing).
    Blob,
}

/// One hostile repository.
struct Case {
    name: &'static str,
    /// A fragment of the refusal on stderr.
    says: &'static str,
    stage: Stage,
    /// The installed 1.0 still starts afterwards (false where the case itself damaged the install).
    starts: bool,
    /// Writes blobs or plants links as needed and returns the channel manifest's bytes.
    make: fn(&mut Ctx) -> Vec<u8>,
}

/// What a case can build from: the site, the legitimate 2.0 manifest, and a payload blob that the
/// repository holds (so a refusal is about the rule under test, not a missing blob).
struct Ctx<'a> {
    site: &'a Site,
    template: Value,
    /// The installed 1.0's file list as a newer version: a case built on it needs no blob but its own.
    same: Value,
    payload: (String, u64),
    /// Links and files a case planted, removed after it.
    planted: Vec<PathBuf>,
    /// A folder moved aside to make room for a link: (where it is now, where it goes back).
    moved: Option<(PathBuf, PathBuf)>,
    /// Cases built on [`Ctx::same`] get versions of their own (`2.0.N`): the launcher backs off from a
    /// version whose content failed verification three times, and each case must be tried.
    serial: std::cell::Cell<u32>,
}

const PAYLOAD: &[u8] = b"written by the attacker\n";

impl Ctx<'_> {
    fn entry(&self, path: &str) -> Value {
        json!({"path": path, "size": self.payload.1, "mtime": "2026-01-01T00:00:00Z", "sha256": self.payload.0})
    }

    /// The 2.0 manifest plus a file at `path` (the payload).
    fn with_path(&mut self, path: &str) -> Vec<u8> {
        let mut m = self.template.clone();
        m["files"].as_array_mut().unwrap().push(self.entry(path));
        bytes(&m)
    }

    /// The 2.0 manifest changed by `f`.
    fn edit(&self, f: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut m = self.template.clone();
        f(&mut m);
        bytes(&m)
    }

    /// 1.0's files as version 2.0.N, changed by `f`.
    fn edit_same(&self, f: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut m = self.same.clone();
        self.serial.set(self.serial.get() + 1);
        m["version"] = format!("2.0.{}", self.serial.get()).into();
        f(&mut m);
        bytes(&m)
    }

    /// 1.0's files as version 2.0.N, plus a file at `path` (the payload).
    fn same_with_path(&self, path: &str) -> Vec<u8> {
        let entry = self.entry(path);
        self.edit_same(|m| m["files"].as_array_mut().unwrap().push(entry))
    }

    /// 1.0's files as version 2.0.N, with the file at `path` changed to the payload.
    fn same_with_payload_at(&self, path: &str) -> Vec<u8> {
        let (sha, size) = self.payload.clone();
        self.edit_same(|m| {
            let f = m["files"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|f| f["path"] == path)
                .unwrap();
            f["sha256"] = sha.into();
            f["size"] = size.into();
            f.as_object_mut().unwrap().remove("zsize");
        })
    }

    /// Stores `content` as an uncompressed blob named by `sha` (which need not be its hash).
    fn blob(&self, sha: &str, content: &[u8]) {
        common::write(
            &self
                .site
                .repo
                .join(format!("demo/blobs/{}/{sha}", &sha[..2])),
            content,
        );
    }

    /// The 2.0 manifest with `bin/demo` replaced by an uncompressed blob `content` declared as
    /// `size` / `sha`.
    fn replace_demo(&self, content: &[u8], size: u64, sha: &str) -> Vec<u8> {
        self.blob(sha, content);
        self.edit_same(|m| {
            let f = m["files"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|f| f["path"] == "bin/demo")
                .unwrap();
            f["size"] = size.into();
            f["sha256"] = sha.into();
            f.as_object_mut().unwrap().remove("zsize");
        })
    }

    fn plant_link(&mut self, rel: &str, target: &std::path::Path) {
        let link = self.site.app.join(rel);
        if link.exists() {
            let aside = self.site.root.join("moved-aside");
            std::fs::rename(&link, &aside).unwrap();
            self.moved = Some((aside, link.clone()));
        }
        self.planted.push(link.clone());
        #[cfg(unix)]
        std::os::unix::fs::symlink(target, &link).unwrap();
        #[cfg(windows)]
        unreachable!(
            "no link cases on Windows: {} -> {}",
            link.display(),
            target.display()
        );
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap();
    b.push(b'\n');
    b
}

const PATH_CASES: &[(&str, &str, &str)] = &[
    // (name, path, refusal)
    (
        "traversal `..`",
        "../escape.txt",
        "`.` and `..` components are not allowed",
    ),
    (
        "traversal inside",
        "data/../../escape.txt",
        "`.` and `..` components are not allowed",
    ),
    (
        "traversal at the end",
        "data/..",
        "`.` and `..` components are not allowed",
    ),
    (
        "dot component",
        "./bin/demo2",
        "`.` and `..` components are not allowed",
    ),
    ("three dots", ".../escape.txt", "may not end with a dot"),
    (
        "backslash traversal",
        "..\\escape.txt",
        "backslashes are not allowed",
    ),
    (
        "mixed separators",
        "data/..\\..\\escape.txt",
        "backslashes are not allowed",
    ),
    (
        "absolute",
        "/tmp/launcher-hostile-escape.txt",
        "absolute paths are not allowed",
    ),
    (
        "drive letter",
        "C:/Windows/System32/evil.dll",
        "drive letters are not allowed",
    ),
    (
        "drive-relative",
        "c:evil.dll",
        "drive letters are not allowed",
    ),
    (
        "UNC",
        "\\\\server\\share\\evil.dll",
        "backslashes are not allowed",
    ),
    (
        "UNC with slashes",
        "//server/share/evil.dll",
        "absolute paths are not allowed",
    ),
    (
        "device namespace",
        "//?/C:/evil.dll",
        "absolute paths are not allowed",
    ),
    (
        "device path",
        "\\\\.\\PhysicalDrive0",
        "backslashes are not allowed",
    ),
    (
        "alternate data stream",
        "bin/demo:evil",
        "`:` is not allowed",
    ),
    (
        "NTFS index stream",
        "data::$INDEX_ALLOCATION/x",
        "`:` is not allowed",
    ),
    ("reserved name", "CON", "is a reserved device name"),
    (
        "reserved name with extension",
        "data/nul.txt",
        "is a reserved device name",
    ),
    (
        "reserved name, any case",
        "bin/Com1.dll",
        "is a reserved device name",
    ),
    (
        "reserved superscript port",
        "LPT¹",
        "is a reserved device name",
    ),
    (
        "trailing dot",
        "bin/demo.",
        "may not end with a dot or a space",
    ),
    (
        "trailing space",
        "bin/demo ",
        "may not end with a dot or a space",
    ),
    (
        "trailing dot in a folder",
        "bin./demo",
        "may not end with a dot or a space",
    ),
    ("empty path", "", "the path is empty"),
    ("empty component", "bin//demo2", "empty components"),
    (
        "NUL",
        "bin/demo\u{0}.txt",
        "control characters are not allowed",
    ),
    (
        "newline",
        "bin/demo\n.txt",
        "control characters are not allowed",
    ),
    (
        "wildcard",
        "bin/*",
        "is not allowed in a file name on Windows",
    ),
    (
        "pipe",
        "bin/a|b",
        "is not allowed in a file name on Windows",
    ),
    (
        "component over 255 bytes",
        "{long}",
        "is longer than 255 bytes",
    ),
    (
        "launcher state",
        ".launcher/state.json",
        "belongs to the launcher",
    ),
    (
        "launcher staging, other case",
        ".Launcher/staging/x",
        "belongs to the launcher",
    ),
    (
        "launcher folder, 8.3 short name",
        "LAUNCH~1/state.json",
        "8.3 short name",
    ),
    ("backup folder", "bkp.001/bin/demo", "a backup folder"),
    ("backup folder, other case", "BKP.7/x", "a backup folder"),
    (
        "launcher folder, hashed 8.3 short name",
        "LA4F2B~1/journal.json",
        "8.3 short name",
    ),
];

/// Links planted in the install folder (by a local user, say) on the way to a file the update writes:
/// `scan` refuses a path with a link among its folders before anything is downloaded. (Before it did,
/// `apply` moved the old file into the backup through the link, then found the link, and could not
/// roll back past it.)
fn link_cases() -> Vec<Case> {
    vec![
        Case {
            name: "a linked folder planted in the install (new file through it)",
            says: "symbolic link",
            stage: Stage::Plan,
            starts: true,
            make: |c| {
                let outside = c.site.outside.clone();
                c.plant_link("plugins", &outside);
                c.same_with_path("plugins/evil.txt")
            },
        },
        Case {
            name: "a linked folder planted in the install (replacing through it)",
            says: "symbolic link",
            stage: Stage::Plan,
            // The 1.0 files under `data/` are now reached through a link: damage, as for a linked file.
            starts: false,
            make: |c| {
                // `data/` points outside, where copies of the 1.0 data files wait to be replaced.
                let outside = c.site.outside.clone();
                for f in ["catalog.dat", "config.txt", "old-notes.txt"] {
                    std::fs::copy(c.site.app.join("data").join(f), outside.join(f)).unwrap();
                    c.planted.push(outside.join(f));
                }
                c.plant_link("data", &outside);
                c.same_with_payload_at("data/config.txt")
            },
        },
    ]
}

/// The table. Path cases come from [`PATH_CASES`].
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "case-folded duplicate",
            says: "differs from `bin/demo` only in case",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.with_path("bin/DEMO"),
        },
        Case {
            name: "exact duplicate",
            says: "listed twice",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.with_path("bin/demo"),
        },
        Case {
            name: "a file that is also a folder",
            says: "its folder `bin/demo` is also listed as a file",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.with_path("bin/demo/evil"),
        },
        Case {
            name: "executable outside the file list",
            says: "executable `../../bin/sh` is not one of the listed files",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.edit(|m| m["executable"] = "../../bin/sh".into()),
        },
        Case {
            name: "non-hex hash",
            says: "is not 64 lowercase hex digits",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.edit(|m| m["files"][0]["sha256"] = "zz".repeat(32).into()),
        },
        Case {
            name: "uppercase hash",
            says: "is not 64 lowercase hex digits",
            stage: Stage::Manifest,
            starts: true,
            make: |c| {
                let upper = c.payload.0.to_uppercase();
                c.edit(|m| m["files"][0]["sha256"] = upper.into())
            },
        },
        Case {
            name: "hash that names a path",
            says: "is not 64 lowercase hex digits",
            stage: Stage::Manifest,
            starts: true,
            make: |c| {
                c.edit(|m| m["files"][0]["sha256"] = "../../../../../../../../etc/passwd".into())
            },
        },
        Case {
            name: "absurd size",
            says: "is over the limit",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.edit(|m| m["files"][0]["size"] = u64::MAX.into()),
        },
        Case {
            name: "total size over the cap",
            says: "over the limit of",
            stage: Stage::Manifest,
            starts: true,
            make: |c| {
                c.edit(|m| {
                    for f in m["files"].as_array_mut().unwrap() {
                        f["size"] = (1u64 << 40).into();
                        f.as_object_mut().unwrap().remove("zsize");
                    }
                })
            },
        },
        Case {
            name: "negative size",
            says: "not valid JSON",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.edit(|m| m["files"][0]["size"] = (-1).into()),
        },
        Case {
            name: "a terabyte within the caps (no disk space)",
            says: "not enough free space",
            stage: Stage::Plan,
            starts: true,
            make: |c| {
                let sha = c.payload.0.clone();
                c.edit_same(|m| {
                    let f = &mut m["files"][0];
                    f["size"] = (1u64 << 40).into();
                    f["sha256"] = sha.into();
                    f.as_object_mut().unwrap().remove("zsize");
                })
            },
        },
        Case {
            name: "compressed size beyond what zstd makes",
            says: "larger than zstd can make",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.edit(|m| m["files"][0]["zsize"] = (1u64 << 39).into()),
        },
        Case {
            name: "more files than the cap",
            says: "250001 files listed; the limit is 250000",
            stage: Stage::Manifest,
            starts: true,
            make: |c| {
                // Built as text: a `Value` of 250,001 entries is slow in a debug build.
                let mut m = c.template.clone();
                m["executable"] = "f/0".into();
                m["files"] = json!([]);
                let text = String::from_utf8(bytes(&m)).unwrap();
                let (sha, size) = &c.payload;
                let entries: Vec<String> = (0..250_001)
                    .map(|i| format!(r#"{{"path":"f/{i}","size":{size},"mtime":"2026-01-01T00:00:00Z","sha256":"{sha}"}}"#))
                    .collect();
                text.replacen(
                    "\"files\": []",
                    &format!("\"files\": [{}]", entries.join(",")),
                    1,
                )
                .into_bytes()
            },
        },
        Case {
            name: "manifest over the size cap",
            says: "is larger than the limit of",
            stage: Stage::Manifest,
            starts: true,
            make: |c| {
                let mut m = c.template.clone();
                m["padding"] = " ".repeat(64 * 1024 * 1024).into();
                bytes(&m)
            },
        },
        Case {
            name: "deeply nested JSON",
            says: "nested deeper than",
            stage: Stage::Manifest,
            starts: true,
            make: |_| {
                format!(
                    "{{\"format\":1,\"x\":{}{}}}",
                    "[".repeat(100_000),
                    "]".repeat(100_000)
                )
                .into_bytes()
            },
        },
        Case {
            name: "invalid UTF-8",
            says: "not valid JSON",
            stage: Stage::Manifest,
            starts: true,
            make: |c| {
                let mut b = c.with_path("bin/evil-XX");
                let at = b.windows(2).position(|w| w == b"XX").unwrap();
                b[at] = 0xff;
                b[at + 1] = 0xfe;
                b
            },
        },
        Case {
            name: "not JSON",
            says: "not valid JSON",
            stage: Stage::Manifest,
            starts: true,
            make: |_| b"<html>404 Not Found</html>".to_vec(),
        },
        Case {
            name: "a future format",
            says: "update the launcher",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.edit(|m| m["format"] = 2.into()),
        },
        Case {
            name: "another product",
            says: "it is for other",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.edit(|m| m["product"] = "other".into()),
        },
        Case {
            name: "another platform",
            says: "on windows-x86_64, but launcher.ini asks for",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.edit(|m| m["platform"] = "windows-x86_64".into()),
        },
        Case {
            name: "a version that is not one",
            says: "version:",
            stage: Stage::Manifest,
            starts: true,
            make: |c| c.edit(|m| m["version"] = "2.0; rm -rf /".into()),
        },
        Case {
            name: "declared size smaller than the blob",
            says: "bytes (its size in the repository folder), but the manifest declares",
            stage: Stage::Blob,
            starts: true,
            make: |c| {
                let content = b"#!/bin/sh\necho owned\n";
                c.replace_demo(
                    content,
                    content.len() as u64 - 5,
                    &common::sha256_hex(content),
                )
            },
        },
        Case {
            name: "declared size larger than the blob",
            says: "bytes (its size in the repository folder), but the manifest declares",
            stage: Stage::Blob,
            starts: true,
            make: |c| {
                let content = b"#!/bin/sh\necho owned, short\n";
                c.replace_demo(
                    content,
                    content.len() as u64 + 100,
                    &common::sha256_hex(content),
                )
            },
        },
        Case {
            name: "blob that does not hash to its name",
            says: "does not match the manifest",
            stage: Stage::Blob,
            starts: true,
            make: |c| {
                let content = b"#!/bin/sh\necho owned, wrong hash\n";
                let sha = common::sha256_hex(b"something else entirely");
                c.replace_demo(content, content.len() as u64, &sha)
            },
        },
        Case {
            name: "compressed blob that is not zstd",
            says: "is not valid zstd data",
            stage: Stage::Blob,
            starts: true,
            make: |c| {
                let content = b"#!/bin/sh\necho owned, zstd\n";
                let sha = common::sha256_hex(content);
                common::write(
                    &c.site
                        .repo
                        .join(format!("demo/blobs/{}/{sha}.zst", &sha[..2])),
                    b"not zstd at all",
                );
                c.edit_same(|m| {
                    let f = m["files"]
                        .as_array_mut()
                        .unwrap()
                        .iter_mut()
                        .find(|f| f["path"] == "bin/demo")
                        .unwrap();
                    f["size"] = content.len().into();
                    f["sha256"] = sha.clone().into();
                    f["zsize"] = 15.into();
                })
            },
        },
        Case {
            name: "a linked file planted in the install",
            says: "symbolic link",
            stage: Stage::Plan,
            // A managed file that became a link is damage: the launcher does not start an install
            // it cannot vouch for ("incomplete"), and says so.
            starts: false,
            make: |c| {
                let target = c.site.outside.join("sentinel.txt");
                c.plant_link("docs/README.txt", &target);
                c.same_with_payload_at("docs/README.txt")
            },
        },
    ]
}

/// A copy of a folder that keeps dates (`cp -a`), so a restored install is not "touched" again.
fn copy_keeping_dates(from: &std::path::Path, to: &std::path::Path) {
    if cfg!(windows) {
        return crate::common::copy_tree_dated(from, to);
    }
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -a {} {}", from.display(), to.display());
}

/// The path cases, then `extra`, then the planted links.
fn table_with(extra: Vec<Case>) -> Vec<(Option<String>, Case)> {
    let mut table: Vec<(Option<String>, Case)> = PATH_CASES
        .iter()
        .map(|&(name, path, says)| {
            let case = Case {
                name,
                says,
                stage: Stage::Manifest,
                starts: true,
                make: |_| Vec::new(),
            };
            (Some(path.to_string()), case)
        })
        .collect();
    table.extend(extra.into_iter().chain(link_cases()).map(|c| (None, c)));
    // Wine 8 gives Windows programs no symbolic links they can see as links (what `symlink_dir` and
    // `symlink_file` leave behind reads as a plain folder or file, and nothing outside the install is
    // reached through it), so the link cases would prove nothing there; they run on Unix. On real
    // Windows a link needs Developer Mode or an administrator: unverified there.
    table.retain(|(_, c)| cfg!(unix) || c.says != "symbolic link");
    table
}

/// Runs `table` against one install of 1.0, with or without a key; returns the cases run. Each case
/// gets its own verdict; the test fails at the end with every case that was not refused as it should be.
fn run_table(keys: Option<&Keys>, table: Vec<(Option<String>, Case)>) -> usize {
    let s = site();
    let signing = keys.map(|k| k.sk.to_str().unwrap().to_string());
    let sign_args: Vec<&str> = signing
        .iter()
        .flat_map(|sk| ["--secret-key", sk.as_str()])
        .collect();
    s.publish("1.0", &sign_args);
    s.config_folder(
        &keys
            .map(|k| format!("PublicKey = {}", k.b64))
            .unwrap_or_default(),
    );
    let first = s.launcher(&[]).success();
    s.assert_launched(&first, "1.0");
    s.publish("2.0", &sign_args);
    let channel = s.channel();
    let mut same = s.read_json(&s.release("1.0"));
    same["version"] = "2.0".into();
    let payload = (common::sha256_hex(PAYLOAD), PAYLOAD.len() as u64);
    let mut ctx = Ctx {
        site: &s,
        template: s.read_json(&channel),
        same,
        payload: payload.clone(),
        planted: Vec::new(),
        moved: None,
        serial: std::cell::Cell::new(0),
    };
    ctx.blob(&payload.0, PAYLOAD);
    let pristine = s.root.join("pristine");
    copy_keeping_dates(&s.app, &pristine);

    let long = format!("data/{}", "x".repeat(256));
    let mut failures = Vec::new();
    for (path, case) in &table {
        let (name, manifest) = match path {
            Some(path) => {
                let path = path.replace("{long}", &long);
                (
                    format!("path {path:?} ({})", case.name),
                    ctx.with_path(&path),
                )
            }
            None => (case.name.to_string(), (case.make)(&mut ctx)),
        };
        s.put_manifest(&channel, &manifest, keys);
        let app_before = common::app_snapshot(&s.app);
        let outside_before = common::app_snapshot(&s.outside);

        let mut runs = vec![s.launcher(&[])];
        if case.stage == Stage::Manifest {
            runs.push(s.launcher(&["check"]));
        }
        for r in &runs {
            let why = if r.cmd.contains("\"check\"") {
                (r.code() == 0 || r.code() == 10).then_some("`check` accepted it")
            } else if case.starts && (r.code() != 0 || !r.stdout().contains("demo app 1.0\n")) {
                Some("the installed 1.0 did not start")
            } else if !case.starts && (r.code() == 0 || !r.stderr().contains("is incomplete")) {
                Some("the damaged install started, or the refusal did not say it is incomplete")
            } else {
                None
            };
            let why = why
                .or((!r.stderr().contains(case.says)).then_some("stderr does not give the reason"));
            // A manifest refused on reading is not saved; one whose blobs or target paths are refused
            // was valid in itself, and is kept for the next `304`.
            let mut app_after = common::app_snapshot(&s.app);
            let mut expected = app_before.clone();
            if case.stage != Stage::Manifest {
                for snap in [&mut app_after, &mut expected].into_iter().flatten() {
                    snap.remove(".launcher/channel.json");
                    snap.remove(".launcher/channel.json.minisig");
                    if case.stage == Stage::Blob {
                        // A download went through staging and was discarded (a blob whose size is
                        // wrong is refused before its first byte).
                        snap.remove(".launcher/staging");
                    }
                }
            }
            let outside_after = common::app_snapshot(&s.outside);
            let why = why.or((app_after != expected).then_some("the install folder changed"));
            let why =
                why.or((outside_after != outside_before).then_some("the folder outside changed"));
            let staged: Vec<String> = common::staged_files(&s.app);
            let why = why.or((!staged.is_empty()).then_some("staging kept a file"));
            if let Some(why) = why {
                failures.push(format!(
                    "{name}: {why} (expected {:?}); staged: {staged:?}; install: {}; outside: {}{}",
                    case.says,
                    common::snapshot_diff(&expected, &app_after),
                    common::snapshot_diff(&outside_before, &outside_after),
                    r.explain()
                ));
                // Undo what the case did, so one failure does not cascade.
                let _ = std::fs::remove_dir_all(s.app.join(".launcher/journal.json"));
                std::fs::remove_dir_all(&s.app).unwrap();
                copy_keeping_dates(&pristine, &s.app);
                break;
            }
        }
        for p in ctx.planted.drain(..).rev() {
            let _ = std::fs::remove_file(&p);
        }
        if let Some((aside, back)) = ctx.moved.take() {
            if std::fs::symlink_metadata(&back).is_ok() {
                // The install was restored after a failure.
                let _ = std::fs::remove_dir_all(&aside);
                let _ = std::fs::remove_file(&aside);
            } else {
                std::fs::rename(aside, back).unwrap();
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile repositories were not refused as they should be:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n\n")
    );
    // A legitimate release (2.0's files as 3.0) still installs afterwards: the table did not wedge
    // the install.
    let mut last = ctx.template.clone();
    last["version"] = "3.0".into();
    s.put_manifest(&channel, &bytes(&last), keys);
    let after = s.launcher(&[]).success();
    s.assert_launched(&after, "2.0");
    table.len()
}

#[test]
fn hostile_repositories_are_refused_without_a_key() {
    let n = run_table(None, table_with(cases()));
    eprintln!("{n} hostile repositories refused (no key)");
}

#[test]
fn hostile_repositories_are_refused_with_a_key_even_when_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = keygen_at(tmp.path(), "publisher");
    let n = run_table(Some(&keys), table_with(cases()));
    eprintln!("{n} hostile repositories refused (signed by the trusted key)");
}
