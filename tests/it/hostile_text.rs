//! Text from a hostile server (issue 9, item 11): a channel manifest served by a real `launcher serve`
//! whose paths and strings carry terminal controls (ESC sequences, CR, BEL), bidi overrides and
//! zero-width characters, by the thousand. The refusal must reach the terminal and the log escaped,
//! short (a few paths and a count), on one log line that says why, and the installed version starts.

use crate::common::*;
use serde_json::{json, Value};

/// Characters that must never reach a terminal or the log from a manifest.
const RAW: [char; 6] = ['\u{1b}', '\r', '\u{7}', '\u{202e}', '\u{200b}', '\u{2066}'];

fn hostile_manifest(template: &Value, files: usize) -> Vec<u8> {
    let mut m = template.clone();
    m["version"] = "2.0.0".into();
    let list = m["files"].as_array_mut().unwrap();
    let sha = "ab".repeat(32);
    for i in 0..files {
        let path = match i % 4 {
            // Clears the screen and prints a fake line where the warning was.
            0 => format!("x{i}\u{1b}[2J\u{1b}[Hdemo app 9.9.9"),
            // Overwrites the line, then rings the bell and retitles the window.
            1 => format!("y{i}\rall good\u{7}\u{1b}]0;pwned\u{7}"),
            // `evil<RLO>txt.exe` is drawn as `evilexe.txt`.
            2 => format!("docs/evil{i}\u{202e}txt.exe"),
            _ => format!("bin/de\u{200b}mo{i}\u{2066}"),
        };
        list.push(json!({"path": path, "size": 1, "mtime": "2026-01-01T00:00:00Z", "sha256": sha}));
    }
    let mut bytes = serde_json::to_vec_pretty(&m).unwrap();
    bytes.push(b'\n');
    bytes
}

fn assert_clean(text: &str, what: &str) {
    let found: Vec<String> = RAW
        .iter()
        .filter(|c| text.contains(**c))
        .map(|c| format!("U+{:04X}", *c as u32))
        .collect();
    assert!(found.is_empty(), "{what} holds raw {found:?}:\n{text:?}");
}

#[test]
fn a_hostile_manifest_is_refused_with_escaped_short_messages_and_a_log_line_that_says_why() {
    let s = site();
    s.publish("1.0.0", &[]);
    let server = Server::start(&s.repo, &[]);
    s.config(&server.url, "");
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0.0");

    let template = s.read_json(&s.channel());
    s.put_manifest(&s.channel(), &hostile_manifest(&template, 4000), None);
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0.0");
    let err = r.stderr();
    assert_clean(&err, "stderr");
    assert!(
        err.contains("is refused") && err.contains("the manifest is invalid"),
        "{}",
        r.explain()
    );
    // The escaped spelling shows what the name really holds.
    assert!(
        err.contains("`x0\\x1b[2J\\x1b[Hdemo app 9.9.9`: control characters are not allowed"),
        "{}",
        r.explain()
    );
    assert!(
        err.contains("and 3990 more"),
        "no count of the rest{}",
        r.explain()
    );
    assert!(
        err.lines().count() < 20,
        "{} lines on stderr for one refused manifest{}",
        err.lines().count(),
        r.explain()
    );

    let log = std::fs::read_to_string(s.app.join(".launcher/launcher.log")).unwrap();
    assert_clean(&log, "launcher.log");
    let last = log.lines().last().unwrap();
    assert_eq!(log.lines().count(), 2, "one line per attempt:\n{log}");
    assert!(
        last.contains("result=failed: the manifest")
            && last.contains("the manifest is invalid")
            && last.contains("control characters are not allowed"),
        "the log line does not say why the update failed: {last}"
    );
}

#[test]
fn a_hostile_version_string_is_shown_escaped() {
    let s = site();
    s.publish("1.0.0", &[]);
    let server = Server::start(&s.repo, &[]);
    s.config(&server.url, "");
    s.launcher(&[]).success();
    let mut m = s.read_json(&s.channel());
    m["version"] = "2.0\u{1b}[1A\u{1b}[2Kdemo app 2.0".into();
    m["published"] = "\u{202e}2026".into();
    // A zsize out of range is reported with its number, not as `Some(…)`.
    m["files"][0]["zsize"] = json!(99_999_999u64);
    s.put_manifest(&s.channel(), &serde_json::to_vec(&m).unwrap(), None);
    let r = s.launcher(&[]).success();
    s.assert_launched(&r, "1.0.0");
    assert_clean(&r.stderr(), "stderr");
    assert!(
        r.stderr()
            .contains("`2.0\\x1b[1A\\x1b[2Kdemo app 2.0` is not a version")
            && r.stderr()
                .contains("`\\u{202e}2026` is not an RFC 3339 date")
            && r.stderr().contains("zsize 99999999 is larger")
            && !r.stderr().contains("Some("),
        "{}",
        r.explain()
    );
    let r = s.launcher(&["check"]).code_is(7);
    assert_clean(&r.stderr(), "stderr of check");
}
