//! What the poller needs from Graph, as a trait its adapter implements
//! (`microsoft::GraphClient`): pages of Intune's audit records, and one managed device.

use std::future::Future;

use time::OffsetDateTime;
use tokio::time::Instant;

use super::record::AuditRecord;
use crate::domain::ObjectId;

/// One page of records.
#[derive(Debug, Default)]
pub struct Page {
    pub records: Vec<AuditRecord>,
    /// Records that could not be read (each logged by the source).
    pub unusable: usize,
    /// The next page (`@odata.nextLink`), as Graph gave it: the poller checks where it goes.
    pub next_link: Option<String>,
}

/// Why a page could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// Throttling, outages or timeouts outlasted the deadline, or no token.
    #[error("{0}")]
    Unavailable(String),
    /// Graph refused the request.
    #[error("Graph answered {status}: {graph_says}")]
    Refused { status: u16, graph_says: String },
    #[error("the answer is not a page of records")]
    NotAPage,
}

impl ListError {
    /// Graph refused the request itself (400): a filter it does not take, or a stored link
    /// that is no longer valid.
    pub(crate) fn is_bad_request(&self) -> bool {
        matches!(self, Self::Refused { status: 400, .. })
    }
}

/// What Intune says of a managed device: its Entra device id (absent for a device not
/// registered in Entra) and its operating system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagedDevice {
    pub entra_device_id: Option<ObjectId>,
    pub operating_system: Option<String>,
}

/// Intune's audit records and managed devices.
pub trait AuditSource: Send + Sync {
    /// The first page of records requested from `from` on; `filtered`: ask the server to
    /// filter by `requestDateTime` (the poller filters again whatever it does).
    fn first_page(&self, from: OffsetDateTime, filtered: bool) -> String;

    /// Whether `link` may be followed: it goes to the same host as the first page.
    fn may_follow(&self, link: &str) -> bool;

    /// Reads the page at `link`.
    fn page(
        &self,
        link: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<Page, ListError>> + Send;

    /// Looks up the managed device `id`.
    fn managed_device(
        &self,
        id: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<ManagedDevice, String>> + Send;
}
