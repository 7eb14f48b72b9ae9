//! One webhook delivery and its signature.

use flowmeter::ingest::signature::sign_hex;
use flowmeter::ingest::{
    argocd, bitbucket, generic, github, gitlab, jira, linear, pagerduty, IngestError, Normalized,
};

/// The webhook routes.
pub const GITHUB: &str = "/webhooks/github";
pub const PAGERDUTY: &str = "/webhooks/pagerduty";
pub const DEPLOYMENTS: &str = "/webhooks/deployments";
pub const INCIDENTS: &str = "/webhooks/incidents";
pub const JIRA: &str = "/webhooks/jira";
/// Jira Server's route is this and the token: `/webhooks/jira/<token>`.
pub const JIRA_SERVER_PREFIX: &str = "/webhooks/jira/";
pub const LINEAR: &str = "/webhooks/linear";
pub const GITLAB: &str = "/webhooks/gitlab";
pub const BITBUCKET: &str = "/webhooks/bitbucket";
pub const ARGOCD: &str = "/webhooks/argocd";

/// Who sends a delivery, which decides how it is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `X-Hub-Signature-256: sha256=<hex>`.
    GitHub,
    /// `X-PagerDuty-Signature: v1=<hex>`.
    PagerDuty,
    /// A generic CI or incident tool: `X-Flowmeter-Signature-256: sha256=<hex>`.
    Generic,
    /// Jira Cloud: `X-Hub-Signature: sha256=<hex>`.
    Jira,
    /// Jira Server/Data Center: unsigned, the token is in the path.
    JiraServer,
    /// Linear: `Linear-Signature: <hex>`.
    Linear,
    /// GitLab: the webhook's secret token itself in `X-Gitlab-Token`.
    GitLab,
    /// Bitbucket Cloud and Data Center: `X-Hub-Signature: sha256=<hex>`.
    Bitbucket,
    /// argocd-notifications: `Authorization: Bearer <token>`.
    ArgoCd,
}

impl Source {
    /// The source of a delivery to `path` (every route but GitHub's and PagerDuty's is generic).
    pub fn of(path: &str) -> Source {
        match path {
            GITHUB => Source::GitHub,
            PAGERDUTY => Source::PagerDuty,
            JIRA => Source::Jira,
            LINEAR => Source::Linear,
            GITLAB => Source::GitLab,
            BITBUCKET => Source::Bitbucket,
            ARGOCD => Source::ArgoCd,
            p if p.starts_with(JIRA_SERVER_PREFIX) => Source::JiraServer,
            _ => Source::Generic,
        }
    }

    /// The header the signature goes in (Jira Server sends none: this name is never set).
    pub fn signature_header(self) -> &'static str {
        match self {
            Source::GitHub => "x-hub-signature-256",
            Source::PagerDuty => "x-pagerduty-signature",
            Source::Generic => "x-flowmeter-signature-256",
            Source::Jira => "x-hub-signature",
            Source::JiraServer => "x-jira-unsigned",
            Source::Linear => "linear-signature",
            Source::GitLab => "x-gitlab-token",
            Source::Bitbucket => "x-hub-signature",
            Source::ArgoCd => "authorization",
        }
    }

    /// The signature header's value for `body` (HMAC-SHA256 with `secret`; GitLab's and
    /// ArgoCD's are the token itself).
    pub fn signature(self, secret: &str, body: &[u8]) -> String {
        let hex = sign_hex(secret.as_bytes(), body);
        match self {
            Source::PagerDuty => format!("v1={hex}"),
            Source::Linear => hex,
            Source::GitLab => secret.to_string(),
            Source::ArgoCd => format!("Bearer {secret}"),
            Source::GitHub
            | Source::Generic
            | Source::Jira
            | Source::JiraServer
            | Source::Bitbucket => format!("sha256={hex}"),
        }
    }
}

/// One webhook delivery as its source would send it: the route it is posted to, its headers
/// in order, and the raw body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// `/webhooks/github`, `/webhooks/pagerduty`, `/webhooks/deployments`,
    /// `/webhooks/incidents`, `/webhooks/jira`, `/webhooks/jira/<token>` or `/webhooks/linear`.
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Delivery {
    /// A delivery without headers; add them with [`Delivery::with_header`] and
    /// [`Delivery::signed`], in the order the source sends them.
    pub fn unsigned(path: impl Into<String>, body: Vec<u8>) -> Delivery {
        Delivery {
            path: path.into(),
            headers: Vec::new(),
            body,
        }
    }

    /// A GitHub delivery: event, delivery id, signature, content type.
    pub fn github(secret: &str, event: &str, delivery_id: &str, body: Vec<u8>) -> Delivery {
        Delivery::unsigned(GITHUB, body)
            .with_header("x-github-event", event)
            .with_header("x-github-delivery", delivery_id)
            .signed(secret)
            .with_header("content-type", "application/json")
    }

    /// A PagerDuty V3 delivery: signature, content type.
    pub fn pagerduty(secret: &str, body: Vec<u8>) -> Delivery {
        Delivery::unsigned(PAGERDUTY, body)
            .signed(secret)
            .with_header("content-type", "application/json")
    }

    /// A generic deployment or incident to `path`: signature, content type.
    pub fn generic(secret: &str, path: impl Into<String>, body: Vec<u8>) -> Delivery {
        Delivery::unsigned(path, body)
            .signed(secret)
            .with_header("content-type", "application/json")
    }

    /// A Jira Cloud delivery: signature, content type.
    pub fn jira(secret: &str, body: Vec<u8>) -> Delivery {
        Delivery::unsigned(JIRA, body)
            .signed(secret)
            .with_header("content-type", "application/json")
    }

    /// A Jira Server/Data Center delivery: unsigned, to the URL that carries `token`.
    pub fn jira_server(token: &str, body: Vec<u8>) -> Delivery {
        Delivery::unsigned(format!("{JIRA_SERVER_PREFIX}{token}"), body)
            .with_header("content-type", "application/json")
    }

    /// A Linear delivery: signature, content type. The body's `webhookTimestamp` must be
    /// within a minute of the receiver's clock ([`crate::payload::linear::sent_now`] stamps it).
    pub fn linear(secret: &str, body: Vec<u8>) -> Delivery {
        Delivery::unsigned(LINEAR, body)
            .signed(secret)
            .with_header("content-type", "application/json")
    }

    /// A GitLab delivery: event, event UUID, token, content type.
    pub fn gitlab(token: &str, event: &str, uuid: &str, body: Vec<u8>) -> Delivery {
        Delivery::unsigned(GITLAB, body)
            .with_header("content-type", "application/json")
            .with_header("x-gitlab-event", event)
            .with_header("x-gitlab-event-uuid", uuid)
            .signed(token)
    }

    /// A Bitbucket Cloud delivery (event key `pullrequest:…`, `repo:push`) with its
    /// `X-Request-UUID`; Data Center's (`pr:…`, `repo:refs_changed`) with `X-Request-Id`.
    pub fn bitbucket(secret: &str, event_key: &str, request_id: &str, body: Vec<u8>) -> Delivery {
        let id_header = if event_key.starts_with("pr:") || event_key == "repo:refs_changed" {
            "x-request-id"
        } else {
            "x-request-uuid"
        };
        Delivery::unsigned(BITBUCKET, body)
            .with_header("content-type", "application/json")
            .with_header("x-event-key", event_key)
            .with_header(id_header, request_id)
            .signed(secret)
    }

    /// An argocd-notifications delivery: bearer token, content type.
    pub fn argocd(token: &str, body: Vec<u8>) -> Delivery {
        Delivery::unsigned(ARGOCD, body)
            .with_header("content-type", "application/json")
            .signed(token)
    }

    /// This delivery as its source would send it now: a Linear delivery's `webhookTimestamp`
    /// set to the current time and its signature renewed with `linear_secret` (the webhook
    /// refuses one dated more than a minute off its clock); any other delivery as it is.
    pub fn sent_now(&self, linear_secret: &str) -> Delivery {
        let mut sent = self.clone();
        if self.source() == Source::Linear {
            sent.body = crate::payload::linear::sent_now(&self.body);
            sent.sign(linear_secret);
        }
        sent
    }

    /// Appends a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Delivery {
        self.headers.push((name, value.into()));
        self
    }

    /// Signs the body for this delivery's source with `secret` (see [`Delivery::sign`]); a
    /// Jira Server delivery is never signed, so this leaves it as it is.
    pub fn signed(mut self, secret: &str) -> Delivery {
        self.sign(secret);
        self
    }

    /// Sets the source's signature header for the current body, signed with `secret`: in
    /// place when there is one, else appended.
    pub fn sign(&mut self, secret: &str) {
        let source = self.source();
        if source == Source::JiraServer {
            return;
        }
        let signature = source.signature(secret, &self.body);
        self.set_header(source.signature_header(), signature);
    }

    /// Replaces the first header called `name` (appends one if there is none).
    pub fn set_header(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(header) => header.1 = value,
            None => self.headers.push((name, value)),
        }
    }

    /// Drops every header called `name`.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn source(&self) -> Source {
        Source::of(&self.path)
    }

    /// What the webhook's own parser makes of this delivery (the signature is not checked).
    pub fn normalize(&self) -> Result<Normalized, IngestError> {
        match self.source() {
            Source::GitHub => github::normalize_github(
                self.header("x-github-event").unwrap_or_default(),
                self.header("x-github-delivery").unwrap_or_default(),
                &self.body,
            ),
            Source::PagerDuty => pagerduty::normalize_pagerduty(&self.body),
            Source::Jira | Source::JiraServer => jira::normalize_jira(&self.body),
            Source::Linear => linear::normalize_linear(&self.body),
            Source::Generic if self.path == DEPLOYMENTS => {
                generic::normalize_generic_deployment(&self.body)
            }
            Source::Generic => generic::normalize_generic_incident(&self.body),
            Source::GitLab => gitlab::normalize_gitlab(
                self.header("x-gitlab-event").unwrap_or_default(),
                self.header("x-gitlab-event-uuid").unwrap_or_default(),
                &self.body,
            ),
            Source::Bitbucket => bitbucket::normalize_bitbucket(
                self.header("x-event-key").unwrap_or_default(),
                self.header("x-request-uuid")
                    .or_else(|| self.header("x-request-id"))
                    .unwrap_or_default(),
                &self.body,
            ),
            Source::ArgoCd => argocd::normalize_argocd(&self.body),
        }
    }

    /// The `(pk, sk)` of every fact this delivery must store, from the same parsers the
    /// webhook runs.
    pub fn expected_keys(&self) -> Result<Vec<(String, String)>, IngestError> {
        Ok(match self.normalize()? {
            Normalized::Facts(facts) => facts
                .iter()
                .map(|f| (f.entity.partition_key(), f.sort_key()))
                .collect(),
            Normalized::Ignored(_) => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowmeter::ingest::signature::{
        verify_generic, verify_github, verify_jira, verify_linear, verify_pagerduty,
    };

    #[test]
    fn each_source_signs_the_way_its_verifier_checks() {
        let body = br#"{"zen":"ok"}"#.to_vec();
        let github = Delivery::github("s1", "ping", "d-1", body.clone());
        assert_eq!(
            verify_github(b"s1", &github.body, github.header("X-Hub-Signature-256")),
            Ok(())
        );
        let pagerduty = Delivery::pagerduty("s2", body.clone());
        assert_eq!(
            verify_pagerduty(b"s2", &body, pagerduty.header("x-pagerduty-signature")),
            Ok(())
        );
        let generic = Delivery::generic("s3", INCIDENTS, body.clone());
        assert_eq!(
            verify_generic(b"s3", &body, generic.header("x-flowmeter-signature-256")),
            Ok(())
        );
        let jira = Delivery::jira("s4", body.clone());
        assert_eq!(
            verify_jira(b"s4", &body, jira.header("x-hub-signature")),
            Ok(())
        );
        let linear = Delivery::linear("s5", body.clone());
        assert_eq!(
            verify_linear(b"s5", &body, linear.header("linear-signature")),
            Ok(())
        );
        let server = Delivery::jira_server("t0k3n", body.clone());
        assert_eq!(server.path, "/webhooks/jira/t0k3n");
        assert_eq!(server.source(), Source::JiraServer);
        assert_eq!(server.headers.len(), 1, "unsigned: content type only");
        let names: Vec<&str> = github.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "x-github-event",
                "x-github-delivery",
                "x-hub-signature-256",
                "content-type"
            ]
        );
    }

    #[test]
    fn a_linear_delivery_is_dated_and_signed_anew_when_sent() {
        let body = br#"{"type":"Issue","webhookTimestamp":1}"#.to_vec();
        let recorded = Delivery::linear("s5", body);
        let sent = recorded.sent_now("s5");
        let stamped: serde_json::Value = serde_json::from_slice(&sent.body).expect("JSON");
        assert!(stamped["webhookTimestamp"].as_i64().is_some_and(|t| t > 1));
        assert_eq!(
            verify_linear(b"s5", &sent.body, sent.header("linear-signature")),
            Ok(())
        );
        let github = Delivery::github("s1", "ping", "d-1", b"{}".to_vec());
        assert_eq!(github.sent_now("s5"), github);
    }

    #[test]
    fn resigning_replaces_the_signature_in_place() {
        let mut d = Delivery::github("right", "ping", "d-1", b"{}".to_vec());
        let order: Vec<&str> = d.headers.iter().map(|(n, _)| *n).collect();
        d.sign("wrong");
        assert_eq!(d.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>(), order);
        assert_eq!(
            d.header("x-hub-signature-256"),
            Some(Source::GitHub.signature("wrong", b"{}").as_str())
        );
        d.remove_header("x-hub-signature-256");
        assert_eq!(d.header("x-hub-signature-256"), None);
    }
}
