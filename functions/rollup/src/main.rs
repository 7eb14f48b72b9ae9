//! The rollup Lambda: DynamoDB stream batches (filtered to `FACT#` items by the event source
//! mapping) → `flowmeter_edge::stream::handle_stream_event`, with partial batch failures.

use flowmeter_edge::aws_lambda_events::dynamodb::Event;
use flowmeter_edge::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use flowmeter_edge::settings::lambda_store;
use flowmeter_edge::stream::handle_stream_event;

#[tokio::main]
async fn main() -> Result<(), Error> {
    flowmeter_edge::init_logging();
    let store = lambda_store().await?;
    run(service_fn(|event: LambdaEvent<Event>| {
        let store = &store;
        async move { Ok::<_, Error>(handle_stream_event(store, event.payload).await?) }
    }))
    .await
}
