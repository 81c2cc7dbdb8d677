//! Pinning (`Pin = 7.04` in launcher.ini): the install takes the newest release whose version starts
//! with the pin, even after the channel moved on to another line.
//!
//! "Starts with" is by whole parts: `7.04` matches `7.04`, `7.04.200` and `7.04-rc.1`, not `7.040`.
//! The channel's own release is taken when it matches (no extra request); otherwise the channel's
//! signed release index (`index`) names the newest match, whose release manifest is then fetched and
//! verified like any (`Session::release`). A pin that matches nothing is an error the caller turns
//! into a warning when a version is installed (it starts) and a failure when nothing is.

use crate::index::{self, ReleaseIndex};
use crate::manifest::Manifest;
use crate::repo;
use crate::update::{Session, UpdateError};
use crate::version::Version;

/// True when `version` is in the line `pin`.
pub fn matches(pin: &str, version: &Version) -> bool {
    let v = version.as_str();
    v == pin
        || v.strip_prefix(pin)
            .is_some_and(|rest| rest.starts_with(['.', '-', '+']))
}

/// The release the pin chooses, given the channel's `offered` release.
pub fn choose(s: &mut Session, pin: &str, offered: &Manifest) -> Result<Manifest, UpdateError> {
    if matches(pin, &offered.version) {
        return Ok(offered.clone());
    }
    let cfg = s.cfg;
    let key = repo::release_index(&cfg.product, &cfg.channel, &cfg.platform);
    let (url, bytes) = s.signed_file(&key, index::MAX_INDEX_BYTES)?;
    let idx = match bytes {
        Some(b) => ReleaseIndex::from_slice(&b).map_err(|reason| UpdateError::Refused {
            url: url.clone(),
            reason,
        })?,
        // A repository written before the index: only the channel's release is known.
        None => ReleaseIndex::new(&cfg.product, &cfg.channel, &cfg.platform),
    };
    if idx.product != cfg.product || idx.channel != cfg.channel || idx.platform != cfg.platform {
        return Err(UpdateError::Refused {
            url,
            reason: format!(
                "it is the index of {} `{}` on {}, but launcher.ini asks for {} `{}` on {}",
                idx.product, idx.channel, idx.platform, cfg.product, cfg.channel, cfg.platform
            ),
        });
    }
    match idx.releases.iter().find(|e| matches(pin, &e.version)) {
        Some(e) => {
            let v = e.version.clone();
            s.release(&v)
        }
        None => {
            let mut known: Vec<String> =
                idx.releases.iter().map(|e| e.version.to_string()).collect();
            if !known.contains(&offered.version.to_string()) {
                known.insert(0, offered.version.to_string());
            }
            Err(UpdateError::PinMatchesNothing {
                pin: pin.to_string(),
                ini: cfg.file.clone(),
                channel: cfg.channel.clone(),
                available: known.join(", "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_matches_whole_parts_only() {
        let m = |pin: &str, v: &str| matches(pin, &Version::parse(v).unwrap());
        assert!(m("7.04", "7.04") && m("7.04", "7.04.200") && m("7.04", "7.04.1.5"));
        assert!(m("1.2", "1.2.3-beta.1") && m("1.2.3", "1.2.3-rc.1"));
        assert!(!m("7.04", "7.040") && !m("7.04", "7.05.1") && !m("7.04", "7.4.1"));
    }
}
