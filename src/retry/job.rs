//! The retry job: one user still to be signed out and the event that led to them, as the
//! message body on the SQS retry queue. It carries nothing secret: the credentials are read
//! again when it runs.

use serde::{Deserialize, Serialize};

use crate::domain::{Device, EventId, LossKind, LostDeviceEvent, Owner, Source, UserRef};

/// The job format's version; a consumer refuses versions it does not know.
const JOB_VERSION: u32 = 1;

/// At most this many devices travel with a job (they only label the audit line), each field
/// cut to [`MAX_FIELD_CHARS`]: a job stays far below SQS's 256 KiB message limit.
const MAX_JOB_DEVICES: usize = 20;
const MAX_FIELD_CHARS: usize = 128;

/// One user still to be signed out, as a parsed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryJob {
    /// The event, with exactly one owner: the user of this job.
    event: LostDeviceEvent,
    /// Unix seconds when the webhook accepted the event and queued the job.
    accepted_at: i64,
}

impl RetryJob {
    /// The job for `owner` of `event`, with at most [`MAX_JOB_DEVICES`] devices.
    pub(crate) fn new(event: &LostDeviceEvent, owner: &Owner, accepted_at: i64) -> Self {
        let devices = owner
            .devices
            .iter()
            .take(MAX_JOB_DEVICES)
            .map(|d| Device {
                id: d.id.as_deref().map(cut),
                serial_number: d.serial_number.as_deref().map(cut),
                name: d.name.as_deref().map(cut),
                // Containment is the webhook's, done when it first decided the event.
                entra_device_id: None,
                operating_system: None,
            })
            .collect();
        Self {
            event: LostDeviceEvent {
                owners: vec![Owner {
                    user: owner.user.clone(),
                    devices,
                }],
                unowned: Vec::new(),
                event_type: cut(&event.event_type),
                ..event.clone()
            },
            accepted_at,
        }
    }

    /// The event, with this job's one owner.
    pub fn event(&self) -> &LostDeviceEvent {
        &self.event
    }

    /// The job's one user and devices (both constructors make exactly one).
    pub fn owner(&self) -> &Owner {
        &self.event.owners[0]
    }

    /// Unix seconds when the webhook queued the job.
    pub(crate) fn accepted_at(&self) -> i64 {
        self.accepted_at
    }

    /// The message body.
    pub(crate) fn to_json(&self) -> String {
        let owner = self.owner();
        let wire = Wire {
            version: JOB_VERSION,
            source: self.event.source.as_str().to_owned(),
            event_id: self.event.id.as_str().to_owned(),
            event_type: self.event.event_type.clone(),
            kind: self.event.kind.as_str().to_owned(),
            user: owner.user.as_str().to_owned(),
            devices: owner.devices.iter().map(WireDevice::from).collect(),
            accepted_at: self.accepted_at,
        };
        let json = serde_json::to_string(&wire).expect("a job always serializes");
        // SQS refuses U+FFFE and U+FFFF; JSON escapes the other characters it refuses.
        json.replace(['\u{FFFE}', '\u{FFFF}'], "\u{FFFD}")
    }

    /// Parses a message body. Errors name the field, never a value.
    pub fn parse(body: &str) -> Result<Self, JobError> {
        let wire: Wire = serde_json::from_str(body).map_err(|e| {
            // serde_json's message quotes unknown field names and bad values: keep the
            // category and position only.
            JobError(format!(
                "not a job ({:?} at column {})",
                e.classify(),
                e.column()
            ))
        })?;
        if wire.version != JOB_VERSION {
            return Err(JobError(format!("unknown job version {}", wire.version)));
        }
        fn field(name: &'static str) -> impl Fn(crate::domain::DomainError) -> JobError {
            move |_| JobError(format!("field {name} is not valid"))
        }
        let user = UserRef::parse(&wire.user).map_err(field("user"))?;
        let kind = match wire.kind.as_str() {
            "lost" => LossKind::Lost,
            "stolen" => LossKind::Stolen,
            _ => return Err(JobError("field kind is not valid".into())),
        };
        Ok(Self {
            event: LostDeviceEvent {
                source: Source::parse(&wire.source).map_err(field("source"))?,
                id: EventId::parse(&wire.event_id).map_err(field("event_id"))?,
                event_type: wire.event_type,
                kind,
                owners: vec![Owner {
                    user,
                    devices: wire.devices.into_iter().map(Device::from).collect(),
                }],
                unowned: Vec::new(),
            },
            accepted_at: wire.accepted_at,
        })
    }
}

/// `text` cut to [`MAX_FIELD_CHARS`] characters.
fn cut(text: &str) -> String {
    text.chars().take(MAX_FIELD_CHARS).collect()
}

/// A message body that is not a job this version understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed retry job: {0}")]
pub struct JobError(String);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    version: u32,
    source: String,
    event_id: String,
    event_type: String,
    kind: String,
    user: String,
    devices: Vec<WireDevice>,
    accepted_at: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDevice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serial_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

impl From<&Device> for WireDevice {
    fn from(d: &Device) -> Self {
        Self {
            id: d.id.clone(),
            serial_number: d.serial_number.clone(),
            name: d.name.clone(),
        }
    }
}

impl From<WireDevice> for Device {
    fn from(d: WireDevice) -> Self {
        Self {
            id: d.id,
            serial_number: d.serial_number,
            name: d.name,
            entra_device_id: None,
            operating_system: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> RetryJob {
        let event = LostDeviceEvent {
            source: Source::parse("jamf").unwrap(),
            id: EventId::parse("4:1795255320000").unwrap(),
            event_type: "MobileDeviceCommandCompleted".into(),
            kind: LossKind::Stolen,
            owners: vec![
                Owner {
                    user: UserRef::parse("erin@contoso.com").unwrap(),
                    devices: vec![Device {
                        serial_number: Some("G6TXK3F4N72K".into()),
                        ..Device::default()
                    }],
                },
                Owner {
                    user: UserRef::parse("frank@contoso.com").unwrap(),
                    devices: Vec::new(),
                },
            ],
            unowned: vec![Device::default()],
        };
        let owner = event.owners[0].clone();
        RetryJob::new(&event, &owner, 1_795_255_321)
    }

    #[test]
    fn a_job_holds_one_user_and_survives_the_round_trip() {
        let job = job();
        assert_eq!(job.event.owners.len(), 1);
        assert!(job.event.unowned.is_empty());
        assert_eq!(RetryJob::parse(&job.to_json()).unwrap(), job);
    }

    #[test]
    fn a_job_stays_small_and_sendable_whatever_the_event_holds() {
        let long = "\u{FFFF}x".repeat(10_000);
        let owner = Owner {
            user: UserRef::parse("erin@contoso.com").unwrap(),
            devices: vec![
                Device {
                    id: Some(long.clone()),
                    serial_number: Some(long.clone()),
                    name: Some(long),
                    ..Device::default()
                };
                3000
            ],
        };
        let event = LostDeviceEvent {
            owners: vec![owner.clone()],
            ..job().event
        };
        let body = RetryJob::new(&event, &owner, 0).to_json();
        assert!(body.len() < 64 * 1024, "{} bytes", body.len());
        assert!(!body.contains(['\u{FFFE}', '\u{FFFF}']));
        let parsed = RetryJob::parse(&body).unwrap();
        assert_eq!(parsed.owner().devices.len(), MAX_JOB_DEVICES);
    }

    #[test]
    fn the_sample_event_body_is_a_job() {
        let body = r#"{"version":1,"source":"jamf","event_id":"7f2c1b9e:1763712000000","event_type":"SmartGroupMobileDeviceMembershipChange","kind":"lost","user":"jdoe@contoso.com","devices":[{"id":"3fA9C2E1","serial_number":"C02XK1JHJG5H","name":"Jane's iPhone"}],"accepted_at":1763712000}"#;
        let job = RetryJob::parse(body).unwrap();
        assert_eq!(job.owner().user.as_str(), "jdoe@contoso.com");
        assert_eq!(job.owner().devices[0].label(), "C02XK1JHJG5H");
    }

    #[test]
    fn malformed_jobs_are_refused_without_echoing_values() {
        let good: serde_json::Value = serde_json::from_str(&job().to_json()).unwrap();
        let cases = [
            ("version", serde_json::json!(2), "version 2"),
            (
                "user",
                serde_json::json!("alice/../x@contoso.com"),
                "field user",
            ),
            ("kind", serde_json::json!("misplaced"), "field kind"),
            ("source", serde_json::json!("a b"), "field source"),
            ("token", serde_json::json!("s3cr3t-value"), "not a job"),
        ];
        for (key, value, expected) in cases {
            let mut bad = good.clone();
            bad[key] = value.clone();
            let e = RetryJob::parse(&bad.to_string()).unwrap_err().to_string();
            assert!(e.contains(expected), "{key}: {e}");
            assert!(
                !e.contains(value.as_str().unwrap_or("2\u{0}")),
                "{key} echoed: {e}"
            );
        }
        assert!(RetryJob::parse("not json").is_err());
    }
}
