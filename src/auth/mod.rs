//! Webhook authentication: the four schemes of the contract, each over a list of secrets so a
//! secret can rotate without downtime. Runs on the raw body bytes before any parser sees them;
//! every comparison of secret-derived bytes is constant time. Errors say what is wrong with the
//! request, never which secret was tried or what the expected value was.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

const WEBHOOK_ID: &str = "webhook-id";
const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// A configured way to authenticate one source's requests.
#[derive(Debug)]
pub enum Scheme {
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    StandardWebhooks { keys: Vec<SecretSlice<u8>> },
    /// An HMAC of the body (optionally `timestamp.body`) in one header.
    Hmac(HmacScheme),
    /// A shared token sent as-is in one header (Jamf Pro's header authentication).
    HeaderToken {
        header: HeaderName,
        tokens: Vec<SecretString>,
    },
    /// HTTP Basic; each secret is `user:password`.
    Basic { credentials: Vec<SecretString> },
}

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

/// A configuration value that cannot make a scheme. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("must list at least one secret")]
    NoSecrets,
    #[error("must not be empty")]
    EmptySecret,
    #[error("must be whsec_ followed by base64")]
    BadStandardWebhooksSecret,
    #[error("must be user:password")]
    BadBasicCredentials,
    #[error("is not a valid HTTP header name")]
    BadHeaderName,
}

/// Why a request is not authentic. Answered 401; safe to log and to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing header {0}")]
    MissingHeader(String),
    #[error("header {0} appears more than once")]
    DuplicateHeader(String),
    #[error("header {0} is malformed: {1}")]
    MalformedHeader(String, &'static str),
    #[error("timestamp is {0} s in the past, beyond the tolerance")]
    Stale(u64),
    #[error("timestamp is {0} s in the future, beyond the tolerance")]
    Future(u64),
    #[error("signature or token does not match")]
    Mismatch,
}

/// Body bytes that passed authentication; only [`Scheme::verify`] makes one.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedBody<'a>(&'a [u8]);

impl<'a> VerifiedBody<'a> {
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

fn non_empty<T>(secrets: Vec<T>) -> Result<Vec<T>, SchemeError> {
    if secrets.is_empty() {
        Err(SchemeError::NoSecrets)
    } else {
        Ok(secrets)
    }
}

/// A non-empty list of non-empty secrets.
fn checked_secrets(secrets: Vec<SecretString>) -> Result<Vec<SecretString>, SchemeError> {
    if secrets.iter().any(|s| s.expose_secret().is_empty()) {
        return Err(SchemeError::EmptySecret);
    }
    non_empty(secrets)
}

fn header_name(name: &str) -> Result<HeaderName, SchemeError> {
    HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| SchemeError::BadHeaderName)
}

/// Decodes a Standard Webhooks secret (`whsec_<base64>`; the prefix is optional, as in the
/// reference libraries) into its HMAC key.
fn standard_webhooks_key(secret: &str) -> Result<SecretSlice<u8>, SchemeError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    match B64.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key.into()),
        _ => Err(SchemeError::BadStandardWebhooksSecret),
    }
}

impl Scheme {
    /// `standard-webhooks` from `whsec_…` secrets.
    pub fn standard_webhooks(secrets: &[SecretString]) -> Result<Self, SchemeError> {
        let keys = secrets
            .iter()
            .map(|s| standard_webhooks_key(s.expose_secret()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::StandardWebhooks {
            keys: non_empty(keys)?,
        })
    }

    /// `header-token`: any one of `tokens` in `header`.
    pub fn header_token(header: &str, tokens: Vec<SecretString>) -> Result<Self, SchemeError> {
        Ok(Self::HeaderToken {
            header: header_name(header)?,
            tokens: checked_secrets(tokens)?,
        })
    }

    /// `basic`: any one of `credentials`, each `user:password`.
    pub fn basic(credentials: Vec<SecretString>) -> Result<Self, SchemeError> {
        let well_formed = |c: &SecretString| matches!(c.expose_secret().split_once(':'), Some((u, p)) if !u.is_empty() && !p.is_empty());
        if !credentials.iter().all(well_formed) {
            return Err(SchemeError::BadBasicCredentials);
        }
        Ok(Self::Basic {
            credentials: non_empty(credentials)?,
        })
    }

    /// `hmac` with its options; the key is each secret's UTF-8 bytes.
    pub fn hmac(
        header: &str,
        algorithm: HmacAlgorithm,
        encoding: SignatureEncoding,
        prefix: Option<String>,
        timestamp_header: Option<&str>,
        keys: Vec<SecretString>,
    ) -> Result<Self, SchemeError> {
        Ok(Self::Hmac(HmacScheme {
            header: header_name(header)?,
            algorithm,
            encoding,
            prefix: prefix.filter(|p| !p.is_empty()),
            timestamp_header: timestamp_header.map(header_name).transpose()?,
            keys: checked_secrets(keys)?,
        }))
    }

    /// The contract's name of this scheme, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::StandardWebhooks { .. } => "standard-webhooks",
            Self::Hmac(_) => "hmac",
            Self::HeaderToken { .. } => "header-token",
            Self::Basic { .. } => "basic",
        }
    }

    /// Authenticates a request: `now` is the current Unix time in seconds, `tolerance` the
    /// allowed clock difference in both directions for schemes that carry a timestamp.
    pub fn verify<'a>(
        &self,
        headers: &HeaderMap,
        body: &'a [u8],
        now: i64,
        tolerance: u64,
    ) -> Result<VerifiedBody<'a>, AuthError> {
        match self {
            Self::StandardWebhooks { keys } => {
                verify_standard_webhooks(keys, headers, body, now, tolerance)
            }
            Self::Hmac(scheme) => verify_hmac(scheme, headers, body, now, tolerance),
            Self::HeaderToken { header, tokens } => {
                let presented = single_header(headers, header.as_str())?;
                any_secret_equals(tokens, presented.as_bytes())
            }
            Self::Basic { credentials } => {
                let presented = basic_credentials(headers)?;
                any_secret_equals(credentials, &presented)
            }
        }?;
        Ok(VerifiedBody(body))
    }

    /// The headers a sender would attach, made with the first secret. For the `sign-event`
    /// tool and tests: the function itself never signs anything.
    pub fn sign(&self, body: &[u8], now: i64, message_id: &str) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::new();
        let mut push = |name: &str, value: String| {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), value.parse()) {
                out.push((n, v));
            }
        };
        match self {
            Self::StandardWebhooks { keys } => {
                let ts = now.to_string();
                let parts = standard_webhooks_parts(message_id, &ts, body);
                let mac = mac(HmacAlgorithm::Sha256, keys[0].expose_secret(), &parts);
                push(WEBHOOK_ID, message_id.to_owned());
                push(WEBHOOK_TIMESTAMP, ts);
                push(WEBHOOK_SIGNATURE, format!("v1,{}", B64.encode(mac)));
            }
            Self::Hmac(s) => {
                let ts = now.to_string();
                if let Some(h) = &s.timestamp_header {
                    push(h.as_str(), ts.clone());
                }
                let parts = hmac_parts(s.timestamp_header.as_ref().map(|_| ts.as_str()), body);
                let mac = mac(s.algorithm, s.keys[0].expose_secret().as_bytes(), &parts);
                let encoded = match s.encoding {
                    SignatureEncoding::Hex => hex(&mac),
                    SignatureEncoding::Base64 => B64.encode(mac),
                };
                let prefix = s.prefix.as_deref().unwrap_or("");
                push(s.header.as_str(), format!("{prefix}{encoded}"));
            }
            Self::HeaderToken { header, tokens } => {
                push(header.as_str(), tokens[0].expose_secret().to_owned());
            }
            Self::Basic { credentials } => {
                let encoded = B64.encode(credentials[0].expose_secret());
                push("authorization", format!("Basic {encoded}"));
            }
        }
        out
    }
}

/// The one value of a header that must appear exactly once.
fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, AuthError> {
    let mut values = headers.get_all(name).iter();
    let value = values
        .next()
        .ok_or_else(|| AuthError::MissingHeader(name.to_owned()))?;
    if values.next().is_some() {
        return Err(AuthError::DuplicateHeader(name.to_owned()));
    }
    let text = value
        .to_str()
        .map_err(|_| AuthError::MalformedHeader(name.to_owned(), "not visible ASCII"))?
        .trim();
    if text.is_empty() {
        return Err(AuthError::MalformedHeader(name.to_owned(), "empty"));
    }
    Ok(text)
}

fn check_timestamp(header: &str, value: &str, now: i64, tolerance: u64) -> Result<(), AuthError> {
    let ts: i64 = value
        .parse()
        .map_err(|_| AuthError::MalformedHeader(header.to_owned(), "not Unix seconds"))?;
    let skew = now.saturating_sub(ts);
    if skew > 0 && skew.unsigned_abs() > tolerance {
        return Err(AuthError::Stale(skew.unsigned_abs()));
    }
    if skew < 0 && skew.unsigned_abs() > tolerance {
        return Err(AuthError::Future(skew.unsigned_abs()));
    }
    Ok(())
}

/// What Standard Webhooks signs: `id.timestamp.body`.
fn standard_webhooks_parts<'a>(id: &'a str, timestamp: &'a str, body: &'a [u8]) -> [&'a [u8]; 5] {
    [id.as_bytes(), b".", timestamp.as_bytes(), b".", body]
}

/// What the `hmac` scheme signs: `timestamp.body` when it has a timestamp, else the body.
fn hmac_parts<'a>(timestamp: Option<&'a str>, body: &'a [u8]) -> Vec<&'a [u8]> {
    match timestamp {
        Some(ts) => vec![ts.as_bytes(), b".", body],
        None => vec![body],
    }
}

/// More signatures than this in one header are not looked at: rotation needs two, and each
/// one costs an HMAC comparison for every configured key.
const MAX_CANDIDATES: usize = 8;

fn verify_standard_webhooks(
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
    let parts = standard_webhooks_parts(id, timestamp, body);
    any_key_matches(
        keys.iter().map(|k| k.expose_secret()),
        HmacAlgorithm::Sha256,
        &parts,
        &candidates,
    )
}

fn verify_hmac(
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
    let parts = hmac_parts(timestamp, body);
    let keys = scheme.keys.iter().map(|k| k.expose_secret().as_bytes());
    any_key_matches(keys, scheme.algorithm, &parts, &[presented])
}

impl HmacAlgorithm {
    fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// HMAC of the concatenation of `parts`, computed without copying them together.
fn mac(algorithm: HmacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
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
fn any_key_matches<'k>(
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

/// Constant-time equality that also hides the secret's length: both sides are hashed first.
fn any_secret_equals(secrets: &[SecretString], presented: &[u8]) -> Result<(), AuthError> {
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

fn basic_credentials(headers: &HeaderMap) -> Result<Vec<u8>, AuthError> {
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

fn hex(bytes: &[u8]) -> String {
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

    const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SW_TS: i64 = 1_614_265_330;
    const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const GH_KEY: &str = "It's a Secret to Everybody";
    const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn secrets(values: &[&str]) -> Vec<SecretString> {
        values.iter().map(|v| SecretString::from(*v)).collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        map
    }

    fn sw_headers(sig: &str) -> HeaderMap {
        headers(&[
            ("webhook-id", SW_ID),
            ("webhook-timestamp", &SW_TS.to_string()),
            ("webhook-signature", sig),
        ])
    }

    fn github() -> Scheme {
        Scheme::hmac(
            "X-Hub-Signature-256",
            HmacAlgorithm::Sha256,
            SignatureEncoding::Hex,
            Some("sha256=".into()),
            None,
            secrets(&[GH_KEY]),
        )
        .unwrap()
    }

    #[test]
    fn standard_webhooks_accepts_the_spec_test_vector() {
        let scheme = Scheme::standard_webhooks(&secrets(&[SW_SECRET])).unwrap();
        let ok = scheme.verify(&sw_headers(SW_SIG), SW_BODY, SW_TS, 300);
        assert_eq!(ok.unwrap().bytes(), SW_BODY);
    }

    #[test]
    fn standard_webhooks_signer_reproduces_the_spec_test_vector() {
        let scheme = Scheme::standard_webhooks(&secrets(&[SW_SECRET])).unwrap();
        let signed = scheme.sign(SW_BODY, SW_TS, SW_ID);
        let sig = signed
            .iter()
            .find(|(n, _)| n == "webhook-signature")
            .unwrap();
        assert_eq!(sig.1, SW_SIG);
    }

    #[test]
    fn standard_webhooks_accepts_any_of_several_signatures_and_skips_other_versions() {
        let scheme = Scheme::standard_webhooks(&secrets(&[SW_SECRET])).unwrap();
        let header = format!("v2,abc v1,AAAA {SW_SIG}");
        assert!(
            scheme
                .verify(&sw_headers(&header), SW_BODY, SW_TS, 300)
                .is_ok()
        );
    }

    #[test]
    fn standard_webhooks_looks_at_no_more_than_eight_signatures() {
        let scheme = Scheme::standard_webhooks(&secrets(&[SW_SECRET])).unwrap();
        let filler = ["v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; 8].join(" ");
        let header = format!("{filler} {SW_SIG}");
        assert_eq!(
            scheme
                .verify(&sw_headers(&header), SW_BODY, SW_TS, 300)
                .unwrap_err(),
            AuthError::Mismatch,
            "a ninth signature is never computed against"
        );
    }

    #[test]
    fn unhex_takes_plain_hex_digits_only() {
        assert_eq!(unhex("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(unhex("+a+b"), None);
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn standard_webhooks_rejects_a_tampered_body() {
        let scheme = Scheme::standard_webhooks(&secrets(&[SW_SECRET])).unwrap();
        let err = scheme.verify(&sw_headers(SW_SIG), br#"{"test": 2432232315}"#, SW_TS, 300);
        assert_eq!(err.unwrap_err(), AuthError::Mismatch);
    }

    #[test]
    fn standard_webhooks_rejects_a_wrong_secret() {
        let scheme =
            Scheme::standard_webhooks(&secrets(&["whsec_dGhpcyBpcyBub3QgdGhlIGtleQ=="])).unwrap();
        let err = scheme.verify(&sw_headers(SW_SIG), SW_BODY, SW_TS, 300);
        assert_eq!(err.unwrap_err(), AuthError::Mismatch);
    }

    #[test]
    fn standard_webhooks_accepts_the_second_secret_of_a_rotation_pair() {
        let scheme =
            Scheme::standard_webhooks(&secrets(&["whsec_dGhpcyBpcyBub3QgdGhlIGtleQ==", SW_SECRET]))
                .unwrap();
        assert!(
            scheme
                .verify(&sw_headers(SW_SIG), SW_BODY, SW_TS, 300)
                .is_ok()
        );
    }

    #[test]
    fn standard_webhooks_rejects_stale_and_future_timestamps() {
        let scheme = Scheme::standard_webhooks(&secrets(&[SW_SECRET])).unwrap();
        let h = sw_headers(SW_SIG);
        assert_eq!(
            scheme.verify(&h, SW_BODY, SW_TS + 301, 300).unwrap_err(),
            AuthError::Stale(301)
        );
        assert_eq!(
            scheme.verify(&h, SW_BODY, SW_TS - 301, 300).unwrap_err(),
            AuthError::Future(301)
        );
        assert!(scheme.verify(&h, SW_BODY, SW_TS + 300, 300).is_ok());
        assert!(scheme.verify(&h, SW_BODY, SW_TS - 300, 300).is_ok());
    }

    #[test]
    fn standard_webhooks_rejects_missing_duplicated_and_malformed_headers() {
        let scheme = Scheme::standard_webhooks(&secrets(&[SW_SECRET])).unwrap();
        let ts = SW_TS.to_string();

        let missing = headers(&[("webhook-id", SW_ID), ("webhook-timestamp", &ts)]);
        assert_eq!(
            scheme.verify(&missing, SW_BODY, SW_TS, 300).unwrap_err(),
            AuthError::MissingHeader("webhook-signature".into())
        );

        let mut duplicated = sw_headers(SW_SIG);
        duplicated.append("webhook-id", HeaderValue::from_static("msg_other"));
        assert_eq!(
            scheme.verify(&duplicated, SW_BODY, SW_TS, 300).unwrap_err(),
            AuthError::DuplicateHeader("webhook-id".into())
        );

        let bad_ts = headers(&[
            ("webhook-id", SW_ID),
            ("webhook-timestamp", "yesterday"),
            ("webhook-signature", SW_SIG),
        ]);
        assert!(matches!(
            scheme.verify(&bad_ts, SW_BODY, SW_TS, 300).unwrap_err(),
            AuthError::MalformedHeader(h, _) if h == "webhook-timestamp"
        ));

        for bad_sig in ["g0hM9SsE+OTPJTGt", "v1,", "v1,not base64!"] {
            assert!(matches!(
                scheme.verify(&sw_headers(bad_sig), SW_BODY, SW_TS, 300).unwrap_err(),
                AuthError::MalformedHeader(h, _) if h == "webhook-signature"
            ));
        }

        let non_ascii = headers(&[
            ("webhook-id", SW_ID),
            ("webhook-timestamp", &ts),
            ("webhook-signature", "v1,\u{e9}"),
        ]);
        assert!(scheme.verify(&non_ascii, SW_BODY, SW_TS, 300).is_err());
    }

    #[test]
    fn schemes_refuse_an_empty_secret_list() {
        assert_eq!(
            Scheme::standard_webhooks(&[]).unwrap_err(),
            SchemeError::NoSecrets
        );
        assert_eq!(
            Scheme::header_token("X-Token", vec![]).unwrap_err(),
            SchemeError::NoSecrets
        );
        assert_eq!(Scheme::basic(vec![]).unwrap_err(), SchemeError::NoSecrets);
        let hmac = Scheme::hmac(
            "X-Sig",
            HmacAlgorithm::Sha256,
            SignatureEncoding::Hex,
            None,
            None,
            vec![],
        );
        assert_eq!(hmac.unwrap_err(), SchemeError::NoSecrets);
    }

    #[test]
    fn schemes_refuse_malformed_secrets() {
        assert_eq!(
            Scheme::standard_webhooks(&secrets(&["whsec_***"])).unwrap_err(),
            SchemeError::BadStandardWebhooksSecret
        );
        assert_eq!(
            Scheme::header_token("X-Token", secrets(&[""])).unwrap_err(),
            SchemeError::EmptySecret
        );
        assert_eq!(
            Scheme::basic(secrets(&["no-colon"])).unwrap_err(),
            SchemeError::BadBasicCredentials
        );
        assert_eq!(
            Scheme::header_token("bad header", secrets(&["t"])).unwrap_err(),
            SchemeError::BadHeaderName
        );
    }

    #[test]
    fn hmac_accepts_the_github_test_vector() {
        let h = headers(&[("x-hub-signature-256", GH_SIG)]);
        assert!(github().verify(&h, b"Hello, World!", 0, 300).is_ok());
    }

    #[test]
    fn hmac_signer_reproduces_the_github_test_vector() {
        let signed = github().sign(b"Hello, World!", 0, "unused");
        assert_eq!(signed[0].1, GH_SIG);
    }

    #[test]
    fn hmac_rejects_tampered_body_wrong_prefix_and_bad_hex() {
        let scheme = github();
        let h = headers(&[("x-hub-signature-256", GH_SIG)]);
        assert_eq!(
            scheme.verify(&h, b"Hello, World?", 0, 300).unwrap_err(),
            AuthError::Mismatch
        );
        let no_prefix = headers(&[("x-hub-signature-256", &GH_SIG[7..])]);
        assert!(matches!(
            scheme.verify(&no_prefix, b"Hello, World!", 0, 300),
            Err(AuthError::MalformedHeader(_, "missing prefix"))
        ));
        let bad_hex = headers(&[("x-hub-signature-256", "sha256=zz")]);
        assert!(matches!(
            scheme.verify(&bad_hex, b"Hello, World!", 0, 300),
            Err(AuthError::MalformedHeader(_, "not valid encoding"))
        ));
    }

    #[test]
    fn hmac_sha512_base64_with_timestamp_round_trips_and_checks_the_window() {
        let scheme = Scheme::hmac(
            "X-Signature",
            HmacAlgorithm::Sha512,
            SignatureEncoding::Base64,
            None,
            Some("X-Timestamp"),
            secrets(&["old-key", "new-key"]),
        )
        .unwrap();
        let now = 1_700_000_000;
        let mut h = HeaderMap::new();
        for (n, v) in scheme.sign(b"body", now, "id") {
            h.insert(n, v);
        }
        assert!(scheme.verify(&h, b"body", now + 10, 300).is_ok());
        assert_eq!(
            scheme.verify(&h, b"body", now + 1_000, 300).unwrap_err(),
            AuthError::Stale(1_000)
        );
        h.remove("x-timestamp");
        assert_eq!(
            scheme.verify(&h, b"body", now, 300).unwrap_err(),
            AuthError::MissingHeader("x-timestamp".into())
        );
    }

    #[test]
    fn hmac_signed_with_the_second_key_of_a_rotation_pair_is_accepted() {
        let mac = hex(&mac(HmacAlgorithm::Sha256, b"new-key", &[b"payload"]));
        let scheme = Scheme::hmac(
            "X-Sig",
            HmacAlgorithm::Sha256,
            SignatureEncoding::Hex,
            None,
            None,
            secrets(&["old-key", "new-key"]),
        )
        .unwrap();
        let h = headers(&[("x-sig", &mac.to_uppercase())]);
        assert!(scheme.verify(&h, b"payload", 0, 300).is_ok());
    }

    #[test]
    fn header_token_accepts_either_rotation_token_and_nothing_else() {
        let scheme =
            Scheme::header_token("X-Webhook-Token", secrets(&["token-a", "token-b"])).unwrap();
        for good in ["token-a", "token-b"] {
            let h = headers(&[("x-webhook-token", good)]);
            assert!(scheme.verify(&h, b"", 0, 300).is_ok());
        }
        for bad in ["token-c", "Token-a", "token-", "token-bb"] {
            let h = headers(&[("x-webhook-token", bad)]);
            assert!(scheme.verify(&h, b"", 0, 300).is_err(), "{bad:?}");
        }
        assert_eq!(
            scheme.verify(&HeaderMap::new(), b"", 0, 300).unwrap_err(),
            AuthError::MissingHeader("x-webhook-token".into())
        );
        let twice = headers(&[
            ("x-webhook-token", "token-a"),
            ("x-webhook-token", "token-a"),
        ]);
        assert_eq!(
            scheme.verify(&twice, b"", 0, 300).unwrap_err(),
            AuthError::DuplicateHeader("x-webhook-token".into())
        );
    }

    #[test]
    fn basic_accepts_configured_credentials_only() {
        let scheme = Scheme::basic(secrets(&["jamf:s3cret", "jamf:n3xt"])).unwrap();
        let good = headers(&[("authorization", "Basic amFtZjpuM3h0")]); // jamf:n3xt
        assert!(scheme.verify(&good, b"", 0, 300).is_ok());
        let lower = headers(&[("authorization", "basic amFtZjpzM2NyZXQ=")]); // jamf:s3cret
        assert!(scheme.verify(&lower, b"", 0, 300).is_ok());
        let wrong = headers(&[("authorization", "Basic amFtZjp3cm9uZw==")]); // jamf:wrong
        assert_eq!(
            scheme.verify(&wrong, b"", 0, 300).unwrap_err(),
            AuthError::Mismatch
        );
        for malformed in ["Bearer abc", "Basic", "Basic ***"] {
            let h = headers(&[("authorization", malformed)]);
            assert!(matches!(
                scheme.verify(&h, b"", 0, 300),
                Err(AuthError::MalformedHeader(_, _))
            ));
        }
    }

    #[test]
    fn debug_output_of_a_scheme_shows_no_secret() {
        let scheme = Scheme::header_token("X-Token", secrets(&["super-secret-token"])).unwrap();
        let sw = Scheme::standard_webhooks(&secrets(&[SW_SECRET])).unwrap();
        let text = format!("{scheme:?} {sw:?} {:?}", github());
        assert!(!text.contains("super-secret-token"));
        assert!(!text.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert!(!text.contains(GH_KEY));
    }
}
