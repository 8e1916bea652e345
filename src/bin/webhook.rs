//! Lambda entry point for the webhook: build shared state once, then serve requests.

use std::convert::Infallible;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use lambda_http::{Error, Request, run, service_fn};
use revoker::config::Config;
use revoker::domain::{LostDeviceEvent, UserRef};
use revoker::ingress::{self, App};
use revoker::revoke::{Revocation, Revoker};
use revoker::secrets::SecretStore;

/// The act step before the Graph client exists: nothing is revoked, and every user that
/// would have been is reported `failed` (503), so no sender is told the work was done.
/// `DRY_RUN=true` is the mode this build is meant for.
struct GraphClientNotBuilt;

impl Revoker for GraphClientNotBuilt {
    async fn revoke(&self, event: &LostDeviceEvent, user: &UserRef) -> Revocation {
        tracing::error!(
            event_id = %event.id,
            user = %user,
            "this build cannot call Microsoft Graph yet; run it with DRY_RUN=true"
        );
        Revocation::Transient
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;

    // Jamf Pro waits 2 s for an answer: a cold read of the secret must fit well inside that.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_millis(800))
        .operation_timeout(Duration::from_millis(1500))
        .build();
    let aws = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    let secrets = SecretStore::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        config.credentials_secret_id.clone(),
        config.secret_ttl,
    );
    let app = App::new(config, secrets, GraphClientNotBuilt);
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(ingress::handle(app, req).await)
    }))
    .await
}
