//! Start-up: everything an instance builds once, before its first event, in one place that the
//! binaries and the integration tests share, so the tests exercise the wiring that ships.
//!
//! [`Clients`] are the outbound clients (one HTTP client, and the AWS SDK clients sending
//! through it); [`Instance::build`] makes the shared state from a [`Config`] and them; the
//! webhook and the retry function each take their part of it. This is the one module that
//! names the concrete adapters: Graph behind `Revoker`, SQS behind `RetryQueue`, DynamoDB
//! behind `Ledger`, SNS behind `Notifier`.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::aws::{DynamoCheckpoint, DynamoLedger, NoCredentials, SecretStore, SnsNotifier};
use crate::config::{Config, ConfigError};
use crate::http::App;
use crate::intune::{PollSettings, Poller};
use crate::microsoft::{GraphClient, TokenClient};
use crate::retry::SqsQueue;
use crate::revocation::{Decider, Notifier, Revoker};

/// The production act step: Microsoft Graph, with the credentials from the secret.
pub type Graph = GraphClient<SecretStore>;
/// The webhook's state; tests may substitute the act step `R`.
pub type WebhookApp<R = Graph> = App<R, SqsQueue, DynamoLedger>;
/// The retry function's state: the same decisions and ledger, with no queue of its own.
pub type RetryDecider<R = Graph> = Decider<R, SqsQueue, DynamoLedger>;
/// The Intune function's state: the same decisions, the retry queue, and the checkpoint in
/// the ledger table.
pub type IntunePoller<R = Graph> = Poller<R, SqsQueue, DynamoLedger, DynamoCheckpoint>;

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("bad configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    AwsCredentials(#[from] NoCredentials),
}

/// Every outbound client, built once. The binaries take them from the Lambda environment;
/// tests point each at a local stand-in.
#[derive(Debug, Clone)]
pub struct Clients {
    /// The one HTTP client: Entra and Graph directly, AWS through the SDK's adapter.
    pub http: reqwest::Client,
    pub secrets_manager: aws_sdk_secretsmanager::Client,
    /// Only where a retry queue is configured: building an SDK client costs cold-start CPU.
    pub sqs: Option<aws_sdk_sqs::Client>,
    /// Only where a ledger table is configured.
    pub dynamodb: Option<aws_sdk_dynamodb::Client>,
    /// Only where a notification topic is configured.
    pub sns: Option<aws_sdk_sns::Client>,
}

impl Clients {
    /// The AWS clients `config` needs, from `sdk`, with `http` for Entra and Graph.
    fn new(http: reqwest::Client, sdk: &SdkConfig, config: &Config) -> Self {
        Self {
            http,
            secrets_manager: aws_sdk_secretsmanager::Client::new(sdk),
            sqs: config
                .retry_queue_url
                .as_ref()
                .map(|_| aws_sdk_sqs::Client::new(sdk)),
            dynamodb: config
                .ledger_table
                .as_ref()
                .map(|_| crate::aws::dynamodb_client(sdk)),
            sns: config
                .notify_topic_arn
                .as_ref()
                .map(|_| crate::aws::sns_client(sdk)),
        }
    }

    /// From the Lambda environment: region, credentials and endpoint overrides.
    async fn from_env(config: &Config) -> Result<Self, InitError> {
        let http = crate::aws::http_client()?;
        let sdk = crate::aws::sdk_config(http.clone()).await?;
        Ok(Self::new(http, &sdk, config))
    }
}

/// The state both functions share, built once per instance.
#[derive(Debug)]
pub struct Instance {
    config: Config,
    secrets: Arc<SecretStore>,
    clients: Clients,
}

impl Instance {
    /// What the binaries run: the configuration and clients from the environment.
    pub async fn from_env() -> Result<Self, InitError> {
        let config = Config::from_env()?;
        // What this instance will do, logged once (the configuration holds no secret).
        tracing::info!(
            graph_url = %config.graph_url,
            action = config.revoke_action.name(),
            dry_run = config.dry_run,
            retry_queue = config.retry_queue_url.is_some(),
            ledger = config.ledger_table.is_some(),
            protected_users = config.protected_users.len(),
            protected_groups = config.protected_groups.len(),
            notify = config.notify_topic_arn.is_some(),
            "configured"
        );
        let clients = Clients::from_env(&config).await?;
        Ok(Self::build(config, clients).await)
    }

    /// Builds the shared state. The secret is read here, during Lambda's init phase, so a
    /// cold start spends none of the sender's time budget on it; a failure is only logged,
    /// and the read is retried per request.
    pub async fn build(config: Config, clients: Clients) -> Self {
        let secrets = Arc::new(SecretStore::new(
            clients.secrets_manager.clone(),
            config.credentials_secret_id.clone(),
            config.secret_ttl,
        ));
        if let Err(e) = secrets.refresh().await {
            tracing::warn!(error = %e, "could not read the secret at init");
        }
        Self {
            config,
            secrets,
            clients,
        }
    }

    /// The Graph client and its token client, on the shared HTTP client, reading the Entra
    /// credentials from the secret store; each Graph request also gets the deadline's remainder.
    fn graph(&self) -> Graph {
        let tokens = TokenClient::new(
            self.clients.http.clone(),
            self.config.authority_url.clone(),
            self.config.cloud,
            Arc::clone(&self.secrets),
        );
        GraphClient::new(
            self.clients.http.clone(),
            self.config.graph_url.clone(),
            self.config.revoke_action,
            tokens,
        )
    }

    /// The ledger, where one is configured (and its client given); otherwise duplicates are
    /// caught only within each warm instance, which the log says once.
    fn ledger(&self) -> Option<DynamoLedger> {
        let ledger = self
            .config
            .ledger_table
            .clone()
            .zip(self.clients.dynamodb.clone())
            .map(|(table, dynamodb)| DynamoLedger::new(dynamodb, table, self.config.ledger_ttl));
        if ledger.is_none() {
            tracing::warn!(
                "LEDGER_TABLE is not set: a redelivery that reaches another instance acts again"
            );
        }
        ledger
    }

    /// The notifier, where a topic is configured (and its client given).
    fn notifier(&self) -> Option<Arc<dyn Notifier>> {
        let topic = self.config.notify_topic_arn.clone()?;
        let sns = self.clients.sns.clone()?;
        Some(Arc::new(SnsNotifier::new(sns, topic)))
    }

    /// The webhook, revoking through Graph.
    pub fn webhook(self) -> WebhookApp {
        let graph = self.graph();
        self.webhook_with(graph)
    }

    /// The webhook with another act step (tests record calls instead of calling Graph).
    /// Without `RETRY_QUEUE_URL`, a revocation that cannot finish inline answers 503.
    pub fn webhook_with<R: Revoker>(self, revoker: R) -> WebhookApp<R> {
        let queue = self.queue();
        let ledger = self.ledger();
        let notifier = self.notifier();
        App::new(self.config, self.secrets, revoker, queue, ledger).with_notifier(notifier)
    }

    /// The retry queue, where one is configured.
    fn queue(&self) -> Option<SqsQueue> {
        let queue = self
            .config
            .retry_queue_url
            .clone()
            .zip(self.clients.sqs.clone())
            .map(|(url, sqs)| SqsQueue::new(sqs, url));
        if queue.is_none() {
            tracing::warn!(
                "RETRY_QUEUE_URL is not set: revocations that cannot finish inline are owed \
                 to the sender's retry (503), or to the next Intune run"
            );
        }
        queue
    }

    /// The retry function's decider. It has no queue: a job that fails again goes back to
    /// SQS as a batch item failure.
    pub fn retry(self) -> RetryDecider {
        let graph = self.graph();
        self.retry_with(graph)
    }

    /// The retry function's decider with another act step (tests record calls).
    pub fn retry_with<R: Revoker>(self, revoker: R) -> RetryDecider<R> {
        let ledger = self.ledger();
        Decider::new(self.config.policy(), revoker, None, ledger).with_notifier(self.notifier())
    }

    /// The Intune poller: it needs the ledger table, which holds its checkpoint and makes each
    /// audit record count once, and refuses to start without it.
    pub fn intune(self) -> Result<IntunePoller, InitError> {
        let Some(ledger) = self.ledger() else {
            return Err(ConfigError {
                variable: "LEDGER_TABLE",
                problem: "is required by the intune function (it holds the checkpoint and \
                          makes each audit record count once) and not set"
                    .to_owned(),
            }
            .into());
        };
        let settings = PollSettings {
            lost_actions: self.config.intune_lost_actions.clone(),
            lookback: self.config.intune_lookback,
            disable_lost_devices: self.config.disable_lost_devices,
            max_users: self.config.max_users_per_event,
        };
        let checkpoint = ledger.checkpoint();
        let decider = Decider::new(
            self.config.policy(),
            self.graph(),
            self.queue(),
            Some(ledger),
        )
        .with_notifier(self.notifier());
        Ok(Poller::new(decider, checkpoint, settings))
    }
}
