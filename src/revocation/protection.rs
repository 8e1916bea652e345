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

    /// Resolves `user` and checks it against the list and the groups, by `deadline`. A
    /// target named by object id is checked against the groups while it is looked up (one
    /// Graph round trip of latency, not two); the answer counts only once the lookup found
    /// that same user, and a lookup that finds no one does not wait for it.
    pub(crate) async fn check<D: Directory>(
        &self,
        directory: &D,
        user: &UserRef,
        deadline: Instant,
    ) -> Check {
        let (identity, early) = match user {
            UserRef::Id(id) if self.identities.get(user).is_none() => {
                let (identity, member) = self.identity_and_groups(directory, id, deadline).await;
                (identity, member.map(|member| (id, member)))
            }
            _ => (self.identity(directory, user, deadline).await, None),
        };
        let identity = match identity {
            Ok(identity) => identity,
            Err(check) => return check,
        };
        if self.users.iter().any(|p| identity.is_named_by(p)) {
            return Check::Protected;
        }
        let member = match early {
            Some((id, member)) if *id == identity.id => member,
            _ => {
                self.in_protected_group(directory, &identity.id, deadline)
                    .await
            }
        };
        match member {
            Ok(true) => Check::Protected,
            Ok(false) => Check::Clear(identity),
            Err(Unchecked::NoSuchUser) => Check::NotFound,
            Err(why) => Check::Unchecked(why),
        }
    }

    /// Looks `id` up and checks its groups at once. The membership answer comes back only
    /// with a user found (a lookup that finds no one does not wait for it).
    async fn identity_and_groups<D: Directory>(
        &self,
        directory: &D,
        id: &ObjectId,
        deadline: Instant,
    ) -> (Result<Identity, Check>, Option<Result<bool, Unchecked>>) {
        let user = UserRef::Id(id.clone());
        let lookup = self.identity(directory, &user, deadline);
        let membership = self.in_protected_group(directory, id, deadline);
        tokio::pin!(lookup, membership);
        let mut member = None;
        let identity = loop {
            tokio::select! {
                identity = &mut lookup => break identity,
                answer = &mut membership, if member.is_none() => member = Some(answer),
            }
        };
        if identity.is_err() {
            return (identity, None);
        }
        let member = match member {
            Some(member) => member,
            None => membership.await,
        };
        (identity, Some(member))
    }

    /// The user `user` names, from the cache or the directory; what to answer otherwise.
    async fn identity<D: Directory>(
        &self,
        directory: &D,
        user: &UserRef,
        deadline: Instant,
    ) -> Result<Identity, Check> {
        if let Some(identity) = self.identities.get(user) {
            return Ok(identity);
        }
        match directory.resolve(user, deadline).await {
            Lookup::Found(identity) => {
                self.identities.put(user.clone(), identity.clone());
                Ok(identity)
            }
            Lookup::NotFound => Err(Check::NotFound),
            Lookup::Ambiguous => Err(Check::Ambiguous),
            Lookup::Unchecked(why) => Err(Check::Unchecked(why)),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::Notify;

    use super::*;

    const GROUP: &str = "9a9a9a9a-0000-4000-8000-000000000001";
    const ID: &str = "44444444-0000-4000-8000-000000000001";
    const OTHER: &str = "44444444-0000-4000-8000-000000000002";

    /// A directory whose lookup answers only after a membership check has started: checked
    /// one after the other, a check never ends.
    #[derive(Default)]
    struct Overlapping {
        membership_started: Notify,
        /// Object ids in every group.
        members: Vec<&'static str>,
        /// What the lookup answers instead of the user asked for.
        lookup: Option<Lookup>,
        /// What every membership check answers instead.
        membership: Option<Unchecked>,
        /// Membership checks that never answer.
        membership_hangs: bool,
    }

    impl Directory for Overlapping {
        async fn resolve(&self, user: &UserRef, _deadline: Instant) -> Lookup {
            self.membership_started.notified().await;
            self.lookup
                .clone()
                .unwrap_or_else(|| Lookup::Found(identity(user.as_str())))
        }

        async fn member_groups(
            &self,
            id: &ObjectId,
            groups: &[ObjectId],
            _deadline: Instant,
        ) -> Result<Vec<ObjectId>, Unchecked> {
            self.membership_started.notify_one();
            if self.membership_hangs {
                std::future::pending::<()>().await;
            }
            if let Some(why) = self.membership {
                return Err(why);
            }
            Ok(if self.members.contains(&id.as_str()) {
                groups.to_vec()
            } else {
                Vec::new()
            })
        }
    }

    fn identity(id: &str) -> Identity {
        Identity {
            id: ObjectId::parse(id).unwrap(),
            user_principal_name: format!("{id}@contoso.com"),
            mail: None,
        }
    }

    async fn check(directory: &Overlapping, users: &[&str]) -> Check {
        let protection = Protection::new(
            users.iter().map(|u| UserRef::parse(u).unwrap()).collect(),
            vec![ObjectId::parse(GROUP).unwrap()],
        );
        let user = UserRef::parse(ID).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        tokio::time::timeout(
            Duration::from_secs(5),
            protection.check(directory, &user, deadline),
        )
        .await
        .expect("the lookup and the membership check of an object id go out together")
    }

    #[tokio::test]
    async fn an_object_id_is_looked_up_and_checked_against_the_groups_at_once() {
        let member = Overlapping {
            members: vec![ID],
            ..Overlapping::default()
        };
        let staff = Overlapping::default();

        assert_eq!(check(&member, &[]).await, Check::Protected);
        assert_eq!(check(&staff, &[]).await, Check::Clear(identity(ID)));
    }

    #[tokio::test]
    async fn a_lookup_that_finds_no_one_does_not_wait_for_the_membership_check() {
        let gone = Overlapping {
            lookup: Some(Lookup::NotFound),
            membership_hangs: true,
            ..Overlapping::default()
        };
        let failing = Overlapping {
            lookup: Some(Lookup::Unchecked(Unchecked::Transient)),
            membership_hangs: true,
            ..Overlapping::default()
        };

        assert_eq!(check(&gone, &[]).await, Check::NotFound);
        assert_eq!(
            check(&failing, &[]).await,
            Check::Unchecked(Unchecked::Transient)
        );
    }

    #[tokio::test]
    async fn a_membership_answer_counts_only_for_the_user_the_lookup_found() {
        // Asked about ID, the lookup answers OTHER: the group answer about ID says nothing
        // about OTHER, who is checked on their own (and is a member).
        let another = Overlapping {
            lookup: Some(Lookup::Found(identity(OTHER))),
            members: vec![OTHER],
            ..Overlapping::default()
        };
        let listed = Overlapping::default();

        assert_eq!(check(&another, &[]).await, Check::Protected);
        assert_eq!(
            check(&listed, &[&format!("{ID}@contoso.com")]).await,
            Check::Protected
        );
    }

    #[tokio::test]
    async fn a_user_gone_between_lookup_and_membership_check_is_not_found() {
        let deleted = Overlapping {
            membership: Some(Unchecked::NoSuchUser),
            ..Overlapping::default()
        };
        let throttled = Overlapping {
            membership: Some(Unchecked::Transient),
            ..Overlapping::default()
        };

        assert_eq!(check(&deleted, &[]).await, Check::NotFound);
        assert_eq!(
            check(&throttled, &[]).await,
            Check::Unchecked(Unchecked::Transient)
        );
    }
}
