//! Test-only fault injection: named crash points and injected rename failures (feature
//! `fault-injection`). Without the feature every function here is an empty inline stub, so release
//! builds carry no trace of it.
//!
//! It owns nothing else and depends on no other module of the crate, so that any module (apply,
//! backup, stage, publish) can mark its risky steps without depending on the module that applies a
//! change. It must never change what the launcher does unless one of its variables is set.

#[cfg(feature = "fault-injection")]
use std::collections::BTreeMap;
#[cfg(feature = "fault-injection")]
use std::io;
use std::path::Path;

/// Test-only crash points: with the `fault-injection` feature, `LAUNCHER_CRASH_AT=name` or `name:N`
/// aborts the process at the N-th (default first) time the named point is reached, and
/// `LAUNCHER_PAUSE_AT=name` or `name:N` stops there (holding the lock) until the process is killed.
#[cfg(feature = "fault-injection")]
pub fn crash_point(name: &str) {
    static COUNT: Counts = Counts::new(BTreeMap::new());
    let crash = wanted("LAUNCHER_CRASH_AT", name);
    let pause = wanted("LAUNCHER_PAUSE_AT", name);
    if crash.is_none() && pause.is_none() {
        return;
    }
    let c = Some(reached(&COUNT, name));
    if crash == c {
        eprintln!("crash point `{name}` reached: aborting (LAUNCHER_CRASH_AT)");
        std::process::abort();
    }
    if pause == c {
        eprintln!("crash point `{name}` reached: pausing until killed (LAUNCHER_PAUSE_AT)");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

#[cfg(feature = "fault-injection")]
type Counts = std::sync::Mutex<BTreeMap<String, u32>>;

/// N when the variable `var` is `name:N` (or just `name`: 1), else None.
#[cfg(feature = "fault-injection")]
fn wanted(var: &str, name: &str) -> Option<u32> {
    let spec = std::env::var(var).ok()?;
    let (want, nth) = match spec.split_once(':') {
        Some((n, k)) => (n, k.parse::<u32>().unwrap_or(1)),
        None => (spec.as_str(), 1),
    };
    (want == name).then_some(nth)
}

/// How many times `name` has been reached in this process, this time included.
#[cfg(feature = "fault-injection")]
fn reached(counts: &Counts, name: &str) -> u32 {
    let mut map = counts.lock().unwrap_or_else(|p| p.into_inner());
    let c = map.entry(name.to_string()).or_insert(0);
    *c += 1;
    *c
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn crash_point(_name: &str) {}

/// `LAUNCHER_LOCKED_FILE=<path suffix>`: a rename that takes away or replaces that file fails as
/// "in use", as a file held open by another program does on Windows.
#[cfg(feature = "fault-injection")]
pub fn injected_rename_failure(busy: &Path) -> Option<std::io::Error> {
    let want = std::env::var("LAUNCHER_LOCKED_FILE").ok()?;
    busy.ends_with(&want)
        .then(|| io::Error::new(io::ErrorKind::ResourceBusy, "injected: file in use"))
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn injected_rename_failure(_busy: &Path) -> Option<std::io::Error> {
    None
}

/// `LAUNCHER_FAIL_AT=name` or `name:N`: the N-th (default first) time the named point is reached, the
/// step there fails with an I/O error, as a disk that stops answering would (used where no other
/// fault can be provoked without timing, such as a failure while a failed change is being undone).
#[cfg(feature = "fault-injection")]
pub fn fail_point(name: &str) -> Option<std::io::Error> {
    static COUNT: Counts = Counts::new(BTreeMap::new());
    let nth = wanted("LAUNCHER_FAIL_AT", name)?;
    (reached(&COUNT, name) == nth)
        .then(|| io::Error::other(format!("injected failure at `{name}` (LAUNCHER_FAIL_AT)")))
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn fail_point(_name: &str) -> Option<std::io::Error> {
    None
}
