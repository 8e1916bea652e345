//! The canonical lost-device event that relays send (README, "Payloads"): one device, one user.
//! This format is ours, so it is strict: a field of the wrong type or a malformed user is an
//! error, where the Jamf parser would shrug.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{MdmOptions, PayloadError, bounded, ignored, lost_event};
use crate::domain::{Device, EventId, LossKind, ObjectId, Parsed, Source, UserRef};
use crate::payload::json_fields::Fields;

/// A canonical event (`{"type","id","timestamp","data":{"device","user"}}`) -> decision input.
pub(super) fn parse(
    source: &Source,
    body: &Value,
    opts: &MdmOptions,
) -> Result<Parsed, PayloadError> {
    let root = Fields::root(body, "body")?;
    let event_type = root.required_str("type")?;
    let Some(kind) = loss_kind(event_type) else {
        // Not ours to judge: an id that is missing or odd on an event we ignore is not an error.
        let id = root
            .str("id")
            .ok()
            .flatten()
            .and_then(|s| EventId::parse(s).ok());
        return Ok(ignored(
            id,
            event_type,
            "type is not device.lost or device.stolen",
        ));
    };
    let id = EventId::parse(root.required_str("id")?).map_err(|e| root.error("id", e))?;
    check_timestamp(&root)?;
    let (user, device) = match root.object("data")? {
        Some(data) => (user(&data, opts)?, device(&data)?),
        None => (None, Device::default()),
    };
    Ok(lost_event(
        source,
        id,
        event_type,
        kind,
        vec![(user, device)],
        opts.max_users_per_event,
    ))
}

fn loss_kind(event_type: &str) -> Option<LossKind> {
    match event_type {
        "device.lost" => Some(LossKind::Lost),
        "device.stolen" => Some(LossKind::Stolen),
        _ => None,
    }
}

/// The timestamp is informational (the signature scheme bounds replay), but a present one that
/// is not RFC 3339 means the sender is not speaking this format.
fn check_timestamp(root: &Fields) -> Result<(), PayloadError> {
    match root.str("timestamp")? {
        Some(ts) => OffsetDateTime::parse(ts, &Rfc3339)
            .map(|_| ())
            .map_err(|_| root.error("timestamp", "is not an RFC 3339 date-time")),
        None => Ok(()),
    }
}

/// The user is `id`, else `upn`, else `email`; the first present one must be valid, because
/// silently falling through to a weaker field could sign out the wrong person.
fn user(data: &Fields, opts: &MdmOptions) -> Result<Option<UserRef>, PayloadError> {
    let Some(user) = data.object("user")? else {
        return Ok(None);
    };
    if let Some(id) = user.str("id")? {
        return ObjectId::parse(id)
            .map(|id| Some(UserRef::Id(id)))
            .map_err(|e| user.error("id", e));
    }
    for key in ["upn", "email"] {
        if let Some(name) = user.str(key)? {
            return UserRef::from_username(name, opts.user_domain.as_deref())
                .map(Some)
                .map_err(|e| user.error(key, e));
        }
    }
    Ok(None)
}

fn device(data: &Fields) -> Result<Device, PayloadError> {
    let Some(device) = data.object("device")? else {
        return Ok(Device::default());
    };
    let text = |key: &str| -> Result<Option<String>, PayloadError> {
        Ok(device.str(key)?.map(|s| bounded(s.to_owned())))
    };
    let entra_device_id = match device.str("entra_device_id")? {
        Some(raw) => Some(ObjectId::parse(raw).map_err(|e| device.error("entra_device_id", e))?),
        None => None,
    };
    Ok(Device {
        id: text("id")?,
        serial_number: text("serial_number")?,
        name: text("name")?,
        entra_device_id,
        operating_system: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LostDeviceEvent, Owner};
    use crate::payload::{PayloadFormat, parse as parse_body};

    const GUID: &str = "6F1C2A1E-8F5B-4C1D-9E2A-0123456789AB";

    fn opts(user_domain: Option<&str>) -> MdmOptions {
        MdmOptions {
            user_domain: user_domain.map(str::to_owned),
            ..MdmOptions::default()
        }
    }

    fn run(body: &str, opts: &MdmOptions) -> Result<Parsed, PayloadError> {
        let source = Source::parse("standard").unwrap();
        parse_body(PayloadFormat::Canonical, &source, body.as_bytes(), opts)
    }

    fn lost(body: &str) -> LostDeviceEvent {
        match run(body, &opts(None)).unwrap() {
            Parsed::Lost(event) => event,
            other => panic!("expected Lost, got {other:?}"),
        }
    }

    fn error(body: &str) -> PayloadError {
        run(body, &opts(None)).unwrap_err()
    }

    fn only_user(event: &LostDeviceEvent) -> &str {
        assert_eq!(event.owners.len(), 1, "{event:?}");
        event.owners[0].user.as_str()
    }

    fn event_with_user(user: &str) -> String {
        format!(
            r#"{{"type":"device.lost","id":"evt_01","timestamp":"2024-05-01T12:00:00Z",
                "data":{{"device":{{"id":"dev-1","serial_number":"C02XK0AAJGH5","name":"Alice's MacBook"}},
                         "user":{user}}}}}"#
        )
    }

    #[test]
    fn lost_event_names_the_user_by_id_before_upn_and_email() {
        let event = lost(&event_with_user(&format!(
            r#"{{"id":"{GUID}","upn":"alice@contoso.com","email":"alice@mail.contoso.com"}}"#
        )));
        assert_eq!(only_user(&event), GUID.to_ascii_lowercase());
        assert_eq!(event.kind, LossKind::Lost);
        assert_eq!(event.id.as_str(), "evt_01");
        assert_eq!(event.event_type, "device.lost");
        assert_eq!(event.source.as_str(), "standard");
        assert_eq!(
            event.owners[0].devices,
            vec![Device {
                id: Some("dev-1".into()),
                serial_number: Some("C02XK0AAJGH5".into()),
                name: Some("Alice's MacBook".into()),
                ..Device::default()
            }]
        );
        assert!(event.unowned.is_empty());
    }

    #[test]
    fn lost_event_names_the_user_by_upn_before_email() {
        let event = lost(&event_with_user(
            r#"{"upn":"alice@contoso.com","email":"alice@mail.contoso.com"}"#,
        ));
        assert_eq!(only_user(&event), "alice@contoso.com");
    }

    #[test]
    fn lost_event_names_the_user_by_email_when_it_is_the_only_field() {
        let event = lost(&event_with_user(r#"{"email":"alice@mail.contoso.com"}"#));
        assert_eq!(only_user(&event), "alice@mail.contoso.com");
    }

    #[test]
    fn empty_and_null_user_fields_count_as_absent() {
        let event = lost(&event_with_user(
            r#"{"id":"","upn":null,"email":"  alice@contoso.com "}"#,
        ));
        assert_eq!(only_user(&event), "alice@contoso.com");
    }

    #[test]
    fn stolen_event_is_a_loss_of_kind_stolen() {
        let event = lost(
            r#"{"type":"device.stolen","id":"evt_02","data":{"user":{"upn":"bob@contoso.com"}}}"#,
        );
        assert_eq!(event.kind, LossKind::Stolen);
        assert_eq!(event.event_type, "device.stolen");
        assert_eq!(only_user(&event), "bob@contoso.com");
    }

    #[test]
    fn other_event_types_are_ignored_with_their_id() {
        let parsed = run(
            r#"{"type":"device.found","id":"evt_03","data":{"user":{"id":"not-a-guid"}}}"#,
            &opts(None),
        )
        .unwrap();
        assert_eq!(
            parsed,
            Parsed::Ignored {
                id: Some(EventId::parse("evt_03").unwrap()),
                event_type: "device.found".into(),
                reason: "type is not device.lost or device.stolen".into(),
            }
        );
    }

    #[test]
    fn ignored_event_without_a_usable_id_has_none() {
        let parsed = run(r#"{"type":"device.enrolled","id":42}"#, &opts(None)).unwrap();
        assert!(
            matches!(parsed, Parsed::Ignored { id: None, .. }),
            "{parsed:?}"
        );
    }

    #[test]
    fn an_entra_device_id_is_kept_for_containment_and_a_malformed_one_refused_by_name() {
        let event = lost(
            r#"{"type":"device.lost","id":"e","data":{"device":{"entra_device_id":"E1E2E3E4-0000-4000-8000-000000000001"},"user":{"upn":"a@contoso.com"}}}"#,
        );
        let device = &event.owners[0].devices[0];
        assert_eq!(
            device.entra_device_id.as_ref().map(ObjectId::as_str),
            Some("e1e2e3e4-0000-4000-8000-000000000001")
        );
        let refused = error(
            r#"{"type":"device.lost","id":"e","data":{"device":{"entra_device_id":"laptop-7"}}}"#,
        );
        assert!(
            refused.to_string().contains("data.device.entra_device_id"),
            "{refused}"
        );
    }

    #[test]
    fn lost_event_without_a_user_is_lost_with_the_device_unowned() {
        let event = lost(
            r#"{"type":"device.lost","id":"evt_04","data":{"device":{"serial_number":"F9FXK1ABCD"}}}"#,
        );
        assert!(event.owners.is_empty());
        assert_eq!(event.unowned.len(), 1);
        assert_eq!(event.unowned[0].label(), "F9FXK1ABCD");
    }

    #[test]
    fn lost_event_without_data_is_lost_with_an_unknown_unowned_device() {
        let event = lost(r#"{"type":"device.lost","id":"evt_05"}"#);
        assert_eq!(event.owners, Vec::<Owner>::new());
        assert_eq!(event.unowned, vec![Device::default()]);
    }

    #[test]
    fn user_id_that_is_not_a_guid_is_an_error_naming_the_field() {
        let err = error(&event_with_user(
            r#"{"id":"alice@contoso.com","upn":"alice@contoso.com"}"#,
        ));
        assert_eq!(err.field, "data.user.id");
        assert!(!err.to_string().contains("alice"), "{err}");
    }

    #[test]
    fn bare_upn_is_completed_with_user_domain_and_an_error_without_it() {
        let body = event_with_user(r#"{"upn":"carol"}"#);
        let err = run(&body, &opts(None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "data.user.upn: is a bare username and USER_DOMAIN is not set"
        );
        let Parsed::Lost(event) = run(&body, &opts(Some("contoso.com"))).unwrap() else {
            panic!("expected Lost");
        };
        assert_eq!(only_user(&event), "carol@contoso.com");
    }

    #[test]
    fn malformed_email_is_an_error_naming_the_field() {
        let err = error(&event_with_user(r#"{"email":"carol at contoso"}"#));
        assert_eq!(err.field, "data.user.email");
    }

    #[test]
    fn timestamp_that_is_not_rfc3339_is_an_error_naming_the_field() {
        for ts in [r#""yesterday""#, r#""2024-05-01 12:00:00""#, "1714564800"] {
            let err = error(&format!(
                r#"{{"type":"device.lost","id":"evt_06","timestamp":{ts}}}"#
            ));
            assert_eq!(err.field, "timestamp", "{ts}");
        }
        let ok = lost(r#"{"type":"device.lost","id":"e","timestamp":"2024-05-01T14:00:00+02:00"}"#);
        assert_eq!(ok.id.as_str(), "e");
    }

    #[test]
    fn missing_or_empty_id_is_an_error_naming_id() {
        assert_eq!(
            error(r#"{"type":"device.lost"}"#).to_string(),
            "id: is required"
        );
        assert_eq!(
            error(r#"{"type":"device.lost","id":"  "}"#).to_string(),
            "id: is empty"
        );
        assert_eq!(
            error(r#"{"type":"device.lost","id":"a b"}"#).to_string(),
            "id: contains a control or whitespace character"
        );
    }

    #[test]
    fn missing_type_is_an_error_naming_type() {
        assert_eq!(error(r#"{"id":"evt_07"}"#).to_string(), "type: is required");
    }

    #[test]
    fn type_errors_name_the_field_and_never_echo_the_value() {
        let cases = [
            (
                r#"{"type":"device.lost","id":987654321}"#,
                "id",
                "987654321",
            ),
            (
                r#"{"type":"device.lost","id":"e","data":"hunter2-secret"}"#,
                "data",
                "hunter2",
            ),
            (
                r#"{"type":"device.lost","id":"e","data":{"user":{"upn":["hunter2@x.com"]}}}"#,
                "data.user.upn",
                "hunter2",
            ),
            (
                r#"{"type":"device.lost","id":"e","data":{"device":{"name":{"x":"hunter2"}}}}"#,
                "data.device.name",
                "hunter2",
            ),
            (r#"{"type":7777777}"#, "type", "7777777"),
        ];
        for (body, field, secret) in cases {
            let err = error(body);
            assert_eq!(err.field, field, "{body}");
            assert!(!err.to_string().contains(secret), "{err}");
        }
    }

    #[test]
    fn mutated_canonical_events_never_panic_or_echo_values_in_errors() {
        use crate::payload::properties::assert_errors_never_echo_values;
        let body = event_with_user(&format!(
            r#"{{"id":"{GUID}","upn":"alice@contoso.com","email":"alice@mail.contoso.com"}}"#
        ));
        assert_errors_never_echo_values(PayloadFormat::Canonical, &body, &opts(None));
    }

    #[test]
    fn truncated_canonical_bodies_are_errors_naming_body() {
        use crate::payload::properties::assert_truncations_are_body_errors;
        assert_truncations_are_body_errors(PayloadFormat::Canonical, &event_with_user("{}"));
    }
}
