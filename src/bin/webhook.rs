//! Lambda entry point for the webhook: build shared state once, then serve requests.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use lambda_http::{Error, Request, run, service_fn};
use revoker::config::Config;
use revoker::entra::TokenClient;
use revoker::graph::GraphClient;
use revoker::ingress::{self, App};
use revoker::secrets::SecretStore;

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
    let secrets = Arc::new(SecretStore::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        config.credentials_secret_id.clone(),
        config.secret_ttl,
    ));
    // Read the secret during init, which Lambda runs before the first request: a cold start
    // then spends none of the sender's time budget on it. A failure here is retried per request.
    if let Err(e) = secrets.get().await {
        tracing::warn!(error = %e, "could not read the secret at init");
    }
    // One HTTP client for Entra and Graph; each request also gets the deadline's remainder.
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(500))
        .user_agent(concat!("lost-device-revoker/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let tokens = TokenClient::new(
        http.clone(),
        config.authority_url.clone(),
        config.cloud,
        Arc::clone(&secrets),
    );
    let graph = GraphClient::new(http, config.graph_url.clone(), config.revoke_action, tokens);
    let app = App::new(config, secrets, graph);
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(ingress::handle(app, req).await)
    }))
    .await
}
