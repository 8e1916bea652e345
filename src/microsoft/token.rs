//! Signing in to Entra ID as the app: client credentials with a client secret or a certificate
//! (a PS256 client assertion), against the cloud's authority. Tokens are cached until shortly
//! before they expire, concurrent misses make one request, and an `invalid_client` answer
//! re-reads the credentials once (they may just have been rotated).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::cloud::Cloud;
use super::credentials::{ClientCredential, CredentialSource, CredentialsError, EntraCredentials};

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EntraError {
    /// The token endpoint did not answer usefully (network, timeout, 429, 5xx): retry later.
    #[error("Entra token endpoint unavailable: {0}")]
    Unavailable(String),
    /// Entra refused the request: the app registration or the secret needs fixing.
    #[error("Entra refused the token request: {error}{}: {hint}", code.map(|c| format!(" (AADSTS{c})")).unwrap_or_default())]
    Rejected {
        error: String,
        code: Option<u32>,
        hint: &'static str,
    },
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("{0}")]
    Local(&'static str),
    /// The deadline came while the credentials were read or another caller's fetch ran.
    #[error("no token before the deadline")]
    OutOfTime,
}

impl EntraError {
    /// True when retrying later may succeed without anyone changing anything.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) | Self::OutOfTime => true,
            Self::Credentials(e) => e.is_transient(),
            Self::Rejected { .. } | Self::Local(_) => false,
        }
    }
}

/// What an operator should do about an AADSTS code.
fn hint(code: Option<u32>) -> &'static str {
    match code {
        Some(7_000_215) => {
            "invalid client secret: store the secret's Value, not its Secret ID, in client_secret"
        }
        Some(7_000_222) => "the client secret has expired: create a new one and update the secret",
        Some(700_016) => "no such app in this tenant: check client_id and tenant_id",
        Some(90_002) => "no such tenant: check tenant_id (and ENTRA_CLOUD)",
        Some(700_027) => {
            "the certificate is not registered on the app, or the key does not match it"
        }
        Some(700_024) => "the client assertion is outside its validity window: check the clock",
        Some(70_011 | 1_002_012) => "invalid scope: check ENTRA_CLOUD",
        Some(7_000_112) => "the app is disabled",
        _ => "see the AADSTS code in Microsoft's error reference",
    }
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct ErrorReply {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_codes: Vec<u32>,
    #[serde(default)]
    trace_id: String,
    #[serde(default)]
    correlation_id: String,
}

/// A bearer token, as the `Authorization` header value every Graph call sends, and the cache
/// generation it came from (to invalidate exactly it). The header is built once per token,
/// not per request (an Entra token is 1–3 KB), and is marked sensitive: its `Debug` form, and
/// any HTTP-level logging of it, shows no value.
#[derive(Clone)]
pub(crate) struct AccessToken {
    authorization: HeaderValue,
    generation: u64,
}

impl AccessToken {
    fn new(token: &SecretString, generation: u64) -> Result<Self, EntraError> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
            .map_err(|_| {
                EntraError::Unavailable("the issued token is not a valid header value".into())
            })?;
        authorization.set_sensitive(true);
        Ok(Self {
            authorization,
            generation,
        })
    }

    /// `Bearer <token>`.
    pub(crate) fn authorization(&self) -> &HeaderValue {
        &self.authorization
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessToken(generation {}, [REDACTED])", self.generation)
    }
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// Gets app-only tokens for Graph, with the credentials `C` holds; built once per instance.
pub(crate) struct TokenClient<C> {
    http: reqwest::Client,
    authority_url: String,
    scope: String,
    credentials: Arc<C>,
    cache: Mutex<(u64, Option<Cached>)>,
}

impl<C> std::fmt::Debug for TokenClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenClient")
            .field("authority_url", &self.authority_url)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// How long before expiry a cached token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The longest lifetime taken from `expires_in`. Entra issues tokens for about an hour (a
/// token lifetime policy allows up to a day); a larger number, up to `u64::MAX`, is treated as
/// a day rather than trusted into an overflow.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

impl<C: CredentialSource> TokenClient<C> {
    /// Tokens from `authority_url` for `cloud`'s Graph, sent through the shared `http`.
    pub(crate) fn new(
        http: reqwest::Client,
        authority_url: String,
        cloud: Cloud,
        credentials: Arc<C>,
    ) -> Self {
        Self {
            http,
            authority_url,
            scope: cloud.scope(),
            credentials,
            cache: Mutex::new((0, None)),
        }
    }

    /// A token valid for a while yet: cached, or fetched (by one caller at a time), by
    /// `deadline`. The wait for another caller's fetch and the read of the credentials count
    /// against it too: a slow Secrets Manager must not keep the act past the time the
    /// caller keeps for queueing what is still owed.
    pub(crate) async fn token(&self, deadline: Instant) -> Result<AccessToken, EntraError> {
        tokio::time::timeout_at(deadline, self.cached_or_fetched(deadline))
            .await
            .unwrap_or(Err(EntraError::OutOfTime))
    }

    async fn cached_or_fetched(&self, deadline: Instant) -> Result<AccessToken, EntraError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = &cache.1
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let (value, lifetime) = self.fetch(deadline).await?;
        cache.0 += 1;
        let token = AccessToken::new(&value, cache.0)?;
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        cache.1 = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime - margin,
        });
        Ok(token)
    }

    /// Forgets `token` (Graph said it is no longer valid) unless a newer one replaced it.
    pub(crate) async fn invalidate(&self, token: &AccessToken) {
        let mut cache = self.cache.lock().await;
        if cache.1.as_ref().map(|c| c.token.generation) == Some(token.generation) {
            cache.1 = None;
        }
    }

    #[tracing::instrument(skip_all, fields(scope = %self.scope))]
    async fn fetch(&self, deadline: Instant) -> Result<(SecretString, Duration), EntraError> {
        let credentials = self.credentials.credentials().await?;
        match self.request(&credentials, deadline).await {
            Err(EntraError::Rejected { error, .. }) if error == "invalid_client" => {
                tracing::warn!("Entra answered invalid_client; reading the secret again once");
                let fresh = self.credentials.reread().await?;
                self.request(&fresh, deadline).await
            }
            other => other,
        }
    }

    async fn request(
        &self,
        creds: &EntraCredentials,
        deadline: Instant,
    ) -> Result<(SecretString, Duration), EntraError> {
        let token_url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_url, creds.tenant_id
        );
        let client_id = creds.client_id.as_str();
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", client_id.to_owned()),
            ("scope", self.scope.clone()),
            ("grant_type", "client_credentials".to_owned()),
        ];
        match &creds.credential {
            ClientCredential::Secret(s) => {
                form.push(("client_secret", s.expose_secret().to_owned()))
            }
            ClientCredential::Certificate(cert) => {
                let now = u64::try_from(crate::unix_now()).unwrap_or(0);
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ));
                form.push((
                    "client_assertion",
                    cert.assertion(client_id, &token_url, now)
                        .map_err(|_| EntraError::Local("could not sign the client assertion"))?,
                ));
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(EntraError::Unavailable(
                "no time left in the deadline".into(),
            ));
        }
        let response = self
            .http
            .post(&token_url)
            .form(&form)
            .timeout(remaining)
            .send()
            .await
            .map_err(|e| EntraError::Unavailable(describe(&e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| EntraError::Unavailable(describe(&e)))?;
        if status.is_success() {
            let reply: TokenReply = serde_json::from_slice(&body).map_err(|_| {
                EntraError::Unavailable("token reply is not the expected JSON".into())
            })?;
            tracing::debug!(expires_in = reply.expires_in, "token issued");
            return Ok((
                SecretString::from(reply.access_token),
                Duration::from_secs(reply.expires_in.max(1)).min(MAX_TOKEN_LIFETIME),
            ));
        }
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(EntraError::Unavailable(format!(
                "token endpoint answered {status}"
            )));
        }
        let reply: ErrorReply = serde_json::from_slice(&body).unwrap_or(ErrorReply {
            error: format!("http_{}", status.as_u16()),
            error_codes: Vec::new(),
            trace_id: String::new(),
            correlation_id: String::new(),
        });
        let code = reply.error_codes.first().copied();
        let hint = hint(code);
        tracing::error!(
            status = status.as_u16(),
            error = %reply.error,
            aadsts = code,
            trace_id = %reply.trace_id,
            correlation_id = %reply.correlation_id,
            hint,
            "Entra refused the token request"
        );
        Err(EntraError::Rejected {
            error: reply.error,
            code,
            hint,
        })
    }
}

/// A reqwest error without its URL's query (there is none here) or any body.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_token_is_a_sensitive_bearer_header_that_never_prints() {
        let token = AccessToken::new(&SecretString::from("eyJ0eXAi.payload.sig"), 7).unwrap();

        assert_eq!(token.authorization(), "Bearer eyJ0eXAi.payload.sig");
        assert!(token.authorization().is_sensitive());
        assert!(!format!("{token:?}").contains("eyJ"));
        assert!(!format!("{:?}", token.authorization()).contains("eyJ"));
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_not_used() {
        let error = AccessToken::new(&SecretString::from("line\nbreak"), 1).unwrap_err();
        assert!(error.is_transient());
    }

    #[test]
    fn every_documented_aadsts_code_gets_an_actionable_hint() {
        for code in [7_000_215, 7_000_222, 700_016, 90_002, 700_027, 700_024] {
            assert!(!hint(Some(code)).starts_with("see "), "{code}");
        }
        assert!(hint(Some(7_000_215)).contains("Secret ID"));
    }

    /// A Secrets Manager that never answers.
    struct Silent;

    impl CredentialSource for Silent {
        async fn credentials(&self) -> Result<Arc<EntraCredentials>, CredentialsError> {
            std::future::pending().await
        }

        async fn reread(&self) -> Result<Arc<EntraCredentials>, CredentialsError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_credentials_read_that_outlasts_the_deadline_ends_at_the_deadline_as_transient() {
        let client = TokenClient::new(
            reqwest::Client::new(),
            "http://127.0.0.1:9".to_owned(),
            Cloud::Global,
            Arc::new(Silent),
        );
        let deadline = Instant::now() + Duration::from_millis(50);

        let answer = tokio::time::timeout(Duration::from_secs(5), client.token(deadline)).await;

        let error = answer.expect("the call ends by itself").unwrap_err();
        assert!(matches!(error, EntraError::OutOfTime), "{error}");
        assert!(error.is_transient());
    }
}
