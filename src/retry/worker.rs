//! The retry function's batch worker: each SQS message is one job for one user, acted on through the
//! same decision path as the webhook. Messages that must come back are reported as batch item
//! failures, so SQS delivers them again after the visibility timeout and, after
//! `maxReceiveCount`, moves them to the dead-letter queue (which raises an alarm).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::{StreamExt, stream};
use tokio::time::Instant;
use tracing::Instrument;

use super::job::RetryJob;
use crate::revocation::audit::{self, Attempt};
use crate::revocation::{
    Decider, JobDecision, Ledger, Report, RetryQueue, Revoker, UserOutcome, UserResult,
};

/// How many messages of one batch are acted on at the same time.
const CONCURRENT_MESSAGES: usize = 8;

/// Time kept back from the invocation's deadline to report the batch before Lambda stops it.
const REPORT_MARGIN: Duration = Duration::from_secs(2);

/// The most one message may take, counted from when its turn starts: a few hanging jobs must
/// not leave the rest of the batch no time at all (each return costs a receive).
const MESSAGE_BUDGET: Duration = Duration::from_secs(10);

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageOutcome {
    /// The user's case is closed (revoked, or a final answer): delete the message.
    Done,
    /// Still owed: SQS must deliver it again.
    Retry,
    /// Not a job: it goes back too, and after the last attempt to the DLQ, where a person
    /// looks at it. Nothing accepted is dropped silently.
    Malformed,
}

impl MessageOutcome {
    fn must_return(self) -> bool {
        !matches!(self, Self::Done)
    }
}

/// Acts on every job of a batch and names the messages SQS must deliver again.
pub async fn handle_batch<R: Revoker, Q: RetryQueue, L: Ledger>(
    decider: &Decider<R, Q, L>,
    event: SqsEvent,
    deadline: Instant,
) -> SqsBatchResponse {
    tracing::info!(
        messages = event.records.len(),
        budget_ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64,
        "retry batch received"
    );
    let work: Vec<_> = event
        .records
        .iter()
        .map(|message| process(decider, message, deadline))
        .collect();
    let outcomes: Vec<(String, MessageOutcome)> = stream::iter(work)
        .buffer_unordered(CONCURRENT_MESSAGES)
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for (message_id, outcome) in outcomes {
        if outcome.must_return() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// One message, in its own span. A message without an id is reported with an empty id,
/// which makes Lambda treat the whole batch as failed: nothing is deleted unseen.
async fn process<R: Revoker, Q: RetryQueue, L: Ledger>(
    decider: &Decider<R, Q, L>,
    message: &SqsMessage,
    deadline: Instant,
) -> (String, MessageOutcome) {
    let message_id = message.message_id.clone().unwrap_or_default();
    let delivery: Option<u32> = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok());
    let span = tracing::info_span!("retry_job", message_id = %message_id, delivery);
    let outcome = act_on(decider, message, delivery.unwrap_or(1), deadline)
        .instrument(span)
        .await;
    (message_id, outcome)
}

async fn act_on<R: Revoker, Q: RetryQueue, L: Ledger>(
    decider: &Decider<R, Q, L>,
    message: &SqsMessage,
    delivery: u32,
    deadline: Instant,
) -> MessageOutcome {
    let job = match RetryJob::parse(message.body.as_deref().unwrap_or_default()) {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(error = %e, "message is not a retry job; it goes to the DLQ after the last attempt");
            return MessageOutcome::Malformed;
        }
    };
    tracing::debug!(
        waited_secs = crate::unix_now().saturating_sub(job.accepted_at()),
        "job taken"
    );
    let owner = job.owner();
    let deadline = deadline.min(Instant::now() + MESSAGE_BUDGET);
    let decision = match decider.decide_job(job.event(), owner, deadline).await {
        JobDecision::Acted(decision) => decision,
        JobDecision::Settled(settled) => {
            tracing::info!(
                recorded = settled.as_str(),
                "a copy of this job already settled the user: nothing done again"
            );
            audit::user_decision(
                job.event(),
                owner,
                UserOutcome::Duplicate,
                None,
                Some(Attempt {
                    delivery,
                    returned: false,
                }),
            );
            return MessageOutcome::Done;
        }
    };
    let outcome = UserOutcome::from(decision);
    let returned = decision.is_owed();
    audit::user_decision(
        job.event(),
        owner,
        outcome,
        decision.receipt(),
        Some(Attempt { delivery, returned }),
    );
    if returned {
        return MessageOutcome::Retry;
    }
    // The job's user is decided: people hear of it as of an event with this one user.
    let result = UserResult {
        user: owner.user.clone(),
        outcome,
        receipt: decision.receipt(),
    };
    let report = Report::for_users(job.event().id.clone(), vec![result]);
    decider.notify(job.event(), &report, deadline).await;
    MessageOutcome::Done
}

/// The instant to stop acting, from the invocation's deadline (Unix milliseconds, as the
/// Lambda context gives it), keeping `REPORT_MARGIN` to answer.
///
/// `cargo lambda watch` (1.9) sends the timeout itself (`600000`) rather than a Unix time. A
/// value that small is read as a duration from now: no real deadline lies in 1970. (Lambda
/// stops the function at its timeout whatever this says; an unreported batch comes back whole.)
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let remaining = if deadline_ms < DURATION_NOT_DEADLINE_MS {
        Duration::from_millis(deadline_ms)
    } else {
        Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    };
    let now = Instant::now();
    // A deadline centuries away (no real one is) must not overflow the clock: a year will do.
    now.checked_add(remaining.saturating_sub(REPORT_MARGIN))
        .unwrap_or(now + Duration::from_secs(365 * 86_400))
}

/// One day, in milliseconds: below this a "deadline" can only be a duration.
const DURATION_NOT_DEADLINE_MS: u64 = 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_keeps_a_margin_to_report_the_batch() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let d = deadline_from_epoch_ms(now_ms + 30_000);
        let left = d - Instant::now();
        assert!(left <= Duration::from_secs(28) && left > Duration::from_secs(27));
        let past = deadline_from_epoch_ms(now_ms - 5_000);
        assert!(past <= Instant::now());
    }

    #[test]
    fn an_emulators_timeout_sent_as_a_duration_is_read_as_one() {
        let left = deadline_from_epoch_ms(600_000) - Instant::now();
        assert!(left <= Duration::from_secs(598) && left > Duration::from_secs(597));
    }
}
