//! The notifier Lambda: batches of Flowmeter's domain events from the notification queue (an
//! EventBridge rule on the bus feeds it) → `flowmeter_edge::notifier::handle_queue_batch`,
//! which routes them by the config's `notifications.routes` to the secret's chat channels.
//! It reads the secret and the config item, nothing else.

use flowmeter_edge::aws_lambda_events::event::sqs::SqsEvent;
use flowmeter_edge::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use flowmeter_edge::notifier::handle_queue_batch;
use flowmeter_edge::settings::{lambda_store, load_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flowmeter_edge::init_logging();
    let store = lambda_store().await?;
    let http = reqwest::Client::new();
    let secrets = flowmeter_edge::secrets::load().await?;
    if !secrets.channels_error.is_empty() {
        tracing::error!(error = %secrets.channels_error, "the secret's channels are invalid: no channel gets messages until they are fixed");
    }
    let channels = secrets.channels;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (store, http, channels) = (&store, &http, &channels);
        async move {
            let config = load_config(store).await?;
            Ok::<_, Error>(handle_queue_batch(http, &config, channels, event.payload).await)
        }
    }))
    .await
}
