//! Fakes for the seams, shared by the unit tests of the decider and of the status map. The
//! integration tests hold the real ledger adapter against DynamoDB (moto) to the same rules.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use tokio::time::Instant;

use super::{
    Claim, Claimant, Containment, Decider, DecisionKey, GraphReceipt, Lease, Ledger, LedgerError,
    Policy, QueueError, RetryQueue, Revocation, Revoker, Settled, Settlement,
};
use crate::domain::{
    Device, EventId, LossKind, LostDeviceEvent, ObjectId, Owner, Parsed, Source, UserRef,
};

/// Records every call and answers from a fixed list per user (default: revoked).
#[derive(Default)]
pub(crate) struct Recording {
    calls: Mutex<Vec<String>>,
    /// The Entra device ids it was asked to disable.
    pub(crate) disabled: Mutex<Vec<String>>,
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

    async fn disable_device(&self, device: &ObjectId, _deadline: Instant) -> Containment {
        self.disabled
            .lock()
            .unwrap()
            .push(device.as_str().to_owned());
        Containment::Disabled { request_id: None }
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

/// One record of the fake ledger, and the lease that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    Held {
        lease: uuid::Uuid,
        until: SystemTime,
    },
    Settled {
        outcome: Settled,
        lease: uuid::Uuid,
    },
}

impl Record {
    fn lease(&self) -> uuid::Uuid {
        match self {
            Self::Held { lease, .. } | Self::Settled { lease, .. } => *lease,
        }
    }
}

/// The ledger's rules in memory, as `aws::DynamoLedger` applies them in DynamoDB (one shared
/// by several deciders stands for several instances); every call fails when `down`.
#[derive(Default)]
pub(crate) struct MemoryLedger {
    records: Mutex<HashMap<DecisionKey, Record>>,
    pub(crate) down: AtomicBool,
    pub(crate) claims: AtomicUsize,
    pub(crate) settles: AtomicUsize,
}

impl MemoryLedger {
    fn check(&self) -> Result<(), LedgerError> {
        if self.down.load(Ordering::SeqCst) {
            Err(LedgerError::new("down"))
        } else {
            Ok(())
        }
    }

    /// A claim some other invocation holds until `until`.
    pub(crate) fn hold(&self, key: DecisionKey, until: SystemTime) {
        let lease = uuid::Uuid::new_v4();
        self.records
            .lock()
            .unwrap()
            .insert(key, Record::Held { lease, until });
    }

    pub(crate) fn settled(&self, key: &DecisionKey) -> Option<Settled> {
        match self.records.lock().unwrap().get(key) {
            Some(Record::Settled { outcome, .. }) => Some(*outcome),
            _ => None,
        }
    }
}

impl Ledger for &MemoryLedger {
    async fn claim(
        &self,
        keys: &[DecisionKey],
        claimant: Claimant,
        lease: &Lease,
    ) -> Result<Vec<Claim>, LedgerError> {
        self.check()?;
        self.claims.fetch_add(1, Ordering::SeqCst);
        let mut records = self.records.lock().unwrap();
        let now = SystemTime::now();
        let job = claimant == Claimant::RetryJob;
        Ok(keys
            .iter()
            .map(|key| {
                let found = match records.get(key) {
                    None => None,
                    Some(Record::Held { until, .. }) if *until < now => None,
                    Some(Record::Held { .. }) if job => None,
                    Some(Record::Held { .. }) => Some(Claim::Held),
                    Some(Record::Settled {
                        outcome: Settled::Queued,
                        ..
                    }) if job => None,
                    Some(Record::Settled { outcome, .. }) => Some(Claim::Settled(*outcome)),
                };
                found.unwrap_or_else(|| {
                    let held = Record::Held {
                        lease: lease.id,
                        until: lease.until,
                    };
                    records.insert(key.clone(), held);
                    Claim::Won
                })
            })
            .collect())
    }

    async fn settle(
        &self,
        entries: &[(DecisionKey, Settlement)],
        lease: &Lease,
    ) -> Result<(), LedgerError> {
        self.check()?;
        self.settles.fetch_add(1, Ordering::SeqCst);
        let mut records = self.records.lock().unwrap();
        for (key, settlement) in entries {
            // Only the lease that holds a key settles or releases it.
            if records.get(key).is_some_and(|r| r.lease() != lease.id) {
                continue;
            }
            match settlement {
                Settlement::Settle(outcome) => {
                    let settled = Record::Settled {
                        outcome: *outcome,
                        lease: lease.id,
                    };
                    records.insert(key.clone(), settled);
                }
                Settlement::Release => {
                    records.remove(key);
                }
            }
        }
        Ok(())
    }
}

pub(crate) type TestDecider<'l> = Decider<Recording, Queue, &'l MemoryLedger>;

pub(crate) fn decider(
    policy: Policy,
    answers: Vec<(&'static str, Revocation)>,
) -> TestDecider<'static> {
    with_queue(policy, answers, None)
}

pub(crate) fn with_queue(
    policy: Policy,
    answers: Vec<(&'static str, Revocation)>,
    queue: Option<Queue>,
) -> TestDecider<'static> {
    with_ledger(policy, answers, queue, None)
}

/// A decider on `ledger`: deciders sharing one stand for instances sharing the table.
pub(crate) fn with_ledger<'l>(
    policy: Policy,
    answers: Vec<(&'static str, Revocation)>,
    queue: Option<Queue>,
    ledger: Option<&'l MemoryLedger>,
) -> TestDecider<'l> {
    let revoker = Recording {
        answers,
        ..Recording::default()
    };
    Decider::new(policy, revoker, queue, ledger)
}

/// The users the revoker was asked to sign out, in order.
pub(crate) fn calls(d: &TestDecider<'_>) -> Vec<String> {
    d.revoker().calls.lock().unwrap().clone()
}

/// The users handed to the queue, in order.
pub(crate) fn jobs(d: &TestDecider<'_>) -> Vec<String> {
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
