//! Client assertion checks as Entra makes them for certificate credentials: the header names a
//! registered certificate, the signature verifies with its key, and the claims bind the JWT to
//! this token endpoint, this app and this moment. Every refusal is `401 invalid_client`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::pem::Pem;
use x509_parser::public_key::PublicKey;

use crate::stamp::{assertion_time, key_time};

/// The only `client_assertion_type` Entra accepts.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Entra tolerates this much clock skew on `nbf`.
const NBF_SKEW_SECONDS: i64 = 300;

const DOCS: &str = "Review the documentation at \
    https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";

/// A registered certificate: what identifies it and what verifies its signatures.
#[derive(Clone)]
pub(crate) struct Certificate {
    sha256: [u8; 32],
    sha1: [u8; 20],
    /// PKCS#1 `RSAPublicKey` DER.
    public_key: Vec<u8>,
    not_before: i64,
    not_after: i64,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("sha256", &hex(&self.sha256))
            .finish()
    }
}

impl Certificate {
    /// Reads the first certificate of a PEM text; only RSA keys, as Entra's PS256/RS256.
    pub(crate) fn from_pem(pem: &str) -> Result<Certificate, String> {
        let block = Pem::iter_from_buffer(pem.as_bytes())
            .filter_map(Result::ok)
            .find(|block| block.label == "CERTIFICATE")
            .ok_or("certificate_pem holds no CERTIFICATE block")?;
        let cert = block
            .parse_x509()
            .map_err(|e| format!("certificate_pem: {e}"))?;
        let spki = cert.public_key();
        match spki.parsed() {
            Ok(PublicKey::RSA(_)) => {}
            _ => return Err("certificate_pem: the key is not RSA".into()),
        }
        Ok(Certificate {
            sha256: Sha256::digest(&block.contents).into(),
            sha1: Sha1::digest(&block.contents).into(),
            public_key: spki.subject_public_key.data.to_vec(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    fn found_key(&self) -> String {
        format!(
            "Start={}, End={}",
            key_time(self.not_before),
            key_time(self.not_after)
        )
    }
}

/// What an assertion is checked against.
pub(crate) struct Expected<'a> {
    pub(crate) certificate: Option<&'a Certificate>,
    pub(crate) client_id: &'a str,
    /// Token URLs the assertion may name as `aud` (exact strings).
    pub(crate) audiences: &'a [String],
    pub(crate) now: i64,
    pub(crate) max_lifetime: Option<Duration>,
}

/// An accepted assertion.
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) jti: String,
}

/// Why Entra would refuse the assertion: an AADSTS code and its text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) code: u32,
    pub(crate) message: String,
}

fn refused(code: u32, message: impl Into<String>) -> Refused {
    Refused {
        code,
        message: message.into(),
    }
}

/// The header `alg`, for the request log; `None` when the header is unreadable.
pub(crate) fn header_alg(assertion: &str) -> Option<String> {
    let header = decode_part(assertion.split('.').next()?)?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// Verifies a client assertion in the order Entra reports problems: format, key, signature,
/// audience, identity, time.
pub(crate) fn verify(assertion: &str, expected: &Expected<'_>) -> Result<Verified, Refused> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, _, _] = parts.as_slice() else {
        return Err(malformed("JWT should consist of 3 parts."));
    };
    let header = decode_part(header).ok_or_else(|| malformed("Token format not valid."))?;
    let algorithm = algorithm(&header)?;
    let (thumbprint_hex, certificate) = registered_key(&header, expected)?;
    let claims = verified_claims(assertion, algorithm, certificate, &thumbprint_hex)?;
    check_audience(&claims, expected.audiences)?;
    check_identity(&claims, expected.client_id)?;
    check_time(&claims, expected)?;
    let jti = string_claim(&claims, "jti")
        .filter(|jti| !jti.is_empty())
        .ok_or_else(|| malformed("The token has no 'jti' claim."))?;
    Ok(Verified {
        jti: jti.to_owned(),
    })
}

fn malformed(detail: &str) -> Refused {
    refused(50027, format!("AADSTS50027: Invalid JWT token. {detail}"))
}

fn decode_part(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name)?.as_str()
}

/// PS256 is what Entra documents now; RS256 is what it documented before and still accepts.
fn algorithm(header: &Map<String, Value>) -> Result<Algorithm, Refused> {
    match header.get("alg").and_then(Value::as_str) {
        Some("PS256") => Ok(Algorithm::PS256),
        Some("RS256") => Ok(Algorithm::RS256),
        other => Err(refused(
            5002738,
            format!(
                "AADSTS5002738: Invalid JWT token. '{}' is not a supported signature algorithm. \
                 Supported signing algorithms are: 'PS256,RS256'",
                other.unwrap_or("")
            ),
        )),
    }
}

/// Finds the registered certificate the header's thumbprint names: `x5t#S256` (SHA-256, what
/// Entra documents now) or, without it, the legacy `x5t` (SHA-1), which Entra still honours.
fn registered_key<'a>(
    header: &Map<String, Value>,
    expected: &Expected<'a>,
) -> Result<(String, &'a Certificate), Refused> {
    let (given, sha256) = match (header.get("x5t#S256"), header.get("x5t")) {
        (Some(Value::String(t)), _) => (t.as_str(), true),
        (None, Some(Value::String(t))) => (t.as_str(), false),
        _ => {
            return Err(malformed(
                "No certificate thumbprint specified in token header.",
            ));
        }
    };
    let decoded = URL_SAFE_NO_PAD.decode(given.trim_end_matches('=')).ok();
    let thumbprint_hex = decoded
        .as_deref()
        .map(hex)
        .unwrap_or_else(|| given.to_owned());
    let matches = |cert: &&Certificate| match &decoded {
        Some(bytes) if sha256 => bytes.as_slice() == cert.sha256,
        Some(bytes) => bytes.as_slice() == cert.sha1,
        None => false,
    };
    match expected.certificate.filter(matches) {
        Some(certificate) => Ok((thumbprint_hex, certificate)),
        None => Err(refused(
            700027,
            format!(
                "AADSTS700027: The certificate with identifier used to sign the client assertion \
                 is not registered on application. [Reason - The key was not found., Thumbprint of \
                 key used by client: '{thumbprint_hex}', Please visit the Azure Portal, Graph \
                 Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                expected.client_id
            ),
        )),
    }
}

/// Verifies the signature with the certificate's key and returns the claims. Time, audience and
/// identity are checked separately, for Entra's distinct codes.
fn verified_claims(
    assertion: &str,
    algorithm: Algorithm,
    certificate: &Certificate,
    thumbprint_hex: &str,
) -> Result<Map<String, Value>, Refused> {
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let key = DecodingKey::from_rsa_der(&certificate.public_key);
    match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
        Ok(data) => match data.claims {
            Value::Object(claims) => Ok(claims),
            _ => Err(malformed("Token format not valid.")),
        },
        Err(error) => match error.kind() {
            jsonwebtoken::errors::ErrorKind::Json(_)
            | jsonwebtoken::errors::ErrorKind::Base64(_)
            | jsonwebtoken::errors::ErrorKind::Utf8(_) => Err(malformed("Token format not valid.")),
            _ => Err(refused(
                700027,
                format!(
                    "AADSTS700027: Client assertion contains an invalid signature. [Reason - The \
                     provided signature value did not match the expected signature value., \
                     Thumbprint of key used by client: '{thumbprint_hex}', Found key '{}']",
                    certificate.found_key()
                ),
            )),
        },
    }
}

/// `aud` must be this token endpoint, as one string (Entra also takes a one-element array).
fn check_audience(claims: &Map<String, Value>, audiences: &[String]) -> Result<(), Refused> {
    let values: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if values.len() > 1 {
        return Err(refused(
            5002741,
            format!(
                "AADSTS5002741: Number of audience values in the provided client credential \
                 exceed maximum allowed. {} audience values provided, maximum allowed is 1.",
                values.len()
            ),
        ));
    }
    match values.first() {
        Some(aud) if audiences.iter().any(|a| a == aud) => Ok(()),
        _ => Err(refused(
            700023,
            format!(
                "AADSTS700023: Client assertion audience claim does not match Realm issuer. {DOCS}"
            ),
        )),
    }
}

/// `iss` must be the app's client id and `sub` the same value.
fn check_identity(claims: &Map<String, Value>, client_id: &str) -> Result<(), Refused> {
    let iss = string_claim(claims, "iss").unwrap_or("");
    if !iss.eq_ignore_ascii_case(client_id) {
        return Err(refused(
            700021,
            format!(
                "AADSTS700021: Client assertion application identifier doesn't match 'client_id' \
                 parameter. {DOCS}"
            ),
        ));
    }
    if string_claim(claims, "sub") != Some(iss) {
        return Err(refused(
            50048,
            "AADSTS50048: Subject mismatches Issuer claim in the client assertion.",
        ));
    }
    Ok(())
}

/// `exp` must be in the future and `nbf` (when present) not beyond the clock skew. Entra treats a
/// missing `nbf` as the epoch (its error text then says "valid from 1970-01-01").
fn check_time(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), Refused> {
    let now = expected.now;
    let exp = numeric_claim(claims, "exp");
    let nbf = numeric_claim(claims, "nbf");
    let out_of_range = || {
        refused(
            700024,
            format!(
                "AADSTS700024: Client assertion is not within its valid time range. Current time: \
                 {}, assertion valid from {}, expiry time of assertion {}. {DOCS}",
                assertion_time(now),
                assertion_time(nbf.unwrap_or(0)),
                exp.map(assertion_time).unwrap_or_default()
            ),
        )
    };
    let Some(exp) = exp else {
        return Err(out_of_range());
    };
    if exp <= now || nbf.is_some_and(|nbf| nbf > now + NBF_SKEW_SECONDS) {
        return Err(out_of_range());
    }
    if let Some(max) = expected.max_lifetime {
        let start = nbf.or_else(|| numeric_claim(claims, "iat")).unwrap_or(now);
        if exp - start > max.as_secs() as i64 {
            let mut refusal = out_of_range();
            refusal
                .message
                .push_str(" (stand-in: assertion lifetime exceeds the configured maximum)");
            return Err(refusal);
        }
    }
    Ok(())
}

/// A NumericDate claim (RFC 7519 allows fractions; Entra reads whole seconds).
fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name)?.as_f64().map(|seconds| seconds as i64)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: Value) -> Map<String, Value> {
        match json {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn an_array_of_two_audiences_is_refused_like_entra() {
        let two = claims(serde_json::json!({"aud": ["a", "b"]}));
        assert_eq!(
            check_audience(&two, &["a".into()]).map_err(|r| r.code),
            Err(5002741)
        );
        let one = claims(serde_json::json!({"aud": ["a"]}));
        assert_eq!(check_audience(&one, &["a".into()]), Ok(()));
    }

    #[test]
    fn sub_must_equal_iss() {
        let mismatch = claims(serde_json::json!({"iss": "app", "sub": "other"}));
        assert_eq!(
            check_identity(&mismatch, "app").map_err(|r| r.code),
            Err(50048)
        );
        let wrong_app = claims(serde_json::json!({"iss": "x", "sub": "x"}));
        assert_eq!(
            check_identity(&wrong_app, "app").map_err(|r| r.code),
            Err(700021)
        );
    }

    #[test]
    fn nbf_within_skew_is_accepted_and_a_lifetime_cap_is_optional() {
        let expected = |max| Expected {
            certificate: None,
            client_id: "app",
            audiences: &[],
            now: 1_000_000,
            max_lifetime: max,
        };
        let early = claims(serde_json::json!({"nbf": 1_000_200, "exp": 1_003_000}));
        assert_eq!(check_time(&early, &expected(None)), Ok(()));
        let too_early = claims(serde_json::json!({"nbf": 1_000_301, "exp": 1_003_000}));
        assert_eq!(
            check_time(&too_early, &expected(None)).map_err(|r| r.code),
            Err(700024)
        );
        let long = claims(serde_json::json!({"nbf": 1_000_000, "exp": 1_003_600}));
        assert_eq!(check_time(&long, &expected(None)), Ok(()));
        let capped = check_time(&long, &expected(Some(Duration::from_secs(600))));
        assert_eq!(capped.map_err(|r| r.code), Err(700024));
    }

    #[test]
    fn a_missing_nbf_reads_as_the_epoch() {
        let expected = Expected {
            certificate: None,
            client_id: "app",
            audiences: &[],
            now: 2_000_000_000,
            max_lifetime: None,
        };
        let expired = claims(serde_json::json!({"exp": 1_999_999_999}));
        let refusal = check_time(&expired, &expected)
            .err()
            .map(|r| r.message)
            .unwrap_or_default();
        assert!(
            refusal.contains("valid from 1970-01-01T00:00:00.0000000Z"),
            "{refusal}"
        );
    }
}
