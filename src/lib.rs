//! Lost-device revoker: an AWS Lambda that signs the owner of a lost or stolen device out of
//! Microsoft Entra ID. The crate is a library; `src/bin/*` are thin Lambda entry points that
//! build their state with [`startup`] and hand each event to the edge.
//!
//! # Layout
//!
//! In the order a webhook flows through it (README, "How a request is handled"):
//!
//! - [`startup`]: everything an instance builds once (configuration, the outbound clients,
//!   the secret store, the Graph client, the ledger), shared by the binaries and the
//!   integration tests.
//! - [`http`]: the webhook edge. Routing, body limit, the source's secret, then `auth` and
//!   `payload`, then the decision; every outcome and refusal becomes a JSON response with its
//!   status from the one map in `http::status`.
//! - `auth`: the four authentication schemes, over the raw body bytes.
//! - `payload`: canonical and Jamf payloads become a [`domain::LostDeviceEvent`].
//! - [`revocation`]: the core. Policy, duplicates, the audit trail, and the three traits it
//!   needs from outside: `Revoker` (the act), `RetryQueue` (durable retry) and `Ledger`
//!   (decisions shared across instances).
//! - [`retry`]: the SQS retry queue (the production `RetryQueue`) and the retry function's
//!   batch worker, which runs each job through the same decisions.
//! - [`intune`]: the Intune poller: audit records since a checkpoint, each loss through the
//!   same decider; `AuditSource` and `CheckpointStore` are its seams.
//! - [`microsoft`]: the production `Revoker` and `AuditSource`: cloud hosts, credentials,
//!   tokens, Graph (the revoke, Intune's reads, device containment).
//! - [`aws`]: the one HTTP client, the AWS SDK configuration, the Secrets Manager store
//!   (the production credential source) and the DynamoDB ledger (the production `Ledger`).
//! - [`config`]: the environment and the secret's JSON, parsed once (no I/O).
//! - [`domain`]: the types everything above speaks (`Source`, `EventId`, `UserRef`, …).
//! - [`logging`]: the subscriber both functions install first.
//! - `dev` (feature `dev-tools`): sample-event signing for the tools and tests.
//!
//! Dependencies run one way: `bin -> startup -> http / retry / intune -> revocation -> domain`;
//! `auth` and `payload` depend only on `domain`; the adapters (`microsoft`, `aws`, `retry`)
//! implement traits that `revocation` or `microsoft` define. `tests/api/layout.rs` checks it.

pub(crate) mod auth;
pub mod aws;
pub mod config;
#[cfg(feature = "dev-tools")]
pub mod dev;
pub mod domain;
pub mod http;
pub mod intune;
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
