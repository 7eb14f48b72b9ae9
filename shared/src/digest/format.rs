//! How the digest writes numbers for people: durations (`45 min`, `6 h`, `2.1 d`), percentages,
//! counts, changes against the previous week (`▲ 2 (from 5)`), dates and times in the org
//! timezone, and the text hygiene every renderer needs (truncation on character boundaries,
//! HTML escaping, which URLs may become links). All three renderers use these, so a number reads
//! the same in Slack, email and Teams.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::metrics::levels::DoraLevel;
use crate::time::IsoWeek;

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;

/// Which way a number moved against the previous week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Up,
    Down,
    /// Equal as displayed (a move too small to show is no change).
    Same,
}

/// A duration in the largest unit that keeps it short: `45 s`, `45 min`, `6 h`, `2.5 h`,
/// `2.1 d`, `12 d`. Below 10 of a unit one decimal is kept (dropped when it is `.0`); from 10
/// on the number is whole. Rounding happens before the unit is chosen, so 59.6 minutes is
/// `1 h`, never `60 min`. Negative input reads as 0; a non-finite one as `n/a`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "n/a".to_string();
    }
    let s = seconds.max(0.0);
    if s.round() < MINUTE {
        return format!("{} s", s.round());
    }
    let minutes = (s / MINUTE).round();
    if minutes < 60.0 {
        return format!("{minutes} min");
    }
    let hours = short_number(s / HOUR);
    if hours.0 < 24.0 {
        return format!("{} h", hours.1);
    }
    format!("{} d", short_number(s / DAY).1)
}

/// `x` rounded to one decimal below 10 and to a whole number from 10 on, with its text
/// (`2.1`, `6`, `14`).
fn short_number(x: f64) -> (f64, String) {
    let one_decimal = (x * 10.0).round() / 10.0;
    if one_decimal < 10.0 {
        if one_decimal.fract() == 0.0 {
            (one_decimal, format!("{one_decimal:.0}"))
        } else {
            (one_decimal, format!("{one_decimal:.1}"))
        }
    } else {
        let whole = x.round();
        (whole, format!("{whole:.0}"))
    }
}

/// A fraction in `[0, 1]` as a whole percentage: `0%`, `<1%`, `20%`, `>99%`, `100%`. Values
/// that would round to 0 or 100 without being exactly that say so instead of hiding it.
pub fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "n/a".to_string();
    }
    let p = fraction * 100.0;
    if p <= 0.0 {
        "0%".to_string()
    } else if p < 1.0 {
        "<1%".to_string()
    } else if p > 99.0 && p < 100.0 {
        ">99%".to_string()
    } else {
        format!("{:.0}%", p.round())
    }
}

/// A count or a median of counts: whole numbers as such, others with one decimal (`11.5`).
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    let one_decimal = (x * 10.0).round() / 10.0;
    if one_decimal.fract() == 0.0 {
        format!("{one_decimal:.0}")
    } else {
        format!("{one_decimal:.1}")
    }
}

/// `1 PR`, `3 PRs`.
pub fn plural(n: u64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("{n} {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// The DORA level's name as the digest prints it (`elite`, `high`, `medium`, `low`).
pub fn level(level: DoraLevel) -> &'static str {
    level.as_str()
}

fn arrow(trend: Trend) -> &'static str {
    match trend {
        Trend::Up => "▲",
        Trend::Down => "▼",
        Trend::Same => "",
    }
}

fn trend_of(difference: f64) -> Trend {
    if difference > 0.0 {
        Trend::Up
    } else if difference < 0.0 {
        Trend::Down
    } else {
        Trend::Same
    }
}

/// The change of a count: `▲ 2 (from 5)`, `▼ 3 (from 5)`, `no change`.
pub fn count_change(current: f64, previous: f64) -> (Trend, String) {
    change_written_by(number, current, previous)
}

/// The change of a duration: `▼ 3.1 h (from 9.2 h)`; `no change` when both read the same.
pub fn duration_change(current: f64, previous: f64) -> (Trend, String) {
    change_written_by(duration, current, previous)
}

/// The change between two values that `write` writes: the arrow, the difference and the
/// previous value; `no change` when both read the same.
fn change_written_by(write: fn(f64) -> String, current: f64, previous: f64) -> (Trend, String) {
    if write(current) == write(previous) {
        return (Trend::Same, "no change".to_string());
    }
    let trend = trend_of(current - previous);
    let text = format!(
        "{} {} (from {})",
        arrow(trend),
        write((current - previous).abs()),
        write(previous)
    );
    (trend, text)
}

/// The change of a rate, in percentage points: `▲ 5 pts (from 10%)`, `▼ 1 pt (from 3%)`;
/// `no change` when the move is under half a point.
pub fn percent_change(current: f64, previous: f64) -> (Trend, String) {
    let points = ((current - previous) * 100.0).round();
    if points == 0.0 {
        return (Trend::Same, "no change".to_string());
    }
    let trend = trend_of(points);
    let magnitude = points.abs();
    let unit = if magnitude == 1.0 { "pt" } else { "pts" };
    let text = format!(
        "{} {magnitude:.0} {unit} (from {})",
        arrow(trend),
        percent(previous)
    );
    (trend, text)
}

/// The dates of an ISO week: `12–18 Oct 2026`, `28 Sep – 4 Oct 2026`,
/// `29 Dec 2025 – 4 Jan 2026`.
pub fn week_dates(week: IsoWeek) -> String {
    date_range(week.monday_date(), week.sunday_date())
}

/// An inclusive date range, sharing the month and year where they are equal.
pub fn date_range(from: NaiveDate, to: NaiveDate) -> String {
    if from.year() != to.year() {
        format!("{} – {}", from.format("%-d %b %Y"), to.format("%-d %b %Y"))
    } else if from.month() != to.month() {
        format!("{} – {}", from.format("%-d %b"), to.format("%-d %b %Y"))
    } else {
        format!("{}–{}", from.format("%-d"), to.format("%-d %b %Y"))
    }
}

/// An instant on the org's wall clock, without the year: `Wed 14 Oct 12:00`.
pub fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%a %-d %b %H:%M").to_string()
}

/// An instant on the org's wall clock with the year and the zone:
/// `Mon 19 Oct 2026 09:00 (Europe/Berlin)`.
pub fn local_time_with_zone(at: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "{} ({})",
        at.with_timezone(&tz).format("%a %-d %b %Y %H:%M"),
        tz.name()
    )
}

/// At most `max_chars` characters (Unicode scalar values, the unit Slack and Teams count),
/// ending in `…` when something was cut. Never splits a character.
pub fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

/// Text from outside (team names, PR titles) on one line: control characters, newlines and tabs
/// become spaces, so no renderer's layout can be broken by them.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The URL if it may become a link: `http`/`https` only (never `javascript:` and the like),
/// without whitespace, control characters or the characters that end a Slack link (`<`, `>`,
/// `|`) or an HTML attribute (`"`). Anything else stays plain text.
pub fn safe_url(url: &str) -> Option<&str> {
    let lower = url.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    let chars_ok = !url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '|' | '"'));
    (scheme_ok && chars_ok && url.len() > "https://".len()).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_durations_read_like_a_person_would_say_them() {
        assert_eq!(duration(0.0), "0 s");
        assert_eq!(duration(-5.0), "0 s");
        assert_eq!(duration(45.0), "45 s");
        assert_eq!(duration(59.4), "59 s");
        assert_eq!(duration(59.6), "1 min");
        assert_eq!(duration(45.0 * 60.0), "45 min");
        assert_eq!(duration(59.6 * 60.0), "1 h");
        assert_eq!(duration(6.0 * 3600.0), "6 h");
        assert_eq!(duration(2.5 * 3600.0), "2.5 h");
        assert_eq!(duration(3.12 * 3600.0), "3.1 h");
        assert_eq!(duration(13.7 * 3600.0), "14 h");
        assert_eq!(duration(23.6 * 3600.0), "1 d");
        assert_eq!(duration(2.1 * 86_400.0), "2.1 d");
        assert_eq!(duration(2.0 * 86_400.0), "2 d");
        assert_eq!(duration(9.96 * 86_400.0), "10 d");
        assert_eq!(duration(45.0 * 86_400.0), "45 d");
        assert_eq!(duration(f64::NAN), "n/a");
        assert_eq!(duration(f64::INFINITY), "n/a");
    }

    #[test]
    fn digest_percentages_never_hide_a_small_nonzero_rate() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.004), "<1%");
        assert_eq!(percent(0.2), "20%");
        assert_eq!(percent(1.0 / 3.0), "33%");
        assert_eq!(percent(0.125), "13%");
        assert_eq!(percent(0.995), ">99%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(number(11.5), "11.5");
        assert_eq!(number(12.0), "12");
        assert_eq!(plural(1, "PR", "PRs"), "1 PR");
        assert_eq!(plural(3, "PR", "PRs"), "3 PRs");
    }

    #[test]
    fn digest_changes_carry_the_value_not_just_an_arrow() {
        assert_eq!(count_change(7.0, 5.0), (Trend::Up, "▲ 2 (from 5)".into()));
        assert_eq!(count_change(2.0, 5.0), (Trend::Down, "▼ 3 (from 5)".into()));
        assert_eq!(count_change(5.0, 5.0), (Trend::Same, "no change".into()));
        assert_eq!(
            duration_change(6.0 * 3600.0, 9.1 * 3600.0),
            (Trend::Down, "▼ 3.1 h (from 9.1 h)".into())
        );
        assert_eq!(
            duration_change(2.1 * 86_400.0, 3.0 * 3600.0),
            (Trend::Up, "▲ 2 d (from 3 h)".into())
        );
        // Equal as displayed is no change, even if the seconds differ.
        assert_eq!(
            duration_change(6.0 * 3600.0, 6.02 * 3600.0),
            (Trend::Same, "no change".into())
        );
        assert_eq!(
            percent_change(0.15, 0.10),
            (Trend::Up, "▲ 5 pts (from 10%)".into())
        );
        assert_eq!(
            percent_change(0.02, 0.03),
            (Trend::Down, "▼ 1 pt (from 3%)".into())
        );
        assert_eq!(
            percent_change(0.101, 0.1),
            (Trend::Same, "no change".into())
        );
    }

    #[test]
    fn digest_dates_and_times() {
        let w = |y, n| IsoWeek::new(y, n).expect("week");
        assert_eq!(week_dates(w(2026, 42)), "12–18 Oct 2026");
        assert_eq!(week_dates(w(2026, 40)), "28 Sep – 4 Oct 2026");
        assert_eq!(week_dates(w(2026, 1)), "29 Dec 2025 – 4 Jan 2026");
        let at: DateTime<Utc> = "2026-10-19T07:00:00Z".parse().expect("time");
        assert_eq!(
            local_time(at, chrono_tz::Europe::Berlin),
            "Mon 19 Oct 09:00"
        );
        assert_eq!(
            local_time_with_zone(at, chrono_tz::Europe::Berlin),
            "Mon 19 Oct 2026 09:00 (Europe/Berlin)"
        );
    }

    #[test]
    fn digest_text_hygiene() {
        assert_eq!(one_line("a\nb\tc\r"), "a b c ");
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(
            html_escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(
            safe_url("https://github.com/acme/api/pull/1"),
            Some("https://github.com/acme/api/pull/1")
        );
        assert_eq!(safe_url("HTTP://example.com"), Some("HTTP://example.com"));
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url("https://a.b/x y"), None);
        assert_eq!(safe_url("https://a.b/x|y"), None);
        assert_eq!(safe_url("https://"), None);
    }
}
