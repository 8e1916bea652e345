//! Jamf Pro JSON webhooks (`{"webhook":{…},"event":{…}}`): smart-group membership changes and
//! completed MDM commands become losses when configured to; every other event is ignored.
//! The envelope is strict; per-device inventory data is lenient, as one messy record must not
//! keep the other devices' owners signed in.

use serde_json::Value;

use super::{MdmOptions, PayloadError, bounded, ignored, lost_event};
use crate::domain::{Device, EventId, LossKind, Parsed, Source, UserRef};
use crate::payload::json_fields::Fields;
use crate::payload::json_fields::scalar_text;

const SMART_GROUP_MOBILE: &str = "SmartGroupMobileDeviceMembershipChange";
const SMART_GROUP_COMPUTER: &str = "SmartGroupComputerMembershipChange";
const COMMAND_COMPLETED: &str = "MobileDeviceCommandCompleted";

/// What every Jamf event carries, whatever its type.
struct Envelope<'a> {
    source: &'a Source,
    id: EventId,
    event_type: &'a str,
    max_users: usize,
}

impl Envelope<'_> {
    fn ignored(self, reason: &str) -> Parsed {
        ignored(Some(self.id), self.event_type, reason)
    }

    fn lost(self, devices: Vec<(Option<UserRef>, Device)>) -> Parsed {
        // Jamf says "lost mode" or "in this group", never "stolen".
        lost_event(
            self.source,
            self.id,
            self.event_type,
            LossKind::Lost,
            devices,
            self.max_users,
        )
    }
}

/// A Jamf Pro webhook body -> decision input.
pub(super) fn parse(
    source: &Source,
    body: &Value,
    opts: &MdmOptions,
) -> Result<Parsed, PayloadError> {
    let root = Fields::root(body, "body")?;
    let webhook = root.required_object("webhook")?;
    let event = root.required_object("event")?;
    let envelope = Envelope {
        source,
        id: event_id(&webhook)?,
        event_type: webhook.required_str("webhookEvent")?,
        max_users: opts.max_users_per_event,
    };
    match envelope.event_type {
        SMART_GROUP_MOBILE | SMART_GROUP_COMPUTER => smart_group(envelope, &event, opts),
        COMMAND_COMPLETED => command_completed(envelope, &event, opts),
        _ => Ok(envelope.ignored("not a smart-group or command-completed event")),
    }
}

/// Jamf sends no event id; the webhook's id plus its millisecond timestamp is unique enough to
/// recognise a redelivery of the same event.
fn event_id(webhook: &Fields) -> Result<EventId, PayloadError> {
    let id = webhook.required_id_text("id")?;
    let at = webhook.required_id_text("eventTimestamp")?;
    EventId::parse(&id).map_err(|e| webhook.error("id", e))?;
    EventId::parse(&at).map_err(|e| webhook.error("eventTimestamp", e))?;
    EventId::parse(&format!("{id}-{at}")).map_err(|e| webhook.error("id", e))
}

fn smart_group(
    envelope: Envelope,
    event: &Fields,
    opts: &MdmOptions,
) -> Result<Parsed, PayloadError> {
    if !group_is_lost(event, &opts.jamf_lost_groups)? {
        return Ok(envelope.ignored("smart group not in JAMF_LOST_GROUPS"));
    }
    let user_domain = opts.user_domain.as_deref();
    // Only additions: a device leaving the group (found, wiped, re-enrolled) is not a loss.
    let mut devices: Vec<_> = event
        .objects("groupAddedDevices")?
        .iter()
        .map(|entry| owned_device(entry, user_domain))
        .collect();
    if devices.is_empty() {
        devices = devices_by_id_only(event)?;
    }
    if devices.is_empty() {
        return Ok(envelope.ignored("no devices added"));
    }
    Ok(envelope.lost(devices))
}

/// Whether the group is configured as lost, by id (`jssid`, as decimal text) or by name (trimmed,
/// case-insensitive, as admins type names the way they remember them).
fn group_is_lost(event: &Fields, lost_groups: &[String]) -> Result<bool, PayloadError> {
    let jssid = event.id_text("jssid")?;
    let name = event.str("name")?.map(str::to_lowercase);
    Ok(lost_groups
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
        .any(|g| jssid.as_deref() == Some(g) || name.as_deref() == Some(&g.to_lowercase())))
}

/// Computer smart-group events may list additions only as `groupAddedDevicesIds`. Those devices
/// are still lost: report them unowned (so the caller answers no_user and audits them) rather
/// than ignoring a configured group's additions.
fn devices_by_id_only(event: &Fields) -> Result<Vec<(Option<UserRef>, Device)>, PayloadError> {
    let ids = event.array("groupAddedDevicesIds")?;
    Ok(ids
        .iter()
        .filter_map(|id| scalar_text(id).flatten())
        .map(|id| {
            let device = Device {
                id: Some(bounded(format!("jssid:{id}"))),
                ..Device::default()
            };
            (None, device)
        })
        .collect())
}

fn command_completed(
    envelope: Envelope,
    event: &Fields,
    opts: &MdmOptions,
) -> Result<Parsed, PayloadError> {
    // `mdmCommand` exists from Jamf Pro 11.14; older servers never send it, so never match.
    let command = event.loose_text("mdmCommand");
    let is_lost = command.is_some_and(|c| {
        opts.jamf_lost_commands
            .iter()
            .any(|l| l.trim().eq_ignore_ascii_case(&c))
    });
    if !is_lost {
        return Ok(envelope.ignored("command not in JAMF_LOST_COMMANDS"));
    }
    let device = owned_device(event, opts.user_domain.as_deref());
    Ok(envelope.lost(vec![device]))
}

/// A device record and its user: `username` (completed with `USER_DOMAIN` when bare), else
/// `emailAddress`, else nobody. A bad value falls through instead of failing the event.
fn owned_device(entry: &Fields, user_domain: Option<&str>) -> (Option<UserRef>, Device) {
    let user = entry
        .loose_text("username")
        .and_then(|u| UserRef::from_username(&u, user_domain).ok())
        .or_else(|| {
            entry
                .loose_text("emailAddress")
                .and_then(|e| UserRef::parse(&e).ok())
        });
    let text = |key: &str| entry.loose_text(key).map(bounded);
    let device = Device {
        id: text("udid"),
        serial_number: text("serialNumber"),
        name: text("deviceName"),
        ..Device::default()
    };
    (user, device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LostDeviceEvent;
    use crate::payload::{PayloadFormat, parse as parse_body};

    /// A SmartGroupMobileDeviceMembershipChange as Jamf Pro sends it: three devices joined the
    /// "Lost or Stolen iPads" group (Alice twice, once with a bare username), two left it.
    const SMART_GROUP_EVENT: &str = r#"{
      "webhook": {
        "eventTimestamp": 1714564800123,
        "id": 7,
        "name": "Lost devices to Entra revoker",
        "webhookEvent": "SmartGroupMobileDeviceMembershipChange"
      },
      "event": {
        "computer": false,
        "groupAddedDevices": [
          {
            "bluetoothMacAddress": "a4:d1:d2:11:22:33",
            "deviceName": "Alice's iPad",
            "icciID": "",
            "imei": "35 209900 176148 1",
            "ipAddress": "10.20.30.41",
            "jssID": 101,
            "managementId": "3c1e7a52-7d0c-4b0e-9f63-0c1a7e6d2b11",
            "model": "iPad Pro (11-inch) (4th generation)",
            "modelDisplay": "iPad Pro (11-inch) (4th generation)",
            "osBuild": "21E236",
            "osVersion": "17.4.1",
            "product": "iPad14,3",
            "room": "4.12",
            "serialNumber": "DMPXK1ABCD01",
            "udid": "00008103-001A2B3C4D5E6F70",
            "userDirectoryID": "-1",
            "username": "alice@contoso.com",
            "version": "17.4.1",
            "wifiMacAddress": "a4:d1:d2:11:22:34"
          },
          {
            "bluetoothMacAddress": "f0:5c:77:aa:bb:cc",
            "deviceName": "Alice's iPhone",
            "icciID": "89 01410 12345 67890 1234",
            "imei": "35 391110 987654 3",
            "ipAddress": "10.20.30.77",
            "jssID": 102,
            "managementId": "9b2f4c10-1e2d-4f3a-8b5c-6d7e8f901a22",
            "model": "iPhone 15",
            "modelDisplay": "iPhone 15",
            "osBuild": "21E236",
            "osVersion": "17.4.1",
            "product": "iPhone15,4",
            "room": "",
            "serialNumber": "G6TZ2ABCDE02",
            "udid": "00008120-000A1B2C3D4E5F60",
            "userDirectoryID": "-1",
            "username": "alice",
            "version": "17.4.1",
            "wifiMacAddress": "f0:5c:77:aa:bb:cd"
          },
          {
            "bluetoothMacAddress": "",
            "deviceName": "Bob's iPad",
            "icciID": "",
            "imei": "",
            "ipAddress": "10.20.31.9",
            "jssID": 103,
            "managementId": "0f6a9d3e-5c4b-4a2d-9e1f-7b8c9d0e1f33",
            "model": "iPad (10th generation)",
            "modelDisplay": "iPad (10th generation)",
            "osBuild": "21D61",
            "osVersion": "17.3.1",
            "product": "iPad13,18",
            "room": "",
            "serialNumber": "HX7QK2ABCD03",
            "udid": "00008101-000B2C3D4E5F6A70",
            "userDirectoryID": "-1",
            "username": "bob@contoso.com",
            "version": "17.3.1",
            "wifiMacAddress": "3c:22:fb:00:11:22"
          }
        ],
        "groupAddedDevicesIds": [101, 102, 103],
        "groupRemovedDevices": [
          {
            "deviceName": "Carol's iPad",
            "jssID": 88,
            "serialNumber": "DMPQR9ABCD88",
            "udid": "00008103-000C3D4E5F6A7B80",
            "userDirectoryID": "-1",
            "username": "carol@contoso.com"
          },
          {
            "deviceName": "Dave's iPhone",
            "jssID": 89,
            "serialNumber": "F2LZ8ABCDE89",
            "udid": "00008120-000D4E5F6A7B8C90",
            "userDirectoryID": "-1",
            "username": "dave@contoso.com"
          }
        ],
        "groupRemovedDevicesIds": [88, 89],
        "jssid": 42,
        "name": "Lost or Stolen iPads",
        "smartGroup": true
      }
    }"#;

    /// A MobileDeviceCommandCompleted for EnableLostMode (Jamf Pro 11.14+ adds `mdmCommand`).
    const LOST_MODE_COMMAND_EVENT: &str = r#"{
      "webhook": {
        "eventTimestamp": 1714565100456,
        "id": 9,
        "name": "Lost mode to Entra revoker",
        "webhookEvent": "MobileDeviceCommandCompleted"
      },
      "event": {
        "bluetoothMacAddress": "f0:5c:77:aa:bb:cc",
        "deviceName": "Bob's iPhone",
        "icciID": "89 01410 12345 67890 5678",
        "imei": "35 391110 123456 7",
        "ipAddress": "10.20.31.44",
        "jssID": 205,
        "managementId": "5e4d3c2b-1a09-4f8e-8d7c-6b5a4f3e2d44",
        "mdmCommand": "EnableLostMode",
        "mdmCommandUUID": "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b55",
        "model": "iPhone 14",
        "modelDisplay": "iPhone 14",
        "osBuild": "21E236",
        "osVersion": "17.4.1",
        "product": "iPhone14,7",
        "room": "",
        "serialNumber": "KQ4RT7ABCD05",
        "udid": "00008110-000E5F6A7B8C9DA0",
        "userDirectoryID": "-1",
        "username": "bob@contoso.com",
        "version": "17.4.1",
        "wifiMacAddress": "f0:5c:77:aa:bb:ce"
      }
    }"#;

    fn opts(groups: &[&str], user_domain: Option<&str>) -> MdmOptions {
        MdmOptions {
            user_domain: user_domain.map(str::to_owned),
            jamf_lost_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            jamf_lost_commands: vec!["EnableLostMode".to_owned()],
            ..MdmOptions::default()
        }
    }

    fn run(body: &str, opts: &MdmOptions) -> Result<Parsed, PayloadError> {
        let source = Source::parse("jamf").unwrap();
        parse_body(PayloadFormat::Jamf, &source, body.as_bytes(), opts)
    }

    fn lost(body: &str, opts: &MdmOptions) -> LostDeviceEvent {
        match run(body, opts).unwrap() {
            Parsed::Lost(event) => event,
            other => panic!("expected Lost, got {other:?}"),
        }
    }

    fn ignored_reason(body: &str, opts: &MdmOptions) -> String {
        match run(body, opts).unwrap() {
            Parsed::Ignored { reason, .. } => reason,
            other => panic!("expected Ignored, got {other:?}"),
        }
    }

    /// Owners as (user, [device serials]) for compact assertions.
    fn owners(event: &LostDeviceEvent) -> Vec<(String, Vec<String>)> {
        event
            .owners
            .iter()
            .map(|o| {
                let serials = o.devices.iter().map(|d| d.label().to_owned()).collect();
                (o.user.as_str().to_owned(), serials)
            })
            .collect()
    }

    fn owner(user: &str, serials: &[&str]) -> (String, Vec<String>) {
        let serials = serials.iter().map(|s| (*s).to_owned()).collect();
        (user.to_owned(), serials)
    }

    /// A group-change body with the given group identity and added-device entries.
    fn group_event(event_type: &str, jssid: &str, name: &str, added: &str) -> String {
        format!(
            r#"{{"webhook":{{"id":3,"name":"w","webhookEvent":"{event_type}","eventTimestamp":1700000000000}},
                "event":{{"jssid":{jssid},"name":"{name}","smartGroup":true,
                          "groupAddedDevices":[{added}],"groupRemovedDevices":[]}}}}"#
        )
    }

    /// A smart group of 20,000 devices, each of another user: grouping stops at the first user
    /// past the cap (the decider refuses such an event whole), so a large body costs linear
    /// time and no more owners than the cap allows.
    #[test]
    fn grouping_stops_at_the_first_user_past_the_cap() {
        let added: Vec<String> = (0..20_000)
            .map(|i| format!(r#"{{"serialNumber":"SN{i}","username":"user{i}@contoso.com"}}"#))
            .collect();
        let body = group_event(SMART_GROUP_MOBILE, "42", "Lost", &added.join(","));
        let capped = MdmOptions {
            max_users_per_event: 50,
            ..opts(&["42"], None)
        };

        let event = lost(&body, &capped);

        assert_eq!(event.owners.len(), 51);
        assert_eq!(event.owners[50].user.as_str(), "user50@contoso.com");
        assert_eq!(lost(&body, &opts(&["42"], None)).owners.len(), 20_000);
    }

    #[test]
    fn smart_group_added_devices_are_lost_grouped_by_owner_and_removals_ignored() {
        let event = lost(SMART_GROUP_EVENT, &opts(&["42"], Some("contoso.com")));
        assert_eq!(
            owners(&event),
            vec![
                owner("alice@contoso.com", &["DMPXK1ABCD01", "G6TZ2ABCDE02"]),
                owner("bob@contoso.com", &["HX7QK2ABCD03"]),
            ]
        );
        assert!(event.unowned.is_empty());
        assert_eq!(event.kind, LossKind::Lost);
        assert_eq!(event.event_type, SMART_GROUP_MOBILE);
        assert_eq!(event.source.as_str(), "jamf");
        assert_eq!(
            event.owners[1].devices[0],
            Device {
                id: Some("00008101-000B2C3D4E5F6A70".into()),
                serial_number: Some("HX7QK2ABCD03".into()),
                name: Some("Bob's iPad".into()),
                ..Device::default()
            }
        );
    }

    #[test]
    fn event_id_is_webhook_id_dash_event_timestamp() {
        let event = lost(SMART_GROUP_EVENT, &opts(&["42"], Some("contoso.com")));
        assert_eq!(event.id.as_str(), "7-1714564800123");
        let as_strings = SMART_GROUP_EVENT
            .replace(r#""id": 7,"#, r#""id": "7","#)
            .replace("1714564800123", r#""1714564800123""#);
        let event = lost(&as_strings, &opts(&["42"], Some("contoso.com")));
        assert_eq!(event.id.as_str(), "7-1714564800123");
    }

    #[test]
    fn smart_group_not_configured_is_ignored() {
        for groups in [&[][..], &["43", "Lost Macs"][..]] {
            let parsed = run(SMART_GROUP_EVENT, &opts(groups, Some("contoso.com"))).unwrap();
            assert_eq!(
                parsed,
                Parsed::Ignored {
                    id: Some(EventId::parse("7-1714564800123").unwrap()),
                    event_type: SMART_GROUP_MOBILE.into(),
                    reason: "smart group not in JAMF_LOST_GROUPS".into(),
                }
            );
        }
    }

    #[test]
    fn smart_group_matches_by_name_case_insensitively() {
        let event = lost(
            SMART_GROUP_EVENT,
            &opts(&["  lost OR stolen IPADS "], Some("contoso.com")),
        );
        assert_eq!(event.owners.len(), 2);
    }

    #[test]
    fn smart_group_matches_by_jssid_as_number_or_string() {
        let added = r#"{"serialNumber":"S1","username":"erin@contoso.com"}"#;
        for jssid in ["42", r#""42""#] {
            let body = group_event(SMART_GROUP_COMPUTER, jssid, "Stolen Macs", added);
            let event = lost(&body, &opts(&[" 42"], None));
            assert_eq!(owners(&event), vec![owner("erin@contoso.com", &["S1"])]);
            assert_eq!(event.event_type, SMART_GROUP_COMPUTER);
        }
        let body = group_event(SMART_GROUP_COMPUTER, "420", "Stolen Macs", added);
        assert_eq!(
            ignored_reason(&body, &opts(&["42"], None)),
            "smart group not in JAMF_LOST_GROUPS"
        );
    }

    #[test]
    fn matching_group_with_no_devices_added_is_ignored() {
        let body = group_event(SMART_GROUP_MOBILE, "42", "Lost", "");
        assert_eq!(
            ignored_reason(&body, &opts(&["42"], None)),
            "no devices added"
        );
    }

    #[test]
    fn matching_group_listing_additions_only_by_id_reports_them_unowned() {
        let body = r#"{"webhook":{"id":3,"webhookEvent":"SmartGroupComputerMembershipChange","eventTimestamp":1},
            "event":{"computer":true,"groupAddedDevices":[],"groupAddedDevicesIds":[17,18],
                     "groupRemovedDevices":[],"groupRemovedDevicesIds":[],"jssid":42,"name":"Stolen Macs","smartGroup":true}}"#;
        let event = lost(body, &opts(&["42"], None));
        assert!(event.owners.is_empty());
        let labels: Vec<_> = event.unowned.iter().map(Device::label).collect();
        assert_eq!(labels, ["jssid:17", "jssid:18"]);
    }

    #[test]
    fn bare_username_with_user_domain_becomes_name_at_domain() {
        let added = r#"{"serialNumber":"S1","username":"frank.miller"}"#;
        let body = group_event(SMART_GROUP_MOBILE, "42", "Lost", added);
        let event = lost(&body, &opts(&["42"], Some("contoso.com")));
        assert_eq!(
            owners(&event),
            vec![owner("frank.miller@contoso.com", &["S1"])]
        );
    }

    #[test]
    fn bare_username_without_user_domain_and_no_email_leaves_the_device_unowned() {
        let event = lost(SMART_GROUP_EVENT, &opts(&["42"], None));
        assert_eq!(
            owners(&event),
            vec![
                owner("alice@contoso.com", &["DMPXK1ABCD01"]),
                owner("bob@contoso.com", &["HX7QK2ABCD03"]),
            ]
        );
        let unowned: Vec<_> = event.unowned.iter().map(Device::label).collect();
        assert_eq!(unowned, ["G6TZ2ABCDE02"]);
    }

    #[test]
    fn device_without_username_falls_back_to_email_and_with_neither_is_unowned() {
        let added = r#"{"serialNumber":"S1","username":"","emailAddress":"grace@contoso.com"},
                       {"serialNumber":"S2","emailAddress":"heidi@contoso.com"},
                       {"serialNumber":"S3","username":null,"emailAddress":""},
                       {"serialNumber":"S4","username":"ivan","emailAddress":"ivan@contoso.com"}"#;
        let body = group_event(SMART_GROUP_COMPUTER, "42", "Stolen Macs", added);
        let event = lost(&body, &opts(&["42"], None));
        assert_eq!(
            owners(&event),
            vec![
                owner("grace@contoso.com", &["S1"]),
                owner("heidi@contoso.com", &["S2"]),
                owner("ivan@contoso.com", &["S4"]),
            ]
        );
        let unowned: Vec<_> = event.unowned.iter().map(Device::label).collect();
        assert_eq!(unowned, ["S3"]);
    }

    #[test]
    fn malformed_username_falls_back_to_email_without_failing_other_devices() {
        let added = r#"{"serialNumber":"S1","username":"judy smith","emailAddress":"judy@contoso.com"},
                       {"serialNumber":"S2","username":"ken@@contoso","emailAddress":"not an email"},
                       {"serialNumber":"S3","username":["odd"],"deviceName":{"odd":true}},
                       {"serialNumber":"S4","username":"leo@contoso.com"}"#;
        let body = group_event(SMART_GROUP_MOBILE, "42", "Lost", added);
        let event = lost(&body, &opts(&["42"], Some("contoso.com")));
        assert_eq!(
            owners(&event),
            vec![
                owner("judy@contoso.com", &["S1"]),
                owner("leo@contoso.com", &["S4"]),
            ]
        );
        let unowned: Vec<_> = event.unowned.iter().map(Device::label).collect();
        assert_eq!(unowned, ["S2", "S3"]);
        assert_eq!(event.unowned[1].name, None);
    }

    #[test]
    fn enable_lost_mode_command_is_a_loss_for_the_device_user() {
        let event = lost(LOST_MODE_COMMAND_EVENT, &opts(&[], None));
        assert_eq!(event.id.as_str(), "9-1714565100456");
        assert_eq!(event.event_type, COMMAND_COMPLETED);
        assert_eq!(event.kind, LossKind::Lost);
        assert_eq!(
            owners(&event),
            vec![owner("bob@contoso.com", &["KQ4RT7ABCD05"])]
        );
        assert_eq!(
            event.owners[0].devices[0].id.as_deref(),
            Some("00008110-000E5F6A7B8C9DA0")
        );
    }

    #[test]
    fn lost_commands_match_trimmed_and_case_insensitively() {
        let mut options = opts(&[], None);
        options.jamf_lost_commands = vec![" enablelostmode ".into()];
        let event = lost(LOST_MODE_COMMAND_EVENT, &options);
        assert_eq!(event.owners.len(), 1);
    }

    #[test]
    fn command_that_is_not_a_lost_command_is_ignored() {
        let body = LOST_MODE_COMMAND_EVENT.replace("EnableLostMode", "DeviceInformation");
        assert_eq!(
            ignored_reason(&body, &opts(&[], None)),
            "command not in JAMF_LOST_COMMANDS"
        );
    }

    #[test]
    fn command_event_without_mdm_command_is_ignored() {
        let body = LOST_MODE_COMMAND_EVENT.replace(r#""mdmCommand": "EnableLostMode","#, "");
        assert_eq!(
            ignored_reason(&body, &opts(&[], None)),
            "command not in JAMF_LOST_COMMANDS"
        );
    }

    #[test]
    fn lost_command_for_a_device_without_a_user_leaves_it_unowned() {
        let body = LOST_MODE_COMMAND_EVENT.replace(r#""username": "bob@contoso.com","#, "");
        let event = lost(&body, &opts(&[], None));
        assert!(event.owners.is_empty());
        assert_eq!(event.unowned[0].label(), "KQ4RT7ABCD05");
    }

    #[test]
    fn unrelated_event_is_ignored_with_its_id() {
        let body = r#"{"webhook":{"eventTimestamp":1553550275590,"id":5,"name":"check-ins","webhookEvent":"ComputerCheckIn"},
            "event":{"computer":{"deviceName":"Mallory's Mac","username":"mallory@contoso.com","serialNumber":"C02M23PJFH50"},"trigger":"CHECKIN","username":"mallory"}}"#;
        assert_eq!(
            run(body, &opts(&["42"], Some("contoso.com"))).unwrap(),
            Parsed::Ignored {
                id: Some(EventId::parse("5-1553550275590").unwrap()),
                event_type: "ComputerCheckIn".into(),
                reason: "not a smart-group or command-completed event".into(),
            }
        );
    }

    #[test]
    fn missing_webhook_or_event_objects_are_errors_naming_them() {
        let cases = [
            (r#"{"event":{}}"#, "webhook: is required"),
            (
                r#"{"webhook":{"id":1,"eventTimestamp":2,"webhookEvent":"X"}}"#,
                "event: is required",
            ),
            (
                r#"{"webhook":"hunter2","event":{}}"#,
                "webhook: must be an object",
            ),
            (
                r#"{"webhook":{"id":1,"eventTimestamp":2,"webhookEvent":"X"},"event":[]}"#,
                "event: must be an object",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                run(body, &opts(&[], None)).unwrap_err().to_string(),
                expected
            );
        }
    }

    #[test]
    fn missing_or_malformed_webhook_fields_are_errors_naming_them() {
        let cases = [
            (
                r#"{"webhook":{"eventTimestamp":2,"webhookEvent":"X"},"event":{}}"#,
                "webhook.id",
            ),
            (
                r#"{"webhook":{"id":1,"webhookEvent":"X"},"event":{}}"#,
                "webhook.eventTimestamp",
            ),
            (
                r#"{"webhook":{"id":1,"eventTimestamp":1.5,"webhookEvent":"X"},"event":{}}"#,
                "webhook.eventTimestamp",
            ),
            (
                r#"{"webhook":{"id":"a b","eventTimestamp":2,"webhookEvent":"X"},"event":{}}"#,
                "webhook.id",
            ),
            (
                r#"{"webhook":{"id":1,"eventTimestamp":2},"event":{}}"#,
                "webhook.webhookEvent",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(
                run(body, &opts(&[], None)).unwrap_err().field,
                field,
                "{body}"
            );
        }
    }

    #[test]
    fn malformed_group_structure_is_an_error_naming_the_path_without_the_value() {
        let body = group_event(
            SMART_GROUP_MOBILE,
            "42",
            "Lost",
            r#"{"serialNumber":"S1"}, "hunter2""#,
        );
        let err = run(&body, &opts(&["42"], None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "event.groupAddedDevices[1]: must be an object"
        );
        let body = group_event(SMART_GROUP_MOBILE, "true", "Lost", "");
        let err = run(&body, &opts(&["42"], None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "event.jssid: must be an integer or a string"
        );
    }

    #[test]
    fn mutated_jamf_fixtures_never_panic_or_echo_values_in_errors() {
        use crate::payload::properties::assert_errors_never_echo_values;
        let options = opts(&["42"], Some("contoso.com"));
        assert_errors_never_echo_values(PayloadFormat::Jamf, SMART_GROUP_EVENT, &options);
        assert_errors_never_echo_values(PayloadFormat::Jamf, LOST_MODE_COMMAND_EVENT, &options);
    }

    #[test]
    fn truncated_jamf_bodies_are_errors_naming_body() {
        use crate::payload::properties::assert_truncations_are_body_errors;
        assert_truncations_are_body_errors(PayloadFormat::Jamf, LOST_MODE_COMMAND_EVENT);
    }
}
