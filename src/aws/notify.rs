//! The notification adapter: [`Notifier`] on Amazon SNS (`Publish` to `NOTIFY_TOPIC_ARN`),
//! through the shared transport, with the message attributes `outcome` and `source` that
//! subscription filter policies match.

use aws_sdk_sns::types::MessageAttributeValue;
use futures_util::future::BoxFuture;

use super::describe_sdk_error;
use crate::revocation::{Notice, Notifier, NotifyError};

/// Publishes each notice to one topic; built once per instance.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

fn text_attribute(value: &str) -> Result<MessageAttributeValue, NotifyError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|_| NotifyError::new("a message attribute could not be built"))
}

impl Notifier for SnsNotifier {
    fn publish<'a>(&'a self, notice: &'a Notice) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            self.client
                .publish()
                .topic_arn(&self.topic_arn)
                .subject(&notice.subject)
                .message(&notice.body)
                .message_attributes("outcome", text_attribute(notice.outcome)?)
                .message_attributes("source", text_attribute(&notice.source)?)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| NotifyError::new(format!("SNS Publish: {}", describe_sdk_error(&e))))
        })
    }
}
