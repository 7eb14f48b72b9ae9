//! ISO weeks in the org timezone.
//!
//! Every rollup is keyed by an ISO week, and METRICS.md defines a week as Monday 00:00 to
//! Monday 00:00 *in the org's timezone*, so one instant can belong to different weeks for two
//! orgs. The ISO week-numbering year differs from the calendar year around New Year
//! (2025-12-29 is 2026-W01, 2027-01-01 is 2026-W53), which is why the year always comes from
//! `iso_week().year()` and never from the date.

use std::fmt;
use std::str::FromStr;

use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// An ISO 8601 week (`YYYY-Www`), the bucket of every weekly rollup.
///
/// Field order matters: the derived `Ord` compares the year first, which is chronological.
/// The fields are public because a week is plain data; a hand-built week with `week` outside
/// `1..=weeks_in_year(year)` is not a real week, and the methods treat it arithmetically
/// (week 0 is the week before week 1) rather than panicking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IsoWeek {
    /// The ISO week-numbering year, which is not always the calendar year of the dates in it.
    pub year: i32,
    /// 1 to 52 or 53.
    pub week: u32,
}

/// Why a string is not a `YYYY-Www` week; the message goes into 400 answers as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid ISO week {input:?}: {reason}")]
pub struct ParseIsoWeekError {
    pub input: String,
    pub reason: String,
}

/// The calendar date of `instant` on the org's wall clock: what "day" means for deploy days and
/// for a query's inclusive `from`/`to`.
pub fn local_date(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// The week `instant` falls in on the org's wall clock: a Sunday 23:30 UTC deploy is already a
/// Monday in Berlin and belongs to the next week there.
pub fn iso_week(instant: DateTime<Utc>, tz: Tz) -> IsoWeek {
    IsoWeek::of_date(local_date(instant, tz))
}

/// The first instant of `date` in `tz`.
///
/// Midnight does not always exist exactly once: where a DST change happens at 00:00 the day
/// starts at the end of the gap (e.g. 01:00 in Havana on the spring change), and where midnight
/// repeats the earlier one is the start. Either way the day is the half-open range
/// `[start_of_day(d), start_of_day(d + 1))`, so no instant falls between two days.
pub fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => first_instant_at_or_after(midnight, tz),
    }
}

/// The earliest instant whose wall-clock time in `tz` is at or after `local`, for a `local`
/// that falls in a DST gap. UTC offsets lie within ±14 hours, so the answer lies within a day
/// either side of `local` read as UTC; a binary search over seconds finds the transition
/// without needing access to the zone's transition table.
fn first_instant_at_or_after(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let reached = |secs: i64| -> bool {
        DateTime::from_timestamp(secs, 0)
            .map(|t| t.with_timezone(&tz).naive_local() >= local)
            .unwrap_or(true)
    };
    let base = local.and_utc().timestamp();
    let (mut lo, mut hi) = (base - 86_400, base + 86_400); // !reached(lo), reached(hi)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reached(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The first calendar year an instant or a date may have. Rollups are keyed by `YYYY-Www`, and
/// a date before 1970 (`0000-01-01`, a typo or a zeroed field) is not a real event: at ingest
/// it is a 400, at read time too. 1970 is also where epoch-second timestamps start.
pub const MIN_YEAR: i32 = 1970;
/// The last calendar year an instant or a date may have: the key format has four digits.
pub const MAX_YEAR: i32 = 9999;

/// Whether `date` lies in the calendar years [`MIN_YEAR`]..=[`MAX_YEAR`]. Its ISO week does
/// too: 1970-01-01 is a Thursday (1970-W01) and 9999-12-31 a Friday (9999-W52).
pub fn is_supported_date(date: NaiveDate) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&date.year())
}

/// Whether `instant` lies in the UTC calendar years [`MIN_YEAR`]..=[`MAX_YEAR`]. Its ISO week
/// lies in 1970-W01..=9999-W52 in every timezone: an offset moves the local date by at most a
/// day, to 1969-12-31 (a Wednesday of 1970-W01) or 10000-01-01 (a Saturday of 9999-W52).
pub fn is_supported_instant(instant: DateTime<Utc>) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&instant.year())
}

/// How many weeks [`weeks_between`]`(from, to)` lists, computed without listing them, so that a
/// caller can refuse a huge period before allocating it (`from=-262143-01-01` to
/// `262143-12-31` would be 27 million weeks). 0 when `from > to`. Total over every date.
pub fn week_count(from: NaiveDate, to: NaiveDate) -> u64 {
    if from > to {
        return 0;
    }
    // Day numbers of the Mondays that start the two weeks, in i64: no date arithmetic that
    // could leave chrono's range at its ends.
    let monday = |d: NaiveDate| {
        i64::from(d.num_days_from_ce()) - i64::from(d.weekday().num_days_from_monday())
    };
    u64::try_from((monday(to) - monday(from)) / 7 + 1).unwrap_or(0)
}

/// [`weeks_between`]`(from, to)` when it lists at most `max` weeks, else `Err` with the number
/// it would list. The count comes first, so a request for thousands of years allocates nothing
/// (`shared/tests/week_allocation.rs` measures it).
pub fn weeks_at_most(from: NaiveDate, to: NaiveDate, max: usize) -> Result<Vec<IsoWeek>, u64> {
    let count = week_count(from, to);
    if count > max as u64 {
        return Err(count);
    }
    Ok(weeks_between(from, to))
}

/// Every week that has at least one day in `from..=to` (dates in the org timezone, both
/// inclusive as in the read API), oldest first; empty when `from > to`. Allocates one entry
/// per week: a caller taking the dates from a request checks [`week_count`] first.
pub fn weeks_between(from: NaiveDate, to: NaiveDate) -> Vec<IsoWeek> {
    let mut weeks = Vec::new();
    if from > to {
        return weeks;
    }
    let last = IsoWeek::of_date(to);
    let mut week = IsoWeek::of_date(from);
    while week <= last {
        weeks.push(week);
        week = week.next();
    }
    weeks
}

/// The last full ISO week before `now` on the org's wall clock: what the Monday digest reports
/// and where the default read period ends.
pub fn last_full_week(now: DateTime<Utc>, tz: Tz) -> IsoWeek {
    iso_week(now, tz).prev()
}

/// The `count` weeks ending with `last` (included), oldest first: a report's trend window.
pub fn weeks_ending(last: IsoWeek, count: usize) -> Vec<IsoWeek> {
    let mut weeks: Vec<IsoWeek> = std::iter::successors(Some(last), |w| Some(w.prev()))
        .take(count)
        .collect();
    weeks.reverse();
    weeks
}

/// A read period widened to whole ISO weeks, because rollups are weekly: never empty, and
/// never longer than the limit it was made with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeekWindow {
    weeks: Vec<IsoWeek>,
}

/// Why dates do not make a [`WeekWindow`]; the message goes into 400 answers as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("`from` ({from}) is after `to` ({to})")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("the period spans {spanned} weeks; at most {max} per query")]
    TooLong { spanned: u64, max: usize },
    #[error("empty period")]
    Empty,
}

impl WeekWindow {
    /// The weeks touching `from..=to` (both inclusive), at most `max` of them. The span is
    /// counted before the weeks are listed: a period of thousands of years is refused without
    /// allocating a list of its weeks.
    pub fn between(from: NaiveDate, to: NaiveDate, max: usize) -> Result<WeekWindow, WindowError> {
        if from > to {
            return Err(WindowError::Reversed { from, to });
        }
        let weeks = weeks_at_most(from, to, max)
            .map_err(|spanned| WindowError::TooLong { spanned, max })?;
        WeekWindow::of(weeks)
    }

    /// The `count` full weeks before the week of `now` in `tz`, oldest first.
    pub fn last_full(now: DateTime<Utc>, tz: Tz, count: usize) -> Result<WeekWindow, WindowError> {
        WeekWindow::of(weeks_ending(last_full_week(now, tz), count))
    }

    /// The `count` weeks ending with `last`.
    pub fn ending(last: IsoWeek, count: usize) -> Result<WeekWindow, WindowError> {
        WeekWindow::of(weeks_ending(last, count))
    }

    fn of(weeks: Vec<IsoWeek>) -> Result<WeekWindow, WindowError> {
        if weeks.is_empty() {
            return Err(WindowError::Empty);
        }
        Ok(WeekWindow { weeks })
    }

    /// Oldest first.
    pub fn weeks(&self) -> &[IsoWeek] {
        &self.weeks
    }

    pub fn first(&self) -> IsoWeek {
        self.weeks[0]
    }

    pub fn last(&self) -> IsoWeek {
        self.weeks[self.weeks.len() - 1]
    }

    /// The Monday the window starts on.
    pub fn from_date(&self) -> NaiveDate {
        self.first().monday_date()
    }

    /// The Sunday the window ends on.
    pub fn to_date(&self) -> NaiveDate {
        self.last().sunday_date()
    }
}

impl IsoWeek {
    /// A checked constructor, for callers that build weeks from numbers they did not parse.
    pub fn new(year: i32, week: u32) -> Option<IsoWeek> {
        (1..=IsoWeek::weeks_in_year(year))
            .contains(&week)
            .then_some(IsoWeek { year, week })
    }

    pub fn of_date(date: NaiveDate) -> IsoWeek {
        let w = date.iso_week();
        IsoWeek {
            year: w.year(),
            week: w.week(),
        }
    }

    /// 52 or 53. Computed arithmetically (a year has 53 weeks when it starts on a Thursday, or
    /// on a Wednesday in a leap year) so that it is total over every `i32`.
    pub fn weeks_in_year(year: i32) -> u32 {
        // Weekday of 31 December of `y`, 0 = Sunday … 4 = Thursday (Gregorian, proleptic).
        fn dec31_weekday(y: i64) -> i64 {
            (y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)).rem_euclid(7)
        }
        let y = i64::from(year);
        if dec31_weekday(y) == 4 || dec31_weekday(y - 1) == 3 {
            53
        } else {
            52
        }
    }

    /// The Monday of this week as a date.
    pub fn monday_date(self) -> NaiveDate {
        let saturated = if self.year < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        };
        // 4 January is always in week 1.
        let Some(jan4) = NaiveDate::from_ymd_opt(self.year, 1, 4) else {
            return saturated;
        };
        // Checked: the Monday before 4 January of chrono's first year lies before its range.
        jan4.checked_sub_signed(Duration::days(i64::from(
            jan4.weekday().num_days_from_monday(),
        )))
        .and_then(|week1| week1.checked_add_signed(Duration::weeks(i64::from(self.week) - 1)))
        .unwrap_or(saturated)
    }

    /// The Sunday that ends this week, for rendering and for inclusive date ranges.
    pub fn sunday_date(self) -> NaiveDate {
        self.monday_date()
            .checked_add_signed(Duration::days(6))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The instant this week starts in `tz` (see [`start_of_day`] for DST at midnight). The
    /// week ends where `self.next().monday(tz)` starts, so weeks tile time without overlap.
    pub fn monday(self, tz: Tz) -> DateTime<Utc> {
        start_of_day(self.monday_date(), tz)
    }

    pub fn next(self) -> IsoWeek {
        if self.week >= IsoWeek::weeks_in_year(self.year) {
            IsoWeek {
                year: self.year.saturating_add(1),
                week: 1,
            }
        } else {
            IsoWeek {
                year: self.year,
                week: self.week + 1,
            }
        }
    }

    pub fn prev(self) -> IsoWeek {
        let last = IsoWeek::weeks_in_year(self.year);
        if self.week <= 1 {
            let year = self.year.saturating_sub(1);
            IsoWeek {
                year,
                week: IsoWeek::weeks_in_year(year),
            }
        } else if self.week > last {
            IsoWeek {
                year: self.year,
                week: last,
            }
        } else {
            IsoWeek {
                year: self.year,
                week: self.week - 1,
            }
        }
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

impl FromStr for IsoWeek {
    type Err = ParseIsoWeekError;

    /// Strict `YYYY-Www` (four-digit year, upper-case `W`, two-digit week), the only form the
    /// API documents; accepting variants would let two spellings name one rollup.
    fn from_str(s: &str) -> Result<IsoWeek, ParseIsoWeekError> {
        let err = |reason: &str| ParseIsoWeekError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let b = s.as_bytes();
        let shape_ok = b.len() == 8
            && b[..4].iter().all(u8::is_ascii_digit)
            && &b[4..6] == b"-W"
            && b[6..].iter().all(u8::is_ascii_digit);
        if !shape_ok {
            return Err(err("expected YYYY-Www, e.g. 2026-W01"));
        }
        let year: i32 = s[..4]
            .parse()
            .map_err(|_| err("expected a four-digit year"))?;
        let week: u32 = s[6..]
            .parse()
            .map_err(|_| err("expected a two-digit week"))?;
        let max = IsoWeek::weeks_in_year(year);
        if week == 0 || week > max {
            return Err(err(&format!("week must be between 01 and {max} in {year}")));
        }
        Ok(IsoWeek { year, week })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Europe, Tz};
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid RFC 3339 in test")
            .with_timezone(&Utc)
    }

    fn week(y: i32, w: u32) -> IsoWeek {
        IsoWeek::new(y, w).expect("valid test week")
    }

    #[test]
    fn iso_year_differs_from_calendar_year_at_new_year() {
        assert_eq!(IsoWeek::of_date(date(2025, 12, 29)), week(2026, 1));
        assert_eq!(IsoWeek::of_date(date(2027, 1, 1)), week(2026, 53));
        assert_eq!(
            iso_week(utc("2025-12-29T00:00:00Z"), Tz::UTC).to_string(),
            "2026-W01"
        );
        assert_eq!(
            iso_week(utc("2027-01-01T12:00:00Z"), Tz::UTC).to_string(),
            "2026-W53"
        );
        assert_eq!(IsoWeek::weeks_in_year(2026), 53);
        assert_eq!(IsoWeek::weeks_in_year(2025), 52);
        assert_eq!(IsoWeek::weeks_in_year(2020), 53); // leap year starting on a Wednesday
    }

    #[test]
    fn sunday_night_utc_is_monday_in_berlin() {
        let t = utc("2026-10-11T23:30:00Z"); // Sunday in UTC
        assert_eq!(local_date(t, Tz::UTC), date(2026, 10, 11));
        assert_eq!(local_date(t, Europe::Berlin), date(2026, 10, 12));
        assert_eq!(iso_week(t, Tz::UTC), week(2026, 41));
        assert_eq!(iso_week(t, Europe::Berlin), week(2026, 42));
        assert_eq!(
            week(2026, 42).monday(Europe::Berlin),
            utc("2026-10-11T22:00:00Z")
        );
    }

    #[test]
    fn weeks_around_dst_changes_in_berlin() {
        // A week's Monday and the next, in Berlin, and how many hours lie between them.
        let starts_and_lasts = |w: IsoWeek, monday: &str, next: &str, hours: i64| {
            assert_eq!(w.monday(Europe::Berlin), utc(monday));
            assert_eq!(w.next().monday(Europe::Berlin), utc(next));
            assert_eq!(
                w.next().monday(Europe::Berlin) - w.monday(Europe::Berlin),
                Duration::hours(hours)
            );
        };
        // Clocks go forward on Sunday 2026-03-29: that week is 167 hours long.
        let w = week(2026, 13);
        starts_and_lasts(w, "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z", 167);
        // Clocks go back on Sunday 2026-10-25: that week is 169 hours long.
        let w = week(2026, 43);
        starts_and_lasts(w, "2026-10-18T22:00:00Z", "2026-10-25T23:00:00Z", 169);
        // The hour before the new week starts belongs to the old week.
        assert_eq!(iso_week(utc("2026-10-25T22:59:59Z"), Europe::Berlin), w);
        assert_eq!(
            iso_week(utc("2026-10-25T23:00:00Z"), Europe::Berlin),
            w.next()
        );
    }

    #[test]
    fn midnight_in_a_dst_gap_starts_the_day_at_the_end_of_the_gap() {
        // Cuba springs forward at 00:00 on 2026-03-08: the day starts at 01:00 CDT.
        assert_eq!(
            start_of_day(date(2026, 3, 8), America::Havana),
            utc("2026-03-08T05:00:00Z")
        );
        // And falls back at 01:00 to 00:00 on 2026-11-01: midnight is the earlier one.
        assert_eq!(
            start_of_day(date(2026, 11, 1), America::Havana),
            utc("2026-11-01T04:00:00Z")
        );
    }

    #[test]
    fn display_and_parse() {
        assert_eq!(week(2026, 1).to_string(), "2026-W01");
        assert_eq!("2026-W53".parse::<IsoWeek>(), Ok(week(2026, 53)));
        assert_eq!("0999-W07".parse::<IsoWeek>(), Ok(week(999, 7)));
        for bad in [
            "2026-W00",
            "2025-W53",
            "2026-W54",
            "2026W01",
            "2026-w01",
            "26-W01",
            "2026-W1",
            "",
            "2026-W01 ",
            "+026-W01",
            "2026-W+1",
        ] {
            assert!(bad.parse::<IsoWeek>().is_err(), "{bad} should not parse");
        }
        let e = "2025-W53"
            .parse::<IsoWeek>()
            .expect_err("2025 has 52 weeks");
        assert!(e.to_string().contains("between 01 and 52"), "{e}");
    }

    #[test]
    fn next_and_prev_cross_years() {
        assert_eq!(week(2026, 53).next(), week(2027, 1));
        assert_eq!(week(2025, 52).next(), week(2026, 1));
        assert_eq!(week(2027, 1).prev(), week(2026, 53));
        assert_eq!(week(2026, 1).prev(), week(2025, 52));
        assert_eq!(week(2026, 10).next().prev(), week(2026, 10));
    }

    #[test]
    fn weeks_between_is_inclusive() {
        let weeks = weeks_between(date(2025, 12, 28), date(2026, 1, 5));
        assert_eq!(weeks, vec![week(2025, 52), week(2026, 1), week(2026, 2)]);
        assert_eq!(
            weeks_between(date(2026, 10, 12), date(2026, 10, 12)),
            vec![week(2026, 42)]
        );
        assert!(weeks_between(date(2026, 10, 13), date(2026, 10, 12)).is_empty());
        assert_eq!(
            weeks_between(date(2026, 1, 1), date(2026, 12, 31)).len(),
            53
        );
    }

    #[test]
    fn weeks_at_the_ends_of_chronos_range_do_not_panic() {
        // 4 January of chrono's first year is a weekday after Monday, so the Monday of its
        // week 1 lies before NaiveDate::MIN: saturated to MIN, not an overflow panic.
        let first = IsoWeek::of_date(NaiveDate::MIN);
        assert_eq!(first.monday_date(), NaiveDate::MIN);
        let week1 = IsoWeek {
            year: NaiveDate::MIN.year(),
            week: 1,
        };
        assert_eq!(week1.monday_date(), NaiveDate::MIN);
        assert!(week1.sunday_date() >= NaiveDate::MIN);
        let last = IsoWeek::of_date(NaiveDate::MAX);
        assert_eq!(last.sunday_date(), NaiveDate::MAX);
        // A period at the lowest date is listed without a panic.
        let nine_days = NaiveDate::MIN + Duration::days(8);
        assert!(!weeks_between(NaiveDate::MIN, nine_days).is_empty());
    }

    #[test]
    fn week_count_is_the_length_of_weeks_between() {
        // 2025-12-28 (Sun, 2025-W52) .. 2026-01-05 (Mon, 2026-W02): W52, W01, W02 = 3.
        assert_eq!(week_count(date(2025, 12, 28), date(2026, 1, 5)), 3);
        assert_eq!(week_count(date(2026, 10, 12), date(2026, 10, 12)), 1);
        assert_eq!(week_count(date(2026, 10, 13), date(2026, 10, 12)), 0);
        // 2026 has 53 ISO weeks, all touched by 1 Jan (Thu, W01) .. 31 Dec (Thu, W53).
        assert_eq!(week_count(date(2026, 1, 1), date(2026, 12, 31)), 53);
        // chrono's whole range, about 27.4 million weeks: counted, not listed. Dates d days
        // apart touch d / 7 + 1 weeks, or one more when the end falls earlier in its week
        // than the start (Sunday to Monday 8 days later: 3 weeks).
        let days = (NaiveDate::MAX - NaiveDate::MIN).num_days() as u64;
        let all = week_count(NaiveDate::MIN, NaiveDate::MAX);
        assert!(
            all == days / 7 + 1 || all == days / 7 + 2,
            "{all} for {days} days"
        );
        assert!(all > 27_000_000, "{all}");
    }

    #[test]
    fn supported_years_are_1970_to_9999() {
        assert!(is_supported_date(date(1970, 1, 1)));
        assert!(is_supported_date(date(9999, 12, 31)));
        assert!(!is_supported_date(date(1969, 12, 31)));
        assert!(!is_supported_date(date(0, 1, 1)));
        assert!(!is_supported_date(date(10000, 1, 1)));
        assert!(is_supported_instant(utc("1970-01-01T00:00:00Z")));
        assert!(is_supported_instant(utc("9999-12-31T23:59:59Z")));
        assert!(!is_supported_instant(utc("1969-12-31T23:59:59Z")));
        assert!(!is_supported_instant(utc("0000-01-01T00:00:00Z")));
        // The ISO weeks of the bounds, in the zones furthest from UTC, stay in range.
        for tz in [chrono_tz::Etc::GMTPlus12, chrono_tz::Pacific::Kiritimati] {
            let low = iso_week(utc("1970-01-01T00:00:00Z"), tz);
            let high = iso_week(utc("9999-12-31T23:59:59Z"), tz);
            assert_eq!((low.year, high.year), (1970, 9999), "{tz}");
        }
    }

    #[test]
    fn serde_is_plain_data() {
        let json = serde_json::to_string(&week(2026, 1)).expect("serialize");
        assert_eq!(json, r#"{"year":2026,"week":1}"#);
        let back: IsoWeek = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, week(2026, 1));
    }

    const ZONES: &[Tz] = &[
        Tz::UTC,
        Europe::Berlin,
        America::New_York,
        America::Havana,
        America::Sao_Paulo,
        America::Santiago,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Asia::Beirut,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Pacific::Chatham,
        chrono_tz::Pacific::Kiritimati,
        chrono_tz::Pacific::Pago_Pago,
    ];

    proptest! {
        #[test]
        fn an_instant_lies_in_its_week(
            secs in 0i64..4_102_444_800, // 1970 to 2100
            zone in 0..ZONES.len(),
        ) {
            let tz = ZONES[zone];
            let t = DateTime::from_timestamp(secs, 0).expect("in range");
            let w = iso_week(t, tz);
            prop_assert!(w.monday(tz) <= t, "{w} starts {} after {t}", w.monday(tz));
            prop_assert!(t < w.next().monday(tz), "{w} ends {} before {t}", w.next().monday(tz));
            prop_assert_eq!(w.next().prev(), w);
        }

        #[test]
        fn week_count_counts_what_weeks_between_lists(
            start in 0i64..800_000,
            len in -10i64..3_000,
        ) {
            let from = date(1, 1, 1) + Duration::days(start);
            let to = from + Duration::days(len);
            prop_assert_eq!(week_count(from, to), weeks_between(from, to).len() as u64);
        }

        #[test]
        fn display_parse_round_trip(days in 0i64..3_650_000) {
            let d = date(1, 1, 1) + Duration::days(days);
            let w = IsoWeek::of_date(d);
            prop_assume!((1..=9999).contains(&w.year));
            prop_assert_eq!(w.to_string().parse::<IsoWeek>(), Ok(w));
            prop_assert!(w.monday_date() <= d && d <= w.sunday_date());
            prop_assert_eq!(IsoWeek::of_date(w.monday_date()), w);
        }
    }

    #[test]
    fn the_last_full_week_is_the_one_before_now_on_the_org_wall_clock() {
        // given Sunday 23:30 UTC, already Monday in Berlin
        let now = utc("2026-11-22T23:30:00Z");
        // when / then
        assert_eq!(last_full_week(now, Europe::Berlin).to_string(), "2026-W47");
        assert_eq!(last_full_week(now, Tz::UTC).to_string(), "2026-W46");
    }

    #[test]
    fn weeks_ending_a_week_are_listed_oldest_first_across_a_year_end() {
        // given the first week of 2026
        let last: IsoWeek = "2026-W01".parse().expect("week");
        // when
        let weeks = weeks_ending(last, 3);
        // then
        let shown: Vec<String> = weeks.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["2025-W51", "2025-W52", "2026-W01"]);
    }

    #[test]
    fn a_window_between_dates_is_widened_to_whole_weeks() {
        // given a Wednesday and the Thursday of the next week
        // when
        let window =
            WeekWindow::between(date(2026, 10, 7), date(2026, 10, 15), 156).expect("window");
        // then
        assert_eq!(window.weeks().len(), 2);
        assert_eq!(window.from_date(), date(2026, 10, 5));
        assert_eq!(window.to_date(), date(2026, 10, 18));
    }

    #[test]
    fn a_window_is_refused_when_reversed_or_longer_than_its_limit() {
        // given / when / then
        assert_eq!(
            WeekWindow::between(date(2026, 10, 20), date(2026, 10, 1), 156)
                .map_err(|e| e.to_string()),
            Err("`from` (2026-10-20) is after `to` (2026-10-01)".to_string())
        );
        assert_eq!(
            WeekWindow::between(date(2024, 1, 1), date(2026, 12, 28), 156),
            Err(WindowError::TooLong {
                spanned: 157,
                max: 156
            })
        );
        assert_eq!(
            WeekWindow::ending("2026-W01".parse().expect("week"), 0),
            Err(WindowError::Empty)
        );
    }

    #[test]
    fn the_last_full_weeks_end_with_the_week_before_now() {
        // given Monday 2026-11-23 08:00 UTC (09:00 in Berlin)
        // when
        let window =
            WeekWindow::last_full(utc("2026-11-23T08:00:00Z"), Europe::Berlin, 4).expect("window");
        // then
        assert_eq!(window.first().to_string(), "2026-W44");
        assert_eq!(window.last().to_string(), "2026-W47");
    }
}
