//! MDM payloads: an authenticated body becomes a [`Parsed`] decision input, one module per format.
//! Parsing never panics and never echoes a value from the body in an error: the sender is trusted
//! to be who it says, not to send well-formed data, and errors end up in logs and responses.

mod canonical;
mod jamf;
pub(crate) mod json_fields;

use serde_json::Value;

use crate::domain::{Device, EventId, LossKind, LostDeviceEvent, Owners, Parsed, Source, UserRef};

/// Options from the function's configuration that shape parsing.
#[derive(Debug, Clone)]
pub struct MdmOptions {
    /// `USER_DOMAIN`: appended as `@domain` to bare usernames.
    pub user_domain: Option<String>,
    /// `JAMF_LOST_GROUPS`: smart-group ids or names whose added devices are lost.
    pub jamf_lost_groups: Vec<String>,
    /// `JAMF_LOST_COMMANDS`: MDM commands that mean lost (the config defaults it to `EnableLostMode`).
    pub jamf_lost_commands: Vec<String>,
    /// `MAX_USERS_PER_EVENT`: grouping stops at the first user past it (the event is refused).
    pub max_users_per_event: usize,
}

impl Default for MdmOptions {
    /// No domain, no lost groups or commands, and no user cap (the configuration sets one).
    fn default() -> Self {
        Self {
            user_domain: None,
            jamf_lost_groups: Vec::new(),
            jamf_lost_commands: Vec::new(),
            max_users_per_event: usize::MAX,
        }
    }
}

/// Which payload shape a source sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    Canonical,
    Jamf,
}

impl PayloadFormat {
    /// "canonical" | "jamf" (from the secret's optional "format" key); None for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "canonical" => Some(Self::Canonical),
            "jamf" => Some(Self::Jamf),
            _ => None,
        }
    }

    /// The default for a source without "format": a source named exactly "jamf" reads Jamf, every
    /// other the canonical event.
    pub fn default_for(source: &Source) -> Self {
        if source.as_str() == "jamf" {
            Self::Jamf
        } else {
            Self::Canonical
        }
    }
}

/// An authenticated body that is not a well-formed event: names the field and what was
/// expected, never the value.
pub use crate::payload::json_fields::FieldError as PayloadError;

/// Raw (already authenticated) body bytes -> decision input.
pub fn parse(
    format: PayloadFormat,
    source: &Source,
    body: &[u8],
    opts: &MdmOptions,
) -> Result<Parsed, PayloadError> {
    let json = read_json(body)?;
    match format {
        PayloadFormat::Canonical => canonical::parse(source, &json, opts),
        PayloadFormat::Jamf => jamf::parse(source, &json, opts),
    }
}

/// Bytes -> JSON value. serde_json's messages are dropped on purpose: they can quote the input.
fn read_json(body: &[u8]) -> Result<Value, PayloadError> {
    if body.is_empty() {
        return Err(PayloadError::new("body", "is empty"));
    }
    let text =
        std::str::from_utf8(body).map_err(|_| PayloadError::new("body", "is not UTF-8 text"))?;
    // Some Windows-built relays prefix a byte-order mark, which JSON parsers reject.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // serde_json bounds nesting depth (128), so a hostile `[[[[…` is an error, not a stack overflow.
    serde_json::from_str(text).map_err(|_| PayloadError::new("body", "is not valid JSON"))
}

/// Device fields and foreign event types only label audit lines and responses; bound them so one
/// body cannot bloat every line written about it.
const MAX_LABEL_TEXT: usize = 256;

fn bounded(raw: String) -> String {
    if raw.chars().count() <= MAX_LABEL_TEXT {
        raw
    } else {
        raw.chars().take(MAX_LABEL_TEXT).collect()
    }
}

/// Builds a loss from (user, device) pairs: devices grouped under their users, the rest
/// unowned. Stops at the first user past `max_users`: such an event is refused whole, so the
/// rest need not be grouped.
fn lost_event(
    source: &Source,
    id: EventId,
    event_type: &str,
    kind: LossKind,
    devices: Vec<(Option<UserRef>, Device)>,
    max_users: usize,
) -> Parsed {
    let mut owners = Owners::default();
    let mut unowned = Vec::new();
    for (user, device) in devices {
        match user {
            Some(user) => owners.add(user, device),
            None => unowned.push(device),
        }
        if owners.len() > max_users {
            break;
        }
    }
    let owners = owners.into_vec();
    Parsed::Lost(LostDeviceEvent {
        source: source.clone(),
        id,
        event_type: event_type.to_owned(),
        kind,
        owners,
        unowned,
    })
}

fn ignored(id: Option<EventId>, event_type: &str, reason: &str) -> Parsed {
    Parsed::Ignored {
        id,
        event_type: bounded(event_type.to_owned()),
        reason: reason.to_owned(),
    }
}

/// Test support shared by the format modules: properties every parser must have.
#[cfg(test)]
mod properties {
    use super::*;

    const SENTINEL: &str = "SENTINEL-7f3a";
    const SENTINEL_NUMBER: &str = "918273645";

    /// Every JSON path in `value` (object keys and array indices), as pointer-like key lists.
    fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        let children: Vec<(Value, &Value)> = match value {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), v))
                .collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), v))
                .collect(),
            _ => return,
        };
        for (key, child) in children {
            prefix.push(key);
            out.push(prefix.clone());
            paths(child, prefix, out);
            prefix.pop();
        }
    }

    fn slot<'v>(value: &'v mut Value, path: &[Value]) -> &'v mut Value {
        path.iter().fold(value, |v, key| match key {
            Value::String(k) => &mut v[k.as_str()],
            Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
            _ => unreachable!(),
        })
    }

    /// Replaces every value in `fixture`, one at a time, with values of every JSON type carrying a
    /// sentinel, and checks the parser neither panics nor echoes the sentinel in an error.
    pub(super) fn assert_errors_never_echo_values(
        format: PayloadFormat,
        fixture: &str,
        opts: &MdmOptions,
    ) {
        let original: Value = serde_json::from_str(fixture).unwrap();
        let mut all = Vec::new();
        paths(&original, &mut Vec::new(), &mut all);
        let replacements = [
            Value::from(SENTINEL),
            serde_json::json!(918273645_u64),
            serde_json::json!(9.18273645e8),
            serde_json::json!([SENTINEL]),
            serde_json::json!({ "k": SENTINEL }),
            Value::Bool(true),
            Value::Null,
        ];
        let source = Source::parse("prop").unwrap();
        let mut errors = 0;
        for path in &all {
            for replacement in &replacements {
                let mut body = original.clone();
                *slot(&mut body, path) = replacement.clone();
                let bytes = serde_json::to_vec(&body).unwrap();
                if let Err(err) = parse(format, &source, &bytes, opts) {
                    errors += 1;
                    let text = err.to_string();
                    assert!(
                        !text.contains("SENTINEL") && !text.contains(SENTINEL_NUMBER),
                        "{text}"
                    );
                    assert!(!text.contains("9.18"), "{text}");
                }
            }
        }
        // Guard against a fixture the parser never looks into.
        assert!(errors > 0, "no mutation of the fixture was rejected");
    }

    /// Every strict prefix of a valid body is not JSON, and is reported as such.
    pub(super) fn assert_truncations_are_body_errors(format: PayloadFormat, fixture: &str) {
        let source = Source::parse("prop").unwrap();
        let opts = MdmOptions::default();
        let bytes = fixture.trim_end().as_bytes();
        for end in 0..bytes.len() {
            let err = parse(format, &source, &bytes[..end], &opts).unwrap_err();
            assert_eq!(err.field, "body", "prefix of {end} bytes: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str) -> Source {
        Source::parse(name).unwrap()
    }

    fn body_error(body: &[u8]) -> PayloadError {
        let opts = MdmOptions::default();
        for format in [PayloadFormat::Canonical, PayloadFormat::Jamf] {
            let err = parse(format, &src("standard"), body, &opts).unwrap_err();
            assert_eq!(err.field, "body", "{format:?}: {err}");
        }
        parse(PayloadFormat::Canonical, &src("standard"), body, &opts).unwrap_err()
    }

    #[test]
    fn empty_body_is_an_error_naming_body() {
        assert_eq!(body_error(b"").to_string(), "body: is empty");
    }

    #[test]
    fn non_json_body_is_an_error_naming_body_without_echoing_it() {
        let err = body_error(b"type=device.lost&secret=hunter2");
        assert_eq!(err.to_string(), "body: is not valid JSON");
    }

    #[test]
    fn non_utf8_body_is_an_error_naming_body() {
        assert_eq!(
            body_error(b"{\"type\":\"\xff\xfe\"}").to_string(),
            "body: is not UTF-8 text"
        );
    }

    #[test]
    fn json_that_is_not_an_object_is_an_error_naming_body() {
        for body in [
            &b"[{\"type\":\"device.lost\"}]"[..],
            b"\"device.lost\"",
            b"42",
            b"null",
        ] {
            assert_eq!(body_error(body).to_string(), "body: is not a JSON object");
        }
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
        let body = "[".repeat(100_000);
        assert_eq!(body_error(body.as_bytes()).problem, "is not valid JSON");
    }

    #[test]
    fn leading_byte_order_mark_is_accepted() {
        let body = "\u{feff}{\"type\":\"device.updated\",\"id\":\"e1\"}";
        let parsed = parse(
            PayloadFormat::Canonical,
            &src("standard"),
            body.as_bytes(),
            &MdmOptions::default(),
        )
        .unwrap();
        assert!(matches!(parsed, Parsed::Ignored { .. }));
    }

    #[test]
    fn format_selects_the_parser() {
        let jamf_body = br#"{"webhook":{"id":1,"eventTimestamp":2,"webhookEvent":"ComputerCheckIn"},"event":{}}"#;
        let opts = MdmOptions::default();
        let as_jamf = parse(PayloadFormat::Jamf, &src("relay"), jamf_body, &opts).unwrap();
        assert!(
            matches!(as_jamf, Parsed::Ignored { ref event_type, .. } if event_type == "ComputerCheckIn")
        );
        let as_canonical = parse(PayloadFormat::Canonical, &src("jamf"), jamf_body, &opts);
        assert_eq!(as_canonical.unwrap_err().to_string(), "type: is required");
    }

    #[test]
    fn payload_format_parses_only_the_documented_names() {
        assert_eq!(
            PayloadFormat::parse("canonical"),
            Some(PayloadFormat::Canonical)
        );
        assert_eq!(PayloadFormat::parse("jamf"), Some(PayloadFormat::Jamf));
        for other in ["", "Jamf", "standard", "intune", " jamf"] {
            assert_eq!(PayloadFormat::parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn default_format_is_jamf_only_for_a_source_named_jamf() {
        assert_eq!(
            PayloadFormat::default_for(&src("jamf")),
            PayloadFormat::Jamf
        );
        for other in ["standard", "relay", "jamf-eu", "Jamf", "jamf2"] {
            assert_eq!(
                PayloadFormat::default_for(&src(other)),
                PayloadFormat::Canonical,
                "{other}"
            );
        }
    }

    #[test]
    fn label_text_is_bounded_on_a_character_boundary() {
        let long = "ä".repeat(MAX_LABEL_TEXT + 10);
        assert_eq!(bounded(long).chars().count(), MAX_LABEL_TEXT);
        assert_eq!(bounded("iPad".to_owned()), "iPad");
    }
}
