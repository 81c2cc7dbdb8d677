//! Local time on Unix: `localtime_r`, which reads the zone from `TZ` or `/etc/localtime`.

use super::LocalTime;

pub fn local(epoch: i64) -> Option<LocalTime> {
    let t = libc::time_t::try_from(epoch).ok()?;
    // SAFETY: `tm` is plain old data; all-zero is a valid value that localtime_r overwrites.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals of the right types; localtime_r is thread-safe.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        return None;
    }
    LocalTime::from_tm(
        tm.tm_year,
        tm.tm_mon,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_wday,
        i32::try_from(tm.tm_gmtoff).ok(),
    )
}
