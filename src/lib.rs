//! Lost-device revoker: an AWS Lambda that signs the owner of a lost or stolen device out of
//! Microsoft Entra ID. The crate is a library; `src/bin/*` are thin Lambda entry points.

pub(crate) mod auth;
pub mod aws;
pub mod config;
#[cfg(feature = "dev-tools")]
pub mod dev;
pub mod domain;
pub mod http;
pub mod logging;
pub mod microsoft;
pub(crate) mod payload;
pub mod retry;
pub mod revocation;
pub mod startup;

/// The current Unix time in whole seconds (0 before 1970): the clock of signed timestamps
/// and client assertions.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
