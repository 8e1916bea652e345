//! The decision policy: what configuration says about whom to act on, and whether to act.

use crate::domain::{ObjectId, UserRef};

/// The decision policy read from configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    pub protected_users: Vec<UserRef>,
    /// Entra groups whose transitive members are never revoked (at most 20: one Graph call).
    pub protected_groups: Vec<ObjectId>,
    pub dry_run: bool,
    /// More users than this in one event is refused whole: the bound on what one (possibly
    /// leaked) webhook credential can do in one request.
    pub max_users_per_event: usize,
    /// Disable the Entra device object of each lost device that has one (Windows only).
    pub disable_lost_devices: bool,
}

impl Policy {
    /// Whether any account is protected: each target is then checked before acting.
    pub(crate) fn protects_anyone(&self) -> bool {
        !self.protected_users.is_empty() || !self.protected_groups.is_empty()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            protected_users: Vec::new(),
            protected_groups: Vec::new(),
            dry_run: false,
            max_users_per_event: 50,
            disable_lost_devices: false,
        }
    }
}
