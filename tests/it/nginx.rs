//! The repository layout is plain static files: nginx, configured the way a publisher would (no
//! listings, ETags on), must hand out the same bytes, ranges and revalidations as `launcher serve`.

use crate::common::{self, http, Server};
use crate::serve::{fixture, CHANNEL, RELEASE};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A foreground nginx on a loopback port, killed when dropped.
struct Nginx {
    child: Child,
    url: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Starts nginx with every file it writes inside `dir`, serving `root`; waits until it accepts.
    fn start(dir: &Path, root: &Path) -> Nginx {
        let port = common::free_port();
        let version = Command::new("nginx")
            .arg("-V")
            .output()
            .expect("run nginx -V");
        let build = String::from_utf8_lossy(&version.stderr).into_owned();
        // Every temp path points into `dir`, but only for modules this nginx was built with: naming a
        // missing module's directive is a configuration error.
        let mut temp_paths = format!(
            "        client_body_temp_path \"{}/client_body\";\n",
            dir.display()
        );
        for module in ["proxy", "fastcgi", "uwsgi", "scgi"] {
            if !build.contains(&format!("--without-http_{module}_module")) {
                temp_paths.push_str(&format!(
                    "        {module}_temp_path \"{}/{module}\";\n",
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
        listen 127.0.0.1:{port};
        root "{root}";
        autoindex off;
        etag on;
        location / {{
        }}
    }}
}}
"#,
            dir = dir.display(),
            root = root.display(),
        );
        let conf_path = dir.join("nginx.conf");
        common::write(&conf_path, conf);
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
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = || std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited with {status}; error.log:\n{}", log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {port} within 10 s; error.log:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        nginx
    }
}

#[test]
fn nginx_serves_the_same_bytes_as_launcher_serve() {
    if !common::require("nginx") {
        return;
    }
    let fx = fixture();
    let nginx_dir = fx.tmp.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).unwrap();
    let nginx = Nginx::start(&nginx_dir, &fx.repo);
    let launcher = Server::start(&fx.repo, &[]);

    for target in [CHANNEL, RELEASE, fx.blob_url.as_str()] {
        let ours = http(&launcher.url, "GET", target, &[]);
        let theirs = http(&nginx.url, "GET", target, &[]);
        assert_eq!(
            (ours.status, theirs.status),
            (200, 200),
            "{target}\nours: {ours:?}\nnginx: {theirs:?}"
        );
        assert_eq!(ours.body, theirs.body, "{target}: different bytes");
        assert_eq!(
            ours.header("content-length"),
            theirs.header("content-length"),
            "{target}"
        );
        assert_eq!(
            ours.header("last-modified"),
            theirs.header("last-modified"),
            "{target}"
        );

        let range = [("Range", "bytes=10-19")];
        let ours = http(&launcher.url, "GET", target, &range);
        let theirs = http(&nginx.url, "GET", target, &range);
        assert_eq!(
            (ours.status, theirs.status),
            (206, 206),
            "{target}\nours: {ours:?}\nnginx: {theirs:?}"
        );
        assert_eq!(
            ours.header("content-range"),
            theirs.header("content-range"),
            "{target}"
        );
        assert_eq!(ours.body, theirs.body, "{target}: different range bytes");
        assert_eq!(ours.body.len(), 10);
    }
    let blob = http(&nginx.url, "GET", &fx.blob_url, &[]);
    assert_eq!(blob.body, fx.blob);

    // Both revalidate: a client that talks to either gets a 304 for its own tag.
    for (name, url) in [("nginx", &nginx.url), ("launcher serve", &launcher.url)] {
        let first = http(url, "GET", CHANNEL, &[]);
        let etag = first
            .header("etag")
            .unwrap_or_else(|| panic!("{name} sent no ETag: {first:?}"));
        let again = http(url, "GET", CHANNEL, &[("If-None-Match", etag)]);
        assert_eq!(again.status, 304, "{name}: {again:?}");
        assert!(again.body.is_empty(), "{name}");
        let modified = first.header("last-modified").unwrap();
        let again = http(url, "GET", CHANNEL, &[("If-Modified-Since", modified)]);
        assert_eq!(again.status, 304, "{name}: {again:?}");

        assert_eq!(
            http(url, "GET", "/demo/blobs/ab/missing", &[]).status,
            404,
            "{name}"
        );
    }
}
