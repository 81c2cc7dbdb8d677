//! The repository layout (DESIGN.md, stable): where a product's channel manifests, release manifests and
//! blobs live, as relative `/`-separated keys that work as URL paths and as folder paths alike.
//!
//! ```text
//! <product>/channels/<channel>/<platform>.json   (+ .minisig)
//! <product>/channels/<channel>/index/<platform>.json   (+ .minisig; the release index, issue 13)
//! <product>/releases/<version>/<platform>.json   (+ .minisig)
//! <product>/blobs/<2 hex>/<sha256>[.zst]
//! ```
//! Pure functions only: no I/O here.

/// Suffix of a signature beside a manifest.
pub const SIG_SUFFIX: &str = ".minisig";
/// Suffix of a zstd-compressed blob.
pub const ZST_SUFFIX: &str = ".zst";

pub fn channel_manifest(product: &str, channel: &str, platform: &str) -> String {
    format!("{product}/channels/{channel}/{platform}.json")
}

/// The channel's signed release index (`index`): every version the channel has served.
pub fn release_index(product: &str, channel: &str, platform: &str) -> String {
    format!("{product}/channels/{channel}/index/{platform}.json")
}

pub fn release_manifest(product: &str, version: &str, platform: &str) -> String {
    format!("{product}/releases/{version}/{platform}.json")
}

pub fn blob(product: &str, sha256: &str, compressed: bool) -> String {
    let suffix = if compressed { ZST_SUFFIX } else { "" };
    format!("{product}/blobs/{}/{sha256}{suffix}", &sha256[..2])
}

pub fn signature_of(key: &str) -> String {
    format!("{key}{SIG_SUFFIX}")
}

/// The platform this launcher was built for, spelled as DESIGN.md says (`linux-x86_64`, `windows-x86_64`).
pub fn current_platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_matches_design() {
        assert_eq!(
            super::channel_manifest("demo", "stable", "linux-x86_64"),
            "demo/channels/stable/linux-x86_64.json"
        );
        assert_eq!(
            super::blob("demo", &"ab".repeat(32), true),
            format!("demo/blobs/ab/{}.zst", "ab".repeat(32))
        );
    }
}
