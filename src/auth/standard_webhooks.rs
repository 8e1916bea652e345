//! Standard Webhooks (standardwebhooks.com): headers `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` (space-separated `v1,<base64>` entries); the signed content is
//! `id.timestamp.body`, HMAC-SHA256 under the base64 key that follows `whsec_`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretSlice};

use super::hmac::{HmacAlgorithm, any_key_matches};
use super::{AuthError, SchemeError, check_timestamp, single_header};

pub(super) const WEBHOOK_ID: &str = "webhook-id";
pub(super) const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub(super) const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Decodes a Standard Webhooks secret (`whsec_<base64>`; the prefix is optional, as in the
/// reference libraries) into its HMAC key.
pub(super) fn key(secret: &str) -> Result<SecretSlice<u8>, SchemeError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    match B64.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key.into()),
        _ => Err(SchemeError::BadStandardWebhooksSecret),
    }
}

/// What Standard Webhooks signs: `id.timestamp.body`.
pub(super) fn signed_parts<'a>(id: &'a str, timestamp: &'a str, body: &'a [u8]) -> [&'a [u8]; 5] {
    [id.as_bytes(), b".", timestamp.as_bytes(), b".", body]
}

/// More signatures than this in one header are not looked at: rotation needs two, and each
/// one costs an HMAC comparison for every configured key.
const MAX_CANDIDATES: usize = 8;

pub(super) fn verify(
    keys: &[SecretSlice<u8>],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<(), AuthError> {
    let id = single_header(headers, WEBHOOK_ID)?;
    let timestamp = single_header(headers, WEBHOOK_TIMESTAMP)?;
    let signatures = single_header(headers, WEBHOOK_SIGNATURE)?;
    check_timestamp(WEBHOOK_TIMESTAMP, timestamp, now, tolerance)?;

    // Space-separated `version,base64` entries; unknown versions are skipped, as the spec says.
    let candidates: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .take(MAX_CANDIDATES)
        .filter_map(|sig| B64.decode(sig).ok())
        .filter(|sig| sig.len() == HmacAlgorithm::Sha256.output_len())
        .collect();
    if candidates.is_empty() {
        return Err(AuthError::MalformedHeader(
            WEBHOOK_SIGNATURE.to_owned(),
            "no v1,<base64> signature",
        ));
    }
    let parts = signed_parts(id, timestamp, body);
    any_key_matches(
        keys.iter().map(|k| k.expose_secret()),
        HmacAlgorithm::Sha256,
        &parts,
        &candidates,
    )
}
