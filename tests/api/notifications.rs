//! The notification per event (README, "Notifications"): SNS in moto_server, read back
//! through an SQS queue subscribed to the topic, from each of the three functions.

use std::time::Duration;

use lambda_http::http::StatusCode;
use serde_json::{Value, json};

use crate::durability::{
    Queues, black_hole, deliver_batch, jamf_group_lost, outage_for, retry_decider, standin_config,
};
use crate::helpers::*;
use crate::protection::{BREAK_GLASS, app, directory, directory_user, lost};

/// A topic in moto and an SQS queue subscribed to it, from which each published message is
/// read back in SNS's envelope (`Subject`, `Message`, `MessageAttributes`).
struct Topic {
    arn: String,
    queue_url: String,
}

impl Topic {
    async fn create() -> Topic {
        let sns = sns_client_at(&moto_url());
        let sqs = sqs_client();
        let name = unique_name("notify");
        let arn = sns
            .create_topic()
            .name(&name)
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let queue_arn = format!("arn:aws:sqs:us-east-1:123456789012:{name}");
        sns.subscribe()
            .topic_arn(&arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
        Topic { arn, queue_url }
    }

    /// The envelopes of every message published so far.
    async fn messages(&self) -> Vec<Value> {
        let received = sqs_client()
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        received
            .messages
            .unwrap_or_default()
            .iter()
            .map(|m| serde_json::from_str(m.body.as_deref().unwrap()).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn each_deciding_event_publishes_one_notification_naming_what_happened_and_nothing_secret() {
    let standin = directory(&[
        directory_user(BREAK_GLASS, "breakglass@contoso.com", None),
        directory_user(
            "55555555-0000-4000-8000-000000000001",
            "nia@contoso.com",
            None,
        ),
    ])
    .await;
    let topic = Topic::create().await;
    let app = app(
        &standin,
        &[
            ("PROTECTED_USERS", BREAK_GLASS),
            ("NOTIFY_TOPIC_ARN", topic.arn.as_str()),
        ],
    )
    .await;
    let body = jamf_group_lost(61, &["nia@contoso.com", "breakglass@contoso.com"]);
    let event = signed_event(&app, "/jamf", &body);

    let answer = app.send(&event).await;
    let again = app.send(&event).await;

    assert_eq!(answer.body["outcome"], "mixed");
    assert_eq!(again.body["outcome"], "duplicate");
    let messages = topic.messages().await;
    assert_eq!(messages.len(), 1, "one per deciding event: {messages:?}");
    let message = &messages[0];
    let subject = message["Subject"].as_str().unwrap();
    assert_eq!(
        subject,
        "[ACTION NEEDED] jamf lost: 2 users: 1 revoked, 1 protected"
    );
    let text = message["Message"].as_str().unwrap();
    let request_id = standin
        .graph_calls()
        .iter()
        .find(|c| c.raw_path.ends_with("invalidateAllRefreshTokens"))
        .and_then(|c| c.client_request_id.clone())
        .unwrap();
    for expected in [
        "Source:     jamf",
        &format!("Event id:   {}", answer.body["event_id"].as_str().unwrap()),
        "- nia@contoso.com: revoked as Entra object 55555555-0000-4000-8000-000000000001 \
         (Graph request-id ",
        &format!("client-request-id {request_id}"),
        "- breakglass@contoso.com: protected",
        "Devices: SN61X0",
        "NOT signed out",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert_eq!(message["MessageAttributes"]["outcome"]["Value"], "mixed");
    assert_eq!(message["MessageAttributes"]["source"]["Value"], "jamf");
    // Nothing secret: no configured secret, no presented credential, no issued token.
    let published = message.to_string();
    let mut secrets: Vec<String> = ALL_SECRETS.iter().map(|s| (*s).to_owned()).collect();
    secrets.extend(standin.issued_tokens());
    let credentials = ["webhook-signature", "x-webhook-token", "authorization"];
    secrets.extend(
        credentials
            .iter()
            .filter_map(|h| event["headers"][h].as_str())
            .map(str::to_owned),
    );
    for secret in secrets {
        assert!(!published.contains(&secret), "a secret in {published}");
    }
}

#[tokio::test]
async fn with_sns_not_answering_the_answer_is_unchanged_and_a_warning_is_logged() {
    let standin = directory(&[directory_user(
        "66666666-0000-4000-8000-000000000001",
        "ola@contoso.com",
        None,
    )])
    .await;
    let hole = black_hole().await;
    let app = spawn_graph_app(
        Setup {
            env: vec![(
                "NOTIFY_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:nowhere".to_owned(),
            )],
            sns_endpoint: Some(hole),
            ..Setup::default()
        },
        &standin,
    )
    .await;
    let logs = crate::logs::capture_this_thread();

    let started = std::time::Instant::now();
    let answer = app
        .send(&lost(&app, "p9", json!({"upn": "ola@contoso.com"})))
        .await;

    assert_eq!(
        (answer.status, answer.body["outcome"].as_str()),
        (StatusCode::OK, Some("revoked"))
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let line = crate::logs::line_with(&logs, "notification not sent");
    assert!(line.contains("WARN"), "{line}");
}

#[tokio::test]
async fn the_retry_function_notifies_the_user_it_settles() {
    let standin = standin::Standin::start(standin_config(), 0).await.unwrap();
    let topic = Topic::create().await;
    let queues = Queues::create(5).await;
    let app = app(
        &standin,
        &[
            ("NOTIFY_TOPIC_ARN", topic.arn.as_str()),
            ("RETRY_QUEUE_URL", queues.url.as_str()),
            ("INLINE_DEADLINE_MS", "2000"),
        ],
    )
    .await;
    outage_for(&standin, "rae@contoso.com");
    let answer = app
        .send(&lost(&app, "n1", json!({"upn": "rae@contoso.com"})))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);

    standin.recover("rae@contoso.com");
    let (received, failed) = deliver_batch(&queues, &retry_decider(&app).await).await;

    assert_eq!((received.len(), failed.len()), (1, 0));
    let mut subjects: Vec<String> = topic
        .messages()
        .await
        .iter()
        .map(|m| m["Subject"].as_str().unwrap().to_owned())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "[Lost device] standard lost: rae@contoso.com queued",
            "[Lost device] standard lost: rae@contoso.com revoked",
        ]
    );
}

#[tokio::test]
async fn the_intune_function_notifies_each_record_it_decides() {
    let standin = standin::Standin::start(standin_config(), 0).await.unwrap();
    standin.add_audit_records(vec![crate::intune::audit(
        "audit-n",
        "enableLostMode",
        "uma@contoso.com",
        5,
        "d1",
    )]);
    let topic = Topic::create().await;
    let table = create_ledger_table().await;
    let poller = intune_poller(&standin, &table, &[("NOTIFY_TOPIC_ARN", &topic.arn)]).await;

    let report = poller
        .run(tokio::time::Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();

    assert_eq!(report.revoked, 1);
    let messages = topic.messages().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        messages[0]["MessageAttributes"]["source"]["Value"],
        "intune"
    );
    assert!(
        messages[0]["Message"]
            .as_str()
            .unwrap()
            .contains("Event id:   audit-n")
    );
}
