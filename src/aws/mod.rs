//! The AWS side: the one HTTP client every outbound call shares (the AWS SDK's included), the
//! SDK configuration, the Secrets Manager store that holds the function's secret, and the
//! ledger of decisions in DynamoDB.

mod checkpoint;
mod ledger;
mod sdk;
mod secrets_manager;
mod transport;

pub use checkpoint::DynamoCheckpoint;
pub use ledger::DynamoLedger;
pub use sdk::NoCredentials;
pub(crate) use sdk::describe_sdk_error;
pub(crate) use sdk::{dynamodb_client, sdk_config};
pub use secrets_manager::{SecretError, SecretStore};
pub use transport::{aws_http_client, http_client};
