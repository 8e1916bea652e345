//! Invariants of the code that runs on untrusted input, shared by the property tests
//! (`tests/api/properties.rs`, bounded, in `make test`) and the fuzz targets (`fuzz/`, for as
//! long as `make fuzz` is given). Each checker panics when an invariant breaks: a test fails,
//! a fuzzer records a crash with its input.
//!
//! - Authentication is sound: a request that any of the four schemes accepts is authentic by
//!   an independent check (another crypto library, written from the README's "The secret"),
//!   however it was mutated from a correctly signed one.
//! - The payload parsers take any bytes without panicking, and what they return is well
//!   formed (each owner once, each user a valid reference).
//! - A user reference always stays in one Graph path segment and decodes back to itself.

#![allow(dead_code)] // each includer uses its part

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderName, HeaderValue};
use revoker::config::AppSecret;
use revoker::dev::fuzzing::{MdmOptions, PayloadFormat, parse_payload, user_path};
use revoker::domain::{Parsed, Source, UserRef};

/// Keys of the secret below, in the oracle's own terms.
const STANDARD_KEY: &[u8] = b"fuzz-standard-webhooks-key";
const RELAY_KEY: &str = "fuzz-relay-key";
const JAMF_TOKEN: &str = "fuzz-jamf-token";
const BASIC: &str = "jamf:fuzz-basic-password";

/// The signature window both sides use.
pub const TOLERANCE: u64 = 300;
/// "Now" for every check: a fixed clock keeps cases reproducible.
pub const NOW: i64 = 1_800_000_000;

/// The four sources, one per scheme.
pub const SOURCES: [&str; 4] = ["standard", "relay", "jamf", "jamf-basic"];

/// The function's secret with one source per scheme.
pub fn secret() -> AppSecret {
    let json = serde_json::json!({
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": "fuzz-client-secret",
        "webhooks": {
            "standard": {"scheme": "standard-webhooks",
                         "secrets": [format!("whsec_{}", B64.encode(STANDARD_KEY))]},
            "relay": {"scheme": "hmac", "header": "X-Hub-Signature-256", "algorithm": "sha256",
                      "encoding": "hex", "prefix": "sha256=",
                      "timestamp_header": "X-Relay-Timestamp", "secrets": [RELAY_KEY]},
            "jamf": {"scheme": "header-token", "header": "X-Webhook-Token",
                     "secrets": [JAMF_TOKEN]},
            "jamf-basic": {"scheme": "basic", "secrets": [BASIC], "format": "jamf"}
        }
    });
    AppSecret::parse(&json.to_string()).expect("the fuzz secret parses")
}

/// A request as it reaches authentication: headers in order (repeats allowed) and the body.
#[derive(Debug, Clone)]
pub struct Request {
    pub source: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// A correctly signed request for `source`, made with the function's own signer.
pub fn signed(secret: &AppSecret, source: &str, body: &[u8]) -> Request {
    let webhook = &secret.webhooks[&Source::parse(source).unwrap()];
    let headers = webhook
        .scheme
        .sign(body, NOW, "msg_fuzz")
        .into_iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    Request {
        source: source.to_owned(),
        headers,
        body: body.to_vec(),
    }
}

/// Applies a mutation program to `request`: each step is one byte choosing an edit and the
/// next bytes its operands (edits that would need more bytes than remain are skipped).
pub fn mutate(request: &mut Request, program: &[u8]) {
    let mut steps = program.chunks(3);
    while let Some(&[op, a, b]) = steps.next() {
        let n = request.headers.len().max(1);
        match op % 9 {
            0 if !request.body.is_empty() => {
                let i = usize::from(a) % request.body.len();
                request.body[i] ^= b.max(1);
            }
            1 => request.body.push(a),
            2 => request
                .body
                .truncate(usize::from(a) % (request.body.len() + 1)),
            3 if !request.headers.is_empty() => {
                let value = &mut request.headers[usize::from(a) % n].1;
                if !value.is_empty() {
                    let i = usize::from(b) % value.len();
                    value[i] = value[i].wrapping_add(1);
                }
            }
            4 if !request.headers.is_empty() => {
                request.headers.remove(usize::from(a) % n);
            }
            5 if !request.headers.is_empty() => {
                let copy = request.headers[usize::from(a) % n].clone();
                request.headers.push(copy);
            }
            6 if !request.headers.is_empty() => {
                // Shift a timestamp-like value (or any value) by a signed amount of seconds.
                let value = &mut request.headers[usize::from(a) % n].1;
                if let Some(t) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                {
                    *value = (t + i64::from(b as i8) * 60).to_string().into_bytes();
                }
            }
            7 => request.source = SOURCES[usize::from(a) % SOURCES.len()].to_owned(),
            8 if !request.headers.is_empty() => {
                let value = &mut request.headers[usize::from(a) % n].1;
                value.truncate(usize::from(b) % (value.len() + 1));
            }
            _ => {}
        }
    }
}

/// The header map the function would see (entries the HTTP layer could not carry are dropped).
fn header_map(request: &Request) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in &request.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// Whether the function accepts `request`.
pub fn accepted(secret: &AppSecret, request: &Request) -> bool {
    let Ok(source) = Source::parse(&request.source) else {
        return false;
    };
    let Some(webhook) = secret.webhooks.get(&source) else {
        return false;
    };
    webhook
        .scheme
        .verify(&header_map(request), &request.body, NOW, TOLERANCE)
        .is_ok()
}

/// Authentication is sound: whatever the mutation, an accepted request is authentic.
pub fn check_authentication(secret: &AppSecret, request: &Request) {
    if accepted(secret, request) {
        assert!(
            authentic(request),
            "accepted an inauthentic request: {request:?}"
        );
    }
}

/// The independent check, per source, from the README's description of each scheme.
fn authentic(request: &Request) -> bool {
    let headers = header_map(request);
    let one = |name: &str| -> Option<String> {
        let mut values = headers.get_all(name).iter();
        let value = values.next()?.to_str().ok()?.trim().to_owned();
        values.next().is_none().then_some(value)
    };
    let fresh = |timestamp: &str| {
        timestamp
            .parse::<i64>()
            .is_ok_and(|t| t.abs_diff(NOW) <= TOLERANCE)
    };
    let mac = |key: &[u8], parts: &[&[u8]]| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let mut context = hmac::Context::with_key(&key);
        for part in parts {
            context.update(part);
        }
        context.sign().as_ref().to_vec()
    };
    match request.source.as_str() {
        "standard" => {
            let (Some(id), Some(ts), Some(signatures)) = (
                one("webhook-id"),
                one("webhook-timestamp"),
                one("webhook-signature"),
            ) else {
                return false;
            };
            let expected = mac(
                STANDARD_KEY,
                &[id.as_bytes(), b".", ts.as_bytes(), b".", &request.body],
            );
            fresh(&ts)
                && signatures.split(' ').any(|entry| {
                    entry
                        .strip_prefix("v1,")
                        .and_then(|sig| B64.decode(sig).ok())
                        .is_some_and(|sig| sig == expected)
                })
        }
        "relay" => {
            let (Some(ts), Some(signature)) =
                (one("x-relay-timestamp"), one("x-hub-signature-256"))
            else {
                return false;
            };
            let expected = mac(RELAY_KEY.as_bytes(), &[ts.as_bytes(), b".", &request.body]);
            let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
            fresh(&ts)
                && signature
                    .strip_prefix("sha256=")
                    .is_some_and(|sig| sig.eq_ignore_ascii_case(&hex))
        }
        "jamf" => one("x-webhook-token").is_some_and(|token| token == JAMF_TOKEN),
        "jamf-basic" => one("authorization").is_some_and(|value| {
            value.split_once(' ').is_some_and(|(scheme, encoded)| {
                scheme.eq_ignore_ascii_case("basic")
                    && B64
                        .decode(encoded.trim())
                        .is_ok_and(|c| c == BASIC.as_bytes())
            })
        }),
        _ => false,
    }
}

/// The parsers take any bytes without panicking; a loss they return names each user once,
/// as a reference that parses back to itself, and no more users than the cap allows past it.
/// Returns whether either parser returned a loss (so a caller can tell the checks ran).
pub fn check_payload(body: &[u8]) -> bool {
    let mut losses = false;
    let source = Source::parse("fuzz").unwrap();
    let opts = MdmOptions {
        user_domain: Some("contoso.com".to_owned()),
        jamf_lost_groups: vec!["42".to_owned(), "Lost Devices".to_owned()],
        jamf_lost_commands: vec!["EnableLostMode".to_owned()],
        max_users_per_event: 5,
    };
    for format in [PayloadFormat::Canonical, PayloadFormat::Jamf] {
        if let Ok(Parsed::Lost(event)) = parse_payload(format, &source, body, &opts) {
            losses = true;
            assert!(event.owners.len() <= 6, "grouping went past the cap");
            for (i, owner) in event.owners.iter().enumerate() {
                let reparsed = UserRef::parse(owner.user.as_str()).expect("a user reparses");
                assert_eq!(reparsed, owner.user);
                assert!(
                    event.owners[..i].iter().all(|o| o.user != owner.user),
                    "{} named twice",
                    owner.user
                );
            }
        }
    }
    losses
}

/// Any text that parses as a user stays in one Graph path segment and decodes to itself.
pub fn check_user_path(text: &str) {
    let Ok(user) = UserRef::parse(text) else {
        return;
    };
    let path = user_path(&user);
    let segment = if let Some(inner) = path
        .strip_prefix("users('")
        .and_then(|p| p.strip_suffix("')"))
    {
        let decoded = percent_encoding::percent_decode_str(inner)
            .decode_utf8()
            .expect("UTF-8");
        assert_eq!(decoded.replace("''", "'"), user.as_str(), "{path}");
        inner
    } else {
        let inner = path.strip_prefix("users/").expect("users/ or users('");
        let decoded = percent_encoding::percent_decode_str(inner)
            .decode_utf8()
            .expect("UTF-8");
        assert_eq!(decoded, user.as_str(), "{path}");
        assert!(inner != "." && inner != "..", "{path}");
        inner
    };
    assert!(
        !segment.contains(['/', '?', '#', '\\']),
        "leaves its segment: {path}"
    );
}
