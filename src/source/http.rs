//! A repository on an HTTP(S) server, through reqwest (rustls).
//!
//! `Timeout` bounds every wait on the server: connecting, the response headers, and each read of a
//! body, so a server that stops sending fails after `Timeout`, not after minutes. A manifest must also
//! arrive whole within `Timeout`, so a server that drips bytes cannot hold a launch. The channel
//! manifest is revalidated with `If-None-Match` / `If-Modified-Since`. Proxies: the explicit `Proxy`
//! key, else the system's settings and `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`. Extra CAs: `CaFile`.

use super::{BlobBody, Fetched, Source, SourceError, Validators};
use crate::config::Config;
use reqwest::blocking::{Client, Response};
use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use std::io::Read;
use std::time::{Duration, Instant};

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
        if e.is_timeout() {
            SourceError::Timeout {
                url: url.to_string(),
                timeout: self.timeout,
            }
        } else if e.is_redirect() {
            SourceError::Connect {
                url: url.to_string(),
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
                return SourceError::ProxyAuth {
                    url: url.to_string(),
                };
            }
            SourceError::Connect {
                url: url.to_string(),
                detail,
            }
        }
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
        Err(match status {
            StatusCode::NOT_FOUND | StatusCode::GONE => SourceError::NotFound {
                url: url.to_string(),
            },
            StatusCode::PROXY_AUTHENTICATION_REQUIRED => SourceError::ProxyAuth {
                url: url.to_string(),
            },
            _ => SourceError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                retry_after: resp
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok()),
            },
        })
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
        let started = Instant::now();
        let mut resp = self.get(&url, headers)?;
        if resp.status() == StatusCode::NOT_MODIFIED {
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
        let start = if resp.status() == StatusCode::PARTIAL_CONTENT {
            offset
        } else {
            0
        };
        Ok(BlobBody {
            reader: Box::new(Body(resp)),
            offset: start,
        })
    }
}
