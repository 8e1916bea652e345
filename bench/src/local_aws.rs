//! moto_server on 127.0.0.1 (started by scripts/with_moto.py): the local Secrets Manager, SQS
//! and DynamoDB the functions talk to. The harness seeds them over their JSON protocols; it refuses any
//! endpoint that is not loopback, so a misconfigured shell can never reach real AWS.

use std::time::Duration;

use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum LocalAwsError {
    #[error(
        "{0} is not set: run the harness through scripts/with_moto.py (`make bench` does), which \
         starts moto_server on 127.0.0.1"
    )]
    NotSet(&'static str),
    #[error("{variable}={url} is not a loopback http URL; the benchmark never talks to real AWS")]
    NotLoopback { variable: &'static str, url: String },
    #[error("moto_server {target}: {source}")]
    Http {
        target: &'static str,
        source: reqwest::Error,
    },
    #[error("moto_server {target} answered {status}: {body}")]
    Refused {
        target: &'static str,
        status: u16,
        body: String,
    },
    #[error("moto_server {target} answered without {field}")]
    Missing {
        target: &'static str,
        field: &'static str,
    },
}

/// Secrets Manager, SQS, DynamoDB and SNS endpoints on moto_server.
#[derive(Debug, Clone)]
pub struct LocalAws {
    http: reqwest::Client,
    secrets_manager: String,
    sqs: String,
    dynamodb: String,
    sns: String,
}

/// Secrets Manager speaks JSON 1.1, SQS JSON 1.0; moto reads the region from the credential
/// scope and does not check the signature.
const SECRETS_MANAGER: (&str, &str) = ("application/x-amz-json-1.1", "secretsmanager");
const SQS: (&str, &str) = ("application/x-amz-json-1.0", "sqs");
const DYNAMODB: (&str, &str) = ("application/x-amz-json-1.0", "dynamodb");
/// SNS speaks the query protocol: a form in, XML out.
const SNS: (&str, &str) = ("application/x-www-form-urlencoded", "sns");

impl LocalAws {
    /// From `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_SQS`,
    /// `AWS_ENDPOINT_URL_DYNAMODB` and `AWS_ENDPOINT_URL_SNS`.
    pub fn from_env() -> Result<LocalAws, LocalAwsError> {
        let secrets_manager = loopback_var("AWS_ENDPOINT_URL_SECRETS_MANAGER")?;
        let sqs = loopback_var("AWS_ENDPOINT_URL_SQS")?;
        let dynamodb = loopback_var("AWS_ENDPOINT_URL_DYNAMODB")?;
        let sns = loopback_var("AWS_ENDPOINT_URL_SNS")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| LocalAwsError::Http {
                target: "client",
                source,
            })?;
        Ok(LocalAws {
            http,
            secrets_manager,
            sqs,
            dynamodb,
            sns,
        })
    }

    pub fn secrets_manager_url(&self) -> &str {
        &self.secrets_manager
    }

    pub fn sqs_url(&self) -> &str {
        &self.sqs
    }

    pub fn dynamodb_url(&self) -> &str {
        &self.dynamodb
    }

    pub fn sns_url(&self) -> &str {
        &self.sns
    }

    /// Creates an SNS topic (SNS speaks the query protocol, answering in XML); returns its ARN.
    pub async fn create_topic(&self, name: &str) -> Result<String, LocalAwsError> {
        let target = "SNS.CreateTopic";
        let form = format!("Action=CreateTopic&Version=2010-03-31&Name={name}");
        let answer = self.post(&self.sns, SNS, target, None, form).await?;
        answer
            .split_once("<TopicArn>")
            .and_then(|(_, rest)| rest.split_once("</TopicArn>"))
            .map(|(arn, _)| arn.trim().to_owned())
            .ok_or(LocalAwsError::Missing {
                target,
                field: "TopicArn",
            })
    }

    /// Creates a ledger table shaped as template.yaml makes it (on demand, key `pk` + `sk`).
    pub async fn create_ledger_table(&self, name: &str) -> Result<(), LocalAwsError> {
        let attribute = |n: &str| json!({ "AttributeName": n, "AttributeType": "S" });
        let body = json!({
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [attribute("pk"), attribute("sk")],
            "KeySchema": [
                { "AttributeName": "pk", "KeyType": "HASH" },
                { "AttributeName": "sk", "KeyType": "RANGE" },
            ],
        });
        self.call(
            &self.dynamodb,
            DYNAMODB,
            "DynamoDB_20120810.CreateTable",
            body,
        )
        .await
        .map(drop)
    }

    /// Stores a new secret named `name`.
    pub async fn create_secret(&self, name: &str, value: &str) -> Result<(), LocalAwsError> {
        let body = json!({ "Name": name, "SecretString": value });
        self.call(
            &self.secrets_manager,
            SECRETS_MANAGER,
            "secretsmanager.CreateSecret",
            body,
        )
        .await
        .map(drop)
    }

    /// Creates a standard queue; returns its URL.
    pub async fn create_queue(&self, name: &str) -> Result<String, LocalAwsError> {
        let target = "AmazonSQS.CreateQueue";
        let answer = self
            .call(&self.sqs, SQS, target, json!({ "QueueName": name }))
            .await?;
        answer["QueueUrl"]
            .as_str()
            .map(str::to_owned)
            .ok_or(LocalAwsError::Missing {
                target,
                field: "QueueUrl",
            })
    }

    /// `ApproximateNumberOfMessages` of a queue.
    pub async fn queue_depth(&self, queue_url: &str) -> Result<u64, LocalAwsError> {
        let target = "AmazonSQS.GetQueueAttributes";
        let body = json!({
            "QueueUrl": queue_url,
            "AttributeNames": ["ApproximateNumberOfMessages"],
        });
        let answer = self.call(&self.sqs, SQS, target, body).await?;
        answer["Attributes"]["ApproximateNumberOfMessages"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .ok_or(LocalAwsError::Missing {
                target,
                field: "Attributes.ApproximateNumberOfMessages",
            })
    }

    async fn call(
        &self,
        endpoint: &str,
        protocol: (&str, &str),
        target: &'static str,
        body: Value,
    ) -> Result<Value, LocalAwsError> {
        let text = self
            .post(endpoint, protocol, target, Some(target), body.to_string())
            .await?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// POSTs `body` to `endpoint` as `service` (with `x-amz-target` for the JSON protocols);
    /// returns the answer's text, or why there is none.
    async fn post(
        &self,
        endpoint: &str,
        (content_type, service): (&str, &str),
        target: &'static str,
        amz_target: Option<&str>,
        body: String,
    ) -> Result<String, LocalAwsError> {
        let credential = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let mut request = self
            .http
            .post(endpoint)
            .header("content-type", content_type)
            .header("authorization", credential);
        if let Some(amz_target) = amz_target {
            request = request.header("x-amz-target", amz_target);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|source| LocalAwsError::Http { target, source })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|source| LocalAwsError::Http { target, source })?;
        if !(200..300).contains(&status) {
            return Err(LocalAwsError::Refused {
                target,
                status,
                body: text,
            });
        }
        Ok(text)
    }
}

/// The region the functions run in and moto stores everything under.
pub const REGION: &str = "us-east-1";

fn loopback_var(variable: &'static str) -> Result<String, LocalAwsError> {
    let url = std::env::var(variable).map_err(|_| LocalAwsError::NotSet(variable))?;
    if is_loopback_http(&url) {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err(LocalAwsError::NotLoopback { variable, url })
    }
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split('/').next().unwrap_or("");
    let host = host_port
        .rsplit_once(':')
        .map_or(host_port, |(host, _port)| host);
    host == "localhost"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_are_accepted() {
        assert!(is_loopback_http("http://127.0.0.1:5000"));
        assert!(is_loopback_http("http://localhost:5000/"));
        assert!(!is_loopback_http(
            "https://secretsmanager.us-east-1.amazonaws.com"
        ));
        assert!(!is_loopback_http("http://127.0.0.1.example.com:80"));
        assert!(!is_loopback_http("http://10.0.0.1:5000"));
    }
}
