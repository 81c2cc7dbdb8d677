//! A repository read straight from a folder: a local path, a mapped drive, a UNC share
//! (`\\server\updates`) or a `file://` URL. The validators are the file's size and modification time,
//! so an unchanged channel manifest is not read again.
//!
//! `Timeout` bounds folder reads as it bounds HTTP: a manifest must be read whole, a blob opened, and
//! each chunk of a blob read, within `Timeout`. A read from a hung SMB/NFS share (or from a FIFO put
//! where a file should be) blocks inside the operating system and cannot be cancelled, so reads run on
//! reader threads ([`Readers`]) and the launcher stops waiting for one after `Timeout`. Such a thread
//! is abandoned: it stays blocked until the share answers or the process ends, and nothing it reads
//! later is used. The threads are reused from one read to the next (a first install of 10,000 files
//! would otherwise start 10,000 threads), and a small blob is opened and read in one hand-over.

use super::{BlobBody, Fetched, Source, SourceError, Validators};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct DirSource {
    root: PathBuf,
    timeout: Duration,
    readers: Arc<Readers>,
}

impl DirSource {
    pub fn new(root: PathBuf, timeout: Duration) -> DirSource {
        DirSource {
            root,
            timeout,
            readers: Arc::new(Readers::default()),
        }
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

type Job = Box<dyn FnOnce() + Send>;

/// Reader threads, each waiting for its next job. A thread whose job did not answer in time is not
/// put back: it ends when its job does (its queue is gone), or with the process if the job never does.
#[derive(Default)]
struct Readers {
    idle: Mutex<Vec<SyncSender<Job>>>,
}

impl Readers {
    /// Runs `work` on a reader thread and waits at most `timeout` for its answer.
    fn run<T: Send + 'static>(
        &self,
        url: &str,
        timeout: Duration,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, SourceError> {
        let (answer_tx, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = answer_tx.send(work());
        });
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let worker = match idle {
            Some(w) => match w.send(job) {
                Ok(()) => w,
                // That thread ended (only a panicking job ends one): start another.
                Err(mpsc::SendError(job)) => self.start(url, job)?,
            },
            None => self.start(url, job)?,
        };
        match answer.recv_timeout(timeout) {
            Ok(t) => {
                if let Ok(mut v) = self.idle.lock() {
                    v.push(worker);
                }
                Ok(t)
            }
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

    /// A new reader thread, given `job` first.
    fn start(&self, url: &str, job: Job) -> Result<SyncSender<Job>, SourceError> {
        let (tx, rx) = mpsc::sync_channel::<Job>(1);
        std::thread::Builder::new()
            .name("folder read".into())
            .spawn(move || {
                job();
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .map_err(|e| SourceError::Io {
                url: url.to_string(),
                detail: format!("cannot start a reading thread: {e}"),
            })?;
        Ok(tx)
    }
}

/// How much one hand-over from a reader thread carries.
const CHUNK: u64 = 256 * 1024;

/// Up to [`CHUNK`] bytes of `f`, and whether the file ended within them.
fn next_chunk(f: &mut File) -> io::Result<(Vec<u8>, bool)> {
    let mut bytes = Vec::new();
    f.take(CHUNK).read_to_end(&mut bytes)?;
    let end = (bytes.len() as u64) < CHUNK;
    Ok((bytes, end))
}

/// A blob whose chunks are read by reader threads, each within `timeout`.
struct Chunked {
    readers: Arc<Readers>,
    url: String,
    timeout: Duration,
    /// `None` once the file ended (or a read of it was abandoned).
    file: Option<File>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            let Some(mut f) = self.file.take() else {
                return Ok(0);
            };
            let read = self
                .readers
                .run(&self.url, self.timeout, move || (next_chunk(&mut f), f));
            match read {
                Ok((Ok((bytes, end)), f)) => {
                    self.chunk = bytes;
                    self.pos = 0;
                    if !end {
                        self.file = Some(f);
                    }
                }
                Ok((Err(e), _)) => return Err(e),
                Err(SourceError::Hung { .. }) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no data within {} s (a hung network share?)",
                            self.timeout.as_secs_f64()
                        ),
                    ))
                }
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
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
        self.readers.run(&url, self.timeout, move || {
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
        })?
    }

    fn blob(&self, key: &str, offset: u64) -> Result<BlobBody, SourceError> {
        let url = self.url(key);
        let path = self.path(key);
        let u = url.clone();
        // Opened, sized and first read in one hand-over: most blobs are small.
        let (file, total, first, end) = self.readers.run(&url, self.timeout, move || {
            let mut f = File::open(&path).map_err(|e| io_err(u.clone(), e))?;
            let len = f.metadata().map_err(|e| io_err(u.clone(), e))?.len();
            if offset > 0 {
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| io_err(u.clone(), e))?;
            }
            let (first, end) = next_chunk(&mut f).map_err(|e| io_err(u, e))?;
            Ok::<_, SourceError>((f, len, first, end))
        })??;
        Ok(BlobBody {
            reader: Box::new(Chunked {
                readers: self.readers.clone(),
                url,
                timeout: self.timeout,
                file: (!end).then_some(file),
                chunk: first,
                pos: 0,
            }),
            offset,
            total: Some(total),
            total_from: "its size in the repository folder",
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
