//! Issue 5, proxies: the `Proxy` key and the standard `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY`
//! variables, through a real tinyproxy on loopback whose log shows every request that went through it.
//! reqwest does not exempt loopback addresses from a proxy by itself (only `NO_PROXY` does), so the
//! origin can be `launcher serve` on 127.0.0.1. A proxy that wants a password (407) gets a message of
//! its own, for plain HTTP and for HTTPS tunnels (`CONNECT`).

use crate::common::{self, site, Server, Site};
use crate::https::{self, TlsServer};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A foreground tinyproxy on a loopback port, killed when dropped.
struct TinyProxy {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for TinyProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TinyProxy {
    /// Starts tinyproxy with its config, log and pid file in `dir`; `auth` adds `BasicAuth USER PASS`.
    fn start(dir: &Path, auth: Option<(&str, &str)>) -> TinyProxy {
        std::fs::create_dir_all(dir).unwrap();
        let port = common::free_port();
        let log = dir.join("tinyproxy.log");
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 50\nLogLevel Info\nLogFile \"{}\"\nPidFile \"{}\"\n",
            log.display(),
            dir.join("tinyproxy.pid").display()
        );
        if let Some((user, pass)) = auth {
            conf.push_str(&format!("BasicAuth {user} {pass}\n"));
        }
        let conf_path = dir.join("tinyproxy.conf");
        common::write(&conf_path, conf);
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tinyproxy");
        let mut proxy = TinyProxy { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = proxy.child.try_wait().unwrap() {
                panic!("tinyproxy exited with {status}; log:\n{}", proxy.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "tinyproxy did not listen on {port}; log:\n{}",
                proxy.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The request lines tinyproxy logged (`GET http://127.0.0.1:PORT/path HTTP/1.1`, `CONNECT ...`).
    fn requests(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter_map(|l| l.split_once("Request (file descriptor ").map(|(_, r)| r))
            .filter_map(|r| r.split_once("): ").map(|(_, req)| req.to_string()))
            .collect()
    }
}

fn proxied_site() -> Option<(Site, Server, TinyProxy)> {
    if !common::require("tinyproxy") {
        return None;
    }
    let s = site();
    s.publish("1.0", &[]);
    let server = Server::start(&s.repo, &[]);
    let proxy = TinyProxy::start(&s.root.join("proxy"), None);
    Some((s, server, proxy))
}

#[test]
fn the_proxy_key_sends_every_request_through_the_proxy() {
    let Some((s, server, proxy)) = proxied_site() else {
        return;
    };
    s.config(&server.url, &format!("Proxy = {}", proxy.url()));
    let run = s.launcher(&[]).success();
    s.assert_launched(&run, "1.0");
    let reqs = proxy.requests();
    let channel = format!(
        "GET {}/demo/channels/stable/{}.json HTTP/1.1",
        server.url,
        common::PLATFORM
    );
    assert!(
        reqs.contains(&channel),
        "no {channel:?} in the proxy's log: {reqs:#?}"
    );
    assert!(
        reqs.iter().any(|r| r.contains("/demo/blobs/")),
        "the blobs did not go through the proxy: {reqs:#?}"
    );

    // `NO_PROXY` still exempts a server from the configured proxy.
    s.publish("2.0", &[]);
    let mut c = s.command(&[]);
    c.env("NO_PROXY", "127.0.0.1");
    let run = common::run(c, Some(&s.app)).success();
    s.assert_launched(&run, "2.0");
    assert_eq!(
        proxy.requests(),
        reqs,
        "NO_PROXY was not honoured with `Proxy =`"
    );
}

#[test]
fn http_proxy_variable_is_honoured_and_no_proxy_bypasses_it() {
    let Some((s, server, proxy)) = proxied_site() else {
        return;
    };
    s.config(&server.url, "");
    for var in ["HTTP_PROXY", "http_proxy"] {
        let mut c = s.command(&["check"]);
        c.env(var, proxy.url());
        common::run(c, Some(&s.app)).code_is(10);
    }
    let through = proxy.requests().len();
    assert_eq!(
        through,
        2,
        "both spellings go through the proxy: {:#?}",
        proxy.requests()
    );

    // NO_PROXY names the server: the install goes direct.
    let mut c = s.command(&[]);
    c.env("HTTP_PROXY", proxy.url())
        .env("NO_PROXY", "127.0.0.1");
    let run = common::run(c, Some(&s.app)).success();
    s.assert_launched(&run, "1.0");
    assert_eq!(
        proxy.requests().len(),
        through,
        "NO_PROXY was not honoured: {:#?}",
        proxy.requests()
    );

    // A proxy that does not answer: the error names it, and the installed version starts.
    s.publish("2.0", &[]);
    let mut c = s.command(&[]);
    c.env(
        "HTTP_PROXY",
        format!("http://127.0.0.1:{}", common::free_port()),
    );
    let run = common::run(c, Some(&s.app))
        .success()
        .stderr_has("could not update");
    s.assert_launched(&run, "1.0");
}

#[test]
fn a_proxy_that_wants_a_password_gets_its_own_message() {
    if !common::require("tinyproxy") {
        return;
    }
    let s = site();
    s.publish("1.0", &[]);
    let server = Server::start(&s.repo, &[]);
    let proxy = TinyProxy::start(&s.root.join("proxy"), Some(("user", "secret")));
    s.config(&server.url, &format!("Proxy = {}", proxy.url()));
    s.launcher(&[])
        .code_is(4)
        .stderr_has("407 Proxy Authentication Required");
    let with_password = proxy.url().replace("http://", "http://user:secret@");
    s.config(&server.url, &format!("Proxy = {with_password}"));
    let run = s.launcher(&[]).success();
    s.assert_launched(&run, "1.0");
}

#[test]
fn https_goes_through_the_proxy_as_a_tunnel() {
    if !common::require("tinyproxy") || !https::tls_tools() {
        return;
    }
    let s = site();
    s.publish("1.0", &[]);
    let pki = https::make_pki(&s.root.join("pki"));
    let tls = TlsServer::start(&s.root.join("nginx"), &s.repo, &pki);
    let proxy = TinyProxy::start(&s.root.join("proxy"), None);
    s.config(&tls.url(), &format!("CaFile = {}", pki.ca.display()));
    let mut c = s.command(&[]);
    c.env("HTTPS_PROXY", proxy.url());
    let run = common::run(c, Some(&s.app)).success();
    s.assert_launched(&run, "1.0");
    let connect = format!("CONNECT 127.0.0.1:{} HTTP/1.1", tls.port);
    assert!(
        proxy.requests().contains(&connect),
        "no {connect:?} in {:#?}",
        proxy.requests()
    );

    // The same through a proxy that wants a password: the tunnel is refused with the 407 message.
    let auth = TinyProxy::start(&s.root.join("auth-proxy"), Some(("user", "secret")));
    s.publish("2.0", &[]);
    let mut c = s.command(&[]);
    c.env("HTTPS_PROXY", auth.url());
    let run = common::run(c, Some(&s.app))
        .success()
        .stderr_has("407 Proxy Authentication Required");
    s.assert_launched(&run, "1.0");
}
