//! Lambda entry point for the webhook: build shared state once, then serve requests.

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use revoker::http::{self, App};
use revoker::retry::queue::SqsQueue;
use revoker::startup::Wiring;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    revoker::logging::init();
    let wiring = Wiring::from_env()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let queue = wiring
        .config
        .retry_queue_url
        .clone()
        .map(|url| SqsQueue::new(aws_sdk_sqs::Client::new(&wiring.aws), url));
    if queue.is_none() {
        tracing::warn!(
            "RETRY_QUEUE_URL is not set: revocations that cannot finish inline answer 503"
        );
    }
    let app = App::new(wiring.config, wiring.secrets, wiring.graph, queue);
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(http::handle(app, req).await)
    }))
    .await
}
