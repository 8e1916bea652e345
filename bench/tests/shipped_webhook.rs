//! The shipped webhook binary (the release profile, `panic = "abort"`) under the harness's
//! Lambda Runtime API on 127.0.0.1, with Secrets Manager and SQS on moto_server and Entra and
//! Graph on the stand-in: what only the real runtime can show.
//!
//! - Hostile envelopes each get an answer, and the same process then serves a valid event.
//! - At TRACE, with every scheme's credentials presented, no secret, token, signature or
//!   Basic credential reaches the log.
//!
//! `make test` builds the release binary first (`cargo build --release -p
//! lost-device-revoker --bin webhook`) and runs this with moto_server.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use lost_device_bench::environment::{self, Environment};
use lost_device_bench::events::EventMaker;
use lost_device_bench::fixture::AppFixture;
use lost_device_bench::local_aws::LocalAws;
use lost_device_bench::measure;
use lost_device_bench::runtime_api::{Dispatcher, Reply};
use lost_device_bench::subject::{Subject, SubjectId};
use serde_json::{Value, json};
use standin::Standin;

const BASIC_PASSWORD: &str = "demo-basic-password-NOT-A-REAL-SECRET";

/// The release webhook binary, which `make test` builds before the tests run.
fn release_webhook() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let binary = target.join("release/webhook");
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build --release -p lost-device-revoker --bin \
         webhook` (make test does)",
        binary.display()
    );
    binary
}

/// The demo secret, plus a `jamf-basic` source so that all four schemes are configured.
fn secret_json() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/demo-secret.json");
    let mut secret: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    secret["webhooks"]["jamf-basic"] = json!({
        "scheme": "basic",
        "secrets": [format!("jamf:{BASIC_PASSWORD}")],
        "format": "jamf"
    });
    secret.to_string()
}

/// One function, its stand-in, and the configuration pointing it at them.
struct Rig {
    standin: Standin,
    maker: EventMaker,
    secret_json: String,
    config: Vec<(String, String)>,
    log: PathBuf,
}

impl Rig {
    async fn new(name: &str, extra: &[(&str, &str)]) -> Rig {
        let aws = LocalAws::from_env().expect("moto_server's address (run with `make test`)");
        let secret_json = secret_json();
        let fixture = AppFixture::from_json(&secret_json).unwrap();
        let secret_id = format!("shipped-webhook-{name}-{}", std::process::id());
        aws.create_secret(&secret_id, &secret_json).await.unwrap();
        let standin = Standin::start(fixture.standin_config(), 0).await.unwrap();
        let mut config = vec![
            ("CREDENTIALS_SECRET_ID".to_owned(), secret_id),
            ("ENTRA_AUTHORITY_URL".to_owned(), standin.url()),
            ("GRAPH_URL".to_owned(), standin.url()),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(),
                aws.secrets_manager_url().to_owned(),
            ),
        ];
        config.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let log_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/shipped-webhook");
        std::fs::create_dir_all(&log_dir).unwrap();
        Rig {
            standin,
            maker: EventMaker::new(&secret_json).unwrap(),
            secret_json,
            config,
            log: log_dir.join(format!("{name}.log")),
        }
    }

    /// Starts the release binary, hands it `events` one after another on one process, and
    /// returns each reply (the process must live through all of them).
    async fn serve(&self, events: Vec<String>) -> Vec<Reply> {
        let dispatcher = Dispatcher::new(measure::identity());
        let mut tickets: Vec<_> = events.into_iter().map(|e| dispatcher.submit(e)).collect();
        let subject = Subject::native(SubjectId::Webhook, release_webhook());
        let started = Environment::start(&subject, dispatcher, &self.config, self.log.clone())
            .await
            .unwrap();
        let mut environments = [started];
        let mut replies = Vec::new();
        for ticket in &mut tickets {
            let completion =
                environment::settle(ticket, &mut environments, Duration::from_secs(30))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            replies.push(completion.reply);
        }
        let [environment] = environments;
        environment.shut_down().await.unwrap();
        replies
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// The status and body of an HTTP reply; panics on a function error.
fn http(reply: &Reply) -> (u16, Value) {
    let Reply::Response(raw) = reply else {
        panic!("the function failed instead of answering: {reply:?}");
    };
    let response: Value = serde_json::from_slice(raw).unwrap();
    let body = response["body"].as_str().unwrap_or("null");
    (
        response["statusCode"].as_u64().unwrap() as u16,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// A Function URL event as Lambda would send it, before any of the hostile edits below.
fn function_url(path: &str, body: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "abcdefghij.lambda-url.us-east-1.on.aws", "x-forwarded-proto": "https"},
        "requestContext": {"accountId": "anonymous", "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws", "domainPrefix": "abcdefghij",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "scanner"},
            "requestId": "hostile", "routeKey": "$default", "stage": "$default",
            "time": "21/Nov/2026:10:00:00 +0000", "timeEpoch": 1_795_000_000_000_i64},
        "body": body, "isBase64Encoded": false
    })
}

#[tokio::test]
async fn hostile_envelopes_are_answered_and_the_instance_serves_the_next_event() {
    let rig = Rig::new("hostile", &[]).await;
    // (what, event, the status it must get): unsigned requests to a real source are 401, to
    // a path that names no source 404; an event the function cannot read at all is 400.
    let mut hostile: Vec<(&str, String, u16)> = Vec::new();
    for query in ["a b", "q=\"x\"", "<script>", "a>b", "%zz", "#frag"] {
        let mut event = function_url("/standard", "{}");
        event["rawQueryString"] = json!(query);
        hostile.push(("query string", event.to_string(), 401));
    }
    let mut bad_host = function_url("/standard", "{}");
    bad_host["headers"]["host"] = json!("not a host");
    bad_host["headers"]["x-forwarded-proto"] = json!("no scheme");
    hostile.push(("Host and X-Forwarded-Proto", bad_host.to_string(), 401));
    let mut spaced_path = function_url("/a b/\"<standard>\"", "{}");
    spaced_path["requestContext"]["stage"] = json!("st age");
    hostile.push(("path and stage", spaced_path.to_string(), 404));
    let mut bad_base64 = function_url("/standard", "%%% not base64 %%%");
    bad_base64["isBase64Encoded"] = json!(true);
    hostile.push(("base64 body", bad_base64.to_string(), 400));
    for not_http in [
        "{}",
        "[]",
        "\"text\"",
        "42",
        "null",
        "{\"requestContext\":{\"http\":{}}}",
    ] {
        hostile.push(("not an HTTP event", not_http.to_owned(), 400));
    }
    hostile.push((
        "nested too deep",
        format!("{}{}", "{\"a\":[".repeat(300), "]}".repeat(300)),
        400,
    ));
    let valid = rig
        .maker
        .signed(
            "/standard",
            &canonical_lost("after-hostile@contoso.com", "evt_after"),
        )
        .unwrap();
    let mut events: Vec<String> = hostile.iter().map(|(_, e, _)| e.clone()).collect();
    events.push(valid);

    let replies = rig.serve(events).await;

    for ((what, _, expected), reply) in hostile.iter().zip(&replies) {
        let (status, body) = http(reply);
        assert_eq!(status, *expected, "{what}: answered {status} {body}");
        assert!(body["outcome"].is_string(), "{what}: a JSON answer: {body}");
    }
    let (status, body) = http(replies.last().unwrap());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "revoked");
    assert_eq!(rig.standin.revocations().len(), 1);
}

fn canonical_lost(upn: &str, id: &str) -> String {
    json!({"type": "device.lost", "id": id, "timestamp": "2026-11-21T10:00:00Z",
           "data": {"device": {"serial_number": "C02TRACE0001"}, "user": {"upn": upn}}})
    .to_string()
}

fn jamf_lost_mode(id: u64, upn: &str) -> String {
    json!({
        "webhook": {"id": id, "name": "Lost mode", "webhookEvent": "MobileDeviceCommandCompleted",
                    "eventTimestamp": 1_795_000_000_500_u64},
        "event": {"mdmCommand": "EnableLostMode", "udid": "00008030-000D1C2E3F48802E",
                  "deviceName": "iPhone", "serialNumber": "DMPX0004", "username": upn}
    })
    .to_string()
}

/// Every header value of an event that authenticates it.
fn presented(event: &str) -> Vec<String> {
    let event: Value = serde_json::from_str(event).unwrap();
    let mut values = Vec::new();
    for name in [
        "webhook-signature",
        "x-hub-signature-256",
        "x-webhook-token",
        "authorization",
    ] {
        for (key, value) in event["headers"].as_object().unwrap() {
            if key.eq_ignore_ascii_case(name) {
                let value = value.as_str().unwrap().to_owned();
                // Each part too: the signature without its `v1,` or `sha256=` or `Basic `.
                values.extend(
                    value
                        .split([',', '=', ' '])
                        .filter(|p| p.len() >= 16)
                        .map(str::to_owned),
                );
                values.push(value);
            }
        }
    }
    values
}

#[tokio::test]
async fn at_trace_no_secret_token_signature_or_basic_credential_reaches_the_log() {
    let rig = Rig::new("trace", &[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]).await;
    let events = vec![
        rig.maker
            .signed("/standard", &canonical_lost("t1@contoso.com", "evt_t1"))
            .unwrap(),
        rig.maker
            .signed("/relay", &canonical_lost("t2@contoso.com", "evt_t2"))
            .unwrap(),
        rig.maker
            .signed("/jamf", &jamf_lost_mode(7, "t3@contoso.com"))
            .unwrap(),
        rig.maker
            .signed("/jamf-basic", &jamf_lost_mode(8, "t4@contoso.com"))
            .unwrap(),
    ];
    let mut forbidden: Vec<String> = events.iter().flat_map(|e| presented(e)).collect();
    let secret: Value = serde_json::from_str(&rig.secret_json).unwrap();
    forbidden.push(secret["client_secret"].as_str().unwrap().to_owned());
    for source in secret["webhooks"].as_object().unwrap().values() {
        for value in source["secrets"].as_array().unwrap() {
            let value = value.as_str().unwrap();
            forbidden.push(value.to_owned());
            forbidden.push(value.trim_start_matches("whsec_").to_owned());
        }
    }
    forbidden.push(BASIC_PASSWORD.to_owned());
    forbidden
        .push(base64::engine::general_purpose::STANDARD.encode(format!("jamf:{BASIC_PASSWORD}")));

    let replies = rig.serve(events).await;

    for reply in &replies {
        let (status, body) = http(reply);
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("revoked")),
            "{body}"
        );
    }
    forbidden.extend(rig.standin.issued_tokens());
    assert!(
        !rig.standin.issued_tokens().is_empty(),
        "a token was issued"
    );
    let log = rig.log();
    assert!(
        log.contains("New event arrived"),
        "the runtime logged at TRACE (the test would prove nothing otherwise)"
    );
    for value in &forbidden {
        assert!(!value.is_empty());
        let line = log.lines().find(|l| l.contains(value.as_str()));
        assert!(
            line.is_none(),
            "a credential reached the log: {}",
            line.unwrap_or_default()
        );
    }
}
