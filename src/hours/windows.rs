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
    fn _get_timezone(seconds: *mut std::os::raw::c_long) -> c_int;
    fn _get_dstbias(seconds: *mut std::os::raw::c_long) -> c_int;
}

pub fn local(epoch: i64) -> Option<LocalTime> {
    let mut tm = Tm::default();
    // SAFETY: both pointers are to live locals of the right types.
    if unsafe { _localtime64_s(&mut tm, &epoch) } != 0 {
        return None;
    }
    let (mut zone, mut dst) = (0, 0);
    // SAFETY: out-pointers to live locals. The CRT gives the offset west of UTC, without DST.
    let offset =
        unsafe { _get_timezone(&mut zone) == 0 && _get_dstbias(&mut dst) == 0 }.then(|| {
            let west = zone as i64 + if tm.tm_isdst > 0 { dst as i64 } else { 0 };
            -(west as i32)
        });
    LocalTime::from_tm(
        tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_wday, offset,
    )
}
