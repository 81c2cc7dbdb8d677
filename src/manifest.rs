//! The manifest: what a release contains, as published on the server and as installed on a machine.
//!
//! The JSON fields are a stable contract (DESIGN.md, Manifest): fields are added, never repurposed.
//! This module owns parsing with size caps, the validation rules every manifest passes before anything
//! is done with it (paths, hashes, sizes, executable), and the canonical serialisation that `publish`
//! writes and signs. It never reads the network or the install folder.

use crate::paths;
use crate::text::{escape, first_lines};
use crate::version::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;

pub const FORMAT: u32 = 1;
/// Largest manifest accepted, in bytes (a 100,000-file release is about 20 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;
/// Most files one release may list.
pub const MAX_FILES: usize = 250_000;
/// Largest single file (1 TiB) and whole release (4 TiB): beyond any real app, small enough for u64 sums.
pub const MAX_FILE_SIZE: u64 = 1 << 40;
pub const MAX_TOTAL_SIZE: u64 = 1 << 42;
/// Problems of an invalid manifest shown in its message; the rest are counted.
pub const MAX_PROBLEMS_SHOWN: usize = 10;
/// Deepest JSON nesting accepted (the manifest itself needs 3).
const MAX_JSON_DEPTH: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    /// RFC 3339, UTC, whole seconds: the date the file had in the release folder.
    pub mtime: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exec: bool,
    /// Present when the blob is stored zstd-compressed (`<sha256>.zst`): its size in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zsize: Option<u64>,
}

impl FileEntry {
    /// Bytes to download for this file.
    pub fn transfer_size(&self) -> u64 {
        self.zsize.unwrap_or(self.size)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    pub product: String,
    /// The publisher's spelling is kept (it names the release folder in the repository).
    pub version: Version,
    pub channel: String,
    pub platform: String,
    pub published: String,
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub mandatory: bool,
    pub executable: String,
    pub files: Vec<FileEntry>,
    /// A staged rollout (channel manifests only, `publish`/`promote --rollout`): only this share of the
    /// installs takes the release. Older launchers ignore the field and take the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// A program among the release's own files run after its files are in place
    /// (`publish --post-update`); a failure rolls the release back (`hooks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_update: Option<String>,
    /// A program among the release's own files run before a rollback takes them away, to undo what
    /// `post_update` did (`publish --pre-rollback`); a failure is logged and the rollback goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_rollback: Option<String>,
}

/// Which installs take a release while it is rolled out (`rollout` decides who is inside).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rollout {
    /// 0 to 99: the share of installs that take the release (100 is written as no rollout).
    pub percent: u8,
    /// The release the others stay on (or install), when the channel had one before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Version>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is {size} bytes, more than the limit of {MAX_MANIFEST_BYTES}")]
    TooLarge { size: u64 },
    #[error("the manifest is nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    #[error("the manifest is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "the manifest has format {found}; this launcher reads format {FORMAT}: update the launcher"
    )]
    Format { found: u32 },
    #[error("the manifest is invalid:\n{}", first_lines(.problems, MAX_PROBLEMS_SHOWN))]
    Invalid { problems: Vec<String> },
}

/// A date as the manifest writes it: RFC 3339, UTC, whole seconds.
pub fn format_time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

pub fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s).ok()
}

pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Names used in repository paths (product, channel, platform): short, plain and safe in a URL.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} `{}` is not allowed: use 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`",
            escape(name)
        ))
    }
}

fn json_depth_ok(bytes: &[u8]) -> bool {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &b in bytes {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

impl Manifest {
    /// Parses and validates manifest bytes. Everything a manifest says is checked here, so code after
    /// this point may trust paths, sizes and hashes.
    pub fn from_slice(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge {
                size: bytes.len() as u64,
            });
        }
        if !json_depth_ok(bytes) {
            return Err(ManifestError::TooDeep);
        }
        // Read the format first, so a future format gets "update the launcher", not a field error.
        #[derive(Deserialize)]
        struct Head {
            format: Option<u32>,
        }
        if let Ok(Head { format: Some(f) }) = serde_json::from_slice::<Head>(bytes) {
            if f != FORMAT {
                return Err(ManifestError::Format { found: f });
            }
        }
        let m: Manifest = match serde_json::from_slice(bytes) {
            Ok(m) => m,
            Err(e) => return Err(Self::every_problem(bytes, e)),
        };
        m.validate()?;
        Ok(m)
    }

    /// The error for a manifest that does not read as one. A version that is not one stops the
    /// reading at once; it is reported together with every other problem of the manifest, which
    /// is read again with a stand-in version to find them.
    fn every_problem(bytes: &[u8], first: serde_json::Error) -> ManifestError {
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return first.into();
        };
        let Some(Err(bad)) = v
            .get("version")
            .and_then(|t| t.as_str())
            .map(Version::parse)
        else {
            return first.into();
        };
        v["version"] = "0".into();
        let mut problems = vec![format!("version: {bad}")];
        match serde_json::from_value::<Manifest>(v).map(|m| m.validate()) {
            Ok(Err(ManifestError::Invalid { problems: more })) => problems.extend(more),
            Ok(Err(other)) => return other,
            Ok(Ok(())) => {}
            Err(_) => return first.into(),
        }
        ManifestError::Invalid { problems }
    }

    /// All rules a manifest must satisfy; lists every problem found.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let mut problems = Vec::new();
        if self.format != FORMAT {
            return Err(ManifestError::Format { found: self.format });
        }
        for (what, value) in [
            ("product", &self.product),
            ("channel", &self.channel),
            ("platform", &self.platform),
        ] {
            if let Err(e) = check_name(what, value) {
                problems.push(e);
            }
        }
        if parse_time(&self.published).is_none() {
            problems.push(format!(
                "published: `{}` is not an RFC 3339 date",
                escape(&self.published)
            ));
        }
        if let Some(exp) = &self.expires {
            if parse_time(exp).is_none() {
                problems.push(format!(
                    "expires: `{}` is not an RFC 3339 date",
                    escape(exp)
                ));
            }
        }
        if self.files.len() > MAX_FILES {
            // Nothing more is checked: a hostile list must not cost more than reading it.
            problems.push(format!(
                "{} files listed; the limit is {MAX_FILES}",
                self.files.len()
            ));
            return Err(ManifestError::Invalid { problems });
        }
        for p in paths::check_set(self.files.iter().map(|f| f.path.as_str())) {
            problems.push(format!("`{}`: {}", escape(&p.path), p.reason));
        }
        let mut total: u64 = 0;
        for f in &self.files {
            if !is_sha256_hex(&f.sha256) {
                problems.push(format!(
                    "`{}`: sha256 `{}` is not 64 lowercase hex digits",
                    escape(&f.path),
                    escape(&f.sha256)
                ));
            }
            if f.size > MAX_FILE_SIZE {
                problems.push(format!(
                    "`{}`: size {} is over the limit of {MAX_FILE_SIZE}",
                    escape(&f.path),
                    f.size
                ));
            }
            if let Some(z) = f
                .zsize
                .filter(|&z| z > f.size.saturating_add(f.size / 8).saturating_add(65_536))
            {
                problems.push(format!(
                    "`{}`: zsize {z} is larger than zstd can make size {}",
                    escape(&f.path),
                    f.size
                ));
            }
            total = total.saturating_add(f.size);
            if parse_time(&f.mtime).is_none() {
                problems.push(format!(
                    "`{}`: mtime `{}` is not an RFC 3339 date",
                    escape(&f.path),
                    escape(&f.mtime)
                ));
            }
        }
        if total > MAX_TOTAL_SIZE {
            problems.push(format!(
                "the files add up to {total} bytes, over the limit of {MAX_TOTAL_SIZE}"
            ));
        }
        if !self.executable.is_empty() && !self.files.iter().any(|f| f.path == self.executable) {
            problems.push(format!(
                "executable `{}` is not one of the listed files",
                escape(&self.executable)
            ));
        }
        for (field, hook) in [
            ("post_update", &self.post_update),
            ("pre_rollback", &self.pre_rollback),
        ] {
            if let Some(hook) = hook
                .as_ref()
                .filter(|h| !self.files.iter().any(|f| f.path == **h))
            {
                problems.push(format!(
                    "{field} `{}` is not one of the listed files (a hook runs only the release's own files)",
                    escape(hook)
                ));
            }
        }
        if let Some(r) = &self.rollout {
            if r.percent >= 100 {
                problems.push(format!(
                    "rollout: percent {} is not below 100 (a complete rollout has no rollout field)",
                    r.percent
                ));
            }
            if r.previous.as_ref().is_some_and(|p| *p >= self.version) {
                problems.push(format!(
                    "rollout: previous {} is not older than the release {}",
                    escape(r.previous.as_ref().map_or("", |p| p.as_str())),
                    escape(self.version.as_str())
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ManifestError::Invalid { problems })
        }
    }

    pub fn version(&self) -> &Version {
        &self.version
    }

    /// The canonical bytes: pretty JSON with a trailing newline, the exact bytes that are signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        v.push(b'\n');
        v
    }

    pub fn files_by_path(&self) -> BTreeMap<&str, &FileEntry> {
        self.files.iter().map(|f| (f.path.as_str(), f)).collect()
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// True when `expires` is set and in the past.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires
            .as_deref()
            .and_then(parse_time)
            .is_some_and(|t| t < now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: 1,
            product: "demo".into(),
            version: crate::version::Version::parse("1.0").unwrap(),
            channel: "stable".into(),
            platform: "linux-x86_64".into(),
            published: "2026-11-20T20:00:00Z".into(),
            expires: None,
            mandatory: false,
            executable: "bin/demo".into(),
            files: vec![FileEntry {
                path: "bin/demo".into(),
                size: 3,
                mtime: "2026-11-20T19:58:01Z".into(),
                sha256: "a".repeat(64),
                exec: true,
                zsize: None,
            }],
            rollout: None,
            post_update: None,
            pre_rollback: None,
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(Manifest::from_slice(&m.to_bytes()).unwrap(), m);
    }

    #[test]
    fn a_hook_must_be_a_listed_file_and_a_rollout_partial_and_after_its_previous() {
        let mut m = sample();
        m.post_update = Some("bin/demo".into());
        m.rollout = Some(Rollout {
            percent: 10,
            previous: Some(Version::parse("0.9").unwrap()),
        });
        assert_eq!(Manifest::from_slice(&m.to_bytes()).unwrap(), m);
        for (hook, percent, previous, needle) in [
            (
                "tools/x.sh",
                10,
                "0.9",
                "post_update `tools/x.sh` is not one of the listed files",
            ),
            (
                "bin/demo",
                100,
                "0.9",
                "rollout: percent 100 is not below 100",
            ),
            (
                "bin/demo",
                10,
                "1.0",
                "rollout: previous 1.0 is not older than the release 1.0",
            ),
        ] {
            m.post_update = Some(hook.into());
            m.rollout = Some(Rollout {
                percent,
                previous: Some(Version::parse(previous).unwrap()),
            });
            let e = Manifest::from_slice(&m.to_bytes()).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn refuses_bad_hash_depth_and_future_format() {
        let mut m = sample();
        m.files[0].sha256 = "XYZ".into();
        assert!(Manifest::from_slice(&m.to_bytes()).is_err());
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(matches!(
            Manifest::from_slice(deep.as_bytes()),
            Err(ManifestError::TooDeep)
        ));
        let mut m = sample();
        m.format = 2;
        let e = Manifest::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap_err();
        assert!(e.to_string().contains("update the launcher"));
    }
}

/// A small deterministic fuzzer for the parsers' unit tests: the seed corpus of `fuzz/` (the
/// cargo-fuzz targets, which need a nightly toolchain) mutated by a xorshift generator, so every
/// `cargo test` runs the parsers on some thousands of broken inputs.
#[cfg(test)]
pub(crate) mod mini_fuzz {
    /// xorshift64*: tiny, fast, and the same sequence on every machine.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed | 1)
        }
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Pieces that matter to the parsers: JSON and ini syntax, path tricks, number edges, bad UTF-8.
    const TOKENS: &[&[u8]] = &[
        b"..",
        b"/",
        b"\\",
        b"\\\\",
        b":",
        b"\"",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b"\\u0000",
        b"\\ud800",
        b"\\uDFFF",
        b"18446744073709551616",
        b"18446744073709551615",
        b"-1",
        b"1e999",
        b"0.5",
        b"null",
        b"true",
        b"CON",
        b"nul.txt",
        b"LAUNCH~1",
        b".launcher/",
        b"bkp.001/",
        b"C:",
        b"//?/",
        b"\xff",
        b"\xc3",
        b"\xed\xa0\x80",
        b"\n",
        b"\r\n",
        b"\t",
        b"=",
        b";",
        b"#",
        b"[Update]",
        b"[App]",
        b"PublicKey = RWQ",
        b"\"path\":\"",
        b"\"size\":",
        b"\"zsize\":",
        b"\"format\":1",
        b"\"expires\":\"",
        b"2026-13-45T99:99:99Z",
    ];

    fn mutate(rng: &mut Rng, d: &mut Vec<u8>, seeds: &[&[u8]]) {
        let at = |rng: &mut Rng, d: &Vec<u8>| rng.below(d.len() + 1);
        match rng.below(8) {
            0 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] = rng.next() as u8;
            }
            2 => {
                let i = at(rng, d);
                d.insert(i, rng.next() as u8);
            }
            3 if !d.is_empty() => {
                let i = rng.below(d.len());
                let n = rng.below(d.len() - i).min(64) + 1;
                d.drain(i..(i + n).min(d.len()));
            }
            4 if !d.is_empty() => {
                // Duplicate a range: deeper nesting, repeated keys and entries.
                let i = rng.below(d.len());
                let n = (rng.below(d.len() - i) + 1).min(256);
                let piece = d[i..i + n].to_vec();
                let j = at(rng, d);
                d.splice(j..j, piece);
            }
            5 => {
                let s = seeds[rng.below(seeds.len())];
                if !s.is_empty() {
                    let i = rng.below(s.len());
                    let n = (rng.below(s.len() - i) + 1).min(256);
                    let j = at(rng, d);
                    d.splice(j..j, s[i..i + n].iter().copied());
                }
            }
            6 if !d.is_empty() => {
                let i = rng.below(d.len());
                d.truncate(i);
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let i = at(rng, d);
                d.splice(i..i, t.iter().copied());
            }
        }
    }

    /// Calls `f` with `iterations` mutated seeds (1 to 4 mutations each); `f` asserts what must hold.
    pub fn run(seeds: &[&[u8]], iterations: usize, seed: u64, mut f: impl FnMut(&[u8])) {
        let mut rng = Rng::new(seed);
        for i in 0..iterations {
            let mut d = seeds[i % seeds.len()].to_vec();
            for _ in 0..=rng.below(4) {
                mutate(&mut rng, &mut d, seeds);
            }
            f(&d);
        }
    }
}

#[cfg(test)]
mod fuzz_tests {
    use super::*;

    const SEEDS: &[&[u8]] = &[
        include_bytes!("../fuzz/corpus/manifest/published.json"),
        include_bytes!("../fuzz/corpus/manifest/minimal.json"),
        include_bytes!("../fuzz/corpus/manifest/semver.json"),
        include_bytes!("../fuzz/corpus/manifest/traversal.json"),
        include_bytes!("../fuzz/corpus/manifest/case-duplicate.json"),
        include_bytes!("../fuzz/corpus/manifest/nested.json"),
        include_bytes!("../fuzz/corpus/manifest/future-format.json"),
    ];

    #[test]
    fn the_seed_corpus_holds_valid_manifests() {
        for seed in &SEEDS[..3] {
            Manifest::from_slice(seed).unwrap();
        }
    }

    #[test]
    fn mutated_manifests_never_panic_and_what_is_accepted_obeys_the_rules() {
        let mut accepted = 0;
        mini_fuzz::run(SEEDS, 20_000, 0x5EED_0001, |data| {
            let Ok(m) = Manifest::from_slice(data) else {
                return;
            };
            accepted += 1;
            assert!(m.files.len() <= MAX_FILES);
            for f in &m.files {
                assert!(
                    paths::check_path(&f.path).is_ok(),
                    "accepted path {:?}",
                    f.path
                );
                assert!(f.size <= MAX_FILE_SIZE && is_sha256_hex(&f.sha256));
            }
            assert!(paths::check_set(m.files.iter().map(|f| f.path.as_str())).is_empty());
            let again = Manifest::from_slice(&m.to_bytes()).expect("canonical bytes parse");
            assert_eq!(again, m, "input: {}", String::from_utf8_lossy(data));
            let _ = m.version();
        });
        // The mutations must leave some inputs valid, or only the JSON parser is being tested.
        assert!(
            accepted > 100,
            "only {accepted} mutated manifests were valid"
        );
    }

    #[test]
    fn mutated_signatures_never_panic() {
        const SIG_SEEDS: &[&[u8]] = &[
            include_bytes!("../fuzz/corpus/signature/valid"),
            include_bytes!("../fuzz/corpus/signature/signature-only"),
            include_bytes!("../fuzz/corpus/signature/truncated"),
        ];
        let key = crate::sign::TrustedKey::parse(
            "RWRjKnSuIzZbxnoOtVTjE5abnzVyTaQYctSKj/xzj+oBixWpTQ38vxzQ",
        )
        .unwrap();
        let text = String::from_utf8_lossy(SIG_SEEDS[0]);
        let (sig, body) = text.split_once("\n\n").unwrap();
        assert_eq!(
            key.verify(body.as_bytes(), Some(sig)),
            Ok(()),
            "the seed `valid` is a valid signature"
        );
        mini_fuzz::run(SIG_SEEDS, 3_000, 0x5EED_0002, |data| {
            let text = String::from_utf8_lossy(data);
            let (sig, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let _ = key.verify(body.as_bytes(), Some(sig));
            let _ = crate::sign::trusted_comment(sig);
        });
    }
}
