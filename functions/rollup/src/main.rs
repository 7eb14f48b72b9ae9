//! The rollup Lambda: DynamoDB stream batches (filtered to `FACT#` items by the event source
//! mapping) → `flowmeter_edge::stream::handle_stream_event`, with partial batch failures; the
//! run's domain events to the bus `EVENT_BUS_NAME`.

use flowmeter_edge::aws_lambda_events::dynamodb::Event;
use flowmeter_edge::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use flowmeter_edge::publish::EventPublisher;
use flowmeter_edge::settings::lambda_store;
use flowmeter_edge::stream::handle_stream_event;

#[tokio::main]
async fn main() -> Result<(), Error> {
    flowmeter_edge::init_logging();
    let store = lambda_store().await?;
    // `EVENT_BUS_NAME` (the template sets it): where domain events go.
    let publisher = EventPublisher::from_env().await;
    run(service_fn(|event: LambdaEvent<Event>| {
        let (store, publisher) = (&store, publisher.as_ref());
        async move { Ok::<_, Error>(handle_stream_event(store, publisher, event.payload).await?) }
    }))
    .await
}
