//! The two things revocation needs from outside, as traits its adapters implement: the act
//! itself ([`Revoker`], Microsoft Graph in production) and durable retry ([`RetryQueue`], SQS
//! in production). Nothing here knows about tokens, HTTP or SQS.

use std::future::Future;

use tokio::time::Instant;

use super::containment::Containment;
use super::outcome::Revocation;
use crate::domain::{LostDeviceEvent, ObjectId, Owner, UserRef};

/// The acts on Microsoft's side: signs one user out everywhere, giving up with `Transient` at
/// `deadline`; and disables a lost device's Entra object (containment). The production
/// implementation calls Microsoft Graph; tests substitute a recording fake.
pub trait Revoker: Send + Sync {
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
