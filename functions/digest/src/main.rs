//! The digest Lambda, run by the Monday schedule. The digest issue builds the report; until
//! then it only records that it ran, so the schedule and permissions can be deployed and tested.

use flowmeter_edge::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    flowmeter_edge::init_logging();
    run(service_fn(|event: LambdaEvent<Value>| async move {
        tracing::info!(request_id = %event.context.request_id, "digest invoked; not implemented yet");
        Ok::<_, Error>(serde_json::json!({"sent": false, "reason": "digest not implemented yet"}))
    }))
    .await
}
