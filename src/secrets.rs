//! The function's one secret: the Entra app's credentials and every webhook source's scheme,
//! read from AWS Secrets Manager, parsed into typed values, and cached for `SECRET_TTL_SECONDS`.
//! Parse errors name the JSON key and never its value; `Debug` of anything here prints no secret.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::domain::{ObjectId, Source};
use crate::json_fields::{FieldError, Fields};
use crate::mdm::PayloadFormat;
use crate::signature::{HmacAlgorithm, Scheme, SignatureEncoding};

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
    Certificate {
        certificate_pem: String,
        private_key_pem: SecretString,
    },
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
    let tenant_ok = tenant_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !tenant_ok {
        return Err(format_err(
            "tenant_id",
            "must be the tenant GUID or its domain (letters, digits, '.', '-')",
        ));
    }
    let client_id = ObjectId::parse(root.required_str("client_id")?)
        .map_err(|_| format_err("client_id", "must be the app's client id (a GUID)"))?;
    let secret = root.str("client_secret")?;
    let certificate = root.object("client_certificate")?;
    let credential = match (secret, certificate) {
        (Some(s), None) => ClientCredential::Secret(SecretString::from(s)),
        (None, Some(cert)) => {
            let certificate_pem = cert.required_str("certificate_pem")?;
            let private_key_pem = cert.required_str("private_key_pem")?;
            if !certificate_pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(format_err(
                    cert.path("certificate_pem"),
                    "must be a PEM certificate",
                ));
            }
            if !private_key_pem.contains("PRIVATE KEY-----") {
                return Err(format_err(
                    cert.path("private_key_pem"),
                    "must be a PEM private key",
                ));
            }
            ClientCredential::Certificate {
                certificate_pem: certificate_pem.to_owned(),
                private_key_pem: SecretString::from(private_key_pem),
            }
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

fn parse_webhook_source(source: &Source, entry: &Fields<'_>) -> Result<WebhookSource, SecretError> {
    let scheme_name = entry.required_str("scheme")?;
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
    let scheme = match scheme_name {
        "standard-webhooks" => Scheme::standard_webhooks(&secrets),
        "header-token" => Scheme::header_token(entry.required_str("header")?, secrets),
        "basic" => Scheme::basic(secrets),
        "hmac" => {
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
        _ => {
            return Err(format_err(
                entry.path("scheme"),
                "must be standard-webhooks, hmac, header-token or basic",
            ));
        }
    }
    .map_err(|e| {
        // Scheme errors are about the secrets list or the header name.
        let key = match e {
            crate::signature::SchemeError::BadHeaderName => entry.path("header"),
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

/// Reads the secret through an injected Secrets Manager client and caches it.
#[derive(Debug)]
pub struct SecretStore {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    ttl: Duration,
    // Held across the fetch, so concurrent misses make one request.
    cached: Mutex<Option<(Instant, Arc<AppSecret>)>>,
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

    /// The cached secret, read again once it is older than the TTL. When that read fails but
    /// a previous value exists, the previous value is served (and a warning logged): a brief
    /// Secrets Manager outage must not turn lost-device alerts away.
    pub async fn get(&self) -> Result<Arc<AppSecret>, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some((read_at, secret)) = cached.as_ref()
            && read_at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(secret));
        }
        match self.fetch().await {
            Ok(secret) => {
                *cached = Some((Instant::now(), Arc::clone(&secret)));
                Ok(secret)
            }
            Err(e) if e.is_transient() => match cached.as_ref() {
                Some((_, stale)) => {
                    tracing::warn!(error = %e, "serving the previously read secret");
                    Ok(Arc::clone(stale))
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Reads the secret now, whatever the cache holds (after a credential rotation).
    pub async fn refresh(&self) -> Result<Arc<AppSecret>, SecretError> {
        let mut cached = self.cached.lock().await;
        let secret = self.fetch().await?;
        *cached = Some((Instant::now(), Arc::clone(&secret)));
        Ok(secret)
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
                    None => SecretError::Unavailable(DisplayErrorContext(&e).to_string()),
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
            "certificate_pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "private_key_pem": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
        });
        let s = parse(&v).unwrap();
        assert!(matches!(
            s.entra.credential,
            ClientCredential::Certificate { .. }
        ));
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
