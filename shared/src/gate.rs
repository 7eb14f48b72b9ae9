//! The release-version gate (`POST /v1/gates/release-version`): may `sha` go to an environment,
//! given that every Jira ticket it brings there must carry a fix version? A release whose
//! tickets name no version cannot be told apart in the release notes, so CI stops it before it
//! deploys, with a message that says which tickets to fix.
//!
//! Pure, in two steps the edge loads between: [`GateRequest::parse`] reads the request,
//! [`Shipment::between`] places `sha` and the environment's deployed commit on the default
//! branch's pushes and names the tickets of the commits between (their messages and their
//! merged PRs), then [`verdict`] checks those tickets' fix versions.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{OrgConfig, TicketProject};
use crate::derive::links::branch_history;
use crate::derive::ticket_keys::tickets_named;
use crate::derive::{ticket_key, Deployment, PullRequest, Ticket};
use crate::model::{Fact, FactBody};

/// Largest request body read.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// Shortest sha prefix accepted, as `git log --abbrev` writes them.
pub const MIN_SHA_CHARS: usize = 7;

/// Why a gate request is refused (a 400 naming what is wrong).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error("the body is not a JSON object with `repo`, `environment` and `sha`: {0}")]
    Body(String),
    #[error("`{field}` is required (a non-empty string)")]
    Missing { field: &'static str },
    #[error(
        "`repo`: `{0}` is not a repository name (`owner/name`, or a GitLab or Bitbucket address)"
    )]
    RepoName(String),
    #[error("`repo`: `{0}` is not a repository Flowmeter knows: no team or service names it and no push to it has arrived")]
    UnknownRepo(String),
    #[error("`environment`: `{name}` is not a configured environment (configured: {configured})")]
    UnknownEnvironment { name: String, configured: String },
    #[error("`sha`: `{0}` is not a commit sha (7 to 40 hexadecimal digits)")]
    ShaFormat(String),
    #[error("`sha`: `{sha}` is not on {repo}'s default branch as far as its pushes reached Flowmeter (the last {days} days before the environment's deployment)")]
    UnknownSha {
        repo: String,
        sha: String,
        days: i64,
    },
    #[error("`sha`: `{sha}` names more than one commit of {repo}; give more digits")]
    AmbiguousSha { repo: String, sha: String },
}

/// `{repo, environment, sha}`, checked: the repo as keys name it, the environment as
/// configured, the sha lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateRequest {
    pub repo: String,
    /// The configured environment (`qa`), also when the request named one of its deployment
    /// names (`qa-eu`).
    pub environment: String,
    pub sha: String,
}

#[derive(Deserialize)]
struct RawRequest {
    repo: Option<serde_json::Value>,
    environment: Option<serde_json::Value>,
    sha: Option<serde_json::Value>,
}

impl GateRequest {
    pub fn parse(body: &[u8], config: &OrgConfig) -> Result<GateRequest, GateError> {
        let raw: RawRequest =
            serde_json::from_slice(body).map_err(|e| GateError::Body(e.to_string()))?;
        let text = |value: Option<serde_json::Value>, field: &'static str| match value {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            _ => Err(GateError::Missing { field }),
        };
        let repo = text(raw.repo, "repo")?;
        let environment = text(raw.environment, "environment")?;
        let sha = text(raw.sha, "sha")?;
        let repo = crate::repo::parse_repo(&repo).map_err(|e| GateError::RepoName(e.0))?;
        let environment = configured_environment(config, &environment)?;
        let valid =
            (MIN_SHA_CHARS..=40).contains(&sha.len()) && sha.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(GateError::ShaFormat(printable(&sha, 64)));
        }
        Ok(GateRequest {
            repo,
            environment,
            sha: sha.to_ascii_lowercase(),
        })
    }
}

/// A configured environment's name, or the configured environment a deployment name belongs
/// to (`qa-eu` → `qa`).
fn configured_environment(config: &OrgConfig, name: &str) -> Result<String, GateError> {
    if let Some(configured) = config.environment_names().find(|e| *e == name) {
        return Ok(configured.to_string());
    }
    config
        .environment_of(name)
        .map(str::to_string)
        .ok_or_else(|| GateError::UnknownEnvironment {
            name: printable(name, 64),
            configured: config.environment_names().collect::<Vec<_>>().join(", "),
        })
}

/// What deploying the request's sha brings to the environment.
#[derive(Clone, Debug, PartialEq)]
pub struct Shipment {
    /// The full sha the request's sha (perhaps a prefix) names.
    pub sha: String,
    pub deployed: Option<Deployment>,
    pub range: Range,
    /// The commits between, oldest first.
    pub commits: Vec<String>,
    /// The merged PRs whose merge commit is among them, by number.
    pub pull_requests: Vec<PullRequest>,
    /// Each ticket id the commits and PRs name, with what names it (`acme/api#12`, a short
    /// sha), in order of first appearance.
    pub tickets: Vec<(String, Vec<String>)>,
}

/// How the commits between were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    /// Nothing is deployed there: nothing to compare with.
    NothingDeployed,
    /// `sha` is the deployed commit or an older one (a redeploy or a rollback): nothing new.
    NotAhead,
    /// Both commits are on the branch: the commits after the deployed one, up to `sha`.
    Exact,
    /// The deployed commit is not on the branch's known pushes (deployed from another
    /// branch, or pushed before them): the commits up to `sha` pushed after the deployment
    /// finished.
    SinceDeployment,
}

impl Shipment {
    /// Places `sha` on the default branch's `pushes` and finds what lies between the
    /// environment's `deployed` commit and it. `merged` are the repo's merged PRs over the
    /// pushes' span; `history_days` is how far back the pushes were read (for the error).
    pub fn between(
        request: &GateRequest,
        deployed: Option<&Deployment>,
        pushes: &[Fact],
        merged: &[PullRequest],
        projects: &[TicketProject],
        history_days: i64,
    ) -> Result<Shipment, GateError> {
        let history = branch_history(pushes);
        let candidate = locate(&history, &request.sha).map_err(|ambiguous| {
            if ambiguous {
                GateError::AmbiguousSha {
                    repo: request.repo.clone(),
                    sha: request.sha.clone(),
                }
            } else {
                GateError::UnknownSha {
                    repo: request.repo.clone(),
                    sha: request.sha.clone(),
                    days: history_days,
                }
            }
        })?;
        let sha = history[candidate].clone();
        let nothing = |range| Shipment {
            sha: sha.clone(),
            deployed: deployed.cloned(),
            range,
            commits: Vec::new(),
            pull_requests: Vec::new(),
            tickets: Vec::new(),
        };
        let Some(current) = deployed else {
            return Ok(nothing(Range::NothingDeployed));
        };
        let deployed_at = current
            .sha
            .as_deref()
            .and_then(|s| history.iter().position(|h| h == s));
        let (range, commits): (Range, Vec<String>) = match deployed_at {
            Some(at) if candidate <= at => return Ok(nothing(Range::NotAhead)),
            Some(at) => (Range::Exact, history[at + 1..=candidate].to_vec()),
            None => {
                let pushed = pushed_at(pushes);
                let after = current.finished_at;
                let since: Vec<String> = history[..=candidate]
                    .iter()
                    .filter(|c| pushed.get(c.as_str()).copied() > after)
                    .cloned()
                    .collect();
                (Range::SinceDeployment, since)
            }
        };
        let in_range: HashSet<&str> = commits.iter().map(String::as_str).collect();
        let mut pull_requests: Vec<PullRequest> = merged
            .iter()
            .filter(|pr| pr.repo == request.repo && pr.merged_to_default())
            .filter(|pr| {
                pr.merge_commit_sha
                    .as_deref()
                    .is_some_and(|s| in_range.contains(s))
            })
            .cloned()
            .collect();
        pull_requests.sort_by_key(|pr| pr.number);
        pull_requests.dedup_by_key(|pr| pr.number);
        let messages = messages(pushes);
        let mut tickets: Vec<(String, Vec<String>)> = Vec::new();
        let mut name = |id: String, by: String| match tickets.iter_mut().find(|(t, _)| *t == id) {
            Some((_, named_by)) if !named_by.contains(&by) => named_by.push(by),
            Some(_) => {}
            None => tickets.push((id, vec![by])),
        };
        for pr in &pull_requests {
            for id in &pr.tickets {
                name(id.clone(), format!("{}#{}", pr.repo, pr.number));
            }
        }
        for commit in &commits {
            let Some(message) = messages.get(commit.as_str()) else {
                continue;
            };
            for id in tickets_named([*message], projects) {
                name(id, short(commit).to_string());
            }
        }
        Ok(Shipment {
            sha,
            deployed: Some(current.clone()),
            range,
            commits,
            pull_requests,
            tickets,
        })
    }

    /// The ticket ids to read.
    pub fn ticket_ids(&self) -> impl Iterator<Item = &str> {
        self.tickets.iter().map(|(id, _)| id.as_str())
    }
}

/// Where `sha` (full, or a prefix of at least [`MIN_SHA_CHARS`]) is in `history`; `Err(true)`
/// when a prefix names two commits, `Err(false)` when it names none.
fn locate(history: &[String], sha: &str) -> Result<usize, bool> {
    let mut found = history
        .iter()
        .enumerate()
        .filter(|(_, h)| h.to_ascii_lowercase().starts_with(sha))
        .map(|(i, h)| (i, h.to_ascii_lowercase()));
    let (at, first) = found.next().ok_or(false)?;
    // The same commit twice (a force push that re-pushed it) is still one commit.
    if found.any(|(_, other)| other != first) {
        return Err(true);
    }
    Ok(at)
}

/// When each commit first reached the branch.
fn pushed_at(pushes: &[Fact]) -> HashMap<&str, DateTime<Utc>> {
    let mut at: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for fact in pushes {
        if let FactBody::Push { commits, .. } = &fact.body {
            for commit in commits {
                let first = at.entry(commit.sha.as_str()).or_insert(fact.at);
                *first = (*first).min(fact.at);
            }
        }
    }
    at
}

fn messages(pushes: &[Fact]) -> HashMap<&str, &str> {
    pushes
        .iter()
        .flat_map(|fact| match &fact.body {
            FactBody::Push { commits, .. } => commits.as_slice(),
            _ => &[],
        })
        .filter_map(|c| Some((c.sha.as_str(), c.message.as_deref()?)))
        .collect()
}

fn short(sha: &str) -> &str {
    sha.get(..MIN_SHA_CHARS).unwrap_or(sha)
}

/// The gate's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateVerdict {
    pub allowed: bool,
    pub repo: String,
    pub environment: String,
    /// The full sha checked.
    pub sha: String,
    /// What the environment runs now; `null` when nothing was deployed there.
    pub deployed: Option<DeployedCommit>,
    pub range: Range,
    /// How many commits deploying `sha` brings there.
    pub commits: usize,
    /// The merged PRs among them.
    pub pull_requests: Vec<GatePr>,
    /// Every ticket they name.
    pub tickets: Vec<GateTicket>,
    /// The Jira tickets without a fix version, the reason for `allowed: false`.
    pub missing_fix_version: Vec<GateTicket>,
    /// What the CI step prints: one line of verdict, then one line per ticket to fix.
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeployedCommit {
    pub id: String,
    pub sha: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GatePr {
    pub number: u64,
    pub title: String,
    pub author: String,
    pub url: String,
    pub tickets: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateTicket {
    /// `jira:PAY-142`.
    pub id: String,
    /// `PAY-142`.
    pub key: String,
    /// The ticket as the tracker last sent it; `null` when no event of it has arrived.
    pub title: Option<String>,
    pub url: Option<String>,
    pub fix_versions: Vec<String>,
    /// Whether the gate checks it: Jira tickets that are not deleted (Linear has no fix
    /// versions).
    pub checked: bool,
    /// The PRs (`acme/api#12`) and commits (short sha) that name it.
    pub named_by: Vec<String>,
}

/// Checks the shipment's tickets against what the trackers sent (`known`, by id): allowed when
/// every Jira ticket has a fix version. A Jira ticket no event of has arrived counts as
/// lacking one (nothing says it has); a deleted one and Linear's are listed, not checked.
pub fn verdict(
    request: &GateRequest,
    shipment: &Shipment,
    known: &BTreeMap<String, Ticket>,
    github: &str,
) -> GateVerdict {
    let tickets: Vec<GateTicket> = shipment
        .tickets
        .iter()
        .map(|(id, named_by)| {
            let ticket = known.get(id);
            let is_jira = id.starts_with("jira:");
            GateTicket {
                id: id.clone(),
                key: ticket_key(id).to_string(),
                title: ticket.map(|t| t.title.clone()),
                url: ticket.and_then(|t| t.html_url.clone()),
                fix_versions: ticket.map(|t| t.fix_versions.clone()).unwrap_or_default(),
                checked: is_jira && !ticket.is_some_and(|t| t.deleted),
                named_by: named_by.clone(),
            }
        })
        .collect();
    let missing: Vec<GateTicket> = tickets
        .iter()
        .filter(|t| t.checked && t.fix_versions.is_empty())
        .cloned()
        .collect();
    let checked = tickets.iter().filter(|t| t.checked).count();
    let env = &request.environment;
    let short_sha = short(&shipment.sha);
    let mut message = match shipment.range {
        Range::NothingDeployed => format!(
            "Release allowed: nothing has been deployed to {env} yet, so there is nothing to compare {short_sha} with."
        ),
        Range::NotAhead => format!(
            "Release allowed: {short_sha} is not ahead of what {env} runs ({}), so it brings no new ticket.",
            shipment.deployed.as_ref().and_then(|d| d.sha.as_deref()).map_or("?", short)
        ),
        _ if checked == 0 => format!(
            "Release allowed: the {} commit(s) going to {env} name no Jira ticket.",
            shipment.commits.len()
        ),
        _ if missing.is_empty() => format!(
            "Release allowed: all {checked} Jira ticket(s) going to {env} have a fix version."
        ),
        _ => format!(
            "Release blocked: {} of {checked} Jira ticket(s) going to {env} have no fix version:",
            missing.len()
        ),
    };
    for ticket in &missing {
        let title = ticket.title.as_deref().map_or_else(
            || "(no Jira event has reached Flowmeter)".to_string(),
            |t| printable(t, 120),
        );
        message.push_str(&format!("\n  {}  {title}", printable(&ticket.key, 40)));
        if let Some(url) = &ticket.url {
            message.push_str(&format!("  {}", printable(url, 200)));
        }
        message.push_str(&format!("  (named by {})", ticket.named_by.join(", ")));
    }
    if !missing.is_empty() {
        message.push_str("\nSet a fix version on each in Jira, then run this job again.");
    }
    GateVerdict {
        allowed: missing.is_empty(),
        repo: request.repo.clone(),
        environment: request.environment.clone(),
        sha: shipment.sha.clone(),
        deployed: shipment.deployed.as_ref().map(|d| DeployedCommit {
            id: d.id.clone(),
            sha: d.sha.clone(),
            finished_at: d.finished_at,
        }),
        range: shipment.range,
        commits: shipment.commits.len(),
        pull_requests: shipment
            .pull_requests
            .iter()
            .map(|pr| GatePr {
                number: pr.number,
                title: pr.title.clone(),
                author: pr.author.clone(),
                url: pr.page_url(github),
                tickets: pr.tickets.clone(),
            })
            .collect(),
        tickets,
        missing_fix_version: missing,
        message,
    }
}

/// `text` fit for one line of a CI log: control characters (a newline, an ANSI escape that
/// would recolour or hide the log) and the invisible marks that reorder or hide text (bidi
/// overrides, zero-width spaces) become spaces, and at most `max` characters are kept.
fn printable(text: &str, max: usize) -> String {
    let hidden = |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() || hidden(c) { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
