//! The audit trail: one structured log line per decision about a user (or a device that names
//! nobody), under the `audit` target, so a log query can select exactly these lines. Fields are
//! identifiers and outcomes only: never a secret, token or signature.

use crate::domain::{Device, EventId, LostDeviceEvent, ObjectId, Owner, Source, UserRef};
use crate::revocation::{Containment, GraphReceipt, UserOutcome};

fn device_labels(devices: &[Device]) -> String {
    devices
        .iter()
        .map(Device::label)
        .collect::<Vec<_>>()
        .join(",")
}

/// How the retry function handled a job, for its audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// The SQS receive count.
    pub(crate) delivery: u32,
    /// Still owed: the message goes back to the queue (and after the last attempt to the DLQ).
    pub(crate) returned: bool,
}

/// One user's outcome for one event. Refusals and failures are raised above INFO. A revoked
/// user's line carries the Graph call's ids (`receipt`). `attempt` is set when the retry
/// function acted, `None` inline.
pub(crate) fn user_decision(
    event: &LostDeviceEvent,
    owner: &Owner,
    outcome: UserOutcome,
    receipt: Option<GraphReceipt>,
    attempt: Option<Attempt>,
) {
    let devices = device_labels(&owner.devices);
    let returned = attempt.is_some_and(|a| a.returned);
    let delivery = attempt.map(|a| a.delivery);
    let graph_request_id = receipt
        .and_then(|r| r.request_id)
        .map(tracing::field::display);
    let client_request_id = receipt
        .and_then(|r| r.client_request_id)
        .map(tracing::field::display);
    let object_id = receipt
        .and_then(|r| r.object_id)
        .map(tracing::field::display);
    let message = if returned {
        "still owed: SQS delivers the job again, or moves it to the DLQ after the last attempt"
    } else {
        outcome.describe()
    };
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: "audit",
                source = %event.source,
                event_id = %event.id,
                event_type = %event.event_type,
                kind = event.kind.as_str(),
                device_serial = %devices,
                user = %owner.user,
                outcome = outcome.as_str(),
                graph_request_id,
                client_request_id,
                object_id,
                delivery,
                "{}", message
            )
        };
    }
    match (outcome, returned) {
        (
            UserOutcome::Revoked
            | UserOutcome::DryRun
            | UserOutcome::Queued
            | UserOutcome::Duplicate,
            _,
        ) => line!(info),
        // A retry that fails again is still owed, not lost: the queue holds it.
        (UserOutcome::Protected | UserOutcome::UserNotFound | UserOutcome::InProgress, _)
        | (UserOutcome::Failed, true) => line!(warn),
        (UserOutcome::Denied | UserOutcome::Failed | UserOutcome::Ambiguous, _) => line!(error),
    }
}

/// A lost device whose record names no usable user: nobody can be signed out for it.
pub(crate) fn unowned_device(event: &LostDeviceEvent, device: &Device) {
    tracing::warn!(
        target: "audit",
        source = %event.source,
        event_id = %event.id,
        event_type = %event.event_type,
        kind = event.kind.as_str(),
        device_serial = device.label(),
        outcome = "no_user",
        "lost device names no user (check the MDM record's username, or set USER_DOMAIN)"
    );
}

/// What containment did to one lost device's Entra object (`outcome` `device_disabled`,
/// `device_not_disableable`, `device_dry_run` or `device_disable_failed`, with the reason). A
/// failure is raised to ERROR: the device keeps its tokens until someone disables it.
pub(crate) fn device_containment(
    event: &LostDeviceEvent,
    user: &UserRef,
    device: &Device,
    containment: &Containment,
) {
    let entra_device_id = device.entra_device_id.as_ref().map(ObjectId::as_str);
    let (reason, graph_request_id) = match containment {
        Containment::Disabled { request_id } => ("Entra device disabled", request_id.as_deref()),
        Containment::DryRun => ("dry run: the Entra device would be disabled", None),
        Containment::NotDisableable(reason) | Containment::Failed(reason) => {
            (reason.as_str(), None)
        }
    };
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: "audit",
                source = %event.source,
                event_id = %event.id,
                device_serial = device.label(),
                device_name = device.name.as_deref(),
                entra_device_id,
                operating_system = device.operating_system.as_deref(),
                user = %user,
                outcome = containment.as_str(),
                graph_request_id,
                "{}", reason
            )
        };
    }
    match containment {
        Containment::Disabled { .. } | Containment::DryRun => line!(info),
        Containment::NotDisableable(_) => line!(warn),
        Containment::Failed(_) => line!(error),
    }
}

/// An authenticated event that led to no action on anyone.
pub(crate) fn event_skipped(
    source: &Source,
    event_id: Option<&EventId>,
    event_type: &str,
    outcome: &str,
    reason: &str,
) {
    tracing::info!(
        target: "audit",
        source = %source,
        event_id = event_id.map(EventId::as_str).unwrap_or(""),
        event_type,
        outcome,
        "{reason}"
    );
}

/// A loss naming more users than the cap: nobody was signed out.
pub(crate) fn too_many_users(event: &LostDeviceEvent, cap: usize) {
    tracing::error!(
        target: "audit",
        source = %event.source,
        event_id = %event.id,
        event_type = %event.event_type,
        users = event.owners.len(),
        cap,
        outcome = "too_many_users",
        "event names more users than MAX_USERS_PER_EVENT; nobody was signed out \
         (raise the cap if this was a real mass loss)"
    );
}
