//! The Intune poller's checkpoint, one item in the ledger table (README, "The ledger"):
//!
//! | attribute | type | value |
//! | --- | --- | --- |
//! | `pk` | S | `checkpoint#intune` |
//! | `sk` | S | `checkpoint` |
//! | `kind` | S | `checkpoint` |
//! | `since` | S | RFC 3339: records requested before this (less the overlap) are done |
//! | `next_link` | S | optional: the page the current pass reads next |
//! | `high_water` | S | optional, RFC 3339: the newest record the current pass has read |
//! | `version` | N | bumped on each save; a save is conditional on the version it read |
//! | `updated_at` | N | Unix seconds |
//!
//! It has no `expires_at`: the table's TTL never removes it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::describe_sdk_error;
use crate::intune::{Checkpoint, CheckpointStore};
use crate::revocation::LedgerError;

const PK: &str = "checkpoint#intune";
const SK: &str = "checkpoint";

/// The checkpoint in the ledger table.
#[derive(Debug, Clone)]
pub struct DynamoCheckpoint {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoCheckpoint {
    /// `table`: the ledger table's name or ARN.
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }
}

fn key() -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(PK.to_owned())),
        ("sk".to_owned(), AttributeValue::S(SK.to_owned())),
    ])
}

fn time_text(t: OffsetDateTime) -> Result<String, LedgerError> {
    t.format(&Rfc3339)
        .map_err(|e| LedgerError::new(format!("cannot write a time: {e}")))
}

fn time_of(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<OffsetDateTime>, LedgerError> {
    match item.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_s()
            .ok()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .map(Some)
            .ok_or_else(|| {
                LedgerError::new(format!("the checkpoint's {name} is not an RFC 3339 time"))
            }),
    }
}

impl CheckpointStore for DynamoCheckpoint {
    async fn load(&self) -> Result<Option<Checkpoint>, LedgerError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| LedgerError::new(format!("DynamoDB {}", describe_sdk_error(&e))))?;
        let Some(item) = answer.item else {
            return Ok(None);
        };
        let since = time_of(&item, "since")?
            .ok_or_else(|| LedgerError::new("the checkpoint has no since"))?;
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| LedgerError::new("the checkpoint has no version"))?;
        Ok(Some(Checkpoint {
            since,
            next_link: item.get("next_link").and_then(|v| v.as_s().ok()).cloned(),
            high_water: time_of(&item, "high_water")?,
            version,
        }))
    }

    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), LedgerError> {
        let mut item = key();
        item.insert(
            "kind".to_owned(),
            AttributeValue::S("checkpoint".to_owned()),
        );
        item.insert(
            "since".to_owned(),
            AttributeValue::S(time_text(checkpoint.since)?),
        );
        if let Some(link) = &checkpoint.next_link {
            item.insert("next_link".to_owned(), AttributeValue::S(link.clone()));
        }
        if let Some(high_water) = checkpoint.high_water {
            item.insert(
                "high_water".to_owned(),
                AttributeValue::S(time_text(high_water)?),
            );
        }
        item.insert(
            "version".to_owned(),
            AttributeValue::N(checkpoint.version.to_string()),
        );
        item.insert(
            "updated_at".to_owned(),
            AttributeValue::N(crate::unix_now().to_string()),
        );
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = match checkpoint.version.checked_sub(1) {
            Some(previous) if previous > 0 => put
                .condition_expression("version = :previous")
                .expression_attribute_values(":previous", AttributeValue::N(previous.to_string())),
            _ => put.condition_expression("attribute_not_exists(pk)"),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(LedgerError::new("another run moved the checkpoint first"))
            }
            Err(e) => Err(LedgerError::new(format!(
                "DynamoDB {}",
                describe_sdk_error(&e)
            ))),
        }
    }
}
