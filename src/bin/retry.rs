//! Lambda entry point for the SQS retry queue: build shared state once, then work off batches,
//! reporting the messages that must come back (`ReportBatchItemFailures`).

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use revoker::retry;
use revoker::startup::Instance;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    revoker::logging::init();
    let instance = Instance::from_env()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let decider = &instance.retry();
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = retry::deadline_from_epoch_ms(event.context.deadline);
        Ok::<SqsBatchResponse, Infallible>(
            retry::handle_batch(decider, event.payload, deadline).await,
        )
    }))
    .await
}
