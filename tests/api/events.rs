//! The sample events in `events/` are real Lambda event shapes: each one is checked against
//! lambda_http's own deserializer, re-signed with the demo secret, and served as the binary
//! serves it (the raw event through `http::handle_event`) with the demo configuration.

use std::path::Path;

use serde_json::Value;

use crate::helpers::*;

/// file -> (status, outcome, users the act seam is asked to revoke)
const EXPECTED: &[(&str, u16, &str, &[&str])] = &[
    ("health.json", 200, "healthy", &[]),
    (
        "jamf-lost-mode-command.json",
        200,
        "revoked",
        &["erin@contoso.com"],
    ),
    (
        "jamf-smart-group-lost.json",
        200,
        "revoked",
        &["carol@contoso.com", "dave@contoso.com"],
    ),
    ("jamf-unrelated-event.json", 200, "ignored", &[]),
    (
        "relay-device-stolen.json",
        200,
        "revoked",
        &["6f1c2a1e-8f5b-4c1d-9e2a-0123456789ab"],
    ),
    (
        "standard-device-lost.json",
        200,
        "revoked",
        &["alice@contoso.com"],
    ),
];

/// The SQS event for the retry function and the scheduled event for the Intune function;
/// every other file but the sam local variables (env.json, env.docker.json) is an HTTP event.
const SQS_EVENT: &str = "sqs-retry-job.json";
const INTUNE_EVENT: &str = "intune-scheduled-run.json";

fn event_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("events/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with("env.") && n != SQS_EVENT && n != INTUNE_EVENT)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_sqs_sample_is_a_lambda_sqs_event_carrying_one_valid_job() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(SQS_EVENT);
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(event.records.len(), 1);
    let body = event.records[0].body.as_deref().unwrap();
    let job = revoker::retry::RetryJob::parse(body).unwrap();
    assert_eq!(job.owner().user.as_str(), "jdoe@contoso.com");
}

/// The scheduled event is what EventBridge sends; the poller reads the demo's Intune tenant
/// (the stand-in's `--intune-demo`): both lost-mode owners are revoked, the remote lock is
/// not a loss.
#[tokio::test]
async fn the_intune_sample_is_a_scheduled_event_and_a_run_revokes_the_demos_lost_mode_owners() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(INTUNE_EVENT);
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["source"], "aws.events");
    let standin = standin::Standin::start(crate::durability::standin_config(), 0)
        .await
        .unwrap();
    standin.seed_intune_demo();
    let table = create_ledger_table().await;
    let poller = intune_poller(&standin, &table, &[("DISABLE_LOST_DEVICES", "true")]).await;

    let report = poller
        .run(tokio::time::Instant::now() + std::time::Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!((report.records, report.losses, report.revoked), (3, 2, 2));
    let mut users: Vec<String> = standin.revocations().into_iter().map(|r| r.user).collect();
    users.sort();
    assert_eq!(users, ["kim@contoso.com", "mia@contoso.com"]);
    let enabled: Vec<bool> = standin
        .managed_devices()
        .iter()
        .map(|d| d.account_enabled)
        .collect();
    assert_eq!(
        enabled,
        [false, true, true],
        "only the Windows laptop is disabled"
    );
}

fn demo_secret() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-secret.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_sample_event_deserializes_as_a_lambda_http_request() {
    let files = event_files();
    assert!(files.len() >= 6, "events/ has the documented samples");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let request = lambda_http::request::from_str(&text);
        assert!(request.is_ok(), "{} does not deserialize", file.display());
    }
}

#[test]
fn every_sample_event_has_an_expected_outcome() {
    let names: Vec<String> = event_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn every_sample_event_gets_its_documented_outcome_with_the_demo_setup() {
    for (file, status, outcome, users) in EXPECTED {
        // A fresh instance per event, so each starts with an empty duplicate memory.
        let app = spawn_app_with(Setup {
            secret: demo_secret(),
            env: vec![
                ("USER_DOMAIN", "contoso.com".into()),
                ("JAMF_LOST_GROUPS", "Lost Devices".into()),
            ],
            ..Setup::default()
        })
        .await;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(file);
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        // Timestamped schemes go stale: sign as the sign-event tool would.
        let _ = revoker::dev::sample_events::sign(&mut event, &app.secret, now());

        let answer = app.send(&event).await;

        assert_eq!(answer.status.as_u16(), *status, "{file}: {}", answer.raw);
        assert_eq!(answer.body["outcome"], *outcome, "{file}");
        assert_eq!(app.calls(), *users, "{file}");
    }
}
