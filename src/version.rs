//! Release versions: parsing, ordering and display.
//!
//! Two spellings are accepted, because publishers in the field use both: dotted numbers of any length
//! (`7.04.200`, `6.0.51.22965`), compared part by part as numbers, and semver (`1.2.3-beta.1`), compared
//! as semver. A version keeps the publisher's spelling for display and for repository paths; only the
//! ordering is numeric. This module never touches the file system.
//!
//! Equality is the ordering's: `7.4`, `7.04` and `7.4.0` are one version (DESIGN.md: versions compare
//! numerically part by part), and `1.2.3+build.5` is `1.2.3`. Every comparison of versions in the
//! launcher goes through this type (holds, downgrades, repairs, backups), never through the text.

use std::cmp::Ordering;
use std::fmt;

/// A parsed release version that remembers how the publisher wrote it.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Dotted numbers, compared part by part; missing trailing parts count as zero.
    Dotted(Vec<u64>),
    Semver(semver::Version),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{}` is not a version: use dotted numbers such as `7.04.200` or `6.0.51.22965`, or semver such as `1.2.3-beta.1`", crate::text::escape(.text))]
pub struct VersionError {
    pub text: String,
}

impl Version {
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let err = || VersionError {
            text: text.to_string(),
        };
        if text.is_empty() || text.len() > 128 || text.trim() != text {
            return Err(err());
        }
        let dotted: Option<Vec<u64>> = text
            .split('.')
            .map(|part| {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    None
                } else {
                    part.parse::<u64>().ok()
                }
            })
            .collect();
        if let Some(parts) = dotted {
            return Ok(Version {
                text: text.to_string(),
                kind: Kind::Dotted(parts),
            });
        }
        match semver::Version::parse(text) {
            Ok(v) => Ok(Version {
                text: text.to_string(),
                kind: Kind::Semver(v),
            }),
            Err(_) => Err(err()),
        }
    }

    /// The publisher's spelling.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Numeric parts used to compare a dotted version with a semver one (major, minor, patch).
    fn numbers(&self) -> Vec<u64> {
        match &self.kind {
            Kind::Dotted(p) => p.clone(),
            Kind::Semver(v) => vec![v.major, v.minor, v.patch],
        }
    }
}

fn cmp_numbers(a: &[u64], b: &[u64]) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        match x.cmp(&y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.kind, &other.kind) {
            (Kind::Semver(a), Kind::Semver(b)) => a.cmp_precedence(b),
            (Kind::Dotted(a), Kind::Dotted(b)) => cmp_numbers(a, b),
            // Mixed spellings: compare the numbers; on a tie a pre-release sorts first, as in semver.
            _ => cmp_numbers(&self.numbers(), &other.numbers()).then_with(|| {
                let pre = |v: &Version| matches!(&v.kind, Kind::Semver(s) if !s.pre.is_empty());
                pre(other).cmp(&pre(self))
            }),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Written as the publisher's spelling, so manifests, `state.json` and journals keep their format; read
/// back through [`Version::parse`].
impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Version, D::Error> {
        let text = String::deserialize(d)?;
        Version::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn dotted_versions_compare_numerically_part_by_part() {
        assert!(v("7.04.200") < v("7.05.100"));
        assert!(v("6.0.51.22965") < v("6.0.51.22966"));
        assert!(v("6.0.51.22966") < v("6.0.52.1"));
        assert!(v("6.0.9.1") < v("6.0.52.1"));
        assert!(v("7.4") == v("7.04"));
        assert!(v("7.4") == v("7.4.0"));
        assert!(v("10") > v("9.99.99"));
        assert_eq!(v("7.04.200").to_string(), "7.04.200");
    }

    #[test]
    fn semver_compares_as_semver() {
        assert!(v("1.2.3-beta.1") < v("1.2.3"));
        assert!(v("1.2.3-alpha") < v("1.2.3-beta"));
        assert!(v("1.2.3-beta.2") < v("1.2.3-beta.11"));
        assert!(v("1.2.3+build.5") == v("1.2.3"));
        assert!(v("1.10.0") > v("1.9.0"));
        assert!(v("1.2.3-rc.1") < v("1.2.3.0") || v("1.2.3-rc.1") < v("1.2.3"));
    }

    #[test]
    fn garbage_is_refused_with_both_forms_shown() {
        for bad in ["", "v1.2", "1..2", "1.2.", "abc", " 1.2", "1.2.x", "1.2.3-"] {
            let e = Version::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("7.04.200") && e.contains("1.2.3-beta.1"),
                "{bad}: {e}"
            );
        }
    }
}
