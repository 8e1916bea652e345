//! The decider: for an authenticated event, which users to sign out and what happened to
//! each. Runs policy (protected accounts, dry run, the user cap), duplicate detection (this
//! instance's memory, then the shared ledger when one is configured), the act seam, and the
//! hand-off to the retry queue, with one audit line per user.

use std::slice;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, stream};
use tokio::time::Instant;

use super::audit;
use super::containment::contain_devices;
use super::dedupe::Dedupe;
use super::ledger::{Claim, Claimant, DecisionKey, Lease, Ledger, Settled, Settlement};
use super::notice;
use super::outcome::{
    Decision, GraphReceipt, Outcome, Report, Revocation, UserOutcome, UserResult,
};
use super::policy::Policy;
use super::protection::{Check, Protection};
use super::seams::{Notifier, RetryQueue, Revoker};
use crate::domain::{LostDeviceEvent, Owner, Parsed, Source, UserRef};

/// How many users of one event are acted on at the same time.
const CONCURRENT_REVOCATIONS: usize = 8;

/// The part of the inline deadline kept for the SQS send when a queue is configured (an
/// in-region send takes tens of milliseconds).
const ENQUEUE_RESERVE: Duration = Duration::from_millis(300);

/// The longest the ledger may take to claim or to settle one user (an in-region DynamoDB write
/// takes about 10 ms), and the time each further user of the event adds (a transaction of
/// 100 items takes longer than one write). Past it the decider goes on without the ledger:
/// revoking twice is harmless, not revoking is not.
const LEDGER_BOUND: Duration = Duration::from_millis(300);
const LEDGER_BOUND_PER_USER: Duration = Duration::from_millis(3);

/// The longest a notification may take to publish (an in-region SNS publish takes tens of
/// milliseconds), and how far past the invocation's deadline it may run: the webhook's answer
/// waits for it, and a sender such as Jamf Pro waits 2 s, 500 ms more than the default
/// `INLINE_DEADLINE_MS`. Past either, the answer goes out without it.
const NOTIFY_BOUND: Duration = Duration::from_millis(500);
const NOTIFY_GRACE: Duration = Duration::from_millis(250);

/// How many notices a warm instance remembers, so that the same notice is not sent again
/// when the same event is decided the same way again (a sender's retry of a refused user,
/// an Intune record held over several runs).
const NOTIFIED_CAPACITY: usize = 4096;

/// How long a claim or settle of `keys` users may take.
fn ledger_bound(keys: usize) -> Duration {
    let more = u32::try_from(keys.saturating_sub(1)).unwrap_or(u32::MAX);
    LEDGER_BOUND.saturating_add(LEDGER_BOUND_PER_USER.saturating_mul(more))
}

/// Decides per user, calls the act seam, and queues what could not finish; built once per
/// instance. Without a queue, a transient failure is answered `failed` (503). Without a
/// ledger, duplicates are caught only within this instance.
#[derive(Debug)]
pub struct Decider<R, Q, L> {
    policy: Policy,
    protection: Protection,
    dedupe: Dedupe,
    revoker: R,
    queue: Option<Q>,
    ledger: Option<L>,
    notifier: Option<Arc<dyn Notifier>>,
    /// Fingerprints of the notices this instance sent.
    notified: std::sync::Mutex<std::collections::HashSet<u64>>,
}

/// How many decisions (event and user) a warm instance remembers (a few hundred KB at most).
const DEDUPE_CAPACITY: usize = 4096;

/// What the retry function's decider made of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobDecision {
    /// Policy and the act seam ran.
    Acted(Decision),
    /// The ledger says a copy of this job already closed the user's case.
    Settled(Settled),
}

impl<R: Revoker, Q: RetryQueue, L: Ledger> Decider<R, Q, L> {
    pub(crate) fn new(policy: Policy, revoker: R, queue: Option<Q>, ledger: Option<L>) -> Self {
        Self {
            protection: Protection::new(
                policy.protected_users.clone(),
                policy.protected_groups.clone(),
            ),
            policy,
            dedupe: Dedupe::new(DEDUPE_CAPACITY),
            revoker,
            queue,
            ledger,
            notifier: None,
            notified: std::sync::Mutex::default(),
        }
    }

    /// Sends a notification for each event that decided anything (README, "Notifications").
    pub(crate) fn with_notifier(mut self, notifier: Option<Arc<dyn Notifier>>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Publishes the notice for `report`, if it decided anything and this instance has not
    /// sent the same notice for the event before, within [`NOTIFY_BOUND`] and at most
    /// [`NOTIFY_GRACE`] past `deadline`. A failure is logged (the `NotificationsFailed`
    /// metric) and changes nothing else; a publish cut short may still have been delivered.
    pub(crate) async fn notify(&self, event: &LostDeviceEvent, report: &Report, deadline: Instant) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let Some(notice) = notice::compose(event, report) else {
            return;
        };
        if !self.first_time(event, &notice) {
            tracing::debug!(event_id = %event.id, "the same notice was sent before");
            return;
        }
        let end = (Instant::now() + NOTIFY_BOUND).min(deadline + NOTIFY_GRACE);
        let published = tokio::time::timeout_at(end, notifier.publish(&notice)).await;
        let error = match published {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer in time".to_owned(),
        };
        tracing::warn!(event_id = %event.id, error, "notification not sent");
    }

    /// Remembers `notice` for `event`; false when it was remembered already.
    fn first_time(&self, event: &LostDeviceEvent, notice: &notice::Notice) -> bool {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (
            event.source.as_str(),
            event.id.as_str(),
            &notice.subject,
            &notice.body,
        )
            .hash(&mut hasher);
        let mut notified = self.notified.lock().unwrap_or_else(|e| e.into_inner());
        if notified.len() >= NOTIFIED_CAPACITY {
            notified.clear();
        }
        notified.insert(hasher.finish())
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
        // `prior`: what is already known of each user, so nothing is done for them now.
        let mut prior: Vec<Option<UserOutcome>> = event
            .owners
            .iter()
            .map(|owner| {
                self.dedupe
                    .contains(&key(&event, &owner.user))
                    .then_some(UserOutcome::Duplicate)
            })
            .collect();
        if all_duplicates(&prior) {
            return duplicate(event);
        }

        for device in &event.unowned {
            audit::unowned_device(&event, device);
        }
        if event.owners.len() > self.policy.max_users_per_event {
            audit::too_many_users(&event, self.policy.max_users_per_event);
            let report = Report {
                event_id: Some(event.id.clone()),
                outcome: Outcome::TooManyUsers,
                results: Vec::new(),
            };
            self.notify(&event, &report, deadline).await;
            return report;
        }

        // The users this instance does not know are claimed in the ledger, all at once
        // (without a ledger, nothing is gathered for it).
        let fresh: Vec<usize> = match self.ledger {
            Some(_) => (0..prior.len()).filter(|&i| prior[i].is_none()).collect(),
            None => Vec::new(),
        };
        let keys: Vec<DecisionKey> = fresh
            .iter()
            .map(|&i| key(&event, &event.owners[i].user))
            .collect();
        let claimed = self.claim(&event, &keys, Claimant::Sender, deadline).await;
        if let Some((claims, _)) = &claimed {
            for ((&i, key), claim) in fresh.iter().zip(&keys).zip(claims) {
                prior[i] = match claim {
                    Claim::Won => None,
                    Claim::Settled(_) => {
                        self.dedupe.remember(key.clone());
                        Some(UserOutcome::Duplicate)
                    }
                    Claim::Held => Some(UserOutcome::InProgress),
                };
            }
            if all_duplicates(&prior) {
                return duplicate(event);
            }
        }

        // Collected first: a lazy `map` closure inside this future trips the compiler's
        // higher-ranked `Send` check (rust-lang/rust#102211).
        let decisions: Vec<_> = event
            .owners
            .iter()
            .zip(&prior)
            .map(|(owner, prior)| self.decide_user(&event, owner, *prior, deadline))
            .collect();
        let results: Vec<UserResult> = stream::iter(decisions)
            .buffered(CONCURRENT_REVOCATIONS)
            .collect()
            .await;

        // The claims won are settled or released in one write; the ones not won are not
        // this invocation's to touch.
        if let Some((claims, lease)) = &claimed {
            let entries: Vec<(DecisionKey, Settlement)> = fresh
                .iter()
                .zip(keys)
                .zip(claims)
                .filter(|(_, claim)| **claim == Claim::Won)
                .map(|((&i, key), _)| (key, Settlement::of(results[i].outcome)))
                .collect();
            self.settle(&event, &entries, lease).await;
        }

        // Only a settled user is remembered: a failed or denied one must be acted on again
        // when the sender retries the event.
        for result in &results {
            if result.outcome.is_settled() {
                self.dedupe.remember(key(&event, &result.user));
            }
        }
        let report = Report::for_users(event.id.clone(), results);
        self.notify(&event, &report, deadline).await;
        report
    }

    /// Whether this instance remembers every user of `event` as decided: deciding it again
    /// answers `duplicate` without asking anyone.
    pub(crate) fn knows(&self, event: &LostDeviceEvent) -> bool {
        !event.owners.is_empty()
            && event
                .owners
                .iter()
                .all(|owner| self.dedupe.contains(&key(event, &owner.user)))
    }

    /// One user's decision; `prior`: what is already known of them (a duplicate, or a claim
    /// held elsewhere), so nothing is done now.
    async fn decide_user(
        &self,
        event: &LostDeviceEvent,
        owner: &Owner,
        prior: Option<UserOutcome>,
        deadline: Instant,
    ) -> UserResult {
        if let Some(outcome) = prior {
            audit::user_decision(event, owner, outcome, None, None);
            return UserResult {
                user: owner.user.clone(),
                outcome,
                receipt: None,
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
        contain_devices(&self.policy, &self.revoker, event, owner, outcome, deadline).await;
        UserResult {
            user: owner.user.clone(),
            outcome,
            receipt: decision.receipt(),
        }
    }

    /// One retry job: the ledger's claim (a job continues the webhook's: it may take over the
    /// `queued` record the webhook left, and a claim in progress), then policy and the act
    /// seam, then the record. A job still owed releases the claim: the queue holds the job,
    /// and should it end in the DLQ, a sender's redelivery must act, not find `queued`. Only
    /// a settled record stops a job.
    pub(crate) async fn decide_job(
        &self,
        event: &LostDeviceEvent,
        owner: &Owner,
        deadline: Instant,
    ) -> JobDecision {
        let key = key(event, &owner.user);
        let claimed = self
            .claim(event, slice::from_ref(&key), Claimant::RetryJob, deadline)
            .await;
        let won = match claimed.as_ref().map(|(claims, _)| claims.as_slice()) {
            Some([Claim::Settled(settled)]) => return JobDecision::Settled(*settled),
            Some([Claim::Won]) => claimed.as_ref().map(|(_, lease)| lease),
            _ => None,
        };
        let decision = self.act(event, &owner.user, deadline).await;
        if let Some(lease) = won {
            let settlement = Settlement::of(decision.into());
            self.settle(event, &[(key, settlement)], lease).await;
        }
        JobDecision::Acted(decision)
    }

    /// Policy, then the act seam, for one user; neither audits nor queues. The webhook and
    /// the retry function share it, so a job sees the protected list and dry run as they are
    /// when it runs. With protection configured, the user is resolved and checked first and
    /// signed out by the object id checked; what cannot be checked is owed, never revoked
    /// unchecked. A dry run reaches neither Entra nor Graph, so it matches the protected
    /// list only as the event names the user.
    pub(crate) async fn act(
        &self,
        event: &LostDeviceEvent,
        user: &UserRef,
        deadline: Instant,
    ) -> Decision {
        if self.protection.lists(user) {
            return Decision::Protected;
        }
        if self.policy.dry_run {
            return Decision::DryRun;
        }
        if !self.protection.is_configured() {
            return Decision::Acted(self.revoker.revoke(event, user, deadline).await);
        }
        match self.protection.check(&self.revoker, user, deadline).await {
            Check::Clear(identity) => {
                let object_id = uuid::Uuid::try_parse(identity.id.as_str()).ok();
                let target = UserRef::Id(identity.id);
                match self.revoker.revoke(event, &target, deadline).await {
                    Revocation::Revoked(receipt) => {
                        Decision::Acted(Revocation::Revoked(GraphReceipt {
                            object_id,
                            ..receipt
                        }))
                    }
                    other => Decision::Acted(other),
                }
            }
            Check::Protected => Decision::Protected,
            Check::NotFound => Decision::Acted(Revocation::UserNotFound),
            Check::Ambiguous => Decision::Ambiguous,
            Check::Unchecked(why) => Decision::Acted(why.into()),
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

    /// The ledger's answer for each key, under a lease that ends when the act and the
    /// settle must be over; `None` (act on every one) when there is no ledger or it fails or
    /// is slow: it may be passed by, never waited on.
    async fn claim(
        &self,
        event: &LostDeviceEvent,
        keys: &[DecisionKey],
        claimant: Claimant,
        deadline: Instant,
    ) -> Option<(Vec<Claim>, Lease)> {
        let ledger = self.ledger.as_ref()?;
        let bound = ledger_bound(keys.len());
        let lease = Lease::until(deadline, bound);
        if keys.is_empty() {
            return Some((Vec::new(), lease));
        }
        let answer = tokio::time::timeout(bound, ledger.claim(keys, claimant, &lease)).await;
        match answer {
            Ok(Ok(claims)) if claims.len() == keys.len() => Some((claims, lease)),
            Ok(Ok(_)) => unavailable(event, "claim", "answered for other keys than asked"),
            Ok(Err(e)) => unavailable(event, "claim", &e.to_string()),
            Err(_) => unavailable(event, "claim", "no answer in time"),
        }
    }

    /// Records what became of the claims this invocation won; a failure only costs the
    /// next delivery a second act, so it is logged and passed by.
    async fn settle(
        &self,
        event: &LostDeviceEvent,
        entries: &[(DecisionKey, Settlement)],
        lease: &Lease,
    ) {
        let Some(ledger) = &self.ledger else { return };
        if entries.is_empty() {
            return;
        }
        let bound = ledger_bound(entries.len());
        let answer = tokio::time::timeout(bound, ledger.settle(entries, lease)).await;
        let error = match answer {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer in time".to_owned(),
        };
        unavailable::<()>(event, "settle", &error);
    }
}

/// The one line (and metric, `LedgerUnavailable`) for a ledger that was passed by.
fn unavailable<T>(event: &LostDeviceEvent, operation: &str, error: &str) -> Option<T> {
    tracing::warn!(
        event_id = %event.id,
        operation,
        error,
        "ledger unavailable"
    );
    None
}

/// Whether every user of the event is already settled (and there is at least one).
fn all_duplicates(prior: &[Option<UserOutcome>]) -> bool {
    !prior.is_empty() && prior.iter().all(|p| *p == Some(UserOutcome::Duplicate))
}

/// The answer to an event whose every user is settled: nothing was done.
fn duplicate(event: LostDeviceEvent) -> Report {
    audit::event_skipped(
        &event.source,
        Some(&event.id),
        &event.event_type,
        "duplicate",
        "event already handled",
    );
    Report {
        event_id: Some(event.id),
        outcome: Outcome::Duplicate,
        results: Vec::new(),
    }
}

/// The key a decision about `user` in `event` is remembered under.
fn key(event: &LostDeviceEvent, user: &UserRef) -> DecisionKey {
    (event.source.clone(), event.id.clone(), user.clone())
}

impl<R, Q, L> Decider<R, Q, L> {
    /// The act step: the Intune poller reads through the same Graph client.
    pub(crate) fn revoker(&self) -> &R {
        &self.revoker
    }
}

/// The fakes' view, for tests of this module and of the status map.
#[cfg(test)]
impl<R, Q, L> Decider<R, Q, L> {
    pub(crate) fn queue(&self) -> Option<&Q> {
        self.queue.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Identity, ObjectId, Parsed};
    use crate::revocation::testing::*;
    use crate::revocation::{Lookup, Outcome, Unchecked};

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

    const BREAK_GLASS_ID: &str = "0b0b0b0b-1111-4222-8333-444455556666";

    fn break_glass() -> Identity {
        Identity {
            id: ObjectId::parse(BREAK_GLASS_ID).unwrap(),
            user_principal_name: "breakglass@c.com".into(),
            mail: None,
        }
    }

    fn protecting(users: &[&str], groups: &[&str]) -> Policy {
        Policy {
            protected_users: users.iter().map(|u| user(u)).collect(),
            protected_groups: groups.iter().map(|g| ObjectId::parse(g).unwrap()).collect(),
            ..Policy::default()
        }
    }

    #[tokio::test]
    async fn a_user_listed_by_object_id_is_protected_when_the_event_names_the_upn() {
        let revoker = Recording {
            directory: vec![("breakglass@c.com", Lookup::Found(break_glass()))],
            ..Recording::default()
        };
        let d = with_revoker(protecting(&[BREAK_GLASS_ID], &[]), revoker);

        let r = d
            .decide(&source(), lost("e1", &["breakglass@c.com"]), later())
            .await;

        assert_eq!(r.results[0].outcome, UserOutcome::Protected);
        assert!(calls(&d).is_empty());
    }

    #[tokio::test]
    async fn a_user_listed_by_upn_is_protected_when_the_event_names_the_object_id() {
        let revoker = Recording {
            directory: vec![(BREAK_GLASS_ID, Lookup::Found(break_glass()))],
            ..Recording::default()
        };
        let d = with_revoker(protecting(&["BreakGlass@C.com"], &[]), revoker);

        let r = d
            .decide(&source(), lost("e1", &[BREAK_GLASS_ID]), later())
            .await;

        assert_eq!(r.results[0].outcome, UserOutcome::Protected);
        assert!(calls(&d).is_empty());
    }

    #[tokio::test]
    async fn a_protected_groups_member_is_protected_and_others_are_revoked_by_object_id() {
        const GROUP: &str = "9a9a9a9a-0000-4000-8000-000000000001";
        let member = derived_id("admin@c.com");
        let revoker = Recording {
            members: vec![member.as_str().to_owned()],
            ..Recording::default()
        };
        let d = with_revoker(protecting(&[], &[GROUP]), revoker);

        let r = d
            .decide(&source(), lost("e1", &["admin@c.com", "b@c.com"]), later())
            .await;

        assert_eq!(r.results[0].outcome, UserOutcome::Protected);
        assert_eq!(r.results[1].outcome, UserOutcome::Revoked);
        assert_eq!(
            calls(&d),
            vec!["b@c.com"],
            "by the id resolved from b@c.com"
        );
        let b = derived_id("b@c.com");
        assert!(reads(&d).contains(&format!("groups {}", b.as_str())));
    }

    #[tokio::test]
    async fn a_lookup_or_membership_check_that_fails_is_owed_and_never_revoked_unchecked() {
        for (revoker, expected) in [
            (
                Recording {
                    directory: vec![("a@c.com", Lookup::Unchecked(Unchecked::Transient))],
                    ..Recording::default()
                },
                UserOutcome::Failed,
            ),
            (
                Recording {
                    membership_fails: Some(Unchecked::Transient),
                    ..Recording::default()
                },
                UserOutcome::Failed,
            ),
            (
                Recording {
                    membership_fails: Some(Unchecked::Denied),
                    ..Recording::default()
                },
                UserOutcome::Denied,
            ),
        ] {
            let d = with_revoker(
                protecting(&[], &["9a9a9a9a-0000-4000-8000-000000000001"]),
                revoker,
            );
            let r = d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
            assert_eq!(r.results[0].outcome, expected);
            assert!(calls(&d).is_empty());
        }
    }

    #[tokio::test]
    async fn an_unknown_user_costs_no_revoke_and_an_ambiguous_mail_is_refused() {
        let revoker = Recording {
            directory: vec![
                ("gone@c.com", Lookup::NotFound),
                ("shared@c.com", Lookup::Ambiguous),
            ],
            ..Recording::default()
        };
        let d = with_revoker(protecting(&["x@c.com"], &[]), revoker);

        let r = d
            .decide(
                &source(),
                lost("e1", &["gone@c.com", "shared@c.com"]),
                later(),
            )
            .await;

        assert_eq!(r.results[0].outcome, UserOutcome::UserNotFound);
        assert_eq!(r.results[1].outcome, UserOutcome::Ambiguous);
        assert!(calls(&d).is_empty());
    }

    #[tokio::test]
    async fn a_resolved_identity_and_membership_are_reused_within_the_instance() {
        let revoker = Recording::default();
        let d = with_revoker(
            protecting(&[], &["9a9a9a9a-0000-4000-8000-000000000001"]),
            revoker,
        );

        d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        d.decide(&source(), lost("e2", &["a@c.com"]), later()).await;

        assert_eq!(reads(&d).len(), 2, "{:?}", reads(&d));
        assert_eq!(calls(&d).len(), 2);
    }

    /// A lost Windows laptop of each user, with its Entra device id.
    fn lost_laptops(users: &[&str]) -> Parsed {
        let Parsed::Lost(mut event) = lost("e1", users) else {
            unreachable!()
        };
        for (i, owner) in event.owners.iter_mut().enumerate() {
            owner.devices[0].entra_device_id =
                Some(ObjectId::parse(&format!("dddddddd-0000-4000-8000-{i:012}")).unwrap());
            owner.devices[0].operating_system = Some("Windows".into());
        }
        Parsed::Lost(event)
    }

    #[tokio::test]
    async fn a_device_is_disabled_only_once_its_owners_protection_was_checked() {
        let policy = Policy {
            disable_lost_devices: true,
            ..protecting(&[], &["9a9a9a9a-0000-4000-8000-000000000001"])
        };
        let checked = with_revoker(policy.clone(), Recording::default());
        let unchecked = with_revoker(
            policy,
            Recording {
                membership_fails: Some(Unchecked::Transient),
                ..Recording::default()
            },
        );

        checked
            .decide(&source(), lost_laptops(&["a@c.com"]), later())
            .await;
        let r = unchecked
            .decide(&source(), lost_laptops(&["a@c.com"]), later())
            .await;

        assert_eq!(checked.revoker().disabled.lock().unwrap().len(), 1);
        assert_eq!(r.results[0].outcome, UserOutcome::Failed);
        assert!(
            unchecked.revoker().disabled.lock().unwrap().is_empty(),
            "a possibly protected owner's device is left alone"
        );
    }

    #[tokio::test]
    async fn the_same_notice_for_the_same_event_is_sent_once_per_instance() {
        let notices = std::sync::Arc::new(Notices::default());
        let d = decider(
            Policy::default(),
            vec![("flaky@c.com", Revocation::Transient)],
        )
        .with_notifier(Some(notices.clone()));

        for _ in 0..3 {
            d.decide(&source(), lost("e1", &["flaky@c.com"]), later())
                .await;
        }
        d.decide(&source(), lost("e2", &["flaky@c.com"]), later())
            .await;

        assert_eq!(
            *notices.subjects.lock().unwrap(),
            [
                "[ACTION NEEDED] standard lost: flaky@c.com failed",
                "[ACTION NEEDED] standard lost: flaky@c.com failed"
            ],
            "one for e1 however often it fails alike, one for e2"
        );
    }

    #[tokio::test]
    async fn without_protection_nothing_is_looked_up() {
        let d = decider(Policy::default(), vec![]);
        d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        assert!(reads(&d).is_empty());
        assert_eq!(calls(&d), vec!["a@c.com"]);
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

    /// Two deciders on one ledger stand for two instances sharing the table.
    fn instances<'l>(
        ledger: &'l MemoryLedger,
        answers: Vec<(&'static str, Revocation)>,
    ) -> (TestDecider<'l>, TestDecider<'l>) {
        (
            with_ledger(Policy::default(), answers.clone(), None, Some(ledger)),
            with_ledger(Policy::default(), answers, None, Some(ledger)),
        )
    }

    fn ledger_key(id: &str, who: &str) -> DecisionKey {
        (
            source(),
            crate::domain::EventId::parse(id).unwrap(),
            user(who),
        )
    }

    #[tokio::test]
    async fn with_a_ledger_an_event_delivered_to_two_instances_acts_once_per_user() {
        let ledger = MemoryLedger::default();
        let (a, b) = instances(&ledger, vec![]);
        let first = a
            .decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;
        let second = b
            .decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!(first.outcome_str(), "revoked");
        assert_eq!(second.outcome, Outcome::Duplicate);
        assert_eq!(calls(&a), vec!["a@c.com", "b@c.com"]);
        assert!(calls(&b).is_empty());
        // One claim and one settle for the first event's two users; one claim for the second.
        let count =
            |c: &std::sync::atomic::AtomicUsize| c.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!((count(&ledger.claims), count(&ledger.settles)), (2, 1));
        // The second instance now knows it too: a third delivery costs no ledger call.
        b.decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!(count(&ledger.claims), 2);
    }

    #[tokio::test]
    async fn with_a_ledger_a_known_event_naming_a_new_user_acts_only_for_that_user() {
        let ledger = MemoryLedger::default();
        let (a, b) = instances(&ledger, vec![]);
        a.decide(&source(), lost("4-1795000000500", &["erin@c.com"]), later())
            .await;
        let again = b
            .decide(
                &source(),
                lost("4-1795000000500", &["erin@c.com", "frank@c.com"]),
                later(),
            )
            .await;
        assert_eq!(again.results[0].outcome, UserOutcome::Duplicate);
        assert_eq!(again.results[1].outcome, UserOutcome::Revoked);
        assert_eq!(calls(&b), vec!["frank@c.com"]);
    }

    #[tokio::test]
    async fn a_user_claimed_by_another_invocation_is_in_progress_until_its_lease_ends() {
        let ledger = MemoryLedger::default();
        let d = with_ledger(Policy::default(), vec![], None, Some(&ledger));
        let held = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        ledger.hold(ledger_key("e1", "a@c.com"), held);
        let r = d
            .decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!(r.results[0].outcome, UserOutcome::InProgress);
        assert_eq!(r.results[1].outcome, UserOutcome::Revoked);
        assert_eq!(calls(&d), vec!["b@c.com"]);

        // A crashed holder's lease ends: the next delivery acts.
        let ended = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
        ledger.hold(ledger_key("e2", "a@c.com"), ended);
        let r = d.decide(&source(), lost("e2", &["a@c.com"]), later()).await;
        assert_eq!(r.outcome_str(), "revoked");
    }

    #[tokio::test]
    async fn a_ledger_that_is_down_is_passed_by_and_the_user_is_still_revoked() {
        let ledger = MemoryLedger::default();
        ledger.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let d = with_ledger(Policy::default(), vec![], None, Some(&ledger));
        let r = d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        assert_eq!(r.outcome_str(), "revoked");
        assert_eq!(calls(&d), vec!["a@c.com"]);
    }

    #[tokio::test]
    async fn failed_denied_and_dry_run_decisions_release_their_claim() {
        let ledger = MemoryLedger::default();
        let answers = vec![
            ("flaky@c.com", Revocation::Transient),
            ("denied@c.com", Revocation::Denied),
        ];
        let (a, b) = instances(&ledger, answers);
        let users = ["flaky@c.com", "denied@c.com"];
        a.decide(&source(), lost("e1", &users), later()).await;
        b.decide(&source(), lost("e1", &users), later()).await;
        assert_eq!(calls(&b), users);

        let dry = with_ledger(
            Policy {
                dry_run: true,
                ..Policy::default()
            },
            vec![],
            None,
            Some(&ledger),
        );
        let r = dry
            .decide(&source(), lost("e2", &["a@c.com"]), later())
            .await;
        assert_eq!(r.outcome_str(), "dry_run");
        let live = a.decide(&source(), lost("e2", &["a@c.com"]), later()).await;
        assert_eq!(live.outcome_str(), "revoked");
        assert_eq!(
            ledger.settled(&ledger_key("e2", "a@c.com")),
            Some(Settled::Revoked)
        );
    }

    #[tokio::test]
    async fn a_retry_job_takes_over_the_queued_record_and_settles_or_releases_it() {
        let ledger = MemoryLedger::default();
        let webhook = with_ledger(
            Policy::default(),
            vec![("a@c.com", Revocation::Transient)],
            Some(Queue::default()),
            Some(&ledger),
        );
        let r = webhook
            .decide(&source(), lost("e1", &["a@c.com"]), later())
            .await;
        assert_eq!(r.outcome_str(), "queued");
        let key = ledger_key("e1", "a@c.com");
        assert_eq!(ledger.settled(&key), Some(Settled::Queued));

        let Parsed::Lost(event) = lost("e1", &["a@c.com"]) else {
            unreachable!()
        };
        let owner = &event.owners[0];
        let flaky = with_ledger(
            Policy::default(),
            vec![("a@c.com", Revocation::Transient)],
            None,
            Some(&ledger),
        );
        let owed = flaky.decide_job(&event, owner, later()).await;
        assert_eq!(
            owed,
            JobDecision::Acted(Decision::Acted(Revocation::Transient))
        );
        assert_eq!(
            ledger.settled(&key),
            None,
            "still owed: released, the queue holds it"
        );

        let retry = with_ledger(Policy::default(), vec![], None, Some(&ledger));
        let done = retry.decide_job(&event, owner, later()).await;
        assert!(matches!(
            done,
            JobDecision::Acted(Decision::Acted(Revocation::Revoked(_)))
        ));
        assert_eq!(ledger.settled(&key), Some(Settled::Revoked));
        // A second copy of the job finds the case closed.
        let copy = retry.decide_job(&event, owner, later()).await;
        assert_eq!(copy, JobDecision::Settled(Settled::Revoked));
        assert_eq!(calls(&retry).len(), 1);
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
