//! Time in the simulated org: working hours in its timezone, weeks of the history, and the
//! struggling team's bad weeks.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};

use super::World;
use crate::spec::TIMEZONE;

/// Whole seconds: webhook payloads carry second-precision times, so the ground truth must too.
pub(super) fn minutes(m: f64) -> Duration {
    Duration::seconds((m * 60.0).round() as i64)
}

pub(super) fn hours(h: f64) -> Duration {
    minutes(h * 60.0)
}

pub(super) fn local_at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let naive = date.and_hms_opt(hour, minute, 0).unwrap_or_default();
    match TIMEZONE.from_local_datetime(&naive).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // Inside a DST gap: an hour later exists.
        None => Utc.from_utc_datetime(&naive) - Duration::hours(1),
    }
}

pub(super) fn is_weekend(day: Weekday) -> bool {
    matches!(day, Weekday::Sat | Weekday::Sun)
}

pub(super) fn next_working_day(date: NaiveDate) -> NaiveDate {
    let mut d = date.succ_opt().unwrap_or(date);
    while is_weekend(d.weekday()) {
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

impl World {
    /// Moves an instant that falls outside working hours to the next working morning, most of
    /// the time (some people do work late or on a Sunday).
    pub(super) fn snap(&mut self, t: DateTime<Utc>) -> DateTime<Utc> {
        let local = t.with_timezone(&TIMEZONE);
        let date = local.date_naive();
        let hour = local.hour();
        let morning = |w: &mut World, d: NaiveDate| {
            let m = w.rng.range(0, 110) as u32;
            local_at(d, 8 + (30 + m) / 60, (30 + m) % 60)
        };
        if is_weekend(local.weekday()) {
            if self.rng.chance(0.93) {
                let d = next_working_day(date);
                return morning(self, d);
            }
        } else if hour < 8 {
            if self.rng.chance(0.85) {
                return morning(self, date);
            }
        } else if hour >= 19 && self.rng.chance(0.85) {
            let d = next_working_day(date);
            return morning(self, d);
        }
        t
    }

    fn week_index(&self, t: DateTime<Utc>) -> i64 {
        (t - self.start).num_days().div_euclid(7)
    }

    /// 0 outside the struggle; 1, 2, 3 in the last three weeks for the struggling team.
    pub(super) fn struggle(&self, team: &str, t: DateTime<Utc>) -> u32 {
        if team != self.struggling {
            return 0;
        }
        let from_end = i64::from(self.weeks) - self.week_index(t);
        match from_end {
            1 => 3,
            2 => 2,
            3 => 1,
            _ => 0,
        }
    }
}
