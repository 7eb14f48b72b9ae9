//! The weekly digest run: gather the week's rollups and PRs from the table, build the one
//! digest model (`flowmeter::digest`), render it per channel and deliver each part exactly once
//! per (org, week, channel) through the send ledger in the table. A retried run sends only the
//! parts that did not go out: if email went out and Slack failed, the retry sends only Slack.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use flowmeter::config::OrgConfig;
use flowmeter::derive::members::members_of_pull_request;
use flowmeter::derive::{MemberData, Rollup, Scope};
use flowmeter::digest::{self, Digest, DigestInput, Links, PrSummary, TeamInput};
use flowmeter::metrics::incidents::OpenIncident;
use flowmeter::time::{iso_week, IsoWeek};
use serde::Serialize;

use crate::notify::{self, NotifyError};
use crate::store::{key_time, DigestClaim, Projection, Store, StoreError};

/// A claim older than this (a run that crashed mid-send) may be taken over by the next run.
/// A claim older than this was held by a run that can no longer be sending: the digest
/// function's timeout is 120 s (template.yaml), so 150 s lets Lambda's asynchronous retry of a
/// timed-out run (1 and then 2 more minutes later) take the part over instead of finding it
/// "in flight" forever.
const STALE_CLAIM_S: i64 = 150;

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
    #[error("{0} is being sent by another run right now")]
    InFlight(String),
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
    /// Slack payloads sent by this run (or, if sent before, recorded then).
    pub slack: Vec<serde_json::Value>,
    pub teams_messages: usize,
    /// Parts found already sent and skipped.
    pub already_sent: Vec<String>,
    /// Channels not configured.
    pub not_configured: Vec<String>,
    /// The teams the digest says need attention, with the reasons it gives: what the caller
    /// (the dev server, the demo, the schedule's log) can report without re-deriving it.
    pub attention: Vec<digest::model::Attention>,
}

/// The last full ISO week before `now` in the org's timezone: what the Monday digest reports.
pub fn last_full_week(now: DateTime<Utc>, config: &OrgConfig) -> IsoWeek {
    iso_week(now, config.timezone()).prev()
}

fn keys(scopes: &[Scope], weeks: &[IsoWeek]) -> Vec<(Scope, IsoWeek)> {
    scopes
        .iter()
        .flat_map(|s| weeks.iter().map(move |w| (s.clone(), *w)))
        .collect()
}

/// Reads everything the digest needs: the reported week and the 4 before it for the org and
/// every team (one batched read), the merged PRs of the week per team repo, open incidents.
pub async fn gather(
    store: &Store,
    config: &OrgConfig,
    week: IsoWeek,
    now: DateTime<Utc>,
) -> Result<DigestInput, StoreError> {
    let weeks: Vec<IsoWeek> = (0..5)
        .rev()
        .map(|back| (0..back).fold(week, |w, _| w.prev()))
        .collect();
    let mut scopes: BTreeSet<Scope> = BTreeSet::from([Scope::Org]);
    let mut plans = Vec::new();
    for (name, team) in config.teams() {
        let delivery: Vec<Scope> = team.repos.iter().map(|r| Scope::Repo(r.clone())).collect();
        let prs: Vec<Scope> = if team.members.is_empty() {
            delivery.clone()
        } else {
            team.members
                .iter()
                .map(|m| Scope::Author(m.to_lowercase()))
                .collect()
        };
        let incidents: Vec<Scope> = config
            .services()
            .filter(|(_, s)| s.repos.iter().any(|r| team.repos.contains(r)))
            .map(|(n, _)| Scope::Service(n.to_string()))
            .chain(team.repos.iter().map(|r| Scope::Service(r.clone())))
            .collect();
        scopes.extend(delivery.iter().chain(&prs).chain(&incidents).cloned());
        plans.push((name.to_string(), team.clone(), delivery, prs, incidents));
    }
    let scopes: Vec<Scope> = scopes.into_iter().collect();
    let found = store.rollups(&keys(&scopes, &weeks)).await?;
    let pick = |wanted: &[Scope]| -> Vec<(IsoWeek, Rollup)> {
        found
            .iter()
            .filter(|(s, _, _)| wanted.contains(s))
            .map(|(_, w, r)| (*w, r.clone()))
            .collect()
    };
    let teams = plans
        .iter()
        .map(|(name, team, delivery, prs, incidents)| TeamInput {
            name: name.clone(),
            delivery_weeks: pick(delivery),
            pr_weeks: pick(prs),
            incident_weeks: pick(incidents),
            repos: team.repos.clone(),
            members: team.members.clone(),
        })
        .collect();

    let tz = config.timezone();
    let start = week.monday(tz);
    let end = week.next().monday(tz);
    let repos: BTreeSet<&String> = config.teams().flat_map(|(_, t)| t.repos.iter()).collect();
    let mut week_prs = Vec::new();
    for repo in repos {
        let items = store
            .index_query(
                "gsi2",
                &format!("MERGED#{repo}"),
                &key_time(start),
                &key_time(end),
                false,
                None,
            )
            .await?;
        for item in items {
            let Projection::PullRequest(pr) = item.projection else {
                continue;
            };
            let (Some(merged_at), false) = (pr.merged_at, pr.author_is_bot) else {
                continue;
            };
            let merged = members_of_pull_request(&pr, config)
                .into_iter()
                .find_map(|m| match m.data {
                    MemberData::PrMerged { pickup, total, .. } => Some((pickup, total)),
                    _ => None,
                });
            let Some((pickup_seconds, total_seconds)) = merged else {
                continue;
            };
            week_prs.push(PrSummary {
                repo: pr.repo.clone(),
                number: pr.number,
                title: pr.title.clone(),
                author: pr.author.clone(),
                url: pr.html_url.clone(),
                pickup_seconds,
                total_seconds,
                merged_at,
            });
        }
    }
    let open_incidents = store
        .index_query("gsi2", "OPENINC", "", "~", false, None)
        .await?
        .into_iter()
        .filter_map(|item| match item.projection {
            Projection::Incident(i) => Some(OpenIncident {
                id: i.id,
                service: i.service,
                severity: i.severity,
                opened_at: i.opened_at,
            }),
            _ => None,
        })
        .collect();
    Ok(DigestInput {
        org: config.org().to_string(),
        week,
        timezone: tz,
        now,
        org_weeks: pick(&[Scope::Org]),
        teams,
        week_prs,
        open_incidents,
        links: Links {
            dashboard: std::env::var("FLOWMETER_DASHBOARD_URL").ok(),
            github: Some("https://github.com".into()),
        },
    })
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

/// Sends one part unless the ledger says it went out already.
async fn send_once<F, Fut>(
    store: &Store,
    org: &str,
    week: &str,
    channel: &str,
    now_s: i64,
    outcome: &mut DigestOutcome,
    send: F,
) -> Result<Option<String>, DigestError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, NotifyError>>,
{
    match store
        .claim_digest(org, week, channel, now_s, STALE_CLAIM_S)
        .await?
    {
        DigestClaim::AlreadySent { detail } => {
            outcome.already_sent.push(channel.to_string());
            return Ok(Some(detail));
        }
        DigestClaim::InFlight => return Err(DigestError::InFlight(channel.to_string())),
        DigestClaim::Claimed => {}
    }
    match send().await {
        Ok(detail) => {
            store.mark_digest_sent(org, week, channel, &detail).await?;
            Ok(Some(detail))
        }
        Err(source) => {
            store.release_digest(org, week, channel).await?;
            Err(DigestError::Send {
                channel: channel.to_string(),
                source,
            })
        }
    }
}

/// Runs the digest of `week`: email (SES v2) to the config's recipients, Slack and Teams through
/// their webhooks. Every part is sent at most once per (org, week, channel); a failure stops the
/// run with an error after releasing that part, so a retry resumes where it failed.
pub async fn run(
    store: &Store,
    ses: &aws_sdk_sesv2::Client,
    http: &reqwest::Client,
    config: &OrgConfig,
    channels: &Channels,
    week: IsoWeek,
    now: DateTime<Utc>,
) -> Result<DigestOutcome, DigestError> {
    let digest = build(store, config, week, now).await?;
    let org = config.org().to_string();
    let week_label = week.to_string();
    let now_s = now.timestamp();
    let mut outcome = DigestOutcome {
        week: week_label.clone(),
        attention: digest.attention.clone(),
        ..DigestOutcome::default()
    };

    match &config.digest().email {
        Some(email) => {
            let content = digest::email::render_email(&digest);
            let id = send_once(
                store,
                &org,
                &week_label,
                "email",
                now_s,
                &mut outcome,
                || {
                    notify::send_email(
                        ses,
                        &email.from,
                        &email.to,
                        &content.subject,
                        &content.html,
                        &content.text,
                    )
                },
            )
            .await?;
            outcome.email_message_id = id;
        }
        None => outcome.not_configured.push("email".into()),
    }

    match &channels.slack_webhook_url {
        Some(url) => {
            // An incoming webhook posts to the channel it was created for; `digest.slack.channel`
            // in the config documents which one that is.
            for (i, message) in digest::slack::slack_messages(&digest)
                .into_iter()
                .enumerate()
            {
                let payload = message.to_string();
                send_once(
                    store,
                    &org,
                    &week_label,
                    &format!("slack#{i}"),
                    now_s,
                    &mut outcome,
                    || async {
                        notify::post_webhook(http, url, &message)
                            .await
                            .map(|()| payload.clone())
                    },
                )
                .await?;
                outcome.slack.push(message);
            }
        }
        None => outcome.not_configured.push("slack".into()),
    }

    match &channels.teams_webhook_url {
        Some(url) => {
            for (i, message) in digest::teams::teams_messages(&digest)
                .into_iter()
                .enumerate()
            {
                send_once(
                    store,
                    &org,
                    &week_label,
                    &format!("teams#{i}"),
                    now_s,
                    &mut outcome,
                    || async {
                        notify::post_webhook(http, url, &message)
                            .await
                            .map(|()| "sent".to_string())
                    },
                )
                .await?;
                outcome.teams_messages += 1;
            }
        }
        None => outcome.not_configured.push("teams".into()),
    }
    Ok(outcome)
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

impl DigestEvent {
    /// The instant the run is for and the week it reports.
    pub fn resolve(
        &self,
        config: &OrgConfig,
        wall_clock: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, IsoWeek), String> {
        let now = match self.scheduled_time.as_deref() {
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map_err(|e| format!("scheduled_time {text:?}: {e}"))?
                .with_timezone(&Utc),
            None => wall_clock,
        };
        let week = match self.week.as_deref() {
            Some(text) => text.parse().map_err(|e| format!("week: {e}"))?,
            None => last_full_week(now, config),
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
        // Monday 2026-11-23 09:00 in Berlin = 08:00 UTC: reports 2026-W47 (Nov 16–22).
        let event = DigestEvent {
            scheduled_time: Some("2026-11-23T08:00:00Z".into()),
            week: None,
        };
        let (_, week) = event.resolve(&config, Utc::now()).expect("resolve");
        assert_eq!(week.to_string(), "2026-W47");
        // Sunday 23:30 UTC is already Monday in Berlin: the week just ended is reported.
        let event = DigestEvent {
            scheduled_time: Some("2026-11-22T23:30:00Z".into()),
            week: None,
        };
        assert_eq!(
            event
                .resolve(&config, Utc::now())
                .expect("resolve")
                .1
                .to_string(),
            "2026-W47"
        );
        let manual = DigestEvent {
            scheduled_time: None,
            week: Some("2026-W40".into()),
        };
        assert_eq!(
            manual
                .resolve(&config, Utc::now())
                .expect("resolve")
                .1
                .to_string(),
            "2026-W40"
        );
        let bad = DigestEvent {
            scheduled_time: Some("last monday".into()),
            week: None,
        };
        assert!(bad.resolve(&config, Utc::now()).is_err());
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
