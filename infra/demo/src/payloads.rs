//! Webhook bodies shaped like the real ones (the fields GitHub and PagerDuty send, not only the
//! ones Flowmeter reads), and their deliveries, signed with the kit (`flowmeter_kit`).

use chrono::{DateTime, SecondsFormat, Utc};
use flowmeter_kit::delivery as route;
use flowmeter_kit::payload::bytes;
use flowmeter_kit::Delivery;
use serde_json::{json, Value};

use crate::spec::{full_name, ORG, TIMEZONE};

/// The webhook secrets the deliveries are signed with; the dev server must be started with the
/// same ones (`FLOWMETER_GITHUB_SECRET`, `FLOWMETER_PAGERDUTY_SECRET`, `FLOWMETER_WEBHOOK_SECRET`,
/// `FLOWMETER_JIRA_SECRET`, `FLOWMETER_JIRA_TOKEN`, `FLOWMETER_LINEAR_SECRET`,
/// `FLOWMETER_GITLAB_TOKEN`, `FLOWMETER_ARGOCD_TOKEN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secrets {
    pub github: String,
    pub pagerduty: String,
    pub generic: String,
    /// Jira Cloud's webhook secret.
    pub jira: String,
    /// The token in the URL Jira Server/Data Center posts to (`/webhooks/jira/<token>`).
    pub jira_token: String,
    pub linear: String,
    /// The GitLab webhooks' secret token (`X-Gitlab-Token`).
    pub gitlab: String,
    /// The bearer token argocd-notifications sends.
    pub argocd: String,
}

impl Default for Secrets {
    fn default() -> Secrets {
        Secrets {
            github: "demo-github-secret".into(),
            pagerduty: "demo-pagerduty-secret".into(),
            generic: "demo-ci-secret".into(),
            jira: "demo-jira-secret".into(),
            jira_token: "demo-jira-server-token-5f0c9a".into(),
            linear: "demo-linear-secret".into(),
            gitlab: "demo-gitlab-token".into(),
            argocd: "demo-argocd-token".into(),
        }
    }
}

/// One signed webhook delivery (the kit's [`Delivery`]), with what the replay orders it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoDelivery {
    /// When the event happened (deliveries are replayed in this order).
    pub at: DateTime<Utc>,
    /// The repository (`owner/name`) or PagerDuty service (`pagerduty:<name>`) it is about:
    /// the replay sends one group after another (see `replay_order`).
    pub group: String,
    /// The pull request, deployment, branch or incident it is about, within its group.
    pub entity: String,
    pub delivery: Delivery,
}

impl DemoDelivery {
    fn new(at: DateTime<Utc>, group: String, delivery: Delivery) -> DemoDelivery {
        DemoDelivery {
            at,
            group,
            entity: String::new(),
            delivery,
        }
    }

    /// GitHub's event name (`push`, `pull_request`…); empty for the other sources.
    pub fn github_event(&self) -> &str {
        self.delivery.header("x-github-event").unwrap_or_default()
    }
}

/// A GitHub organization webhook's delivery, with the headers GitHub sends.
pub fn github_delivery(
    secrets: &Secrets,
    at: DateTime<Utc>,
    event: &str,
    delivery_id: &str,
    body: &Value,
) -> DemoDelivery {
    let group = body["repository"]["full_name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let delivery = Delivery::unsigned(route::GITHUB, bytes(body))
        .with_header("content-type", "application/json")
        .with_header("user-agent", "GitHub-Hookshot/a1b2c3d")
        .with_header("x-github-event", event)
        .with_header("x-github-delivery", delivery_id)
        .with_header("x-github-hook-id", "418230071")
        .with_header("x-github-hook-installation-target-type", "organization")
        .with_header("x-github-hook-installation-target-id", org_id().to_string())
        .signed(&secrets.github);
    DemoDelivery::new(at, group, delivery)
}

/// A GitLab project webhook's delivery of `event` (`Merge Request Hook`, `Push Hook`…) about
/// `repo` (Flowmeter's name of it), with the headers GitLab sends.
pub fn gitlab_delivery(
    secrets: &Secrets,
    at: DateTime<Utc>,
    repo: &str,
    (event, uuid): (&str, &str),
    body: &Value,
) -> DemoDelivery {
    let delivery = Delivery::gitlab(&secrets.gitlab, event, uuid, bytes(body))
        .with_header("user-agent", "GitLab/18.6.0")
        .with_header("x-gitlab-instance", "https://gitlab.com")
        .with_header(
            "x-gitlab-webhook-uuid",
            "6f1e0c55-9d3a-4c1e-9b52-0c3e2f4a7d10",
        );
    DemoDelivery::new(at, repo.to_string(), delivery)
}

/// An argocd-notifications delivery about an Application deploying `repo`.
pub fn argocd_delivery(
    secrets: &Secrets,
    at: DateTime<Utc>,
    repo: &str,
    body: &Value,
) -> DemoDelivery {
    let delivery = Delivery::argocd(&secrets.argocd, bytes(body))
        .with_header("user-agent", "Go-http-client/1.1");
    DemoDelivery::new(at, repo.to_string(), delivery)
}

/// A PagerDuty V3 webhook subscription's delivery.
pub fn pagerduty_delivery(secrets: &Secrets, at: DateTime<Utc>, body: &Value) -> DemoDelivery {
    let group = format!(
        "pagerduty:{}",
        body["event"]["data"]["service"]["summary"]
            .as_str()
            .unwrap_or_default()
    );
    let delivery = Delivery::unsigned(route::PAGERDUTY, bytes(body))
        .with_header("content-type", "application/json; charset=utf-8")
        .with_header("user-agent", "PagerDuty-Webhook/V3.0")
        .with_header("x-webhook-id", "PWHK9DEMO01")
        .signed(&secrets.pagerduty);
    DemoDelivery::new(at, group, delivery)
}

/// The org's CI posting to a generic endpoint (`path`).
pub fn generic_delivery(
    secrets: &Secrets,
    at: DateTime<Utc>,
    path: &'static str,
    body: &Value,
) -> DemoDelivery {
    let group = body["repo"].as_str().unwrap_or_default().to_string();
    let delivery = Delivery::unsigned(path, bytes(body))
        .with_header("content-type", "application/json")
        .with_header("user-agent", "acme-ci/4.2")
        .signed(&secrets.generic);
    DemoDelivery::new(at, group, delivery)
}

/// A Jira delivery of `key`'s change: Jira Cloud's, signed with the Jira secret, or (`server`)
/// Jira Data Center's, to the URL that carries the token. Grouped by project for the replay.
pub fn jira_delivery(
    secrets: &Secrets,
    at: DateTime<Utc>,
    server: bool,
    key: &str,
    body: &Value,
) -> DemoDelivery {
    let delivery = if server {
        Delivery::unsigned(
            format!("{}{}", route::JIRA_SERVER_PREFIX, secrets.jira_token),
            bytes(body),
        )
        .with_header("content-type", "application/json")
        .with_header("user-agent", "Atlassian HttpClient 3.0.4 / JIRA-9.12.2")
    } else {
        Delivery::unsigned(route::JIRA, bytes(body))
            .with_header("content-type", "application/json")
            .with_header("user-agent", "Atlassian Webhook HTTP Client")
            .signed(&secrets.jira)
    };
    ticket_delivery(at, "jira", key, delivery)
}

/// A Linear delivery of `key`'s change, signed; its `webhookTimestamp` is the event's time, so
/// the sender stamps the time it sends it and signs again ([`Delivery::sent_now`]).
pub fn linear_delivery(
    secrets: &Secrets,
    at: DateTime<Utc>,
    key: &str,
    body: &Value,
) -> DemoDelivery {
    let delivery = Delivery::unsigned(route::LINEAR, bytes(body))
        .with_header("content-type", "application/json; charset=utf-8")
        .with_header("user-agent", "Linear-Webhook")
        .signed(&secrets.linear);
    ticket_delivery(at, "linear", key, delivery)
}

fn ticket_delivery(
    at: DateTime<Utc>,
    tracker: &str,
    key: &str,
    delivery: Delivery,
) -> DemoDelivery {
    let project = key.split('-').next().unwrap_or(key);
    let mut d = DemoDelivery::new(at, format!("{tracker}:{project}"), delivery);
    d.entity = format!("ticket:{key}");
    d
}

/// `2026-03-02T09:15:00Z`: how GitHub writes times in webhook objects.
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2026-03-02T09:15:00.123Z`: PagerDuty's `occurred_at`.
pub fn ts_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2026-03-02T10:15:00+01:00`: commit timestamps in push payloads carry the author's offset.
pub fn ts_local(at: DateTime<Utc>) -> String {
    at.with_timezone(&TIMEZONE)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A stable numeric id for a name (GitHub's user and repository ids).
pub fn stable_id(name: &str, base: u64) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    base + h % 90_000_000
}

fn org_id() -> u64 {
    stable_id(ORG, 10_000_000)
}

pub fn is_bot(login: &str) -> bool {
    login.ends_with("[bot]")
}

pub fn user(login: &str) -> Value {
    let id = stable_id(login, 1_000_000);
    let kind = if is_bot(login) { "Bot" } else { "User" };
    let path = login.trim_end_matches("[bot]");
    let html = if is_bot(login) {
        format!("https://github.com/apps/{path}")
    } else {
        format!("https://github.com/{login}")
    };
    json!({
        "login": login, "id": id, "node_id": format!("U_kgDO{id:08}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "html_url": html, "type": kind, "site_admin": false
    })
}

pub fn organization() -> Value {
    json!({"login": ORG, "id": org_id(), "node_id": format!("O_kgDO{:08}", org_id()),
           "url": format!("https://api.github.com/orgs/{ORG}"), "description": "Acme Commerce"})
}

pub fn repository(repo: &str) -> Value {
    let full = full_name(repo);
    let id = stable_id(&full, 500_000_000);
    json!({
        "id": id, "node_id": format!("R_kgDO{id:08}"), "name": repo, "full_name": full,
        "private": true,
        "owner": {"login": ORG, "id": org_id(), "type": "Organization",
                  "html_url": format!("https://github.com/{ORG}")},
        "html_url": format!("https://github.com/{full}"),
        "url": format!("https://api.github.com/repos/{full}"),
        "default_branch": "main", "visibility": "private", "fork": false
    })
}

/// A GitHub organization webhook's body: `fields`, and the repository, organization and
/// sender every such delivery carries.
pub fn org_event(repo: &str, sender: &str, mut fields: Value) -> Value {
    fields["repository"] = repository(repo);
    fields["organization"] = organization();
    fields["sender"] = user(sender);
    fields
}

/// A push's repository carries `pushed_at` (epoch seconds) as GitHub sends it.
pub fn push_repository(repo: &str, pushed_at: DateTime<Utc>) -> Value {
    let mut r = repository(repo);
    r["pushed_at"] = json!(pushed_at.timestamp());
    r
}

pub fn pr_url(repo: &str, number: u64) -> String {
    format!("https://github.com/{}/pull/{number}", full_name(repo))
}

pub fn label(name: &str) -> Value {
    let color = match name {
        "bug" => "d73a4a",
        "hotfix" => "b60205",
        "incident" => "e11d21",
        "dependencies" => "0366d6",
        _ => "a2eeef",
    };
    json!({"name": name, "color": color, "default": false})
}
