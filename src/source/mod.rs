//! Where releases come from: one trait, [`Source`], over an HTTP(S) server ([`http`]) or a folder / file
//! share / `file://` URL ([`dir`]).
//!
//! A source only moves bytes: it gets a manifest (revalidated with ETag / Last-Modified so a launch
//! with nothing new costs a `304`), a signature, and a blob from a byte offset (so a `.part` download
//! resumes). It never decides what to trust; `update` does, after validating what came back.

pub mod dir;
pub mod http;

use crate::config::Config;
use std::io::Read;
use std::time::Duration;

/// Cache validators saved from the last manifest response.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// The answer to a manifest request.
#[derive(Debug)]
pub enum Fetched {
    /// The copy we have is current (`304`).
    NotModified,
    Data {
        bytes: Vec<u8>,
        validators: Validators,
    },
}

/// A blob body, positioned at the offset asked for (or wherever the server chose to start).
pub struct BlobBody {
    pub reader: Box<dyn Read + Send>,
    /// The offset the body starts at: the requested one, 0 when the server ignored the range, or the
    /// start of the range the server answered with (`Content-Range`).
    pub offset: u64,
    /// The size of the whole content as the source announces it (`Content-Range` total, or
    /// `Content-Length` of a whole answer), when it does: checked against the manifest before the
    /// first byte is read, so a wrong file (an error page, another blob) is refused without reading it.
    pub total: Option<u64>,
    /// Where `total` comes from, said in messages after the size ("according to the server's
    /// Content-Length", "its size in the repository folder").
    pub total_from: &'static str,
}

/// The longest `Retry-After` the launcher honours: a day. A longer wait (or a date further ahead) is
/// cut to this, and messages show the cut value, the one that is honoured.
pub const MAX_RETRY_AFTER: u64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("`{url}` was not found on the server (404)")]
    NotFound { url: String },
    #[error("the server answered {status} for `{url}`{}", retry_note(*retry_after))]
    Status {
        url: String,
        status: u16,
        /// Seconds to wait, from `Retry-After` (seconds or an HTTP date), at most [`MAX_RETRY_AFTER`].
        retry_after: Option<RetryAfter>,
    },
    #[error("the server answered 304 Not Modified for `{url}`, but the launcher had no copy to revalidate and asked for the whole file; a proxy or cache between the launcher and the server is answering wrongly: exempt the update server from caching or fix the cache's configuration")]
    UnexpectedNotModified { url: String },
    #[error("`{url}` was redirected to `{to}`")]
    Redirected {
        url: String,
        to: String,
        #[source]
        source: Box<SourceError>,
    },
    #[error("the proxy refused the request for `{url}` (407 Proxy Authentication Required): put the user and password in the proxy URL (http://user:password@proxy:port) or ask IT for an exception")]
    ProxyAuth { url: String },
    #[error("the server did not answer within {} s for `{url}`", timeout.as_secs_f64())]
    Timeout { url: String, timeout: Duration },
    #[error("cannot reach `{url}`: {detail}")]
    Connect { url: String, detail: String },
    #[error("`{url}` is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("cannot read `{url}`: {detail}")]
    Io { url: String, detail: String },
    #[error("reading `{path}` did not finish within {} s (a hung network share, or a special file such as a FIFO in the repository); the launcher stopped waiting", timeout.as_secs_f64())]
    Hung { path: String, timeout: Duration },
    #[error("`{server}` is not a server address: {detail}")]
    BadServer { server: String, detail: String },
}

/// A `Retry-After` as honoured: `secs`, and what the server asked when that was more than a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    pub secs: u64,
    pub asked: Option<u64>,
}

impl RetryAfter {
    /// Parses a `Retry-After` value: delta-seconds or an HTTP date (RFC 9110 section 10.2.3), as seen
    /// at `now`. A date in the past means "now" (0 s).
    pub fn parse(value: &str, now: std::time::SystemTime) -> Option<RetryAfter> {
        let v = value.trim();
        let asked = match v.parse::<u64>() {
            Ok(s) => s,
            Err(_) => {
                let at = httpdate::parse_http_date(v).ok()?;
                at.duration_since(now).map(|d| d.as_secs()).unwrap_or(0)
            }
        };
        Some(if asked > MAX_RETRY_AFTER {
            RetryAfter {
                secs: MAX_RETRY_AFTER,
                asked: Some(asked),
            }
        } else {
            RetryAfter {
                secs: asked,
                asked: None,
            }
        })
    }
}

fn retry_note(r: Option<RetryAfter>) -> String {
    match r {
        None => String::new(),
        Some(RetryAfter { secs, asked: None }) => format!(" (retry after {secs} s)"),
        Some(RetryAfter {
            secs,
            asked: Some(asked),
        }) => format!(
            " (retry after {secs} s, the longest the launcher waits; the server asked for {asked} s)"
        ),
    }
}

impl SourceError {
    /// The server answered but has no such file (as opposed to: could not be asked).
    pub fn is_not_found(&self) -> bool {
        match self {
            SourceError::NotFound { .. } => true,
            SourceError::Redirected { source, .. } => source.is_not_found(),
            _ => false,
        }
    }

    /// The wait the server asked for with `Retry-After`, wherever a redirect led.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            SourceError::Status { retry_after, .. } => *retry_after,
            SourceError::Redirected { source, .. } => source.retry_after(),
            _ => None,
        }
    }
}

/// A repository to read from. Keys are repository-relative paths (see `repo`).
pub trait Source: Send + Sync {
    /// The URL or path of a key, for messages.
    fn url(&self, key: &str) -> String;
    /// A manifest (or another small file), at most `limit` bytes, revalidated against `prev`.
    fn manifest(
        &self,
        key: &str,
        prev: Option<&Validators>,
        limit: u64,
    ) -> Result<Fetched, SourceError>;
    /// A small file that may be absent (a signature): `None` when the server has no such file.
    fn optional(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, SourceError> {
        match self.manifest(key, None, limit) {
            Ok(Fetched::Data { bytes, .. }) => Ok(Some(bytes)),
            Ok(Fetched::NotModified) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
    /// A blob's body from byte `offset` on.
    fn blob(&self, key: &str, offset: u64) -> Result<BlobBody, SourceError>;
}

/// Opens the source that `Server` names: `http(s)://`, `file://`, or a folder / UNC path.
pub fn open(cfg: &Config) -> Result<Box<dyn Source>, SourceError> {
    let s = cfg.server.trim();
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(Box::new(http::HttpSource::new(cfg)?))
    } else if lower.starts_with("file://") {
        let path = dir::file_url_to_path(s).ok_or_else(|| SourceError::BadServer {
            server: s.to_string(),
            detail: "a file:// URL must name a local folder (file:///srv/updates or file://server/share)".into(),
        })?;
        Ok(Box::new(dir::DirSource::new(path, cfg.timeout)))
    } else if lower.contains("://") {
        Err(SourceError::BadServer {
            server: s.to_string(),
            detail: "use http://, https://, file:// or a folder path".into(),
        })
    } else {
        let p = std::path::PathBuf::from(s);
        let p = if p.is_absolute() || s.starts_with("\\\\") {
            p
        } else {
            cfg.file.parent().map(|d| d.join(&p)).unwrap_or(p)
        };
        Ok(Box::new(dir::DirSource::new(p, cfg.timeout)))
    }
}
