//! Fakes for the seams, shared by the unit tests of the decider and of the status map. The
//! integration tests hold the real ledger adapter against DynamoDB (moto) to the same rules.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use tokio::time::Instant;

use super::{
    Claim, Claimant, Containment, Decider, DecisionKey, Directory, GraphReceipt, Lease, Ledger,
    LedgerError, Lookup, Policy, QueueError, RetryQueue, Revocation, Revoker, Settled, Settlement,
    Unchecked,
};
use crate::domain::{
    Device, EventId, Identity, LossKind, LostDeviceEvent, ObjectId, Owner, Parsed, Source, UserRef,
};

/// Records every call and answers from a fixed list per user (default: revoked). Its
/// directory knows every reference as a user of its own (an object id derived from the
/// reference, the reference as UPN and mail) unless `directory` says otherwise; a revocation
/// by such an id is recorded under the reference it was resolved from.
#[derive(Default)]
pub(crate) struct Recording {
    pub(crate) calls: Mutex<Vec<String>>,
    /// The Entra device ids it was asked to disable.
    pub(crate) disabled: Mutex<Vec<String>>,
    pub(crate) answers: Vec<(&'static str, Revocation)>,
    /// Lookup answers by reference, before the default.
    pub(crate) directory: Vec<(&'static str, Lookup)>,
    /// Object ids that are members of every protected group.
    pub(crate) members: Vec<String>,
    /// What every membership check answers instead, when set.
    pub(crate) membership_fails: Option<Unchecked>,
    /// Every lookup and membership check, in order (`resolve x`, `groups id`).
    pub(crate) reads: Mutex<Vec<String>>,
    /// Object id → the reference it was resolved from.
    pub(crate) resolved: Mutex<HashMap<ObjectId, String>>,
}

/// The object id the fake directory gives a reference it has no entry for.
pub(crate) fn derived_id(reference: &str) -> ObjectId {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    reference.to_ascii_lowercase().hash(&mut hasher);
    let half = u128::from(hasher.finish());
    ObjectId::parse(&uuid::Uuid::from_u128(half << 64 | half).to_string()).unwrap()
}

impl Directory for Recording {
    async fn resolve(&self, user: &UserRef, _deadline: Instant) -> Lookup {
        self.reads.lock().unwrap().push(format!("resolve {user}"));
        if let Some((_, lookup)) = self.directory.iter().find(|(r, _)| *r == user.as_str()) {
            if let Lookup::Found(identity) = lookup {
                self.resolved
                    .lock()
                    .unwrap()
                    .insert(identity.id.clone(), user.to_string());
            }
            return lookup.clone();
        }
        let identity = match user {
            UserRef::Id(id) => Identity {
                id: id.clone(),
                user_principal_name: format!("{}@c.com", id.as_str()),
                mail: None,
            },
            UserRef::Upn(upn) => Identity {
                id: derived_id(upn.as_str()),
                user_principal_name: upn.as_str().to_owned(),
                mail: Some(upn.as_str().to_owned()),
            },
        };
        self.resolved
            .lock()
            .unwrap()
            .insert(identity.id.clone(), user.to_string());
        Lookup::Found(identity)
    }

    async fn member_groups(
        &self,
        id: &ObjectId,
        groups: &[ObjectId],
        _deadline: Instant,
    ) -> Result<Vec<ObjectId>, Unchecked> {
        self.reads
            .lock()
            .unwrap()
            .push(format!("groups {}", id.as_str()));
        if let Some(why) = self.membership_fails {
            return Err(why);
        }
        Ok(if self.members.iter().any(|m| m == id.as_str()) {
            groups.to_vec()
        } else {
            Vec::new()
        })
    }
}

impl Revoker for Recording {
    async fn revoke(
        &self,
        _event: &LostDeviceEvent,
        user: &UserRef,
        _deadline: Instant,
    ) -> Revocation {
        let name = match user {
            UserRef::Id(id) => self.resolved.lock().unwrap().get(id).cloned(),
            UserRef::Upn(_) => None,
        }
        .unwrap_or_else(|| user.to_string());
        let answer = self
            .answers
            .iter()
            .find(|(u, _)| *u == name)
            .map_or(Revocation::Revoked(GraphReceipt::default()), |(_, r)| *r);
        self.calls.lock().unwrap().push(name);
        answer
    }

    async fn disable_device(&self, device: &ObjectId, _deadline: Instant) -> Containment {
        self.disabled
            .lock()
            .unwrap()
            .push(device.as_str().to_owned());
        Containment::Disabled { request_id: None }
    }
}

/// Records the subject of every notice it is given.
#[derive(Debug, Default)]
pub(crate) struct Notices {
    pub(crate) subjects: Mutex<Vec<String>>,
}

impl super::Notifier for Notices {
    fn publish<'a>(
        &'a self,
        notice: &'a super::Notice,
    ) -> futures_util::future::BoxFuture<'a, Result<(), super::NotifyError>> {
        self.subjects.lock().unwrap().push(notice.subject.clone());
        Box::pin(async { Ok(()) })
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

/// A decider whose fake directory is `revoker`'s (see [`Recording`]).
pub(crate) fn with_revoker(policy: Policy, revoker: Recording) -> TestDecider<'static> {
    Decider::new(policy, revoker, None, None)
}

/// Every directory read, in order.
pub(crate) fn reads(d: &TestDecider<'_>) -> Vec<String> {
    d.revoker().reads.lock().unwrap().clone()
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
