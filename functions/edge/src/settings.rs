//! What a function reads from its environment, read once per container.

use aws_sdk_dynamodb::Client;
use flowmeter::config::OrgConfig;

use crate::secrets::{self, Secrets, SecretsError};
use crate::store::{Store, StoreError};

/// Builds the DynamoDB client. `FLOWMETER_DYNAMODB_ENDPOINT` points it at DynamoDB Local; in
/// AWS it is unset and the regional endpoint is used.
pub async fn dynamodb_client() -> Client {
    dynamodb_client_at(std::env::var("FLOWMETER_DYNAMODB_ENDPOINT").ok().as_deref()).await
}

/// The DynamoDB client for an explicit endpoint (`None`: the regional one): the local stack,
/// or a fault-injecting stand-in in front of it in the tests.
pub async fn dynamodb_client_at(endpoint: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    Client::new(&shared)
}

/// The table name: `TABLE_NAME` (set by the SAM template), default `flowmeter` locally.
pub fn table_name() -> String {
    std::env::var("TABLE_NAME").unwrap_or_else(|_| "flowmeter".to_string())
}

pub async fn store_from_env() -> Store {
    Store::new(dynamodb_client().await, table_name())
}

#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    #[error("{0} is not set (the template sets it for every function): cannot start")]
    Missing(&'static str),
}

/// The table of a Lambda function, where `TABLE_NAME` is required. The template sets it for
/// every function; without it [`table_name`]'s local default would aim the function at a table
/// named `flowmeter` (missing, or another stack's), so every request would fail or, worse,
/// land elsewhere. An error here fails the init, which says why at once.
pub async fn lambda_store() -> Result<Store, SettingError> {
    let table = std::env::var("TABLE_NAME")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or(SettingError::Missing("TABLE_NAME"))?;
    Ok(Store::new(dynamodb_client().await, table))
}

/// The org configuration stored in the table, or the defaults when none was pushed yet.
pub async fn load_config(store: &Store) -> Result<OrgConfig, StoreError> {
    Ok(store.config().await?.map(|(c, _)| c).unwrap_or_default())
}

/// Webhook secrets. An unset or empty secret rejects every delivery of that source: better a
/// 401 than accepting unsigned data.
#[derive(Clone, Default)]
pub struct WebhookSecrets {
    pub github: Vec<u8>,
    pub pagerduty: Vec<u8>,
    pub generic: Vec<u8>,
    /// Jira Cloud's signing secret.
    pub jira: Vec<u8>,
    /// The token in Jira Server's webhook URL (`/webhooks/jira/<token>`).
    pub jira_token: Vec<u8>,
    pub linear: Vec<u8>,
    /// GitLab's webhook secret token (`X-Gitlab-Token`).
    pub gitlab: Vec<u8>,
    /// GitLab's signing token, for instances that sign deliveries; empty: not required.
    pub gitlab_signing: Vec<u8>,
    /// Bitbucket Cloud's and Data Center's webhook secret (`X-Hub-Signature`).
    pub bitbucket: Vec<u8>,
    /// The bearer token argocd-notifications sends (`Authorization: Bearer …`).
    pub argocd: Vec<u8>,
}

impl WebhookSecrets {
    /// From the `FLOWMETER_*` environment variables only: the dev server and the tests, which
    /// never talk to Secrets Manager (and whose settings are read synchronously).
    pub fn from_env() -> WebhookSecrets {
        WebhookSecrets::from(&secrets::from_env())
    }

    /// What the webhook Lambda calls at init: the Secrets Manager secret named by
    /// `FLOWMETER_SECRET_ARN` (through the extension, cached per container), or the environment
    /// variables when that is unset. An error fails the init, so Lambda retries it on the next
    /// request instead of the container answering 401 for its whole life.
    pub async fn load() -> Result<WebhookSecrets, SecretsError> {
        Ok(WebhookSecrets::from(&secrets::load().await?))
    }
}

impl From<&Secrets> for WebhookSecrets {
    fn from(s: &Secrets) -> WebhookSecrets {
        WebhookSecrets {
            github: s.github.clone().into_bytes(),
            pagerduty: s.pagerduty.clone().into_bytes(),
            generic: s.generic.clone().into_bytes(),
            jira: s.jira_secret.clone().into_bytes(),
            jira_token: s.jira_token.clone().into_bytes(),
            linear: s.linear_secret.clone().into_bytes(),
            gitlab: s.gitlab_token.clone().into_bytes(),
            gitlab_signing: s.gitlab_signing_token.clone().into_bytes(),
            bitbucket: s.bitbucket_secret.clone().into_bytes(),
            argocd: s.argocd_token.clone().into_bytes(),
        }
    }
}

/// Bearer tokens of the read API (`api_token`, locally `FLOWMETER_API_TOKEN`) and of admin
/// routes (`admin_token`, locally `FLOWMETER_ADMIN_TOKEN`). Unset tokens lock their routes.
#[derive(Clone, Default)]
pub struct ApiTokens {
    pub api: String,
    pub admin: String,
    /// Signs share keys; empty means derived from `admin` (`flowmeter::share::signing_secret`).
    pub share: String,
    /// Opens the release-version gate only.
    pub gate: String,
}

impl ApiTokens {
    /// The tokens from the secret (or the environment), as [`WebhookSecrets::load`] reads them.
    /// An unreadable secret is an error for the caller to fail its init with (the api Lambda
    /// exits, and Lambda starts a fresh container on the next request): returning empty tokens
    /// would lock every route of this container (401s indistinguishable from a bad token)
    /// until it is recycled.
    pub async fn load() -> Result<ApiTokens, SecretsError> {
        let s = secrets::load().await?;
        Ok(ApiTokens {
            api: s.api_token,
            admin: s.admin_token,
            share: s.share_secret,
            gate: s.gate_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_gets_its_own_secret() {
        let secrets = crate::secrets::from_vars(|name| Some(format!("{name}-value")));
        let webhook = WebhookSecrets::from(&secrets);
        for (field, var) in [
            (&webhook.github, "FLOWMETER_GITHUB_SECRET"),
            (&webhook.pagerduty, "FLOWMETER_PAGERDUTY_SECRET"),
            (&webhook.generic, "FLOWMETER_WEBHOOK_SECRET"),
            (&webhook.jira, "FLOWMETER_JIRA_SECRET"),
            (&webhook.jira_token, "FLOWMETER_JIRA_TOKEN"),
            (&webhook.linear, "FLOWMETER_LINEAR_SECRET"),
            (&webhook.gitlab, "FLOWMETER_GITLAB_TOKEN"),
            (&webhook.gitlab_signing, "FLOWMETER_GITLAB_SIGNING_TOKEN"),
            (&webhook.bitbucket, "FLOWMETER_BITBUCKET_SECRET"),
            (&webhook.argocd, "FLOWMETER_ARGOCD_TOKEN"),
        ] {
            assert_eq!(field.as_slice(), format!("{var}-value").as_bytes());
        }
    }
}
