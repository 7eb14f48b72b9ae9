//! Flowmeter's AWS edge: the DynamoDB store, the Lambda handlers (webhook, rollup, api, digest)
//! and the local stream poller. The function crates and the dev server are thin wiring around
//! these handlers, so locally and in AWS the same code answers.

pub mod api;
pub mod backfill;
pub mod digest;
pub mod github;
pub mod http;
pub mod local_stream;
pub mod notifier;
pub mod notify;
pub mod pipeline;
pub mod publish;
pub mod reprocess;
pub mod schema;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod stream;
pub mod webhook;

pub use aws_lambda_events;
pub use lambda_http;
pub use lambda_runtime;

/// JSON logs (CloudWatch's structured format), level from `RUST_LOG` (default info).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .try_init();
}
