//! The secret's store: reads the function's secret from AWS Secrets Manager through an
//! injected client, parses it (`config::AppSecret`) and caches it for `SECRET_TTL_SECONDS`. It
//! is the production [`CredentialSource`] of the token client.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::describe_sdk_error;
use crate::config::{AppSecret, SecretFormatError};
use crate::microsoft::{CredentialSource, CredentialsError, EntraCredentials};
use crate::payload::json_fields::FieldError;

/// Why the secret could not be had. Carries ids and key names, never secret values.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager did not answer usefully (network, throttling, its own 5xx): retry later.
    #[error("Secrets Manager is unavailable: {0}")]
    Unavailable(String),
    /// The function may not or cannot read the secret: an operator must fix the deployment.
    #[error("cannot read secret {secret_id} ({code}): {hint}")]
    Inaccessible {
        secret_id: String,
        code: String,
        hint: &'static str,
    },
    /// The secret was read but is not the JSON the function expects.
    #[error(transparent)]
    Format(#[from] SecretFormatError),
}

impl SecretError {
    /// True when retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<SecretError> for CredentialsError {
    fn from(e: SecretError) -> Self {
        CredentialsError::new(e.is_transient(), e.to_string())
    }
}

/// Error codes after which retrying cannot help: the deployment needs fixing.
const PERMANENT_CODES: &[(&str, &str)] = &[
    (
        "ResourceNotFoundException",
        "check CREDENTIALS_SECRET_ID and the region",
    ),
    (
        "AccessDeniedException",
        "grant secretsmanager:GetSecretValue on this secret to the function's role",
    ),
    (
        "DecryptionFailure",
        "grant kms:Decrypt on the secret's KMS key to the function's role",
    ),
    (
        "InvalidRequestException",
        "the secret may be scheduled for deletion or have no current version",
    ),
    ("InvalidParameterException", "check CREDENTIALS_SECRET_ID"),
];

/// After a failed read, how long the previous value is used before Secrets Manager is asked
/// again (so an outage does not add a timeout to every request).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// After a failed read with no previous value to serve, the first wait before the next read;
/// it doubles with each failure up to [`RETRY_AFTER_FAILURE`]. Meanwhile requests get the
/// failed read's answer (503, or 500 for a misconfiguration) at once, so unauthenticated
/// requests during an outage or a misconfiguration cost no call each.
const FIRST_RETRY_WITHOUT_SECRET: Duration = Duration::from_secs(1);
/// How long past its TTL a previous value may stand in during an outage: a webhook secret
/// removed because it leaked must not stay valid for as long as an outage lasts.
const MAX_STALE: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    /// Set by a failed read, cleared by a good one.
    failed: Option<Failure>,
}

struct Cached {
    secret: Arc<AppSecret>,
    read_at: Instant,
}

struct Failure {
    /// No new read before this instant.
    retry_at: Instant,
    /// Failed reads in a row.
    count: u32,
    /// What the last read said, answered again while backing off.
    error: SecretError,
}

/// Reads the secret through an injected Secrets Manager client and caches it.
pub struct SecretStore {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    ttl: Duration,
    // Held across the fetch, so concurrent misses make one request.
    state: Mutex<State>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("secret_id", &self.secret_id)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: String, ttl: Duration) -> Self {
        Self {
            client,
            secret_id,
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    /// The cached secret, read again once it is older than the TTL. When that read fails for
    /// a transient reason, the previous value keeps serving (for at most `MAX_STALE` past
    /// the TTL, re-trying every `RETRY_AFTER_FAILURE`): a brief Secrets Manager outage must
    /// not turn lost-device alerts away. With nothing to serve, a failed read is answered
    /// again without a call until its back-off ends.
    pub async fn get(&self) -> Result<Arc<AppSecret>, SecretError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let backing_off = state.failed.as_ref().is_some_and(|f| now < f.retry_at);
        // Only an outage lets the previous value stand in. After a misconfiguration (a
        // malformed new secret, a denied read) it must not: the change may have removed a
        // leaked webhook secret.
        let outage = state
            .failed
            .as_ref()
            .is_some_and(|f| f.error.is_transient());
        if let Some(c) = state.cached.as_ref() {
            let age = c.read_at.elapsed();
            if age < self.ttl || (backing_off && outage && age < self.ttl + MAX_STALE) {
                return Ok(Arc::clone(&c.secret));
            }
        }
        if backing_off && let Some(failure) = state.failed.as_ref() {
            return Err(failure.error.clone());
        }
        match self.fetch().await {
            Ok(secret) => Ok(Self::store(&mut state, secret)),
            Err(e) => {
                let stale = state
                    .cached
                    .as_ref()
                    .filter(|c| e.is_transient() && c.read_at.elapsed() < self.ttl + MAX_STALE)
                    .map(|c| Arc::clone(&c.secret));
                let count = state
                    .failed
                    .as_ref()
                    .map_or(1, |f| f.count.saturating_add(1));
                let wait = match stale {
                    Some(_) => RETRY_AFTER_FAILURE,
                    None => FIRST_RETRY_WITHOUT_SECRET
                        .saturating_mul(1 << (count - 1).min(5))
                        .min(RETRY_AFTER_FAILURE),
                };
                state.failed = Some(Failure {
                    retry_at: Instant::now() + wait,
                    count,
                    error: e.clone(),
                });
                match stale {
                    Some(secret) => {
                        tracing::warn!(error = %e, "serving the previously read secret");
                        Ok(secret)
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// Reads the secret now, whatever the cache holds: at init, and after a credential
    /// rotation. A failure is returned but not remembered, so no back-off starts: the event
    /// that caused a cold start is served by a read of its own, as if init had not tried.
    pub async fn refresh(&self) -> Result<Arc<AppSecret>, SecretError> {
        let mut state = self.state.lock().await;
        let secret = self.fetch().await?;
        Ok(Self::store(&mut state, secret))
    }

    fn store(state: &mut State, secret: Arc<AppSecret>) -> Arc<AppSecret> {
        state.cached = Some(Cached {
            secret: Arc::clone(&secret),
            read_at: Instant::now(),
        });
        state.failed = None;
        secret
    }

    #[tracing::instrument(skip_all, fields(secret_id = %self.secret_id))]
    async fn fetch(&self) -> Result<Arc<AppSecret>, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                let code = e.code().unwrap_or_default().to_owned();
                match PERMANENT_CODES.iter().find(|(c, _)| *c == code) {
                    Some((_, hint)) => SecretError::Inaccessible {
                        secret_id: self.secret_id.clone(),
                        code,
                        hint,
                    },
                    None => SecretError::Unavailable(describe_sdk_error(&e)),
                }
            })?;
        let text = output.secret_string().ok_or_else(|| {
            SecretFormatError::from(FieldError::new(
                "(root)",
                "is a binary secret; store the JSON as the secret string",
            ))
        })?;
        let secret = AppSecret::parse(text)?;
        tracing::debug!(sources = secret.webhooks.len(), "secret read");
        Ok(Arc::new(secret))
    }
}

impl CredentialSource for SecretStore {
    async fn credentials(&self) -> Result<Arc<EntraCredentials>, CredentialsError> {
        Ok(Arc::clone(&self.get().await?.entra))
    }

    async fn reread(&self) -> Result<Arc<EntraCredentials>, CredentialsError> {
        Ok(Arc::clone(&self.refresh().await?.entra))
    }
}
