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
#[derive(Debug, thiserror::Error)]
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
/// How long past its TTL a previous value may stand in during an outage: a webhook secret
/// removed because it leaked must not stay valid for as long as an outage lasts.
const MAX_STALE: Duration = Duration::from_secs(3600);

struct Cached {
    secret: Arc<AppSecret>,
    read_at: Instant,
    /// Set after a failed read: no new read before this instant.
    retry_at: Option<Instant>,
}

/// Reads the secret through an injected Secrets Manager client and caches it.
pub struct SecretStore {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    ttl: Duration,
    // Held across the fetch, so concurrent misses make one request.
    cached: Mutex<Option<Cached>>,
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
            cached: Mutex::new(None),
        }
    }

    /// The cached secret, read again once it is older than the TTL. When that read fails for
    /// a transient reason, the previous value keeps serving (for at most `MAX_STALE` past
    /// the TTL, re-trying every `RETRY_AFTER_FAILURE`): a brief Secrets Manager outage must
    /// not turn lost-device alerts away.
    pub async fn get(&self) -> Result<Arc<AppSecret>, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let age = c.read_at.elapsed();
            let backing_off = c.retry_at.is_some_and(|t| Instant::now() < t);
            if age < self.ttl || (backing_off && age < self.ttl + MAX_STALE) {
                return Ok(Arc::clone(&c.secret));
            }
        }
        match self.fetch().await {
            Ok(secret) => Ok(Self::store(&mut cached, secret)),
            Err(e) if e.is_transient() => match cached.as_mut() {
                Some(c) if c.read_at.elapsed() < self.ttl + MAX_STALE => {
                    tracing::warn!(error = %e, "serving the previously read secret");
                    c.retry_at = Some(Instant::now() + RETRY_AFTER_FAILURE);
                    Ok(Arc::clone(&c.secret))
                }
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Reads the secret now, whatever the cache holds (after a credential rotation).
    pub async fn refresh(&self) -> Result<Arc<AppSecret>, SecretError> {
        let mut cached = self.cached.lock().await;
        let secret = self.fetch().await?;
        Ok(Self::store(&mut cached, secret))
    }

    fn store(cached: &mut Option<Cached>, secret: Arc<AppSecret>) -> Arc<AppSecret> {
        *cached = Some(Cached {
            secret: Arc::clone(&secret),
            read_at: Instant::now(),
            retry_at: None,
        });
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
