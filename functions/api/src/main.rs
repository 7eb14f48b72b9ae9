//! The api Lambda: API Gateway HTTP API → `flowmeter_edge::api::handle_api`.

use flowmeter_edge::api::{handle_api, ApiState};
use flowmeter_edge::lambda_http::{run, service_fn, Error, Request};
use flowmeter_edge::settings::lambda_store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    flowmeter_edge::init_logging();
    // An unreadable secret fails the init (the process exits; Lambda retries it).
    let state = ApiState::from_env(lambda_store().await?).await?;
    run(service_fn(|request: Request| {
        let state = &state;
        async move { Ok::<_, Error>(handle_api(state, &request).await) }
    }))
    .await
}
