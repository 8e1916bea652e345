//! Lambda entry point for the Intune poller, run on an EventBridge schedule (reserved
//! concurrency 1): build shared state once, then one pass over Intune's audit records per
//! invocation. A run that could not read or save its checkpoint fails the invocation, which
//! the template's alarm on the function's errors reports; the next run starts from the last
//! saved checkpoint.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use revoker::retry;
use revoker::startup::Instance;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    revoker::logging::init();
    let poller = Instance::from_env()
        .await
        .and_then(Instance::intune)
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let poller = &poller;
    // The scheduled event itself says nothing the run needs: what to read is in the checkpoint.
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = retry::deadline_from_epoch_ms(event.context.deadline);
            poller
                .run(deadline)
                .await
                .inspect_err(|e| tracing::error!(error = %e, "intune run failed"))
                .map_err(Error::from)
        },
    ))
    .await
}
