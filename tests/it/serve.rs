//! `launcher serve` as a client and an attacker see it: the real binary on a loopback port, a repository
//! built by hand in a temp folder (so these tests do not depend on `publish`), a secret file beside the
//! repository that must never come out, and a raw HTTP client that sends paths exactly as spelled.

use crate::common::{self, http, Reply, Server};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

pub const SECRET: &str = "TOP-SECRET-MARKER";
pub const CHANNEL: &str = "/demo/channels/stable/linux-x86_64.json";
pub const RELEASE: &str = "/demo/releases/1.0.0/linux-x86_64.json";

/// A hand-made repository in `tmp/repo`, a secret in `tmp/secret.txt` and `tmp/outside/secret.txt`.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub repo: PathBuf,
    pub manifest: Vec<u8>,
    pub blob: Vec<u8>,
    /// URL path of the blob, `/demo/blobs/<2 hex>/<sha256>`.
    pub blob_url: String,
}

pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let blob: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    let hash = common::sha256_hex(&blob);
    let blob_url = format!("/demo/blobs/{}/{hash}", &hash[..2]);
    let manifest = format!("{{\"product\":\"demo\",\"version\":\"1.0.0\",\"blob\":\"{hash}\"}}\n")
        .into_bytes();
    common::write(&repo.join(&blob_url[1..]), &blob);
    common::write(&repo.join(&CHANNEL[1..]), &manifest);
    common::write(
        &repo.join(format!("{}.minisig", &CHANNEL[1..])),
        "untrusted comment: sig\n",
    );
    common::write(&repo.join(&RELEASE[1..]), &manifest);
    common::write(&repo.join("demo/index.html"), "INDEX-MAGIC");
    common::write(&repo.join("demo/.publish.lock"), "lock");
    common::write(&tmp.path().join("secret.txt"), SECRET);
    common::write(&tmp.path().join("outside/secret.txt"), SECRET);
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("../../secret.txt", repo.join("demo/leak.txt")).unwrap();
        symlink(tmp.path().join("outside"), repo.join("demo/leakdir")).unwrap();
        symlink(
            "channels/stable/linux-x86_64.json",
            repo.join("demo/alias.json"),
        )
        .unwrap();
    }
    Fixture {
        tmp,
        repo,
        manifest,
        blob,
        blob_url,
    }
}

fn get(server: &Server, target: &str, headers: &[(&str, &str)]) -> Reply {
    http(&server.url, "GET", target, headers)
}

/// `launcher serve` with stderr captured (the common `Server` lets it through to the test's stderr).
fn spawn_serve(repo: &Path, args: &[&str]) -> (Child, String) {
    let mut c = common::launcher();
    c.args(["serve", "--repo", repo.to_str().unwrap()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("start launcher serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

fn stderr_of(child: &mut Child) -> String {
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

#[test]
fn serve_answers_200_304_206_and_404() {
    let fx = fixture();
    let server = Server::start(&fx.repo, &[]);

    let full = get(&server, &fx.blob_url, &[]);
    assert_eq!(full.status, 200, "{full:?}");
    assert_eq!(full.body, fx.blob);
    assert_eq!(full.header("content-length"), Some("1000"));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let etag = full.header("etag").expect("an ETag").to_string();
    let modified = full
        .header("last-modified")
        .expect("a Last-Modified")
        .to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let head = http(&server.url, "HEAD", &fx.blob_url, &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("1000"));
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert!(head.body.is_empty());

    // Revalidation: by tag, by date, by a list of tags; a 304 carries the validators and no body.
    for headers in [
        [("If-None-Match", etag.as_str())],
        [("If-Modified-Since", modified.as_str())],
    ] {
        let r = get(&server, &fx.blob_url, &headers);
        assert_eq!(r.status, 304, "{headers:?} {r:?}");
        assert_eq!(r.header("etag"), Some(etag.as_str()));
        assert!(r.body.is_empty());
    }
    let list = format!("\"nope\", W/{etag}");
    assert_eq!(
        get(&server, &fx.blob_url, &[("If-None-Match", &list)]).status,
        304
    );
    let old = "Thu, 01 Jan 1970 00:00:00 GMT";
    assert_eq!(
        get(&server, &fx.blob_url, &[("If-Modified-Since", old)]).status,
        200
    );
    // If-None-Match wins over If-Modified-Since: a changed tag means a new body.
    let stale = get(
        &server,
        &fx.blob_url,
        &[
            ("If-None-Match", "\"stale\""),
            ("If-Modified-Since", &modified),
        ],
    );
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, fx.blob);

    // Resuming a download.
    let part = get(&server, &fx.blob_url, &[("Range", "bytes=10-19")]);
    assert_eq!(part.status, 206, "{part:?}");
    assert_eq!(part.header("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(part.header("content-length"), Some("10"));
    assert_eq!(part.body, fx.blob[10..20]);
    assert_eq!(part.header("etag"), Some(etag.as_str()));
    let tail = get(&server, &fx.blob_url, &[("Range", "bytes=990-")]);
    assert_eq!((tail.status, &tail.body[..]), (206, &fx.blob[990..]));
    let same = get(
        &server,
        &fx.blob_url,
        &[("Range", "bytes=10-19"), ("If-Range", &etag)],
    );
    assert_eq!((same.status, &same.body[..]), (206, &fx.blob[10..20]));
    let changed = get(
        &server,
        &fx.blob_url,
        &[("Range", "bytes=10-19"), ("If-Range", "\"other\"")],
    );
    assert_eq!((changed.status, &changed.body[..]), (200, &fx.blob[..]));
    let beyond = get(&server, &fx.blob_url, &[("Range", "bytes=5000-6000")]);
    assert_eq!(beyond.status, 416, "{beyond:?}");
    assert_eq!(beyond.header("content-range"), Some("bytes */1000"));

    assert_eq!(get(&server, "/demo/blobs/ab/missing", &[]).status, 404);
    assert_eq!(get(&server, "/nothing-here.json", &[]).status, 404);
    assert_eq!(
        http(&server.url, "POST", CHANNEL, &[("Content-Length", "0")]).status,
        405
    );
}

#[test]
fn serve_sets_cache_control_and_content_types_by_layout() {
    let fx = fixture();
    let server = Server::start(&fx.repo, &[]);

    let channel = get(&server, CHANNEL, &[]);
    assert_eq!(channel.status, 200);
    assert_eq!(channel.body, fx.manifest);
    assert_eq!(channel.header("content-type"), Some("application/json"));
    assert_eq!(channel.header("cache-control"), Some("no-cache"));

    let sig = get(&server, &format!("{CHANNEL}.minisig"), &[]);
    assert_eq!(sig.status, 200);
    assert!(
        sig.header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain"),
        "{sig:?}"
    );
    assert_eq!(sig.header("cache-control"), Some("no-cache"));

    let immutable = Some("public, max-age=31536000, immutable");
    let release = get(&server, RELEASE, &[]);
    assert_eq!(
        (release.status, release.header("cache-control")),
        (200, immutable)
    );
    let blob = get(&server, &fx.blob_url, &[]);
    assert_eq!(
        blob.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(blob.header("cache-control"), immutable);
    // A revalidated channel manifest keeps saying `no-cache`.
    let etag = channel.header("etag").unwrap();
    let again = get(&server, CHANNEL, &[("If-None-Match", etag)]);
    assert_eq!(
        (again.status, again.header("cache-control")),
        (304, Some("no-cache"))
    );
}

#[test]
fn serve_refuses_every_traversal_spelling() {
    let fx = fixture();
    let server = Server::start(&fx.repo, &[]);
    let secret = fx.tmp.path().join("secret.txt");
    let abs = secret.to_str().unwrap().to_string();
    let abs_encoded = abs.replace('/', "%2f");
    let targets = [
        "/../secret.txt".to_string(),
        "/demo/../../secret.txt".to_string(),
        "/./../secret.txt".to_string(),
        "/%2e%2e/secret.txt".to_string(),
        "/%2E%2E/secret.txt".to_string(),
        "/demo/%2e%2e/%2e%2e/secret.txt".to_string(),
        "/.%2e/secret.txt".to_string(),
        "/%2e./secret.txt".to_string(),
        "/..%2fsecret.txt".to_string(),
        "/..%2Fsecret.txt".to_string(),
        "/demo%2f..%2f..%2fsecret.txt".to_string(),
        "/..%5csecret.txt".to_string(),
        "/..%5Csecret.txt".to_string(),
        "/demo%5c..%5c..%5csecret.txt".to_string(),
        "/..\\secret.txt".to_string(),
        "/demo\\..\\..\\secret.txt".to_string(),
        "/%252e%252e/secret.txt".to_string(),
        "/..;/secret.txt".to_string(),
        "//etc/passwd".to_string(),
        "/%2fetc%2fpasswd".to_string(),
        format!("/{abs}"),
        format!("/{abs_encoded}"),
        abs_encoded.clone(),
        "/secret.txt%00".to_string(),
        "/../secret.txt%00.json".to_string(),
        "/demo/channels/stable/linux-x86_64.json%00.txt".to_string(),
        "/%00".to_string(),
        "/%c0%ae%c0%ae/secret.txt".to_string(),
        "../secret.txt".to_string(),
        format!("{}/../secret.txt", server.url),
        "/demo/leak.txt".to_string(),
        "/demo/leakdir/secret.txt".to_string(),
        "/demo/%2e%2e/demo/leak.txt".to_string(),
    ];
    for target in &targets {
        let r = get(&server, target, &[]);
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(SECRET) && !body.contains("root:"),
            "{target} leaked a file outside the repository: {r:?}"
        );
        assert!(
            r.status == 400 || r.status == 404,
            "{target} answered {} instead of 400/404: {r:?}",
            r.status
        );
    }
    // The server is still up and serving after all that.
    assert_eq!(get(&server, CHANNEL, &[]).status, 200);
}

#[cfg(unix)]
#[test]
fn serve_follows_symlinks_only_inside_the_repository() {
    let fx = fixture();
    let server = Server::start(&fx.repo, &[]);
    let inside = get(&server, "/demo/alias.json", &[]);
    assert_eq!((inside.status, &inside.body), (200, &fx.manifest));
    for target in [
        "/demo/leak.txt",
        "/demo/leakdir/secret.txt",
        "/demo/leakdir",
    ] {
        let r = get(&server, target, &[]);
        assert_eq!(r.status, 404, "{target}: {r:?}");
        assert!(!String::from_utf8_lossy(&r.body).contains(SECRET));
    }
}

#[test]
fn serve_lists_no_directories() {
    let fx = fixture();
    let server = Server::start(&fx.repo, &[]);
    let blob_dir = fx.blob_url.rsplit_once('/').unwrap().0.to_string();
    for target in [
        "/",
        "/demo",
        "/demo/",
        "/demo/channels",
        "/demo/channels/stable/",
        blob_dir.as_str(),
        &format!("{blob_dir}/"),
        "/demo/.publish.lock",
        &format!("{CHANNEL}/"),
    ] {
        let r = get(&server, target, &[]);
        assert_eq!(r.status, 404, "{target}: {r:?}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("linux-x86_64")
                && !body.contains("INDEX-MAGIC")
                && !body.contains("demo"),
            "{target} listed something: {r:?}"
        );
        assert!(r.header("location").is_none(), "{target} redirected: {r:?}");
    }
}

#[test]
fn serve_reports_a_port_in_use() {
    let fx = fixture();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    common::launcher_run(
        &[
            "serve",
            "--repo",
            fx.repo.to_str().unwrap(),
            "--listen",
            &addr,
        ],
        None,
    )
    .code_is(1)
    .stderr_has(&format!("`{addr}` is already in use"))
    .stderr_has("hint: ")
    .stderr_has("--listen 127.0.0.1:");
    drop(taken);
}

#[test]
fn serve_names_a_missing_repository_and_a_bad_address() {
    let fx = fixture();
    let missing = fx.tmp.path().join("no-such-repo");
    let run = common::launcher_run(
        &[
            "serve",
            "--repo",
            missing.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        Some(fx.tmp.path()),
    )
    .failure()
    .stderr_has(missing.to_str().unwrap());
    assert!(run.stdout().is_empty(), "{}", run.explain());

    common::launcher_run(
        &[
            "serve",
            "--repo",
            fx.repo.to_str().unwrap(),
            "--listen",
            "not an address",
        ],
        None,
    )
    .failure()
    .stderr_has("`not an address` is not an address to listen on");
}

#[cfg(unix)]
#[test]
fn serve_logs_requests_with_verbose_and_stops_cleanly_on_sigterm() {
    let fx = fixture();
    let (mut child, line) = spawn_serve(&fx.repo, &["--listen", "127.0.0.1:0", "-v"]);
    assert!(
        line.starts_with(&format!(
            "Serving `{}` at http://127.0.0.1:",
            fx.repo.display()
        )),
        "first line of stdout: {line:?}"
    );
    let url = line
        .split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    assert!(!url.ends_with(":0"), "the real port is printed: {line:?}");
    assert_eq!(http(&url, "GET", CHANNEL, &[]).status, 200);
    assert_eq!(http(&url, "GET", "/missing.json", &[]).status, 404);

    // SAFETY: kill(2) with the pid of a child this test started and has not reaped yet.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "launcher serve ignored SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "stderr:\n{err}");
    let len = fx.manifest.len();
    assert!(
        err.contains(&format!("GET {CHANNEL} 200 {len} bytes")),
        "stderr:\n{err}"
    );
    assert!(
        err.contains("GET /missing.json 404 0 bytes"),
        "stderr:\n{err}"
    );
}

#[test]
fn serve_warns_when_reachable_from_the_network() {
    let fx = fixture();
    let (mut child, line) = spawn_serve(&fx.repo, &["--listen", "0.0.0.0:0"]);
    assert!(
        line.contains("http://0.0.0.0:"),
        "first line of stdout: {line:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let err = stderr_of(&mut child);
    assert!(
        err.contains("warning: listening on `0.0.0.0:"),
        "stderr:\n{err}"
    );
    assert!(err.contains("reachable from the network"), "stderr:\n{err}");

    // Loopback (the default kind of address) gets no warning.
    let (mut child, _) = spawn_serve(&fx.repo, &["--listen", "127.0.0.1:0"]);
    let _ = child.kill();
    let _ = child.wait();
    let err = stderr_of(&mut child);
    assert!(!err.contains("warning"), "stderr:\n{err}");
}
