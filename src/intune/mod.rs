//! The Intune poller (README, "Intune"): Intune has no webhooks, but every remote action an
//! admin takes is recorded (`remoteActionAudits`). Each run of the `intune` function reads the
//! records since its checkpoint, turns each lost-mode record into a lost-device event, and
//! hands it to the same decider as a webhook; the checkpoint lives in the ledger table.

mod checkpoint;
mod poller;
mod record;
mod source;

pub use checkpoint::{Checkpoint, CheckpointStore};
pub use poller::{OVERLAP, PollSettings, Poller, RunError, RunReport};
pub use record::AuditRecord;
pub use record::is_remote_action;
pub use source::{AuditSource, ListError, ManagedDevice, Page};
