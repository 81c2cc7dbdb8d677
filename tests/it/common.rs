//! Helpers shared by the scenarios: run the real binary with a clean environment, build release trees,
//! start `launcher serve` on a loopback port, and print everything useful when an assertion fails.
//!
//! The suite also runs as a Windows program under Wine (`scripts/windows.sh test`). To keep a scenario
//! portable, use the helpers at the end of this file instead of Unix-only means: `APP_EXE` for the
//! sample app's executable (`bin/demo` or `bin/demo.cmd`), `write_script` for a small app (a shell
//! script or a batch file), `copy_tree_dated` for `cp -a`, `aborted` / `killed` for signals, `native_path`
//! for `/`-joined paths; `Run::stdout` already turns CRLF into LF. What stays Unix-only (modes, symlinks
//! made by `ln`, mounts, peer tools like nginx) goes under `#[cfg(unix)]` per test, not per file.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_launcher");

/// The sample app shipped in `assets/`.
pub fn assets_app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-app")
}

/// A `launcher` command with the environment cleared (PATH kept so the app's shell script works).
pub fn launcher() -> Command {
    launcher_at(Path::new(BIN))
}

/// A command for a launcher file at `exe` (a copy of the binary, or whatever a release put there),
/// with the environment cleared as [`launcher`] does.
pub fn launcher_at(exe: &Path) -> Command {
    let mut c = Command::new(exe);
    c.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        c.env("PATH", path);
    }
    c.env("NO_COLOR", "1");
    c.stdin(Stdio::null());
    c
}

/// The result of a finished command, with everything needed to explain a failure.
pub struct Run {
    pub cmd: String,
    pub out: Output,
    pub dir: Option<PathBuf>,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        crlf_to_lf(String::from_utf8_lossy(&self.out.stdout).into_owned())
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// A description of the run for assertion messages: command, code, output and a folder listing.
    pub fn explain(&self) -> String {
        let listing = self.dir.as_deref().map(listing).unwrap_or_default();
        format!(
            "\ncommand: {}\nexit code: {}\n--- stdout\n{}--- stderr\n{}--- folder\n{}",
            self.cmd,
            self.code(),
            self.stdout(),
            self.stderr(),
            listing
        )
    }
    pub fn success(self) -> Run {
        assert_eq!(self.code(), 0, "expected success{}", self.explain());
        self
    }
    pub fn failure(self) -> Run {
        assert_ne!(self.code(), 0, "expected failure{}", self.explain());
        self
    }
    pub fn code_is(self, code: i32) -> Run {
        assert_eq!(self.code(), code, "unexpected exit code{}", self.explain());
        self
    }
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}{}",
            self.explain()
        );
        self
    }
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}{}",
            self.explain()
        );
        self
    }
}

/// Runs a command to completion; `dir` is listed when an assertion about the run fails.
pub fn run(mut c: Command, dir: Option<&Path>) -> Run {
    let cmd = format!("{c:?}");
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd}: {e}"));
    Run {
        cmd,
        out,
        dir: dir.map(Path::to_path_buf),
    }
}

/// `launcher ARGS...` to completion.
pub fn launcher_run(args: &[&str], dir: Option<&Path>) -> Run {
    let mut c = launcher();
    c.args(args);
    run(c, dir)
}

/// Every file and folder below `dir`, one per line, with sizes.
pub fn listing(dir: &Path) -> String {
    let mut out = String::new();
    fn walk(root: &Path, d: &Path, out: &mut String) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    out.push_str(&format!("{rel}/\n"));
                    walk(root, &p, out);
                }
                Ok(m) => out.push_str(&format!("{rel} ({} bytes)\n", m.len())),
                Err(_) => out.push_str(&format!("{rel} (?)\n")),
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Copies a folder tree (files, folders, permissions).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A copy of the sample app under `dir/name` with `VERSION` set to `version`.
pub fn sample_release(dir: &Path, name: &str, version: &str) -> PathBuf {
    let rel = dir.join(name);
    copy_tree(&assets_app(), &rel);
    std::fs::write(rel.join("VERSION"), format!("{version}\n")).unwrap();
    rel
}

pub fn write(path: &Path, content: impl AsRef<[u8]>) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `launcher publish --source SOURCE --repo REPO --product PRODUCT --version VERSION EXTRA...`, to run.
pub fn publish_command(
    source: &Path,
    repo: &Path,
    product: &str,
    version: &str,
    extra: &[&str],
) -> Command {
    let mut c = launcher();
    c.args(["publish", "--source"])
        .arg(source)
        .arg("--repo")
        .arg(repo)
        .args(["--product", product, "--version", version])
        .args(extra);
    c
}

/// `launcher publish` of `source` as `version` into `repo` (product `demo`, channel `stable`).
pub fn publish(source: &Path, repo: &Path, version: &str, extra: &[&str]) -> Run {
    let mut args = vec!["--executable", APP_EXE];
    args.extend_from_slice(extra);
    run(
        publish_command(source, repo, "demo", version, &args),
        Some(repo),
    )
}

/// Runs `minisign ARGS...` in `dir` with `stdin` fed to it (the tool reads passwords from a
/// non-terminal stdin; an unencrypted key needs none, and minisign may exit before reading it).
pub fn minisign(args: &[&str], stdin: &str, dir: &Path) -> Run {
    use std::io::Write;
    let mut c = Command::new("minisign");
    c.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let cmd = format!("{c:?} <<< {stdin:?}");
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd}: {e}"));
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    Run {
        cmd,
        out,
        dir: Some(dir.to_path_buf()),
    }
}

/// A running `launcher serve`, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    /// Starts `launcher serve --repo REPO --listen 127.0.0.1:0 EXTRA...` and reads the URL it prints.
    pub fn start(repo: &Path, extra: &[&str]) -> Server {
        let mut c = launcher();
        c.args([
            "serve",
            "--repo",
            repo.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra);
        Server::spawn(c)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when a program is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Skips a test when a peer tool is missing, unless running in CI, where it must be present.
pub fn require(program: &str) -> bool {
    if have(program) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("`{program}` is required in CI: .ci/run installs it");
    }
    skip(format_args!(
        "`{program}` is not installed (`.ci/run` installs it)"
    ));
    false
}

/// Says that the running test skips (part of) what it checks, and why, in the normal test output:
/// written to the process's stderr directly, which the test harness does not capture (`eprintln!` is
/// shown only for failing tests), so a green run still shows what it did not check.
pub fn skip(why: impl std::fmt::Display) {
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(std::io::stderr(), "SKIPPED in {test}: {why}");
}

// --- Repository snapshots and platform-explicit publishing (used by tests/it/publish.rs and sign.rs).

/// The platform spelled out in test publishes, so repository paths are predictable on every machine.
pub const PLATFORM: &str = "linux-x86_64";

/// `launcher publish` as [`publish`] does, with `--platform PLATFORM`.
pub fn publish_on(source: &Path, repo: &Path, version: &str, extra: &[&str]) -> Run {
    let mut args = vec!["--platform", PLATFORM];
    args.extend_from_slice(extra);
    publish(source, repo, version, &args)
}

/// Every entry below a folder: relative path, then the bytes (None for a folder) and the mtime.
pub type Snapshot = std::collections::BTreeMap<String, (Option<Vec<u8>>, std::time::SystemTime)>;

/// A snapshot of everything below `dir`, or None when `dir` does not exist. Symbolic links are taken
/// as they are (their target, as bytes), never followed.
pub fn snapshot(dir: &Path) -> Option<Snapshot> {
    fn walk(root: &Path, d: &Path, out: &mut Snapshot) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            // `/`-separated on every platform, so keys compare with `BOOKKEEPING` and manifest paths.
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string()
                .replace('\\', "/");
            let mtime = meta.modified().unwrap();
            if meta.is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                let bytes = format!("link to {}", target.display()).into_bytes();
                out.insert(rel, (Some(bytes), mtime));
            } else if meta.is_dir() {
                out.insert(rel, (None, mtime));
                walk(root, &p, out);
            } else {
                out.insert(rel, (Some(std::fs::read(&p).unwrap()), mtime));
            }
        }
    }
    if !dir.exists() {
        return None;
    }
    let mut out = Snapshot::new();
    walk(dir, dir, &mut out);
    Some(out)
}

/// Asserts that `run` left `dir` exactly as `before` (absent stays absent; same entries, bytes, mtimes).
pub fn assert_unchanged(run: &Run, dir: &Path, before: &Option<Snapshot>) {
    assert_same(run, dir, before, &snapshot(dir));
}

fn assert_same(run: &Run, dir: &Path, before: &Option<Snapshot>, after: &Option<Snapshot>) {
    assert!(
        after == before,
        "`{}` changed: {}{}",
        dir.display(),
        snapshot_diff(before, after),
        run.explain()
    );
}

/// One HTTP/1.1 exchange as the raw client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `METHOD TARGET HTTP/1.1` to `base` (`http://127.0.0.1:PORT`) with the target bytes exactly as
/// given (so a server sees `..`, `%2e%2e` or `\` untouched), reads until the server closes, and checks
/// that the body is as long as `Content-Length` says.
pub fn http(base: &str, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream =
        std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("connect to {host}: {e}"));
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("read the reply to {method} {target}: {e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in the reply to {method} {target}: {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let reply = Reply {
        status,
        headers,
        body,
    };
    if let Some(len) = reply
        .header("content-length")
        .filter(|_| method != "HEAD" && status != 304)
    {
        assert_eq!(
            reply.body.len().to_string(),
            len,
            "{method} {target}: the body length differs from Content-Length"
        );
    }
    reply
}

/// A free loopback port: bind port 0, note the port, let it go.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// --- A `launcher serve -v` whose request log is collected (used by tests/it/update.rs).

/// `launcher serve -v` with its stderr read by a thread, so a test can count the requests a launch made.
pub struct LoggedServer {
    pub server: Server,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    probes: std::sync::atomic::AtomicUsize,
}

impl LoggedServer {
    /// Starts `launcher serve --repo REPO --listen 127.0.0.1:0 -v`.
    pub fn start(repo: &Path) -> LoggedServer {
        let mut c = launcher();
        c.args([
            "serve",
            "--repo",
            repo.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "-v",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("start launcher serve -v");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("launcher serve printed no URL: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        LoggedServer {
            server: Server { child, url },
            lines,
            probes: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Every request logged so far (`GET /path STATUS N bytes`). The server logs a request before it
    /// answers it, so a probe request whose line has arrived means every request answered before this
    /// call is in the list; probes themselves are left out.
    pub fn requests(&self) -> Vec<String> {
        let n = self
            .probes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let probe = format!("/__probe__/{n}");
        http(&self.server.url, "GET", &probe, &[]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            {
                let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
                if lines.iter().any(|l| l.contains(&format!("{probe} "))) {
                    return lines
                        .iter()
                        .filter(|l| l.starts_with("GET ") || l.starts_with("HEAD "))
                        .filter(|l| !l.contains("/__probe__/"))
                        .cloned()
                        .collect();
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "`launcher serve -v` never logged the probe request {probe}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

// --- Installed launchers that update themselves (used by tests/it/selfupdate.rs).

/// [`run`] for a program file the test has just written: another test thread that forks at that
/// moment holds the file open for writing until its child execs, which makes `exec` fail with
/// `ETXTBSY` ("text file busy") for a short while, so that error is retried.
pub fn run_fresh(mut c: Command, dir: Option<&Path>) -> Run {
    let cmd = format!("{c:?}");
    let mut tries = 0;
    let out = loop {
        match c.output() {
            Err(e) if e.raw_os_error() == Some(26) && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            r => break r.unwrap_or_else(|e| panic!("cannot start {cmd}: {e}")),
        }
    };
    Run {
        cmd,
        out,
        dir: dir.map(Path::to_path_buf),
    }
}

/// Copies a launcher binary (`BIN`, or a test's own copy of it) to `to`, executable like the original.
/// A test that compares launcher files copies `BIN` once and works from that copy, because `BIN` may be
/// rebuilt while the test runs.
pub fn copy_launcher(from: &Path, to: &Path) {
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
}

/// A different launcher that still runs: the binary `from` with `tag` appended (an ELF or PE with
/// trailing bytes loads as before).
pub fn copy_changed_launcher(from: &Path, to: &Path, tag: &str) {
    use std::io::Write;
    copy_launcher(from, to);
    let mut f = std::fs::OpenOptions::new().append(true).open(to).unwrap();
    f.write_all(format!("\n-- changed launcher {tag} --\n").as_bytes())
        .unwrap();
}

/// The SHA-256 of a file, streamed (launcher binaries are large).
pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    let mut f =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap();
    hex::encode(h.finalize())
}

// --- Trust (issue 5): an install site with a signing key, hand-made channel manifests, and snapshots
// of an install folder that leave out the launcher's own bookkeeping (used by trust.rs, hostile.rs,
// https.rs and proxy.rs).

/// A minisign key pair on disk and the public key's base64 line (what `PublicKey =` takes).
pub struct Keys {
    pub sk: PathBuf,
    pub pk: PathBuf,
    pub b64: String,
}

/// `launcher keygen` of an unencrypted pair `dir/NAME.key` + `dir/NAME.pub`.
pub fn keygen_at(dir: &Path, name: &str) -> Keys {
    let (sk, pk) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    );
    launcher_run(
        &[
            "keygen",
            "--secret-key",
            sk.to_str().unwrap(),
            "--public-key",
            pk.to_str().unwrap(),
        ],
        Some(dir),
    )
    .success();
    Keys {
        b64: public_key_line(&pk),
        sk,
        pk,
    }
}

/// The base64 line of a minisign `.pub` file.
pub fn public_key_line(pk: &Path) -> String {
    let text = std::fs::read_to_string(pk).unwrap_or_else(|e| panic!("read {}: {e}", pk.display()));
    text.lines().last().unwrap_or_default().trim().to_string()
}

/// Signs `bytes` with `keys` the way `publish` does; returns the `.minisig` text.
pub fn sign_bytes(keys: &Keys, bytes: &[u8], trusted_comment: &str) -> String {
    launcher::sign::Signer::load(&keys.sk)
        .unwrap_or_else(|e| panic!("load {}: {e}", keys.sk.display()))
        .sign(bytes, trusted_comment)
        .unwrap()
}

/// A temp folder with a repository (`repo/`), an install folder (`app/`), a folder outside the install
/// that nothing may touch (`outside/`), and `launcher.ini`.
pub struct Site {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub repo: PathBuf,
    pub app: PathBuf,
    pub ini: PathBuf,
    pub outside: PathBuf,
}

pub fn site() -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let outside = root.join("outside");
    write(
        &outside.join("sentinel.txt"),
        "outside the install folder\n",
    );
    Site {
        repo: root.join("repo"),
        app: root.join("app"),
        ini: root.join("launcher.ini"),
        outside,
        root,
        tmp,
    }
}

impl Site {
    /// Publishes the sample app as `version` (`--platform PLATFORM`) with `extra` arguments; returns
    /// the release folder.
    pub fn publish(&self, version: &str, extra: &[&str]) -> PathBuf {
        let rel = self.root.join(format!("rel-{version}"));
        if !rel.exists() {
            sample_release(&self.root, &format!("rel-{version}"), version);
        }
        let secs = |p: &Path| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .map(|t| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
                .ok()
        };
        let before = secs(&self.channel());
        publish_on(&rel, &self.repo, version, extra).success();
        // HTTP validators have whole seconds (nginx's ETag is mtime-size), and `1.0` and `2.0` manifests
        // have the same length: a channel rewritten within the second would be answered `304`. Real
        // publishes are seconds apart; make these so.
        if let (Some(old), Some(new)) = (before, secs(&self.channel())) {
            if new <= old {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(old + 1);
                std::fs::File::options()
                    .write(true)
                    .open(self.channel())
                    .unwrap()
                    .set_modified(t)
                    .unwrap();
            }
        }
        rel
    }

    /// Writes launcher.ini: `Server`, `Product = demo`, `Platform = PLATFORM`, `extra` lines in [Update],
    /// `Dir = app`.
    pub fn config(&self, server: &str, extra: &str) {
        write(
            &self.ini,
            format!("[Update]\nServer = {server}\nProduct = demo\nPlatform = {PLATFORM}\n{extra}\n[App]\nDir = app\n"),
        );
    }

    /// The repository read as a folder.
    pub fn config_folder(&self, extra: &str) {
        self.config(self.repo.to_str().unwrap(), extra);
    }

    /// `launcher --config INI ARGS...` as a command, for tests that add environment variables.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = launcher();
        c.arg("--config").arg(&self.ini).args(args);
        c
    }

    /// `launcher --config INI ARGS...`; the install folder is listed when an assertion fails.
    pub fn launcher(&self, args: &[&str]) -> Run {
        run(self.command(args), Some(&self.app))
    }

    /// The channel manifest of `demo` / `stable` / PLATFORM in the repository.
    pub fn channel(&self) -> PathBuf {
        self.repo
            .join(format!("demo/channels/stable/{PLATFORM}.json"))
    }

    /// The release manifest of `version`.
    pub fn release(&self, version: &str) -> PathBuf {
        self.repo
            .join(format!("demo/releases/{version}/{PLATFORM}.json"))
    }

    pub fn read_json(&self, path: &Path) -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
        )
        .unwrap()
    }

    /// Replaces a manifest with `bytes`; signs it with `keys` (trusted comment as `publish` writes it),
    /// or removes its signature when `keys` is None.
    pub fn put_manifest(&self, path: &Path, bytes: &[u8], keys: Option<&Keys>) {
        write(path, bytes);
        let sig = sig_path(path);
        match keys {
            Some(k) => write(
                &sig,
                sign_bytes(k, bytes, "timestamp:0\tfile:hand-made.json\tproduct:demo"),
            ),
            None => {
                let _ = std::fs::remove_file(&sig);
            }
        }
    }

    /// The installed app's output: `demo app VERSION` is its first line.
    pub fn assert_launched(&self, run: &Run, version: &str) {
        assert!(
            run.stdout().contains(&format!("demo app {version}\n")),
            "the app {version} did not start{}",
            run.explain()
        );
    }
}

/// The `.minisig` beside a manifest.
pub fn sig_path(manifest: &Path) -> PathBuf {
    let mut s = manifest.as_os_str().to_os_string();
    s.push(".minisig");
    PathBuf::from(s)
}

/// What a refused update may change in the install folder: the lock, the log line and the state's
/// "last result". Everything else (app files, backups, staging, the saved channel manifest) must stay.
pub const BOOKKEEPING: &[&str] = &[
    ".launcher",
    ".launcher/lock",
    ".launcher/launcher.log",
    ".launcher/state.json",
];

/// A snapshot of an install folder without the bookkeeping files.
pub fn app_snapshot(app: &Path) -> Option<Snapshot> {
    let mut out = snapshot(app)?;
    out.retain(|k, _| !BOOKKEEPING.contains(&k.as_str()));
    Some(out)
}

/// Asserts that `run` left the install folder as `before` (see [`app_snapshot`]).
pub fn assert_app_unchanged(run: &Run, app: &Path, before: &Option<Snapshot>) {
    assert_same(run, app, before, &app_snapshot(app));
}

/// What differs between two snapshots, one entry per path.
pub fn snapshot_diff(before: &Option<Snapshot>, after: &Option<Snapshot>) -> String {
    let (b, a) = (
        before.clone().unwrap_or_default(),
        after.clone().unwrap_or_default(),
    );
    let mut diffs = Vec::new();
    for k in b
        .keys()
        .chain(a.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (b.get(k), a.get(k)) {
            (Some(_), None) => diffs.push(format!("removed: {k}")),
            (None, Some(_)) => diffs.push(format!("added: {k}")),
            (Some(x), Some(y)) if x.0 != y.0 => diffs.push(format!("content changed: {k}")),
            (Some(x), Some(y)) if x.1 != y.1 => diffs.push(format!("mtime changed: {k}")),
            _ => {}
        }
    }
    diffs.join(", ")
}

/// The files in `<app>/.launcher/staging` (none after a refused update).
pub fn staged_files(app: &Path) -> Vec<String> {
    std::fs::read_dir(app.join(".launcher/staging"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

// --- Issue 4 (crash.rs, faults.rs, concurrency.rs): releases as file maps, install folders that can be
// --- cloned, and the invariant "every managed file is the old or the new version, for the whole set".

/// A release's files: manifest path → bytes. Files under `bin/` are executable.
pub type Tree = std::collections::BTreeMap<String, Vec<u8>>;

/// Every file below `dir` as a [`Tree`], leaving out the top-level entries `skip` says to.
pub fn read_tree(dir: &Path, skip: &dyn Fn(&str) -> bool) -> Tree {
    fn walk(root: &Path, d: &Path, skip: &dyn Fn(&str) -> bool, out: &mut Tree) {
        for e in std::fs::read_dir(d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let p = e.unwrap().path();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if d == root && skip(&rel) {
                continue;
            }
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                walk(root, &p, skip, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = Tree::new();
    walk(dir, dir, skip, &mut out);
    out
}

/// The sample app's files with `VERSION` set to `version`.
pub fn sample_tree(version: &str) -> Tree {
    let mut t = read_tree(&assets_app(), &|_| false);
    t.insert("VERSION".into(), format!("{version}\n").into_bytes());
    t
}

/// `len` deterministic bytes that zstd cannot shrink (so the blob is stored raw and resumable).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `tree` into the fresh folder `dir` (files under `bin/` executable), every file dated
/// 2024-01-01 as a release built earlier would be, so the stat cache is trusted (not racy) at once.
pub fn write_tree(dir: &Path, tree: &Tree) {
    let date = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_704_067_200);
    for (rel, bytes) in tree {
        let p = dir.join(rel);
        write(&p, bytes);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(date)
            .unwrap();
        #[cfg(unix)]
        if rel.starts_with("bin/") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

/// A temp folder with a repository (`repo/`) and any number of installs beside it.
pub struct Bench {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub repo: PathBuf,
}

impl Bench {
    pub fn new() -> Bench {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        Bench {
            repo: root.join("repo"),
            root,
            tmp,
        }
    }

    /// Publishes `tree` as `version` of product `demo` on channel `stable`.
    pub fn publish(&self, version: &str, tree: &Tree) {
        let rel = self.root.join(format!("rel-{version}"));
        write_tree(&rel, tree);
        publish(&rel, &self.repo, version, &[]).success();
    }

    /// An install folder `name/app` with `name/launcher.ini` (Server = the repository as a folder).
    pub fn install(&self, name: &str, extra: &str) -> InstallDir {
        let i = InstallDir::at(&self.root.join(name));
        i.config(self.repo.to_str().unwrap(), extra);
        i
    }
}

/// An install: `launcher.ini` and the `app/` folder it names.
#[derive(Clone)]
pub struct InstallDir {
    pub root: PathBuf,
    pub ini: PathBuf,
    pub app: PathBuf,
}

impl InstallDir {
    pub fn at(root: &Path) -> InstallDir {
        std::fs::create_dir_all(root).unwrap();
        InstallDir {
            root: root.to_path_buf(),
            ini: root.join("launcher.ini"),
            app: root.join("app"),
        }
    }

    /// Writes launcher.ini: `Server`, `Product = demo`, the `extra` [Update] lines, `Dir = app`.
    pub fn config(&self, server: &str, extra: &str) {
        write(
            &self.ini,
            format!("[Update]\nServer = {server}\nProduct = demo\n{extra}\n[App]\nDir = app\n"),
        );
    }

    /// `launcher --config INI ARGS...` with `env` added to the cleared environment.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = launcher();
        c.arg("--config").arg(&self.ini).args(args);
        c.envs(env.iter().copied());
        c
    }

    /// Runs the launcher to completion; the install folder is listed when an assertion fails.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run(self.command(args, env), Some(&self.app))
    }

    /// A copy of this install (ini and app folder, with dates and permissions) in `root`.
    pub fn clone_to(&self, root: &Path) -> InstallDir {
        let to = InstallDir::at(root);
        std::fs::copy(&self.ini, &to.ini).unwrap();
        if cfg!(windows) {
            copy_tree_dated(&self.app, &to.app);
            return to;
        }
        let st = Command::new("cp")
            .arg("-a")
            .arg(&self.app)
            .arg(&to.app)
            .status()
            .unwrap();
        assert!(
            st.success(),
            "cp -a {} {}",
            self.app.display(),
            to.app.display()
        );
        to
    }

    /// The files in the app folder outside `.launcher/` and the `bkp.NNN` backups.
    pub fn app_files(&self) -> Tree {
        read_tree(&self.app, &|top| top == ".launcher" || is_backup_name(top))
    }

    pub fn backups(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.app)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.retain(|n| is_backup_name(n));
        v.sort();
        v
    }

    /// Panics with a listing unless [`whole_version`] holds; returns the version found.
    pub fn assert_whole(&self, versions: &[(&str, &Tree)], user: &Tree, context: &str) -> String {
        whole_version(&self.app_files(), versions, user)
            .unwrap_or_else(|e| panic!("{context}: {e}\n--- folder\n{}", listing(&self.app)))
    }

    /// Panics with a listing unless [`backups_consistent`] holds.
    pub fn assert_backups(&self, versions: &[(&str, &Tree)], context: &str) {
        if let Err(e) = backups_consistent(&self.app, versions) {
            panic!("{context}: {e}\n--- folder\n{}", listing(&self.app));
        }
    }
}

pub fn is_backup_name(n: &str) -> bool {
    n.strip_prefix("bkp.")
        .is_some_and(|d| d.len() >= 3 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The invariant: `files` (an app folder outside `.launcher/` and backups) is exactly one of `versions`
/// plus the user's files, byte for byte. Returns the name of that version, or what differs from each.
pub fn whole_version(
    files: &Tree,
    versions: &[(&str, &Tree)],
    user: &Tree,
) -> Result<String, String> {
    let mut why = Vec::new();
    for (u, bytes) in user {
        match files.get(u) {
            Some(b) if b == bytes => {}
            Some(_) => return Err(format!("the user file `{u}` was changed")),
            None => return Err(format!("the user file `{u}` is gone")),
        }
    }
    for (name, tree) in versions {
        let mut diff = Vec::new();
        for (p, bytes) in tree.iter() {
            match files.get(p) {
                Some(b) if b == bytes => {}
                Some(_) => diff.push(format!("`{p}` differs")),
                None => diff.push(format!("`{p}` is missing")),
            }
        }
        for p in files.keys() {
            if !tree.contains_key(p) && !user.contains_key(p) {
                diff.push(format!("`{p}` is extra"));
            }
        }
        if diff.is_empty() {
            return Ok(name.to_string());
        }
        why.push(format!("not {name}: {}", diff.join(", ")));
    }
    Err(format!("the app is no whole version; {}", why.join("; ")))
}

/// Every `bkp.NNN` is numbered from 001 without gaps, has a `backup.json`, holds exactly the files its
/// `saved` list names with the bytes of its `from` version (when that is one of `versions`), and
/// `added` lists what its `to` version has and `from` had not.
pub fn backups_consistent(app: &Path, versions: &[(&str, &Tree)]) -> Result<(), String> {
    let find = |v: Option<&str>| {
        versions
            .iter()
            .find(|(n, _)| Some(*n) == v)
            .map(|(_, t)| *t)
    };
    let mut names: Vec<String> = std::fs::read_dir(app)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_backup_name(n))
        .collect();
    names.sort();
    for (i, name) in names.iter().enumerate() {
        if *name != format!("bkp.{:03}", i + 1) {
            return Err(format!("backups {names:?} are not numbered 001, 002, ..."));
        }
        let folder = app.join(name);
        let info: serde_json::Value = serde_json::from_slice(
            &std::fs::read(folder.join("backup.json"))
                .map_err(|e| format!("`{name}/backup.json`: {e}"))?,
        )
        .map_err(|e| format!("`{name}/backup.json`: {e}"))?;
        let list = |k: &str| -> Vec<String> {
            let mut v: Vec<String> = info[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        let held = read_tree(&folder, &|top| top == "backup.json");
        let saved = list("saved");
        if held.keys().cloned().collect::<Vec<_>>() != saved {
            return Err(format!(
                "`{name}` holds {:?} but its backup.json lists {saved:?}",
                held.keys().collect::<Vec<_>>()
            ));
        }
        let (from, to) = (find(info["from"].as_str()), find(info["to"].as_str()));
        if let Some(from) = from {
            for (p, bytes) in &held {
                if from.get(p) != Some(bytes) {
                    return Err(format!(
                        "`{name}/{p}` is not the file of version {}",
                        info["from"]
                    ));
                }
            }
            if let Some(to) = to {
                let added: Vec<String> = to
                    .keys()
                    .filter(|p| !from.contains_key(*p))
                    .cloned()
                    .collect();
                if list("added") != added {
                    return Err(format!(
                        "`{name}` lists added {:?}, expected {added:?}",
                        list("added")
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A foreground nginx on a loopback port, with every file it writes (pid, logs, temp files) inside its
/// own folder; killed when dropped. Used to serve repositories over HTTP and HTTPS like a publisher would.
pub struct Nginx {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Starts nginx with one server on `127.0.0.1:<free port><listen_extra>` (e.g. ` ssl`) holding
    /// `directives`; waits until it accepts connections.
    pub fn start(dir: &Path, listen_extra: &str, directives: &str) -> Nginx {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let build = Command::new("nginx")
            .arg("-V")
            .output()
            .expect("run nginx -V");
        let build = String::from_utf8_lossy(&build.stderr).into_owned();
        // Every temp path points into `dir`, but only for modules this nginx was built with: naming a
        // missing module's directive is a configuration error.
        let mut temp_paths = format!(
            "    client_body_temp_path \"{}/client_body\";\n",
            dir.display()
        );
        for module in ["proxy", "fastcgi", "uwsgi", "scgi"] {
            if !build.contains(&format!("--without-http_{module}_module")) {
                temp_paths.push_str(&format!(
                    "    {module}_temp_path \"{}/{module}\";\n",
                    dir.display()
                ));
            }
        }
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid "{dir}/nginx.pid";
error_log "{dir}/error.log" info;
events {{
    worker_connections 64;
}}
http {{
    access_log "{dir}/access.log";
{temp_paths}    default_type application/octet-stream;
    types {{
        application/json json;
    }}
    server {{
        listen 127.0.0.1:{port}{listen_extra};
{directives}
    }}
}}
"#,
            dir = dir.display(),
        );
        let conf_path = dir.join("nginx.conf");
        write(&conf_path, conf);
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        // Bounded wait for readiness (not a timing assertion): nginx either listens or says why.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = || std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited with {status}; error.log:\n{}", log());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not listen on {port}; error.log:\n{}",
                log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        nginx
    }

    /// What nginx logged about the requests it served.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

// --- Local faults made with system commands (used by tests/it/messages.rs).

/// Runs the system commands it holds when dropped: undoes a `mount` or `chattr +i` before the temp
/// folder is removed.
pub struct Undo(pub Vec<Vec<String>>);

impl Drop for Undo {
    fn drop(&mut self) {
        for cmd in self.0.iter().rev() {
            let _ = Command::new(&cmd[0]).args(&cmd[1..]).status();
        }
    }
}

/// Runs a system command; false (with the reason printed) when it is not possible here, so the test
/// that needs it says it is skipped.
pub fn try_cmd(args: &[&str]) -> bool {
    match Command::new(args[0]).args(&args[1..]).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            skip(format_args!(
                "`{}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            false
        }
        Err(e) => {
            skip(format_args!("cannot run `{}`: {e}", args.join(" ")));
            false
        }
    }
}

/// A tiny xorshift generator: the kill tests' only randomness, from a printed seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Runs the launcher of `i` with `args` once, uninterrupted: returns how long it took and when its
/// journal appeared (µs), so the kill tests can spread their kills over a run (randomness, not a timing
/// assertion).
pub fn probe_run(i: &InstallDir, args: &[&str]) -> (u64, u64) {
    let started = std::time::Instant::now();
    let mut child = i
        .command(args, &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut journal_at = None;
    while child.try_wait().unwrap().is_none() {
        if journal_at.is_none() && i.app.join(".launcher/journal.json").exists() {
            journal_at = Some(started.elapsed());
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    let span = started.elapsed().as_micros().max(1000) as u64;
    (span, journal_at.map_or(span / 2, |t| t.as_micros() as u64))
}

/// Starts the launcher of `i` with `args` and kills it after a random delay, half the time aimed at the
/// apply (from `apply_from` µs, `aim` µs either side), else anywhere in the `span` µs a whole run takes.
/// Returns the delay and the exit status.
pub fn spawn_and_kill(
    i: &InstallDir,
    args: &[&str],
    rng: &mut Rng,
    apply_from: u64,
    span: u64,
    aim: u64,
) -> (u64, std::process::ExitStatus) {
    let mut child = i
        .command(args, &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let delay = if rng.below(2) == 0 {
        apply_from.saturating_sub(aim) + rng.below(span.saturating_sub(apply_from) + aim)
    } else {
        rng.below(span)
    };
    std::thread::sleep(std::time::Duration::from_micros(delay));
    let _ = child.kill();
    (delay, child.wait().unwrap())
}

/// The kill tests' seed: `LAUNCHER_KILL_SEED` when set (to rerun a failure), else from the clock.
pub fn kill_seed() -> u64 {
    std::env::var("LAUNCHER_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

impl Server {
    /// Starts `c` (a `launcher serve ...` command) and reads the URL it prints on its first line.
    pub fn spawn(mut c: Command) -> Server {
        c.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("start {c:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("{c:?} printed no URL: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Server { child, url }
    }
}

// --- Fleet reports (issue 14): a real PostgreSQL, `launcher serve --reports`, and waiting for reports.
// --- Unix only, like the fleet tests (PostgreSQL runs as its own user, found by `geteuid`).

#[cfg(unix)]
pub use fleet_helpers::*;

#[cfg(unix)]
mod fleet_helpers {
    use super::*;

    /// A throwaway PostgreSQL server (Debian's `initdb` + `pg_ctl`) on a free loopback port, in a temp
    /// folder, stopped when dropped. As root it runs as the `postgres` user (PostgreSQL refuses root).
    pub struct Postgres {
        pub url: String,
        bin: PathBuf,
        data: PathBuf,
        /// `pg_ctl start`'s arguments after `-D DATA`: the server's options and its log file.
        start_args: Vec<String>,
        as_user: Option<&'static str>,
        _tmp: tempfile::TempDir,
    }

    /// Debian's PostgreSQL programs live in `/usr/lib/postgresql/<major>/bin`, off PATH; the newest wins.
    pub fn postgres_bin() -> Option<PathBuf> {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("pg_ctl").is_file().then_some((major, bin))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, b)| b)
    }

    impl Postgres {
        /// Starts a server, or returns None (skip) when PostgreSQL is not installed outside CI.
        pub fn start() -> Option<Postgres> {
            let Some(bin) = postgres_bin() else {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL (initdb, pg_ctl) is required in CI: .ci/run installs it");
                }
                eprintln!("skipping: PostgreSQL is not installed (`.ci/run` installs it)");
                return None;
            };
            let root = unsafe { libc_geteuid() } == 0;
            let tmp = tempfile::tempdir().unwrap();
            let data = tmp.path().join("pgdata");
            std::fs::create_dir(&data).unwrap();
            let as_user = if root {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
                    .unwrap();
                for dir in tmp.path().ancestors().skip(1) {
                    let mode = std::fs::metadata(dir).unwrap().permissions().mode();
                    assert!(
                    mode & 0o001 != 0,
                    "PostgreSQL runs as the `postgres` user, which cannot enter `{}`: set TMPDIR to a folder every user can enter, such as /tmp",
                    dir.display()
                );
                }
                let st = Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&data)
                    .status()
                    .unwrap();
                assert!(st.success(), "chown postgres {}", data.display());
                Some("postgres")
            } else {
                None
            };
            let port = free_port();
            let data_s = data.to_str().unwrap().to_string();
            let opts =
                format!("-p {port} -h 127.0.0.1 -k {data_s} -c fsync=off -c max_connections=200");
            let log = format!("{data_s}/server.log");
            let pg = Postgres {
                url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                bin,
                data,
                start_args: vec!["-o".into(), opts, "-l".into(), log.clone()],
                as_user,
                _tmp: tmp,
            };
            pg.tool(
                "initdb",
                &[
                    "-D",
                    &data_s,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )
            .success();
            let started = pg.pg_ctl_start();
            assert_eq!(
                started.code(),
                0,
                "pg_ctl start failed{}\n--- server.log\n{}",
                started.explain(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            Some(pg)
        }

        /// Runs one of PostgreSQL's programs (as the `postgres` user when the tests run as root).
        pub fn tool(&self, name: &str, args: &[&str]) -> Run {
            let exe = self.bin.join(name);
            let mut c = match self.as_user {
                Some(u) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", u, "--"]).arg(&exe);
                    c
                }
                None => Command::new(&exe),
            };
            c.args(args).stdin(Stdio::null());
            run(c, None)
        }

        /// `psql -tA -c SQL` against the server; the output, trimmed.
        pub fn psql(&self, sql: &str) -> String {
            let port = self
                .url
                .rsplit(':')
                .next()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string();
            let r = self
                .tool(
                    "psql",
                    &[
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &port,
                        "-U",
                        "postgres",
                        "-tA",
                        "-c",
                        sql,
                    ],
                )
                .success();
            r.stdout().trim().to_string()
        }
    }

    impl Drop for Postgres {
        fn drop(&mut self) {
            let data = self.data.to_str().unwrap().to_string();
            let _ = self.tool("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
    }

    extern "C" {
        #[link_name = "geteuid"]
        fn libc_geteuid() -> u32;
    }

    /// Where a test's reports are stored: a SQLite file or a PostgreSQL server.
    pub enum ReportDb {
        Sqlite(tempfile::TempDir),
        Postgres(Postgres),
    }

    impl ReportDb {
        pub fn sqlite() -> ReportDb {
            ReportDb::Sqlite(tempfile::tempdir().unwrap())
        }

        /// None (skip) when PostgreSQL is not installed outside CI.
        pub fn postgres() -> Option<ReportDb> {
            Postgres::start().map(ReportDb::Postgres)
        }

        /// The `--reports` argument.
        pub fn target(&self) -> String {
            match self {
                ReportDb::Sqlite(d) => d.path().join("reports.db").to_str().unwrap().to_string(),
                ReportDb::Postgres(p) => p.url.clone(),
            }
        }

        /// `SELECT COUNT(*) FROM reports`, asked with the database's own client (sqlite3, psql).
        pub fn count(&self) -> i64 {
            let sql = "SELECT COUNT(*) FROM reports";
            let out = match self {
                ReportDb::Sqlite(_) => {
                    assert!(
                    have("sqlite3"),
                    "`sqlite3` counts the reports in the database file: apt-get install -y sqlite3 (.ci/run installs it)"
                );
                    let mut c = Command::new("sqlite3");
                    c.arg(self.target()).arg(sql);
                    run(c, None).success().stdout().trim().to_string()
                }
                ReportDb::Postgres(p) => p.psql(sql),
            };
            out.parse()
                .unwrap_or_else(|_| panic!("COUNT(*) gave {out:?}"))
        }
    }

    /// `launcher serve --repo REPO --listen LISTEN --reports DB EXTRA...`, stopped when dropped.
    pub fn report_server(repo: &Path, db: &ReportDb, listen: &str, extra: &[&str]) -> Server {
        report_server_at(Path::new(BIN), repo, db, listen, extra)
    }

    /// [`report_server`] with the launcher at `exe` (the benchmark passes the release build).
    pub fn report_server_at(
        exe: &Path,
        repo: &Path,
        db: &ReportDb,
        listen: &str,
        extra: &[&str],
    ) -> Server {
        std::fs::create_dir_all(repo).unwrap();
        let mut c = launcher_at(exe);
        c.args([
            "serve",
            "--repo",
            repo.to_str().unwrap(),
            "--listen",
            listen,
        ])
        .arg("--reports")
        .arg(db.target())
        .args(extra);
        Server::spawn(c)
    }

    /// `GET /fleet.json` (with `query`, such as `?machine=ID`) as JSON.
    pub fn fleet_json(base: &str, query: &str) -> serde_json::Value {
        let reply = http(base, "GET", &format!("/fleet.json{query}"), &[]);
        assert_eq!(
            reply.status,
            200,
            "GET /fleet.json: {}",
            String::from_utf8_lossy(&reply.body)
        );
        serde_json::from_slice(&reply.body).unwrap()
    }

    /// Waits (bounded) until `/fleet.json` counts `n` reports; the detached senders deliver on their own
    /// time, so tests wait for the condition, not for a fixed while.
    pub fn wait_for_reports(base: &str, n: i64) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let fleet = fleet_json(base, "");
            let have = fleet["reports"].as_i64().unwrap();
            if have == n {
                return fleet;
            }
            assert!(
                have < n && std::time::Instant::now() < deadline,
                "expected {n} reports, the server has {have}:\n{fleet:#}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The spooled report files of an install's app folder.
    pub fn spooled_reports(app: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(app.join(".launcher/reports"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// A report as the launcher sends it, with `id` and `install_id` made from `n`.
    pub fn fleet_report(n: usize) -> serde_json::Value {
        serde_json::json!({
            "id": format!("report-{n:08}"),
            "install_id": format!("install-{n:08}"),
            "machine": format!("PC-{n:03}"),
            "os": "linux x86_64",
            "launcher_version": "0.1.0",
            "product": "demo",
            "channel": "stable",
            "platform": PLATFORM,
            "event": "update",
            "result": "ok",
            "from": "1.0",
            "to": "2.0",
            "installed": "2.0",
            "bytes": 1234,
            "seconds": 0.5,
            "time": "2026-11-20T20:00:00Z",
        })
    }

    impl Postgres {
        /// Restarts the server (stop `-m fast`, start with the same port and options): every connection
        /// to it is closed, as when IT restarts or upgrades PostgreSQL under a running `launcher serve`.
        /// Not `pg_ctl restart`: it cannot be given a log file, so the new server would keep the
        /// output pipe of `pg_ctl` open and the test would wait for it forever.
        pub fn restart(&self) {
            let data = self.data.to_str().unwrap().to_string();
            self.tool("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])
                .success();
            self.pg_ctl_start().success();
        }

        fn pg_ctl_start(&self) -> Run {
            let data = self.data.to_str().unwrap().to_string();
            let mut args = vec!["-D", &data];
            args.extend(self.start_args.iter().map(String::as_str));
            args.extend(["-w", "-t", "60", "start"]);
            self.tool("pg_ctl", &args)
        }
    }
}

// --- Windows (issue 11): what differs when the suite runs as a Windows program under Wine. New tests use
// --- these instead of shell scripts and `cp`, so they run on both.

/// The sample app's executable, as releases name it: the shell script on Unix, the batch file on Windows.
pub const APP_EXE: &str = if cfg!(windows) {
    "bin/demo.cmd"
} else {
    "bin/demo"
};

/// A batch file writes CRLF line ends; scenarios compare lines with `\n` on every platform.
pub fn crlf_to_lf(s: String) -> String {
    if cfg!(windows) {
        s.replace("\r\n", "\n")
    } else {
        s
    }
}

/// Writes a small program at `stem` plus the platform's extension: `sh` is the body of a `/bin/sh`
/// script (made executable) on Unix, `cmd` the body of a batch file (after `@echo off`) on Windows.
/// Returns the file written.
pub fn write_script(stem: &Path, sh: &str, cmd: &str) -> PathBuf {
    if cfg!(windows) {
        let mut p = stem.as_os_str().to_os_string();
        p.push(".cmd");
        let p = PathBuf::from(p);
        write(
            &p,
            format!("@echo off\r\n{}\r\n", cmd.replace('\n', "\r\n")),
        );
        p
    } else {
        write(stem, format!("#!/bin/sh\n{sh}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(stem, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        stem.to_path_buf()
    }
}

/// Copies a folder tree keeping every file's modification date (what `cp -a` does on Unix), so a copied
/// install's stat cache stays valid.
pub fn copy_tree_dated(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree_dated(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
            let mtime = e.metadata().unwrap().modified().unwrap();
            std::fs::File::options()
                .write(true)
                .open(&dst)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
        }
    }
}

/// True when a process ended in `std::process::abort`: by a signal on Unix, by the fail-fast status
/// `STATUS_STACK_BUFFER_OVERRUN` (0xC0000409) that `abort` raises on Windows.
pub fn aborted(status: &std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal().is_some()
    }
    #[cfg(windows)]
    {
        status.code() == Some(0xC000_0409_u32 as i32)
    }
}

/// True when a process ended by `Child::kill`: SIGKILL on Unix; on Windows `TerminateProcess` with the
/// exit code 1 the standard library passes (a launcher that failed on its own exits 1 too, so this is for
/// statistics, not assertions).
pub fn killed(status: &std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal() == Some(9)
    }
    #[cfg(windows)]
    {
        status.code() == Some(1)
    }
}

/// `root` joined with the `/`-separated `rel`, one component at a time (so Windows gets `\\`).
pub fn native_path(root: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(root.to_path_buf(), |p, c| p.join(c))
}

/// A path as a user writes it, and as the launcher prints it: on Windows without the `\\?\` prefix
/// that `canonicalize` adds (the temp folders of the tests are canonical).
pub fn plain_path(p: &Path) -> String {
    let s = p.display().to_string();
    match s.strip_prefix(r"\\?\") {
        Some(rest) if cfg!(windows) => rest.to_string(),
        _ => s,
    }
}

/// A `file://` URL for a local folder: `file:///tmp/x` on Unix, `file:///C:/x` on Windows.
pub fn file_url(dir: &Path) -> String {
    let s = plain_path(dir);
    if cfg!(windows) {
        format!("file:///{}", s.replace('\\', "/"))
    } else {
        format!("file://{s}")
    }
}

// --- Issue 13 (hours.rs and the other IT controls): the launcher at a chosen instant in a chosen zone.

/// `launcher --config INI ARGS...` run by `faketime` at `epoch` (seconds since 1970, UTC; the clock
/// runs on from there) with `TZ=zone`, so that update hours are tested at exact wall-clock times,
/// across midnight and DST changes, without waiting. None when `faketime` is missing (skipped).
pub fn launcher_at_time(s: &Site, zone: &str, epoch: i64, args: &[&str]) -> Option<Run> {
    if !require("faketime") {
        return None;
    }
    let mut c = Command::new("faketime");
    c.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        c.env("PATH", path);
    }
    c.env("NO_COLOR", "1")
        .env("TZ", zone)
        .env("FAKETIME_FMT", "%s")
        .stdin(Stdio::null());
    c.arg("-f")
        .arg(format!("@{epoch}"))
        .arg(BIN)
        .arg("--config")
        .arg(&s.ini)
        .args(args);
    Some(run(c, Some(&s.app)))
}
