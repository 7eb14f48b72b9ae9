//! The webhook Lambda: API Gateway HTTP API → `flowmeter_edge::webhook::handle_webhook`.

use flowmeter_edge::lambda_http::{run, service_fn, Error, Request};
use flowmeter_edge::settings::{lambda_store, WebhookSecrets};
use flowmeter_edge::webhook::handle_webhook;

#[tokio::main]
async fn main() -> Result<(), Error> {
    flowmeter_edge::init_logging();
    let store = lambda_store().await?;
    // Read once per container; an unreadable secret fails the init (Lambda retries it).
    let secrets = WebhookSecrets::load().await?;
    run(service_fn(|request: Request| {
        let (store, secrets) = (&store, &secrets);
        async move { Ok::<_, Error>(handle_webhook(store, secrets, &request).await) }
    }))
    .await
}
