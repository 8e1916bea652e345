//! Fresh ids and the timestamp formats Entra and Graph print.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::macros::format_description;

/// A fresh GUID, as Entra and Graph use for trace, correlation and request ids.
pub(crate) fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An opaque access token: 256 random bits, URL-safe.
pub(crate) fn opaque_token() -> String {
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    format!("standin.{}{}", a.simple(), b.simple())
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Entra's error timestamp: `2016-01-09 02:02:12Z`.
pub(crate) fn entra_timestamp() -> String {
    format_or_empty(
        OffsetDateTime::now_utc(),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z"),
    )
}

/// Graph's `innerError.date`: `2025-02-09T09:09:30`.
pub(crate) fn graph_date() -> String {
    format_or_empty(
        OffsetDateTime::now_utc(),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    )
}

/// A Unix time as AADSTS700024 prints it: `2024-10-02T22:05:03.0000000Z`.
pub(crate) fn assertion_time(unix: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(unix) {
        Ok(at) => format_or_empty(
            at,
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].0000000Z"),
        ),
        Err(_) => unix.to_string(),
    }
}

/// A certificate validity bound as Entra prints it in AADSTS700027: `02/07/2021 17:00:39`.
pub(crate) fn key_time(unix: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(unix) {
        Ok(at) => format_or_empty(
            at,
            format_description!("[month]/[day]/[year] [hour]:[minute]:[second]"),
        ),
        Err(_) => unix.to_string(),
    }
}

fn format_or_empty(
    at: OffsetDateTime,
    format: &[time::format_description::BorrowedFormatItem<'_>],
) -> String {
    at.format(format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_services() {
        assert_eq!(assertion_time(0), "1970-01-01T00:00:00.0000000Z");
        assert_eq!(key_time(1_612_717_239), "02/07/2021 17:00:39");
        assert!(entra_timestamp().ends_with('Z'));
        assert_eq!(graph_date().len(), "2025-02-09T09:09:30".len());
        assert_ne!(opaque_token(), opaque_token());
    }
}
