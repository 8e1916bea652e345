//! The AWS side: the one HTTP client every outbound call shares (the AWS SDK's included), the
//! SDK configuration, the Secrets Manager store that holds the function's secret, the ledger
//! of decisions in DynamoDB, and the notifications on SNS.

mod checkpoint;
mod ledger;
mod notify;
mod sdk;
mod secrets_manager;
mod transport;

pub use checkpoint::DynamoCheckpoint;
pub use ledger::DynamoLedger;
pub use notify::SnsNotifier;
pub use sdk::NoCredentials;
pub(crate) use sdk::describe_sdk_error;
pub(crate) use sdk::sdk_config;
pub use sdk::{dynamodb_client, sns_client};
pub use secrets_manager::{SecretError, SecretStore};
pub use transport::{aws_http_client, http_client};
