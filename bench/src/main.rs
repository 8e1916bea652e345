//! `lambda-bench`: where the webhook Lambda stands on cold start, warm cost, memory and size,
//! measured side by side with a hello-world `lambda_http` floor and a Python reference in one
//! run, so the ratios hold on a noisy machine. See bench/README.md.
//!
//! Each subject runs as Lambda runs it: a process started with the `AWS_LAMBDA_*` environment
//! that pulls events from a Runtime API on 127.0.0.1, with Secrets Manager and SQS on
//! moto_server and Entra + Graph on the in-process stand-in. CPU is the kernel's rusage of the
//! reaped process (`wait4`), so time spent waiting on the stand-ins is not counted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use lost_device_bench::exchange::{self, ExchangeError};
use lost_device_bench::{artifact, burst, cli, measure, report, worst_case};
use standin::Standin;

use lost_device_bench::burst::{BurstReport, BurstSettings};
use lost_device_bench::cli::{Command, Options};
use lost_device_bench::events::{EventMaker, MakerError};
use lost_device_bench::fixture::{AppFixture, FixtureError};
use lost_device_bench::keep_alive::KeepAlive;
use lost_device_bench::local_aws::{LocalAws, LocalAwsError};
use lost_device_bench::machine::Machine;
use lost_device_bench::measure::{Lab, MeasureError, SpawnSample};
use lost_device_bench::report::{Pair, Results, Settings, SubjectSummary};
use lost_device_bench::subject::{Subject, SubjectId};

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{path} is missing: {hint}")]
    Missing { path: PathBuf, hint: &'static str },
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    #[error("the events: {0}")]
    Events(#[from] MakerError),
    #[error(transparent)]
    Aws(#[from] LocalAwsError),
    #[error("cannot start the Entra + Graph stand-in: {0}")]
    Standin(std::io::Error),
    #[error("cannot start the keep-alive front for DynamoDB: {0}")]
    KeepAlive(std::io::Error),
    #[error(transparent)]
    Measure(Box<MeasureError>),
    #[error(transparent)]
    Burst(#[from] burst::BurstError),
    #[error("what one exchange costs: {0}")]
    Exchange(#[from] ExchangeError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode the results: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<MeasureError> for BenchError {
    fn from(error: MeasureError) -> Self {
        BenchError::Measure(Box::new(error))
    }
}

/// The `webhook-protected` subject's break-glass account and protected groups (none of the
/// benchmark's users is in them).
const PROTECTED_USER: &str = "0b0b0b0b-1111-4222-8333-444455556666";
const PROTECTED_GROUPS: &str =
    "9a9a9a9a-0000-4000-8000-000000000001,9a9a9a9a-0000-4000-8000-000000000002";

/// What one exchange costs: rounds of calls of each kind (a few seconds in all).
const EXCHANGE_ROUNDS: usize = 5;
const EXCHANGE_CALLS: usize = 400;

#[tokio::main]
async fn main() -> ExitCode {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(options)) => *options,
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("lambda-bench: {message}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(results) => match results.burst {
            Some(BurstReport { passed: false, .. }) => {
                eprintln!("lambda-bench: the burst failed its check (see the results)");
                ExitCode::FAILURE
            }
            _ => ExitCode::SUCCESS,
        },
        Err(error) => {
            eprintln!("lambda-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<Results, BenchError> {
    let mut subjects = subjects(&options)?;
    // First: it takes a few seconds, and a failure here must not cost a whole run.
    let exchange =
        tokio::task::spawn_blocking(|| exchange::measure(EXCHANGE_ROUNDS, EXCHANGE_CALLS))
            .await
            .map_err(|e| ExchangeError::Thread(e.to_string()))??;
    let mut machine = Machine::describe(&options.python);
    let aws = LocalAws::from_env()?;
    let ledger_table = format!("lost-device-bench-ledger-{}", std::process::id());
    aws.create_ledger_table(&ledger_table).await?;
    // DynamoDB keeps connections open; moto closes each one (lost_device_bench::keep_alive).
    let dynamodb = KeepAlive::start(aws.dynamodb_url())
        .await
        .map_err(BenchError::KeepAlive)?;
    // The notifications' topic, behind the same keep-alive front as DynamoDB.
    let topic = aws
        .create_topic(&format!("lost-device-bench-notices-{}", std::process::id()))
        .await?;
    let sns = KeepAlive::start(aws.sns_url())
        .await
        .map_err(BenchError::KeepAlive)?;
    for subject in subjects.iter_mut() {
        if subject.id.uses_ledger() {
            subject.extra_env.extend([
                ("LEDGER_TABLE".into(), ledger_table.clone()),
                ("AWS_ENDPOINT_URL_DYNAMODB".into(), dynamodb.url()),
            ]);
        }
        if subject.id.notifies() {
            subject.extra_env.extend([
                ("NOTIFY_TOPIC_ARN".into(), topic.clone()),
                ("AWS_ENDPOINT_URL_SNS".into(), sns.url()),
            ]);
        }
        if subject.id == SubjectId::WebhookProtected {
            // Nobody the events name is protected: every user is looked up, checked against
            // both groups, revoked by object id, and announced.
            subject.extra_env.extend([
                ("PROTECTED_USERS".into(), PROTECTED_USER.into()),
                ("PROTECTED_GROUPS".into(), PROTECTED_GROUPS.into()),
            ]);
        }
    }
    let fixture = AppFixture::load(&options.secret)?;
    let secret_id = format!("lost-device-bench-{}", std::process::id());
    aws.create_secret(&secret_id, &fixture.secret_json).await?;
    let standin = Arc::new(
        Standin::start(fixture.standin_config(), 0)
            .await
            .map_err(BenchError::Standin)?,
    );
    create_dir(&options.work_dir)?;
    let retry_queue_url = aws
        .create_queue(&format!("lost-device-bench-retry-{}", std::process::id()))
        .await?;
    let lab = Lab {
        maker: EventMaker::new(&fixture.secret_json)?,
        function_config: vec![
            ("CREDENTIALS_SECRET_ID".into(), secret_id),
            ("ENTRA_AUTHORITY_URL".into(), standin.url()),
            ("GRAPH_URL".into(), standin.url()),
            ("RETRY_QUEUE_URL".into(), retry_queue_url.clone()),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
                aws.secrets_manager_url().into(),
            ),
            ("AWS_ENDPOINT_URL_SQS".into(), aws.sqs_url().into()),
        ],
        log_dir: options.work_dir.clone(),
        retry_queue_url,
        standin: Arc::clone(&standin),
    };

    let pairs = measure_subjects(&lab, &subjects, &options).await?;
    let burst = match subjects.iter().find(|s| s.id == SubjectId::Webhook) {
        Some(webhook) if options.burst_events > 0 => {
            Some(run_burst(&lab, webhook, &standin, &aws, &options).await?)
        }
        _ => None,
    };
    let worst_case = match subjects.iter().find(|s| s.id == SubjectId::Webhook) {
        Some(webhook) => worst_case::run(&lab, webhook).await?,
        None => Vec::new(),
    };
    let artifact = artifact::arm64(&options.artifact_dir, options.artifact_log.as_deref());
    machine.finish();

    let summaries: Vec<SubjectSummary> = pairs
        .iter()
        .map(|(id, pairs)| {
            let binary = subjects
                .iter()
                .find(|s| s.id == *id && *id != SubjectId::Python)
                .and_then(|s| artifact::file_size(&s.program));
            SubjectSummary::from_pairs(*id, pairs, binary)
        })
        .collect();
    let results = Results {
        machine,
        settings: Settings {
            repetitions: options.repetitions,
            warm_events: options.events,
            order: "subjects alternating, rotated each repetition, after one discarded \
                    warm-up spawn each"
                .into(),
            wrapper: (!options.wrap.is_empty()).then(|| options.wrap.join(" ")),
        },
        targets: report::targets(&summaries, &artifact),
        subjects: summaries,
        artifact,
        burst,
        worst_case,
        exchange,
        samples: pairs
            .into_values()
            .flatten()
            .flat_map(|p| [p.cold, p.warm])
            .collect(),
    };
    write_results(&options.out, &results)?;
    Ok(results)
}

/// The subjects to measure, each checked to exist so a missing build fails before anything
/// starts.
fn subjects(options: &Options) -> Result<Vec<Subject>, BenchError> {
    options
        .subjects
        .iter()
        .map(|id| match id {
            SubjectId::Webhook
            | SubjectId::WebhookLedger
            | SubjectId::WebhookNotified
            | SubjectId::WebhookProtected => Ok(Subject::native(
                *id,
                existing(
                    &options.webhook,
                    "build it with `cargo build --release -p lost-device-revoker --bin webhook`",
                )?,
            )),
            SubjectId::Intune => Ok(Subject::native(
                *id,
                existing(
                    &options.intune,
                    "build it with `cargo build --release -p lost-device-revoker --bin intune`",
                )?,
            )),
            SubjectId::Floor => Ok(Subject::native(
                *id,
                existing(
                    &options.floor,
                    "build it with `cargo build --release -p lost-device-bench`",
                )?,
            )),
            SubjectId::Python => {
                let hint = "`make bench` creates .venv/bench-python from bench/requirements.txt";
                Ok(Subject::python(
                    existing(&options.python, hint)?,
                    existing(&options.python_root, "the reference handler's directory")?,
                    "handler.lambda_handler",
                ))
            }
        })
        .map(|subject| subject.map(|s| s.wrapped(&options.wrap)))
        .collect()
}

/// The absolute path of an existing file (a venv's python stays a symlink: it finds its venv
/// through its own path).
fn existing(path: &Path, hint: &'static str) -> Result<PathBuf, BenchError> {
    if !path.exists() {
        return Err(BenchError::Missing {
            path: path.to_owned(),
            hint,
        });
    }
    Ok(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()))
}

/// One discarded warm-up spawn per subject, then `repetitions` rounds of a cold and a warm
/// spawn per subject, the order rotated each round so no subject always runs first.
async fn measure_subjects(
    lab: &Lab,
    subjects: &[Subject],
    options: &Options,
) -> Result<BTreeMap<SubjectId, Vec<Pair>>, BenchError> {
    for subject in subjects {
        measure::spawn(lab, subject, 1, &format!("{}-warmup", subject.id)).await?;
    }
    let mut pairs: BTreeMap<SubjectId, Vec<Pair>> = BTreeMap::new();
    for round in 0..options.repetitions {
        let mut line = format!("round {}/{}:", round + 1, options.repetitions);
        for i in 0..subjects.len() {
            let subject = &subjects[(round + i) % subjects.len()];
            let label = |kind: &str| format!("{}-r{round:02}-{kind}", subject.id);
            let cold = measure::spawn(lab, subject, 1, &label("cold")).await?;
            let events = subject.id.warm_events(options.events);
            let warm = measure::spawn(lab, subject, events, &label("warm")).await?;
            line.push_str(&progress(&cold, &warm));
            pairs
                .entry(subject.id)
                .or_default()
                .push(Pair { cold, warm });
        }
        eprintln!("{line}");
    }
    Ok(pairs)
}

fn progress(cold: &SpawnSample, warm: &SpawnSample) -> String {
    let per_event = (warm.cpu_ms - cold.cpu_ms) / (warm.events - cold.events).max(1) as f64;
    format!(
        "  {} {:.1} ms cold CPU, {:.3} ms/event;",
        cold.subject, cold.cpu_ms, per_event
    )
}

async fn run_burst(
    lab: &Lab,
    webhook: &Subject,
    standin: &Standin,
    aws: &LocalAws,
    options: &Options,
) -> Result<BurstReport, BenchError> {
    let settings = BurstSettings {
        events: options.burst_events,
        environments: options.burst_environments,
        throttle_percent: options.burst_throttle_percent,
        retry_after_seconds: 1,
        seed: options.seed,
    };
    eprintln!(
        "burst: {} events through {} environments, {} % of Graph calls throttled",
        settings.events, settings.environments, settings.throttle_percent
    );
    let report = burst::run(lab, webhook, standin, aws, settings).await?;
    eprintln!("burst: {}", report.verdict);
    Ok(report)
}

/// Writes latest.json and latest.md under `out` and prints the markdown.
fn write_results(out: &Path, results: &Results) -> Result<(), BenchError> {
    create_dir(out)?;
    let markdown = report::markdown(results);
    let json = serde_json::to_string_pretty(results)? + "\n";
    for (name, text) in [("latest.json", &json), ("latest.md", &markdown)] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|source| BenchError::Write { path, source })?;
    }
    println!("{markdown}");
    Ok(())
}

fn create_dir(dir: &Path) -> Result<(), BenchError> {
    std::fs::create_dir_all(dir).map_err(|source| BenchError::Write {
        path: dir.to_owned(),
        source,
    })
}
