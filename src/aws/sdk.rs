//! The AWS SDK configuration both functions share: credentials from the Lambda environment,
//! timeouts that fit a webhook's time budget, the shared HTTP client, and error descriptions
//! that are safe to log.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_secretsmanager::config::ProvideCredentials;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

/// Loads the SDK configuration from the Lambda environment (region, and the
/// `AWS_ENDPOINT_URL_*` overrides local runs use), sending through `http`. Jamf Pro waits 2 s
/// for an answer: a cold Secrets Manager read or an SQS send must fit well inside that.
///
/// Credentials come from the environment only: Lambda puts the execution role's temporary
/// credentials there (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`). The
/// SDK's default chain would also build profile, web-identity (an STS client) and instance
/// metadata providers, none of which applies on Lambda, at the cost of about an eighth of a
/// cold start's instructions. Without them the instance does not start, rather than failing
/// every call with an unclear dispatch error.
pub(crate) async fn sdk_config(http: reqwest::Client) -> Result<SdkConfig, NoCredentials> {
    let credentials = EnvironmentVariableCredentialsProvider::new();
    credentials
        .provide_credentials()
        .await
        .map_err(|_| NoCredentials)?;
    // The connect timeout is the shared client's (`transport::CONNECT_TIMEOUT`).
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_millis(800))
        .operation_timeout(Duration::from_millis(1500))
        .build();
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .credentials_provider(credentials)
        .http_client(super::transport::aws_http_client(http))
        .load()
        .await)
}

/// The ledger's DynamoDB client: the shared configuration without the SDK's own timers. Every
/// ledger call is already bounded by its caller (the decider's `ledger_bound`, a fraction of a
/// second), so the SDK's operation and attempt timeouts and its stalled-stream check (a
/// throughput monitor and a one-second timer per attempt, for bodies of a few hundred bytes)
/// would each only add a timer to every call on the hot path.
pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .timeout_config(TimeoutConfig::disabled())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The notifications' SNS client, without the SDK's own timers for the same reason: the
/// decider bounds every publish (`NOTIFY_BOUND`).
pub fn sns_client(sdk: &SdkConfig) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::config::Builder::from(sdk)
        .timeout_config(TimeoutConfig::disabled())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// The environment holds no AWS credentials.
#[derive(Debug, thiserror::Error)]
#[error(
    "no AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); \
     Lambda sets them from the execution role, local runs must export them"
)]
pub struct NoCredentials;

/// Why a call failed, from its kind and error code only. Never the SDK error's `Debug`
/// form, which for an unreadable response includes the raw body (for Secrets Manager, the
/// secret itself). `SdkError` is the same type for every AWS service crate.
pub(crate) fn describe_sdk_error<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> String {
    match e {
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(f) if f.is_io() || f.is_timeout() => {
            "could not connect".to_owned()
        }
        SdkError::DispatchFailure(_) => "request could not be sent".to_owned(),
        SdkError::ResponseError(_) => "response could not be read".to_owned(),
        SdkError::ConstructionFailure(_) => "request could not be built".to_owned(),
        _ => format!("service error {}", e.code().unwrap_or("(no code)")),
    }
}
