//! Decide and act: for an authenticated event, which users to sign out and what happened to
//! each. Policy (protected accounts, dry run), duplicate detection and the hand-off to the
//! retry queue live here; the act itself is the [`Revoker`] seam and the queue the
//! [`RetryQueue`] seam, so this module never knows about tokens, HTTP or SQS.

pub mod audit;

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::Mutex;

use futures_util::{StreamExt, stream};
use lambda_http::http::StatusCode;
use tokio::time::Instant;

use crate::domain::{EventId, LostDeviceEvent, Owner, Parsed, Source, UserRef};
use crate::retry::queue::{RetryJob, RetryQueue, SqsQueue};

/// Microsoft's ids for the Graph call that signed a user out, for the audit line: what a
/// support case asks for, and what ties the line to Entra's own audit log. Both are GUIDs;
/// a `request-id` that is not one is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GraphReceipt {
    pub request_id: Option<uuid::Uuid>,
    pub client_request_id: Option<uuid::Uuid>,
}

/// What the act step reports for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Entra accepted the revocation, in the call the receipt names.
    Revoked(GraphReceipt),
    /// Entra has no such user.
    UserNotFound,
    /// Graph answered 403: the app lacks the permission or admin consent.
    Denied,
    /// The function cannot act as deployed: Entra rejects the app's credentials, the secret
    /// cannot be read, or Graph refused the call for another reason. Still owed: once the
    /// setup is fixed, a retry succeeds.
    Misconfigured,
    /// Nothing definite happened (timeouts, throttling, outages): the work is still owed.
    Transient,
}

/// What policy and the act seam made of one user, before any queueing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Protected,
    DryRun,
    Acted(Revocation),
}

impl Decision {
    /// The Graph call's ids, when the user was revoked.
    pub fn receipt(self) -> Option<GraphReceipt> {
        match self {
            Self::Acted(Revocation::Revoked(receipt)) => Some(receipt),
            _ => None,
        }
    }

    /// Whether the revocation is still owed: the retry function hands such a job back to SQS
    /// (and so, after the last attempt, to the DLQ and its alarm) instead of deleting it.
    pub fn is_owed(self) -> bool {
        matches!(
            self,
            Self::Acted(Revocation::Transient | Revocation::Misconfigured)
        )
    }
}

/// Signs one user out everywhere, giving up with `Transient` at `deadline`. The production
/// implementation calls Microsoft Graph; tests substitute a recording fake.
pub trait Revoker: Send + Sync {
    fn revoke(
        &self,
        event: &LostDeviceEvent,
        user: &UserRef,
        deadline: Instant,
    ) -> impl Future<Output = Revocation> + Send;
}

/// The outcome for one user, as reported in the response and the audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOutcome {
    Revoked,
    DryRun,
    Protected,
    UserNotFound,
    Queued,
    Denied,
    Failed,
}

impl UserOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::DryRun => "dry_run",
            Self::Protected => "protected",
            Self::UserNotFound => "user_not_found",
            Self::Queued => "queued",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }

    /// The HTTP status this outcome alone would give (DESIGN §5).
    pub fn status(self) -> StatusCode {
        match self {
            Self::Revoked | Self::DryRun | Self::Protected => StatusCode::OK,
            Self::Queued => StatusCode::ACCEPTED,
            Self::UserNotFound => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Denied => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Failed => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether the user's case is closed: nothing more would happen on a redelivery. `denied`
    /// is not: once an admin grants consent, the sender's retry must act.
    pub fn is_settled(self) -> bool {
        !matches!(self, Self::Denied | Self::Failed)
    }

    /// A sentence for the audit line (a `denied` line follows one saying which refusal).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Revoked => "sessions revoked",
            Self::DryRun => "dry run: would revoke sessions",
            Self::Protected => "protected account: revocation refused",
            Self::UserNotFound => "Entra ID has no such user",
            Self::Queued => "queued for retry",
            Self::Denied => {
                "refused: Graph denied the revocation (permission or consent) or Entra rejected the app's credentials"
            }
            Self::Failed => "revocation failed and was not queued: the sender should retry",
        }
    }
}

impl From<Decision> for UserOutcome {
    /// Both refusals answer `denied` (500, DESIGN §5); an owed transient one, `failed`.
    fn from(d: Decision) -> Self {
        match d {
            Decision::Protected => Self::Protected,
            Decision::DryRun => Self::DryRun,
            Decision::Acted(Revocation::Revoked(_)) => Self::Revoked,
            Decision::Acted(Revocation::UserNotFound) => Self::UserNotFound,
            Decision::Acted(Revocation::Denied | Revocation::Misconfigured) => Self::Denied,
            Decision::Acted(Revocation::Transient) => Self::Failed,
        }
    }
}

/// One entry of the response's `results`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserResult {
    pub user: UserRef,
    pub outcome: UserOutcome,
}

/// The event-level outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Authentic, well-formed, and not a loss.
    Ignored,
    /// Already handled by this instance.
    Duplicate,
    /// A loss that names nobody to sign out.
    NoUser,
    /// A loss naming more users than `MAX_USERS_PER_EVENT`: refused whole.
    TooManyUsers,
    /// Every user ended the same way.
    Uniform(UserOutcome),
    /// Users ended differently.
    Mixed,
}

/// What happened to one event: the body of the HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub event_id: Option<EventId>,
    pub outcome: Outcome,
    pub results: Vec<UserResult>,
}

impl Report {
    fn for_users(event_id: EventId, results: Vec<UserResult>) -> Self {
        let first = results.first().map(|r| r.outcome);
        let outcome = match first {
            Some(o) if results.iter().all(|r| r.outcome == o) => Outcome::Uniform(o),
            Some(_) => Outcome::Mixed,
            None => Outcome::NoUser,
        };
        Self {
            event_id: Some(event_id),
            outcome,
            results,
        }
    }

    pub fn outcome_str(&self) -> &'static str {
        match self.outcome {
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::NoUser => "no_user",
            Outcome::TooManyUsers => "too_many_users",
            Outcome::Uniform(o) => o.as_str(),
            Outcome::Mixed => "mixed",
        }
    }

    /// The most severe status that applies. Severity follows the numeric order of the codes
    /// the contract uses (503 > 500 > 422 > 202 > 200).
    pub fn status(&self) -> StatusCode {
        let event_status = match self.outcome {
            Outcome::NoUser | Outcome::TooManyUsers => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::OK,
        };
        self.results
            .iter()
            .map(|r| r.outcome.status())
            .fold(event_status, |worst, s| worst.max(s))
    }
}

type EventKey = (Source, EventId);

/// Remembers handled events so a redelivery within a warm instance is not acted on twice.
/// Bounded: the oldest ids are forgotten first.
#[derive(Debug)]
pub struct Dedupe {
    capacity: usize,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    keys: HashSet<EventKey>,
    oldest_first: VecDeque<EventKey>,
}

impl Dedupe {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: Mutex::new(Seen::default()),
        }
    }

    fn contains(&self, key: &EventKey) -> bool {
        self.lock().keys.contains(key)
    }

    fn remember(&self, key: EventKey) {
        let mut seen = self.lock();
        if seen.keys.insert(key.clone()) {
            seen.oldest_first.push_back(key);
            while seen.oldest_first.len() > self.capacity {
                if let Some(old) = seen.oldest_first.pop_front() {
                    seen.keys.remove(&old);
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        // A panic while holding this lock cannot leave the set half-updated in a harmful
        // way (worst case: one id forgotten), so a poisoned lock is still used.
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The decision policy read from configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    pub protected_users: Vec<UserRef>,
    pub dry_run: bool,
    /// More users than this in one event is refused whole: the bound on what one (possibly
    /// leaked) webhook credential can do in one request.
    pub max_users_per_event: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            protected_users: Vec::new(),
            dry_run: false,
            max_users_per_event: 50,
        }
    }
}

/// How many users of one event are acted on at the same time.
const CONCURRENT_REVOCATIONS: usize = 8;

/// The part of the inline deadline kept for the SQS send when a queue is configured (an
/// in-region send takes tens of milliseconds).
pub const ENQUEUE_RESERVE: std::time::Duration = std::time::Duration::from_millis(300);

/// Decides per user, calls the act seam, and queues what could not finish; built once per
/// instance. Without a queue, a transient failure is answered `failed` (503).
#[derive(Debug)]
pub struct Decider<R, Q = SqsQueue> {
    policy: Policy,
    dedupe: Dedupe,
    revoker: R,
    queue: Option<Q>,
}

/// How many event ids a warm instance remembers (a few hundred KB at most).
pub const DEDUPE_CAPACITY: usize = 4096;

impl<R: Revoker, Q: RetryQueue> Decider<R, Q> {
    pub fn new(policy: Policy, revoker: R, queue: Option<Q>) -> Self {
        Self {
            policy,
            dedupe: Dedupe::new(DEDUPE_CAPACITY),
            revoker,
            queue,
        }
    }

    /// Turns a parsed event into per-user outcomes, acting where policy allows; the users of
    /// one event are acted on concurrently and share `deadline`.
    pub async fn decide(&self, source: &Source, parsed: Parsed, deadline: Instant) -> Report {
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

        let key = (event.source.clone(), event.id.clone());
        if self.dedupe.contains(&key) {
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
            .map(|owner| self.decide_user(&event, owner, deadline))
            .collect();
        let results: Vec<UserResult> = stream::iter(decisions)
            .buffered(CONCURRENT_REVOCATIONS)
            .collect()
            .await;

        // Only a settled event is remembered: one with a failed or denied user must be acted
        // on again when the sender retries it.
        if !results.is_empty() && results.iter().all(|r| r.outcome.is_settled()) {
            self.dedupe.remember(key);
        }
        Report::for_users(event.id, results)
    }

    async fn decide_user(
        &self,
        event: &LostDeviceEvent,
        owner: &Owner,
        deadline: Instant,
    ) -> UserResult {
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
    pub async fn act(
        &self,
        event: &LostDeviceEvent,
        user: &UserRef,
        deadline: Instant,
    ) -> Decision {
        if self.is_protected(user) {
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
        let job = RetryJob::new(event, owner, crate::unix_now());
        let sent = tokio::time::timeout_at(deadline, queue.enqueue(&job)).await;
        let error = match sent {
            Ok(Ok(())) => return UserOutcome::Queued,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the send did not finish inside the inline deadline".to_owned(),
        };
        tracing::error!(event_id = %event.id, user = %owner.user, error, "revocation neither done nor queued");
        UserOutcome::Failed
    }

    fn is_protected(&self, user: &UserRef) -> bool {
        self.policy.protected_users.iter().any(|p| p == user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Device, LossKind, Owner};
    use std::sync::Mutex as StdMutex;

    /// Records every call and answers from a fixed list per user (default: revoked).
    #[derive(Default)]
    struct Recording {
        calls: StdMutex<Vec<String>>,
        answers: Vec<(&'static str, Revocation)>,
    }

    impl Revoker for Recording {
        async fn revoke(
            &self,
            _event: &LostDeviceEvent,
            user: &UserRef,
            _deadline: Instant,
        ) -> Revocation {
            self.calls.lock().unwrap().push(user.to_string());
            self.answers
                .iter()
                .find(|(u, _)| *u == user.as_str())
                .map_or(Revocation::Revoked(GraphReceipt::default()), |(_, r)| *r)
        }
    }

    fn user(s: &str) -> UserRef {
        UserRef::parse(s).unwrap()
    }

    fn later() -> Instant {
        Instant::now() + std::time::Duration::from_secs(5)
    }

    fn source() -> Source {
        Source::parse("standard").unwrap()
    }

    fn lost(id: &str, users: &[&str]) -> Parsed {
        let owners = users
            .iter()
            .map(|u| Owner {
                user: user(u),
                devices: vec![Device {
                    serial_number: Some(format!("SN-{u}")),
                    ..Device::default()
                }],
            })
            .collect();
        Parsed::Lost(LostDeviceEvent {
            source: source(),
            id: EventId::parse(id).unwrap(),
            event_type: "device.lost".into(),
            kind: LossKind::Lost,
            owners,
            unowned: Vec::new(),
        })
    }

    /// Records the users of the jobs it accepts; refuses every job when `broken`.
    #[derive(Default)]
    struct Queue {
        jobs: StdMutex<Vec<String>>,
        broken: bool,
    }

    impl RetryQueue for Queue {
        async fn enqueue(&self, job: &RetryJob) -> Result<(), crate::retry::queue::QueueError> {
            if self.broken {
                return Err(crate::retry::queue::QueueError::from_description("refused"));
            }
            self.jobs.lock().unwrap().push(job.owner().user.to_string());
            Ok(())
        }
    }

    type TestDecider = Decider<Recording, Queue>;

    fn decider(policy: Policy, answers: Vec<(&'static str, Revocation)>) -> TestDecider {
        with_queue(policy, answers, None)
    }

    fn with_queue(
        policy: Policy,
        answers: Vec<(&'static str, Revocation)>,
        queue: Option<Queue>,
    ) -> TestDecider {
        let revoker = Recording {
            answers,
            ..Recording::default()
        };
        Decider::new(policy, revoker, queue)
    }

    fn calls(d: &TestDecider) -> Vec<String> {
        d.revoker.calls.lock().unwrap().clone()
    }

    fn jobs(d: &TestDecider) -> Vec<String> {
        d.queue
            .as_ref()
            .map_or_else(Vec::new, |q| q.jobs.lock().unwrap().clone())
    }

    #[tokio::test]
    async fn a_transient_failure_is_queued_for_that_user_only_and_answered_202() {
        let d = with_queue(
            Policy::default(),
            vec![("flaky@c.com", Revocation::Transient)],
            Some(Queue::default()),
        );
        let r = d
            .decide(&source(), lost("e1", &["a@c.com", "flaky@c.com"]), later())
            .await;
        assert_eq!(r.results[1].outcome, UserOutcome::Queued);
        assert_eq!(
            (r.outcome_str(), r.status()),
            ("mixed", StatusCode::ACCEPTED)
        );
        assert_eq!(jobs(&d), vec!["flaky@c.com"]);
        // Queued is settled: the sender's redelivery is a duplicate, not a second job.
        let again = d
            .decide(&source(), lost("e1", &["a@c.com", "flaky@c.com"]), later())
            .await;
        assert_eq!(again.outcome, Outcome::Duplicate);
        assert_eq!(jobs(&d).len(), 1);
    }

    #[tokio::test]
    async fn a_failed_queue_send_is_answered_503_so_the_sender_retries() {
        let broken = Queue {
            broken: true,
            ..Queue::default()
        };
        let d = with_queue(
            Policy::default(),
            vec![("flaky@c.com", Revocation::Transient)],
            Some(broken),
        );
        let r = d
            .decide(&source(), lost("e1", &["flaky@c.com"]), later())
            .await;
        assert_eq!(
            (r.outcome_str(), r.status()),
            ("failed", StatusCode::SERVICE_UNAVAILABLE)
        );
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

    /// Every combination of answers for three users, under each policy (plain, dry run, one
    /// protected user), with no queue, a working queue and a broken one: whenever the status
    /// is 2xx, each user was revoked, decided without acting (dry run, protected), or has a
    /// job on the queue. Each event is sent twice: `duplicate` (200) only follows an event
    /// whose every user was settled (not `failed`, not `denied`).
    #[tokio::test]
    async fn no_2xx_answer_leaves_a_user_neither_revoked_decided_nor_queued() {
        let answers = [
            Revocation::Revoked(GraphReceipt::default()),
            Revocation::UserNotFound,
            Revocation::Denied,
            Revocation::Misconfigured,
            Revocation::Transient,
        ];
        let n = answers.len();
        let users = ["a@c.com", "b@c.com", "c@c.com"];
        let policies = [
            Policy::default(),
            Policy {
                dry_run: true,
                ..Policy::default()
            },
            Policy {
                protected_users: vec![user("b@c.com")],
                ..Policy::default()
            },
        ];
        let mut checked = 0;
        for combo in 0..n.pow(3) {
            let per_user: Vec<_> = (0..3)
                .map(|i| (users[i], answers[combo / n.pow(i as u32) % n]))
                .collect();
            for policy in &policies {
                for queue in [None, Some(false), Some(true)] {
                    let queue = queue.map(|broken| Queue {
                        broken,
                        ..Queue::default()
                    });
                    let d = with_queue(policy.clone(), per_user.clone(), queue);
                    let first = d.decide(&source(), lost("e", &users), later()).await;
                    let queued = jobs(&d);
                    let first_ok = first.status().is_success();
                    if first_ok {
                        for (result, (user, answer)) in first.results.iter().zip(&per_user) {
                            let acted = matches!(answer, Revocation::Revoked(_));
                            let decided = policy.dry_run
                                || policy.protected_users.iter().any(|p| p.as_str() == *user);
                            let is_queued = queued.iter().any(|q| q == user);
                            assert!(
                                acted || decided || is_queued,
                                "{user}: answered {} after {answer:?}, nothing queued",
                                first.status()
                            );
                            assert_eq!(result.outcome == UserOutcome::Queued, is_queued);
                        }
                    }
                    let again = d.decide(&source(), lost("e", &users), later()).await;
                    if again.outcome == Outcome::Duplicate {
                        assert!(
                            first.results.iter().all(|r| r.outcome.is_settled()),
                            "a duplicate is only answered once every user is settled"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 125 * 3 * 3);
    }

    #[tokio::test]
    async fn lost_event_revokes_each_owner_once() {
        let d = decider(Policy::default(), vec![]);
        let r = d
            .decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!(r.outcome, Outcome::Uniform(UserOutcome::Revoked));
        assert_eq!(r.status(), StatusCode::OK);
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
        assert_eq!(r.status(), StatusCode::OK);
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
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(calls(&d).len(), 1);
    }

    #[tokio::test]
    async fn a_failed_event_is_not_remembered_so_the_senders_retry_acts_again() {
        let d = decider(Policy::default(), vec![("a@c.com", Revocation::Transient)]);
        let first = d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
        assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
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
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(calls(&d).is_empty());
        let ok = d
            .decide(&source(), lost("e2", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!(ok.outcome_str(), "revoked");
    }

    #[tokio::test]
    async fn status_is_the_most_severe_of_the_users_outcomes() {
        let d = decider(
            Policy::default(),
            vec![
                ("gone@c.com", Revocation::UserNotFound),
                ("denied@c.com", Revocation::Denied),
                ("flaky@c.com", Revocation::Transient),
            ],
        );
        let s = |users: &'static [&'static str], id: &'static str| {
            let d = &d;
            async move { d.decide(&source(), lost(id, users), later()).await.status() }
        };
        assert_eq!(
            s(&["a@c.com", "gone@c.com"], "1").await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            s(&["gone@c.com", "denied@c.com"], "2").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            s(&["denied@c.com", "flaky@c.com"], "3").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn a_loss_naming_nobody_is_no_user_422() {
        let d = decider(Policy::default(), vec![]);
        let r = d.decide(&source(), lost("e1", &[]), later()).await;
        assert_eq!(r.outcome_str(), "no_user");
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[tokio::test]
    async fn ignored_events_are_200_and_act_on_nobody() {
        let d = decider(Policy::default(), vec![]);
        let parsed = Parsed::Ignored {
            id: None,
            event_type: "device.enrolled".into(),
            reason: "not a loss".into(),
        };
        let r = d.decide(&source(), parsed, later()).await;
        assert_eq!((r.outcome_str(), r.status()), ("ignored", StatusCode::OK));
        assert!(calls(&d).is_empty());
    }

    #[test]
    fn dedupe_forgets_the_oldest_ids_beyond_its_capacity() {
        let dedupe = Dedupe::new(2);
        let key = |i: &str| (source(), EventId::parse(i).unwrap());
        for i in ["1", "2", "3"] {
            dedupe.remember(key(i));
        }
        assert!(!dedupe.contains(&key("1")));
        assert!(dedupe.contains(&key("2")) && dedupe.contains(&key("3")));
        assert_eq!(dedupe.lock().oldest_first.len(), 2);
    }
}
