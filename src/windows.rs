//! Reporting windows and the company's calendar.
//!
//! Gong interprets `fromDate`/`toDate` as calendar days in the company's time
//! zone, so every window is computed from "today" in that zone, never in UTC
//! or the host's zone.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

const SECONDS_PER_DAY: u64 = 86_400;

/// A rolling window of whole days ending at the start of today (exclusive).
/// Ordered by length, so sorted windows go smallest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    days: u32,
}

impl Window {
    /// One day: yesterday, and the span of a query for a range of days.
    pub const ONE_DAY: Window = Window { days: 1 };

    /// A window of `days` whole days; `days` must be at least one.
    pub fn from_days(days: u32) -> Option<Self> {
        (days > 0).then_some(Self { days })
    }

    /// Number of whole days in the window.
    pub fn days(&self) -> u32 {
        self.days
    }

    /// The `window` label value, e.g. `1d` or `28d`.
    pub fn label(&self) -> String {
        format!("{}d", self.days)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}d", self.days)
    }
}

impl FromStr for Window {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let duration = humantime::parse_duration(s.trim())
            .map_err(|e| format!("'{s}' is not a duration ({e}); use e.g. 1d, 7d, 28d"))?;
        window_from_duration(duration)
            .ok_or_else(|| format!("'{s}' is not a whole number of days; windows are calendar days, e.g. 1d, 7d"))
    }
}

fn window_from_duration(duration: Duration) -> Option<Window> {
    if duration.subsec_nanos() != 0 || !duration.as_secs().is_multiple_of(SECONDS_PER_DAY) {
        return None;
    }
    let days = u32::try_from(duration.as_secs() / SECONDS_PER_DAY).ok()?;
    Window::from_days(days)
}

/// A window resolved against a concrete "today" in the company's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowBounds {
    /// The window these bounds belong to.
    pub window: Window,
    /// First day in the window (inclusive), Gong's `fromDate`.
    pub from: Date,
    /// Day after the last day (exclusive), Gong's `toDate`: today.
    pub to: Date,
    /// Instant the window starts: midnight of `from` in the company's zone.
    pub start: Timestamp,
    /// Instant the window ends: midnight of `to` in the company's zone.
    pub end: Timestamp,
}

impl WindowBounds {
    /// Whether `day` (a company-calendar date) falls inside the window.
    pub fn contains(&self, day: Date) -> bool {
        self.from <= day && day < self.to
    }
}

/// The days of `[from, to)`.
pub fn days_of(from: Date, to: Date) -> impl Iterator<Item = Date> {
    std::iter::successors(Some(from), |d| d.tomorrow().ok()).take_while(move |d| *d < to)
}

/// The company's calendar date at `now`.
pub fn company_date(now: Timestamp, tz: &TimeZone) -> Date {
    now.to_zoned(tz.clone()).date()
}

/// The instant a company-calendar day starts. Midnight does not exist on
/// some DST days (e.g. Havana, Santiago), so this is the first instant of the
/// day, not a naive 00:00.
pub fn start_of_day(day: Date, tz: &TimeZone) -> Timestamp {
    day.to_zoned(tz.clone())
        .and_then(|zoned| zoned.start_of_day())
        .map(|zoned| zoned.timestamp())
        // Only reachable for dates at the edge of jiff's supported range.
        .unwrap_or(Timestamp::MAX)
}

/// Bounds of `window` when the company's today is `today`.
pub fn window_bounds(window: &Window, today: Date, tz: &TimeZone) -> WindowBounds {
    let from = today.checked_sub(i64::from(window.days()).days()).unwrap_or(Date::MIN);
    WindowBounds { window: *window, from, to: today, start: start_of_day(from, tz), end: start_of_day(today, tz) }
}

/// Bounds of every window for the company's today at `now`.
pub fn all_window_bounds(windows: &[Window], now: Timestamp, tz: &TimeZone) -> Vec<WindowBounds> {
    let today = company_date(now, tz);
    windows.iter().map(|w| window_bounds(w, today, tz)).collect()
}

/// The next start of a company day strictly after `now`.
pub fn next_company_midnight(now: Timestamp, tz: &TimeZone) -> Timestamp {
    let today = company_date(now, tz);
    start_of_day(today.tomorrow().unwrap_or(Date::MAX), tz)
}

/// An instant as ISO-8601 with the company's offset and no zone name, e.g.
/// `2024-11-01T00:00:00-07:00`: how Gong writes and reads instants.
pub fn iso_instant(t: Timestamp, tz: &TimeZone) -> String {
    jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%S%:z", &t.to_zoned(tz.clone())).unwrap_or_else(|_| t.to_string())
}

/// UTC-12, the zone furthest behind UTC: its calendar date is never ahead
/// of any company's, so dates taken from it are never "in the future" for
/// Gong, whatever the company's zone turns out to be.
pub fn zone_behind_all() -> TimeZone {
    TimeZone::fixed(jiff::tz::offset(-12))
}

/// Parses an IANA zone name, including the legacy aliases Gong returns
/// (`US/Pacific`), against the tz database compiled into the binary.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name)
        .map_err(|_| format!("unknown time zone '{name}': use an IANA name such as America/New_York or Europe/Berlin"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_whole_day_windows() {
        assert_eq!("1d".parse::<Window>().unwrap().label(), "1d");
        assert_eq!("7d".parse::<Window>().unwrap().days(), 7);
        assert_eq!("24h".parse::<Window>().unwrap().label(), "1d");
        assert_eq!("4w".parse::<Window>().unwrap().label(), "28d");
    }

    #[test]
    fn rejects_partial_days_and_garbage() {
        for bad in ["12h", "1d 1s", "0d", "0s", "seven days", ""] {
            assert!(bad.parse::<Window>().is_err(), "{bad} should be rejected");
        }
        let err = "36h".parse::<Window>().unwrap_err();
        assert!(err.contains("whole number of days"), "{err}");
    }

    #[test]
    fn yesterday_east_of_utc_is_ahead_of_utc() {
        // 20:00 UTC on June 1st is already June 2nd in Tokyo.
        let tz = parse_time_zone("Asia/Tokyo").unwrap();
        let now = ts("2024-06-01T20:00:00Z");
        let b = window_bounds(&Window::from_days(1).unwrap(), company_date(now, &tz), &tz);
        assert_eq!((b.from, b.to), (date(2024, 6, 1), date(2024, 6, 2)));
        assert_eq!(b.start, ts("2024-05-31T15:00:00Z"));
        assert_eq!(b.end, ts("2024-06-01T15:00:00Z"));
    }

    #[test]
    fn yesterday_west_of_utc_is_behind_utc() {
        // 05:00 UTC on June 1st is still May 31st in Honolulu (UTC-10).
        let tz = parse_time_zone("Pacific/Honolulu").unwrap();
        let now = ts("2024-06-01T05:00:00Z");
        let b = window_bounds(&Window::from_days(1).unwrap(), company_date(now, &tz), &tz);
        assert_eq!((b.from, b.to), (date(2024, 5, 30), date(2024, 5, 31)));
        assert_eq!(b.start, ts("2024-05-30T10:00:00Z"));
    }

    #[test]
    fn spring_forward_day_is_23_hours_and_fall_back_day_25() {
        let tz = parse_time_zone("America/New_York").unwrap();
        let one_day = Window::from_days(1).unwrap();
        let spring = window_bounds(&one_day, date(2024, 3, 11), &tz);
        assert_eq!(spring.end.as_second() - spring.start.as_second(), 23 * 3600);
        let fall = window_bounds(&one_day, date(2024, 11, 4), &tz);
        assert_eq!(fall.end.as_second() - fall.start.as_second(), 25 * 3600);
    }

    #[test]
    fn seven_day_window_across_dst_change_uses_local_midnights() {
        let tz = parse_time_zone("US/Pacific").unwrap();
        let b = window_bounds(&Window::from_days(7).unwrap(), date(2024, 11, 6), &tz);
        assert_eq!(b.from, date(2024, 10, 30));
        assert_eq!(b.start, ts("2024-10-30T07:00:00Z"));
        assert_eq!(b.end, ts("2024-11-06T08:00:00Z"));
    }

    #[test]
    fn day_without_midnight_starts_at_first_valid_instant() {
        // Havana skipped 00:00-01:00 on 2024-03-10.
        let tz = parse_time_zone("America/Havana").unwrap();
        assert_eq!(start_of_day(date(2024, 3, 10), &tz), ts("2024-03-10T05:00:00Z"));
    }

    #[test]
    fn next_midnight_is_in_company_zone() {
        let tz = parse_time_zone("Europe/Berlin").unwrap();
        assert_eq!(next_company_midnight(ts("2024-07-01T21:59:00Z"), &tz), ts("2024-07-01T22:00:00Z"));
        assert_eq!(next_company_midnight(ts("2024-07-01T22:00:00Z"), &tz), ts("2024-07-02T22:00:00Z"));
    }

    #[test]
    fn contains_is_half_open() {
        let tz = TimeZone::UTC;
        let b = window_bounds(&Window::from_days(7).unwrap(), date(2024, 1, 8), &tz);
        assert!(b.contains(date(2024, 1, 1)));
        assert!(b.contains(date(2024, 1, 7)));
        assert!(!b.contains(date(2024, 1, 8)));
        assert!(!b.contains(date(2023, 12, 31)));
    }

    #[test]
    fn unknown_zone_is_a_clear_error() {
        let err = parse_time_zone("Mars/Olympus").unwrap_err();
        assert!(err.contains("Mars/Olympus") && err.contains("IANA"), "{err}");
        assert!(parse_time_zone("US/Pacific").is_ok());
    }
}
