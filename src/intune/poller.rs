//! One run of the Intune poller: read the audit records since the checkpoint, decide each loss
//! through the shared decider, move the checkpoint only past what is settled or queued.
//!
//! - **Reading.** A pass starts at the checkpoint's `since` less [`OVERLAP`] (clock skew, and
//!   records Intune writes late) and follows `@odata.nextLink` on the Graph host only. Reading
//!   stops at half the run's time or [`MAX_PAGES`], whichever comes first; the next run
//!   continues the pass from the first page not read.
//! - **Deciding.** Each loss record is an event of source `intune`, with the record's id as
//!   event id: the ledger makes each one count once, whichever run or instance reads it, and
//!   records read again (the overlap, a resumed page) are duplicates, never acted on twice.
//!   A run whose losses name more distinct users than `MAX_USERS_PER_EVENT` refuses them all
//!   (audited `too_many_users` at ERROR, like a webhook).
//! - **The checkpoint.** A page with a user still owed (failed, denied, or claimed elsewhere)
//!   is where the next run starts again; otherwise the pass goes on from where reading
//!   stopped, and once a pass has read to the end, `since` moves up to the newest record seen.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use time::OffsetDateTime;
use tokio::time::Instant;

use super::checkpoint::{Checkpoint, CheckpointStore};
use super::record::AuditRecord;
use super::source::{AuditSource, ListError, Page};
use crate::domain::{LostDeviceEvent, Parsed, Source};
use crate::revocation::{
    Decider, Ledger, LedgerError, Outcome, Report, RetryQueue, Revoker, UserOutcome, audit,
};

/// How far before the checkpoint each pass reads again.
pub const OVERLAP: Duration = Duration::from_secs(10 * 60);

/// The most pages one run reads.
const MAX_PAGES: usize = 50;

/// Time kept back from the run's deadline to save the checkpoint.
const SAVE_RESERVE: Duration = Duration::from_secs(3);

/// The longest a checkpoint read or write may take.
const CHECKPOINT_BOUND: Duration = Duration::from_secs(2);

/// How long a record with a user still owed holds the checkpoint on its page: a refusal
/// that lasts (Graph's 403 for one account) must not stop the poller for good. Past it, the
/// record is still audited at ERROR on every read, and is left to a person.
const HOLD_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The longest a managed-device lookup may take: containment never holds up a revocation.
const LOOKUP_BOUND: Duration = Duration::from_secs(3);

/// How many loss records are decided at the same time.
const CONCURRENT_RECORDS: usize = 8;

/// What the poller reads from configuration.
#[derive(Debug, Clone)]
pub struct PollSettings {
    pub lost_actions: Vec<String>,
    pub lookback: Duration,
    pub disable_lost_devices: bool,
    pub max_users: usize,
}

/// The Intune poller: built once per instance.
#[derive(Debug)]
pub struct Poller<R, Q, L, S> {
    /// The decider; its act step (`R`, Graph) is also where the records are read.
    decider: Decider<R, Q, L>,
    checkpoint: S,
    settings: PollSettings,
    source: Source,
    /// Whether Graph takes the `$filter` on `requestDateTime`; cleared on its first 400.
    filter: AtomicBool,
}

/// What one run did, for its summary line and the function's answer.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    pub pages: usize,
    pub records: usize,
    pub unusable: usize,
    /// Loss records decided (or refused) in this run.
    pub losses: usize,
    pub revoked: usize,
    pub duplicate: usize,
    pub queued: usize,
    /// Users still owed: their page is read again next run.
    pub owed: usize,
    /// Loss records not started before the run's deadline: their page is read again next run.
    pub deferred: usize,
    /// The run's losses named too many users and were refused.
    pub refused: bool,
    /// The pass read to the end of the list.
    pub complete: bool,
    /// The checkpoint's `since` after the run, RFC 3339.
    pub since: String,
}

/// Why a run did not finish its work; the next run starts from the last saved checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the checkpoint could not be read: {0}")]
    LoadCheckpoint(LedgerError),
    #[error("the checkpoint could not be saved: {0}")]
    SaveCheckpoint(LedgerError),
    #[error("no page of Intune audit records could be read: {0}")]
    Listing(String),
    #[error("Graph's @odata.nextLink points to another host; it was not followed")]
    ForeignLink,
}

/// Where reading stopped.
enum Stop {
    /// The last page had no next link.
    End,
    /// Time or the page cap: this link is next.
    Unread(String),
    /// This link could not be read: start there again.
    Stuck(String),
    /// This link's page has a next link to another host, which was not followed: start
    /// there again, and fail the run so that the alarm says so.
    Foreign(String),
}

impl<R, Q, L, S> Poller<R, Q, L, S>
where
    R: Revoker + AuditSource,
    Q: RetryQueue,
    L: Ledger,
    S: CheckpointStore,
{
    pub fn new(decider: Decider<R, Q, L>, checkpoint: S, settings: PollSettings) -> Self {
        Self {
            decider,
            checkpoint,
            settings,
            source: Source::parse("intune").expect("a valid source name"),
            filter: AtomicBool::new(true),
        }
    }

    /// One run, finishing by `deadline`.
    pub async fn run(&self, deadline: Instant) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let work_until = deadline.checked_sub(SAVE_RESERVE).unwrap_or(started);
        let read_until = started + work_until.saturating_duration_since(started) / 2;

        let stored = tokio::time::timeout(CHECKPOINT_BOUND, self.checkpoint.load())
            .await
            .unwrap_or_else(|_| Err(LedgerError::new("no answer in time")))
            .map_err(RunError::LoadCheckpoint)?;
        let now = OffsetDateTime::now_utc();
        let since = stored
            .as_ref()
            .map_or(now - self.settings.lookback, |c| c.since);
        let from = since - OVERLAP;

        let (pages, stop) = self.read(stored.as_ref(), from, read_until).await?;
        let foreign = matches!(stop, Stop::Foreign(_));
        let mut report = RunReport {
            pages: pages.len(),
            ..RunReport::default()
        };
        let held = self.decide(&pages, since, work_until, &mut report).await;

        let high_water = pages
            .iter()
            .flat_map(|(_, page)| page.records.iter().map(|r| r.requested_at))
            .chain(stored.as_ref().and_then(|c| c.high_water))
            .max()
            // A record dated in the future (a clock gone wrong) must not move `since` past
            // records still to come.
            .map(|h| h.min(now));
        let (next_link, complete) = match (held, stop) {
            (Some(i), _) => (Some(pages[i].0.clone()), false),
            (None, Stop::End) => (None, true),
            (None, Stop::Unread(link) | Stop::Stuck(link) | Stop::Foreign(link)) => {
                (Some(link), false)
            }
        };
        let checkpoint = Checkpoint {
            since: if complete {
                high_water.map_or(since, |h| h.max(since))
            } else {
                since
            },
            next_link,
            high_water: if complete { None } else { high_water },
            version: stored.as_ref().map_or(0, |c| c.version) + 1,
        };
        report.complete = complete;
        report.since = checkpoint
            .since
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        tokio::time::timeout(CHECKPOINT_BOUND, self.checkpoint.save(&checkpoint))
            .await
            .unwrap_or_else(|_| Err(LedgerError::new("no answer in time")))
            .map_err(RunError::SaveCheckpoint)?;
        tracing::info!(
            pages = report.pages,
            records = report.records,
            unusable = report.unusable,
            losses = report.losses,
            revoked = report.revoked,
            duplicate = report.duplicate,
            queued = report.queued,
            owed = report.owed,
            deferred = report.deferred,
            refused = report.refused,
            complete,
            since = report.since,
            "intune run finished"
        );
        if foreign {
            return Err(RunError::ForeignLink);
        }
        Ok(report)
    }

    /// Reads pages from the stored link (or the pass's first page) until the list ends, time
    /// runs out or the page cap; the pages read, each with the link it came from, and where
    /// reading stopped.
    async fn read(
        &self,
        stored: Option<&Checkpoint>,
        from: OffsetDateTime,
        read_until: Instant,
    ) -> Result<(Vec<(String, Page)>, Stop), RunError> {
        let graph = self.decider.revoker();
        let mut link = match stored.and_then(|c| c.next_link.clone()) {
            Some(link) if graph.may_follow(&link) => link,
            _ => graph.first_page(from, self.filter.load(Ordering::Relaxed)),
        };
        let mut resumed = stored.is_some_and(|c| c.next_link.is_some());
        let mut pages: Vec<(String, Page)> = Vec::new();
        loop {
            if pages.len() >= MAX_PAGES || Instant::now() >= read_until {
                return Ok((pages, Stop::Unread(link)));
            }
            let page = match graph
                .page(
                    &link,
                    read_until.max(Instant::now() + Duration::from_secs(1)),
                )
                .await
            {
                Ok(page) => page,
                Err(e)
                    if pages.is_empty() && resumed && !matches!(e, ListError::Unavailable(_)) =>
                {
                    tracing::warn!(error = %e, "the stored link is no longer valid; the pass starts again from the checkpoint");
                    resumed = false;
                    link = graph.first_page(from, self.filter.load(Ordering::Relaxed));
                    continue;
                }
                Err(e)
                    if pages.is_empty()
                        && e.is_bad_request()
                        && self.filter.swap(false, Ordering::Relaxed) =>
                {
                    tracing::warn!(error = %e, "Graph does not take $filter on requestDateTime; listing without it");
                    link = graph.first_page(from, false);
                    continue;
                }
                Err(e) if pages.is_empty() => return Err(RunError::Listing(e.to_string())),
                Err(e) => {
                    log_stuck(&e);
                    return Ok((pages, Stop::Stuck(link)));
                }
            };
            let next = page.next_link.clone();
            let this = std::mem::take(&mut link);
            pages.push((this.clone(), page));
            match next {
                None => return Ok((pages, Stop::End)),
                Some(next) if graph.may_follow(&next) => link = next,
                Some(_) => {
                    tracing::error!(
                        "Graph's @odata.nextLink points to another host; not followed (the \
                         app's token goes to the Graph host only). The page is read again next run"
                    );
                    return Ok((pages, Stop::Foreign(this)));
                }
            }
        }
    }

    /// Decides every loss record of `pages` requested from `from` on; the index of the first
    /// page with a user still owed.
    async fn decide(
        &self,
        pages: &[(String, Page)],
        since: OffsetDateTime,
        deadline: Instant,
        report: &mut RunReport,
    ) -> Option<usize> {
        let from = since - OVERLAP;
        let mut losses: Vec<(usize, &AuditRecord)> = Vec::new();
        for (i, (_, page)) in pages.iter().enumerate() {
            report.records += page.records.len();
            report.unusable += page.unusable;
            losses.extend(
                page.records
                    .iter()
                    .filter(|r| r.requested_at >= from && r.is_loss(&self.settings.lost_actions))
                    .map(|r| (i, r)),
            );
        }
        report.losses = losses.len();
        let skipped = report.records - losses.len();
        tracing::debug!(
            skipped,
            "records that are not losses (other actions, older, canceled)"
        );

        // The cap counts the owners of records since the checkpoint: the overlap was counted
        // by the run that first read it.
        let users: HashSet<&str> = losses
            .iter()
            .filter(|(_, r)| r.requested_at >= since)
            .filter_map(|(_, r)| r.owner.as_deref())
            .map(str::trim)
            .collect();
        if users.len() > self.settings.max_users {
            // Refused, and held: nothing is dropped. The alarm pages someone, who raises the
            // cap or signs the users out by hand and moves the checkpoint (docs/operations.md).
            report.refused = true;
            for (_, record) in &losses {
                audit::too_many_users(
                    &record.event(&self.source, record.device()),
                    self.settings.max_users,
                );
            }
            return Some(0);
        }
        let owed_until = OffsetDateTime::now_utc() - HOLD_LIMIT;
        let events: Vec<(usize, bool, LostDeviceEvent)> = stream::iter(losses)
            .map(|(i, record)| async move {
                let holds = record.requested_at > owed_until;
                (i, holds, self.event(record, deadline).await)
            })
            .buffered(CONCURRENT_RECORDS)
            .collect()
            .await;

        // A record whose turn comes after the deadline is not started (its claim and settle
        // would only eat the time kept for the checkpoint): its page is read again next run.
        let reports: Vec<(usize, bool, Option<Report>)> = stream::iter(events)
            .map(|(i, holds, event)| async move {
                if Instant::now() >= deadline {
                    return (i, holds, None);
                }
                let source = event.source.clone();
                let decided = self
                    .decider
                    .decide(&source, Parsed::Lost(event), deadline)
                    .await;
                (i, holds, Some(decided))
            })
            .buffered(CONCURRENT_RECORDS)
            .collect()
            .await;
        let mut held = None;
        let mut hold = |i: usize| held = Some(held.map_or(i, |h: usize| h.min(i)));
        for (i, holds, decided) in &reports {
            let Some(decided) = decided else {
                report.deferred += 1;
                hold(*i);
                continue;
            };
            if decided.outcome == Outcome::Duplicate {
                report.duplicate += 1;
            }
            for result in &decided.results {
                match result.outcome {
                    UserOutcome::Revoked => report.revoked += 1,
                    UserOutcome::Duplicate => report.duplicate += 1,
                    UserOutcome::Queued => report.queued += 1,
                    UserOutcome::Failed | UserOutcome::Denied | UserOutcome::InProgress => {
                        report.owed += 1;
                        if *holds {
                            hold(*i);
                        }
                    }
                    // An ambiguous owner waits for a person (audited at ERROR), not the poller.
                    UserOutcome::DryRun
                    | UserOutcome::Protected
                    | UserOutcome::UserNotFound
                    | UserOutcome::Ambiguous => {}
                }
            }
        }
        held
    }

    /// The event for `record`: with containment on, the managed device is looked up for its
    /// Entra device id and operating system (a failed lookup is audited; the owner is still
    /// decided).
    async fn event(&self, record: &AuditRecord, deadline: Instant) -> LostDeviceEvent {
        let mut event = record.event(&self.source, record.device());
        // A record this instance already decided (read again in the overlap) is a duplicate:
        // its device is not looked up again every run.
        if !self.settings.disable_lost_devices || self.decider.knows(&event) {
            return event;
        }
        let (Some(id), Some(owner)) = (
            record.managed_device_id.as_deref(),
            event.owners.first_mut(),
        ) else {
            return event;
        };
        let bound = deadline.min(Instant::now() + LOOKUP_BOUND);
        match self.decider.revoker().managed_device(id, bound).await {
            Ok(found) => {
                for device in &mut owner.devices {
                    device.entra_device_id = found.entra_device_id.clone();
                    device.operating_system = found.operating_system.clone();
                }
            }
            Err(why) => tracing::error!(
                event_id = %record.id,
                managed_device_id = id,
                error = why,
                "could not read the managed device; its Entra device cannot be disabled"
            ),
        }
        event
    }
}

fn log_stuck(e: &ListError) {
    tracing::warn!(error = %e, "a page of Intune audit records could not be read; the next run starts there");
}
