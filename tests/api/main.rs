//! Integration tests: the real handler, real `lambda_http` requests, Secrets Manager served by
//! moto_server on 127.0.0.1 (and SQS for the retry queue, DynamoDB for the ledger). Run with `make test`.

mod durability;
mod events;
mod helpers;
mod intune;
#[path = "../support/invariants.rs"]
mod invariants;
mod layout;
mod ledger;
mod logs;
mod notifications;
mod properties;
mod protection;
mod revocation;
mod secrets;
mod startup;
mod webhook;
