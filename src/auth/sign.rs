//! Signing, as a sender would: for the `sign-event` tool, the demo and tests (feature
//! `dev-tools`). The function itself never signs anything, so this is not in its binary.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderName, HeaderValue};
use secrecy::ExposeSecret;

use super::hmac::{self, HmacAlgorithm, SignatureEncoding};
use super::{Scheme, standard_webhooks};

impl Scheme {
    /// The headers a sender would attach, made with the first secret.
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
                let parts = standard_webhooks::signed_parts(message_id, &ts, body);
                let mac = hmac::mac(HmacAlgorithm::Sha256, keys[0].expose_secret(), &parts);
                push(standard_webhooks::WEBHOOK_ID, message_id.to_owned());
                push(standard_webhooks::WEBHOOK_TIMESTAMP, ts);
                push(
                    standard_webhooks::WEBHOOK_SIGNATURE,
                    format!("v1,{}", B64.encode(mac)),
                );
            }
            Self::Hmac(s) => {
                let ts = now.to_string();
                if let Some(h) = &s.timestamp_header {
                    push(h.as_str(), ts.clone());
                }
                let parts =
                    hmac::signed_parts(s.timestamp_header.as_ref().map(|_| ts.as_str()), body);
                let mac = hmac::mac(s.algorithm, s.keys[0].expose_secret().as_bytes(), &parts);
                let encoded = match s.encoding {
                    SignatureEncoding::Hex => hmac::hex(&mac),
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
