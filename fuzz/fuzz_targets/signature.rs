//! `TrustedKey::verify` on an arbitrary `.minisig` and manifest (what a hostile server can send): an
//! answer, never a panic. The input is `SIGNATURE \n\n MANIFEST`; the seed `valid` is a real signature
//! by the key below, so the fuzzer reaches the content and trusted-comment checks, not just parsing.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// The public key that signed the seed `corpus/signature/valid`.
const KEY: &str = "RWRjKnSuIzZbxnoOtVTjE5abnzVyTaQYctSKj/xzj+oBixWpTQ38vxzQ";

fuzz_target!(|data: &[u8]| {
    let key = launcher::sign::TrustedKey::parse(KEY).expect("the fixed key parses");
    let text = String::from_utf8_lossy(data);
    let (sig, manifest) = text.split_once("\n\n").unwrap_or((&text, ""));
    let _ = key.verify(manifest.as_bytes(), Some(sig));
    let _ = launcher::sign::trusted_comment(sig);
    let _ = launcher::sign::TrustedKey::parse(&text);
});
