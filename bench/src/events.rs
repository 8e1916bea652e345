//! The events the functions receive: canonical `device.lost` webhooks, signed with the
//! Standard Webhooks scheme, wrapped in a Function URL (API Gateway v2) Lambda event like the
//! ones in events/. Every event names its own user and id, so the function's duplicate
//! detection never answers without calling Graph.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    #[error("a Standard Webhooks secret starts with whsec_")]
    NoPrefix,
    #[error("the part after whsec_ is not base64")]
    NotBase64,
}

/// Signs with one Standard Webhooks secret (`whsec_` + base64 key).
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub fn new(secret: &str) -> Result<Signer, SignerError> {
        let encoded = secret.strip_prefix("whsec_").ok_or(SignerError::NoPrefix)?;
        let key = B64.decode(encoded).map_err(|_| SignerError::NotBase64)?;
        Ok(Signer { key })
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &str) -> String {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(format!("{message_id}.{timestamp}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// Makes signed lost-device events for users `bench-{label}-{n}@contoso.com`.
#[derive(Debug, Clone)]
pub struct EventMaker {
    signer: Signer,
}

impl EventMaker {
    pub fn new(signer: Signer) -> EventMaker {
        EventMaker { signer }
    }

    /// The user that event `n` of run `label` names.
    pub fn user(label: &str, n: usize) -> String {
        format!("bench-{label}-{n:05}@contoso.com")
    }

    /// A Function URL event for `POST /standard` reporting the device of user `n` lost.
    pub fn lost_device(&self, label: &str, n: usize) -> String {
        let now = OffsetDateTime::now_utc();
        let event_id = format!("evt_bench_{label}_{n:05}");
        let body = json!({
            "type": "device.lost",
            "id": event_id,
            "timestamp": now.format(&Rfc3339).unwrap_or_default(),
            "data": {
                "device": {
                    "id": format!("dev-{label}-{n:05}"),
                    "serial_number": format!("BENCH{n:07}"),
                    "name": format!("Bench laptop {n}"),
                },
                "user": {"upn": Self::user(label, n)},
            },
        })
        .to_string();
        let message_id = format!("msg_{event_id}");
        let timestamp = now.unix_timestamp();
        let signature = self.signer.sign(&message_id, timestamp, &body);
        function_url_event(&body, &message_id, timestamp, &signature, now)
    }
}

fn function_url_event(
    body: &str,
    message_id: &str,
    timestamp: i64,
    signature: &str,
    now: OffsetDateTime,
) -> String {
    let host = "abcdefghij.lambda-url.us-east-1.on.aws";
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/standard",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": host,
            "user-agent": "lambda-bench/1.0",
            "webhook-id": message_id,
            "webhook-timestamp": timestamp.to_string(),
            "webhook-signature": signature,
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": host,
            "domainPrefix": "abcdefghij",
            "http": {
                "method": "POST",
                "path": "/standard",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "lambda-bench/1.0",
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "21/Nov/2026:10:00:00 +0000",
            "timeEpoch": now.unix_timestamp() * 1000,
        },
        "body": body,
        "isBase64Encoded": false,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        // DESIGN.md §7.
        let signer = Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signer.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn bad_secrets_are_errors() {
        assert_eq!(Signer::new("MfKQ9r8G").unwrap_err(), SignerError::NoPrefix);
        assert_eq!(
            Signer::new("whsec_***").unwrap_err(),
            SignerError::NotBase64
        );
    }

    #[test]
    fn each_event_names_its_own_user_and_is_signed_over_its_body() {
        let signer = Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let maker = EventMaker::new(signer.clone());
        let event: Value = serde_json::from_str(&maker.lost_device("t1", 7)).unwrap();
        let body = event["body"].as_str().unwrap();
        let payload: Value = serde_json::from_str(body).unwrap();
        assert_eq!(payload["data"]["user"]["upn"], EventMaker::user("t1", 7));
        let headers = &event["headers"];
        let id = headers["webhook-id"].as_str().unwrap();
        let timestamp: i64 = headers["webhook-timestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            headers["webhook-signature"],
            signer.sign(id, timestamp, body)
        );
        assert_ne!(EventMaker::user("t1", 7), EventMaker::user("t1", 8));
    }
}
