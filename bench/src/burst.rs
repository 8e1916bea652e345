//! The burst: 1,000 lost-device events at once through a few concurrent execution
//! environments of the webhook, while the stand-in answers about a fifth of Graph calls with
//! `429 Retry-After: 1`. Every user must end `revoked` or `queued`: anything else means a
//! revocation could be lost.
//!
//! The throttling is scripted per user before the burst, from a seeded generator: each Graph
//! call of a user is throttled with the set probability, independently (a user's k-th call is
//! throttled only if the k−1 before it were), so the run is repeatable and the realized share of
//! throttled calls is reported next to the target share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use standin::{Fault, Standin};

use crate::answer;
use crate::environment::{self, Environment, EnvironmentError};
use crate::local_aws::{LocalAws, LocalAwsError};
use crate::measure::{self, Lab};
use crate::runtime_api::Dispatcher;
use crate::stats::{ms, percentile};
use crate::subject::Subject;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct BurstSettings {
    pub events: usize,
    /// Concurrent execution environments (Lambda scales out for a burst).
    pub environments: usize,
    /// Share of Graph calls answered 429, percent.
    pub throttle_percent: u32,
    /// The `Retry-After` of those answers, seconds.
    pub retry_after_seconds: u64,
    pub seed: u64,
}

/// No user gets more than this many 429s in a row (the inline deadline ends long before).
const MAX_THROTTLES_PER_USER: usize = 8;
/// How long one burst event may take: its inline deadline plus a queue send, with room.
const BURST_EVENT_TIMEOUT: Duration = Duration::from_secs(60);
const LABEL: &str = "burst";

#[derive(Debug, thiserror::Error)]
pub enum BurstError {
    #[error("burst: {0}")]
    Environment(#[from] EnvironmentError),
    #[error("burst: {0}")]
    Aws(#[from] LocalAwsError),
}

#[derive(Debug, Clone, Serialize)]
pub struct BurstReport {
    pub settings: BurstSettings,
    /// First spawn to last answer.
    pub total_ms: f64,
    pub events_per_second: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    /// Per-user outcomes over all answers (`revoked`, `queued`, anything else).
    pub outcomes: BTreeMap<String, usize>,
    /// HTTP statuses of the answers.
    pub statuses: BTreeMap<u16, usize>,
    /// Answers that were not HTTP responses (function errors).
    pub function_errors: usize,
    pub graph_calls: usize,
    pub graph_throttled: usize,
    /// Burst users the stand-in recorded as revoked.
    pub standin_revoked_users: usize,
    /// Messages waiting in the retry queue (RETRY_QUEUE_URL) afterwards.
    pub queue_depth: u64,
    /// CPU of all environments together, and per event.
    pub cpu_total_ms: f64,
    pub cpu_per_event_ms: f64,
    pub max_peak_rss_kib: u64,
    /// Every user revoked or queued, and the stand-in agrees on the revoked ones.
    pub passed: bool,
    pub verdict: String,
}

/// Runs the burst through `settings.environments` environments of `webhook`.
pub async fn run(
    lab: &Lab,
    webhook: &Subject,
    standin: &Standin,
    aws: &LocalAws,
    settings: BurstSettings,
) -> Result<BurstReport, BurstError> {
    script_throttling(standin, settings);
    let dispatcher = Dispatcher::new(measure::identity());
    let mut tickets: Vec<_> = (0..settings.events)
        .map(|n| dispatcher.submit(lab.maker.lost_device(LABEL, n)))
        .collect();
    let started = Instant::now();
    let mut environments = Vec::with_capacity(settings.environments);
    for i in 0..settings.environments.max(1) {
        let log = lab.log_dir.join(format!("burst-{i:02}.log"));
        let environment =
            Environment::start(webhook, Arc::clone(&dispatcher), &lab.function_config, log).await?;
        environments.push(environment);
    }

    let mut tally = Tally::default();
    for ticket in &mut tickets {
        let completion =
            environment::settle(ticket, &mut environments, BURST_EVENT_TIMEOUT).await?;
        tally.add(&completion);
    }
    let total = tally.last_answer.map_or(Duration::ZERO, |t| t - started);

    let mut cpu = Duration::ZERO;
    let mut max_peak_rss_kib = 0;
    for environment in environments {
        let shutdown = environment.shut_down().await?;
        cpu += shutdown.usage.cpu();
        max_peak_rss_kib = max_peak_rss_kib.max(shutdown.peak_rss_kib);
    }
    let queue_depth = aws.queue_depth(&lab.retry_queue_url).await?;
    let standin_view = StandinView::read(standin);
    let events = settings.events.max(1) as f64;
    let mut report = BurstReport {
        settings,
        total_ms: ms(total),
        events_per_second: events / total.as_secs_f64().max(f64::EPSILON),
        latency_p50_ms: percentile(&tally.latencies, 50.0).unwrap_or(f64::NAN),
        latency_p99_ms: percentile(&tally.latencies, 99.0).unwrap_or(f64::NAN),
        latency_max_ms: percentile(&tally.latencies, 100.0).unwrap_or(f64::NAN),
        outcomes: tally.outcomes,
        statuses: tally.statuses,
        function_errors: tally.function_errors,
        graph_calls: standin_view.calls,
        graph_throttled: standin_view.throttled,
        standin_revoked_users: standin_view.revoked_users,
        queue_depth,
        cpu_total_ms: ms(cpu),
        cpu_per_event_ms: ms(cpu) / events,
        max_peak_rss_kib,
        passed: false,
        verdict: String::new(),
    };
    (report.passed, report.verdict) = judge(&report);
    Ok(report)
}

/// Queues each burst user's 429s in the stand-in before anything is sent.
fn script_throttling(standin: &Standin, settings: BurstSettings) {
    let mut rng = fastrand::Rng::with_seed(settings.seed);
    for n in 0..settings.events {
        let mut throttles = 0;
        while throttles < MAX_THROTTLES_PER_USER && rng.u32(0..100) < settings.throttle_percent {
            throttles += 1;
        }
        if throttles > 0 {
            let fault = Fault::TooManyRequests {
                retry_after: Some(settings.retry_after_seconds),
            };
            standin.fail_next(
                &crate::events::EventMaker::user(LABEL, n),
                vec![fault; throttles],
            );
        }
    }
}

#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    last_answer: Option<Instant>,
    outcomes: BTreeMap<String, usize>,
    statuses: BTreeMap<u16, usize>,
    function_errors: usize,
}

impl Tally {
    fn add(&mut self, completion: &crate::runtime_api::Completion) {
        self.latencies.push(ms(completion.latency()));
        self.last_answer = self.last_answer.max(Some(completion.finished_at));
        match answer::read(&completion.reply) {
            Ok((answer, _body)) => {
                *self.statuses.entry(answer.status).or_default() += 1;
                if answer.outcomes.is_empty() {
                    *self.outcomes.entry("(no results)".into()).or_default() += 1;
                }
                for user in answer.outcomes {
                    *self.outcomes.entry(user.outcome).or_default() += 1;
                }
            }
            Err(_) => self.function_errors += 1,
        }
    }
}

/// The stand-in's record of the burst's Graph traffic.
struct StandinView {
    calls: usize,
    throttled: usize,
    revoked_users: usize,
}

impl StandinView {
    fn read(standin: &Standin) -> StandinView {
        let prefix = format!("bench-{LABEL}-");
        let is_burst = |user: &str| user.starts_with(&prefix);
        let calls: Vec<_> = standin
            .graph_calls()
            .into_iter()
            .filter(|c| c.user.as_deref().is_some_and(is_burst))
            .collect();
        let mut revoked: Vec<String> = standin
            .revocations()
            .into_iter()
            .map(|r| r.user)
            .filter(|u| is_burst(u))
            .collect();
        revoked.sort();
        revoked.dedup();
        StandinView {
            throttled: calls.iter().filter(|c| c.status == 429).count(),
            calls: calls.len(),
            revoked_users: revoked.len(),
        }
    }
}

fn judge(report: &BurstReport) -> (bool, String) {
    let count = |outcome: &str| report.outcomes.get(outcome).copied().unwrap_or(0);
    let (revoked, queued) = (count("revoked"), count("queued"));
    let answered: usize = report.outcomes.values().sum();
    let other: Vec<String> = report
        .outcomes
        .iter()
        .filter(|(outcome, _)| !matches!(outcome.as_str(), "revoked" | "queued"))
        .map(|(outcome, n)| format!("{n} {outcome}"))
        .collect();
    let mut problems = Vec::new();
    if !other.is_empty() {
        problems.push(format!(
            "users neither revoked nor queued: {}",
            other.join(", ")
        ));
    }
    if report.function_errors > 0 {
        problems.push(format!("{} function errors", report.function_errors));
    }
    if answered + report.function_errors < report.settings.events {
        problems.push(format!(
            "{} of {} events answered",
            answered, report.settings.events
        ));
    }
    if report.standin_revoked_users != revoked {
        problems.push(format!(
            "the function reported {revoked} revoked, the stand-in recorded {}",
            report.standin_revoked_users
        ));
    }
    if problems.is_empty() {
        (
            true,
            format!("every user ended revoked ({revoked}) or queued ({queued})"),
        )
    } else {
        (false, problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcomes: &[(&str, usize)], standin_revoked: usize) -> BurstReport {
        BurstReport {
            settings: BurstSettings {
                events: outcomes.iter().map(|(_, n)| n).sum(),
                environments: 1,
                throttle_percent: 20,
                retry_after_seconds: 1,
                seed: 1,
            },
            total_ms: 1.0,
            events_per_second: 1.0,
            latency_p50_ms: 1.0,
            latency_p99_ms: 1.0,
            latency_max_ms: 1.0,
            outcomes: outcomes
                .iter()
                .map(|(o, n)| ((*o).to_owned(), *n))
                .collect(),
            statuses: BTreeMap::new(),
            function_errors: 0,
            graph_calls: 0,
            graph_throttled: 0,
            standin_revoked_users: standin_revoked,
            queue_depth: 0,
            cpu_total_ms: 0.0,
            cpu_per_event_ms: 0.0,
            max_peak_rss_kib: 0,
            passed: false,
            verdict: String::new(),
        }
    }

    #[test]
    fn revoked_or_queued_passes() {
        let (passed, verdict) = judge(&report(&[("revoked", 960), ("queued", 40)], 960));
        assert!(passed, "{verdict}");
    }

    #[test]
    fn a_failed_user_fails_the_burst() {
        let (passed, verdict) = judge(&report(&[("revoked", 960), ("failed", 40)], 960));
        assert!(!passed);
        assert!(verdict.contains("40 failed"), "{verdict}");
    }

    #[test]
    fn the_stand_in_must_agree_on_revocations() {
        let (passed, verdict) = judge(&report(&[("revoked", 1000)], 990));
        assert!(!passed);
        assert!(verdict.contains("stand-in recorded 990"), "{verdict}");
    }
}
