//! Staged rollout, the client's side: is this install inside the share that takes a release?
//!
//! Each install has a random id, made once and kept in its state (`State::install_id`). For a release
//! rolled out to `percent` % (the channel manifest's `rollout`, written by `publish`/`promote
//! --rollout`), the install's place is a number in [0, 100) drawn from SHA-256 of the product, the
//! release's version and the id: the same on every start, so raising the percentage only adds
//! installs, and a different draw for each release, so the same machines are not always the first.
//! An install is inside when its place is below the percentage. The decision of what an install
//! outside the share becomes is `policy::decide`'s; this module only answers the question.

use crate::manifest::Manifest;
use crate::version::Version;
use sha2::{Digest, Sha256};

/// Where an install stands in the rollout of a channel's release.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Placement {
    pub percent: u8,
    /// The install's place in [0, 100); None when it has no id yet (`check` on an install made by an
    /// older launcher: the next start assigns one).
    pub place: Option<f64>,
    pub inside: bool,
    /// The release the installs outside the share stay on.
    pub previous: Option<Version>,
}

/// The placement of the install `id` in the rollout of `offered`; None when `offered` is not being
/// rolled out (everybody takes it).
pub fn placement(offered: &Manifest, id: Option<&str>) -> Option<Placement> {
    let r = offered.rollout.as_ref().filter(|r| r.percent < 100)?;
    let place = id.map(|id| place(&offered.product, &offered.version, id));
    Some(Placement {
        percent: r.percent,
        place,
        inside: place.is_some_and(|p| p < f64::from(r.percent)),
        previous: r.previous.clone(),
    })
}

/// The install's place in the rollout of `product` `version`, in [0, 100) with two decimals.
pub fn place(product: &str, version: &Version, id: &str) -> f64 {
    let digest = Sha256::new()
        .chain_update(product.as_bytes())
        .chain_update([0])
        // The spelling is the release's name: a repository holds one spelling per version (`publish`).
        .chain_update(version.as_str().as_bytes())
        .chain_update([0])
        .chain_update(id.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 10_000) as f64 / 100.0
}

impl Placement {
    /// `in the 10% rollout of 2.0 (place 7.31)` or `not in the 10% rollout of 2.0 (place 37.12)`.
    pub fn describe(&self, version: &Version) -> String {
        let place = self
            .place
            .map(|p| format!(" (place {p:.2})"))
            .unwrap_or_else(|| " (no install id yet: the next start assigns one)".to_string());
        let not = if self.inside { "" } else { "not " };
        format!("{not}in the {}% rollout of {version}{place}", self.percent)
    }
}

/// A new random install id: 32 hex digits. The randomness is the standard library's per-process
/// random hash keys (seeded by the OS), mixed with the time and process id; it need not be secret,
/// only different between machines.
pub fn new_install_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (0..2u8)
        .map(|half| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(half);
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            format!("{:016x}", h.finish())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,000 simulated install ids, the same on every run: with truly random ids the share of 1,000
    /// is off by more than 2 points at 50 % about one run in five (one standard deviation is 1.6
    /// points), so a test on fresh random ids would fail by chance. What is tested is the placement.
    fn simulated_ids() -> Vec<String> {
        (0..1000)
            .map(|n| hex::encode(&Sha256::digest(format!("install {n}").as_bytes())[..16]))
            .collect()
    }

    #[test]
    fn new_install_ids_are_32_hex_digits_and_do_not_repeat() {
        let ids: std::collections::BTreeSet<String> = (0..1000).map(|_| new_install_id()).collect();
        assert_eq!(ids.len(), 1000, "install ids repeat");
        assert!(ids
            .iter()
            .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn over_a_thousand_installs_the_share_is_within_two_points_and_raising_it_only_adds() {
        let ids = simulated_ids();
        let v = Version::parse("7.04.200").unwrap();
        let places: Vec<f64> = ids.iter().map(|id| place("demo", &v, id)).collect();
        let mut before: Vec<bool> = vec![false; ids.len()];
        for percent in [1u8, 5, 10, 25, 50, 75, 90, 99] {
            let inside: Vec<bool> = places.iter().map(|p| *p < f64::from(percent)).collect();
            let share = inside.iter().filter(|i| **i).count() as f64 / 10.0;
            assert!(
                (share - f64::from(percent)).abs() <= 2.0,
                "{percent}%: {share}% of 1000 installs are inside"
            );
            for (i, (was, is)) in before.iter().zip(&inside).enumerate() {
                assert!(
                    !was || *is,
                    "install {i} left the rollout when it rose to {percent}%"
                );
            }
            before = inside;
        }
    }

    #[test]
    fn the_place_is_stable_per_release_and_differs_between_releases() {
        let id = "0123456789abcdef0123456789abcdef";
        let a = Version::parse("2.0").unwrap();
        assert_eq!(place("demo", &a, id), place("demo", &a, id));
        let spread: std::collections::BTreeSet<u64> = (0..20)
            .map(|n| {
                (place("demo", &Version::parse(&format!("2.{n}")).unwrap(), id) * 100.0) as u64
            })
            .collect();
        assert!(
            spread.len() > 15,
            "the same install draws the same place for every release"
        );
    }
}
