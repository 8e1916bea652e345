//! The app's credentials for Entra ID (client credentials: a client secret, or a certificate
//! that signs a PS256 client assertion), and the [`CredentialSource`] trait through which the
//! token client reads them, so it never knows where they are stored.

use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::ObjectId;

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

/// Where the token client reads the app's credentials: the function's secret in Secrets
/// Manager in production (`aws::secrets_manager::SecretStore`), anything in tests.
pub trait CredentialSource: Send + Sync {
    /// The current credentials, possibly cached.
    fn credentials(
        &self,
    ) -> impl Future<Output = Result<Arc<EntraCredentials>, CredentialsError>> + Send;

    /// The credentials read again now, whatever is cached: Entra refused the cached ones, and
    /// they may just have been rotated.
    fn reread(
        &self,
    ) -> impl Future<Output = Result<Arc<EntraCredentials>, CredentialsError>> + Send;
}

/// Why the credentials could not be had. Says what is wrong, never a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct CredentialsError {
    transient: bool,
    detail: String,
}

impl CredentialsError {
    /// `transient`: retrying later may succeed without anyone changing anything.
    pub fn new(transient: bool, detail: impl Into<String>) -> Self {
        Self {
            transient,
            detail: detail.into(),
        }
    }

    /// True when retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        self.transient
    }
}

/// A certificate credential, prepared once when the secret is read: the signing key and the
/// certificate's `x5t#S256` thumbprint.
pub struct CertificateCredential {
    key: EncodingKey,
    x5t_s256: String,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t_s256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

/// Which half of a certificate credential is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("is not a PEM certificate")]
    Certificate,
    #[error("is not a PEM RSA private key (PKCS#8 or PKCS#1) that can sign PS256")]
    PrivateKey,
}

impl CertificateCredential {
    pub(crate) fn from_pem(
        certificate_pem: &str,
        private_key_pem: &str,
    ) -> Result<Self, CertificateError> {
        let der = pem_body(certificate_pem, "CERTIFICATE").ok_or(CertificateError::Certificate)?;
        let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
            .map_err(|_| CertificateError::PrivateKey)?;
        // Parsing is lazy: sign once now so a bad key fails when the secret is read, not
        // when a stolen laptop is being reported.
        jsonwebtoken::crypto::sign(b"probe", &key, Algorithm::PS256)
            .map_err(|_| CertificateError::PrivateKey)?;
        Ok(Self {
            key,
            x5t_s256: B64URL.encode(Sha256::digest(&der)),
        })
    }

    /// The assertion Entra accepts in place of a client secret (valid 5 minutes).
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        token_url: &str,
        now: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            iss: &'a str,
            sub: &'a str,
            jti: String,
            nbf: u64,
            iat: u64,
            exp: u64,
        }
        let mut header = Header::new(Algorithm::PS256);
        header.x5t_s256 = Some(self.x5t_s256.clone());
        let claims = Claims {
            aud: token_url,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + 300,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

/// The base64 body of the first PEM block labelled `label`, decoded.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop].split_whitespace().collect();
    B64.decode(body).ok().filter(|der| !der.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("../../tests/fixtures/test-app-cert.pem");
    const KEY: &str = include_str!("../../tests/fixtures/test-app-key.pem");

    #[test]
    fn assertion_has_the_header_and_claims_entra_requires() {
        let cred = CertificateCredential::from_pem(CERT, KEY).unwrap();
        let url = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let jwt = cred
            .assertion("11111111-2222-3333-4444-555555555555", url, 1_800_000_000)
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["alg"], "PS256");
        let der = pem_body(CERT, "CERTIFICATE").unwrap();
        assert_eq!(header["x5t#S256"], B64URL.encode(Sha256::digest(der)));
        assert_eq!(claims["aud"], url);
        assert_eq!(claims["iss"], "11111111-2222-3333-4444-555555555555");
        assert_eq!(claims["sub"], claims["iss"]);
        assert_eq!(claims["nbf"], 1_800_000_000);
        assert_eq!(claims["exp"].as_u64().unwrap() - 1_800_000_000, 300);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn bad_certificate_or_key_pem_is_refused_when_read() {
        assert_eq!(
            CertificateCredential::from_pem("not pem", KEY).unwrap_err(),
            CertificateError::Certificate
        );
        let bad_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----";
        assert_eq!(
            CertificateCredential::from_pem(CERT, bad_key).unwrap_err(),
            CertificateError::PrivateKey
        );
    }

    #[test]
    fn debug_of_a_certificate_credential_prints_no_key() {
        let cred = CertificateCredential::from_pem(CERT, KEY).unwrap();
        let text = format!("{cred:?}");
        assert!(!text.contains("PRIVATE"));
        assert!(text.contains("x5t_s256"));
    }
}
