//! What revocation needs from outside, as traits its adapters implement: the act itself
//! ([`Revoker`], Microsoft Graph in production), the directory reads protection needs
//! ([`Directory`], Graph too), durable retry ([`RetryQueue`], SQS in production) and the
//! notification for people ([`Notifier`], SNS). Nothing here knows about tokens, HTTP, SQS or
//! SNS.

use std::future::Future;

use futures_util::future::BoxFuture;

use tokio::time::Instant;

use super::containment::Containment;
use super::notice::Notice;
use super::outcome::Revocation;
use crate::domain::{Identity, LostDeviceEvent, ObjectId, Owner, UserRef};

/// The acts on Microsoft's side: signs one user out everywhere, giving up with `Transient` at
/// `deadline`; and disables a lost device's Entra object (containment). It reads the same
/// directory ([`Directory`]) that protection checks a user against before acting. The
/// production implementation calls Microsoft Graph; tests substitute a recording fake.
pub trait Revoker: Directory {
    fn revoke(
        &self,
        event: &LostDeviceEvent,
        user: &UserRef,
        deadline: Instant,
    ) -> impl Future<Output = Revocation> + Send;

    /// Disables the Entra device whose `deviceId` is `device`, by `deadline`.
    fn disable_device(
        &self,
        device: &ObjectId,
        deadline: Instant,
    ) -> impl Future<Output = Containment> + Send;
}

/// The directory reads that make protection independent of how a user is named: who a
/// reference names, and which protected groups they belong to. Graph in production.
pub trait Directory: Send + Sync {
    /// The Entra user `user` names (by object id or UPN; an email that is no UPN, by `mail`),
    /// by `deadline`.
    fn resolve(&self, user: &UserRef, deadline: Instant) -> impl Future<Output = Lookup> + Send;

    /// Which of `groups` (at most 20, Graph's limit per call) the user `id` is a transitive
    /// member of, by `deadline`.
    fn member_groups(
        &self,
        id: &ObjectId,
        groups: &[ObjectId],
        deadline: Instant,
    ) -> impl Future<Output = Result<Vec<ObjectId>, Unchecked>> + Send;
}

/// What a reference resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Identity),
    /// No user has this id or UPN, nor (for an email) this `mail`.
    NotFound,
    /// More than one user has this `mail`: never guessed between.
    Ambiguous,
    Unchecked(Unchecked),
}

/// Why the directory gave no answer. Protection fails closed: the user is not revoked
/// unchecked, and the outcome is the act's own for the same cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchecked {
    /// Throttling, outages, timeouts: owed, retried later.
    Transient,
    /// Graph answered 403: the app lacks the read permission or its consent.
    Denied,
    /// No token as deployed, or Graph refused the request for another reason.
    Misconfigured,
    /// Graph has no such user (a membership check's 404): never one, or deleted since.
    NoSuchUser,
}

impl From<Unchecked> for Revocation {
    fn from(unchecked: Unchecked) -> Self {
        match unchecked {
            Unchecked::Transient => Revocation::Transient,
            Unchecked::Denied => Revocation::Denied,
            Unchecked::Misconfigured => Revocation::Misconfigured,
            Unchecked::NoSuchUser => Revocation::UserNotFound,
        }
    }
}

/// Where a revocation still owed at the inline deadline goes, to be acted on again later.
pub trait RetryQueue: Send + Sync {
    /// Hands `owner` of `event` to durable retry. Only an `Ok` means the work is safe.
    fn enqueue(
        &self,
        event: &LostDeviceEvent,
        owner: &Owner,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// A job could not be handed over: the user's revocation is neither done nor queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not send the retry job to SQS: {0}")]
pub struct QueueError(String);

impl QueueError {
    /// `description` says why, and must hold nothing secret.
    pub(crate) fn new(description: impl Into<String>) -> Self {
        Self(description.into())
    }
}

/// Where the notification for people goes. Object-safe (a boxed future), so the decider holds
/// it as `Arc<dyn Notifier>` without another type parameter.
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Publishes `notice`. The caller bounds the time and never changes its answer for it.
    fn publish<'a>(&'a self, notice: &'a Notice) -> BoxFuture<'a, Result<(), NotifyError>>;
}

/// A notification was not published; says why, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not publish the notification: {0}")]
pub struct NotifyError(String);

impl NotifyError {
    /// `description` says why, and must hold nothing secret.
    pub(crate) fn new(description: impl Into<String>) -> Self {
        Self(description.into())
    }
}
