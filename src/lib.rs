//! Lost-device revoker: an AWS Lambda that signs the owner of a lost or stolen device out of
//! Microsoft Entra ID. The crate is a library; `src/bin/*` are thin Lambda entry points.

pub mod audit;
pub mod aws;
pub mod config;
pub mod domain;
pub mod entra;
pub mod graph;
pub mod ingress;
mod json_fields;
pub mod logging;
pub mod mdm;
pub mod queue;
pub mod retry;
pub mod revoke;
pub mod sample_events;
pub mod secrets;
pub mod signature;
pub mod transport;
pub mod wiring;

/// The current Unix time in whole seconds (0 before 1970): the clock of signed timestamps
/// and client assertions.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
