//! Shared tokens, which authenticate the sender but not the body: `header-token` (a token sent
//! as-is in one header, as Jamf Pro's header authentication does) and `basic` (HTTP Basic,
//! each secret `user:password`). Compared in constant time, lengths hidden.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AuthError, single_header};

/// Constant-time equality that also hides the secret's length: both sides are hashed first.
pub(super) fn any_secret_equals(
    secrets: &[SecretString],
    presented: &[u8],
) -> Result<(), AuthError> {
    let presented = Sha256::digest(presented);
    let matched = secrets.iter().fold(subtle::Choice::from(0), |acc, s| {
        acc | Sha256::digest(s.expose_secret().as_bytes()).ct_eq(&presented)
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

pub(super) fn basic_credentials(headers: &HeaderMap) -> Result<Vec<u8>, AuthError> {
    const NAME: &str = "authorization";
    let value = single_header(headers, NAME)?;
    let (scheme, encoded) = value.split_once(' ').ok_or(AuthError::MalformedHeader(
        NAME.to_owned(),
        "expected Basic <base64>",
    ))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::MalformedHeader(
            NAME.to_owned(),
            "expected Basic <base64>",
        ));
    }
    B64.decode(encoded.trim())
        .map_err(|_| AuthError::MalformedHeader(NAME.to_owned(), "not valid base64"))
}
