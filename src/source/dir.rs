//! A repository read straight from a folder: a local path, a mapped drive, a UNC share
//! (`\\server\updates`) or a `file://` URL. The validators are the file's size and modification time,
//! so an unchanged channel manifest is not read again.
//!
//! `Timeout` bounds folder reads as it bounds HTTP: a manifest must be read whole, a blob opened, and
//! each chunk of a blob read, within `Timeout`. A read from a hung SMB/NFS share (or from a FIFO put
//! where a file should be) blocks inside the operating system and cannot be cancelled, so every read
//! runs on a thread of its own and the launcher stops waiting for it after `Timeout`. Such a thread is
//! abandoned: it stays blocked until the share answers or the process ends, and nothing it reads later
//! is used.

use super::{BlobBody, Fetched, Source, SourceError, Validators};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

pub struct DirSource {
    root: PathBuf,
    timeout: Duration,
}

impl DirSource {
    pub fn new(root: PathBuf, timeout: Duration) -> DirSource {
        DirSource { root, timeout }
    }

    fn path(&self, key: &str) -> PathBuf {
        crate::fsutil::native(&self.root, key)
    }
}

/// `file:///srv/x` → `/srv/x`; `file:///C:/x` → `C:/x`; `file://server/share` → `\\server\share`.
pub fn file_url_to_path(url: &str) -> Option<PathBuf> {
    let rest = &url["file://".len()..];
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()?;
    if let Some(path) = decoded.strip_prefix('/') {
        let b = path.as_bytes();
        if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
            return Some(PathBuf::from(path));
        }
        return Some(PathBuf::from(format!("/{path}")));
    }
    if decoded.starts_with("localhost/") {
        return Some(PathBuf::from(&decoded["localhost".len()..]));
    }
    if decoded.is_empty() {
        return None;
    }
    Some(PathBuf::from(format!("\\\\{}", decoded.replace('/', "\\"))))
}

fn io_err(url: String, e: std::io::Error) -> SourceError {
    if e.kind() == std::io::ErrorKind::NotFound {
        SourceError::NotFound { url }
    } else {
        SourceError::Io {
            url,
            detail: e.to_string(),
        }
    }
}

fn validators(path: &Path) -> Option<Validators> {
    let m = std::fs::metadata(path).ok()?;
    let t = m.modified().ok()?;
    let nanos = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    Some(Validators {
        etag: Some(format!("\"{:x}-{:x}\"", m.len(), nanos)),
        last_modified: None,
    })
}

/// Runs `work` on a thread of its own and waits at most `timeout` for its answer (see the module doc:
/// a thread that does not answer in time is abandoned).
fn bounded<T: Send + 'static>(
    url: &str,
    timeout: Duration,
    work: impl FnOnce() -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    let (tx, rx) = mpsc::sync_channel(1);
    spawn(url, move || {
        let _ = tx.send(work());
    })?;
    match rx.recv_timeout(timeout) {
        Ok(answer) => answer,
        Err(RecvTimeoutError::Timeout) => Err(SourceError::Hung {
            path: url.to_string(),
            timeout,
        }),
        Err(RecvTimeoutError::Disconnected) => Err(SourceError::Io {
            url: url.to_string(),
            detail: "the reading thread ended without an answer".into(),
        }),
    }
}

fn spawn(url: &str, f: impl FnOnce() + Send + 'static) -> Result<(), SourceError> {
    std::thread::Builder::new()
        .name("folder read".into())
        .spawn(f)
        .map(drop)
        .map_err(|e| SourceError::Io {
            url: url.to_string(),
            detail: format!("cannot start a reading thread: {e}"),
        })
}

/// What the thread reading a blob sends: the file's size once it is open, then chunks.
enum Msg {
    Opened(u64),
    Chunk(Vec<u8>),
    End,
    Failed(io::Error),
}

/// A blob read by its own thread ([`pump`]); each chunk must arrive within `timeout`.
struct Pumped {
    rx: Receiver<Msg>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
    timeout: Duration,
}

impl Read for Pumped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv_timeout(self.timeout) {
                Ok(Msg::Chunk(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Msg::End) => self.done = true,
                Ok(Msg::Failed(e)) => return Err(e),
                Ok(Msg::Opened(_)) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no data within {} s (a hung network share?)",
                            self.timeout.as_secs_f64()
                        ),
                    ))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the reading thread ended early"))
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Opens `path` at `offset` and sends its size, then its content in chunks, until the receiver goes
/// away (the download stopped) or the file ends. The channel holds two chunks, so a slow consumer
/// holds at most that much memory.
fn pump(path: PathBuf, offset: u64, tx: mpsc::SyncSender<Msg>) {
    let opened = File::open(&path).and_then(|mut f| {
        let len = f.metadata()?.len();
        if offset > 0 {
            f.seek(SeekFrom::Start(offset))?;
        }
        Ok((f, len))
    });
    let mut f = match opened {
        Ok((f, len)) => {
            if tx.send(Msg::Opened(len)).is_err() {
                return;
            }
            f
        }
        Err(e) => {
            let _ = tx.send(Msg::Failed(e));
            return;
        }
    };
    loop {
        let mut buf = vec![0u8; 256 * 1024];
        let msg = match f.read(&mut buf) {
            Ok(0) => Msg::End,
            Ok(n) => {
                buf.truncate(n);
                Msg::Chunk(buf)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Msg::Failed(e),
        };
        let last = !matches!(msg, Msg::Chunk(_));
        if tx.send(msg).is_err() || last {
            return;
        }
    }
}

impl Source for DirSource {
    fn url(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    fn manifest(
        &self,
        key: &str,
        prev: Option<&Validators>,
        limit: u64,
    ) -> Result<Fetched, SourceError> {
        let path = self.path(key);
        let url = self.url(key);
        let prev = prev.cloned();
        let u = url.clone();
        bounded(&url, self.timeout, move || {
            let before = validators(&path);
            if let (Some(p), Some(now)) = (prev, &before) {
                if p.etag.is_some() && p.etag == now.etag {
                    return Ok(Fetched::NotModified);
                }
            }
            let f = File::open(&path).map_err(|e| io_err(u.clone(), e))?;
            let mut bytes = Vec::new();
            f.take(limit + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| io_err(u.clone(), e))?;
            if bytes.len() as u64 > limit {
                return Err(SourceError::TooLarge { url: u, limit });
            }
            Ok(Fetched::Data {
                bytes,
                validators: before.unwrap_or_default(),
            })
        })
    }

    fn blob(&self, key: &str, offset: u64) -> Result<BlobBody, SourceError> {
        let url = self.url(key);
        let (tx, rx) = mpsc::sync_channel(2);
        let path = self.path(key);
        spawn(&url, move || pump(path, offset, tx))?;
        let total = match rx.recv_timeout(self.timeout) {
            Ok(Msg::Opened(len)) => len,
            Ok(Msg::Failed(e)) => return Err(io_err(url, e)),
            Ok(_) | Err(RecvTimeoutError::Disconnected) => {
                return Err(SourceError::Io {
                    url,
                    detail: "the reading thread ended without an answer".into(),
                })
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(SourceError::Hung {
                    path: url,
                    timeout: self.timeout,
                })
            }
        };
        Ok(BlobBody {
            reader: Box::new(Pumped {
                rx,
                chunk: Vec::new(),
                pos: 0,
                done: false,
                timeout: self.timeout,
            }),
            offset,
            total: Some(total),
            total_from: "the file's size",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::file_url_to_path;
    use std::path::PathBuf;

    #[test]
    fn file_urls_map_to_local_drive_and_unc_paths() {
        assert_eq!(
            file_url_to_path("file:///srv/up%20dates"),
            Some(PathBuf::from("/srv/up dates"))
        );
        assert_eq!(
            file_url_to_path("file:///C:/updates"),
            Some(PathBuf::from("C:/updates"))
        );
        assert_eq!(
            file_url_to_path("file://server/share/x"),
            Some(PathBuf::from("\\\\server\\share\\x"))
        );
        assert_eq!(file_url_to_path("file://"), None);
    }
}
