//! The function's one secret (README, "The secret"): the Entra app's credentials and every
//! webhook source's scheme, parsed from its JSON text into typed values. Pure parsing, no I/O:
//! `aws::secrets_manager` reads the text. Errors name the JSON key and never its value;
//! `Debug` of anything here prints no secret.

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::SecretString;
use serde_json::Value;

use crate::auth::{HmacAlgorithm, Scheme, SchemeError, SignatureEncoding};
use crate::domain::{ObjectId, Source, is_dns_domain};
use crate::microsoft::{
    CertificateCredential, CertificateError, ClientCredential, EntraCredentials,
};
use crate::payload::PayloadFormat;
use crate::payload::json_fields::{FieldError, Fields};

/// The parsed secret.
#[derive(Debug)]
pub struct AppSecret {
    /// Shared with the token client, which reads nothing else of the secret.
    pub entra: Arc<EntraCredentials>,
    /// Configured sources; a source not listed here is disabled.
    pub webhooks: HashMap<Source, WebhookSource>,
}

/// One webhook source: how to authenticate it and which payload it sends.
#[derive(Debug)]
pub struct WebhookSource {
    pub scheme: Scheme,
    pub format: PayloadFormat,
}
/// The secret was read but is not the JSON the function expects: names the key, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret key {0}")]
pub struct SecretFormatError(#[from] FieldError);

impl SecretFormatError {
    /// The JSON key at fault, such as `webhooks.jamf.secrets[1]`.
    pub fn key(&self) -> &str {
        &self.0.field
    }
}

fn format_err(key: impl Into<String>, problem: impl ToString) -> SecretFormatError {
    SecretFormatError(FieldError::new(key, problem))
}

impl AppSecret {
    /// Parses the secret's JSON text (README, "The secret").
    pub fn parse(text: &str) -> Result<Self, SecretFormatError> {
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
        Ok(Self {
            entra: Arc::new(entra),
            webhooks,
        })
    }
}

fn parse_entra(root: &Fields<'_>) -> Result<EntraCredentials, SecretFormatError> {
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

fn parse_webhook_source(
    source: &Source,
    entry: &Fields<'_>,
) -> Result<WebhookSource, SecretFormatError> {
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
            SchemeError::BadHeaderName => entry.path("header"),
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

    fn parse(v: &Value) -> Result<AppSecret, SecretFormatError> {
        AppSecret::parse(&v.to_string())
    }

    fn key_of(e: SecretFormatError) -> String {
        e.key().to_owned()
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
        assert!(matches!(get("jamf").scheme, Scheme::HeaderToken { .. }));
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
