//! Lambda entry point for the webhook: build shared state once, then serve requests.
//!
//! The event is taken as raw JSON and turned into a request by `revoker::http`, not by
//! `lambda_http`'s adapter, which panics on some malformed envelopes (see `http::lambda`).

use std::convert::Infallible;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use revoker::http;
use revoker::startup::Instance;
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    revoker::logging::init();
    let instance = Instance::from_env()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app = &instance.webhook();
    run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            Ok::<_, Infallible>(http::handle_event(app, &event.payload).await)
        },
    ))
    .await
}
