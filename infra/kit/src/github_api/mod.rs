//! A local GitHub REST API: what a backfill reads from `api.github.com`, served from the history
//! a set of webhook deliveries describes, with GitHub's JSON shapes, pagination (`per_page`,
//! `page`, `Link`), conditional requests (`ETag`, `If-None-Match` → 304), authentication,
//! primary and secondary rate limits and the odd 502.
//!
//! - [`RestHistory::from_webhooks`] folds deliveries (event name, parsed body), in delivery
//!   order, into the resources GitHub would serve after them: repositories, pull requests with
//!   their commits, reviews, review comments, conversation comments and issue events, the
//!   commit graph of every branch, deployments and their statuses, workflow runs and issues.
//! - [`GitHubApi::start`] serves a history on `127.0.0.1` ([`Limits`] say which tokens are
//!   accepted, the primary rate limit and which requests fail on purpose); [`GitHubApi::stats`]
//!   counts what it answered, [`GitHubApi::set_limits`] changes the limits mid-run.
//!
//! Served objects carry every field of GitHub's own examples (`tests/fixtures/github-rest/`,
//! copied from `@octokit/openapi`): what the webhooks carried is served as it came, and the
//! fields webhooks leave out are filled as GitHub would (URLs, node ids, counts), or with
//! GitHub's "unknown" values (`null`, `[]`, `false`).
//!
//! Routes (GET; anything else is GitHub's 404, but for the one POST below):
//!
//! | route | answers |
//! |---|---|
//! | `/repos/{o}/{r}` | the repository |
//! | `/repos/{o}/{r}/pulls` | pull requests, "pull-request-simple" (`state`, `head`, `base`, `sort`, `direction`) |
//! | `/repos/{o}/{r}/pulls/{n}` | the pull request |
//! | `/repos/{o}/{r}/pulls/{n}/commits` | its commits, oldest first, at most 250 |
//! | `/repos/{o}/{r}/pulls/{n}/reviews` | its reviews, oldest first |
//! | `/repos/{o}/{r}/pulls/{n}/comments` | its review comments, oldest first |
//! | `/repos/{o}/{r}/issues/{n}/comments` | conversation comments, oldest first (`since`) |
//! | `/repos/{o}/{r}/issues/{n}/events` | issue events, oldest first |
//! | `/repos/{o}/{r}/commits` | commits reachable from `sha` (a branch or commit; default branch), newest first (`since`, `until`) |
//! | `/repos/{o}/{r}/deployments` | deployments, newest first (`environment`, `sha`, `ref`, `task`) |
//! | `/repos/{o}/{r}/deployments/{id}/statuses` | its statuses, newest first |
//! | `/repos/{o}/{r}/actions/runs` | `{total_count, workflow_runs}`, newest first (`status`, `created`, `branch`, `event`, `head_sha`, `actor`) |
//! | `/repos/{o}/{r}/issues` | issues and pull requests (`state`, `labels`, `since`, `creator`, `sort`, `direction`) |
//!
//! And one POST: `/app/installations/{id}/access_tokens` mints a GitHub App's installation
//! token when [`Limits::app`] names the App ([`AppKey`]): the RS256 JWT is checked against its
//! public key, and the token is accepted like a configured one until its `expires_at`.

mod app;
mod git;
mod history;
mod limits;
mod objects;
mod page;
mod routes;
mod server;
mod shapes;
#[cfg(test)]
mod tests;

pub use history::RestHistory;
pub use limits::{AppKey, Limits};
pub use server::{ApiStats, GitHubApi};
