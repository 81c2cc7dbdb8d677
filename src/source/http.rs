//! A repository on an HTTP(S) server, through reqwest (rustls).
//!
//! `Timeout` bounds every wait on the server: connecting, the response headers, and each read of a
//! body, so a server that stops sending fails after `Timeout`, not after minutes. A manifest must also
//! arrive whole within `Timeout`, so a server that drips bytes cannot hold a launch (a blob's download
//! as a whole is bounded by `stage`). The channel manifest is revalidated with `If-None-Match` /
//! `If-Modified-Since`, only when a copy is saved; a `304` to a request without validators is an error
//! that blames the cache in between, not an empty manifest. An error after a redirect names the URL that
//! failed as well as the one asked for. A `206` must say with `Content-Range` where its bytes start;
//! `Retry-After` is read as seconds or an HTTP date, at most a day. Proxies: the explicit `Proxy` key,
//! else the system's settings and `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`. Extra CAs: `CaFile`.

use super::{BlobBody, Fetched, RetryAfter, Source, SourceError, Validators};
use crate::config::Config;
use reqwest::blocking::{Client, Response};
use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

pub struct HttpSource {
    base: String,
    client: Client,
    timeout: Duration,
}

use crate::error::one_line as chain;

impl HttpSource {
    pub fn new(cfg: &Config) -> Result<HttpSource, SourceError> {
        let bad = |detail: String| SourceError::BadServer {
            server: cfg.server.clone(),
            detail,
        };
        let mut b = Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("launcher/", env!("CARGO_PKG_VERSION")));
        if let Some(p) = &cfg.proxy {
            let proxy = reqwest::Proxy::all(p)
                .map_err(|e| bad(format!("Proxy `{p}`: {}", chain(&e))))?
                .no_proxy(reqwest::NoProxy::from_env());
            b = b.proxy(proxy);
        }
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| bad(format!("cannot read CaFile `{}`: {e}", ca.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                bad(format!(
                    "CaFile `{}` is not PEM certificates: {}",
                    ca.display(),
                    chain(&e)
                ))
            })?;
            if certs.is_empty() {
                return Err(bad(format!(
                    "CaFile `{}` holds no certificate",
                    ca.display()
                )));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| bad(chain(&e)))?;
        let mut base = cfg.server.trim().to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        reqwest::Url::parse(&base).map_err(|e| bad(e.to_string()))?;
        Ok(HttpSource {
            base,
            client,
            timeout: cfg.timeout,
        })
    }

    fn map_err(&self, url: &str, e: reqwest::Error) -> SourceError {
        // After a redirect, the failing request is for another URL: name it, or the message points
        // IT at a URL that works.
        let at = e
            .url()
            .map(|u| u.to_string())
            .unwrap_or_else(|| url.to_string());
        let err = if e.is_timeout() {
            SourceError::Timeout {
                url: at.clone(),
                timeout: self.timeout,
            }
        } else if e.is_redirect() {
            SourceError::Connect {
                url: at.clone(),
                detail: "too many redirects (a redirect loop on the server)".into(),
            }
        } else {
            let detail = chain(&e);
            // An HTTPS tunnel (`CONNECT`) refused with 407 surfaces as a connect error, not a status;
            // hyper-util words it "tunnel error: proxy authorization required".
            if detail
                .to_ascii_lowercase()
                .contains("proxy authorization required")
            {
                SourceError::ProxyAuth { url: at.clone() }
            } else {
                SourceError::Connect {
                    url: at.clone(),
                    detail,
                }
            }
        };
        redirected(url, &at, err)
    }

    fn get(&self, url: &str, headers: HeaderMap) -> Result<Response, SourceError> {
        let resp = self
            .client
            .get(url)
            .headers(headers)
            .send()
            .map_err(|e| self.map_err(url, e))?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        let at = resp.url().to_string();
        let err = match status {
            StatusCode::NOT_FOUND | StatusCode::GONE => SourceError::NotFound { url: at.clone() },
            StatusCode::PROXY_AUTHENTICATION_REQUIRED => SourceError::ProxyAuth { url: at.clone() },
            _ => SourceError::Status {
                url: at.clone(),
                status: status.as_u16(),
                retry_after: resp
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| RetryAfter::parse(v, SystemTime::now())),
            },
        };
        Err(redirected(url, &at, err))
    }
}

/// `err` (about `at`) as it reads when `at` is where a request for `url` was redirected.
fn redirected(url: &str, at: &str, err: SourceError) -> SourceError {
    if at == url {
        err
    } else {
        SourceError::Redirected {
            url: url.to_string(),
            to: at.to_string(),
            source: Box::new(err),
        }
    }
}

/// reqwest reports a read that waited longer than `Timeout` as `ErrorKind::Other`; give it its real
/// kind, so callers can say "the server stopped sending" and keep what arrived for a resume. Other
/// body errors get their whole chain ("connection reset"), not just "response body error".
fn timed_out_kind(e: std::io::Error) -> std::io::Error {
    let Some(inner) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
    else {
        return e;
    };
    if inner.is_timeout() {
        std::io::Error::new(std::io::ErrorKind::TimedOut, chain(inner))
    } else {
        std::io::Error::new(e.kind(), chain(inner))
    }
}

/// A blob body whose stalled reads fail with `ErrorKind::TimedOut`.
struct Body(Response);

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(timed_out_kind)
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl Source for HttpSource {
    fn url(&self, key: &str) -> String {
        format!("{}{}", self.base, key)
    }

    fn manifest(
        &self,
        key: &str,
        prev: Option<&Validators>,
        limit: u64,
    ) -> Result<Fetched, SourceError> {
        let url = self.url(key);
        let mut headers = HeaderMap::new();
        if let Some(p) = prev {
            if let Some(v) = p.etag.as_deref().and_then(|v| v.parse().ok()) {
                headers.insert(header::IF_NONE_MATCH, v);
            }
            if let Some(v) = p.last_modified.as_deref().and_then(|v| v.parse().ok()) {
                headers.insert(header::IF_MODIFIED_SINCE, v);
            }
        }
        let conditional = !headers.is_empty();
        let started = Instant::now();
        let mut resp = self.get(&url, headers)?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            if !conditional {
                // Nothing to revalidate against: reading "not modified" as an empty manifest would
                // report a confusing "not valid JSON".
                return Err(SourceError::UnexpectedNotModified { url });
            }
            return Ok(Fetched::NotModified);
        }
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(SourceError::TooLarge { url, limit });
        }
        let validators = Validators {
            etag: header_str(resp.headers(), header::ETAG),
            last_modified: header_str(resp.headers(), header::LAST_MODIFIED),
        };
        let expected = resp.content_length();
        let mut bytes = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            if started.elapsed() > self.timeout {
                return Err(SourceError::Timeout {
                    url,
                    timeout: self.timeout,
                });
            }
            let n = match resp.read(&mut buf).map_err(timed_out_kind) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Err(SourceError::Timeout {
                        url,
                        timeout: self.timeout,
                    })
                }
                Err(e) => {
                    return Err(SourceError::Io {
                        url,
                        detail: chain(&e),
                    })
                }
            };
            bytes.extend_from_slice(&buf[..n]);
            if bytes.len() as u64 > limit {
                return Err(SourceError::TooLarge { url, limit });
            }
        }
        if let Some(n) = expected {
            if bytes.len() as u64 != n {
                return Err(SourceError::Io {
                    url,
                    detail: format!("the body ended after {} of {n} bytes", bytes.len()),
                });
            }
        }
        Ok(Fetched::Data { bytes, validators })
    }

    fn blob(&self, key: &str, offset: u64) -> Result<BlobBody, SourceError> {
        let url = self.url(key);
        let mut headers = HeaderMap::new();
        if offset > 0 {
            if let Ok(v) = format!("bytes={offset}-").parse() {
                headers.insert(header::RANGE, v);
            }
        }
        let resp = self.get(&url, headers)?;
        let (offset, total, total_from) = if resp.status() == StatusCode::PARTIAL_CONTENT {
            let range = header_str(resp.headers(), header::CONTENT_RANGE);
            let Some((start, total)) = range.as_deref().and_then(content_range) else {
                return Err(SourceError::Io {
                    url: resp.url().to_string(),
                    detail: format!(
                        "the server answered 206 Partial Content to `Range: bytes={offset}-` with {}, not a byte range; the partial download is kept and the next start asks again",
                        range.map(|r| format!("`Content-Range: {r}`"))
                            .unwrap_or_else(|| "no Content-Range".into())
                    ),
                });
            };
            (start, total, "according to the server's Content-Range")
        } else {
            // A whole answer: the server ignored the range (or none was asked).
            (
                0,
                resp.content_length(),
                "according to the server's Content-Length",
            )
        };
        Ok(BlobBody {
            reader: Box::new(Body(resp)),
            offset,
            total,
            total_from,
        })
    }
}

/// `bytes START-END/TOTAL` → (START, TOTAL); TOTAL is `None` when the server wrote `*` (unknown).
fn content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.trim().split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok().filter(|&t| t > end)?),
    };
    Some((start, total))
}

#[cfg(test)]
mod tests {
    use super::content_range;

    #[test]
    fn content_range_gives_start_and_total() {
        assert_eq!(content_range("bytes 100-199/200"), Some((100, Some(200))));
        assert_eq!(content_range("bytes 0-9/*"), Some((0, None)));
        assert_eq!(content_range("bytes 5-4/9"), None);
        assert_eq!(content_range("bytes 0-9/9"), None);
        assert_eq!(content_range("items 0-9/10"), None);
        assert_eq!(content_range("bytes */10"), None);
    }
}
