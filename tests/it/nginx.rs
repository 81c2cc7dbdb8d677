//! The repository layout is plain static files: nginx, configured the way a publisher would (no
//! listings, ETags on), must hand out the same bytes, ranges and revalidations as `launcher serve`.

use crate::common::{self, http, Server};
use crate::serve::{fixture, CHANNEL, RELEASE};
use std::path::Path;

/// nginx configured the way a publisher would: no listings, ETags on.
struct Nginx {
    // Kept for its drop: nginx stops with it.
    _server: common::Nginx,
    url: String,
}

impl Nginx {
    fn start(dir: &Path, root: &Path) -> Nginx {
        let directives = format!(
            "        root \"{}\";\n        autoindex off;\n        etag on;\n        location / {{\n        }}",
            root.display()
        );
        let server = common::Nginx::start(dir, "", &directives);
        let url = format!("http://127.0.0.1:{}", server.port);
        Nginx {
            _server: server,
            url,
        }
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
