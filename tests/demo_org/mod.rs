//! The demo org (`flowmeter_demo`) as the end-to-end tests load it: signed with the secrets the
//! tests' webhook handler checks, and delivered into a fresh table.
//!
//! A module each test binary includes (`mod demo_org;`) rather than part of `flowmeter_e2e`:
//! the demo is a dev-dependency, which the support library cannot see.

use chrono::{DateTime, Utc};
use flowmeter_demo::{generate_with, DemoDelivery, DemoOrg, Params, Secrets};
use flowmeter_edge::store::Store;

/// The demo org from `seed`, `weeks` long up to `now`, at `activity` times its activity.
pub fn org(seed: u64, now: DateTime<Utc>, weeks: u32, activity: f64) -> DemoOrg {
    let mut params = Params::new(seed, now);
    params.weeks = weeks;
    params.activity = activity;
    params.secrets = secrets();
    generate_with(&params)
}

/// [`flowmeter_e2e::secrets`] as the demo signs with them, so that the two cannot drift apart.
fn secrets() -> Secrets {
    let tests = flowmeter_e2e::secrets();
    let text = |secret: Vec<u8>| String::from_utf8(secret).expect("UTF-8 secret");
    Secrets {
        github: text(tests.github),
        pagerduty: text(tests.pagerduty),
        generic: text(tests.generic),
        jira: text(tests.jira),
        jira_token: text(tests.jira_token),
        linear: text(tests.linear),
        gitlab: text(tests.gitlab),
        argocd: text(tests.argocd),
    }
}

/// A fresh table holding `org`'s config and `deliveries` (each accepted by the webhook
/// handler). The stream is left undrained: some tests change the table before the rollup runs.
pub async fn load<'a>(
    label: &str,
    org: &DemoOrg,
    deliveries: impl IntoIterator<Item = &'a DemoDelivery>,
) -> Store {
    let store = flowmeter_e2e::fresh_store(label).await;
    store.put_config(&org.config_yaml).await.expect("config");
    let deliveries: Vec<_> = deliveries.into_iter().map(|d| d.delivery.clone()).collect();
    flowmeter_e2e::deliver_all(&store, &deliveries).await;
    store
}
