//! The function's one secret: the Entra app's credentials and every webhook source's scheme,
//! read from AWS Secrets Manager, parsed into typed values, and cached for `SECRET_TTL_SECONDS`.
//! Parse errors name the JSON key and never its value; `Debug` of anything here prints no secret.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::auth::{HmacAlgorithm, Scheme, SignatureEncoding};
use crate::aws::describe_sdk_error;
use crate::domain::{ObjectId, Source, is_dns_domain};
use crate::microsoft::token::{CertificateCredential, CertificateError};
use crate::payload::PayloadFormat;
use crate::payload::json_fields::{FieldError, Fields};

/// The parsed secret.
#[derive(Debug)]
pub struct AppSecret {
    pub entra: EntraCredentials,
    /// Configured sources; a source not listed here is disabled.
    pub webhooks: HashMap<Source, WebhookSource>,
}

/// How the function signs in to Entra ID as the app (client credentials).
#[derive(Debug)]
pub struct EntraCredentials {
    /// Tenant GUID or verified domain (`contoso.onmicrosoft.com`).
    pub tenant_id: String,
    /// The app registration's application (client) id.
    pub client_id: ObjectId,
    pub credential: ClientCredential,
}

/// Exactly one of the two ways Entra accepts for a confidential client.
#[derive(Debug)]
pub enum ClientCredential {
    Secret(SecretString),
    /// Parsed and test-signed when the secret is read.
    Certificate(CertificateCredential),
}

/// One webhook source: how to authenticate it and which payload it sends.
#[derive(Debug)]
pub struct WebhookSource {
    pub scheme: Scheme,
    pub format: PayloadFormat,
}

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
    #[error("secret key {0}")]
    Format(#[from] FieldError),
}

impl SecretError {
    /// True when retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

fn format_err(key: impl Into<String>, problem: impl ToString) -> SecretError {
    SecretError::Format(FieldError::new(key, problem))
}

impl AppSecret {
    /// Parses the secret's JSON text (DESIGN §4).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        // serde_json's syntax errors carry only a line and column, never input text.
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format_err("(root)", format!("is not valid JSON ({e})")))?;
        let root = Fields::root(&value, "(root)")?;
        root.deny_unknown(&[
            "tenant_id",
            "client_id",
            "client_secret",
            "client_certificate",
            "webhooks",
        ])?;
        let entra = parse_entra(&root)?;
        let mut webhooks = HashMap::new();
        if let Some(sources) = root.object("webhooks")? {
            for (name, path, entry) in sources.entries() {
                let source = Source::parse(name)
                    .map_err(|e| format_err(path.clone(), format!("is not a source name: {e}")))?;
                let entry = Fields::nested(entry, path)?;
                webhooks.insert(source.clone(), parse_webhook_source(&source, &entry)?);
            }
        }
        Ok(Self { entra, webhooks })
    }
}

fn parse_entra(root: &Fields<'_>) -> Result<EntraCredentials, SecretError> {
    let tenant_id = root.required_str("tenant_id")?;
    // The tenant becomes a path segment of the token URL: a GUID or a DNS name, nothing else.
    if ObjectId::parse(tenant_id).is_err() && !is_dns_domain(tenant_id) {
        return Err(format_err(
            "tenant_id",
            "must be the tenant GUID or its domain (contoso.onmicrosoft.com)",
        ));
    }
    let client_id = ObjectId::parse(root.required_str("client_id")?)
        .map_err(|_| format_err("client_id", "must be the app's client id (a GUID)"))?;
    let secret = root.str("client_secret")?;
    let certificate = root.object("client_certificate")?;
    let credential = match (secret, certificate) {
        (Some(s), None) => ClientCredential::Secret(SecretString::from(s)),
        (None, Some(cert)) => {
            cert.deny_unknown(&["certificate_pem", "private_key_pem"])?;
            let certificate_pem = cert.required_str("certificate_pem")?;
            let private_key_pem = cert.required_str("private_key_pem")?;
            let credential = CertificateCredential::from_pem(certificate_pem, private_key_pem)
                .map_err(|e| {
                    let key = match e {
                        CertificateError::Certificate => "certificate_pem",
                        CertificateError::PrivateKey => "private_key_pem",
                    };
                    format_err(cert.path(key), e)
                })?;
            ClientCredential::Certificate(credential)
        }
        (Some(_), Some(_)) => {
            return Err(format_err(
                "client_secret",
                "and client_certificate are both set; keep exactly one",
            ));
        }
        (None, None) => {
            return Err(format_err(
                "client_secret",
                "or client_certificate is required",
            ));
        }
    };
    Ok(EntraCredentials {
        tenant_id: tenant_id.to_owned(),
        client_id,
        credential,
    })
}

enum SchemeKind {
    StandardWebhooks,
    Hmac,
    HeaderToken,
    Basic,
}

fn parse_webhook_source(source: &Source, entry: &Fields<'_>) -> Result<WebhookSource, SecretError> {
    let scheme_name = entry.required_str("scheme")?;
    let kind = match scheme_name {
        "standard-webhooks" => SchemeKind::StandardWebhooks,
        "hmac" => SchemeKind::Hmac,
        "header-token" => SchemeKind::HeaderToken,
        "basic" => SchemeKind::Basic,
        _ => {
            return Err(format_err(
                entry.path("scheme"),
                "must be standard-webhooks, hmac, header-token or basic",
            ));
        }
    };
    let scheme_keys: &[&str] = match kind {
        SchemeKind::Hmac => &[
            "header",
            "algorithm",
            "encoding",
            "prefix",
            "timestamp_header",
        ],
        SchemeKind::HeaderToken => &["header"],
        SchemeKind::StandardWebhooks | SchemeKind::Basic => &[],
    };
    let allowed: Vec<&str> = ["scheme", "secrets", "format"]
        .iter()
        .chain(scheme_keys)
        .copied()
        .collect();
    entry.deny_unknown(&allowed)?;
    if entry.get("secrets").is_none() {
        return Err(format_err(
            entry.path("secrets"),
            "is required: a list of strings",
        ));
    }
    let secrets: Vec<SecretString> = entry
        .strings("secrets")?
        .into_iter()
        .map(SecretString::from)
        .collect();
    let scheme = match kind {
        SchemeKind::StandardWebhooks => Scheme::standard_webhooks(&secrets),
        SchemeKind::HeaderToken => Scheme::header_token(entry.required_str("header")?, secrets),
        SchemeKind::Basic => Scheme::basic(secrets),
        SchemeKind::Hmac => {
            let algorithm = match entry.str("algorithm")?.unwrap_or("sha256") {
                "sha256" => HmacAlgorithm::Sha256,
                "sha512" => HmacAlgorithm::Sha512,
                _ => {
                    return Err(format_err(
                        entry.path("algorithm"),
                        "must be sha256 or sha512",
                    ));
                }
            };
            let encoding = match entry.str("encoding")?.unwrap_or("hex") {
                "hex" => SignatureEncoding::Hex,
                "base64" => SignatureEncoding::Base64,
                _ => return Err(format_err(entry.path("encoding"), "must be hex or base64")),
            };
            Scheme::hmac(
                entry.required_str("header")?,
                algorithm,
                encoding,
                entry.str("prefix")?.map(str::to_owned),
                entry.str("timestamp_header")?,
                secrets,
            )
        }
    }
    .map_err(|e| {
        // Scheme errors are about the secrets list or the header name.
        let key = match e {
            crate::auth::SchemeError::BadHeaderName => entry.path("header"),
            _ => entry.path("secrets"),
        };
        format_err(key, e.to_string())
    })?;
    let format = match entry.str("format")? {
        None => PayloadFormat::default_for(source),
        Some(name) => PayloadFormat::parse(name)
            .ok_or_else(|| format_err(entry.path("format"), "must be canonical or jamf"))?,
    };
    Ok(WebhookSource { scheme, format })
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
    /// a transient reason, the previous value keeps serving (for at most [`MAX_STALE`] past
    /// the TTL, re-trying every [`RETRY_AFTER_FAILURE`]): a brief Secrets Manager outage must
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
            format_err(
                "(root)",
                "is a binary secret; store the JSON as the secret string",
            )
        })?;
        let secret = AppSecret::parse(text)?;
        tracing::debug!(sources = secret.webhooks.len(), "secret read");
        Ok(Arc::new(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "tenant_id": "contoso.onmicrosoft.com",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "client-secret-value",
            "webhooks": {
                "standard": {"scheme": "standard-webhooks", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]},
                "jamf": {"scheme": "header-token", "header": "X-Webhook-Token", "secrets": ["jamf-token-value"]},
                "relay": {"scheme": "hmac", "header": "X-Hub-Signature-256", "algorithm": "sha256",
                          "encoding": "hex", "prefix": "sha256=", "secrets": ["relay-key-value"]},
                "jamf-eu": {"scheme": "basic", "secrets": ["jamf:basic-password"], "format": "jamf"}
            }
        })
    }

    fn parse(v: &Value) -> Result<AppSecret, SecretError> {
        AppSecret::parse(&v.to_string())
    }

    fn key_of(e: SecretError) -> String {
        match e {
            SecretError::Format(FieldError { field, .. }) => field,
            other => panic!("not a format error: {other}"),
        }
    }

    #[test]
    fn parses_the_design_example_with_formats_by_source_name() {
        let s = parse(&base()).unwrap();
        assert_eq!(s.entra.tenant_id, "contoso.onmicrosoft.com");
        assert!(matches!(s.entra.credential, ClientCredential::Secret(_)));
        let get = |n: &str| &s.webhooks[&Source::parse(n).unwrap()];
        assert_eq!(get("standard").format, PayloadFormat::Canonical);
        assert_eq!(get("jamf").format, PayloadFormat::Jamf);
        assert_eq!(get("relay").format, PayloadFormat::Canonical);
        assert_eq!(get("jamf-eu").format, PayloadFormat::Jamf);
        assert_eq!(get("jamf").scheme.name(), "header-token");
    }

    #[test]
    fn debug_output_shows_no_secret_value() {
        let text = format!("{:?}", parse(&base()).unwrap());
        for secret in [
            "client-secret-value",
            "jamf-token-value",
            "relay-key-value",
            "basic-password",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }

    #[test]
    fn certificate_credentials_parse() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("client_secret");
        v["client_certificate"] = json!({
            "certificate_pem": include_str!("../../tests/fixtures/test-app-cert.pem"),
            "private_key_pem": include_str!("../../tests/fixtures/test-app-key.pem")
        });
        let s = parse(&v).unwrap();
        assert!(matches!(
            s.entra.credential,
            ClientCredential::Certificate(_)
        ));
        let key_line = include_str!("../../tests/fixtures/test-app-key.pem")
            .lines()
            .nth(1)
            .unwrap();
        assert!(!format!("{s:?}").contains(key_line));

        v["client_certificate"]["private_key_pem"] =
            json!("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----");
        let e = parse(&v).unwrap_err();
        assert_eq!(key_of(e), "client_certificate.private_key_pem");
    }

    #[test]
    fn errors_name_the_key_and_never_the_value() {
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|v| v["tenant_id"] = json!("evil/../path")),
                "tenant_id",
            ),
            (
                Box::new(|v| v["client_id"] = json!("my-app-secret-guess")),
                "client_id",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("client_secret");
                }),
                "client_secret",
            ),
            (
                Box::new(|v| {
                    v["client_certificate"] =
                        json!({"certificate_pem": "x", "private_key_pem": "y"})
                }),
                "client_secret",
            ),
            (
                Box::new(|v| v["client_secret"] = json!(12345)),
                "client_secret",
            ),
            (
                Box::new(|v| v["webhooks"]["jamf"]["secrets"] = json!([])),
                "webhooks.jamf.secrets",
            ),
            (
                Box::new(|v| v["webhooks"]["jamf"]["secrets"] = json!(["ok", 7])),
                "webhooks.jamf.secrets[1]",
            ),
            (
                Box::new(|v| v["webhooks"]["jamf"]["header"] = json!("bad header")),
                "webhooks.jamf.header",
            ),
            (
                Box::new(|v| v["webhooks"]["standard"]["secrets"] = json!(["whsec_%%%secretish"])),
                "webhooks.standard.secrets",
            ),
            (
                Box::new(|v| v["webhooks"]["relay"]["algorithm"] = json!("md5")),
                "webhooks.relay.algorithm",
            ),
            (
                Box::new(|v| v["webhooks"]["relay"]["scheme"] = json!("none")),
                "webhooks.relay.scheme",
            ),
            (
                Box::new(|v| v["webhooks"]["relay"]["format"] = json!("xml")),
                "webhooks.relay.format",
            ),
            (
                Box::new(|v| v["webhooks"]["bad/name"] = json!({})),
                "webhooks.bad/name",
            ),
            (
                Box::new(|v| v["webhooks"]["relay"]["timestamp_heade"] = json!("X-Ts")),
                "webhooks.relay.timestamp_heade",
            ),
            (
                Box::new(|v| v["webhooks"]["jamf"]["prefix"] = json!("x")),
                "webhooks.jamf.prefix",
            ),
            (
                Box::new(|v| v["client_secrets"] = json!(["x"])),
                "client_secrets",
            ),
        ];
        for (mutate, key) in cases {
            let mut v = base();
            mutate(&mut v);
            let err = parse(&v).unwrap_err();
            let text = err.to_string();
            for value in [
                "evil",
                "my-app-secret-guess",
                "12345",
                "secretish",
                "jamf-token-value",
            ] {
                assert!(!text.contains(value), "{text}");
            }
            assert_eq!(key_of(err), key, "{text}");
        }
    }

    #[test]
    fn invalid_json_names_the_position_not_the_content() {
        let err = AppSecret::parse("{\"client_secret\": \"hunter2\"").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(key_of(err), "(root)");
    }

    #[test]
    fn a_secret_without_webhooks_disables_every_source() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("webhooks");
        assert!(parse(&v).unwrap().webhooks.is_empty());
    }
}
