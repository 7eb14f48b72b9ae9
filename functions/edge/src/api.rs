//! The read API (`/v1/*`, `/metrics`, `/healthz`): bearer-token auth, query validation, scope
//! resolution against the current config, and one batched read of weekly rollups per answer.
//! The numbers themselves come from `flowmeter::metrics`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use flowmeter::config::OrgConfig;
use flowmeter::derive::{Rollup, Scope};
use flowmeter::metrics;
use flowmeter::time::{is_supported_date, iso_week, weeks_at_most, IsoWeek, MAX_YEAR, MIN_YEAR};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use tokio::sync::RwLock;

use crate::http::{bearer, body_bytes, error, json, token_matches};
use crate::store::{rollup_pk, Projection, Store, StoreError};

/// The read routes, as in API.md and template.yaml.
pub const ROUTES: [(&str, &str); 9] = [
    ("GET", "/v1/dora"),
    ("GET", "/v1/cycle-time"),
    ("GET", "/v1/pull-requests"),
    ("GET", "/v1/incidents"),
    ("GET", "/v1/teams"),
    ("GET", "/v1/config"),
    ("PUT", "/v1/config"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
];

/// How long a container trusts its copy of the org config before reading it again. A config
/// pushed to another container applies here within this time; the container that took the PUT
/// applies it at once.
const CONFIG_TTL: Duration = Duration::from_secs(30);
/// Longest period one query may span: bounds the rollups a request reads.
const MAX_WEEKS: usize = 156;
/// DynamoDB's limits on a partition and a sort key, in bytes (UTF-8). A rollup key beyond them
/// is refused by the store with a validation error, which would surface as a 503: the scope is
/// checked against them first and a 400 names it.
const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;
/// Largest config body accepted by `PUT /v1/config`.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

pub struct ApiState {
    pub store: Store,
    api_token: String,
    admin_token: String,
    config: RwLock<Option<(Instant, OrgConfig)>>,
}

impl ApiState {
    pub fn new(store: Store, api_token: String, admin_token: String) -> ApiState {
        ApiState {
            store,
            api_token,
            admin_token,
            config: RwLock::new(None),
        }
    }

    /// Tokens from the function's settings (`settings::ApiTokens`); unset locks the routes.
    pub async fn from_env(store: Store) -> ApiState {
        let tokens = crate::settings::ApiTokens::load().await;
        ApiState::new(store, tokens.api, tokens.admin)
    }

    /// The current org config (defaults when none was pushed), cached for [`CONFIG_TTL`].
    pub async fn config(&self) -> Result<OrgConfig, StoreError> {
        if let Some((at, config)) = self.config.read().await.as_ref() {
            if at.elapsed() < CONFIG_TTL {
                return Ok(config.clone());
            }
        }
        let config = crate::settings::load_config(&self.store).await?;
        *self.config.write().await = Some((Instant::now(), config.clone()));
        Ok(config)
    }
}

/// What a failed request answers: the status, a code and a message for the error body.
struct Failure(StatusCode, &'static str, String);

impl Failure {
    fn bad_request(message: impl Into<String>) -> Failure {
        Failure(StatusCode::BAD_REQUEST, "bad_request", message.into())
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Failure {
        tracing::error!(error = %err, "store read failed");
        Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the metrics store is unavailable; retry later".into(),
        )
    }
}

type Answer = Result<Response<Body>, Failure>;

pub async fn handle_api(state: &ApiState, request: &Request) -> Response<Body> {
    let path = request.uri().path();
    let method = request.method();
    if path == "/healthz" {
        return json(StatusCode::OK, &serde_json::json!({"ok": true}));
    }
    if !ROUTES.iter().any(|(_, p)| *p == path) {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route {path}"),
        );
    }
    if !ROUTES
        .iter()
        .any(|(m, p)| *p == path && *m == method.as_str())
    {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed on {path}"),
        );
    }
    let presented = bearer(request.headers());
    let is_admin = token_matches(presented, &state.admin_token);
    if !is_admin && !token_matches(presented, &state.api_token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        );
    }
    let answer = match (method, path) {
        (&Method::PUT, "/v1/config") if !is_admin => Err(Failure(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "PUT /v1/config needs the admin token".into(),
        )),
        (&Method::PUT, "/v1/config") => put_config(state, request).await,
        (_, "/v1/config") => get_config(state).await,
        (_, "/v1/teams") => teams(state).await,
        (_, "/metrics") => prometheus(state).await,
        _ => report(state, request, path).await,
    };
    answer.unwrap_or_else(|Failure(status, code, message)| error(status, code, message))
}

/// The validated query of a report.
struct Query {
    scope: String,
    from: NaiveDate,
    to: NaiveDate,
    environment: String,
    weeks: Vec<IsoWeek>,
}

/// A `YYYY-MM-DD` date in the years the platform keeps ([`MIN_YEAR`] to [`MAX_YEAR`]): chrono
/// also reads `0000-01-01` and `-262143-01-01`, whose weeks no rollup can have.
fn parse_date(name: &str, value: &str) -> Result<NaiveDate, Failure> {
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        Failure::bad_request(format!(
            "`{name}`: expected a date YYYY-MM-DD, got {value:?}"
        ))
    })?;
    if !is_supported_date(date) {
        return Err(Failure::bad_request(format!(
            "`{name}`: {value} is outside the years {MIN_YEAR} to {MAX_YEAR}"
        )));
    }
    Ok(date)
}

/// Reads `scope`, `from`, `to`, `env`. The period defaults to the last 4 full ISO weeks in the
/// org's timezone; it is widened to whole ISO weeks, because rollups are weekly.
fn parse_query(request: &Request, config: &OrgConfig) -> Result<Query, Failure> {
    let mut scope = "org".to_string();
    let mut from = None;
    let mut to = None;
    let mut environment = "production".to_string();
    for (name, value) in
        form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
    {
        match name.as_ref() {
            "scope" => scope = value.into_owned(),
            "from" => from = Some(parse_date("from", &value)?),
            "to" => to = Some(parse_date("to", &value)?),
            "env" => environment = value.into_owned(),
            other => {
                return Err(Failure::bad_request(format!(
                    "unknown query parameter `{other}`"
                )))
            }
        }
    }
    if !config.is_production(&environment) {
        return Err(Failure::bad_request(format!(
            "`env`: {environment:?} is not a production environment of this org's config; \
             rollups are kept for production deployments only"
        )));
    }
    let this_week = iso_week(Utc::now(), config.timezone());
    let default_from = this_week.prev().prev().prev().prev().monday_date();
    let default_to = this_week.prev().sunday_date();
    let (from, to) = (from.unwrap_or(default_from), to.unwrap_or(default_to));
    if from > to {
        return Err(Failure::bad_request(format!(
            "`from` ({from}) is after `to` ({to})"
        )));
    }
    // Counted before the weeks are listed: a period of thousands of years is refused without
    // allocating a list of its weeks.
    let weeks = weeks_at_most(from, to, MAX_WEEKS).map_err(|spanned| {
        Failure::bad_request(format!(
            "the period spans {spanned} weeks; at most {MAX_WEEKS} per query"
        ))
    })?;
    let (Some(first), Some(last)) = (weeks.first(), weeks.last()) else {
        return Err(Failure::bad_request("empty period"));
    };
    Ok(Query {
        scope,
        from: first.monday_date(),
        to: last.sunday_date(),
        environment,
        weeks,
    })
}

/// The stored scopes a requested scope reads, per kind of number.
struct Resolved {
    /// Deployments and lead time: repos (or the org).
    delivery: Vec<Scope>,
    /// PR-based numbers: a team's members when it lists any, else its repos.
    pull_requests: Vec<Scope>,
    /// Incidents: services (or the org).
    incidents: Vec<Scope>,
    /// Service names whose open incidents belong to the scope (`None` = all).
    services: Option<BTreeSet<String>>,
    /// Known from config; otherwise the scope must have data to exist.
    configured: bool,
}

/// Resolves a requested scope; a `repo:` or `service:` name too long for any rollup key is a
/// 400 whether or not the read would touch that key (a service's DORA reads its repos).
fn resolve(scope: &str, config: &OrgConfig) -> Result<Resolved, Failure> {
    let resolved = resolve_scope(scope, config)?;
    check_key_sizes(
        resolved
            .delivery
            .iter()
            .chain(&resolved.pull_requests)
            .chain(&resolved.incidents),
    )?;
    Ok(resolved)
}

fn resolve_scope(scope: &str, config: &OrgConfig) -> Result<Resolved, Failure> {
    let unknown = || {
        Failure(
            StatusCode::NOT_FOUND,
            "unknown_scope",
            format!("unknown scope {scope:?}"),
        )
    };
    let services_of = |repos: &[String]| -> BTreeSet<String> {
        config
            .services()
            .filter(|(_, s)| s.repos.iter().any(|r| repos.contains(r)))
            .map(|(name, _)| name.to_string())
            .chain(repos.iter().cloned())
            .collect()
    };
    if scope == "org" {
        return Ok(Resolved {
            delivery: vec![Scope::Org],
            pull_requests: vec![Scope::Org],
            incidents: vec![Scope::Org],
            services: None,
            configured: true,
        });
    }
    let Some((kind, name)) = scope.split_once(':') else {
        return Err(Failure::bad_request(format!(
            "`scope`: expected org, team:<name>, repo:<owner>/<name> or service:<name>, got {scope:?}"
        )));
    };
    match kind {
        "team" => {
            let team = config.team(name).ok_or_else(unknown)?;
            let repos: Vec<Scope> = team.repos.iter().map(|r| Scope::Repo(r.clone())).collect();
            let members: Vec<Scope> = team
                .members
                .iter()
                .map(|m| Scope::Author(m.to_lowercase()))
                .collect();
            let services = services_of(&team.repos);
            Ok(Resolved {
                pull_requests: if members.is_empty() {
                    repos.clone()
                } else {
                    members
                },
                delivery: repos,
                incidents: services.iter().map(|s| Scope::Service(s.clone())).collect(),
                services: Some(services),
                configured: true,
            })
        }
        "repo" => {
            let repo = name.to_lowercase();
            if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
                return Err(Failure::bad_request(format!(
                    "`scope`: repo must be owner/name, got {name:?}"
                )));
            }
            let configured = !config.services_of_repo(&repo).is_empty()
                || config.teams().any(|(_, t)| t.repos.contains(&repo));
            let services = services_of(std::slice::from_ref(&repo));
            Ok(Resolved {
                delivery: vec![Scope::Repo(repo.clone())],
                pull_requests: vec![Scope::Repo(repo)],
                incidents: services.iter().map(|s| Scope::Service(s.clone())).collect(),
                services: Some(services),
                configured,
            })
        }
        "service" => {
            let service = name.to_lowercase();
            let repos: Vec<Scope> = config
                .repos_of_service(&service)
                .unwrap_or_default()
                .iter()
                .map(|r| Scope::Repo(r.clone()))
                .collect();
            Ok(Resolved {
                delivery: repos.clone(),
                pull_requests: repos,
                incidents: vec![Scope::Service(service.clone())],
                configured: config.service(&service).is_some(),
                services: Some(BTreeSet::from([service])),
            })
        }
        _ => Err(unknown()),
    }
}

/// The rollup keys of `scopes` × `weeks`, each scope once: a repo or author named twice (two
/// teams of a union, a member listed twice in an old config) must not have its rollups read,
/// and so merged, twice. A scope whose key DynamoDB could not hold is a 400 naming it.
fn rollup_keys(scopes: &[Scope], weeks: &[IsoWeek]) -> Result<Vec<(Scope, IsoWeek)>, Failure> {
    let unique: BTreeSet<&Scope> = scopes.iter().collect();
    check_key_sizes(unique.iter().copied())?;
    if let Some(week) = weeks
        .iter()
        .find(|w| w.to_string().len() > MAX_SORT_KEY_BYTES)
    {
        return Err(Failure::bad_request(format!(
            "week {week} is not a valid key"
        )));
    }
    Ok(unique
        .into_iter()
        .flat_map(|s| weeks.iter().map(move |w| (s.clone(), *w)))
        .collect())
}

/// A 400 naming the first scope whose rollup key DynamoDB could not hold.
fn check_key_sizes<'a>(scopes: impl IntoIterator<Item = &'a Scope>) -> Result<(), Failure> {
    for scope in scopes {
        let pk = rollup_pk(scope).len();
        if pk > MAX_PARTITION_KEY_BYTES {
            let shown: String = scope.to_string().chars().take(80).collect();
            return Err(Failure::bad_request(format!(
                "`scope`: {shown}… is too long (its key would be {pk} bytes; \
                 DynamoDB allows {MAX_PARTITION_KEY_BYTES})"
            )));
        }
    }
    Ok(())
}

/// Reads the rollups of `scopes` × `weeks` (one `BatchGetItem` per 100 keys) and merges them
/// per week. An unconfigured scope without any data is unknown (404).
async fn weekly(
    state: &ApiState,
    scopes: &[Scope],
    query: &Query,
    configured: bool,
) -> Result<Vec<(IsoWeek, Rollup)>, Failure> {
    let keys = rollup_keys(scopes, &query.weeks)?;
    let found = state.store.rollups(&keys).await?;
    if found.is_empty() && !configured && !scopes_have_data(state, scopes).await? {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            "unknown_scope",
            format!(
                "unknown scope {:?}: not in the config and no data",
                query.scope
            ),
        ));
    }
    Ok(metrics::merge_weeks(
        found.into_iter().map(|(_, w, r)| (w, r)),
    ))
}

async fn scopes_have_data(state: &ApiState, scopes: &[Scope]) -> Result<bool, StoreError> {
    for scope in scopes {
        if state.store.has_rollups(scope).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn report(state: &ApiState, request: &Request, path: &str) -> Answer {
    let config = state.config().await?;
    let query = parse_query(request, &config)?;
    let resolved = resolve(&query.scope, &config)?;
    let body = match path {
        "/v1/dora" => {
            let weeks = weekly(state, &resolved.delivery, &query, resolved.configured).await?;
            serde_json::to_value(metrics::dora::DoraReport::build(
                &query.scope,
                query.from,
                query.to,
                &query.environment,
                &query.weeks,
                &weeks,
            ))
        }
        "/v1/cycle-time" => {
            let weeks = weekly(state, &resolved.pull_requests, &query, resolved.configured).await?;
            serde_json::to_value(metrics::cycle_time::CycleTimeReport::build(
                &query.scope,
                query.from,
                query.to,
                &query.weeks,
                &weeks,
            ))
        }
        "/v1/pull-requests" => {
            let weeks = weekly(state, &resolved.pull_requests, &query, resolved.configured).await?;
            serde_json::to_value(metrics::pull_requests::PullRequestReport::build(
                &query.scope,
                query.from,
                query.to,
                &query.weeks,
                &weeks,
            ))
        }
        _ => {
            let weeks = weekly(state, &resolved.incidents, &query, resolved.configured).await?;
            let open = open_incidents(state, resolved.services.as_ref()).await?;
            serde_json::to_value(metrics::incidents::IncidentReport::build(
                &query.scope,
                query.from,
                query.to,
                &query.weeks,
                &weeks,
                &open,
                Utc::now(),
            ))
        }
    };
    let body =
        body.map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok(json(StatusCode::OK, &body))
}

async fn open_incidents(
    state: &ApiState,
    services: Option<&BTreeSet<String>>,
) -> Result<Vec<metrics::incidents::OpenIncident>, StoreError> {
    let items = state
        .store
        .index_query("gsi2", "OPENINC", "", "~", false, None)
        .await?;
    Ok(items
        .into_iter()
        .filter_map(|item| match item.projection {
            Projection::Incident(i) if services.is_none_or(|s| s.contains(&i.service)) => {
                Some(metrics::incidents::OpenIncident {
                    id: i.id,
                    service: i.service,
                    severity: i.severity,
                    opened_at: i.opened_at,
                })
            }
            _ => None,
        })
        .collect())
}

async fn teams(state: &ApiState) -> Answer {
    let config = state.config().await?;
    let teams: Vec<serde_json::Value> = config
        .teams()
        .map(|(name, team)| serde_json::json!({"name": name, "members": team.members, "repos": team.repos}))
        .collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "teams": teams })))
}

async fn get_config(state: &ApiState) -> Answer {
    let config = state.config().await?;
    Ok(json(StatusCode::OK, &config.to_json()))
}

/// Replaces the org config: validated first; a bad config is a 400 naming the field and the old
/// config stays.
async fn put_config(state: &ApiState, request: &Request) -> Answer {
    let body = body_bytes(request.body());
    if body.len() > MAX_CONFIG_BYTES {
        return Err(Failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("config over {MAX_CONFIG_BYTES} bytes"),
        ));
    }
    let text =
        std::str::from_utf8(body).map_err(|_| Failure::bad_request("config: body is not UTF-8"))?;
    let config = OrgConfig::from_yaml(text)
        .map_err(|e| Failure(StatusCode::BAD_REQUEST, "invalid_config", e.to_string()))?;
    state.store.put_config(text).await?;
    *state.config.write().await = Some((Instant::now(), config.clone()));
    Ok(json(StatusCode::OK, &config.to_json()))
}

/// `/metrics`: current DORA values over the last 4 full weeks for the org, every configured
/// team, repo and service, in Prometheus text format.
async fn prometheus(state: &ApiState) -> Answer {
    let config = state.config().await?;
    let this_week = iso_week(Utc::now(), config.timezone());
    let weeks: Vec<IsoWeek> = [4, 3, 2, 1]
        .iter()
        .map(|back| (0..*back).fold(this_week, |w, _| w.prev()))
        .collect();
    let (Some(first), Some(last)) = (weeks.first().copied(), weeks.last().copied()) else {
        return Err(Failure::bad_request("empty period"));
    };
    let mut scopes: Vec<String> = vec!["org".into()];
    scopes.extend(config.teams().map(|(name, _)| format!("team:{name}")));
    let mut repos: BTreeSet<String> = config
        .teams()
        .flat_map(|(_, t)| t.repos.iter().cloned())
        .collect();
    repos.extend(config.services().flat_map(|(_, s)| s.repos.iter().cloned()));
    scopes.extend(repos.iter().map(|r| format!("repo:{r}")));
    scopes.extend(config.services().map(|(name, _)| format!("service:{name}")));

    let mut needed: BTreeSet<Scope> = BTreeSet::new();
    let mut plans = Vec::new();
    for scope in &scopes {
        let resolved = resolve(scope, &config)?;
        needed.extend(resolved.delivery.iter().cloned());
        plans.push((scope.clone(), resolved.delivery));
    }
    let needed: Vec<Scope> = needed.into_iter().collect();
    let keys = rollup_keys(&needed, &weeks)?;
    let found = state.store.rollups(&keys).await?;
    let mut series = Vec::new();
    for (label, delivery) in plans {
        let parts = found
            .iter()
            .filter(|(s, _, _)| delivery.contains(s))
            .map(|(_, w, r)| (*w, r.clone()));
        let merged = metrics::merge_weeks(parts);
        let report = metrics::dora::DoraReport::build(
            &label,
            first.monday_date(),
            last.sunday_date(),
            "production",
            &weeks,
            &merged,
        );
        series.push((label, report));
    }
    let text = metrics::prometheus::render(&series);
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .body(Body::Text(text))
        .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week(text: &str) -> IsoWeek {
        text.parse().expect("test week")
    }

    fn query(q: &str) -> Result<Query, Failure> {
        let request = lambda_http::http::Request::builder()
            .uri(format!("/v1/dora?{q}"))
            .body(Body::Empty)
            .expect("request");
        parse_query(&request, &OrgConfig::default())
    }

    fn refused(q: &str) -> String {
        match query(q) {
            Ok(_) => panic!("{q} should be refused"),
            Err(Failure(status, _, message)) => {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {message}");
                message
            }
        }
    }

    #[test]
    fn rollup_keys_read_each_scope_once() {
        let weeks = [week("2026-W41"), week("2026-W42")];
        // A repo in two teams of one union, an author listed twice: 2 distinct scopes × 2
        // weeks = 4 keys, not 6.
        let scopes = [
            Scope::Repo("acme/api".into()),
            Scope::Author("alice".into()),
            Scope::Repo("acme/api".into()),
        ];
        let keys = rollup_keys(&scopes, &weeks).unwrap_or_else(|Failure(_, _, m)| panic!("{m}"));
        assert_eq!(keys.len(), 4, "{keys:?}");
        let distinct: BTreeSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), 4);
    }

    #[test]
    fn a_scope_over_dynamodbs_key_limit_is_a_400() {
        let weeks = [week("2026-W41")];
        // `ROLLUP#repo:` is 12 bytes: a 2036-byte name makes a key of exactly 2048.
        let longest = Scope::Repo(format!("a/{}", "b".repeat(2034)));
        assert_eq!(rollup_pk(&longest).len(), MAX_PARTITION_KEY_BYTES);
        assert!(rollup_keys(&[longest], &weeks).is_ok());
        for scope in [
            Scope::Repo(format!("a/{}", "b".repeat(2035))),
            Scope::Service("s".repeat(3000)),
        ] {
            match rollup_keys(&[Scope::Org, scope], &weeks) {
                Ok(_) => panic!("a key over 2048 bytes was planned"),
                Err(Failure(status, _, message)) => {
                    assert_eq!(status, StatusCode::BAD_REQUEST);
                    assert!(message.contains("too long"), "{message}");
                    assert!(
                        message.len() < 300,
                        "the message quotes the scope shortened"
                    );
                }
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
        let low =
            query("from=1970-01-01&to=1970-01-04").unwrap_or_else(|Failure(_, _, m)| panic!("{m}"));
        assert_eq!(low.weeks, [week("1970-W01")]);
        assert_eq!(low.from.to_string(), "1969-12-29");
        let high =
            query("from=9999-12-31&to=9999-12-31").unwrap_or_else(|Failure(_, _, m)| panic!("{m}"));
        assert_eq!(high.weeks, [week("9999-W52")]);
        // Widened to the whole week, whose Sunday lies in year 10000 (chrono signs 5-digit
        // years).
        assert_eq!(high.to.to_string(), "+10000-01-02");
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
