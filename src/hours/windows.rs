//! Local time on Windows: the C runtime's `_localtime64_s`, which follows the zone set in Windows
//! (with its daylight-saving rules). Compiled for Windows only; not yet run on a real machine.

use super::LocalTime;
use std::os::raw::c_int;

/// The C runtime's `struct tm`.
#[repr(C)]
#[derive(Default)]
struct Tm {
    tm_sec: c_int,
    tm_min: c_int,
    tm_hour: c_int,
    tm_mday: c_int,
    tm_mon: c_int,
    tm_year: c_int,
    tm_wday: c_int,
    tm_yday: c_int,
    tm_isdst: c_int,
}

extern "C" {
    fn _localtime64_s(tm: *mut Tm, time: *const i64) -> c_int;
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; `month` 1-12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn local(epoch: i64) -> Option<LocalTime> {
    let mut tm = Tm::default();
    // SAFETY: both pointers are to live locals of the right types.
    if unsafe { _localtime64_s(&mut tm, &epoch) } != 0 {
        return None;
    }
    // The offset from UTC is what the wall clock shows minus the instant, read back from the same
    // `tm` (mingw's msvcrt has no `_get_timezone`/`_get_dstbias`; this also includes DST as it is).
    let wall = days_from_civil(
        i64::from(tm.tm_year) + 1900,
        i64::from(tm.tm_mon) + 1,
        i64::from(tm.tm_mday),
    ) * 86_400
        + i64::from(tm.tm_hour) * 3600
        + i64::from(tm.tm_min) * 60
        + i64::from(tm.tm_sec);
    let offset = i32::try_from(wall - epoch).ok();
    LocalTime::from_tm(
        tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_wday, offset,
    )
}
