//! One measured spawn: an execution environment that serves `events` events back to back and
//! is then stopped with SIGTERM. With one event it is a cold start; with N ≥ 1,000 the
//! difference to a cold start is N − 1 warm events.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use standin::Standin;

use crate::answer::{self, AnswerError};
use crate::environment::{self, Environment, EnvironmentError};
use crate::events::EventMaker;
use crate::lambda_env;
use crate::process::Exit;
use crate::runtime_api::{Dispatcher, FunctionIdentity};
use crate::stats::ms;
use crate::subject::{Subject, SubjectId};

/// What every spawn shares: the signed-event maker, the function configuration pointing at
/// moto_server and the stand-in, and where logs go.
#[derive(Debug, Clone)]
pub struct Lab {
    pub maker: EventMaker,
    /// CREDENTIALS_SECRET_ID, ENTRA_AUTHORITY_URL, GRAPH_URL, RETRY_QUEUE_URL,
    /// AWS_ENDPOINT_URL_*: the function configured as deployed, its retry queue included.
    pub function_config: Vec<(String, String)>,
    /// The moto SQS queue RETRY_QUEUE_URL names.
    pub retry_queue_url: String,
    pub log_dir: PathBuf,
    /// The Entra + Graph stand-in every subject calls; it also holds Intune's records.
    pub standin: Arc<Standin>,
}

/// How long one event may take before the run is declared stuck.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The Lambda function timeout the `/next` deadline header announces.
pub fn identity() -> FunctionIdentity {
    FunctionIdentity {
        arn: lambda_env::function_arn(),
        timeout: EVENT_TIMEOUT,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
    #[error("cannot prepare the measurement: {0}")]
    Setup(String),
    #[error("{subject}, event {n} of {label} (request {request_id}): {source} (log: {log})")]
    Answer {
        subject: SubjectId,
        label: String,
        n: usize,
        request_id: String,
        source: AnswerError,
        log: String,
    },
    #[error("{subject} ({label}) logged {line:?}: it did not run as configured (log: {log})")]
    Degraded {
        subject: SubjectId,
        label: String,
        line: &'static str,
        log: String,
    },
}

/// One spawn's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct SpawnSample {
    pub subject: SubjectId,
    pub events: usize,
    pub cpu_user_ms: f64,
    pub cpu_system_ms: f64,
    /// User + system.
    pub cpu_ms: f64,
    /// Spawn to the first `/next`.
    pub init_ms: f64,
    /// The first event, handed out to answered.
    pub first_event_ms: f64,
    /// Events 2..=N, handed out to answered (not serialized: summarized instead).
    #[serde(skip)]
    pub warm_ms: Vec<f64>,
    /// VmHWM just before SIGTERM.
    pub peak_rss_kib: u64,
    /// How the process ended (SIGTERM is the expected end).
    pub exit: String,
}

/// Spawns `subject`, serves it `events` signed lost-device events (users and ids unique to
/// `label`), checks every answer, stops it and returns the numbers.
pub async fn spawn(
    lab: &Lab,
    subject: &Subject,
    events: usize,
    label: &str,
) -> Result<SpawnSample, MeasureError> {
    let dispatcher = Dispatcher::new(identity());
    // Queue everything first: the function then pulls events back to back, and the harness
    // adds nothing between them.
    let mut tickets: Vec<_> = (0..events)
        .map(|n| match subject.id {
            SubjectId::Intune => dispatcher.submit(lab.maker.scheduled_event()),
            _ => dispatcher.submit(lab.maker.lost_device(label, n)),
        })
        .collect();
    if subject.id == SubjectId::Intune {
        // This spawn's one new lost-mode record, and none of the earlier spawns'.
        lab.standin
            .replace_audit_records(vec![EventMaker::intune_record(label)]);
    }
    let log = lab.log_dir.join(format!("{}.log", subject.id));
    let environment =
        Environment::start(subject, dispatcher, &lab.function_config, log.clone()).await?;
    let mut environments = [environment];
    let mut latencies = Vec::with_capacity(events);
    for (n, ticket) in tickets.iter_mut().enumerate() {
        let completion = environment::settle(ticket, &mut environments, EVENT_TIMEOUT).await?;
        answer::check(&completion.reply, subject.id.expect(n)).map_err(|source| {
            MeasureError::Answer {
                subject: subject.id,
                label: label.to_owned(),
                n,
                request_id: ticket.request_id.clone(),
                source,
                log: log.display().to_string(),
            }
        })?;
        latencies.push(ms(completion.latency()));
    }
    let [environment] = environments;
    let shutdown = environment.shut_down().await?;
    if let Some(line) = subject.id.must_not_log() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(line) {
            return Err(MeasureError::Degraded {
                subject: subject.id,
                label: label.to_owned(),
                line,
                log: log.display().to_string(),
            });
        }
    }
    let usage = shutdown.usage;
    Ok(SpawnSample {
        subject: subject.id,
        events,
        cpu_user_ms: ms(usage.user),
        cpu_system_ms: ms(usage.system),
        cpu_ms: ms(usage.cpu()),
        init_ms: ms(shutdown.init),
        first_event_ms: latencies.first().copied().unwrap_or(f64::NAN),
        warm_ms: latencies.iter().skip(1).copied().collect(),
        peak_rss_kib: shutdown.peak_rss_kib,
        exit: describe_exit(usage.exit),
    })
}

fn describe_exit(exit: Exit) -> String {
    match exit {
        Exit::Code(code) => format!("exit {code}"),
        Exit::Signal(libc::SIGTERM) => "SIGTERM".into(),
        Exit::Signal(libc::SIGKILL) => "SIGKILL".into(),
        Exit::Signal(other) => format!("signal {other}"),
    }
}
