//! Decide and act: for an authenticated event, which users to sign out and what happened to
//! each. Policy (protected accounts, dry run, the user cap), duplicate detection, the audit
//! trail and the hand-off to the retry queue live here. The act itself and the queue are the
//! traits in `seams` ([`Revoker`], [`RetryQueue`]), implemented by the adapters in `microsoft/` and `retry/`; nothing here
//! knows about tokens, HTTP or SQS.

pub(crate) mod audit;
mod decider;
mod dedupe;
mod outcome;
mod policy;
mod seams;
#[cfg(test)]
pub(crate) mod testing;

pub use decider::Decider;
pub use outcome::{Decision, GraphReceipt, Outcome, Report, Revocation, UserOutcome, UserResult};
pub use policy::Policy;
pub use seams::{QueueError, RetryQueue, Revoker};
