//! The ledger in DynamoDB (README, "The ledger"): one item per decision, claimed and settled
//! with conditional writes. The writes of one event go in one `TransactWriteItems` per 100
//! users (the chunks run concurrently): one round trip to claim all its users and one to
//! settle them. A transaction is all or nothing, so when some users are already decided it is
//! cancelled, its cancellation reasons say which (with the item that stopped each), and the
//! rest are claimed in a second round trip.
//!
//! Item shape (a key of two strings leaves room for other kinds of record, such as the
//! Intune poller's checkpoint):
//!
//! | attribute | type | value |
//! | --- | --- | --- |
//! | `pk` | S | `decision#{source}#{event id}` (a source name never holds `#`) |
//! | `sk` | S | `user#{user, lowercase}` |
//! | `kind` | S | `decision` |
//! | `state` | S | `in_progress` or `settled` |
//! | `outcome` | S | settled only: `revoked`, `queued`, `protected`, `user_not_found` |
//! | `lease` | S | the claiming invocation's random id |
//! | `settled_at` | N | settled only: Unix seconds |
//! | `expires_at` | N | Unix seconds (the table's TTL): the lease's end while in progress, the settle time plus `LEDGER_TTL_DAYS` once settled |
//!
//! One item alone goes as a plain conditional `PutItem` or `DeleteItem`, not a transaction.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};

use super::describe_sdk_error;
use crate::revocation::{
    Claim, Claimant, DecisionKey, Lease, Ledger, LedgerError, Settled, Settlement,
};

/// The most items one `TransactWriteItems` may hold.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// Round trips per chunk before giving up (and failing open): each round settles at least one
/// key, or meets a conflicting write, which is tried again.
const MAX_ROUNDS: usize = 4;

const IN_PROGRESS: &str = "in_progress";
const SETTLED: &str = "settled";

/// A new claim may replace what is there only when nothing is, or it has expired (DynamoDB's
/// TTL deletes expired items within days, not at once).
const SENDER_CONDITION: &str = "attribute_not_exists(pk) OR expires_at < :now";
/// A retry job continues the webhook's claim: it may also take over a claim in progress
/// (the webhook that queued it, still settling its other users, or a copy of the job,
/// which revokes twice at worst) and the `queued` record the webhook left.
const RETRY_CONDITION: &str = "attribute_not_exists(pk) OR expires_at < :now \
     OR #state = :in_progress OR outcome = :queued";
/// Only the lease that holds a claim releases it.
const RELEASE_CONDITION: &str = "#state = :in_progress AND lease = :lease";
/// Only the lease that holds a claim settles it (if it ran out and another took the key over,
/// that one settles): a late `queued` never overwrites the retry job's `revoked`.
const SETTLE_CONDITION: &str = "attribute_not_exists(pk) OR lease = :lease";

/// The ledger table, through the shared AWS SDK configuration.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
    ttl: Duration,
}

/// How one transaction ended.
enum Transaction {
    Done,
    /// Cancelled: one reason per item, in order.
    Cancelled(Vec<CancellationReason>),
}

impl DynamoLedger {
    /// `table`: name or ARN; `ttl`: how long a settled decision is kept.
    pub fn new(client: aws_sdk_dynamodb::Client, table: String, ttl: Duration) -> Self {
        Self { client, table, ttl }
    }

    /// The Intune checkpoint, an item of the same table, through the same client.
    pub fn checkpoint(&self) -> super::DynamoCheckpoint {
        super::DynamoCheckpoint::new(self.client.clone(), self.table.clone())
    }

    /// Writes `items` all or nothing. One item goes as a plain conditional `PutItem` or
    /// `DeleteItem` (half the write units of a transaction, and no transaction coordination),
    /// its refusal reported as a one-reason cancellation.
    async fn transact(
        &self,
        mut items: Vec<TransactWriteItem>,
    ) -> Result<Transaction, LedgerError> {
        if items.len() == 1 {
            let item = items.remove(0);
            return self.write_one(item).await;
        }
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Transaction::Done),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => Ok(
                    Transaction::Cancelled(c.cancellation_reasons.unwrap_or_default()),
                ),
                other => Err(service_error(&other)),
            },
            Err(e) => Err(transport_error(&e)),
        }
    }

    async fn write_one(&self, item: TransactWriteItem) -> Result<Transaction, LedgerError> {
        let refused = |old: Option<HashMap<String, AttributeValue>>| {
            let reason = CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .set_item(old)
                .build();
            Ok(Transaction::Cancelled(vec![reason]))
        };
        if let Some(put) = item.put {
            let sent = self
                .client
                .put_item()
                .table_name(put.table_name)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .set_return_values_on_condition_check_failure(
                    put.return_values_on_condition_check_failure,
                )
                .send()
                .await;
            return match sent {
                Ok(_) => Ok(Transaction::Done),
                Err(SdkError::ServiceError(e)) => match e.into_err() {
                    PutItemError::ConditionalCheckFailedException(c) => refused(c.item),
                    other => Err(service_error(&other)),
                },
                Err(e) => Err(transport_error(&e)),
            };
        }
        let Some(delete) = item.delete else {
            return Err(LedgerError::new(
                "a write that is neither a put nor a delete",
            ));
        };
        let sent = self
            .client
            .delete_item()
            .table_name(delete.table_name)
            .set_key(Some(delete.key))
            .set_condition_expression(delete.condition_expression)
            .set_expression_attribute_names(delete.expression_attribute_names)
            .set_expression_attribute_values(delete.expression_attribute_values)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Transaction::Done),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                DeleteItemError::ConditionalCheckFailedException(c) => refused(c.item),
                other => Err(service_error(&other)),
            },
            Err(e) => Err(transport_error(&e)),
        }
    }

    fn claim_item(
        &self,
        key: &DecisionKey,
        claimant: Claimant,
        lease: &Lease,
        now: u64,
    ) -> Result<TransactWriteItem, LedgerError> {
        let mut item = item_key(key);
        item.insert("kind".into(), s("decision"));
        item.insert("state".into(), s(IN_PROGRESS));
        item.insert("lease".into(), s(&lease.id.to_string()));
        item.insert("expires_at".into(), n(unix_secs_ceil(lease.until)));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_values(":now", n(now));
        let put = match claimant {
            Claimant::Sender => put.condition_expression(SENDER_CONDITION),
            Claimant::RetryJob => put
                .condition_expression(RETRY_CONDITION)
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":queued", s(Settled::Queued.as_str())),
        };
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    fn settle_item(
        &self,
        key: &DecisionKey,
        settlement: Settlement,
        lease: &Lease,
        now: u64,
    ) -> Result<TransactWriteItem, LedgerError> {
        let write = TransactWriteItem::builder();
        let write = match settlement {
            Settlement::Settle(settled) => {
                let mut item = item_key(key);
                item.insert("kind".into(), s("decision"));
                item.insert("state".into(), s(SETTLED));
                item.insert("outcome".into(), s(settled.as_str()));
                item.insert("lease".into(), s(&lease.id.to_string()));
                item.insert("settled_at".into(), n(now));
                item.insert("expires_at".into(), n(now + self.ttl.as_secs()));
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(SETTLE_CONDITION)
                    .expression_attribute_values(":lease", s(&lease.id.to_string()));
                write.put(built(put.build())?)
            }
            Settlement::Release => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(item_key(key)))
                    .condition_expression(RELEASE_CONDITION)
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                    .expression_attribute_values(":lease", s(&lease.id.to_string()));
                write.delete(built(delete.build())?)
            }
        };
        Ok(write.build())
    }
}

impl Ledger for DynamoLedger {
    async fn claim(
        &self,
        keys: &[DecisionKey],
        claimant: Claimant,
        lease: &Lease,
    ) -> Result<Vec<Claim>, LedgerError> {
        let now = unix_secs(SystemTime::now());
        let indices: Vec<usize> = (0..keys.len()).collect();
        let chunks = indices
            .chunks(MAX_TRANSACTION_ITEMS)
            .map(|chunk| self.claim_chunk(keys, chunk, claimant, lease, now));
        let mut claims: Vec<Option<Claim>> = vec![None; keys.len()];
        for answered in futures_util::future::join_all(chunks).await {
            for (i, claim) in answered? {
                claims[i] = Some(claim);
            }
        }
        claims
            .into_iter()
            .map(|c| c.ok_or_else(|| LedgerError::new("a key was left unanswered")))
            .collect()
    }

    async fn settle(
        &self,
        entries: &[(DecisionKey, Settlement)],
        lease: &Lease,
    ) -> Result<(), LedgerError> {
        let now = unix_secs(SystemTime::now());
        let indices: Vec<usize> = (0..entries.len()).collect();
        let chunks = indices
            .chunks(MAX_TRANSACTION_ITEMS)
            .map(|chunk| self.settle_chunk(entries, chunk, lease, now));
        futures_util::future::join_all(chunks)
            .await
            .into_iter()
            .collect()
    }
}

impl DynamoLedger {
    /// Claims `keys[i]` for each `i` of `chunk` (at most 100), in as few transactions as the
    /// records already there allow.
    async fn claim_chunk(
        &self,
        keys: &[DecisionKey],
        chunk: &[usize],
        claimant: Claimant,
        lease: &Lease,
        now: u64,
    ) -> Result<Vec<(usize, Claim)>, LedgerError> {
        let mut claims = Vec::with_capacity(chunk.len());
        let item = |i: usize| self.claim_item(&keys[i], claimant, lease, now);
        let refused_by = |i: usize, reason: &CancellationReason| {
            claims.push((i, found(reason.item(), lease)?));
            Ok(())
        };
        let won = self
            .write_in_rounds(chunk, "claim", item, refused_by)
            .await?;
        claims.extend(won.into_iter().map(|i| (i, Claim::Won)));
        Ok(claims)
    }

    /// Settles or releases `entries[i]` for each `i` of `chunk` (at most 100). A key this
    /// lease no longer holds is the new holder's to settle: left alone.
    async fn settle_chunk(
        &self,
        entries: &[(DecisionKey, Settlement)],
        chunk: &[usize],
        lease: &Lease,
        now: u64,
    ) -> Result<(), LedgerError> {
        let item = |i: usize| self.settle_item(&entries[i].0, entries[i].1, lease, now);
        let left_alone = |_: usize, _: &CancellationReason| Ok(());
        self.write_in_rounds(chunk, "settle", item, left_alone)
            .await
            .map(drop)
    }

    /// Writes `item(i)` for each `i` of `chunk` (at most 100), all or nothing, in rounds: after
    /// a cancellation, each item whose condition failed goes to `refused_by` and is not written
    /// again, a write that conflicted with another transaction is, and so are the items that
    /// only fell with the others. Returns the items written.
    async fn write_in_rounds(
        &self,
        chunk: &[usize],
        operation: &str,
        item: impl Fn(usize) -> Result<TransactWriteItem, LedgerError>,
        mut refused_by: impl FnMut(usize, &CancellationReason) -> Result<(), LedgerError>,
    ) -> Result<Vec<usize>, LedgerError> {
        let mut pending = chunk.to_vec();
        for _ in 0..MAX_ROUNDS {
            let items = pending.iter().map(|&i| item(i)).collect::<Result<_, _>>()?;
            let Transaction::Cancelled(reasons) = self.transact(items).await? else {
                return Ok(pending);
            };
            pending = retried(&pending, &reasons, |i, reason| match reason.code() {
                Some("ConditionalCheckFailed") => refused_by(i, reason).map(|()| Next::Answered),
                // The other transaction may itself have been cancelled: only a record stops
                // an act, so ask again.
                Some("TransactionConflict") => Ok(Next::Again),
                code => Err(refused(operation, code)),
            })?;
            if pending.is_empty() {
                return Ok(pending);
            }
        }
        Err(LedgerError::new(format!(
            "conflicting writes kept cancelling the {operation}"
        )))
    }
}

/// What becomes of one item of a cancelled transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Its reason answered it: not written again.
    Answered,
    /// Written again in the next transaction.
    Again,
}

/// The items of a cancelled transaction to write again: those whose reason is `None` (they
/// only fell with the others) and those `decide` sends again.
fn retried(
    pending: &[usize],
    reasons: &[CancellationReason],
    mut decide: impl FnMut(usize, &CancellationReason) -> Result<Next, LedgerError>,
) -> Result<Vec<usize>, LedgerError> {
    if reasons.len() != pending.len() {
        return Err(LedgerError::new(
            "DynamoDB cancelled the transaction without a reason per item",
        ));
    }
    let mut again = Vec::new();
    let mut named = false;
    for (&i, reason) in pending.iter().zip(reasons) {
        let next = match reason.code() {
            None | Some("None") => Next::Again,
            Some(_) => {
                named = true;
                decide(i, reason)?
            }
        };
        if next == Next::Again {
            again.push(i);
        }
    }
    if !named {
        return Err(LedgerError::new(
            "DynamoDB cancelled the transaction without naming an item",
        ));
    }
    Ok(again)
}

/// What an existing record means to a claim that its condition refused. A record of this
/// very lease is its own claim, written by an attempt whose answer was lost (the SDK then
/// retried): won.
fn found(
    item: Option<&HashMap<String, AttributeValue>>,
    lease: &Lease,
) -> Result<Claim, LedgerError> {
    let text = |name: &str| {
        item.and_then(|i| i.get(name))
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    let ours = text("lease") == Some(lease.id.to_string().as_str());
    match (text("state"), text("outcome")) {
        (Some(IN_PROGRESS), _) if ours => Ok(Claim::Won),
        (Some(IN_PROGRESS), _) => Ok(Claim::Held),
        (Some(SETTLED), Some(outcome)) => Settled::parse(outcome)
            .map(Claim::Settled)
            .ok_or_else(|| LedgerError::new("a record holds an unknown outcome")),
        _ => Err(LedgerError::new(
            "a record is not a decision this function wrote",
        )),
    }
}

/// DynamoDB answered with an error: its code only (never the message, which may quote items).
fn service_error(e: &impl aws_sdk_dynamodb::error::ProvideErrorMetadata) -> LedgerError {
    LedgerError::new(format!(
        "DynamoDB refused the write: {}",
        e.code().unwrap_or("(no code)")
    ))
}

/// No answer from DynamoDB (timeout, connection, unreadable response).
fn transport_error<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    e: &SdkError<E, R>,
) -> LedgerError {
    LedgerError::new(format!("DynamoDB {}", describe_sdk_error(e)))
}

fn refused(operation: &str, code: Option<&str>) -> LedgerError {
    LedgerError::new(format!(
        "DynamoDB cancelled the {operation}: {}",
        code.unwrap_or("(no code)")
    ))
}

/// The item's key (README, "The ledger").
fn item_key(key: &DecisionKey) -> HashMap<String, AttributeValue> {
    let (source, event_id, user) = key;
    HashMap::from([
        ("pk".to_owned(), s(&format!("decision#{source}#{event_id}"))),
        (
            "sk".to_owned(),
            s(&format!("user#{}", user.as_str().to_ascii_lowercase())),
        ),
    ])
}

/// A builder's error names a missing required field, which the code above always sets.
fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, LedgerError> {
    r.map_err(|e| LedgerError::new(format!("could not build the write: {e}")))
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Rounded up, so a lease never ends before its holder's deadline.
fn unix_secs_ceil(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventId, Source, UserRef};

    fn key(event: &str, user: &str) -> DecisionKey {
        (
            Source::parse("jamf").unwrap(),
            EventId::parse(event).unwrap(),
            UserRef::parse(user).unwrap(),
        )
    }

    #[test]
    fn a_users_key_ignores_case_and_keeps_the_event_whole() {
        let a = item_key(&key("4-1795#000", "Erin@Contoso.com"));
        let b = item_key(&key("4-1795#000", "erin@contoso.com"));
        assert_eq!(a, b);
        assert_eq!(a["pk"], s("decision#jamf#4-1795#000"));
        assert_eq!(a["sk"], s("user#erin@contoso.com"));
    }

    #[test]
    fn a_refused_claim_reads_the_record_that_refused_it() {
        let mine = Lease::until(tokio::time::Instant::now(), Duration::ZERO);
        let other = Lease::until(tokio::time::Instant::now(), Duration::ZERO);
        let record = |state: &str, outcome: Option<&str>, lease: &Lease| {
            let mut item = HashMap::from([
                ("state".to_owned(), s(state)),
                ("lease".to_owned(), s(&lease.id.to_string())),
            ]);
            if let Some(o) = outcome {
                item.insert("outcome".to_owned(), s(o));
            }
            item
        };
        let held = record(IN_PROGRESS, None, &other);
        assert_eq!(found(Some(&held), &mine), Ok(Claim::Held));
        // Its own claim, from an attempt whose answer was lost: won, not held.
        assert_eq!(found(Some(&held), &other), Ok(Claim::Won));
        assert_eq!(
            found(Some(&record(SETTLED, Some("queued"), &other)), &mine),
            Ok(Claim::Settled(Settled::Queued))
        );
        let odd = record(SETTLED, Some("dry_run"), &other);
        assert!(found(Some(&odd), &mine).is_err());
        assert!(found(None, &mine).is_err());
    }

    #[test]
    fn a_cancelled_transaction_must_name_an_item_or_it_is_an_error() {
        let none = CancellationReason::builder().code("None").build();
        let failed = CancellationReason::builder()
            .code("ConditionalCheckFailed")
            .build();
        let conflict = CancellationReason::builder()
            .code("TransactionConflict")
            .build();
        let mut seen = Vec::new();
        let again = retried(&[3, 5, 7], &[none.clone(), failed, conflict], |i, r| {
            seen.push(i);
            Ok(match r.code() {
                Some("TransactionConflict") => Next::Again,
                _ => Next::Answered,
            })
        })
        .unwrap();
        assert_eq!((again, seen), (vec![3, 7], vec![5, 7]));
        let no_reason = retried(&[1, 2], &[none.clone(), none.clone()], |_, _| {
            Ok(Next::Answered)
        });
        assert!(no_reason.is_err());
        assert!(retried(&[1, 2], &[none], |_, _| Ok(Next::Answered)).is_err());
    }

    #[test]
    fn a_lease_ends_on_the_second_after_its_deadline() {
        let t = UNIX_EPOCH + Duration::from_millis(10_001);
        assert_eq!(unix_secs_ceil(t), 11);
        assert_eq!(unix_secs_ceil(UNIX_EPOCH + Duration::from_secs(10)), 10);
    }
}
