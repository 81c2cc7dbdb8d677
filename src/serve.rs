//! `launcher serve`: a static file server for a repository folder, good enough to put clients in front
//! of while testing, on a LAN, or behind a reverse proxy.
//!
//! It owns the HTTP side of the repository layout (DESIGN.md): validators (`ETag`, `Last-Modified`),
//! conditional requests (`304` for `If-None-Match` / `If-Modified-Since`), `Range` (`206`, `416`) and
//! `Cache-Control` (channel manifests revalidate, blobs and releases are cached forever). The file work
//! (ranges, `Last-Modified`, `If-Modified-Since`, streaming) is tower-http's `ServeFile`, the
//! single-file mode of `ServeDir`.
//!
//! It must never serve anything outside the repository, however the path is spelled, and never list a
//! folder. Each request goes through these steps:
//! 1. Only `GET` and `HEAD`; anything else is `405`.
//! 2. The raw path is split on `/` before decoding, and each segment is percent-decoded on its own, so
//!    `%2f` cannot make a new segment. A segment that decodes to `.`, `..`, or contains `/`, `\`, `:`,
//!    NUL or another control character, or an empty segment (`//etc/passwd`) is `400`.
//! 3. Hidden names (`.lock`, `.git`) and trailing slashes are `404`.
//! 4. The joined path is canonicalised (symlinks resolved) and must lie inside the canonical repository
//!    root and be a regular file, else `404`. The canonical path is what gets served, so the file that
//!    was checked is the file that is read.
//!
//! The server runs on a tokio runtime created here (the rest of the program is synchronous) and stops
//! on Ctrl-C or SIGTERM: it stops accepting, lets running transfers finish for up to [`DRAIN`], and
//! returns `Ok(())`.

use crate::progress::Reporter;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Router;
use percent_encoding::percent_decode_str;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tower_http::services::ServeFile;

/// How long running transfers may go on after Ctrl-C / SIGTERM before the server stops anyway.
pub const DRAIN: Duration = Duration::from_secs(10);

/// For files that never change once written (blobs, releases): a CDN or proxy may keep them forever.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For files that change in place (channel manifests): caches must revalidate on every use.
const REVALIDATE: &str = "no-cache";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the repository folder `{path}` does not exist")]
    RepoMissing { path: PathBuf },
    #[error("the repository `{path}` is not a folder")]
    RepoNotAFolder { path: PathBuf },
    #[error("cannot read the repository folder `{path}`")]
    RepoUnreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "`{listen}` is not an address to listen on (expected IP:PORT, such as 127.0.0.1:8080)"
    )]
    BadAddress { listen: String },
    #[error("the address `{addr}` is already in use")]
    AddressInUse { addr: SocketAddr },
    #[error("cannot listen on `{addr}`")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the server's runtime")]
    Runtime(#[source] io::Error),
    #[error("cannot announce the address `{addr}`")]
    Announce {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("the server on `{addr}` failed")]
    Server {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
}

/// Serves `repo` on `listen` until Ctrl-C or SIGTERM.
///
/// `ready` is called once with the bound address (the real port when `listen` asks for port 0) before
/// the first request is accepted; the command uses it to print the URL. Listening on an address that is
/// not loopback is allowed (it is an explicit choice) but warned about.
pub fn serve(
    repo: &Path,
    listen: &str,
    reporter: &Reporter,
    ready: impl FnOnce(SocketAddr) -> io::Result<()>,
) -> Result<(), ServeError> {
    let runtime = runtime()?;
    serve_with(repo, listen, reporter, runtime, Router::new(), ready)
}

/// The multi-threaded runtime the server runs on; made by the caller when it needs the runtime before
/// serving (the fleet database is opened on it).
pub fn runtime() -> Result<tokio::runtime::Runtime, ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)
}

/// [`serve`] on `runtime`, with the routes of `extra` (the fleet's) answered before the repository's.
pub fn serve_with(
    repo: &Path,
    listen: &str,
    reporter: &Reporter,
    runtime: tokio::runtime::Runtime,
    extra: Router,
    ready: impl FnOnce(SocketAddr) -> io::Result<()>,
) -> Result<(), ServeError> {
    let root = repo_root(repo)?;
    let (listener, addr) = bind(listen)?;
    if !addr.ip().is_loopback() {
        reporter.warn(format!(
            "listening on `{addr}`: the repository is reachable from the network, not only from this machine"
        ));
    }
    let site = Arc::new(Site {
        root,
        reporter: reporter.clone(),
    });
    let app = extra.merge(Router::new().fallback(handle).with_state(site));

    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|source| ServeError::Listen { addr, source })?;
        ready(addr).map_err(|source| ServeError::Announce { addr, source })?;

        // The drain timer starts when the stop signal arrives; a std channel and a blocking task keep
        // this within the tokio features the crate declares.
        let (stopping_tx, stopping_rx) = std::sync::mpsc::channel::<()>();
        let stop = async move {
            stop_signal().await;
            let _ = stopping_tx.send(());
        };
        let drained = tokio::task::spawn_blocking(move || {
            if stopping_rx.recv().is_ok() {
                std::thread::sleep(DRAIN);
            }
        });
        // The fleet's throttle needs the peer address of each request.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(listener, app).with_graceful_shutdown(stop);
        tokio::select! {
            served = server => served.map_err(|source| ServeError::Server { addr, source }),
            _ = drained => Ok(()),
        }
    });
    if result.is_ok() {
        reporter.info("Stopped");
    }
    // Do not wait for the drain timer's thread or for transfers cut off after the drain period.
    runtime.shutdown_background();
    result
}

/// The canonical repository root; everything served must be below it.
fn repo_root(repo: &Path) -> Result<PathBuf, ServeError> {
    let meta = std::fs::metadata(repo).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ServeError::RepoMissing {
            path: repo.to_path_buf(),
        },
        _ => ServeError::RepoUnreadable {
            path: repo.to_path_buf(),
            source,
        },
    })?;
    if !meta.is_dir() {
        return Err(ServeError::RepoNotAFolder {
            path: repo.to_path_buf(),
        });
    }
    std::fs::canonicalize(repo).map_err(|source| ServeError::RepoUnreadable {
        path: repo.to_path_buf(),
        source,
    })
}

/// Binds synchronously, so a port in use is reported before the runtime starts.
fn bind(listen: &str) -> Result<(std::net::TcpListener, SocketAddr), ServeError> {
    let bad = || ServeError::BadAddress {
        listen: listen.to_string(),
    };
    let addr = listen
        .to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)?;
    let listener = std::net::TcpListener::bind(addr).map_err(|source| match source.kind() {
        io::ErrorKind::AddrInUse => ServeError::AddressInUse { addr },
        _ => ServeError::Listen { addr, source },
    })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Listen { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServeError::Listen { addr, source })?;
    Ok((listener, bound))
}

#[cfg(unix)]
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        // Without a SIGTERM handler the default action (exit) still stops the server.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn stop_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

struct Site {
    /// Canonical, so a canonical file path can be checked with `starts_with`.
    root: PathBuf,
    reporter: Reporter,
}

/// Why a request gets no file.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The path is malformed or tries to leave the repository.
    BadRequest,
    /// No such file in the repository (or a folder, a hidden name, a symlink leading out).
    NotFound,
}

async fn handle(State(site): State<Arc<Site>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = respond(&site, req).await;
    let bytes = if method == Method::HEAD {
        0
    } else {
        response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    site.reporter.detail(format!(
        "{method} {path} {} {bytes} bytes",
        response.status().as_u16()
    ));
    response
}

async fn respond(site: &Site, mut req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = status(StatusCode::METHOD_NOT_ALLOWED);
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    let segments = match segments(req.uri().path()) {
        Ok(s) => s,
        Err(Refusal::BadRequest) => return status(StatusCode::BAD_REQUEST),
        Err(Refusal::NotFound) => return status(StatusCode::NOT_FOUND),
    };
    let (file, meta) = match locate(&site.root, &segments).await {
        Some(found) => found,
        None => return status(StatusCode::NOT_FOUND),
    };

    let modified = meta.modified().ok();
    let etag = modified.and_then(|m| etag(meta.len(), m));
    let last_modified =
        modified.and_then(|m| HeaderValue::from_str(&httpdate::fmt_http_date(m)).ok());
    let cache = cache_control(&segments);

    let headers = req.headers_mut();
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        if etag.as_ref().is_some_and(|tag| none_match_hits(inm, tag)) {
            let mut res = status(StatusCode::NOT_MODIFIED);
            add_validators(res.headers_mut(), etag, last_modified, cache);
            return res;
        }
        // RFC 9110 13.2.2: when If-None-Match is present, If-Modified-Since is ignored.
        headers.remove(header::IF_MODIFIED_SINCE);
    }
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        if !if_range_holds(if_range, etag.as_ref(), last_modified.as_ref()) {
            headers.remove(header::RANGE);
        }
    }

    let mut res = match ServeFile::new(&file).try_call(req).await {
        Ok(res) => res.map(Body::new),
        Err(e) => {
            site.reporter
                .warn(format!("cannot read `{}`: {e}", file.display()));
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let code = res.status();
    if code.is_success() || code == StatusCode::NOT_MODIFIED {
        let headers = res.headers_mut();
        add_validators(headers, etag, last_modified, cache);
        if code.is_success() {
            headers.insert(header::CONTENT_TYPE, content_type(&file));
        }
    }
    res
}

/// The decoded path segments of a request path, or why there is no file for it.
fn segments(raw: &str) -> Result<Vec<String>, Refusal> {
    let rest = raw.strip_prefix('/').ok_or(Refusal::BadRequest)?;
    if rest.is_empty() || rest.ends_with('/') {
        // The root or a folder: never listed.
        return Err(Refusal::NotFound);
    }
    let mut out = Vec::new();
    for seg in rest.split('/') {
        let decoded = percent_decode_str(seg)
            .decode_utf8()
            .map_err(|_| Refusal::BadRequest)?;
        let bad_char = |c: char| c == '/' || c == '\\' || c == ':' || c.is_control();
        if decoded.is_empty() || decoded == "." || decoded == ".." || decoded.contains(bad_char) {
            return Err(Refusal::BadRequest);
        }
        // On any platform, a segment must be exactly one plain file name (no drive prefix, no root).
        let mut parts = Path::new(&*decoded).components();
        match (parts.next(), parts.next()) {
            (Some(Component::Normal(name)), None) if name == &*decoded => {}
            _ => return Err(Refusal::BadRequest),
        }
        if decoded.starts_with('.') {
            return Err(Refusal::NotFound);
        }
        out.push(decoded.into_owned());
    }
    Ok(out)
}

/// The canonical path of the regular file named by `segments`, if it exists inside `root`.
async fn locate(root: &Path, segments: &[String]) -> Option<(PathBuf, std::fs::Metadata)> {
    let mut path = root.to_path_buf();
    path.extend(segments);
    let canonical = tokio::fs::canonicalize(&path).await.ok()?;
    if !canonical.starts_with(root) {
        return None;
    }
    let meta = tokio::fs::metadata(&canonical).await.ok()?;
    meta.is_file().then_some((canonical, meta))
}

/// A strong tag from size and modification time: `"<len hex>-<mtime nanos hex>"`.
fn etag(len: u64, modified: SystemTime) -> Option<HeaderValue> {
    let nanos = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    HeaderValue::from_str(&format!("\"{len:x}-{nanos:x}\"")).ok()
}

/// `If-None-Match` uses the weak comparison: `W/` prefixes are ignored, `*` matches any file.
fn none_match_hits(header: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = header.to_str() else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

/// `If-Range` (RFC 9110 13.1.5): the range applies only if the client's copy is still current, by a
/// strong tag or by the exact `Last-Modified` date; otherwise the whole file is sent.
fn if_range_holds(
    header: &HeaderValue,
    etag: Option<&HeaderValue>,
    last_modified: Option<&HeaderValue>,
) -> bool {
    let value = header.as_bytes();
    if value.starts_with(b"W/") {
        return false;
    }
    if value.starts_with(b"\"") {
        return etag.is_some_and(|tag| tag.as_bytes() == value);
    }
    last_modified.is_some_and(|date| date.as_bytes() == value)
}

fn cache_control(segments: &[String]) -> &'static str {
    match segments {
        [_, kind, _, ..] if kind == "blobs" || kind == "releases" => IMMUTABLE,
        _ => REVALIDATE,
    }
}

fn content_type(file: &Path) -> HeaderValue {
    let value = match file.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("minisig") | Some("pub") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    HeaderValue::from_static(value)
}

fn add_validators(
    headers: &mut HeaderMap,
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
    cache: &'static str,
) {
    if let Some(tag) = etag {
        headers.insert(header::ETAG, tag);
    }
    if let Some(date) = last_modified {
        headers.insert(header::LAST_MODIFIED, date);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

fn status(code: StatusCode) -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = code;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_refuse_every_way_out() {
        for raw in [
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/.%2e/x",
            "/..%2fx",
            "/a%2F..%2F..%2Fx",
            "/..%5cx",
            "/..\\x",
            "//etc/passwd",
            "/%2fetc/passwd",
            "/x%00",
            "/c:/x",
            "/./x",
            "x",
        ] {
            assert_eq!(segments(raw), Err(Refusal::BadRequest), "{raw}");
        }
        for raw in ["/", "/demo/", "/.git/config", "/demo/.lock"] {
            assert_eq!(segments(raw), Err(Refusal::NotFound), "{raw}");
        }
        assert_eq!(
            segments("/demo/blobs/ab/ab12%2Ezst").unwrap(),
            ["demo", "blobs", "ab", "ab12.zst"]
        );
    }

    #[test]
    fn cache_control_follows_the_layout() {
        let segs = |p: &str| segments(p).unwrap();
        assert_eq!(
            cache_control(&segs("/demo/channels/stable/linux-x86_64.json")),
            REVALIDATE
        );
        assert_eq!(cache_control(&segs("/demo/blobs/ab/abcd")), IMMUTABLE);
        assert_eq!(
            cache_control(&segs("/demo/releases/1.0.0/linux-x86_64.json")),
            IMMUTABLE
        );
        assert_eq!(cache_control(&segs("/demo/blobs")), REVALIDATE);
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let tag = HeaderValue::from_static("\"a-b\"");
        assert!(none_match_hits(
            &HeaderValue::from_static("\"x\", W/\"a-b\""),
            &tag
        ));
        assert!(none_match_hits(&HeaderValue::from_static("*"), &tag));
        assert!(!none_match_hits(&HeaderValue::from_static("\"a-c\""), &tag));
    }
}
