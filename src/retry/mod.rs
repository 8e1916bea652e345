//! Durable retry: a revocation still owed at the inline deadline becomes a [`RetryJob`] on the
//! SQS retry queue ([`SqsQueue`], the production `RetryQueue`), and the `retry` function works
//! the queue off through the same decision path ([`handle_batch`]). Messages that must come
//! back are reported as batch item failures; after `maxReceiveCount` SQS moves them to the
//! dead-letter queue, which raises an alarm.

mod job;
mod sqs;
mod worker;

pub use job::{JobError, RetryJob};
pub use sqs::SqsQueue;
pub use worker::{deadline_from_epoch_ms, handle_batch};
