//! `config::parse` on arbitrary text (a launcher.ini that IT wrote by hand): errors, never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = launcher::config::parse(std::path::Path::new("/opt/app/launcher.ini"), &text);
});
