//! Update hours: when IT allows optional updates (`UpdateHours`, `UpdateDays` in launcher.ini).
//!
//! This module owns the two keys' syntax and the question "is the window open at this instant, and
//! when does it open next", in the machine's local time (its zone, with daylight saving as the OS
//! knows it). It never decides what to do with the answer: `policy::decide` does (optional releases
//! only inside the window, mandatory ones at any hour).
//!
//! The rules, so that IT can predict them:
//! - `UpdateHours = 07:00-08:30, 18:00-23:59`: wall-clock ranges; the end minute is included, so
//!   `18:00-23:59` runs to midnight and `24:00` may be written as an end.
//! - A range whose end is before its start crosses midnight (`22:00-06:00`); its morning part belongs to
//!   the day it started, so `UpdateDays = Fri` with `22:00-06:00` opens Friday night until Saturday 06:00.
//! - A leading `!` makes the hours forbidden ones: `UpdateHours = !08:00-18:00` allows every other
//!   minute of the allowed days.
//! - `UpdateDays = Mon-Fri, Sun`: day names (English, three letters or whole), ranges may wrap
//!   (`Fri-Mon`). Without `UpdateDays` every day is allowed; without `UpdateHours`, the whole day.
//! - Daylight saving: a wall-clock minute that a spring-forward skips does not happen that day, and
//!   one repeated by a fall-back happens twice; the window follows the clock on the wall, as IT reads it.
//!
//! Local time comes from the OS (`unix.rs`: `localtime_r`, which honours `TZ`; `windows.rs`: the C
//! runtime's `_localtime64_s`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
/// The last minute of a day (23:59), the end that `24:00` stands for.
const LAST_MINUTE: u16 = 24 * 60 - 1;
/// How far ahead [`Window::next_open`] looks: a week and a day covers every combination of days.
const LOOK_AHEAD_MINUTES: i64 = 8 * 24 * 60;

/// A wall-clock instant, as the machine's zone shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    /// Minutes since local midnight.
    pub minute: u16,
    /// 0 = Monday ... 6 = Sunday.
    pub weekday: u8,
    /// Seconds east of UTC, when the OS says.
    pub offset: Option<i32>,
}

impl LocalTime {
    /// The local time of `epoch` (seconds since 1970); None when the OS cannot convert it.
    pub fn at(epoch: i64) -> Option<LocalTime> {
        os::local(epoch)
    }

    /// From the fields of a C `struct tm` (years since 1900, months from 0, weekdays from Sunday).
    fn from_tm(
        tm_year: i32,
        tm_mon: i32,
        tm_mday: i32,
        tm_hour: i32,
        tm_min: i32,
        tm_wday: i32,
        offset: Option<i32>,
    ) -> Option<LocalTime> {
        Some(LocalTime {
            year: tm_year + 1900,
            month: u8::try_from(tm_mon + 1).ok()?,
            day: u8::try_from(tm_mday).ok()?,
            minute: u16::try_from(tm_hour * 60 + tm_min).ok()?,
            weekday: u8::try_from((tm_wday + 6) % 7).ok()?,
            offset,
        })
    }

    /// `2026-11-23 18:00 (+02:00)`: how `status` and `check` say when the window opens.
    pub fn display(&self) -> String {
        let offset = self
            .offset
            .map(|o| {
                let sign = if o < 0 { '-' } else { '+' };
                let o = o.unsigned_abs();
                format!(" ({sign}{:02}:{:02})", o / 3600, o / 60 % 60)
            })
            .unwrap_or_default();
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} {}{offset}",
            self.year,
            self.month,
            self.day,
            self.minute / 60,
            self.minute % 60,
            DAY_NAMES[usize::from(self.weekday % 7)],
        )
    }
}

/// `opens 2026-11-23 18:00 Mon (+02:00)`: when a window opens, as [`Window::next_open`] found it.
pub fn when_opens(opens: Option<i64>) -> String {
    match opens.map(|t| (t, LocalTime::at(t))) {
        Some((_, Some(local))) => format!("opens {}", local.display()),
        Some((t, None)) => format!("opens at {t} s after 1970"),
        None => "never opens; check UpdateHours and UpdateDays in launcher.ini".to_string(),
    }
}

/// A range of wall-clock minutes, both ends included; `start > end` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u16,
    end: u16,
}

/// When optional updates may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Empty: the whole day.
    ranges: Vec<Range>,
    /// The ranges are forbidden hours (`!`), not allowed ones.
    forbidden: bool,
    /// Allowed days, Monday first.
    days: [bool; 7],
    /// `UpdateHours` and `UpdateDays` as written, for messages.
    pub hours_text: String,
    pub days_text: String,
}

impl Window {
    /// The window of `UpdateHours` and `UpdateDays` (either may be empty: the whole day, every day).
    /// The error says what is wrong and what to write instead.
    pub fn parse(hours: &str, days: &str) -> Result<Window, String> {
        let (ranges, forbidden) = parse_hours(hours)?;
        let days_set = if days.trim().is_empty() {
            [true; 7]
        } else {
            parse_days(days)?
        };
        Ok(Window {
            ranges,
            forbidden,
            days: days_set,
            hours_text: hours.trim().to_string(),
            days_text: days.trim().to_string(),
        })
    }

    /// `07:00-08:30 on Mon-Fri`: the window in IT's own words.
    pub fn describe(&self) -> String {
        let hours = if self.hours_text.is_empty() {
            "any hour".to_string()
        } else {
            self.hours_text.clone()
        };
        let days = if self.days_text.is_empty() {
            "every day".to_string()
        } else {
            self.days_text.clone()
        };
        format!("{hours} local time, {days}")
    }

    /// True when the window is open at the wall-clock time `t`.
    pub fn contains(&self, t: &LocalTime) -> bool {
        let today = usize::from(t.weekday % 7);
        let yesterday = (today + 6) % 7;
        let m = t.minute;
        if self.ranges.is_empty() {
            return self.days[today];
        }
        if self.forbidden {
            return self.days[today] && !self.ranges.iter().any(|r| r.holds(m));
        }
        self.ranges.iter().any(|r| {
            if r.start <= r.end {
                self.days[today] && r.start <= m && m <= r.end
            } else {
                // The part after midnight belongs to the day the range started.
                (self.days[today] && m >= r.start) || (self.days[yesterday] && m <= r.end)
            }
        })
    }

    /// True when the window is open at `epoch`. A clock the OS cannot read as local time does not
    /// block updates: a broken clock must not keep a machine on an old release forever.
    pub fn is_open(&self, epoch: i64) -> bool {
        LocalTime::at(epoch).is_none_or(|t| self.contains(&t))
    }

    /// The first minute at or after `epoch` when the window is open (`epoch` itself when it is open
    /// now); None when it never opens (no allowed minute in a week).
    pub fn next_open(&self, epoch: i64) -> Option<i64> {
        if self.is_open(epoch) {
            return Some(epoch);
        }
        // Minute by minute through the wall clock: a DST change moves the wall clock, not the steps,
        // so a skipped or repeated hour is handled without any arithmetic on offsets.
        let first = epoch.div_euclid(60) * 60 + 60;
        (0..LOOK_AHEAD_MINUTES)
            .map(|i| first + i * 60)
            .find(|t| self.is_open(*t))
    }
}

impl Range {
    fn holds(&self, m: u16) -> bool {
        if self.start <= self.end {
            self.start <= m && m <= self.end
        } else {
            m >= self.start || m <= self.end
        }
    }
}

const HOURS_HELP: &str = "give 24-hour local time ranges such as `07:00-08:30, 18:00-23:59` (a range may cross midnight, `22:00-06:00`), or start with `!` for forbidden hours (`!08:00-18:00`)";
const DAYS_HELP: &str =
    "give day names or ranges such as `Mon-Fri` or `Mon, Wed, Sat-Sun` (Mon Tue Wed Thu Fri Sat Sun)";

fn parse_hours(text: &str) -> Result<(Vec<Range>, bool), String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok((Vec::new(), false));
    }
    let (forbidden, body) = match text.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, text),
    };
    let mut ranges = Vec::new();
    for part in body.split(',').map(str::trim) {
        let range = part.split_once('-').and_then(|(a, b)| {
            let start = clock(a.trim(), false)?;
            let end = clock(b.trim(), true)?;
            Some(Range { start, end })
        });
        match range {
            Some(r) => ranges.push(r),
            None => return Err(format!("`{part}` is not a range of hours; {HOURS_HELP}")),
        }
    }
    Ok((ranges, forbidden))
}

/// `HH:MM` (or `H:MM`) as minutes since midnight, 00:00 to 23:59 (also for `launcher schedule --at`).
pub fn clock_minutes(s: &str) -> Option<u16> {
    clock(s, false)
}

/// `HH:MM` (or `H:MM`) as minutes since midnight; `24:00` only as an end, meaning 23:59.
fn clock(s: &str, is_end: bool) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    match (h, m) {
        (24, 0) if is_end => Some(LAST_MINUTE),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for part in text.split(',').map(str::trim) {
        let bad = || format!("`{part}` is not a day or a range of days; {DAYS_HELP}");
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                day(a.trim()).ok_or_else(bad)?,
                day(b.trim()).ok_or_else(bad)?,
            ),
            None => {
                let d = day(part).ok_or_else(bad)?;
                (d, d)
            }
        };
        let mut d = a;
        loop {
            days[d] = true;
            if d == b {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    Ok(days)
}

fn day(s: &str) -> Option<usize> {
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(s))
        .or_else(|| {
            LONG_DAY_NAMES
                .iter()
                .position(|d| d.eq_ignore_ascii_case(s))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(weekday: u8, hh: u16, mm: u16) -> LocalTime {
        LocalTime {
            year: 2026,
            month: 11,
            day: 23,
            minute: hh * 60 + mm,
            weekday,
            offset: None,
        }
    }

    #[test]
    fn ranges_include_their_end_minute_and_days_are_checked() {
        let w = Window::parse("07:00-08:30, 18:00-23:59", "Mon-Fri").unwrap();
        assert!(w.contains(&at(0, 7, 0)) && w.contains(&at(0, 8, 30)));
        assert!(!w.contains(&at(0, 8, 31)) && !w.contains(&at(0, 6, 59)));
        assert!(w.contains(&at(4, 23, 59)));
        assert!(!w.contains(&at(5, 7, 30)), "Saturday is not Mon-Fri");
    }

    #[test]
    fn a_range_across_midnight_belongs_to_the_day_it_starts() {
        let w = Window::parse("22:00-06:00", "Fri").unwrap();
        assert!(w.contains(&at(4, 22, 0)), "Friday night");
        assert!(
            w.contains(&at(5, 5, 59)),
            "Saturday morning, Friday's night"
        );
        assert!(
            !w.contains(&at(4, 5, 0)),
            "Friday morning is Thursday's night"
        );
        assert!(!w.contains(&at(5, 22, 0)), "Saturday night");
    }

    #[test]
    fn forbidden_hours_allow_every_other_minute_of_the_allowed_days() {
        let w = Window::parse("!08:00-18:00", "Mon-Fri").unwrap();
        assert!(w.contains(&at(1, 7, 59)) && w.contains(&at(1, 18, 1)));
        assert!(!w.contains(&at(1, 12, 0)) && !w.contains(&at(6, 3, 0)));
    }

    #[test]
    fn day_ranges_wrap_and_long_names_are_accepted() {
        let w = Window::parse("", "Fri-Mon").unwrap();
        let open: Vec<u8> = (0..7).filter(|d| w.contains(&at(*d, 12, 0))).collect();
        assert_eq!(open, [0, 4, 5, 6]);
        assert!(Window::parse("24:00-06:00", "").is_err());
        assert!(Window::parse("", "sunday").unwrap().contains(&at(6, 0, 0)));
    }

    #[test]
    fn bad_values_say_what_is_wrong_and_what_to_write() {
        for (hours, days, needle) in [
            ("7-8", "", "`7-8` is not a range of hours"),
            ("07:00-25:00", "", "`07:00-25:00`"),
            ("07:00-08:00,", "", "`` is not a range"),
            ("", "Mon-Fry", "`Mon-Fry` is not a day"),
        ] {
            let e = Window::parse(hours, days).unwrap_err();
            assert!(e.contains(needle), "{hours:?} {days:?}: {e}");
        }
    }
}
