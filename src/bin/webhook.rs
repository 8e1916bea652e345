//! Lambda entry point for the webhook: build shared state once, then serve requests.

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use revoker::http;
use revoker::startup::Instance;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    revoker::logging::init();
    let instance = Instance::from_env()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app = &instance.webhook();
    run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(http::handle(app, req).await)
    }))
    .await
}
