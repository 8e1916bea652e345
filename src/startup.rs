//! The state both functions build once at init, before the first event: configuration, the
//! AWS SDK configuration, the secret store (read once here), and the Graph client with its
//! token client, on one HTTP client.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::aws::secrets_manager::SecretStore;
use crate::config::{Config, ConfigError};
use crate::microsoft::graph::GraphClient;
use crate::microsoft::token::TokenClient;

/// Built once per instance and shared by every invocation.
#[derive(Debug)]
pub struct Wiring {
    pub config: Config,
    pub aws: SdkConfig,
    pub secrets: Arc<SecretStore>,
    pub graph: GraphClient,
}

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("bad configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    AwsCredentials(#[from] crate::aws::NoCredentials),
}

impl Wiring {
    /// Reads the environment and builds everything. The secret is read here, during Lambda's
    /// init phase, so a cold start spends none of the sender's time budget on it; a failure
    /// is only logged, and the read is retried per request.
    pub async fn from_env() -> Result<Self, InitError> {
        let config = Config::from_env()?;
        // What this instance will do, logged once (the configuration holds no secret).
        tracing::info!(
            graph_url = %config.graph_url,
            action = config.revoke_action.name(),
            dry_run = config.dry_run,
            retry_queue = config.retry_queue_url.is_some(),
            protected_users = config.protected_users.len(),
            "configured"
        );
        // One HTTP client for AWS, Entra and Graph; each Graph request also gets the
        // deadline's remainder.
        let http = crate::aws::transport::http_client()?;
        let aws = crate::aws::sdk_config(http.clone()).await?;
        let secrets = Arc::new(SecretStore::new(
            aws_sdk_secretsmanager::Client::new(&aws),
            config.credentials_secret_id.clone(),
            config.secret_ttl,
        ));
        if let Err(e) = secrets.get().await {
            tracing::warn!(error = %e, "could not read the secret at init");
        }
        let tokens = TokenClient::new(
            http.clone(),
            config.authority_url.clone(),
            config.cloud,
            Arc::clone(&secrets),
        );
        let graph = GraphClient::new(http, config.graph_url.clone(), config.revoke_action, tokens);
        Ok(Self {
            config,
            aws,
            secrets,
            graph,
        })
    }
}
