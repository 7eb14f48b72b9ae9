//! A report's query string: `scope`, `from`, `to`, `env`, read and checked before anything is
//! read from the store.

use chrono::{NaiveDate, Utc};
use flowmeter::config::OrgConfig;
use flowmeter::metrics::ReportWindow;
use flowmeter::time::{is_supported_date, IsoWeek, WeekWindow, MAX_YEAR, MIN_YEAR};

use super::error::ApiError;

/// Longest period one query may span: bounds the rollups a request reads.
pub const MAX_WEEKS: usize = 156;
/// The default period: the last full ISO weeks in the org's timezone.
const DEFAULT_WEEKS: usize = 4;

/// The validated query of a report.
#[derive(Debug)]
pub struct Query {
    /// As the reader wrote it: reports are labelled with it.
    pub scope: String,
    /// The Monday the period starts on.
    pub from: NaiveDate,
    /// The Sunday the period ends on.
    pub to: NaiveDate,
    pub environment: String,
    pub weeks: Vec<IsoWeek>,
}

impl Query {
    /// The scope and period the reports of this query are about, labelled as the reader wrote
    /// the scope.
    pub fn window(&self) -> ReportWindow<'_> {
        ReportWindow {
            scope: &self.scope,
            from: self.from,
            to: self.to,
            weeks: &self.weeks,
        }
    }

    /// The instants the period spans: its whole ISO weeks in the org's timezone, as the reports
    /// count them, from the first Monday to the Monday after the last week.
    pub fn span(
        &self,
        config: &OrgConfig,
    ) -> Result<flowmeter::metrics::lists::PeriodSpan, ApiError> {
        let tz = config.timezone();
        let (Some(first), Some(last)) = (self.weeks.first(), self.weeks.last()) else {
            return Err(ApiError::bad_request("the period lists no week"));
        };
        Ok((first.monday(tz), last.next().monday(tz)))
    }
}

/// A `YYYY-MM-DD` date in the years the platform keeps ([`MIN_YEAR`] to [`MAX_YEAR`]): chrono
/// also reads `0000-01-01` and `-262143-01-01`, whose weeks no rollup can have.
fn parse_date(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(format!(
            "`{name}`: expected a date YYYY-MM-DD, got {value:?}"
        ))
    })?;
    if !is_supported_date(date) {
        return Err(ApiError::bad_request(format!(
            "`{name}`: {value} is outside the years {MIN_YEAR} to {MAX_YEAR}"
        )));
    }
    Ok(date)
}

/// Reads `scope`, `from`, `to`, `env` from a query string. The period defaults to the last 4
/// full ISO weeks in the org's timezone; it is widened to whole ISO weeks, because rollups are
/// weekly. `env` must name a production environment: the rollups are production's.
pub fn parse_query(query: &str, config: &OrgConfig) -> Result<Query, ApiError> {
    parse_query_with(query, config, production_only)
}

/// [`parse_query`] for a read that lists any configured environment (`GET /v1/tickets`):
/// `env` is an environment's configured name (`qa`) or a name its patterns match (`qa-eu`),
/// answered as the configured name.
pub fn parse_query_any_environment(query: &str, config: &OrgConfig) -> Result<Query, ApiError> {
    parse_query_with(query, config, configured_environment)
}

fn production_only(config: &OrgConfig, environment: String) -> Result<String, ApiError> {
    if !config.is_production(&environment) {
        return Err(ApiError::bad_request(format!(
            "`env`: {environment:?} is not a production environment of this org's config; \
             rollups are kept for production deployments only"
        )));
    }
    Ok(environment)
}

fn configured_environment(config: &OrgConfig, environment: String) -> Result<String, ApiError> {
    if config.environment_names().any(|name| name == environment) {
        return Ok(environment);
    }
    match config.environment_of(&environment) {
        Some(name) => Ok(name.to_string()),
        None => Err(ApiError::bad_request(format!(
            "`env`: {environment:?} is no environment of this org's config (configured: {})",
            config.environment_names().collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn parse_query_with(
    query: &str,
    config: &OrgConfig,
    check_environment: fn(&OrgConfig, String) -> Result<String, ApiError>,
) -> Result<Query, ApiError> {
    let mut scope = "org".to_string();
    let mut from = None;
    let mut to = None;
    let mut environment = "production".to_string();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "scope" => scope = value.into_owned(),
            "from" => from = Some(parse_date("from", &value)?),
            "to" => to = Some(parse_date("to", &value)?),
            "env" => environment = value.into_owned(),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`"
                )))
            }
        }
    }
    let environment = check_environment(config, environment)?;
    let default = WeekWindow::last_full(Utc::now(), config.timezone(), DEFAULT_WEEKS)?;
    let window = WeekWindow::between(
        from.unwrap_or(default.from_date()),
        to.unwrap_or(default.to_date()),
        MAX_WEEKS,
    )?;
    Ok(Query {
        scope,
        from: window.from_date(),
        to: window.to_date(),
        environment,
        weeks: window.weeks().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week(text: &str) -> IsoWeek {
        text.parse().expect("test week")
    }

    fn query(q: &str) -> Result<Query, ApiError> {
        parse_query(q, &OrgConfig::default())
    }

    fn refused(q: &str) -> String {
        match query(q) {
            Ok(_) => panic!("{q} should be refused"),
            Err(err) => {
                assert_eq!(err.code(), "bad_request", "{q}: {err}");
                err.to_string()
            }
        }
    }

    #[test]
    fn dates_outside_1970_to_9999_are_a_400() {
        for q in [
            "from=0000-01-01&to=0000-01-09",
            "from=1969-12-01&to=1970-01-04",
            "from=-262143-01-01&to=-262143-01-09",
            "from=9999-12-20&to=%2B10000-01-02",
            "from=%2B262142-12-20&to=%2B262142-12-31",
        ] {
            let message = refused(q);
            assert!(message.contains("1970 to 9999"), "{q}: {message}");
        }
        // The bounds themselves: 1970-01-01 is a Thursday of 1970-W01 (which starts Monday
        // 1969-12-29); 9999-12-31 is a Friday of 9999-W52 (Monday 9999-12-27).
        let low = query("from=1970-01-01&to=1970-01-04").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(low.weeks, [week("1970-W01")]);
        assert_eq!(low.from.to_string(), "1969-12-29");
        let high = query("from=9999-12-31&to=9999-12-31").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(high.weeks, [week("9999-W52")]);
        // Widened to the whole week, whose Sunday lies in year 10000 (chrono signs 5-digit
        // years).
        assert_eq!(high.to.to_string(), "+10000-01-02");
    }

    #[test]
    fn a_listing_takes_any_configured_environment_by_name_or_pattern() {
        let config =
            OrgConfig::from_yaml("org: acme\nenvironments: { qa: ['qa-*'], production: [prod] }")
                .expect("config");
        let env = |q: &str| parse_query_any_environment(q, &config).map(|q| q.environment);
        assert_eq!(env("env=qa").ok().as_deref(), Some("qa"));
        assert_eq!(env("env=qa-eu").ok().as_deref(), Some("qa"));
        assert_eq!(env("").ok().as_deref(), Some("production"));
        let refused = env("env=staging").expect_err("not configured");
        assert!(refused.to_string().contains("qa, production"), "{refused}");
        // while the rollup reports stay production-only
        assert!(parse_query("env=qa", &config).is_err());
    }

    #[test]
    fn the_span_is_checked_before_weeks_are_listed() {
        // 1970-01-01 .. 9999-12-31: 2 932 896 days apart, 418 986 weeks touched; the message
        // says so without a list of them having been built.
        let message = refused("from=1970-01-01&to=9999-12-31");
        assert!(message.contains("418986 weeks"), "{message}");
        let message = refused("from=2026-10-20&to=2026-10-01");
        assert!(message.contains("after"), "{message}");
        // 156 weeks is the limit: Monday 2024-01-01 .. Sunday 2026-12-27 is exactly 156.
        assert_eq!(
            query("from=2024-01-01&to=2026-12-27")
                .map(|q| q.weeks.len())
                .ok(),
            Some(156)
        );
        assert!(refused("from=2024-01-01&to=2026-12-28").contains("157 weeks"));
    }
}
