//! The `hmac` scheme: an HMAC (SHA-256 or SHA-512, hex or base64, optional prefix) of the body,
//! or of `timestamp.body` when a timestamp header is configured, in one header. Also the MAC
//! primitives Standard Webhooks shares: every comparison constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::{AuthError, check_timestamp, single_header};

/// Settings of the `hmac` scheme.
#[derive(Debug)]
pub struct HmacScheme {
    pub header: HeaderName,
    pub algorithm: HmacAlgorithm,
    pub encoding: SignatureEncoding,
    pub prefix: Option<String>,
    pub timestamp_header: Option<HeaderName>,
    pub keys: Vec<SecretString>,
}

/// Digest of the `hmac` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlgorithm {
    Sha256,
    Sha512,
}

/// How the `hmac` scheme writes the MAC into its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    Hex,
    Base64,
}

/// What the `hmac` scheme signs: `timestamp.body` when it has a timestamp, else the body.
pub(super) fn signed_parts<'a>(timestamp: Option<&'a str>, body: &'a [u8]) -> Vec<&'a [u8]> {
    match timestamp {
        Some(ts) => vec![ts.as_bytes(), b".", body],
        None => vec![body],
    }
}

pub(super) fn verify(
    scheme: &HmacScheme,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<(), AuthError> {
    let header = scheme.header.as_str();
    let value = single_header(headers, header)?;
    let encoded = match &scheme.prefix {
        Some(prefix) => value
            .strip_prefix(prefix.as_str())
            .ok_or_else(|| AuthError::MalformedHeader(header.to_owned(), "missing prefix"))?,
        None => value,
    };
    let presented = match scheme.encoding {
        SignatureEncoding::Hex => unhex(encoded),
        SignatureEncoding::Base64 => B64.decode(encoded).ok(),
    }
    .filter(|mac| mac.len() == scheme.algorithm.output_len())
    .ok_or_else(|| AuthError::MalformedHeader(header.to_owned(), "not valid encoding"))?;

    let timestamp = match &scheme.timestamp_header {
        Some(ts_header) => {
            let ts = single_header(headers, ts_header.as_str())?;
            check_timestamp(ts_header.as_str(), ts, now, tolerance)?;
            Some(ts)
        }
        None => None,
    };
    let parts = signed_parts(timestamp, body);
    let keys = scheme.keys.iter().map(|k| k.expose_secret().as_bytes());
    any_key_matches(keys, scheme.algorithm, &parts, &[presented])
}

impl HmacAlgorithm {
    pub(super) fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// HMAC of the concatenation of `parts`, computed without copying them together.
pub(super) fn mac(algorithm: HmacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac =
            <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        HmacAlgorithm::Sha256 => run::<Hmac<Sha256>>(key, parts),
        HmacAlgorithm::Sha512 => run::<Hmac<Sha512>>(key, parts),
    }
}

/// Whether any key's MAC over `parts` equals any candidate. Each key's MAC is computed once;
/// every comparison is constant time and none is skipped once one matches.
pub(super) fn any_key_matches<'k>(
    keys: impl Iterator<Item = &'k [u8]>,
    algorithm: HmacAlgorithm,
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> Result<(), AuthError> {
    let matched = keys.fold(subtle::Choice::from(0), |acc, key| {
        let expected = mac(algorithm, key, parts);
        candidates
            .iter()
            .fold(acc, |acc, c| acc | expected.as_slice().ct_eq(c.as_slice()))
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

#[cfg(any(test, feature = "dev-tools"))]
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    // from_str_radix would also take a sign ("+a"): only plain hex digits are a signature.
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhex_takes_plain_hex_digits_only() {
        assert_eq!(unhex("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(unhex("+a+b"), None);
        assert_eq!(unhex("abc"), None);
    }
}
