//! The decider: for an authenticated event, which users to sign out and what happened to
//! each. Runs policy (protected accounts, dry run, the user cap), duplicate detection, the act
//! seam, and the hand-off to the retry queue, with one audit line per user.

use futures_util::{StreamExt, stream};
use tokio::time::Instant;

use super::audit;
use super::dedupe::{Dedupe, DedupeKey};
use super::outcome::{Decision, Outcome, Report, Revocation, UserOutcome, UserResult};
use super::policy::Policy;
use super::seams::{RetryQueue, Revoker};
use crate::domain::{LostDeviceEvent, Owner, Parsed, Source, UserRef};

/// How many users of one event are acted on at the same time.
const CONCURRENT_REVOCATIONS: usize = 8;

/// The part of the inline deadline kept for the SQS send when a queue is configured (an
/// in-region send takes tens of milliseconds).
const ENQUEUE_RESERVE: std::time::Duration = std::time::Duration::from_millis(300);

/// Decides per user, calls the act seam, and queues what could not finish; built once per
/// instance. Without a queue, a transient failure is answered `failed` (503).
#[derive(Debug)]
pub struct Decider<R, Q> {
    policy: Policy,
    dedupe: Dedupe,
    revoker: R,
    queue: Option<Q>,
}

/// How many decisions (event and user) a warm instance remembers (a few hundred KB at most).
const DEDUPE_CAPACITY: usize = 4096;

impl<R: Revoker, Q: RetryQueue> Decider<R, Q> {
    pub(crate) fn new(policy: Policy, revoker: R, queue: Option<Q>) -> Self {
        Self {
            policy,
            dedupe: Dedupe::new(DEDUPE_CAPACITY),
            revoker,
            queue,
        }
    }

    /// Turns a parsed event into per-user outcomes, acting where policy allows; the users of
    /// one event are acted on concurrently and share `deadline`.
    pub(crate) async fn decide(
        &self,
        source: &Source,
        parsed: Parsed,
        deadline: Instant,
    ) -> Report {
        let event = match parsed {
            Parsed::Ignored {
                id,
                event_type,
                reason,
            } => {
                audit::event_skipped(source, id.as_ref(), &event_type, "ignored", &reason);
                return Report {
                    event_id: id,
                    outcome: Outcome::Ignored,
                    results: Vec::new(),
                };
            }
            Parsed::Lost(event) => event,
        };

        // Each (source, event id, user) is decided once: an event id says nothing about whom
        // it names (Jamf's is the webhook's id and a millisecond, shared by two lost-mode
        // completions of one cart of iPads), so a known id naming a new user acts for them.
        let known: Vec<bool> = event
            .owners
            .iter()
            .map(|owner| self.dedupe.contains(&key(&event, &owner.user)))
            .collect();
        if !known.is_empty() && known.iter().all(|&k| k) {
            audit::event_skipped(
                source,
                Some(&event.id),
                &event.event_type,
                "duplicate",
                "event already handled by this instance",
            );
            return Report {
                event_id: Some(event.id),
                outcome: Outcome::Duplicate,
                results: Vec::new(),
            };
        }

        for device in &event.unowned {
            audit::unowned_device(&event, device);
        }
        if event.owners.len() > self.policy.max_users_per_event {
            audit::too_many_users(&event, self.policy.max_users_per_event);
            return Report {
                event_id: Some(event.id),
                outcome: Outcome::TooManyUsers,
                results: Vec::new(),
            };
        }

        // Collected first: a lazy `map` closure inside this future trips the compiler's
        // higher-ranked `Send` check (rust-lang/rust#102211).
        let decisions: Vec<_> = event
            .owners
            .iter()
            .zip(known)
            .map(|(owner, known)| self.decide_user(&event, owner, known, deadline))
            .collect();
        let results: Vec<UserResult> = stream::iter(decisions)
            .buffered(CONCURRENT_REVOCATIONS)
            .collect()
            .await;

        // Only a settled user is remembered: a failed or denied one must be acted on again
        // when the sender retries the event.
        for result in &results {
            if result.outcome.is_settled() {
                self.dedupe.remember(key(&event, &result.user));
            }
        }
        Report::for_users(event.id, results)
    }

    /// One user's decision; `known`: this instance already settled them for this event.
    async fn decide_user(
        &self,
        event: &LostDeviceEvent,
        owner: &Owner,
        known: bool,
        deadline: Instant,
    ) -> UserResult {
        if known {
            audit::user_decision(event, owner, UserOutcome::Duplicate, None, None);
            return UserResult {
                user: owner.user.clone(),
                outcome: UserOutcome::Duplicate,
            };
        }
        // With a queue, the act step stops early enough to leave the send its own time.
        let act_deadline = match &self.queue {
            Some(_) => deadline.checked_sub(ENQUEUE_RESERVE).unwrap_or(deadline),
            None => deadline,
        };
        let decision = self.act(event, &owner.user, act_deadline).await;
        let outcome = match decision {
            Decision::Acted(Revocation::Transient) => self.enqueue(event, owner, deadline).await,
            decision => decision.into(),
        };
        audit::user_decision(event, owner, outcome, decision.receipt(), None);
        UserResult {
            user: owner.user.clone(),
            outcome,
        }
    }

    /// Policy, then the act seam, for one user; neither audits nor queues. The webhook and
    /// the retry function share it, so a job sees the protected list and dry run as they are
    /// when it runs.
    pub(crate) async fn act(
        &self,
        event: &LostDeviceEvent,
        user: &UserRef,
        deadline: Instant,
    ) -> Decision {
        if self.policy.is_protected(user) {
            Decision::Protected
        } else if self.policy.dry_run {
            Decision::DryRun
        } else {
            Decision::Acted(self.revoker.revoke(event, user, deadline).await)
        }
    }

    /// Hands a user whose revocation is still owed to the retry queue by `deadline`: `Queued`,
    /// or `Failed` when there is no queue or the send fails or is late (then 503: the sender
    /// retries; a late send that lands anyway only revokes twice, which is harmless).
    async fn enqueue(
        &self,
        event: &LostDeviceEvent,
        owner: &Owner,
        deadline: Instant,
    ) -> UserOutcome {
        let Some(queue) = &self.queue else {
            return UserOutcome::Failed;
        };
        let sent = tokio::time::timeout_at(deadline, queue.enqueue(event, owner)).await;
        let error = match sent {
            Ok(Ok(())) => return UserOutcome::Queued,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the send did not finish inside the inline deadline".to_owned(),
        };
        tracing::error!(event_id = %event.id, user = %owner.user, error, "revocation neither done nor queued");
        UserOutcome::Failed
    }
}

/// The key a decision about `user` in `event` is remembered under.
fn key(event: &LostDeviceEvent, user: &UserRef) -> DedupeKey {
    (event.source.clone(), event.id.clone(), user.clone())
}

/// The fakes' view, for tests of this module and of the status map.
#[cfg(test)]
impl<R, Q> Decider<R, Q> {
    pub(crate) fn revoker(&self) -> &R {
        &self.revoker
    }

    pub(crate) fn queue(&self) -> Option<&Q> {
        self.queue.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::Outcome;
    use crate::revocation::testing::*;

    #[tokio::test]
    async fn a_transient_failure_is_queued_for_that_user_only() {
        let d = with_queue(
            Policy::default(),
            vec![("flaky@c.com", Revocation::Transient)],
            Some(Queue::default()),
        );
        let r = d
            .decide(&source(), lost("e1", &["a@c.com", "flaky@c.com"]), later())
            .await;
        assert_eq!(r.results[1].outcome, UserOutcome::Queued);
        assert_eq!(r.outcome_str(), "mixed");
        assert_eq!(jobs(&d), vec!["flaky@c.com"]);
        // Queued is settled: the sender's redelivery is a duplicate, not a second job.
        let again = d
            .decide(&source(), lost("e1", &["a@c.com", "flaky@c.com"]), later())
            .await;
        assert_eq!(again.outcome, Outcome::Duplicate);
        assert_eq!(jobs(&d).len(), 1);
    }

    #[tokio::test]
    async fn a_failed_queue_send_is_failed_and_not_remembered_so_the_sender_retries() {
        let broken = Queue::new(true);
        let d = with_queue(
            Policy::default(),
            vec![("flaky@c.com", Revocation::Transient)],
            Some(broken),
        );
        let r = d
            .decide(&source(), lost("e1", &["flaky@c.com"]), later())
            .await;
        assert_eq!(r.outcome_str(), "failed");
        // Not remembered: the sender's retry acts again.
        d.decide(&source(), lost("e1", &["flaky@c.com"]), later())
            .await;
        assert_eq!(calls(&d).len(), 2);
    }

    #[tokio::test]
    async fn permanent_answers_are_never_queued() {
        let d = with_queue(
            Policy::default(),
            vec![
                ("gone@c.com", Revocation::UserNotFound),
                ("denied@c.com", Revocation::Denied),
            ],
            Some(Queue::default()),
        );
        d.decide(
            &source(),
            lost("e1", &["gone@c.com", "denied@c.com"]),
            later(),
        )
        .await;
        assert!(jobs(&d).is_empty());
    }

    #[tokio::test]
    async fn lost_event_revokes_each_owner_once() {
        let d = decider(Policy::default(), vec![]);
        let r = d
            .decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!(r.outcome, Outcome::Uniform(UserOutcome::Revoked));
        assert_eq!(calls(&d), vec!["a@c.com", "b@c.com"]);
    }

    #[tokio::test]
    async fn protected_users_are_refused_case_insensitively_and_never_reach_the_revoker() {
        let policy = Policy {
            protected_users: vec![user("BreakGlass@C.com")],
            ..Policy::default()
        };
        let d = decider(policy, vec![]);
        let r = d
            .decide(
                &source(),
                lost("e1", &["breakglass@c.com", "b@c.com"]),
                later(),
            )
            .await;
        assert_eq!(r.outcome, Outcome::Mixed);
        assert_eq!(r.results[0].outcome, UserOutcome::Protected);
        assert_eq!(r.results[1].outcome, UserOutcome::Revoked);
        assert_eq!(calls(&d), vec!["b@c.com"]);
    }

    #[tokio::test]
    async fn dry_run_decides_without_acting() {
        let policy = Policy {
            dry_run: true,
            ..Policy::default()
        };
        let d = decider(policy, vec![]);
        let r = d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        assert_eq!(r.outcome_str(), "dry_run");
        assert!(calls(&d).is_empty());
    }

    #[tokio::test]
    async fn a_redelivered_event_is_a_duplicate_and_not_acted_on_again() {
        let d = decider(Policy::default(), vec![]);
        d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        let again = d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        assert_eq!(again.outcome, Outcome::Duplicate);
        assert_eq!(calls(&d).len(), 1);
    }

    /// Jamf's event id is the webhook's id and a millisecond: two lost-mode completions from
    /// one cart of iPads can share it. The second names another user, who must be signed out.
    #[tokio::test]
    async fn a_known_event_id_naming_a_new_user_acts_for_that_user() {
        let d = decider(Policy::default(), vec![]);
        let erin = d
            .decide(&source(), lost("4-1795000000500", &["erin@c.com"]), later())
            .await;
        let frank = d
            .decide(
                &source(),
                lost("4-1795000000500", &["frank@c.com"]),
                later(),
            )
            .await;

        assert_eq!(erin.outcome_str(), "revoked");
        assert_eq!(frank.outcome_str(), "revoked");
        assert_eq!(calls(&d), vec!["erin@c.com", "frank@c.com"]);
    }

    #[tokio::test]
    async fn a_redelivery_acts_again_only_for_the_users_it_did_not_settle() {
        let d = decider(Policy::default(), vec![("b@c.com", Revocation::Denied)]);
        d.decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;

        let again = d
            .decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;

        assert_eq!(again.results[0].outcome, UserOutcome::Duplicate);
        assert_eq!(again.results[1].outcome, UserOutcome::Denied);
        assert_eq!(calls(&d), vec!["a@c.com", "b@c.com", "b@c.com"]);
    }

    #[tokio::test]
    async fn a_failed_event_is_not_remembered_so_the_senders_retry_acts_again() {
        let d = decider(Policy::default(), vec![("a@c.com", Revocation::Transient)]);
        let first = d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        assert_eq!(first.outcome_str(), "failed");
        let retry = d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        assert_eq!(retry.outcome_str(), "failed");
        assert_eq!(calls(&d).len(), 2);
    }

    #[tokio::test]
    async fn a_denied_event_is_acted_on_again_when_redelivered() {
        let d = decider(Policy::default(), vec![("a@c.com", Revocation::Denied)]);
        d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        let retry = d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        assert_eq!(retry.outcome_str(), "denied");
        assert_eq!(calls(&d).len(), 2);
    }

    #[tokio::test]
    async fn an_event_over_the_user_cap_is_refused_whole() {
        let policy = Policy {
            max_users_per_event: 2,
            ..Policy::default()
        };
        let d = decider(policy, vec![]);
        let r = d
            .decide(
                &source(),
                lost("e1", &["a@c.com", "b@c.com", "c@c.com"]),
                later(),
            )
            .await;
        assert_eq!(r.outcome_str(), "too_many_users");
        assert!(calls(&d).is_empty());
        let ok = d
            .decide(&source(), lost("e2", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!(ok.outcome_str(), "revoked");
    }

    #[tokio::test]
    async fn a_loss_naming_nobody_is_no_user() {
        let d = decider(Policy::default(), vec![]);
        let r = d.decide(&source(), lost("e1", &[]), later()).await;
        assert_eq!(r.outcome_str(), "no_user");
    }

    #[tokio::test]
    async fn ignored_events_act_on_nobody() {
        let d = decider(Policy::default(), vec![]);
        let parsed = Parsed::Ignored {
            id: None,
            event_type: "device.enrolled".into(),
            reason: "not a loss".into(),
        };
        let r = d.decide(&source(), parsed, later()).await;
        assert_eq!(r.outcome_str(), "ignored");
        assert!(calls(&d).is_empty());
    }
}
