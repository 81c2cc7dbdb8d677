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

/// A blob body, positioned at the offset asked for (or at 0 when the source could not seek).
pub struct BlobBody {
    pub reader: Box<dyn Read + Send>,
    /// The offset the body starts at: the requested one, or 0 when the server ignored the range.
    pub offset: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("`{url}` was not found on the server (404)")]
    NotFound { url: String },
    #[error("the server answered {status} for `{url}`{}", retry_after.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    Status {
        url: String,
        status: u16,
        retry_after: Option<u64>,
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
    #[error("`{server}` is not a server address: {detail}")]
    BadServer { server: String, detail: String },
}

impl SourceError {
    /// The server answered but has no such file (as opposed to: could not be asked).
    pub fn is_not_found(&self) -> bool {
        matches!(self, SourceError::NotFound { .. })
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
        Ok(Box::new(dir::DirSource::new(path)))
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
        Ok(Box::new(dir::DirSource::new(p)))
    }
}
