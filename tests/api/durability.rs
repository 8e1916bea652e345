//! No revocation is lost: what the webhook cannot finish inline goes to the SQS retry queue
//! (moto_server, real SDK), the retry function works it off through the same decision path,
//! and what never succeeds ends in the dead-letter queue. Graph is the stand-in.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::http::StatusCode;
use revoker::retry::{self, RetryJob};
use revoker::startup::{Clients, Graph, Instance, RetryDecider};
use serde_json::{Value, json};
use standin::{Fault, Standin};

use crate::helpers::*;

/// The retry queue and its DLQ as template.yaml builds them, in moto. Visibility timeout 0:
/// a message the retry function returns is visible again at once (Lambda waits the queue's
/// visibility timeout; the tests need not).
pub struct Queues {
    pub url: String,
    pub dlq_url: String,
    sqs: aws_sdk_sqs::Client,
}

impl Queues {
    pub async fn create(max_receive_count: u32) -> Queues {
        let sqs = sqs_client();
        let name = unique_name("revoker-retry");
        let dlq_url = sqs
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .expect("moto creates the DLQ")
            .queue_url
            .unwrap();
        let dlq_arn = sqs
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count});
        let url = sqs
            .create_queue()
            .queue_name(name)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                "0",
            )
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                redrive.to_string(),
            )
            .send()
            .await
            .expect("moto creates the queue")
            .queue_url
            .unwrap();
        Queues { url, dlq_url, sqs }
    }

    /// Every message body in `queue_url`, read without consuming (visibility 0, no delete).
    pub async fn peek(&self, queue_url: &str) -> Vec<String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        out.messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect()
    }

    async fn depth(&self, queue_url: &str) -> usize {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        attrs[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
            .parse()
            .unwrap()
    }

    pub async fn send_raw(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
}

/// What Lambda's SQS event source mapping does, once: receive a batch, hand it to the retry
/// function as the Lambda event (through aws_lambda_events' own deserializer), then delete
/// every message not named in `batchItemFailures`. Returns (received ids, failed ids).
pub async fn deliver_batch(
    queues: &Queues,
    decider: &RetryDecider,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let received = queues
        .sqs
        .receive_message()
        .queue_url(&queues.url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let records: Vec<Value> = received
        .messages()
        .iter()
        .map(|m| {
            let attributes: BTreeMap<String, String> = m
                .attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:revoker-retry",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    let event: SqsEvent =
        serde_json::from_value(json!({ "Records": records })).expect("the Lambda SQS event shape");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let response = retry::handle_batch(decider, event, deadline).await;

    let failed: BTreeSet<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    let mut ids = BTreeSet::new();
    for m in received.messages() {
        let id = m.message_id().unwrap().to_owned();
        if !failed.contains(&id) {
            queues
                .sqs
                .delete_message()
                .queue_url(&queues.url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        ids.insert(id);
    }
    (ids, failed)
}

pub fn standin_config() -> standin::Config {
    standin::Config {
        client_secrets: vec![CLIENT_SECRET.to_owned()],
        ..standin::Config::default()
    }
}

/// The webhook with the Graph client and the retry queue; a short inline budget.
pub async fn webhook(
    standin: &Standin,
    queue_url: &str,
    extra: &[(&'static str, &str)],
) -> TestApp<Graph> {
    let mut env = vec![
        ("RETRY_QUEUE_URL", queue_url.to_owned()),
        ("INLINE_DEADLINE_MS", "800".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let setup = Setup {
        env,
        ..Setup::default()
    };
    spawn_graph_app(setup, standin).await
}

/// The retry function's decider, built as bin `retry` builds it (its own instance: its own
/// secret store for the same secret, the Graph client, and no queue).
pub async fn retry_decider(app: &TestApp<Graph>) -> RetryDecider {
    retry_decider_reading(app, &app.secret_name).await
}

async fn retry_decider_reading(app: &TestApp<Graph>, secret_name: &str) -> RetryDecider {
    let mut config = app.config.clone();
    config.credentials_secret_id = secret_name.to_owned();
    config.retry_queue_url = None;
    let clients = Clients {
        http: revoker::aws::http_client().expect("the HTTP client builds"),
        secrets_manager: secrets_client(),
        sqs: None,
        dynamodb: Some(dynamodb_client()),
        sns: Some(sns_client_at(&moto_url())),
    };
    Instance::build(config, clients).await.retry()
}

/// A Jamf smart-group change adding one device per user to the lost group (id 42).
pub fn jamf_group_lost(id: u64, users: &[&str]) -> String {
    let devices: Vec<Value> = users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            json!({"deviceName": format!("Device {i}"), "jssID": 500 + i,
                   "serialNumber": format!("SN{id}X{i}"), "udid": format!("udid-{id}-{i}"),
                   "username": user, "emailAddress": user})
        })
        .collect();
    json!({
        "webhook": {"id": id, "name": "lost", "webhookEvent": "SmartGroupMobileDeviceMembershipChange",
                    "eventTimestamp": 1_795_255_260_000_u64 + id},
        "event": {"jssid": 42, "name": "Lost Devices", "smartGroup": true,
                  "groupAddedDevices": devices, "groupRemovedDevices": []}
    })
    .to_string()
}

/// Graph keeps failing for `user` (503 without Retry-After) until `standin.recover(user)`.
pub fn outage_for(standin: &Standin, user: &str) {
    standin.fail_next(
        user,
        vec![Fault::ServiceUnavailable { retry_after: None }; 10_000],
    );
}

fn revoked(standin: &Standin) -> BTreeSet<String> {
    // By UPN, also where protection had the user revoked by the object id it checked.
    standin
        .revocations()
        .into_iter()
        .map(|r| r.upn.unwrap_or(r.user))
        .collect()
}

#[tokio::test]
async fn an_inline_failure_queues_one_job_per_failed_user_and_answers_202() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(5).await;
    let app = webhook(&standin, &queues.url, &[]).await;
    outage_for(&standin, "flaky@contoso.com");
    outage_for(&standin, "down@contoso.com");

    let users = ["alice@contoso.com", "flaky@contoso.com", "down@contoso.com"];
    let answer = app
        .send(&signed_event(&app, "/jamf", &jamf_group_lost(1, &users)))
        .await;

    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.raw);
    assert_eq!(answer.body["outcome"], "mixed");
    let outcomes: BTreeMap<String, String> = answer.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(outcomes["alice@contoso.com"], "revoked");
    assert_eq!(outcomes["flaky@contoso.com"], "queued");
    assert_eq!(outcomes["down@contoso.com"], "queued");

    let bodies = queues.peek(&queues.url).await;
    let mut job_users: Vec<String> = bodies
        .iter()
        .map(|b| RetryJob::parse(b).unwrap().owner().user.to_string())
        .collect();
    job_users.sort();
    assert_eq!(job_users, vec!["down@contoso.com", "flaky@contoso.com"]);
    for body in &bodies {
        for secret in ALL_SECRETS {
            assert!(!body.contains(secret), "a job carries a secret");
        }
    }
}

#[tokio::test]
async fn the_retry_function_revokes_a_queued_user_once_graph_recovers() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(5).await;
    let app = webhook(&standin, &queues.url, &[]).await;
    outage_for(&standin, "flaky@contoso.com");
    let answer = app.send_lost("flaky@contoso.com", "d-2").await;
    assert_eq!(answer.body["outcome"], "queued", "{}", answer.raw);
    let retry = retry_decider(&app).await;

    // Graph still down: the message goes back, nothing is revoked.
    let (received, failed) = deliver_batch(&queues, &retry).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        failed, received,
        "a still-failing job is returned to the queue"
    );
    assert!(revoked(&standin).is_empty());

    standin.recover("flaky@contoso.com");
    let (received, failed) = deliver_batch(&queues, &retry).await;
    assert_eq!(received.len(), 1);
    assert!(failed.is_empty());
    assert_eq!(
        revoked(&standin),
        BTreeSet::from(["flaky@contoso.com".to_owned()])
    );
    assert_eq!(
        queues.depth(&queues.url).await,
        0,
        "the done job is deleted"
    );
    assert_eq!(queues.depth(&queues.dlq_url).await, 0);
}

#[tokio::test]
async fn a_mixed_batch_returns_exactly_the_failed_message_ids() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(5).await;
    let app = webhook(&standin, &queues.url, &[]).await;
    outage_for(&standin, "down@contoso.com");
    for (i, user) in ["ok@contoso.com", "down@contoso.com"].iter().enumerate() {
        queues.send_raw(&job_json(user, i)).await;
    }
    queues.send_raw(r#"{"not":"a job"}"#).await;

    let retry = retry_decider(&app).await;
    let (received, failed) = deliver_batch(&queues, &retry).await;

    assert_eq!(received.len(), 3);
    assert_eq!(failed.len(), 2, "the failing job and the malformed message");
    let left: BTreeSet<String> = queues.peek(&queues.url).await.into_iter().collect();
    assert!(left.contains(r#"{"not":"a job"}"#));
    assert!(left.iter().any(|b| b.contains("down@contoso.com")));
    assert!(!left.iter().any(|b| b.contains("ok@contoso.com")));
    assert_eq!(
        revoked(&standin),
        BTreeSet::from(["ok@contoso.com".to_owned()])
    );
}

fn job_json(user: &str, i: usize) -> String {
    json!({"version": 1, "source": "standard", "event_id": format!("job-{i}"),
           "event_type": "device.lost", "kind": "lost", "user": user,
           "devices": [{"serial_number": format!("SN-{i}")}], "accepted_at": 1_795_255_000})
    .to_string()
}

#[tokio::test]
async fn final_outcomes_are_acknowledged_and_not_requeued() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(5).await;
    let app = webhook(
        &standin,
        &queues.url,
        &[("PROTECTED_USERS", "breakglass@contoso.com")],
    )
    .await;
    standin.fail_next("gone@contoso.com", vec![Fault::NotFound]);
    let users = ["gone@contoso.com", "breakglass@contoso.com"];
    for (i, user) in users.iter().enumerate() {
        queues.send_raw(&job_json(user, i)).await;
    }

    let (received, failed) = deliver_batch(&queues, &retry_decider(&app).await).await;

    assert_eq!(received.len(), 2);
    assert!(failed.is_empty(), "not found and protected are final");
    assert_eq!(queues.depth(&queues.url).await, 0);
    assert!(revoked(&standin).is_empty());
    let graph_users: Vec<_> = standin
        .graph_calls()
        .into_iter()
        .filter_map(|c| c.user)
        .collect();
    assert!(
        !graph_users.iter().any(|u| u == "breakglass@contoso.com"),
        "a protected account is never sent to Graph, not even from the queue"
    );
}

/// The webhook answered 202 for this job and the sender will not send the event again: a 403
/// from Graph (consent missing) must leave the job on the queue, so that it is acted on once
/// consent is granted, or ends in the DLQ with its alarm.
#[tokio::test]
async fn a_denied_job_returns_to_the_queue_and_is_revoked_once_consent_is_granted() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(5).await;
    let app = webhook(&standin, &queues.url, &[]).await;
    standin.fail_next("denied@contoso.com", vec![Fault::Forbidden]);
    queues.send_raw(&job_json("denied@contoso.com", 0)).await;
    let retry = retry_decider(&app).await;

    let (received, failed) = deliver_batch(&queues, &retry).await;

    assert_eq!(
        failed, received,
        "the denied job is reported as a batch item failure"
    );
    assert_eq!(queues.depth(&queues.url).await, 1, "still on the queue");
    assert!(revoked(&standin).is_empty());

    // Consent granted: the stand-in's one 403 is spent.
    let (_, failed) = deliver_batch(&queues, &retry).await;

    assert!(failed.is_empty());
    assert_eq!(queues.depth(&queues.url).await, 0);
    assert_eq!(
        revoked(&standin),
        BTreeSet::from(["denied@contoso.com".to_owned()])
    );
}

#[tokio::test]
async fn a_job_denied_on_every_delivery_ends_in_the_dlq() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(2).await;
    let app = webhook(&standin, &queues.url, &[]).await;
    standin.fail_next("denied@contoso.com", vec![Fault::Forbidden; 10]);
    queues.send_raw(&job_json("denied@contoso.com", 0)).await;
    let retry = retry_decider(&app).await;

    for _ in 0..4 {
        deliver_batch(&queues, &retry).await;
    }

    assert_eq!(queues.depth(&queues.url).await, 0);
    let dead = queues.peek(&queues.dlq_url).await;
    assert_eq!(dead.len(), 1, "after maxReceiveCount the job is in the DLQ");
    assert_eq!(
        RetryJob::parse(&dead[0]).unwrap().owner().user.as_str(),
        "denied@contoso.com"
    );
}

#[tokio::test]
async fn a_failing_queue_send_answers_503_so_the_sender_retries() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let missing = format!(
        "{}/123456789012/{}",
        moto_url(),
        unique_name("no-such-queue")
    );
    let app = webhook(&standin, &missing, &[]).await;
    outage_for(&standin, "flaky@contoso.com");

    let answer = app.send_lost("flaky@contoso.com", "d-5").await;

    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.raw
    );
    assert_eq!(answer.body["results"][0]["outcome"], "failed");
}

#[tokio::test]
async fn an_unreachable_queue_answers_503_too() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(5).await;
    let proxy = Proxy::to(&moto_url()).await;
    proxy.set_up(false);
    let setup = Setup {
        env: vec![
            ("RETRY_QUEUE_URL", queues.url.clone()),
            ("INLINE_DEADLINE_MS", "300".to_owned()),
        ],
        sqs_endpoint: Some(proxy.url.clone()),
        ..Setup::default()
    };
    let app = spawn_graph_app(setup, &standin).await;
    outage_for(&standin, "flaky@contoso.com");

    let answer = app.send_lost("flaky@contoso.com", "d-6").await;

    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.raw
    );
    assert!(
        proxy.connections.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the send was tried"
    );
    assert_eq!(queues.depth(&queues.url).await, 0);
}

#[tokio::test]
async fn a_job_that_never_succeeds_ends_in_the_dead_letter_queue() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(2).await;
    let app = webhook(&standin, &queues.url, &[]).await;
    outage_for(&standin, "down@contoso.com");
    queues.send_raw(&job_json("down@contoso.com", 0)).await;
    let retry = retry_decider(&app).await;

    for _ in 0..2 {
        let (received, failed) = deliver_batch(&queues, &retry).await;
        assert_eq!((received.len(), failed.len()), (1, 1));
    }
    let (received, _) = deliver_batch(&queues, &retry).await;

    assert!(received.is_empty(), "SQS moved it after maxReceiveCount");
    let dead = queues.peek(&queues.dlq_url).await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].contains("down@contoso.com"));
}

#[tokio::test]
async fn a_job_the_function_cannot_act_on_as_deployed_stays_owed() {
    // An expired client secret, then a secret the retry role cannot find: both are fixed by
    // an operator, so the job must survive to the DLQ (and its alarm), not be deleted.
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(5).await;
    let app = webhook(&standin, &queues.url, &[]).await;
    queues.send_raw(&job_json("jo@contoso.com", 0)).await;

    // Two: the first request and the one after the secret is read again.
    standin.fail_token_next(vec![standin::TokenFault::ExpiredSecret; 2]);
    let (received, failed) = deliver_batch(&queues, &retry_decider(&app).await).await;
    assert_eq!(
        (received.len(), failed.len()),
        (1, 1),
        "expired secret: returned"
    );

    let missing = retry_decider_reading(&app, &unique_name("no-such-secret")).await;
    let (received, failed) = deliver_batch(&queues, &missing).await;
    assert_eq!(
        (received.len(), failed.len()),
        (1, 1),
        "unreadable secret: returned"
    );

    let (_, failed) = deliver_batch(&queues, &retry_decider(&app).await).await;
    assert!(failed.is_empty());
    assert_eq!(
        revoked(&standin),
        BTreeSet::from(["jo@contoso.com".to_owned()])
    );
}

/// Accepts connections and never answers: an AWS endpoint that hangs.
pub async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

#[tokio::test]
async fn a_hanging_queue_still_gets_an_answer_inside_the_inline_deadline() {
    // Graph hangs and so does SQS (the client's own timeout is 5 s): the sender must still
    // hear 503 at the deadline, while it is listening (Jamf Pro waits 2 s).
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(5).await;
    let setup = Setup {
        env: vec![
            ("RETRY_QUEUE_URL", queues.url.clone()),
            ("INLINE_DEADLINE_MS", "500".to_owned()),
        ],
        sqs_endpoint: Some(black_hole().await),
        ..Setup::default()
    };
    let app = spawn_graph_app(setup, &standin).await;
    // Warms the secret and token caches, so only Graph and SQS are left to hang.
    app.send_lost("warm@contoso.com", "d-8").await;
    standin.fail_next("jo@contoso.com", vec![Fault::Slow(Duration::from_secs(10))]);
    let event = signed_event(&app, "/standard", &lost_for("jo@contoso.com", "d-9"));

    let started = std::time::Instant::now();
    let answer = app.send(&event).await;
    let took = started.elapsed();

    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.raw
    );
    assert!(
        took < Duration::from_millis(1500),
        "answered after {took:?}, past the 500 ms deadline"
    );
}

/// Many events, every kind of fault, the webhook and then the retry function until the queue
/// is empty. Each accepted user must end in one of: revoked at the stand-in, refused with a
/// final answer (protected, not found, denied: audited, and 422/500 to the sender), or in the
/// DLQ. Lost: 0.
#[tokio::test]
async fn under_every_fault_each_accepted_user_ends_revoked_decided_or_in_the_dlq() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let queues = Queues::create(3).await;
    let app = webhook(
        &standin,
        &queues.url,
        &[("PROTECTED_USERS", "vip0@contoso.com")],
    )
    .await;

    // User i's fault, by i % 8; user 7 is a protected account.
    let mut expected_revoked = BTreeSet::new();
    let mut expected_decided = BTreeSet::new();
    let mut expected_dead = BTreeSet::new();
    let mut users = Vec::new();
    for i in 0..24 {
        let user = if i == 7 {
            "vip0@contoso.com".to_owned()
        } else {
            format!("user{i}@contoso.com")
        };
        match i % 8 {
            0 | 1 => {
                expected_revoked.insert(user.clone());
            }
            2 => {
                standin.fail_next(
                    &user,
                    vec![
                        Fault::TooManyRequests {
                            retry_after: Some(1)
                        };
                        3
                    ],
                );
                expected_revoked.insert(user.clone());
            }
            3 => {
                standin.fail_next(&user, vec![Fault::Slow(Duration::from_millis(600)); 2]);
                expected_revoked.insert(user.clone());
            }
            4 => {
                standin.fail_next(&user, vec![Fault::NotFound]);
                expected_decided.insert(user.clone());
            }
            5 => {
                standin.fail_next(&user, vec![Fault::Forbidden; 2]);
                expected_decided.insert(user.clone());
            }
            6 => {
                outage_for(&standin, &user);
                expected_dead.insert(user.clone());
            }
            7 if i == 7 => {
                expected_decided.insert(user.clone());
            }
            _ => {
                standin.fail_next(&user, vec![Fault::InternalError; 4]);
                expected_revoked.insert(user.clone());
            }
        }
        users.push(user);
    }

    let mut answered = BTreeMap::new();
    for (n, chunk) in users.chunks(3).enumerate() {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let event = signed_event(&app, "/jamf", &jamf_group_lost(100 + n as u64, &refs));
        let answer = app.send(&event).await;
        assert_ne!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.raw
        );
        for r in answer.body["results"].as_array().unwrap() {
            let user = r["user"].as_str().unwrap().to_owned();
            answered.insert(user, r["outcome"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(answered.len(), users.len(), "every user was accepted");
    // The final answers were given inline, to the sender, and are the right ones.
    for (i, user) in users.iter().enumerate() {
        let expected = match i % 8 {
            4 => Some("user_not_found"),
            5 => Some("denied"),
            7 if i == 7 => Some("protected"),
            _ => None,
        };
        match expected {
            Some(expected) => assert_eq!(answered[user], expected, "{user}"),
            None => assert!(
                ["revoked", "queued"].contains(&answered[user].as_str()),
                "{user}: {}",
                answered[user]
            ),
        }
    }
    let accepted: BTreeSet<String> = answered.keys().cloned().collect();

    let retry = retry_decider(&app).await;
    for _ in 0..10 {
        if queues.depth(&queues.url).await == 0 {
            break;
        }
        deliver_batch(&queues, &retry).await;
    }
    assert_eq!(queues.depth(&queues.url).await, 0, "the retry queue drains");

    let dead: BTreeSet<String> = queues
        .peek(&queues.dlq_url)
        .await
        .iter()
        .map(|b| RetryJob::parse(b).unwrap().owner().user.to_string())
        .collect();
    let done = revoked(&standin);
    assert_eq!(done, expected_revoked);
    assert_eq!(dead, expected_dead);
    let lost: Vec<&String> = accepted
        .iter()
        .filter(|u| !done.contains(*u) && !dead.contains(*u) && !expected_decided.contains(*u))
        .collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
}
