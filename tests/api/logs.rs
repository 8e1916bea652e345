//! Runs the handler's flows with every log line captured (all crates, TRACE, the AWS SDK and
//! HTTP stack included) and checks that no configured secret and no presented signature or
//! token appears in them.

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::durability::{
    Queues, deliver_batch, outage_for, retry_decider, standin_config, webhook,
};
use crate::helpers::*;
use crate::webhook::{jamf_command_body, jamf_smart_group_body};

// One process-wide TRACE subscriber, installed once: a thread-local `set_default` subscriber
// can miss events whose callsites other test threads registered first (tracing caches each
// callsite's interest). Its writer keeps only what the capturing test's own thread emits;
// tokio's current-thread test runtime runs the handler, the SDK and hyper on that thread.
thread_local! {
    static SINK: RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { RefCell::new(None) };
}

struct ThreadSink;

impl Write for ThreadSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        SINK.with(|sink| {
            if let Some(buffer) = sink.borrow().as_ref() {
                buffer.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing every log line this thread emits, at every level, from every crate.
pub fn capture_this_thread() -> Arc<Mutex<Vec<u8>>> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| ThreadSink)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    });
    let buffer = Arc::new(Mutex::new(Vec::new()));
    SINK.with(|sink| *sink.borrow_mut() = Some(Arc::clone(&buffer)));
    buffer
}

/// The first captured line containing `needle`; fails the test, showing every line, if none.
pub fn line_with(logs: &Mutex<Vec<u8>>, needle: &str) -> String {
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    text.lines()
        .find(|l| l.contains(needle))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no line with {needle:?} in: {text}"))
}

/// Every authentication header value a request carries.
fn presented_credentials(event: &Value) -> Vec<String> {
    let auth_headers = [
        "webhook-signature",
        "x-hub-signature-256",
        "x-webhook-token",
        "authorization",
    ];
    auth_headers
        .iter()
        .filter_map(|h| event["headers"][h].as_str())
        .flat_map(|v| {
            // The whole value, the part after any prefix, and decoded Basic credentials.
            let tail = v.rsplit([',', ' ']).next().unwrap_or(v).to_owned();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&tail)
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .and_then(|d| d.split_once(':').map(|(_, password)| password.to_owned()))
                .unwrap_or_default();
            [v.to_owned(), tail, decoded]
        })
        .filter(|v| v.len() >= 12)
        .collect()
}

#[tokio::test]
async fn handler_logs_contain_no_secret_token_or_signature() {
    // Arrange (uncaptured: the test's own CreateSecret calls carry the secrets). Flows:
    // success in every scheme, forgeries, stale, malformed, protected, dry run, a broken
    // secret, an unreachable Secrets Manager, and a job through the retry queue.
    let app = spawn_app_with(Setup {
        env: vec![("PROTECTED_USERS", "breakglass@contoso.com".into())],
        ..Setup::default()
    })
    .await;
    let dry = spawn_app_with(Setup {
        env: vec![("DRY_RUN", "true".into())],
        ..Setup::default()
    })
    .await;
    let mut broken_secret = test_secret();
    broken_secret["client_id"] = json!(CLIENT_SECRET);
    let broken = spawn_app_with(Setup {
        secret: broken_secret,
        ..Setup::default()
    })
    .await;
    let offline = spawn_app_with(Setup {
        endpoint: Some("http://127.0.0.1:9".into()),
        ..Setup::default()
    })
    .await;

    // The act step for real: Entra + Graph stand-in, secret and certificate credentials.
    let cert = include_str!("../fixtures/test-app-cert.pem");
    let key = include_str!("../fixtures/test-app-key.pem");
    let standin = standin::Standin::start(
        standin::Config {
            client_secrets: vec![CLIENT_SECRET.to_owned()],
            certificate_pem: Some(cert.to_owned()),
            ..standin::Config::default()
        },
        0,
    )
    .await
    .unwrap();
    let with_secret = spawn_graph_app(Setup::default(), &standin).await;
    let mut cert_secret = test_secret();
    cert_secret.as_object_mut().unwrap().remove("client_secret");
    cert_secret["client_certificate"] = json!({"certificate_pem": cert, "private_key_pem": key});
    let with_cert = spawn_graph_app(
        Setup {
            secret: cert_secret,
            ..Setup::default()
        },
        &standin,
    )
    .await;

    // The retry path: a queue in moto, the webhook queueing, the retry function acting.
    let queues = Queues::create(5).await;
    let queued = webhook(&standin, &queues.url, &[]).await;
    let retry = retry_decider(&queued).await;

    let capture = capture_this_thread();

    // Act
    let mut sent = Vec::new();
    let mut events = vec![
        signed_event(&app, "/standard", &lost_for("alice@contoso.com", "log-1")),
        signed_event(&app, "/relay", &lost_for("bob@contoso.com", "log-2")),
        signed_event(&app, "/jamf", &jamf_smart_group_body(50)),
        signed_event(
            &app,
            "/jamf-basic",
            &jamf_command_body(51, "EnableLostMode", "erin@contoso.com"),
        ),
        signed_event(
            &app,
            "/standard",
            &lost_for("breakglass@contoso.com", "log-3"),
        ),
        signed_event(&app, "/standard", "not json"),
    ];
    let mut forged = signed_event(&app, "/jamf", &jamf_smart_group_body(52));
    set_header(&mut forged, "x-webhook-token", "forged-token-value-123");
    events.push(forged);
    let mut stale =
        function_url_event("POST", "/standard", &lost_for("alice@contoso.com", "log-4"));
    revoker::dev::sample_events::sign(&mut stale, &app.secret, now() - 3600).unwrap();
    events.push(stale);
    let mut forged_basic = signed_event(&app, "/jamf-basic", "{}");
    let guess = base64::engine::general_purpose::STANDARD.encode("jamf:guessed-password-1");
    set_header(
        &mut forged_basic,
        "authorization",
        &format!("Basic {guess}"),
    );
    events.push(forged_basic);
    for event in &events {
        app.send(event).await;
        sent.extend(presented_credentials(event));
    }

    let event = signed_event(&dry, "/jamf", &jamf_smart_group_body(53));
    dry.send(&event).await;
    sent.extend(presented_credentials(&event));

    broken
        .send(&signed_event(
            &broken,
            "/standard",
            &lost_for("a@contoso.com", "log-5"),
        ))
        .await;

    offline
        .send(&signed_event(
            &offline,
            "/standard",
            &lost_for("a@contoso.com", "log-6"),
        ))
        .await;

    for (i, app) in [&with_secret].into_iter().enumerate() {
        app.send(&signed_event(
            app,
            "/standard",
            &lost_for("gina@contoso.com", &format!("log-g{i}")),
        ))
        .await;
    }
    with_cert
        .send(&signed_event(
            &with_cert,
            "/standard",
            &lost_for("hal@contoso.com", "log-g9"),
        ))
        .await;
    standin.expire_all_tokens();
    standin.fail_token_next(vec![standin::TokenFault::InvalidClient]);
    with_secret
        .send(&signed_event(
            &with_secret,
            "/standard",
            &lost_for("ivy@contoso.com", "log-g10"),
        ))
        .await;
    outage_for(&standin, "jo@contoso.com");
    let answer = queued
        .send(&signed_event(
            &queued,
            "/standard",
            &lost_for("jo@contoso.com", "log-q1"),
        ))
        .await;
    assert_eq!(answer.body["outcome"], "queued");
    deliver_batch(&queues, &retry).await;
    standin.recover("jo@contoso.com");
    deliver_batch(&queues, &retry).await;
    assert_eq!(standin.revocations().len(), 4, "the Graph flows ran");

    // Assert
    let logs = String::from_utf8(capture.lock().unwrap().clone()).unwrap();
    // The capture is real: the flows above must have left audit lines and refusals.
    assert!(logs.contains("sessions revoked"), "no audit lines captured");
    assert!(logs.contains("request refused"));
    assert!(logs.contains("protected account"));
    assert!(logs.contains("retry job queued") && logs.contains("retry_job"));
    // ...and the AWS SDK's own TRACE lines, where a response body would show up.
    assert!(logs.contains("aws_smithy"), "SDK lines were not captured");
    for secret in ALL_SECRETS {
        assert!(!logs.contains(secret), "a configured secret was logged");
    }
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!logs.contains(line), "private key material was logged");
    }
    assert!(logs.contains("Graph answered"), "Graph lines were captured");
    let tokens = standin.issued_tokens();
    assert!(!tokens.is_empty());
    for token in &tokens {
        assert!(!logs.contains(token.as_str()), "an access token was logged");
    }
    assert!(!logs.contains("eyJ"), "a JWT (client assertion) was logged");
    assert!(
        !logs.to_ascii_lowercase().contains("bearer "),
        "a bearer token was logged"
    );
    assert!(!sent.is_empty());
    for value in &sent {
        assert!(
            !logs.contains(value.as_str()),
            "a presented credential was logged"
        );
    }
}

/// The captured lines at INFO or above (the text format: timestamp, level, ...).
fn info_and_above(capture: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
    let logs = String::from_utf8(std::mem::take(&mut *capture.lock().unwrap())).unwrap();
    logs.lines()
        .filter(|l| matches!(l.split_whitespace().nth(1), Some("INFO" | "WARN" | "ERROR")))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_revoked_user_costs_one_info_line_with_graph_ids_and_a_refusal_gets_its_own() {
    let standin = standin::Standin::start(standin_config(), 0).await.unwrap();
    let app = spawn_graph_app(Setup::default(), &standin).await;
    app.send_lost("warm-up@contoso.com", "one-line-0").await;
    standin.fail_next(
        "bob@contoso.com",
        vec![standin::Fault::ServiceUnavailable {
            retry_after: Some(0),
        }],
    );
    let capture = capture_this_thread();

    let alice = app.send_lost("alice@contoso.com", "one-line-1").await;
    let alice_lines = info_and_above(&capture);
    let bob = app.send_lost("bob@contoso.com", "one-line-2").await;
    let bob_lines = info_and_above(&capture);

    assert_eq!(alice.body["outcome"], "revoked");
    assert_eq!(alice_lines.len(), 1, "{alice_lines:#?}");
    let audit = &alice_lines[0];
    assert!(audit.contains("sessions revoked"));
    // The audit line names the Graph call: the id the function sent and Graph's own.
    let sent = standin
        .revocations()
        .into_iter()
        .find(|r| r.user == "alice@contoso.com")
        .and_then(|r| r.client_request_id)
        .expect("the stand-in recorded alice's client-request-id");
    assert!(
        audit.contains(&format!("client_request_id={sent}")),
        "{audit}"
    );
    assert!(audit.contains("graph_request_id="), "{audit}");
    assert_eq!(bob.body["outcome"], "revoked", "the 503 was retried");
    let refusal = bob_lines
        .iter()
        .find(|l| l.contains("Graph answered"))
        .expect("the 503 is logged at INFO");
    assert!(refusal.contains("status=503"), "{refusal}");
    assert!(refusal.contains("request_id=") && refusal.contains("client_request_id="));
    assert_eq!(
        bob_lines.len(),
        2,
        "the refusal and the audit line: {bob_lines:#?}"
    );
}
