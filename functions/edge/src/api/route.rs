//! The read API's routes, parsed from method and path once: a request is one [`Route`] or an
//! error, so an unknown path cannot fall through to a report.

use super::error::ApiError;

/// The read routes, as in docs/API.md and template.yaml.
pub const ROUTES: [(&str, &str); 20] = [
    ("GET", "/v1/dora"),
    ("GET", "/v1/cycle-time"),
    ("GET", "/v1/pull-requests"),
    ("GET", "/v1/pull-requests/slowest"),
    ("GET", "/v1/deployments/failed"),
    ("GET", "/v1/environments"),
    ("GET", "/v1/tickets"),
    ("GET", "/v1/security"),
    ("GET", "/v1/incidents"),
    ("GET", "/v1/goals"),
    ("GET", "/v1/teams"),
    ("GET", "/v1/config"),
    ("PUT", "/v1/config"),
    ("POST", "/v1/backfill"),
    ("GET", "/v1/backfill"),
    ("GET", "/v1/attention"),
    ("POST", "/v1/share"),
    ("POST", "/v1/gates/release-version"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
];

/// The weekly reports, each answered from the rollups of one kind of scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    Dora,
    CycleTime,
    PullRequests,
    Incidents,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/healthz`, whatever the method, without a token.
    Health,
    Report(Report),
    /// `GET /v1/pull-requests/slowest`: the period's slowest merged PRs, by name.
    SlowestPullRequests,
    /// `GET /v1/deployments/failed`: the period's failed production deployments, with why.
    FailedDeployments,
    /// `GET /v1/environments`: what each environment runs, and what the next one lacks.
    Environments,
    /// `GET /v1/tickets`: ticket cycle and lead times, and the tickets an environment got.
    Tickets,
    /// `GET /v1/security`: open security alerts by severity, and the period's fixes.
    Security,
    /// `GET /v1/goals`: a scope's goals against its reports, and its DORA benchmark.
    Goals,
    Teams,
    GetConfig,
    PutConfig,
    /// `POST /v1/backfill`: starts a backfill (admin).
    StartBackfill,
    /// `GET /v1/backfill`: how a backfill stands.
    Backfill,
    /// `GET /v1/attention`: each team's needs-attention verdict, by the digest's rule.
    Attention,
    /// `POST /v1/share`: mints a share key of the status page (admin).
    Share,
    /// `POST /v1/gates/release-version`: may a sha go to an environment, given its Jira
    /// tickets' fix versions (the gate token, or the read or admin token).
    ReleaseVersionGate,
    /// `/metrics`, in Prometheus text format.
    Metrics,
    /// `GET /dashboard` and everything under `/dashboard/`: the web dashboard's static files,
    /// without a token (`dashboard.rs`).
    Dashboard,
}

impl Route {
    /// The route of `method` on `path`: an unknown path is a 404, a known path with another
    /// method a 405.
    pub fn parse(method: &str, path: &str) -> Result<Route, ApiError> {
        if path == "/healthz" {
            return Ok(Route::Health);
        }
        if path == "/dashboard" || path.starts_with("/dashboard/") {
            return match method {
                "GET" | "HEAD" => Ok(Route::Dashboard),
                _ => Err(ApiError::MethodNotAllowed {
                    method: method.to_string(),
                    path: path.to_string(),
                }),
            };
        }
        let route = match (method, path) {
            ("GET", "/v1/dora") => Route::Report(Report::Dora),
            ("GET", "/v1/cycle-time") => Route::Report(Report::CycleTime),
            ("GET", "/v1/pull-requests") => Route::Report(Report::PullRequests),
            ("GET", "/v1/incidents") => Route::Report(Report::Incidents),
            ("GET", "/v1/pull-requests/slowest") => Route::SlowestPullRequests,
            ("GET", "/v1/deployments/failed") => Route::FailedDeployments,
            ("GET", "/v1/environments") => Route::Environments,
            ("GET", "/v1/tickets") => Route::Tickets,
            ("GET", "/v1/security") => Route::Security,
            ("GET", "/v1/goals") => Route::Goals,
            ("GET", "/v1/teams") => Route::Teams,
            ("GET", "/v1/config") => Route::GetConfig,
            ("PUT", "/v1/config") => Route::PutConfig,
            ("POST", "/v1/backfill") => Route::StartBackfill,
            ("GET", "/v1/backfill") => Route::Backfill,
            ("GET", "/v1/attention") => Route::Attention,
            ("POST", "/v1/share") => Route::Share,
            ("POST", "/v1/gates/release-version") => Route::ReleaseVersionGate,
            ("GET", "/metrics") => Route::Metrics,
            _ if ROUTES.iter().any(|(_, p)| *p == path) => {
                return Err(ApiError::MethodNotAllowed {
                    method: method.to_string(),
                    path: path.to_string(),
                })
            }
            _ => {
                return Err(ApiError::NoRoute {
                    path: path.to_string(),
                })
            }
        };
        Ok(route)
    }

    /// Whether the route needs the admin token rather than the read token.
    pub fn needs_admin(self) -> bool {
        matches!(self, Route::PutConfig | Route::StartBackfill | Route::Share)
    }

    /// Whether a share key may read the route: org and team aggregates only (no names, no
    /// titles, no config), so a link shown to a board can show nothing else.
    pub fn open_to_share_keys(self) -> bool {
        matches!(
            self,
            Route::Report(Report::Dora | Report::CycleTime | Report::PullRequests)
                | Route::Attention
                | Route::Goals
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_route_parses_to_a_route() {
        // given the routes of docs/API.md / when / then
        for (method, path) in ROUTES {
            assert!(Route::parse(method, path).is_ok(), "{method} {path}");
        }
    }

    #[test]
    fn an_unknown_path_is_no_route_and_never_a_report() {
        // given / when
        let err = Route::parse("GET", "/v1/doraa").expect_err("no route");
        // then
        assert_eq!(err.code(), "not_found");
        assert_eq!(err.to_string(), "no route /v1/doraa");
    }

    #[test]
    fn a_known_path_with_another_method_is_not_allowed() {
        // given / when
        let err = Route::parse("POST", "/v1/dora").expect_err("not allowed");
        // then
        assert_eq!(err.code(), "method_not_allowed");
        assert_eq!(err.to_string(), "POST is not allowed on /v1/dora");
    }

    #[test]
    fn the_dashboard_is_a_prefix_route_for_get_only() {
        for path in [
            "/dashboard",
            "/dashboard/",
            "/dashboard/assets/app.0123456789.js",
        ] {
            assert_eq!(
                Route::parse("GET", path).ok(),
                Some(Route::Dashboard),
                "{path}"
            );
        }
        let err = Route::parse("POST", "/dashboard/").expect_err("not allowed");
        assert_eq!(err.code(), "method_not_allowed");
        assert_eq!(
            Route::parse("GET", "/dashboards")
                .expect_err("no route")
                .code(),
            "not_found"
        );
    }

    #[test]
    fn health_answers_any_method() {
        assert_eq!(Route::parse("HEAD", "/healthz").ok(), Some(Route::Health));
    }
}
