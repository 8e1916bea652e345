//! Device containment (README, "Device containment"): with `DISABLE_LOST_DEVICES`, the Entra
//! device object of each lost device is disabled after its owner's decision, which revokes the
//! device's Primary Refresh Token and every refresh token issued to it (Microsoft's "revoke
//! user access in an emergency", step 3). Graph lets an app do that for Windows devices only.
//! Containment never blocks or delays the owner's revocation: it runs after it, and a failure
//! is audited at ERROR and changes no user's outcome.

use tokio::time::Instant;

use super::audit;
use super::outcome::UserOutcome;
use super::policy::Policy;
use super::seams::Revoker;
use crate::domain::{Device, LostDeviceEvent, Owner};

/// What became of one lost device's Entra object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Containment {
    /// Graph disabled it; `request_id` is Graph's id for the call, when it sent one.
    Disabled { request_id: Option<String> },
    /// Nothing to disable, or Graph does not let an app disable it: the reason says which.
    NotDisableable(String),
    /// Dry run: it would have been disabled.
    DryRun,
    /// The call failed; the device is still enabled. The reason names what failed.
    Failed(String),
}

impl Containment {
    /// The audit line's `outcome`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Disabled { .. } => "device_disabled",
            Self::NotDisableable(_) => "device_not_disableable",
            Self::DryRun => "device_dry_run",
            Self::Failed(_) => "device_disable_failed",
        }
    }
}

/// Operating systems Graph lets an app disable (its `operatingSystem` for Windows devices).
fn is_windows(operating_system: &str) -> bool {
    operating_system
        .trim()
        .to_ascii_lowercase()
        .starts_with("windows")
}

/// Contains the lost devices of `owner` once their owner's `outcome` is known: nothing when
/// containment is off, or the user was decided before (a duplicate, or a claim held
/// elsewhere: the first decision contained the devices); a protected owner's devices are left
/// alone, and so, with protection configured, are those of an owner whose protection was not
/// checked to the end (audited as failed, for a person to decide). Each device gets one
/// audit line.
pub(crate) async fn contain_devices<R: Revoker>(
    policy: &Policy,
    revoker: &R,
    event: &LostDeviceEvent,
    owner: &Owner,
    outcome: UserOutcome,
    deadline: Instant,
) {
    if !policy.disable_lost_devices
        || matches!(outcome, UserOutcome::Duplicate | UserOutcome::InProgress)
    {
        return;
    }
    for device in &owner.devices {
        let result = contain(policy, revoker, device, outcome, deadline).await;
        audit::device_containment(event, &owner.user, device, &result);
    }
}

async fn contain<R: Revoker>(
    policy: &Policy,
    revoker: &R,
    device: &Device,
    outcome: UserOutcome,
    deadline: Instant,
) -> Containment {
    if outcome == UserOutcome::Protected {
        return Containment::NotDisableable("its owner is a protected account".to_owned());
    }
    // Only a revoked owner was cleared by the check; an owner Entra does not know cannot be
    // protected. Any other outcome (queued, failed, denied, ambiguous) left it unfinished.
    let cleared = matches!(
        outcome,
        UserOutcome::Revoked | UserOutcome::UserNotFound | UserOutcome::DryRun
    );
    if policy.protects_anyone() && !cleared {
        return Containment::Failed(format!(
            "its owner's protection was not checked to the end (owner {}): disable it by hand \
             once the owner is known not to be protected",
            outcome.as_str()
        ));
    }
    let Some(id) = &device.entra_device_id else {
        return Containment::NotDisableable("the event names no Entra device id".to_owned());
    };
    if let Some(os) = device
        .operating_system
        .as_deref()
        .filter(|os| !is_windows(os))
    {
        return Containment::NotDisableable(format!(
            "its operatingSystem is {os}: Graph lets an app disable Windows devices only"
        ));
    }
    if policy.dry_run {
        return Containment::DryRun;
    }
    revoker.disable_device(id, deadline).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_is_recognised_whatever_the_case_and_version_suffix() {
        assert!(is_windows("Windows"));
        assert!(is_windows("windows 11"));
        assert!(!is_windows("macOS"));
        assert!(!is_windows("iOS"));
        assert!(!is_windows("Android"));
    }
}
