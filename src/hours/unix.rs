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
    Some(LocalTime {
        year: tm.tm_year + 1900,
        month: u8::try_from(tm.tm_mon + 1).ok()?,
        day: u8::try_from(tm.tm_mday).ok()?,
        minute: u16::try_from(tm.tm_hour * 60 + tm.tm_min).ok()?,
        // tm_wday counts from Sunday.
        weekday: u8::try_from((tm.tm_wday + 6) % 7).ok()?,
        offset: i32::try_from(tm.tm_gmtoff).ok(),
    })
}
