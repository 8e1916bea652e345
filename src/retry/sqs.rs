//! The SQS retry queue: the production [`RetryQueue`], through an injected SQS client.

use super::job::RetryJob;
use crate::aws::describe_sdk_error;
use crate::domain::{LostDeviceEvent, Owner};
use crate::revocation::{QueueError, RetryQueue};

/// The SQS retry queue, through an injected client.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsQueue {
    pub(crate) fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

impl RetryQueue for SqsQueue {
    async fn enqueue(&self, event: &LostDeviceEvent, owner: &Owner) -> Result<(), QueueError> {
        let job = RetryJob::new(event, owner, crate::unix_now());
        let sent = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(job.to_json())
            .send()
            .await
            .map_err(|e| QueueError::new(describe_sdk_error(&e)))?;
        tracing::info!(
            message_id = sent.message_id().unwrap_or("(none)"),
            "retry job queued"
        );
        Ok(())
    }
}
