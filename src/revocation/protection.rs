//! Protection that cannot be sidestepped by how a user is named (README, "Protected
//! accounts"). With protection configured, each target is first resolved to its Entra user;
//! the protected list matches the resolved object id, UPN or mail, whatever form the event or
//! the list used, and a transitive member of a protected group is protected too. What cannot
//! be checked is not revoked (fail closed). Resolved identities and memberships are cached per
//! instance for a short time, so a burst of events about one user costs one lookup.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::seams::{Directory, Lookup, Unchecked};
use crate::domain::{Identity, ObjectId, UserRef};

/// How long a resolved identity is reused: an object id never changes, a UPN rarely does.
pub const IDENTITY_TTL: Duration = Duration::from_secs(300);
/// How long a membership answer is reused: someone just added to a protected group is
/// protected at the latest this long after.
pub const MEMBERSHIP_TTL: Duration = Duration::from_secs(60);
/// Entries each cache holds at most; a full cache is emptied (a few hundred KB at most).
const CACHE_CAPACITY: usize = 4096;

/// What protection made of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// Not protected: sign out this user, by object id.
    Clear(Identity),
    Protected,
    NotFound,
    /// The reference is an email more than one user has.
    Ambiguous,
    Unchecked(Unchecked),
}

/// The protected list and groups, and the instance's caches of what Graph said.
#[derive(Debug)]
pub(crate) struct Protection {
    users: Vec<UserRef>,
    groups: Vec<ObjectId>,
    identities: Cache<UserRef, Identity>,
    memberships: Cache<ObjectId, bool>,
}

impl Protection {
    pub(crate) fn new(users: Vec<UserRef>, groups: Vec<ObjectId>) -> Self {
        Self {
            users,
            groups,
            identities: Cache::new(IDENTITY_TTL),
            memberships: Cache::new(MEMBERSHIP_TTL),
        }
    }

    /// Whether any protection is configured: only then is a target resolved before acting.
    pub(crate) fn is_configured(&self) -> bool {
        !self.users.is_empty() || !self.groups.is_empty()
    }

    /// Whether the protected list names `user` in the form the event used (no lookup).
    pub(crate) fn lists(&self, user: &UserRef) -> bool {
        self.users.iter().any(|p| p == user)
    }

    /// Resolves `user` and checks it against the list and the groups, by `deadline`.
    pub(crate) async fn check<D: Directory>(
        &self,
        directory: &D,
        user: &UserRef,
        deadline: Instant,
    ) -> Check {
        let identity = match self.identities.get(user) {
            Some(identity) => identity,
            None => match directory.resolve(user, deadline).await {
                Lookup::Found(identity) => {
                    self.identities.put(user.clone(), identity.clone());
                    identity
                }
                Lookup::NotFound => return Check::NotFound,
                Lookup::Ambiguous => return Check::Ambiguous,
                Lookup::Unchecked(why) => return Check::Unchecked(why),
            },
        };
        if self.users.iter().any(|p| identity.is_named_by(p)) {
            return Check::Protected;
        }
        match self
            .in_protected_group(directory, &identity.id, deadline)
            .await
        {
            Ok(true) => Check::Protected,
            Ok(false) => Check::Clear(identity),
            Err(why) => Check::Unchecked(why),
        }
    }

    async fn in_protected_group<D: Directory>(
        &self,
        directory: &D,
        id: &ObjectId,
        deadline: Instant,
    ) -> Result<bool, Unchecked> {
        if self.groups.is_empty() {
            return Ok(false);
        }
        if let Some(member) = self.memberships.get(id) {
            return Ok(member);
        }
        let member = !directory
            .member_groups(id, &self.groups, deadline)
            .await?
            .is_empty();
        self.memberships.put(id.clone(), member);
        Ok(member)
    }
}

/// A small map whose entries expire `ttl` after they were put.
#[derive(Debug)]
struct Cache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: std::hash::Hash + Eq, V: Clone> Cache<K, V> {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(value, _)| value.clone())
    }

    fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }
}
