//! Duplicate detection within one warm instance: a bounded memory of settled decisions, one
//! per (source, event id, user).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use super::ledger::DecisionKey as DedupeKey;

/// Remembers settled decisions so a redelivery within a warm instance is not acted on twice.
/// Bounded: the oldest are forgotten first.
#[derive(Debug)]
pub(crate) struct Dedupe {
    capacity: usize,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    keys: HashSet<DedupeKey>,
    oldest_first: VecDeque<DedupeKey>,
}

impl Dedupe {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: Mutex::new(Seen::default()),
        }
    }

    pub(crate) fn contains(&self, key: &DedupeKey) -> bool {
        self.lock().keys.contains(key)
    }

    pub(crate) fn remember(&self, key: DedupeKey) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventId, Source, UserRef};

    #[test]
    fn forgets_the_oldest_decisions_beyond_its_capacity() {
        let dedupe = Dedupe::new(2);
        let user = UserRef::parse("a@c.com").unwrap();
        let key = |i: &str| {
            (
                Source::parse("standard").unwrap(),
                EventId::parse(i).unwrap(),
                user.clone(),
            )
        };
        for i in ["1", "2", "3"] {
            dedupe.remember(key(i));
        }
        assert!(!dedupe.contains(&key("1")));
        assert!(dedupe.contains(&key("2")) && dedupe.contains(&key("3")));
        assert_eq!(dedupe.lock().oldest_first.len(), 2);
    }
}
