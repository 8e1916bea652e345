//! The ledger seam: durable memory of decisions shared by every instance, so each
//! (source, event id, user) is acted on at most once however often, and wherever, the event
//! arrives (DynamoDB in production, `aws::DynamoLedger`). Modelled on AWS Powertools'
//! idempotency records (a conditional claim, an in-progress state whose lease ends with the
//! invocation, records that expire), under this product's rule: never drop a revocation. A
//! ledger that errs or is slow is passed by (`Decider` fails open); only an answer from it
//! stops an act.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::outcome::UserOutcome;
use crate::domain::{EventId, Source, UserRef};

/// Whom a decision is about, for which event from which source: the key of one record.
pub type DecisionKey = (Source, EventId, UserRef);

/// Who is claiming, which decides what an existing record means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimant {
    /// A delivery of the event from its sender: any settled record makes it a duplicate.
    Sender,
    /// A retry job: the webhook recorded the user `queued`, and the job is what that record
    /// waits for, so the job may take it over (any other settled record means a copy of
    /// the job already finished it).
    RetryJob,
}

/// What a claim found for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This invocation holds the key until its lease ends: act, then settle or release it.
    Won,
    /// Already decided; nothing is done again.
    Settled(Settled),
    /// Another invocation holds the key and its lease has not ended (only for a `Sender`: a
    /// retry job continues the webhook's claim).
    Held,
}

/// The outcomes a ledger keeps: the ones after which a redelivery must not act again.
/// `failed`, `denied` and `dry_run` are never kept (a retry, a fixed consent, or a later live
/// run must act).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Revoked,
    Queued,
    Protected,
    UserNotFound,
}

impl Settled {
    /// The record an outcome leaves, or `None` when the claim is released.
    pub fn of(outcome: UserOutcome) -> Option<Self> {
        match outcome {
            UserOutcome::Revoked => Some(Self::Revoked),
            UserOutcome::Queued => Some(Self::Queued),
            UserOutcome::Protected => Some(Self::Protected),
            UserOutcome::UserNotFound => Some(Self::UserNotFound),
            UserOutcome::DryRun
            | UserOutcome::Denied
            | UserOutcome::Failed
            | UserOutcome::Duplicate
            | UserOutcome::InProgress
            | UserOutcome::Ambiguous => None,
        }
    }

    /// The name stored in the record (README, "The ledger"): the outcome's own name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => UserOutcome::Revoked.as_str(),
            Self::Queued => UserOutcome::Queued.as_str(),
            Self::Protected => UserOutcome::Protected.as_str(),
            Self::UserNotFound => UserOutcome::UserNotFound.as_str(),
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Revoked,
            Self::Queued,
            Self::Protected,
            Self::UserNotFound,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// What becomes of a won claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Kept for the ledger's time to live: redeliveries are duplicates.
    Settle(Settled),
    /// Deleted (only while this lease still holds it): the next delivery acts.
    Release,
}

impl Settlement {
    pub(crate) fn of(outcome: UserOutcome) -> Self {
        Settled::of(outcome).map_or(Self::Release, Self::Settle)
    }
}

/// One invocation's hold on the keys it claims: a random id that only it knows, and the end
/// of the hold. A holder that crashes blocks nobody past `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: uuid::Uuid,
    pub until: SystemTime,
}

impl Lease {
    /// A new lease that ends `margin` after `deadline` (time to settle after acting).
    pub(crate) fn until(deadline: Instant, margin: Duration) -> Self {
        let left = deadline.saturating_duration_since(Instant::now()) + margin;
        Self {
            id: uuid::Uuid::new_v4(),
            until: SystemTime::now() + left,
        }
    }
}

/// Durable, shared memory of decisions.
pub trait Ledger: Send + Sync {
    /// Claims every key for `lease`, in as few round trips as the store allows, and says for
    /// each (in order) whether it was won, is settled, or is held by another lease.
    fn claim(
        &self,
        keys: &[DecisionKey],
        claimant: Claimant,
        lease: &Lease,
    ) -> impl Future<Output = Result<Vec<Claim>, LedgerError>> + Send;

    /// Settles or releases keys that `lease` won, in as few round trips as the store allows.
    fn settle(
        &self,
        entries: &[(DecisionKey, Settlement)],
        lease: &Lease,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
}

/// The ledger did not answer usefully. Holds a description safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LedgerError(String);

impl LedgerError {
    /// `description` says why, and must hold nothing secret.
    pub fn new(description: impl Into<String>) -> Self {
        Self(description.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_closed_cases_are_kept_and_their_names_round_trip() {
        for outcome in [
            UserOutcome::Revoked,
            UserOutcome::Queued,
            UserOutcome::Protected,
            UserOutcome::UserNotFound,
        ] {
            let kept = Settled::of(outcome).expect("a closed case is kept");
            assert_eq!(kept.as_str(), outcome.as_str());
            assert_eq!(Settled::parse(kept.as_str()), Some(kept));
        }
        for outcome in [
            UserOutcome::DryRun,
            UserOutcome::Denied,
            UserOutcome::Failed,
            UserOutcome::InProgress,
            UserOutcome::Ambiguous,
        ] {
            assert_eq!(Settlement::of(outcome), Settlement::Release, "{outcome:?}");
        }
        assert_eq!(Settled::parse("dry_run"), None);
    }
}
