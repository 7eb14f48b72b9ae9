//! The weekly digest run: gather the week's rollups and PRs from the table, build the one
//! digest model (`flowmeter::digest`), render it per channel and deliver each part exactly once
//! per (org, week, channel) through the send ledger in the table. A retried run sends only the
//! parts that did not go out: if email went out and Slack failed, the retry sends only Slack.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flowmeter::config::{OrgConfig, Team};
use flowmeter::derive::members::members_of_pull_request;
use flowmeter::derive::{MemberData, PullRequest, Rollup, Scope};
use flowmeter::digest::{self, Digest, DigestInput, Links, PrSummary, TeamInput};
use flowmeter::metrics::incidents::OpenIncident;
use flowmeter::scope::{rollup_keys, ScopePlan};
use flowmeter::time::{last_full_week, weeks_ending, IsoWeek, ParseIsoWeekError};
use serde::Serialize;

use crate::notify::{self, NotifyError};
use crate::store::{DigestClaim, Store, StoreError};

/// A claim older than this (by the wall clock) was held by a run that can no longer be
/// sending: the digest function's timeout is 120 s (template.yaml) and no send outlives
/// [`SEND_DEADLINE`] anywhere, so 150 s lets Lambda's asynchronous retry of a timed-out run
/// (1 and then 2 more minutes later) take the part over instead of finding it "in flight"
/// forever.
pub const STALE_CLAIM_S: i64 = 150;

/// The longest one part's send may take (all of its throttling retries included): well inside
/// [`STALE_CLAIM_S`], so that a live run (the dev server has no Lambda timeout) never has its
/// claim taken over while it is still sending.
const SEND_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{channel}: {source}")]
    Send {
        channel: String,
        #[source]
        source: NotifyError,
    },
    #[error("{part} is being sent by another run right now (claimed {age_s} s ago; taken over after {STALE_CLAIM_S} s)")]
    InFlight { part: String, age_s: i64 },
    /// The run's claim went stale and another run took the part over before this one could
    /// record its send: the part may have gone out twice.
    #[error(
        "{part}: the claim went stale and another run took it over; it may have been sent twice"
    )]
    ClaimLost { part: String },
}

/// Where the digest goes: email from config, chat webhooks from secrets.
#[derive(Clone, Debug, Default)]
pub struct Channels {
    pub slack_webhook_url: Option<String>,
    pub teams_webhook_url: Option<String>,
}

/// What a run did, per channel.
#[derive(Debug, Default, Serialize)]
pub struct DigestOutcome {
    pub week: String,
    pub email_message_id: Option<String>,
    /// The Slack messages of the week (the plan pinned in the ledger by the first run), when
    /// Slack is configured: those this run sent and those sent before.
    pub slack: Vec<serde_json::Value>,
    /// Slack not configured: the messages the digest would post (what `make demo` writes to
    /// `out/slack.json`). Empty when Slack is configured.
    pub slack_preview: Vec<serde_json::Value>,
    /// The channel the config names (`digest.slack.channel`): where the Slack webhook is meant
    /// to post. An incoming webhook posts to the channel it was created for and cannot be
    /// redirected, so the run reports the name for the operator to check the webhook against.
    pub slack_channel: Option<String>,
    pub teams_messages: usize,
    /// Parts found already sent and skipped.
    pub already_sent: Vec<String>,
    /// Channels not configured.
    pub not_configured: Vec<String>,
    /// The teams the digest says need attention, with the reasons it gives: what the caller
    /// (the dev server, the demo, the schedule's log) can report without re-deriving it.
    pub attention: Vec<digest::model::Attention>,
}

/// The weeks a digest shows: the reported week and the 4 before it (its trend).
const DIGEST_WEEKS: usize = 5;

/// Reads everything the digest needs: the reported week and the 4 before it for the org and
/// every team (one batched read of the rollups `OrgConfig::plan_team` names, ticket projects
/// included), the merged PRs of the week per team repo, open incidents, and each configured
/// repo's environments as they stand now (`GET /v1/environments`), for what waits for the next.
pub async fn gather(
    store: &Store,
    config: &OrgConfig,
    week: IsoWeek,
    now: DateTime<Utc>,
) -> Result<DigestInput, StoreError> {
    let weeks = weeks_ending(week, DIGEST_WEEKS);
    let plans: Vec<(&str, &Team, ScopePlan)> = config
        .teams()
        .map(|(name, team)| (name, team, config.plan_team(name, team)))
        .collect();
    let scopes = std::iter::once(&Scope::Org).chain(plans.iter().flat_map(|(_, _, p)| p.scopes()));
    let found = store.rollups(&rollup_keys(scopes, &weeks)).await?;
    let pick = |wanted: &[Scope]| -> Vec<(IsoWeek, Rollup)> {
        found
            .iter()
            .filter(|(s, _, _)| wanted.contains(s))
            .map(|(_, w, r)| (*w, r.clone()))
            .collect()
    };
    let teams = plans
        .iter()
        .map(|(name, team, plan)| TeamInput {
            name: name.to_string(),
            delivery_weeks: pick(&plan.delivery),
            pr_weeks: pick(&plan.pull_requests),
            incident_weeks: pick(&plan.incidents),
            repos: team.repos.clone(),
            members: team.members.clone(),
            goals: config
                .goals()
                .for_team(name)
                .into_iter()
                .map(|(goal, set_for)| (goal.clone(), set_for))
                .collect(),
            ticket_weeks: pick(&plan.tickets),
        })
        .collect();
    let mut environments = Vec::new();
    for repo in config.configured_repos() {
        environments.push(crate::api::repo_environments(store, config, &repo, &[], now).await?);
    }
    Ok(DigestInput {
        org: config.org().to_string(),
        week,
        timezone: config.timezone(),
        now,
        org_weeks: pick(&[Scope::Org]),
        teams,
        week_prs: week_prs(store, config, week).await?,
        open_incidents: open_incidents(store).await?,
        links: Links {
            dashboard: std::env::var("FLOWMETER_DASHBOARD_URL").ok(),
            github: Some(flowmeter::metrics::lists::GITHUB_WEB.into()),
        },
        environments,
    })
}

/// The PRs of team repos merged in `week` (bots left out), with their pickup and total times.
async fn week_prs(
    store: &Store,
    config: &OrgConfig,
    week: IsoWeek,
) -> Result<Vec<PrSummary>, StoreError> {
    let tz = config.timezone();
    let start = week.monday(tz);
    let end = week.next().monday(tz);
    let repos: BTreeSet<&String> = config.teams().flat_map(|(_, t)| t.repos.iter()).collect();
    let mut week_prs = Vec::new();
    for repo in repos {
        let prs = store.merged_prs(repo, start..end).await?;
        week_prs.extend(prs.iter().filter_map(|pr| pr_summary(pr, config)));
    }
    Ok(week_prs)
}

/// A merged, non-bot PR as the digest lists it.
fn pr_summary(pr: &PullRequest, config: &OrgConfig) -> Option<PrSummary> {
    let (Some(merged_at), false) = (pr.merged_at, pr.author_is_bot) else {
        return None;
    };
    let (pickup_seconds, total_seconds) = members_of_pull_request(pr, config)
        .into_iter()
        .find_map(|m| match m.data {
            MemberData::PrMerged { pickup, total, .. } => Some((pickup, total)),
            _ => None,
        })?;
    Some(PrSummary {
        repo: pr.repo.clone(),
        number: pr.number,
        title: pr.title.clone(),
        author: pr.author.clone(),
        url: pr.html_url.clone(),
        pickup_seconds,
        total_seconds,
        merged_at,
    })
}

async fn open_incidents(store: &Store) -> Result<Vec<OpenIncident>, StoreError> {
    Ok(store
        .open_incidents()
        .await?
        .into_iter()
        .map(OpenIncident::from)
        .collect())
}

/// Builds the digest of `week` (no sending): for previews and for the run.
pub async fn build(
    store: &Store,
    config: &OrgConfig,
    week: IsoWeek,
    now: DateTime<Utc>,
) -> Result<Digest, StoreError> {
    Ok(digest::build_digest(
        &gather(store, config, week, now).await?,
    ))
}

/// One run of the digest: the week it reports, the instant it is for, and who it is in the
/// send ledger. The schedule pins `now` (its `scheduled_time`, the same on every retry, so a
/// retry reports the same week); the ledger's claims age by the wall clock, which only moves
/// forward between retries, and each run has its own `owner` id, so a run can tell its own
/// claims from a dead run's.
#[derive(Clone)]
pub struct DigestRun {
    pub week: IsoWeek,
    /// What the digest is built for ("generated …", open incident ages).
    pub now: DateTime<Utc>,
    /// Unique per run: claims are taken, marked and released under it.
    pub owner: String,
    wall_clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl std::fmt::Debug for DigestRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestRun")
            .field("week", &self.week)
            .field("now", &self.now)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl DigestRun {
    /// A run with a fresh owner id and the system clock.
    pub fn new(week: IsoWeek, now: DateTime<Utc>) -> DigestRun {
        DigestRun::with_clock(week, now, new_owner_id(), Utc::now)
    }

    /// A run with a given owner id and wall clock (tests move the clock instead of sleeping).
    pub fn with_clock(
        week: IsoWeek,
        now: DateTime<Utc>,
        owner: impl Into<String>,
        wall_clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static,
    ) -> DigestRun {
        DigestRun {
            week,
            now,
            owner: owner.into(),
            wall_clock: Arc::new(wall_clock),
        }
    }

    fn wall_clock_s(&self) -> i64 {
        (self.wall_clock)().timestamp()
    }
}

/// An id no other run has: the process's random hasher keys (std seeds them from the OS), the
/// process id and the time, hashed.
fn new_owner_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(RUNS.fetch_add(1, Ordering::Relaxed));
    hasher.write_i64(Utc::now().timestamp_nanos_opt().unwrap_or_default());
    let high = hasher.finish();
    hasher.write_u8(1);
    format!("run-{high:016x}{:016x}", hasher.finish())
}

/// Sends one part unless the ledger says it went out already (or another live run holds it).
async fn send_once<F, Fut>(
    store: &Store,
    org: &str,
    digest_run: &DigestRun,
    part: &str,
    outcome: &mut DigestOutcome,
    send: F,
) -> Result<Option<String>, DigestError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, NotifyError>>,
{
    let week = digest_run.week.to_string();
    let owner = digest_run.owner.as_str();
    let now_s = digest_run.wall_clock_s();
    match store
        .claim_digest(org, &week, part, owner, now_s, STALE_CLAIM_S)
        .await?
    {
        DigestClaim::AlreadySent { detail } => {
            outcome.already_sent.push(part.to_string());
            return Ok(Some(detail));
        }
        DigestClaim::InFlight { claimed_at, .. } => {
            return Err(DigestError::InFlight {
                part: part.to_string(),
                age_s: now_s - claimed_at,
            })
        }
        DigestClaim::Claimed => {}
    }
    let sent = match tokio::time::timeout(SEND_DEADLINE, send()).await {
        Ok(sent) => sent,
        Err(_) => Err(NotifyError::Deadline(SEND_DEADLINE.as_secs())),
    };
    match sent {
        Ok(detail) => {
            if !store
                .mark_digest_sent(org, &week, part, owner, &detail)
                .await?
            {
                return Err(DigestError::ClaimLost {
                    part: part.to_string(),
                });
            }
            Ok(Some(detail))
        }
        Err(source) => {
            // A claim another run took over is left to it (`false`); the send error is what
            // this run reports either way.
            store.release_digest(org, &week, part, owner).await?;
            Err(DigestError::Send {
                channel: part.to_string(),
                source,
            })
        }
    }
}

/// Runs the digest of `week`: email (SES v2) to the config's recipients, Slack and Teams through
/// their webhooks. Every part is sent at most once per (org, week, channel); a failure stops the
/// run with an error after releasing that part, so a retry resumes where it failed. A run with
/// a fresh owner id and the system clock; see [`run_as`].
pub async fn run(
    store: &Store,
    ses: &aws_sdk_sesv2::Client,
    http: &reqwest::Client,
    config: &OrgConfig,
    channels: &Channels,
    week: IsoWeek,
    now: DateTime<Utc>,
) -> Result<DigestOutcome, DigestError> {
    run_as(
        store,
        ses,
        http,
        config,
        channels,
        &DigestRun::new(week, now),
    )
    .await
}

/// [`run`] as the given run (owner id, wall clock).
///
/// The email is one part, rendered from the data as it is now. A chat channel's messages are
/// pinned in the ledger by the first run that reaches it ([`Store::digest_plan`]): a retry
/// sends the rest of that rendering, even when the data changed in between and a fresh
/// rendering would be split differently, so the channel gets one coherent `(1/n)…(n/n)` set.
pub async fn run_as(
    store: &Store,
    ses: &aws_sdk_sesv2::Client,
    http: &reqwest::Client,
    config: &OrgConfig,
    channels: &Channels,
    digest_run: &DigestRun,
) -> Result<DigestOutcome, DigestError> {
    let week = digest_run.week;
    let digest = build(store, config, week, digest_run.now).await?;
    let org = config.org().to_string();
    let week_label = week.to_string();
    let mut outcome = DigestOutcome {
        week: week_label.clone(),
        attention: digest.attention.clone(),
        slack_channel: config.digest().slack.as_ref().map(|s| s.channel.clone()),
        ..DigestOutcome::default()
    };

    match &config.digest().email {
        Some(email) => {
            let content = digest::email::render_email(&digest);
            let id = send_once(store, &org, digest_run, "email", &mut outcome, || {
                notify::send_email(
                    ses,
                    &email.from,
                    &email.to,
                    &content.subject,
                    &content.html,
                    &content.text,
                )
            })
            .await?;
            outcome.email_message_id = id;
        }
        None => outcome.not_configured.push("email".into()),
    }

    let chat = Chat {
        store,
        http,
        org: &org,
        digest_run,
    };
    match &channels.slack_webhook_url {
        Some(url) => {
            let rendered = digest::slack::slack_messages(&digest);
            outcome.slack = chat.send("slack", url, &rendered, &mut outcome).await?;
        }
        None => {
            outcome.not_configured.push("slack".into());
            outcome.slack_preview = digest::slack::slack_messages(&digest);
        }
    }

    match &channels.teams_webhook_url {
        Some(url) => {
            let rendered = digest::teams::teams_messages(&digest);
            let messages = chat.send("teams", url, &rendered, &mut outcome).await?;
            outcome.teams_messages = messages.len();
        }
        None => outcome.not_configured.push("teams".into()),
    }
    Ok(outcome)
}

/// A chat channel's delivery in one run: its messages through a webhook, one ledger part each.
struct Chat<'a> {
    store: &'a Store,
    http: &'a reqwest::Client,
    org: &'a str,
    digest_run: &'a DigestRun,
}

impl Chat<'_> {
    /// Pins the channel's messages in the ledger (the first run's rendering wins) and sends
    /// those not sent yet, in order, as parts `<channel>#<i>`. Returns the pinned messages.
    async fn send(
        &self,
        channel: &str,
        url: &str,
        rendered: &[serde_json::Value],
        outcome: &mut DigestOutcome,
    ) -> Result<Vec<serde_json::Value>, DigestError> {
        let (store, digest_run) = (self.store, self.digest_run);
        let messages = store
            .digest_plan(
                self.org,
                &digest_run.week.to_string(),
                channel,
                rendered,
                digest_run.wall_clock_s(),
            )
            .await?;
        for (i, message) in messages.iter().enumerate() {
            send_once(
                store,
                self.org,
                digest_run,
                &format!("{channel}#{i}"),
                outcome,
                || async {
                    notify::post_webhook(self.http, url, message)
                        .await
                        .map(|()| "sent".to_string())
                },
            )
            .await?;
        }
        Ok(messages)
    }
}

impl Channels {
    /// Slack's incoming webhook URL and Teams' Workflows URL from the secrets
    /// (`slack_webhook_url`, `teams_webhook_url`; locally `FLOWMETER_SLACK_WEBHOOK_URL`,
    /// `FLOWMETER_TEAMS_WEBHOOK_URL`). Empty means not configured.
    pub async fn load() -> Result<Channels, crate::secrets::SecretsError> {
        let secrets = crate::secrets::load().await?;
        let non_empty = |s: String| Some(s).filter(|s| !s.is_empty());
        Ok(Channels {
            slack_webhook_url: non_empty(secrets.slack_webhook_url),
            teams_webhook_url: non_empty(secrets.teams_webhook_url),
        })
    }
}

/// Why the schedule's timezone (`DIGEST_TIMEZONE`, the template's `DigestTimezone`) and the
/// org config's disagree, if they do. Weeks are the config's; a schedule in another zone fires on
/// a day that is not Monday there and may report the week before last, which an operator should
/// hear about in the log rather than discover in the mail.
pub fn schedule_timezone_mismatch(
    schedule_timezone: Option<&str>,
    config: &OrgConfig,
) -> Option<String> {
    let schedule = schedule_timezone
        .map(str::trim)
        .filter(|tz| !tz.is_empty())?;
    let org = config.timezone().name();
    (schedule != org).then(|| {
        format!(
            "the digest schedule runs in {schedule} but the org config's timezone is {org}: \
             weeks are {org} weeks, so set DigestTimezone to {org} (or the config's timezone to \
             {schedule})"
        )
    })
}

/// The schedule's event: `scheduled_time` pins "now", so a retried invocation reports the same
/// week; `week` (`YYYY-Www`) overrides the week, for a manual re-run.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DigestEvent {
    #[serde(default)]
    pub scheduled_time: Option<String>,
    #[serde(default)]
    pub week: Option<String>,
}

/// Why a digest event cannot be run: what the schedule or a manual re-run sent is unreadable.
#[derive(Debug, thiserror::Error)]
pub enum DigestEventError {
    #[error("scheduled_time {text:?}: {source}")]
    ScheduledTime {
        text: String,
        #[source]
        source: chrono::ParseError,
    },
    #[error("week: {0}")]
    Week(#[from] ParseIsoWeekError),
}

/// The dev server answers the message as a 400.
impl From<DigestEventError> for String {
    fn from(err: DigestEventError) -> String {
        err.to_string()
    }
}

impl DigestEvent {
    /// The instant the run is for and the week it reports.
    pub fn resolve(
        &self,
        config: &OrgConfig,
        wall_clock: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, IsoWeek), DigestEventError> {
        let now = match self.scheduled_time.as_deref() {
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map_err(|source| DigestEventError::ScheduledTime {
                    text: text.to_string(),
                    source,
                })?
                .with_timezone(&Utc),
            None => wall_clock,
        };
        let week = match self.week.as_deref() {
            Some(text) => text.parse()?,
            None => last_full_week(now, config.timezone()),
        };
        Ok((now, week))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monday_run_reports_the_previous_week_in_the_org_timezone() {
        let config = OrgConfig::from_yaml("org: acme\ntimezone: Europe/Berlin\n").expect("config");
        let week_of = |scheduled_time: Option<&str>, week: Option<&str>| {
            let event = DigestEvent {
                scheduled_time: scheduled_time.map(String::from),
                week: week.map(String::from),
            };
            let resolved = event.resolve(&config, Utc::now());
            resolved.map(|(_, week)| week.to_string())
        };
        // Monday 2026-11-23 09:00 in Berlin = 08:00 UTC: reports 2026-W47 (Nov 16–22).
        let week = week_of(Some("2026-11-23T08:00:00Z"), None).expect("resolve");
        assert_eq!(week, "2026-W47");
        // Sunday 23:30 UTC is already Monday in Berlin: the week just ended is reported.
        let week = week_of(Some("2026-11-22T23:30:00Z"), None).expect("resolve");
        assert_eq!(week, "2026-W47");
        let manual = week_of(None, Some("2026-W40")).expect("resolve");
        assert_eq!(manual, "2026-W40");
        assert!(week_of(Some("last monday"), None).is_err());
    }

    #[test]
    fn a_schedule_in_another_timezone_than_the_config_is_reported() {
        let config = OrgConfig::from_yaml("org: acme\ntimezone: Europe/Berlin\n").expect("config");
        assert_eq!(
            schedule_timezone_mismatch(Some("Europe/Berlin"), &config),
            None
        );
        assert_eq!(schedule_timezone_mismatch(None, &config), None);
        assert_eq!(schedule_timezone_mismatch(Some(" "), &config), None);
        let warning = schedule_timezone_mismatch(Some("Pacific/Auckland"), &config)
            .expect("a mismatch is reported");
        assert!(warning.contains("Pacific/Auckland"), "{warning}");
        assert!(warning.contains("Europe/Berlin"), "{warning}");
    }
}
