//! Domain types, parsed once at the edge ("parse, don't validate").
//!
//! Everything downstream of the MDM parsers and the configuration holds these types, never raw
//! strings: a `UserRef` is known to be a GUID or a plausible user principal name, a `Source` is
//! known to be a safe route segment.

use std::fmt;

/// Why a value could not become a domain type. Never carries the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {0} characters")]
    TooLong(usize),
    #[error("contains a control or whitespace character")]
    BadCharacter,
    #[error("is not a user principal name (name@domain, Entra's characters only)")]
    NotAUpn,
    #[error("is not a DNS domain such as contoso.com")]
    NotADomain,
    #[error("is a bare username and USER_DOMAIN is not set")]
    BareUsername,
    #[error("is not an Entra object id (GUID)")]
    NotAnObjectId,
    #[error("may only contain ASCII letters, digits, '-' and '_'")]
    BadSourceName,
}

fn check_text(raw: &str, max: usize) -> Result<&str, DomainError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(DomainError::Empty);
    }
    if s.chars().count() > max {
        return Err(DomainError::TooLong(max));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(DomainError::BadCharacter);
    }
    Ok(s)
}

/// A webhook source: the last path segment of `POST /{source}`, and a key of the secret's
/// `webhooks` map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source(String);

impl Source {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty() {
            return Err(DomainError::Empty);
        }
        if raw.len() > 64 {
            return Err(DomainError::TooLong(64));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(DomainError::BadSourceName);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The sender's id for one event; with the source, the key for duplicate detection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        check_text(raw, Self::MAX_LEN).map(|s| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True for a DNS name of at least two labels (letters, digits, inner hyphens).
pub fn is_dns_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Characters Entra allows in the name part of a UPN, besides letters and digits (`$` occurs
/// in synced accounts; Graph addresses those as `users('$…')`).
const UPN_NAME_PUNCTUATION: &[u8] = b"'.-_!#^~$";

/// An Entra user principal name (`alice@contoso.com`, guests `alice_x.com#EXT#@tenant.com`).
/// Only Entra's UPN characters are accepted, so no path, query or escape character can ever
/// reach a Graph URL. Kept as received; compared case-insensitively, as Entra does.
#[derive(Debug, Clone)]
pub struct Upn(String);

impl Upn {
    /// Entra allows 113 characters in a UPN; allow some slack for unusual tenants.
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = check_text(raw, Self::MAX_LEN)?;
        match s.split_once('@') {
            Some((name, domain))
                if !name.is_empty()
                    && name.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || UPN_NAME_PUNCTUATION.contains(&b)
                    })
                    && is_dns_domain(domain) =>
            {
                Ok(Self(s.to_owned()))
            }
            _ => Err(DomainError::NotAUpn),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Upn {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for Upn {}

/// Consistent with `eq`: UPNs that differ only in case hash alike.
impl std::hash::Hash for Upn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for byte in self.0.bytes() {
            state.write_u8(byte.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

/// An Entra object id: a GUID, stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectId(String);

impl ObjectId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        let groups: Vec<&str> = s.split('-').collect();
        let shape_ok = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
        if shape_ok {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(DomainError::NotAnObjectId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How Graph addresses a user: `/users/{id | userPrincipalName}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserRef {
    Id(ObjectId),
    Upn(Upn),
}

impl UserRef {
    /// An object id when the text is a GUID, otherwise a UPN.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match ObjectId::parse(raw) {
            Ok(id) => Ok(Self::Id(id)),
            Err(_) => Upn::parse(raw).map(Self::Upn),
        }
    }

    /// A username as an MDM reports it: a GUID, a UPN, or a bare name that `user_domain`
    /// (`USER_DOMAIN`) completes to `name@domain`.
    pub fn from_username(raw: &str, user_domain: Option<&str>) -> Result<Self, DomainError> {
        let trimmed = check_text(raw, Upn::MAX_LEN)?;
        if trimmed.contains('@') || ObjectId::parse(trimmed).is_ok() {
            return Self::parse(trimmed);
        }
        match user_domain {
            Some(domain) => Upn::parse(&format!("{trimmed}@{domain}")).map(Self::Upn),
            None => Err(DomainError::BareUsername),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Id(id) => id.as_str(),
            Self::Upn(upn) => upn.as_str(),
        }
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the MDM says happened to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    Lost,
    Stolen,
}

impl LossKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lost => "lost",
            Self::Stolen => "stolen",
        }
    }
}

/// An Entra user as Microsoft Graph resolved a reference: what protection is matched against
/// and what is signed out (README, "Protected accounts").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: ObjectId,
    pub user_principal_name: String,
    pub mail: Option<String>,
}

impl Identity {
    /// Whether `user` names this user: its object id, or its UPN or mail in any case.
    pub fn is_named_by(&self, user: &UserRef) -> bool {
        match user {
            UserRef::Id(id) => *id == self.id,
            UserRef::Upn(upn) => {
                let text = upn.as_str();
                text.eq_ignore_ascii_case(&self.user_principal_name)
                    || self
                        .mail
                        .as_deref()
                        .is_some_and(|mail| text.eq_ignore_ascii_case(mail))
            }
        }
    }
}

/// A device as the MDM describes it; every field is optional because senders differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    pub id: Option<String>,
    pub serial_number: Option<String>,
    pub name: Option<String>,
    /// The device's object in Entra ID (its `deviceId`, Intune's `azureADDeviceId`): what
    /// device containment disables (README, "Device containment").
    pub entra_device_id: Option<ObjectId>,
    /// The operating system as the MDM reports it (Intune's `operatingSystem`), when known.
    pub operating_system: Option<String>,
}

impl Device {
    /// The best short label for audit lines: serial, else id, else name.
    pub fn label(&self) -> &str {
        self.serial_number
            .as_deref()
            .or(self.id.as_deref())
            .or(self.name.as_deref())
            .unwrap_or("unknown")
    }
}

/// One user to sign out, with the lost devices that led to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub user: UserRef,
    pub devices: Vec<Device>,
}

/// An authenticated lost/stolen-device event, whatever the MDM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostDeviceEvent {
    pub source: Source,
    pub id: EventId,
    /// The sender's own event type (`device.lost`, `SmartGroupMobileDeviceMembershipChange`, …).
    pub event_type: String,
    pub kind: LossKind,
    /// Each user once, in the order first seen.
    pub owners: Vec<Owner>,
    /// Lost devices that name no usable user (audited, nobody to sign out).
    pub unowned: Vec<Device>,
}

/// Lost devices grouped under their owners, built in linear time, whatever the event's size.
#[derive(Debug, Default)]
pub struct Owners {
    owners: Vec<Owner>,
    index: std::collections::HashMap<UserRef, usize>,
}

impl Owners {
    /// Adds `device` to `user`'s entry, creating it on first sight.
    pub fn add(&mut self, user: UserRef, device: Device) {
        match self.index.get(&user) {
            Some(&i) => self.owners[i].devices.push(device),
            None => {
                self.index.insert(user.clone(), self.owners.len());
                self.owners.push(Owner {
                    user,
                    devices: vec![device],
                });
            }
        }
    }

    /// How many distinct users so far.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// True before the first device.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Each user once, in the order first seen.
    pub fn into_vec(self) -> Vec<Owner> {
        self.owners
    }
}

/// What an MDM parser makes of an authenticated body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Devices were lost or stolen: act on their owners.
    Lost(LostDeviceEvent),
    /// A well-formed event that is not a loss (another type, an unconfigured group, removals).
    Ignored {
        id: Option<EventId>,
        event_type: String,
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_accepts_guest_accounts_and_compares_case_insensitively() {
        let a = Upn::parse("Alice_contoso.com#EXT#@fabrikam.onmicrosoft.com").unwrap();
        let b = Upn::parse("alice_CONTOSO.com#ext#@Fabrikam.onmicrosoft.com").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn upn_rejects_missing_at_empty_parts_and_whitespace() {
        for bad in [
            "",
            "alice",
            "@contoso.com",
            "alice@",
            "alice@localhost",
            "a b@contoso.com",
            "a@b@c.com",
            "a@contoso.com/../x",
            "a/b@contoso.com",
            "a?x@contoso.com",
            "a%2F@contoso.com",
            "a+tag@contoso.com",
            "a@-contoso.com",
            "a@contoso..com",
        ] {
            assert!(Upn::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Upn::parse("a\tb@c.com"), Err(DomainError::BadCharacter));
        assert_eq!(Upn::parse("a@b@c.com"), Err(DomainError::NotAUpn));
    }

    #[test]
    fn upn_accepts_entras_punctuation() {
        assert!(Upn::parse("o'neil.j-s_x!y^z~#@sub.contoso.com").is_ok());
        assert!(Upn::parse("$svc@contoso.com").is_ok());
    }

    #[test]
    fn dns_domains_need_two_clean_labels() {
        assert!(is_dns_domain("contoso.onmicrosoft.com"));
        for bad in [
            "contoso", "contoso.", ".com", "a..b", "-a.com", "a_b.com", "a/b.com",
        ] {
            assert!(!is_dns_domain(bad), "{bad}");
        }
    }

    #[test]
    fn user_ref_is_an_object_id_for_guids_and_lowercases_them() {
        let u = UserRef::parse("6F1C2A1E-8F5B-4C1D-9E2A-0123456789AB").unwrap();
        assert_eq!(
            u,
            UserRef::Id(ObjectId("6f1c2a1e-8f5b-4c1d-9e2a-0123456789ab".into()))
        );
        assert!(matches!(
            UserRef::parse("bob@contoso.com").unwrap(),
            UserRef::Upn(_)
        ));
    }

    #[test]
    fn bare_username_needs_user_domain() {
        assert_eq!(
            UserRef::from_username("bob", None),
            Err(DomainError::BareUsername)
        );
        assert_eq!(
            UserRef::from_username(" bob ", Some("contoso.com"))
                .unwrap()
                .as_str(),
            "bob@contoso.com"
        );
        assert_eq!(
            UserRef::from_username("bob@fabrikam.com", Some("contoso.com"))
                .unwrap()
                .as_str(),
            "bob@fabrikam.com"
        );
    }

    #[test]
    fn source_names_are_limited_to_safe_segment_characters() {
        assert!(Source::parse("jamf-eu_2").is_ok());
        for bad in ["", "a/b", "..", "a%2F", "ä", &"x".repeat(65)] {
            assert!(Source::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn event_ids_are_trimmed_and_bounded() {
        assert_eq!(EventId::parse(" e1 ").unwrap().as_str(), "e1");
        assert_eq!(
            EventId::parse(&"x".repeat(257)),
            Err(DomainError::TooLong(256))
        );
    }

    #[test]
    fn owners_group_devices_by_user_whatever_the_case_of_the_upn() {
        let mut owners = Owners::default();
        let alice = UserRef::parse("alice@contoso.com").unwrap();
        let dev = |s: &str| Device {
            serial_number: Some(s.into()),
            ..Device::default()
        };
        owners.add(alice.clone(), dev("A"));
        owners.add(UserRef::parse("bob@contoso.com").unwrap(), dev("B"));
        owners.add(UserRef::parse("ALICE@contoso.com").unwrap(), dev("C"));
        let owners = owners.into_vec();
        assert_eq!(owners.len(), 2);
        assert_eq!(owners[0].user, alice);
        assert_eq!(owners[0].devices.len(), 2);
    }
}
