//! Minisign keys and signatures: `keygen`, signing manifests at `publish`/`promote`, and verifying them
//! in the client when `PublicKey` is set.
//!
//! Keys and signatures are the `minisign` tool's own formats, so either side can be replaced by the tool:
//! `minisign -G -W` keys sign with `publish --secret-key`, and `minisign -V` checks what `publish` signs.
//! An encrypted secret key is opened with the password from `LAUNCHER_KEY_PASSWORD` or asked on the
//! terminal; it is never written anywhere. This module never decides policy (what is trusted when); the
//! callers do.

use crate::fsutil::{fs_err, FsError};
use base64::Engine;
use minisign::{KeyPair, SecretKey, SecretKeyBox};
use std::io::{Cursor, IsTerminal};
use std::path::{Path, PathBuf};

/// The environment variable that holds the password of an encrypted secret key.
pub const PASSWORD_ENV: &str = "LAUNCHER_KEY_PASSWORD";

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Io(#[from] FsError),
    #[error("`{}` already exists; pass --force to overwrite it", .0.display())]
    Exists(PathBuf),
    #[error("`{}` is not a minisign secret key: {reason}", path.display())]
    BadSecretKey { path: PathBuf, reason: String },
    #[error("the secret key `{}` is encrypted: set {PASSWORD_ENV} or run on a terminal to type the password", .0.display())]
    NeedPassword(PathBuf),
    #[error("wrong password for the secret key `{}`", .0.display())]
    WrongPassword(PathBuf),
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// Why a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("`{0}` is not a minisign public key (expected the base64 line of a `.pub` file, such as `RWQ...`)")]
    BadPublicKey(String),
    #[error("the manifest is not signed (no `.minisig` beside it)")]
    Unsigned,
    #[error("the signature is not a minisign signature")]
    Malformed,
    #[error("the manifest is signed by another key (key id {found}, expected {expected})")]
    OtherKey { found: String, expected: String },
    #[error("the signature does not match the manifest: its content was changed after signing")]
    Mismatch,
    #[error("the signature's trusted comment was changed after signing")]
    CommentChanged,
}

/// A secret key ready to sign, with its public half for a self-check.
pub struct Signer {
    sk: SecretKey,
}

/// Writes a new key pair. With `password`, the secret key is encrypted (scrypt), as `minisign -G` does;
/// without, it is stored unencrypted, as `minisign -G -W` does.
pub fn keygen(
    secret: &Path,
    public: &Path,
    password: Option<String>,
    force: bool,
) -> Result<String, SignError> {
    for p in [secret, public] {
        if !force && p.exists() {
            return Err(SignError::Exists(p.to_path_buf()));
        }
    }
    let sign_err = |e: minisign::PError| SignError::Sign(e.to_string());
    let encrypted = password.as_ref().is_some_and(|p| !p.is_empty());
    let KeyPair { pk, sk } =
        KeyPair::generate_encrypted_keypair(Some(password.unwrap_or_default()))
            .map_err(sign_err)?;
    let sk = if encrypted {
        sk
    } else {
        // Mark the key as not encrypted (kdf algorithm 0), the way the minisign tool writes `-W` keys.
        let mut bytes = sk.to_bytes();
        bytes[2] = 0;
        bytes[3] = 0;
        SecretKey::from_bytes(&bytes).map_err(sign_err)?
    };
    let sk_box = sk.to_box(Some("launcher secret key")).map_err(sign_err)?;
    let pk_box = pk.to_box().map_err(sign_err)?;
    write_new(secret, with_newline(sk_box.to_string()).as_bytes(), true)?;
    write_new(public, with_newline(pk_box.to_string()).as_bytes(), false)?;
    Ok(pk.to_base64())
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), FsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fs_err("create folder", dir))?;
    }
    crate::fsutil::write_atomic(path, bytes)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(fs_err("restrict the permissions of", path))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

impl Signer {
    /// Opens a minisign secret key file (ours or the minisign tool's).
    pub fn load(path: &Path) -> Result<Signer, SignError> {
        let text = std::fs::read_to_string(path).map_err(fs_err("read the secret key", path))?;
        let bad = |reason: &str| SignError::BadSecretKey {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let line = text
            .lines()
            .nth(1)
            .ok_or_else(|| bad("it has fewer than two lines"))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(line.trim())
            .map_err(|_| bad("its second line is not base64"))?;
        if raw.len() < 4 || &raw[..2] != b"Ed" {
            return Err(bad("it is not an Ed25519 minisign key"));
        }
        let encrypted = raw[2..4] != [0, 0];
        if !encrypted {
            // minisign 0.11 writes `-W` keys with an all-zero checksum and does not check it; the crate's
            // `from_box` would, and call the mismatch a wrong password. Read the raw key as the tool does.
            let sk = SecretKey::from_bytes(&raw).map_err(|e| bad(&e.to_string()))?;
            return Ok(Signer { sk });
        }
        let password = if let Ok(p) = std::env::var(PASSWORD_ENV) {
            Some(p)
        } else if std::io::stdin().is_terminal() {
            None // minisign asks on the terminal
        } else {
            return Err(SignError::NeedPassword(path.to_path_buf()));
        };
        let sk = SecretKey::from_box(
            SecretKeyBox::from_string(&text).map_err(|e| bad(&e.to_string()))?,
            password,
        )
        .map_err(|e| {
            if e.to_string().contains("password") {
                SignError::WrongPassword(path.to_path_buf())
            } else {
                bad(&e.to_string())
            }
        })?;
        Ok(Signer { sk })
    }

    /// Signs `data`; returns the `.minisig` text. The trusted comment is covered by the signature.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<String, SignError> {
        let sig = minisign::sign(
            None,
            &self.sk,
            Cursor::new(data),
            Some(trusted_comment),
            Some("signature from launcher secret key"),
        )
        .map_err(|e| SignError::Sign(e.to_string()))?;
        Ok(sig.to_string())
    }
}

/// A trusted public key, parsed from the base64 line of a `.pub` file or from the whole file.
#[derive(Clone)]
pub struct TrustedKey {
    key: minisign_verify::PublicKey,
    key_b64: String,
    id: String,
}

/// Tells a changed manifest from a changed trusted comment (minisign-verify reports both the same way;
/// the minisign crate checks them one after the other).
fn classify_mismatch(key_b64: &str, data: &[u8], sig_text: &str) -> VerifyError {
    let (Ok(pk), Ok(sig)) = (
        minisign::PublicKey::from_base64(key_b64),
        minisign::SignatureBox::from_string(sig_text),
    ) else {
        return VerifyError::Mismatch;
    };
    match minisign::verify(&pk, &sig, Cursor::new(data), true, false, false) {
        Err(e) if e.to_string().contains("Comment signature") => VerifyError::CommentChanged,
        _ => VerifyError::Mismatch,
    }
}

fn key_id(raw_id: &[u8]) -> String {
    raw_id.iter().rev().map(|b| format!("{b:02X}")).collect()
}

impl TrustedKey {
    pub fn parse(text: &str) -> Result<TrustedKey, VerifyError> {
        let t = text.trim();
        let line = if t.contains('\n') {
            t.lines().last().unwrap_or("").trim()
        } else {
            t
        };
        let key = minisign_verify::PublicKey::from_base64(line)
            .map_err(|_| VerifyError::BadPublicKey(text.to_string()))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(line)
            .map_err(|_| VerifyError::BadPublicKey(text.to_string()))?;
        Ok(TrustedKey {
            key,
            key_b64: line.to_string(),
            id: key_id(&raw[2..10]),
        })
    }

    /// The key id, as `minisign` prints it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Checks a `.minisig` (text) over `data`.
    pub fn verify(&self, data: &[u8], signature: Option<&str>) -> Result<(), VerifyError> {
        let text = signature.ok_or(VerifyError::Unsigned)?;
        let sig = minisign_verify::Signature::decode(text).map_err(|_| VerifyError::Malformed)?;
        self.key.verify(data, &sig, false).map_err(|e| match e {
            minisign_verify::Error::UnexpectedKeyId => VerifyError::OtherKey {
                found: signature_key_id(text).unwrap_or_else(|| "?".into()),
                expected: self.id.clone(),
            },
            minisign_verify::Error::InvalidEncoding
            | minisign_verify::Error::UnexpectedAlgorithm
            | minisign_verify::Error::UnsupportedAlgorithm
            | minisign_verify::Error::UnsupportedLegacyMode => VerifyError::Malformed,
            _ => classify_mismatch(&self.key_b64, data, text),
        })
    }
}

fn signature_key_id(sig_text: &str) -> Option<String> {
    let line = sig_text.lines().nth(1)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .ok()?;
    (raw.len() >= 10).then(|| key_id(&raw[2..10]))
}

/// The trusted comment of a signature, if it parses.
pub fn trusted_comment(sig_text: &str) -> Option<String> {
    minisign_verify::Signature::decode(sig_text)
        .ok()
        .map(|s| s.trusted_comment().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_sign_verify_round_trip_and_refusals() {
        let d = tempfile::tempdir().unwrap();
        let (sk, pk) = (d.path().join("k.key"), d.path().join("k.pub"));
        let b64 = keygen(&sk, &pk, None, false).unwrap();
        assert!(matches!(
            keygen(&sk, &pk, None, false),
            Err(SignError::Exists(_))
        ));
        let signer = Signer::load(&sk).unwrap();
        let sig = signer.sign(b"hello", "timestamp:1\tfile:x").unwrap();
        let key = TrustedKey::parse(&b64).unwrap();
        assert_eq!(key.verify(b"hello", Some(&sig)), Ok(()));
        assert_eq!(key.verify(b"hellO", Some(&sig)), Err(VerifyError::Mismatch));
        assert_eq!(key.verify(b"hello", None), Err(VerifyError::Unsigned));
        let whole_file = std::fs::read_to_string(&pk).unwrap();
        assert_eq!(TrustedKey::parse(&whole_file).unwrap().id(), key.id());
        let (sk2, pk2) = (d.path().join("o.key"), d.path().join("o.pub"));
        keygen(&sk2, &pk2, None, false).unwrap();
        let other = Signer::load(&sk2).unwrap().sign(b"hello", "c").unwrap();
        assert!(matches!(
            key.verify(b"hello", Some(&other)),
            Err(VerifyError::OtherKey { .. })
        ));
        let tampered = sig.replace("file:x", "file:y");
        assert_eq!(
            key.verify(b"hello", Some(&tampered)),
            Err(VerifyError::CommentChanged)
        );
    }
}
