//! Fakes for the two seams, shared by the unit tests of the decider and of the status map.

use std::sync::Mutex;

use tokio::time::Instant;

use super::{Decider, GraphReceipt, Policy, QueueError, RetryQueue, Revocation, Revoker};
use crate::domain::{Device, EventId, LossKind, LostDeviceEvent, Owner, Parsed, Source, UserRef};

/// Records every call and answers from a fixed list per user (default: revoked).
#[derive(Default)]
pub(crate) struct Recording {
    calls: Mutex<Vec<String>>,
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

/// Records the users it accepts; refuses every one when `broken`.
#[derive(Default)]
pub(crate) struct Queue {
    jobs: Mutex<Vec<String>>,
    broken: bool,
}

impl Queue {
    /// A queue that refuses every job when `broken`.
    pub(crate) fn new(broken: bool) -> Self {
        Self {
            broken,
            ..Self::default()
        }
    }
}

impl RetryQueue for Queue {
    async fn enqueue(&self, _event: &LostDeviceEvent, owner: &Owner) -> Result<(), QueueError> {
        if self.broken {
            return Err(QueueError::new("refused"));
        }
        self.jobs.lock().unwrap().push(owner.user.to_string());
        Ok(())
    }
}

pub(crate) type TestDecider = Decider<Recording, Queue>;

pub(crate) fn decider(policy: Policy, answers: Vec<(&'static str, Revocation)>) -> TestDecider {
    with_queue(policy, answers, None)
}

pub(crate) fn with_queue(
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

/// The users the revoker was asked to sign out, in order.
pub(crate) fn calls(d: &TestDecider) -> Vec<String> {
    d.revoker().calls.lock().unwrap().clone()
}

/// The users handed to the queue, in order.
pub(crate) fn jobs(d: &TestDecider) -> Vec<String> {
    d.queue()
        .map_or_else(Vec::new, |q| q.jobs.lock().unwrap().clone())
}

pub(crate) fn user(s: &str) -> UserRef {
    UserRef::parse(s).unwrap()
}

pub(crate) fn later() -> Instant {
    Instant::now() + std::time::Duration::from_secs(5)
}

pub(crate) fn source() -> Source {
    Source::parse("standard").unwrap()
}

/// A canonical loss `id` naming `users`, one device each.
pub(crate) fn lost(id: &str, users: &[&str]) -> Parsed {
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
