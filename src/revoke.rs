//! Decide and act: for an authenticated event, which users to sign out and what happened to
//! each. Policy (protected accounts, dry run) and duplicate detection live here; the act itself
//! is the [`Revoker`] seam, so this module never knows about tokens or HTTP.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::Mutex;

use futures_util::{StreamExt, stream};
use lambda_http::http::StatusCode;
use tokio::time::Instant;

use crate::audit;
use crate::domain::{EventId, LostDeviceEvent, Owner, Parsed, Source, UserRef};

/// What the act step reports for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Entra accepted the revocation.
    Revoked,
    /// Entra has no such user.
    UserNotFound,
    /// Entra refused: the app lacks the permission or admin consent.
    Denied,
    /// Nothing definite happened (timeouts, throttling, outages): the work is still owed.
    Transient,
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

    /// A sentence for the audit line.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Revoked => "sessions revoked",
            Self::DryRun => "dry run: would revoke sessions",
            Self::Protected => "protected account: revocation refused",
            Self::UserNotFound => "Entra ID has no such user",
            Self::Queued => "queued for retry",
            Self::Denied => "Graph denied the revocation: check the app's permission and consent",
            Self::Failed => "revocation failed and was not queued: the sender should retry",
        }
    }
}

impl From<Revocation> for UserOutcome {
    fn from(r: Revocation) -> Self {
        match r {
            Revocation::Revoked => Self::Revoked,
            Revocation::UserNotFound => Self::UserNotFound,
            Revocation::Denied => Self::Denied,
            Revocation::Transient => Self::Failed,
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

/// Decides per user and calls the act seam; built once per instance.
#[derive(Debug)]
pub struct Decider<R> {
    policy: Policy,
    dedupe: Dedupe,
    revoker: R,
}

/// How many event ids a warm instance remembers (a few hundred KB at most).
pub const DEDUPE_CAPACITY: usize = 4096;

impl<R: Revoker> Decider<R> {
    pub fn new(policy: Policy, revoker: R) -> Self {
        Self {
            policy,
            dedupe: Dedupe::new(DEDUPE_CAPACITY),
            revoker,
        }
    }

    /// The act seam, for callers that need it (the retry path).
    pub fn revoker(&self) -> &R {
        &self.revoker
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
        let outcome = if self.is_protected(&owner.user) {
            UserOutcome::Protected
        } else if self.policy.dry_run {
            UserOutcome::DryRun
        } else {
            self.revoker
                .revoke(event, &owner.user, deadline)
                .await
                .into()
        };
        audit::user_decision(event, owner, outcome);
        UserResult {
            user: owner.user.clone(),
            outcome,
        }
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
                .map_or(Revocation::Revoked, |(_, r)| *r)
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

    fn decider(policy: Policy, answers: Vec<(&'static str, Revocation)>) -> Decider<Recording> {
        Decider::new(
            policy,
            Recording {
                answers,
                ..Recording::default()
            },
        )
    }

    fn calls(d: &Decider<Recording>) -> Vec<String> {
        d.revoker().calls.lock().unwrap().clone()
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
