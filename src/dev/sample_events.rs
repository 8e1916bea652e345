//! Signing of sample Lambda HTTP events (Function URL / API Gateway / ALB JSON), for the
//! `sign-event` tool, the tests and the demo: events whose scheme carries a timestamp go stale,
//! so they are re-signed before use. The function itself never signs anything.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use crate::config::AppSecret;
use crate::domain::Source;
use crate::http::last_segment;

/// Why an event file cannot be signed.
#[derive(Debug, thiserror::Error)]
pub enum SampleEventError {
    #[error("the event has no rawPath or path: not an HTTP event")]
    NoPath,
    #[error("the event's path does not end in a source name")]
    BadSource,
    #[error("source `{0}` is not configured in the secret")]
    UnknownSource(String),
    #[error("the event's body is not valid base64 although isBase64Encoded is true")]
    BadBase64,
    #[error("the event is not a JSON object")]
    NotAnObject,
}

/// The source a sample event is addressed to: the last segment of its path.
pub fn source_of(event: &Value) -> Result<Source, SampleEventError> {
    let path = event
        .get("rawPath")
        .or_else(|| event.get("path"))
        .and_then(Value::as_str)
        .ok_or(SampleEventError::NoPath)?;
    Source::parse(last_segment(path)).map_err(|_| SampleEventError::BadSource)
}

/// The body bytes as the function will see them.
pub fn body_of(event: &Value) -> Result<Vec<u8>, SampleEventError> {
    let body = event.get("body").and_then(Value::as_str).unwrap_or("");
    if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        B64.decode(body).map_err(|_| SampleEventError::BadBase64)
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// Replaces the event's authentication headers with fresh ones made with the first secret of
/// its source's scheme, timestamped `now` (Unix seconds). Keeps an existing `webhook-id`.
pub fn sign(event: &mut Value, secret: &AppSecret, now: i64) -> Result<(), SampleEventError> {
    let source = source_of(event)?;
    let webhook = secret
        .webhooks
        .get(&source)
        .ok_or_else(|| SampleEventError::UnknownSource(source.to_string()))?;
    let body = body_of(event)?;
    let message_id = event
        .pointer("/headers/webhook-id")
        .and_then(Value::as_str)
        .map_or_else(|| format!("msg_{source}_{now}"), str::to_owned);
    let signed = webhook.scheme.sign(&body, now, &message_id);

    let object = event.as_object_mut().ok_or(SampleEventError::NotAnObject)?;
    let has_multi = object.contains_key("multiValueHeaders");
    for (name, value) in signed {
        let value = value.to_str().unwrap_or_default().to_owned();
        if has_multi {
            let values = Value::Array(vec![Value::String(value.clone())]);
            set_header(object, "multiValueHeaders", name.as_str(), values);
        }
        set_header(object, "headers", name.as_str(), Value::String(value));
    }
    Ok(())
}

fn set_header(event: &mut Map<String, Value>, key: &str, name: &str, value: Value) {
    let mut headers = match event.remove(key) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    headers.insert(name.to_owned(), value);
    event.insert(key.to_owned(), Value::Object(headers));
}
