//! Webhook authentication: the four schemes of the contract (README, "The secret"), each over a list of secrets so a
//! secret can rotate without downtime. Runs on the raw body bytes before any parser sees them;
//! every comparison of secret-derived bytes is constant time. Errors say what is wrong with the
//! request, never which secret was tried or what the expected value was.

mod hmac;
mod shared_token;
#[cfg(any(test, feature = "dev-tools"))]
mod sign;
mod standard_webhooks;

use http::{HeaderMap, HeaderName};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

pub use hmac::{HmacAlgorithm, HmacScheme, SignatureEncoding};

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

pub(super) fn non_empty<T>(secrets: Vec<T>) -> Result<Vec<T>, SchemeError> {
    if secrets.is_empty() {
        Err(SchemeError::NoSecrets)
    } else {
        Ok(secrets)
    }
}

/// A non-empty list of non-empty secrets.
pub(super) fn checked_secrets(
    secrets: Vec<SecretString>,
) -> Result<Vec<SecretString>, SchemeError> {
    if secrets.iter().any(|s| s.expose_secret().is_empty()) {
        return Err(SchemeError::EmptySecret);
    }
    non_empty(secrets)
}

pub(super) fn header_name(name: &str) -> Result<HeaderName, SchemeError> {
    HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| SchemeError::BadHeaderName)
}

impl Scheme {
    /// `standard-webhooks` from `whsec_…` secrets.
    pub fn standard_webhooks(secrets: &[SecretString]) -> Result<Self, SchemeError> {
        let keys = secrets
            .iter()
            .map(|s| standard_webhooks::key(s.expose_secret()))
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
                standard_webhooks::verify(keys, headers, body, now, tolerance)
            }
            Self::Hmac(scheme) => hmac::verify(scheme, headers, body, now, tolerance),
            Self::HeaderToken { header, tokens } => {
                let presented = single_header(headers, header.as_str())?;
                shared_token::any_secret_equals(tokens, presented.as_bytes())
            }
            Self::Basic { credentials } => {
                let presented = shared_token::basic_credentials(headers)?;
                shared_token::any_secret_equals(credentials, &presented)
            }
        }?;
        Ok(VerifiedBody(body))
    }
}

/// The one value of a header that must appear exactly once.
pub(super) fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, AuthError> {
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

pub(super) fn check_timestamp(
    header: &str,
    value: &str,
    now: i64,
    tolerance: u64,
) -> Result<(), AuthError> {
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

#[cfg(test)]
mod tests {
    use super::hmac::{hex, mac};
    use super::*;
    use http::HeaderValue;

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
