//! Where the poller is in Intune's audit records: a pass reads every record requested since
//! `since` (less an overlap), possibly over several runs (`next_link`: where the pass goes on),
//! and once it has read to the end with nothing still owed, `since` moves up to the newest
//! record it saw (`high_water`). The store is the ledger table (`aws::DynamoCheckpoint`); a
//! write names the version it read, so two runs can never both move it.

use std::future::Future;

use time::OffsetDateTime;

use crate::revocation::LedgerError;

/// The poller's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Records requested before this (less the overlap) are done.
    pub since: OffsetDateTime,
    /// The page a pass still has to read (Graph's `@odata.nextLink`, or the first page again
    /// when a record on it is still owed); `None` between passes.
    pub next_link: Option<String>,
    /// The newest `requestDateTime` the current pass has read.
    pub high_water: Option<OffsetDateTime>,
    /// Bumped on each save; 0 before the first.
    pub version: u64,
}

/// Loads and saves the checkpoint.
pub trait CheckpointStore: Send + Sync {
    /// The stored checkpoint, or `None` before the first run.
    fn load(&self) -> impl Future<Output = Result<Option<Checkpoint>, LedgerError>> + Send;

    /// Stores `checkpoint` (its `version` already bumped) only if the stored one still has
    /// `checkpoint.version - 1` (or there is none, for version 1).
    fn save(&self, checkpoint: &Checkpoint)
    -> impl Future<Output = Result<(), LedgerError>> + Send;
}
