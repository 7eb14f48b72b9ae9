//! What a function reads from its environment, read once per container.

use aws_sdk_dynamodb::Client;
use flowmeter::config::OrgConfig;

use crate::store::{Store, StoreError};

/// Builds the DynamoDB client. `FLOWMETER_DYNAMODB_ENDPOINT` points it at DynamoDB Local; in
/// AWS it is unset and the regional endpoint is used.
pub async fn dynamodb_client() -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Ok(endpoint) = std::env::var("FLOWMETER_DYNAMODB_ENDPOINT") {
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
}

impl WebhookSecrets {
    pub fn from_env() -> WebhookSecrets {
        let read = |name: &str| std::env::var(name).unwrap_or_default().into_bytes();
        WebhookSecrets {
            github: read("FLOWMETER_GITHUB_SECRET"),
            pagerduty: read("FLOWMETER_PAGERDUTY_SECRET"),
            generic: read("FLOWMETER_WEBHOOK_SECRET"),
        }
    }
}
