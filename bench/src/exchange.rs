//! What one round trip costs the function on this machine, apart from any server: the CPU of
//! one call through the function's own clients (the shared `reqwest` client, and the AWS SDK
//! clients of the ledger and the notifications) against a local responder that answers at
//! once. It bounds what any design can reach: a subject that adds `n` round trips per event
//! adds at least `n` bare exchanges of CPU (bench/README.md, "What one exchange costs").
//!
//! The calls run on a thread of their own (a current-thread Tokio runtime, as in the Lambda
//! binaries) and only that thread's CPU is counted (`/proc/thread-self/schedstat`); the
//! responder runs on other threads.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use crate::stats::median;

/// Per-call CPU, medians over the rounds, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct ExchangeCost {
    pub rounds: usize,
    pub calls_per_round: usize,
    /// A POST of a ledger-sized JSON body through the function's shared HTTP client.
    pub bare_us: f64,
    /// The ledger's claim: a conditional `PutItem` through the ledger's SDK client.
    pub put_item_us: f64,
    /// A notification: `Publish` with two message attributes through the notifier's client.
    pub publish_us: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("the responder could not start: {0}")]
    Responder(std::io::Error),
    #[error("the measuring thread could not run: {0}")]
    Thread(String),
    #[error("cannot read this thread's CPU time from /proc/thread-self/schedstat")]
    Clock,
    #[error("a {call} failed: {error}")]
    Call { call: &'static str, error: String },
    #[error("the responder answered {answered} requests, {expected} were sent")]
    Miscount { answered: usize, expected: usize },
}

/// The ledger's item as the claim writes it (src/aws/ledger.rs), so the bodies are the
/// size the function sends.
const CLAIM_BODY: &str = r#"{"TableName":"lost-device-ledger","Item":{"pk":{"S":"decision#jamf#8d0c2b1e-4f4b-4e8e-9f3a-2b1c0d9e8f7a"},"sk":{"S":"user#erin@contoso.example"},"kind":{"S":"decision"},"state":{"S":"in_progress"},"lease":{"S":"0b5a3c1e-9d8f-4e2b-a1c0-7f6e5d4c3b2a"},"expires_at":{"N":"1790000000"}},"ConditionExpression":"attribute_not_exists(pk) OR expires_at < :now","ExpressionAttributeValues":{":now":{"N":"1789999999"}},"ReturnValuesOnConditionCheckFailure":"ALL_OLD"}"#;

/// Measures `rounds` rounds of `calls` calls of each kind, interleaved round by round.
pub fn measure(rounds: usize, calls: usize) -> Result<ExchangeCost, ExchangeError> {
    let responder = Responder::start().map_err(ExchangeError::Responder)?;
    let url = responder.url.clone();
    let per_round = std::thread::spawn(move || -> Result<Vec<[f64; 3]>, ExchangeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ExchangeError::Thread(e.to_string()))?;
        runtime.block_on(measure_rounds(&url, rounds, calls))
    })
    .join()
    .map_err(|_| ExchangeError::Thread("it panicked".into()))??;
    // Each kind is warmed up with one extra round's worth of calls, not counted.
    let expected = (rounds + 1) * calls * 3;
    let answered = responder.answered.load(Ordering::SeqCst);
    if answered != expected {
        return Err(ExchangeError::Miscount { answered, expected });
    }
    let column =
        |i: usize| median(&per_round.iter().map(|r| r[i]).collect::<Vec<_>>()).unwrap_or(f64::NAN);
    Ok(ExchangeCost {
        rounds,
        calls_per_round: calls,
        bare_us: column(0),
        put_item_us: column(1),
        publish_us: column(2),
    })
}

async fn measure_rounds(
    url: &str,
    rounds: usize,
    calls: usize,
) -> Result<Vec<[f64; 3]>, ExchangeError> {
    let http = revoker::aws::http_client().map_err(|e| call_error("client", e))?;
    let sdk = sdk_config(url, http.clone()).await;
    let dynamodb = revoker::aws::dynamodb_client(&sdk);
    let sns = revoker::aws::sns_client(&sdk);

    let bare = || async {
        http.post(url)
            .header("content-type", "application/x-amz-json-1.0")
            .body(CLAIM_BODY)
            .send()
            .await?
            .bytes()
            .await
            .map(drop)
    };
    let put_item = || {
        dynamodb
            .put_item()
            .table_name("lost-device-ledger")
            .item(
                "pk",
                text("decision#jamf#8d0c2b1e-4f4b-4e8e-9f3a-2b1c0d9e8f7a"),
            )
            .item("sk", text("user#erin@contoso.example"))
            .item("kind", text("decision"))
            .item("state", text("in_progress"))
            .item("lease", text("0b5a3c1e-9d8f-4e2b-a1c0-7f6e5d4c3b2a"))
            .item("expires_at", AttributeValue::N("1790000000".into()))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N("1789999999".into()))
            .send()
    };
    let attribute = |value: &str| {
        aws_sdk_sns::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .expect("data type and value are set")
    };
    let body = "Lost device: erin@contoso.example signed out of Entra ID.\n".repeat(12);
    let publish = || {
        sns.publish()
            .topic_arn("arn:aws:sns:eu-west-1:123456789012:lost-device-notices")
            .subject("[Lost device] jamf: 1 user revoked (erin@contoso.example)")
            .message(&body)
            .message_attributes("outcome", attribute("revoked"))
            .message_attributes("source", attribute("jamf"))
            .send()
    };

    let mut out = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        let started = thread_cpu_ns()?;
        for _ in 0..calls {
            bare().await.map_err(|e| call_error("bare exchange", e))?;
        }
        let bare_ns = thread_cpu_ns()? - started;
        let started = thread_cpu_ns()?;
        for _ in 0..calls {
            put_item().await.map_err(|e| call_error("PutItem", e))?;
        }
        let put_ns = thread_cpu_ns()? - started;
        let started = thread_cpu_ns()?;
        for _ in 0..calls {
            publish().await.map_err(|e| call_error("Publish", e))?;
        }
        let publish_ns = thread_cpu_ns()? - started;
        if round > 0 {
            let per_call = |ns: u64| ns as f64 / calls as f64 / 1000.0;
            out.push([per_call(bare_ns), per_call(put_ns), per_call(publish_ns)]);
        }
    }
    Ok(out)
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn call_error(call: &'static str, error: impl std::fmt::Debug) -> ExchangeError {
    ExchangeError::Call {
        call,
        error: format!("{error:?}"),
    }
}

/// The SDK configuration the function loads, with fixed credentials and the responder as
/// every service's endpoint (nothing from the environment, which names moto).
async fn sdk_config(url: &str, http: reqwest::Client) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(
            "AKIDBENCH",
            "bench-secret",
            None,
            None,
            "bench",
        ))
        .endpoint_url(url)
        .http_client(revoker::aws::aws_http_client(http))
        .load()
        .await
}

/// CPU this thread has run, in nanoseconds.
fn thread_cpu_ns() -> Result<u64, ExchangeError> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .ok_or(ExchangeError::Clock)
}

/// An HTTP/1.1 server on 127.0.0.1 that answers every request at once: `{}` to JSON
/// protocols, a `PublishResponse` to SNS's form bodies. Connections stay open.
struct Responder {
    url: String,
    answered: Arc<AtomicUsize>,
}

impl Responder {
    fn start() -> std::io::Result<Responder> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let answered = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&answered);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let count = Arc::clone(&count);
                std::thread::spawn(move || {
                    let _ = serve(stream, &count);
                });
            }
        });
        Ok(Responder { url, answered })
    }
}

const PUBLISHED: &str = "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
    <PublishResult><MessageId>7f0f4c3e-1111-4222-8333-444455556666</MessageId></PublishResult>\
    <ResponseMetadata><RequestId>0a1b2c3d-1111-4222-8333-444455556666</RequestId>\
    </ResponseMetadata></PublishResponse>";

fn serve(stream: TcpStream, answered: &AtomicUsize) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut form = false;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            form |= header.starts_with("content-type: application/x-www-form-urlencoded");
        }
        let mut body = vec![0; length];
        std::io::Read::read_exact(&mut reader, &mut body)?;
        let (kind, answer) = if form {
            ("text/xml", PUBLISHED)
        } else {
            ("application/x-amz-json-1.0", "{}")
        };
        answered.fetch_add(1, Ordering::SeqCst);
        // One write: a response split over several would wait on Nagle and delayed ACKs.
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\
             x-amzn-requestid: 0a1b2c3d\r\n\r\n{answer}",
            answer.len()
        );
        writer.write_all(response.as_bytes())?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_reaches_the_responder_and_costs_some_cpu() {
        let cost = measure(2, 20).expect("the responder answers every kind of call");
        for (call, us) in [
            ("bare", cost.bare_us),
            ("PutItem", cost.put_item_us),
            ("Publish", cost.publish_us),
        ] {
            assert!(us > 0.0 && us.is_finite(), "{call}: {us} µs");
        }
    }
}
