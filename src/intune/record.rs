//! One Intune audit record (`remoteActionAudit`, Graph beta) and what it means here: a record
//! whose `action` is a configured lost action is a lost device owned by
//! `deviceOwnerUserPrincipalName`; its event id is the record's `id`, its source `intune`.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::{Device, EventId, LossKind, LostDeviceEvent, Owner, Source, UserRef};

/// Every `remoteAction` value Graph defines (beta `remoteAction` enum), spelled as Graph does:
/// `INTUNE_LOST_ACTIONS` may name only these.
const REMOTE_ACTIONS: &[&str] = &[
    "unknown",
    "factoryReset",
    "removeCompanyData",
    "resetPasscode",
    "remoteLock",
    "enableLostMode",
    "disableLostMode",
    "locateDevice",
    "rebootNow",
    "recoverPasscode",
    "cleanWindowsDevice",
    "logoutSharedAppleDeviceActiveUser",
    "quickScan",
    "fullScan",
    "windowsDefenderUpdateSignatures",
    "factoryResetKeepEnrollmentData",
    "updateDeviceAccount",
    "automaticRedeployment",
    "shutDown",
    "rotateBitLockerKeys",
    "rotateFileVaultKey",
    "getFileVaultKey",
    "setDeviceName",
    "activateDeviceEsim",
    "deprovision",
    "disable",
    "reenable",
    "moveDeviceToOrganizationalUnit",
    "initiateMobileDeviceManagementKeyRecovery",
    "initiateOnDemandProactiveRemediation",
    "rotateLocalAdminPassword",
    "launchRemoteHelp",
    "revokeAppleVppLicenses",
    "removeDeviceFirmwareConfigurationInterfaceManagement",
    "pauseConfigurationRefresh",
    "initiateDeviceAttestation",
    "changeAssignments",
    "delete",
];

/// Whether `name` is one of Graph's `remoteAction` values (exact spelling).
pub fn is_remote_action(name: &str) -> bool {
    REMOTE_ACTIONS.contains(&name)
}

/// The fields of a `remoteActionAudit` this function reads; others are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    id: Option<String>,
    action: Option<String>,
    action_state: Option<String>,
    request_date_time: Option<String>,
    device_owner_user_principal_name: Option<String>,
    managed_device_id: Option<String>,
    device_display_name: Option<String>,
}

/// A record, parsed: its id and time are known to be usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: EventId,
    pub action: String,
    /// `actionState`: `pending`, `active`, `done`, `failed`, `canceled`, …
    pub state: String,
    pub requested_at: OffsetDateTime,
    pub owner: Option<String>,
    pub managed_device_id: Option<String>,
    pub device_name: Option<String>,
}

/// Longest device text kept (names are free text typed by admins).
const MAX_TEXT: usize = 256;

fn text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().chars().take(MAX_TEXT).collect::<String>())
        .filter(|v| !v.is_empty())
}

impl AuditRecord {
    /// One element of a page's `value`; the error names what is unusable, never a value.
    pub fn parse(value: &serde_json::Value) -> Result<Self, &'static str> {
        let wire = Wire::deserialize(value).map_err(|_| "is not a remoteActionAudit object")?;
        let id = wire
            .id
            .as_deref()
            .and_then(|id| EventId::parse(id).ok())
            .ok_or("has no usable id")?;
        let requested_at = wire
            .request_date_time
            .as_deref()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .ok_or("has no requestDateTime in RFC 3339")?;
        Ok(Self {
            id,
            action: text(wire.action).unwrap_or_default(),
            state: text(wire.action_state).unwrap_or_default(),
            requested_at,
            owner: text(wire.device_owner_user_principal_name),
            managed_device_id: text(wire.managed_device_id),
            device_name: text(wire.device_display_name),
        })
    }

    /// Whether the record says an admin declared the device lost: its action is one of
    /// `lost_actions` and the admin did not cancel it. A pending, failed or unsupported
    /// lost-mode command still says so: the device is lost whatever it did with the command.
    pub(crate) fn is_loss(&self, lost_actions: &[String]) -> bool {
        lost_actions.contains(&self.action) && !self.state.eq_ignore_ascii_case("canceled")
    }

    /// The lost-device event this record stands for, with `device` (the managed device as
    /// Intune describes it). An owner that is not a usable UPN leaves the device unowned
    /// (audited; nobody to sign out).
    pub(crate) fn event(&self, source: &Source, device: Device) -> LostDeviceEvent {
        let owner = self
            .owner
            .as_deref()
            .and_then(|upn| UserRef::parse(upn).ok());
        let (owners, unowned) = match owner {
            Some(user) => (
                vec![Owner {
                    user,
                    devices: vec![device],
                }],
                Vec::new(),
            ),
            None => (Vec::new(), vec![device]),
        };
        LostDeviceEvent {
            source: source.clone(),
            id: self.id.clone(),
            event_type: self.action.clone(),
            kind: LossKind::Lost,
            owners,
            unowned,
        }
    }

    /// The device as the record names it, before any lookup.
    pub(crate) fn device(&self) -> Device {
        Device {
            id: self.managed_device_id.clone(),
            name: self.device_name.clone(),
            ..Device::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(extra: serde_json::Value) -> serde_json::Value {
        let mut base = json!({
            "@odata.type": "#microsoft.graph.remoteActionAudit",
            "id": "b4e8f0a2-0000-4000-8000-000000000001",
            "deviceDisplayName": "Erin's iPhone",
            "userName": "admin@contoso.com",
            "initiatedByUserPrincipalName": "admin@contoso.com",
            "action": "enableLostMode",
            "requestDateTime": "2026-11-30T10:00:07.1589002Z",
            "deviceOwnerUserPrincipalName": "erin@contoso.com",
            "deviceIMEI": "356938035643809",
            "actionState": "pending",
            "managedDeviceId": "7f6b5c4d-0000-4000-8000-00000000000a",
            "deviceActionCategory": "single"
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base
    }

    #[test]
    fn a_lost_mode_record_becomes_a_loss_owned_by_the_device_owner() {
        let r = AuditRecord::parse(&record(json!({}))).unwrap();
        assert!(r.is_loss(&["enableLostMode".to_owned()]));
        assert_eq!(r.requested_at.nanosecond(), 158_900_200);
        let event = r.event(&Source::parse("intune").unwrap(), r.device());
        assert_eq!(event.id.as_str(), "b4e8f0a2-0000-4000-8000-000000000001");
        assert_eq!(event.owners[0].user.as_str(), "erin@contoso.com");
        assert_eq!(
            event.owners[0].devices[0].name.as_deref(),
            Some("Erin's iPhone")
        );
    }

    #[test]
    fn other_actions_and_canceled_commands_are_not_losses() {
        let lost = ["enableLostMode".to_owned()];
        let lock = AuditRecord::parse(&record(json!({"action": "remoteLock"}))).unwrap();
        assert!(!lock.is_loss(&lost));
        let canceled = AuditRecord::parse(&record(json!({"actionState": "canceled"}))).unwrap();
        assert!(!canceled.is_loss(&lost));
        let failed = AuditRecord::parse(&record(json!({"actionState": "failed"}))).unwrap();
        assert!(failed.is_loss(&lost));
    }

    #[test]
    fn a_record_without_id_or_time_is_refused_naming_the_field() {
        assert_eq!(
            AuditRecord::parse(&record(json!({"id": null}))),
            Err("has no usable id")
        );
        assert_eq!(
            AuditRecord::parse(&record(json!({"requestDateTime": "yesterday"}))),
            Err("has no requestDateTime in RFC 3339")
        );
        assert!(AuditRecord::parse(&json!([1])).is_err());
    }

    #[test]
    fn an_owner_that_is_not_a_upn_leaves_the_device_unowned() {
        let r = AuditRecord::parse(&record(json!({"deviceOwnerUserPrincipalName": ""}))).unwrap();
        let event = r.event(&Source::parse("intune").unwrap(), r.device());
        assert!(event.owners.is_empty());
        assert_eq!(event.unowned.len(), 1);
    }

    #[test]
    fn only_graphs_spellings_are_remote_actions() {
        assert!(is_remote_action("enableLostMode"));
        assert!(is_remote_action("factoryReset"));
        assert!(!is_remote_action("EnableLostMode"));
        assert!(!is_remote_action("retire"));
    }
}
