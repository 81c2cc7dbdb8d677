//! A repository read straight from a folder: a local path, a mapped drive, a UNC share
//! (`\\server\updates`) or a `file://` URL. The validators are the file's size and modification time,
//! so an unchanged channel manifest is not read again.

use super::{BlobBody, Fetched, Source, SourceError, Validators};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    pub fn new(root: PathBuf) -> DirSource {
        DirSource { root }
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
        let before = validators(&path);
        if let (Some(p), Some(now)) = (prev, &before) {
            if p.etag.is_some() && p.etag == now.etag {
                return Ok(Fetched::NotModified);
            }
        }
        let f = File::open(&path).map_err(|e| io_err(url.clone(), e))?;
        let mut bytes = Vec::new();
        f.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io_err(url.clone(), e))?;
        if bytes.len() as u64 > limit {
            return Err(SourceError::TooLarge { url, limit });
        }
        Ok(Fetched::Data {
            bytes,
            validators: before.unwrap_or_default(),
        })
    }

    fn blob(&self, key: &str, offset: u64) -> Result<BlobBody, SourceError> {
        let url = self.url(key);
        let mut f = File::open(self.path(key)).map_err(|e| io_err(url.clone(), e))?;
        if offset > 0 {
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| io_err(url, e))?;
        }
        Ok(BlobBody {
            reader: Box::new(f),
            offset,
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
