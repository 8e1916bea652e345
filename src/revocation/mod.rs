//! Decide and act: for an authenticated event, which users to sign out and what happened to
//! each. Policy (protected accounts, dry run, the user cap), duplicate detection, the audit
//! trail and the hand-off to the retry queue live here. The act itself and the queue are the
//! traits in `seams` ([`Revoker`], [`RetryQueue`]), implemented by the adapters in
//! `microsoft/` and `retry/`; the shared memory of decisions is [`Ledger`], implemented in
//! `aws/`. Nothing here knows about tokens, HTTP, SQS or DynamoDB.

pub(crate) mod audit;
mod containment;
mod decider;
mod dedupe;
mod ledger;
mod notice;
mod outcome;
mod policy;
mod protection;
mod seams;
#[cfg(test)]
pub(crate) mod testing;

pub use containment::Containment;
pub use decider::{Decider, JobDecision};
pub use ledger::{Claim, Claimant, DecisionKey, Lease, Ledger, LedgerError, Settled, Settlement};
pub use notice::Notice;
pub use outcome::{Decision, GraphReceipt, Outcome, Report, Revocation, UserOutcome, UserResult};
pub use policy::Policy;
pub use protection::{IDENTITY_TTL, MEMBERSHIP_TTL};
pub use seams::{
    Directory, Lookup, Notifier, NotifyError, QueueError, RetryQueue, Revoker, Unchecked,
};
