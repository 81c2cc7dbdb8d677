//! `Manifest::from_slice` on arbitrary bytes (what a hostile server can send as a channel manifest):
//! it must never panic, and what it accepts must obey the rules the rest of the launcher relies on.

#![no_main]

use launcher::manifest::{Manifest, MAX_FILES, MAX_FILE_SIZE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::from_slice(data) else {
        return;
    };
    assert!(m.files.len() <= MAX_FILES);
    for f in &m.files {
        assert!(
            launcher::paths::check_path(&f.path).is_ok(),
            "accepted path {:?}",
            f.path
        );
        assert!(f.size <= MAX_FILE_SIZE);
        assert!(launcher::manifest::is_sha256_hex(&f.sha256));
    }
    assert!(launcher::paths::check_set(m.files.iter().map(|f| f.path.as_str())).is_empty());
    // The canonical bytes of an accepted manifest parse back to the same manifest.
    let again =
        Manifest::from_slice(&m.to_bytes()).expect("the canonical bytes of a valid manifest parse");
    assert_eq!(again, m);
    let _ = m.version();
    let _ = m.is_expired(std::time::SystemTime::now());
});
