//! The events the functions receive: canonical `device.lost` webhooks, signed with the
//! Standard Webhooks scheme, wrapped in a Function URL (API Gateway v2) Lambda event like the
//! ones in events/. Every event names its own user and id, so the function's duplicate
//! detection never answers without calling Graph.

use std::sync::Arc;

use revoker::config::AppSecret;
use revoker::dev::sample_events;
use revoker::domain::Source;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why events cannot be made from a secret.
#[derive(Debug, thiserror::Error)]
pub enum MakerError {
    #[error("the secret does not parse: {0}")]
    Secret(String),
    #[error("the secret configures no `standard` source to sign events for")]
    NoStandardSource,
}

/// Makes signed lost-device events for users `bench-{label}-{n}@contoso.com`, signed for the
/// `standard` source with the project's own signer (`revoker::dev::sample_events`).
#[derive(Debug, Clone)]
pub struct EventMaker {
    secret: Arc<AppSecret>,
}

impl EventMaker {
    /// `secret_json` is the function's secret; it must configure the `standard` source.
    pub fn new(secret_json: &str) -> Result<EventMaker, MakerError> {
        let secret =
            AppSecret::parse(secret_json).map_err(|e| MakerError::Secret(e.to_string()))?;
        let standard = Source::parse("standard").map_err(|e| MakerError::Secret(e.to_string()))?;
        if !secret.webhooks.contains_key(&standard) {
            return Err(MakerError::NoStandardSource);
        }
        Ok(EventMaker {
            secret: Arc::new(secret),
        })
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
        let mut event = function_url_event("/standard", &body, &format!("msg_{event_id}"), now);
        // `new` checked that the `standard` source exists, and the event has a path and a
        // plain body: signing cannot fail.
        sample_events::sign(&mut event, &self.secret, now.unix_timestamp())
            .unwrap_or_else(|e| unreachable!("signing a well-formed bench event: {e}"));
        event.to_string()
    }

    /// EventBridge's scheduled event, as the Intune poller receives it each minute.
    pub fn scheduled_event(&self) -> String {
        let now = OffsetDateTime::now_utc();
        json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": now.format(&Rfc3339).unwrap_or_default(),
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/lost-device-bench"],
            "detail": {}
        })
        .to_string()
    }

    /// An Intune audit record: the device of the user `label` names put in lost mode a
    /// minute ago.
    pub fn intune_record(label: &str) -> Value {
        let requested = OffsetDateTime::now_utc() - time::Duration::minutes(1);
        json!({
            "@odata.type": "#microsoft.graph.remoteActionAudit",
            "id": uuid::Uuid::new_v4().to_string(),
            "deviceDisplayName": format!("Bench laptop {label}"),
            "userName": "helpdesk@contoso.com",
            "initiatedByUserPrincipalName": "helpdesk@contoso.com",
            "action": "enableLostMode",
            "requestDateTime": requested.format(&Rfc3339).unwrap_or_default(),
            "deviceOwnerUserPrincipalName": Self::user(label, 0),
            "deviceIMEI": "",
            "actionState": "pending",
            "managedDeviceId": uuid::Uuid::new_v4().to_string(),
            "deviceActionCategory": "single"
        })
    }

    /// A Function URL event for `POST {path}` carrying `body`, signed for the path's source
    /// as a sender holding the secret would sign it.
    pub fn signed(&self, path: &str, body: &str) -> Result<String, MakerError> {
        let now = OffsetDateTime::now_utc();
        let message_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let mut event = function_url_event(path, body, &message_id, now);
        sample_events::sign(&mut event, &self.secret, now.unix_timestamp())
            .map_err(|e| MakerError::Secret(e.to_string()))?;
        Ok(event.to_string())
    }
}

/// The Function URL event, with its `webhook-id`; the signature headers are added by `sign`.
fn function_url_event(path: &str, body: &str, message_id: &str, now: OffsetDateTime) -> Value {
    let host = "abcdefghij.lambda-url.us-east-1.on.aws";
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": host,
            "user-agent": "lambda-bench/1.0",
            "webhook-id": message_id,
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
                "path": path,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO_SECRET: &str = include_str!("../../examples/demo-secret.json");

    #[test]
    fn each_event_names_its_own_user_and_passes_the_functions_own_check() {
        let maker = EventMaker::new(DEMO_SECRET).unwrap();
        let event: Value = serde_json::from_str(&maker.lost_device("t1", 7)).unwrap();
        let body = event["body"].as_str().unwrap();
        let payload: Value = serde_json::from_str(body).unwrap();
        assert_eq!(payload["data"]["user"]["upn"], EventMaker::user("t1", 7));
        assert_ne!(EventMaker::user("t1", 7), EventMaker::user("t1", 8));

        // The webhook's verifier, on the request as lambda_http builds it.
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let secret = AppSecret::parse(DEMO_SECRET).unwrap();
        let scheme = &secret.webhooks[&Source::parse("standard").unwrap()].scheme;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(
            scheme
                .verify(request.headers(), body.as_bytes(), now, 300)
                .is_ok()
        );
    }

    #[test]
    fn a_secret_without_a_standard_source_is_refused() {
        let mut secret: Value = serde_json::from_str(DEMO_SECRET).unwrap();
        secret["webhooks"]
            .as_object_mut()
            .unwrap()
            .remove("standard");
        let error = EventMaker::new(&secret.to_string()).unwrap_err();
        assert!(matches!(error, MakerError::NoStandardSource));
    }
}
