//! From samples to results: medians per subject, ratios taken within the run, the
//! performance targets (README, "Performance"), and the markdown table and JSON written to bench/results/.

use serde::Serialize;

use crate::artifact::ArtifactSize;
use crate::burst::BurstReport;
use crate::exchange::ExchangeCost;
use crate::machine::Machine;
use crate::measure::SpawnSample;
use crate::stats::{median, percentile};
use crate::subject::SubjectId;
use crate::worst_case::WorstCase;

/// Sizes are reported in MiB, the unit of Lambda's memory settings (which it calls MB); the
/// artifact section also gives exact bytes.
const MIB: f64 = 1024.0 * 1024.0;

/// One repetition of one subject: a cold spawn (1 event) and a warm spawn (N events).
#[derive(Debug, Clone)]
pub struct Pair {
    pub cold: SpawnSample,
    pub warm: SpawnSample,
}

/// The medians of one subject over its repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectSummary {
    pub subject: SubjectId,
    pub spawns: usize,
    /// Spawn → first answer → SIGTERM, user + system CPU.
    pub cold_cpu_ms: f64,
    /// (CPU_N − CPU_1) / (N − 1), per repetition, then the median.
    pub warm_cpu_per_event_ms: f64,
    /// Spawn → first `/next`, over every spawn.
    pub init_ms: f64,
    /// The first event handed out → answered, over every spawn.
    pub first_event_ms: f64,
    pub warm_p50_ms: f64,
    pub warm_p99_ms: f64,
    /// VmHWM after N events.
    pub peak_rss_mib: f64,
    /// VmHWM after 1 event.
    pub cold_peak_rss_mib: f64,
    /// The x86_64 binary that was measured (not for Python).
    pub binary_mib: Option<f64>,
}

impl SubjectSummary {
    pub fn from_pairs(subject: SubjectId, pairs: &[Pair], binary_bytes: Option<u64>) -> Self {
        let of = |f: &dyn Fn(&Pair) -> f64| -> f64 {
            median(&pairs.iter().map(f).collect::<Vec<_>>()).unwrap_or(f64::NAN)
        };
        let all_spawns = |f: &dyn Fn(&SpawnSample) -> f64| -> f64 {
            let values: Vec<f64> = pairs
                .iter()
                .flat_map(|p| [f(&p.cold), f(&p.warm)])
                .collect();
            median(&values).unwrap_or(f64::NAN)
        };
        SubjectSummary {
            subject,
            spawns: pairs.len() * 2,
            cold_cpu_ms: of(&|p| p.cold.cpu_ms),
            warm_cpu_per_event_ms: of(&|p| {
                let extra_events = p.warm.events.saturating_sub(p.cold.events).max(1) as f64;
                (p.warm.cpu_ms - p.cold.cpu_ms) / extra_events
            }),
            init_ms: all_spawns(&|s| s.init_ms),
            first_event_ms: all_spawns(&|s| s.first_event_ms),
            warm_p50_ms: of(&|p| percentile(&p.warm.warm_ms, 50.0).unwrap_or(f64::NAN)),
            warm_p99_ms: of(&|p| percentile(&p.warm.warm_ms, 99.0).unwrap_or(f64::NAN)),
            peak_rss_mib: of(&|p| kib_to_mib(p.warm.peak_rss_kib)),
            cold_peak_rss_mib: of(&|p| kib_to_mib(p.cold.peak_rss_kib)),
            binary_mib: binary_bytes.map(|b| b as f64 / MIB),
        }
    }
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The run's parameters.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub repetitions: usize,
    pub warm_events: usize,
    pub order: String,
    /// The profiler every subject ran under, if any: then the numbers are not measurements.
    pub wrapper: Option<String>,
}

/// One of the performance targets (README, "Performance"), judged on this run's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: Option<f64>,
    pub limit: f64,
    pub unit: &'static str,
    /// `None` when a subject or the artifact was not measured.
    pub met: Option<bool>,
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub machine: Machine,
    pub settings: Settings,
    pub subjects: Vec<SubjectSummary>,
    pub targets: Vec<Target>,
    pub artifact: ArtifactSize,
    pub burst: Option<BurstReport>,
    /// The largest accepted bodies at their worst, one fresh process each.
    pub worst_case: Vec<WorstCase>,
    /// What one round trip costs the function, apart from any server.
    pub exchange: ExchangeCost,
    /// Every spawn, for re-analysis.
    pub samples: Vec<SpawnSample>,
}

impl Results {
    fn subject(&self, id: SubjectId) -> Option<&SubjectSummary> {
        self.subjects.iter().find(|s| s.subject == id)
    }
}

/// The performance targets (README, "Performance"), from the subjects measured in this run.
pub fn targets(subjects: &[SubjectSummary], artifact: &ArtifactSize) -> Vec<Target> {
    let get = |id| subjects.iter().find(|s| s.subject == id);
    let (webhook, ledger, notified, protected, floor, python) = (
        get(SubjectId::Webhook),
        get(SubjectId::WebhookLedger),
        get(SubjectId::WebhookNotified),
        get(SubjectId::WebhookProtected),
        get(SubjectId::Floor),
        get(SubjectId::Python),
    );
    let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    let cold = |s: Option<&SubjectSummary>| s.map(|s| s.cold_cpu_ms);
    let warm = |s: Option<&SubjectSummary>| s.map(|s| s.warm_cpu_per_event_ms);
    let rss = |s: Option<&SubjectSummary>| s.map(|s| s.peak_rss_mib);
    let zip_mib = match artifact {
        ArtifactSize::Measured {
            bootstrap_zip_bytes,
            ..
        } => Some(*bootstrap_zip_bytes as f64 / MIB),
        ArtifactSize::Unavailable { .. } => None,
    };
    vec![
        at_most(
            "cold CPU: webhook ÷ floor",
            ratio(cold(webhook), cold(floor)),
            3.0,
            "×",
        ),
        at_least(
            "cold CPU: python ÷ webhook",
            ratio(cold(python), cold(webhook)),
            10.0,
            "×",
        ),
        at_most(
            "warm CPU per event: webhook ÷ floor",
            ratio(warm(webhook), warm(floor)),
            2.0,
            "×",
        ),
        at_most("peak RSS: webhook", rss(webhook), 24.0, "MiB"),
        at_most(
            "cold CPU: webhook-ledger ÷ webhook",
            ratio(cold(ledger), cold(webhook)),
            1.2,
            "×",
        ),
        at_most(
            "warm CPU per event: webhook-ledger ÷ webhook",
            ratio(warm(ledger), warm(webhook)),
            1.5,
            "×",
        ),
        // Protection's own cost: the protected subject against the same binary and
        // configuration without protection (both publish a notification per event).
        at_most(
            "warm CPU per event: webhook-protected ÷ webhook-notified",
            ratio(warm(protected), warm(notified)),
            2.0,
            "×",
        ),
        at_most("peak RSS: webhook-protected", rss(protected), 24.0, "MiB"),
        at_most(
            "peak RSS: webhook ÷ python",
            ratio(rss(webhook), rss(python)),
            0.5,
            "×",
        ),
        at_most("arm64 zip", zip_mib, 4.0, "MiB"),
    ]
}

fn at_most(target: &str, measured: Option<f64>, limit: f64, unit: &'static str) -> Target {
    Target {
        target: format!("{target} ≤ {}", number(limit, unit)),
        measured,
        limit,
        unit,
        met: measured.map(|m| m <= limit),
    }
}

fn at_least(target: &str, measured: Option<f64>, limit: f64, unit: &'static str) -> Target {
    Target {
        target: format!("{target} ≥ {}", number(limit, unit)),
        measured,
        limit,
        unit,
        met: measured.map(|m| m >= limit),
    }
}

fn number(value: f64, unit: &str) -> String {
    if unit == "×" {
        format!("{}×", fixed(value))
    } else {
        format!("{} {unit}", fixed(value))
    }
}

/// Three significant figures, enough for numbers this noisy.
fn fixed(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// The markdown report: the table, the ratios, the targets, the artifact and the burst.
pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let m = &results.machine;
    out.push_str("# lost-device-revoker: `make bench` results\n\n");
    out.push_str(&format!(
        "Run {} at commit {}.  \nMachine: {}.  \n",
        m.date_utc,
        m.git_commit,
        m.summary()
    ));
    out.push_str(&format!(
        "Medians of {} repetitions per subject, {}; each repetition is a cold spawn (1 event) \
         and a warm spawn ({} events). Sizes in MiB.\n\n",
        results.settings.repetitions, results.settings.order, results.settings.warm_events
    ));
    if let Some(wrapper) = &results.settings.wrapper {
        out.push_str(&format!(
            "**Every subject ran under `{wrapper}`: these numbers are the profiler's, not \
             measurements.**\n\n"
        ));
    }
    out.push_str(&subject_table(results));
    out.push_str("\n## Targets\n\n| target | measured | met |\n| --- | ---: | :---: |\n");
    for t in &results.targets {
        let measured = t
            .measured
            .map_or("not measured".into(), |v| number(v, t.unit));
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "–",
        };
        out.push_str(&format!("| {} | {} | {} |\n", t.target, measured, met));
    }
    out.push_str(&exchange_section(
        &results.exchange,
        results.subject(SubjectId::Webhook),
    ));
    out.push_str("\n## Deployment artifact (`cargo lambda build --release --arm64`)\n\n");
    match &results.artifact {
        ArtifactSize::Measured {
            bootstrap_bytes,
            bootstrap_zip_bytes,
            ..
        } => out.push_str(&format!(
            "- `bootstrap` (arm64, stripped): {} MiB ({bootstrap_bytes} bytes)\n- \
             `bootstrap.zip`: {} MiB ({bootstrap_zip_bytes} bytes)\n",
            fixed(*bootstrap_bytes as f64 / MIB),
            fixed(*bootstrap_zip_bytes as f64 / MIB),
        )),
        ArtifactSize::Unavailable { reason } => {
            out.push_str(&format!("Unavailable: {reason}\n"));
        }
    }
    if let Some(burst) = &results.burst {
        out.push_str(&burst_section(burst));
    }
    if !results.worst_case.is_empty() {
        out.push_str(&worst_case_section(&results.worst_case));
    }
    out
}

type Metric = (&'static str, fn(&SubjectSummary) -> Option<f64>);

const METRICS: [Metric; 9] = [
    ("cold CPU, ms (spawn → 1st answer → SIGTERM)", |s| {
        Some(s.cold_cpu_ms)
    }),
    ("warm CPU per event, ms", |s| Some(s.warm_cpu_per_event_ms)),
    ("init wall, ms (spawn → 1st `/next`)", |s| Some(s.init_ms)),
    ("cold first event wall, ms", |s| Some(s.first_event_ms)),
    ("warm event wall p50, ms", |s| Some(s.warm_p50_ms)),
    ("warm event wall p99, ms", |s| Some(s.warm_p99_ms)),
    ("peak RSS (VmHWM) after N events, MiB", |s| {
        Some(s.peak_rss_mib)
    }),
    ("peak RSS (VmHWM) after 1 event, MiB", |s| {
        Some(s.cold_peak_rss_mib)
    }),
    ("x86_64 binary, MiB", |s| s.binary_mib),
];

fn subject_table(results: &Results) -> String {
    let webhook = results.subject(SubjectId::Webhook);
    let ledger = results.subject(SubjectId::WebhookLedger);
    let notified = results.subject(SubjectId::WebhookNotified);
    let protected = results.subject(SubjectId::WebhookProtected);
    let intune = results.subject(SubjectId::Intune);
    let floor = results.subject(SubjectId::Floor);
    let python = results.subject(SubjectId::Python);
    let mut out = String::from(
        "| metric | webhook | webhook-ledger | webhook-notified | webhook-protected | intune | \
         floor | python | webhook ÷ floor | webhook-ledger ÷ webhook | \
         webhook-notified ÷ webhook | webhook-protected ÷ webhook-notified | \
         webhook-protected ÷ webhook | intune ÷ floor | python ÷ webhook |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | \
         ---: | ---: | ---: |\n",
    );
    for (name, metric) in METRICS {
        let value = |s: Option<&SubjectSummary>| s.and_then(metric);
        let cell = |v: Option<f64>| v.map_or("–".into(), fixed);
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{}×", fixed(a / b)),
            _ => "–".into(),
        };
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(value(webhook)),
            cell(value(ledger)),
            cell(value(notified)),
            cell(value(protected)),
            cell(value(intune)),
            cell(value(floor)),
            cell(value(python)),
            ratio(value(webhook), value(floor)),
            ratio(value(ledger), value(webhook)),
            ratio(value(notified), value(webhook)),
            ratio(value(protected), value(notified)),
            ratio(value(protected), value(webhook)),
            ratio(value(intune), value(floor)),
            ratio(value(python), value(webhook)),
        ));
    }
    out
}

/// The exchange costs, and the least each subject that adds round trips could cost.
fn exchange_section(cost: &ExchangeCost, webhook: Option<&SubjectSummary>) -> String {
    let mut out = format!(
        "\n## What one exchange costs\n\nCPU per call of the function's own clients against a \
         local responder that answers at once (its CPU is not counted), medians of {} rounds of \
         {} calls: what a round trip costs the function on this machine, apart from any \
         server.\n\n| call | CPU per call, µs |\n| --- | ---: |\n\
         | bare HTTP exchange (the shared client, a claim-sized JSON body) | {} |\n\
         | DynamoDB `PutItem` (the ledger's client) | {} |\n\
         | SNS `Publish` (the notifier's client) | {} |\n",
        cost.rounds,
        cost.calls_per_round,
        fixed(cost.bare_us),
        fixed(cost.put_item_us),
        fixed(cost.publish_us),
    );
    if let Some(webhook) = webhook {
        let warm_us = webhook.warm_cpu_per_event_ms * 1000.0;
        let at_least = |extra_us: f64| fixed((warm_us + extra_us) / warm_us);
        out.push_str(&format!(
            "\nThe ledger writes twice per event (the claim before acting, the settle after): \
             at the bare exchange's cost, `webhook-ledger ÷ webhook` could not be below {}× \
             (the webhook's warm event, {} µs, plus two exchanges), and with the SDK's \
             `PutItem` not below {}×. Protection reads twice per event (the lookup and the \
             membership check): without a topic, protection ÷ webhook could not be below {}× \
             at the bare exchange's cost (this run measures it with a topic, against \
             `webhook-notified`).\n",
            at_least(2.0 * cost.bare_us),
            fixed(warm_us),
            at_least(2.0 * cost.put_item_us),
            at_least(2.0 * cost.bare_us),
        ));
    }
    out
}

fn burst_section(burst: &BurstReport) -> String {
    let s = &burst.settings;
    let outcomes: Vec<String> = burst
        .outcomes
        .iter()
        .map(|(outcome, n)| format!("{n} {outcome}"))
        .collect();
    let statuses: Vec<String> = burst
        .statuses
        .iter()
        .map(|(status, n)| format!("{n}× {status}"))
        .collect();
    let throttled_share = if burst.graph_calls > 0 {
        100.0 * burst.graph_throttled as f64 / burst.graph_calls as f64
    } else {
        f64::NAN
    };
    format!(
        "\n## Burst\n\n{} events at once through {} concurrent webhook environments; the \
         stand-in throttles each Graph call with probability {} % (`429`, `Retry-After: {}`, \
         seed {}); `RETRY_QUEUE_URL` names a moto SQS queue.\n\n\
         | | |\n| --- | --- |\n\
         | verdict | {} {} |\n\
         | total (first spawn → last answer) | {} s ({} events/s) |\n\
         | event wall p50 / p99 / max | {} / {} / {} ms |\n\
         | user outcomes | {} |\n\
         | HTTP statuses | {} |\n\
         | Graph calls | {} ({} throttled, {} %) |\n\
         | stand-in revoked users | {} |\n\
         | retry queue depth after | {} |\n\
         | CPU, all environments | {} ms ({} ms per event) |\n\
         | largest peak RSS | {} MiB |\n",
        s.events,
        s.environments,
        s.throttle_percent,
        s.retry_after_seconds,
        s.seed,
        if burst.passed {
            "**pass**:"
        } else {
            "**FAIL**:"
        },
        burst.verdict,
        fixed(burst.total_ms / 1000.0),
        fixed(burst.events_per_second),
        fixed(burst.latency_p50_ms),
        fixed(burst.latency_p99_ms),
        fixed(burst.latency_max_ms),
        outcomes.join(", "),
        statuses.join(", "),
        burst.graph_calls,
        burst.graph_throttled,
        fixed(throttled_share),
        burst.standin_revoked_users,
        burst.queue_depth,
        fixed(burst.cpu_total_ms),
        fixed(burst.cpu_per_event_ms),
        fixed(kib_to_mib(burst.max_peak_rss_kib)),
    )
}

fn worst_case_section(cases: &[WorstCase]) -> String {
    let mut out = String::from(
        "\n## Worst-case bodies\n\nThe largest body the webhook accepts (`MAX_BODY_BYTES` at \
         its maximum, 1 MiB), authenticated, each on a fresh process (init included in the peak \
         RSS). The function has 128 MB and 5 s.\n\n\
         | body | bytes | status | wall, ms | peak RSS, MiB |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    for case in cases {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            case.body,
            case.bytes,
            case.status,
            fixed(case.wall_ms),
            fixed(case.peak_rss_kib as f64 / 1024.0)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(subject: SubjectId, events: usize, cpu_ms: f64, rss_kib: u64) -> SpawnSample {
        SpawnSample {
            subject,
            events,
            cpu_user_ms: cpu_ms,
            cpu_system_ms: 0.0,
            cpu_ms,
            init_ms: 1.0,
            first_event_ms: 2.0,
            warm_ms: vec![0.5; events.saturating_sub(1)],
            peak_rss_kib: rss_kib,
            exit: "SIGTERM".into(),
        }
    }

    fn pairs(subject: SubjectId, cold: f64, per_event: f64, rss_kib: u64) -> Vec<Pair> {
        (0..3)
            .map(|_| Pair {
                cold: sample(subject, 1, cold, rss_kib),
                warm: sample(subject, 1001, cold + 1000.0 * per_event, rss_kib),
            })
            .collect()
    }

    /// A subject measured as three identical repetitions.
    fn summary(subject: SubjectId, cold: f64, per_event: f64, rss_kib: u64) -> SubjectSummary {
        SubjectSummary::from_pairs(subject, &pairs(subject, cold, per_event, rss_kib), None)
    }

    #[test]
    fn warm_cpu_per_event_is_the_difference_over_the_extra_events() {
        let summary = summary(SubjectId::Floor, 2.0, 0.2, 4000);
        assert!((summary.cold_cpu_ms - 2.0).abs() < 1e-9);
        assert!((summary.warm_cpu_per_event_ms - 0.2).abs() < 1e-9);
        assert!((summary.peak_rss_mib - 3.90625).abs() < 1e-9);
    }

    #[test]
    fn targets_are_judged_from_ratios_within_the_run() {
        let subjects = [
            summary(SubjectId::Webhook, 5.0, 0.3, 10_000),
            // Within 1.2× cold, but over 1.5× warm.
            summary(SubjectId::WebhookLedger, 5.5, 0.5, 10_000),
            summary(SubjectId::WebhookNotified, 5.2, 0.5, 10_000),
            // Within 2× warm of the notified subject (though 3.3× the webhook), but over
            // 24 MiB.
            summary(SubjectId::WebhookProtected, 6.0, 0.99, 30_000),
            summary(SubjectId::Floor, 2.0, 0.2, 4_000),
            summary(SubjectId::Python, 400.0, 2.0, 40_000),
        ];
        let artifact = ArtifactSize::Unavailable {
            reason: "no zig".into(),
        };
        let targets = targets(&subjects, &artifact);
        let met: Vec<Option<bool>> = targets.iter().map(|t| t.met).collect();
        assert_eq!(
            met,
            [
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(false),
                Some(true),
                Some(false),
                Some(true),
                None
            ]
        );
    }

    #[test]
    fn a_missing_subject_leaves_its_targets_unjudged() {
        let subjects = [summary(SubjectId::Webhook, 5.0, 0.3, 30_000)];
        let artifact = ArtifactSize::Unavailable {
            reason: "skipped".into(),
        };
        let targets = targets(&subjects, &artifact);
        assert_eq!(targets[0].met, None);
        assert_eq!(targets[3].met, Some(false), "30,000 KiB is over 24 MiB");
    }

    #[test]
    fn numbers_keep_three_significant_figures() {
        assert_eq!(fixed(1234.4), "1234");
        assert_eq!(fixed(12.345), "12.3");
        assert_eq!(fixed(1.2345), "1.23");
        assert_eq!(fixed(0.12345), "0.123");
        assert_eq!(fixed(f64::NAN), "–");
    }
}
