//! The function's one HTTP client, shared by Secrets Manager, SQS, Entra and Graph: one
//! connection pool, one TLS configuration, one root store, set up once per instance.
//!
//! - **Roots:** Mozilla's root certificates, compiled in (`webpki-root-certs`). Reading and
//!   parsing the system's PEM bundle is most of a cold start's CPU, and with the AWS SDK's own
//!   HTTPS client it happened twice. The trade-off: the roots change with a dependency update
//!   and a deploy, not with the runtime's OS patches.
//! - **No redirects:** none of these endpoints redirects, and following one would re-send a
//!   token request's form body (the client secret or assertion) to wherever it points. A 3xx
//!   is an unexpected status to the caller.
//! - **The AWS SDK** sends through [`aws_http_client`], an adapter from the SDK's
//!   `HttpConnector` to the same client. The SDK keeps its own retries and timeouts.

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// How long a TCP + TLS connect may take, for every endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Builds the instance's one HTTP client. Per-request deadlines are set by the callers.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()?;
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("lost-device-revoker/", env!("CARGO_PKG_VERSION")))
        .tls_certs_only(roots)
        .build()
}

/// `client` as the AWS SDK's HTTP client. The connect timeout is the client's own
/// (`CONNECT_TIMEOUT`), not the SDK's setting; the SDK's read timeout, when one is set,
/// bounds each whole request. The SDK's attempt and operation timeouts and its retries work
/// as with its own client. Its connection poisoning (dropping a connection after some
/// transient errors) does not reach reqwest's pool.
pub fn aws_http_client(client: reqwest::Client) -> SharedHttpClient {
    SharedHttpClient::new(SdkOverReqwest { client })
}

#[derive(Debug, Clone)]
struct SdkOverReqwest {
    client: reqwest::Client,
}

impl HttpClient for SdkOverReqwest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            client: self.client.clone(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug, Clone)]
struct Connector {
    client: reqwest::Client,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let connector = self.clone();
        HttpConnectorFuture::new(async move { connector.send(request).await })
    }
}

impl Connector {
    async fn send(self, request: HttpRequest) -> Result<HttpResponse, ConnectorError> {
        let (parts, body) = request
            .try_into_http1x()
            .map_err(|e| ConnectorError::user(e.into()))?
            .into_parts();
        // The SDK's body is sent as it is, read as it goes: the SDK wraps it to watch upload
        // throughput, and a copy of its bytes would look like a stalled upload to that check.
        let mut sending = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(reqwest::Body::wrap(body));
        if let Some(timeout) = self.read_timeout {
            sending = sending.timeout(timeout);
        }
        let response = sending.send().await.map_err(connector_error)?;
        // The body goes back unread, as a stream. The SDK logs the response it is handed at
        // TRACE, and logs a body it reads itself only for operations whose output is not
        // sensitive. Bytes handed over in memory would put a GetSecretValue answer, the secret,
        // in that TRACE line.
        let (parts, body) = lambda_http::http::Response::from(response).into_parts();
        let answer = lambda_http::http::Response::from_parts(parts, SdkBody::from_body_1_x(body));
        HttpResponse::try_from(answer).map_err(|e| ConnectorError::other(e.into(), None))
    }
}

/// A timeout stays a timeout and a failed connect or read is I/O, so the SDK classifies and
/// retries them as it would its own client's; a request reqwest cannot build is not retried.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_builder() {
        ConnectorError::user(e.into())
    } else {
        ConnectorError::io(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Serves one connection with `answer` and returns what the client sent.
    async fn one_exchange(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as much body as Content-Length says.
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    if seen.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
            String::from_utf8_lossy(&seen).to_string()
        });
        (url, served)
    }

    fn connector(read_timeout: Option<Duration>) -> Connector {
        Connector {
            client: http_client().unwrap(),
            read_timeout,
        }
    }

    fn sdk_request(url: &str, body: &'static str) -> HttpRequest {
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("{url}/path?q=1"))
            .header("x-amz-target", "secretsmanager.GetSecretValue")
            .header("content-type", "application/x-amz-json-1.1")
            .header("content-length", body.len().to_string())
            .body(SdkBody::from(body))
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    #[tokio::test]
    async fn sdk_requests_go_out_with_their_method_path_headers_and_body() {
        let (url, served) = one_exchange(
            "HTTP/1.1 400 Bad Request\r\nx-amzn-requestid: r-1\r\ncontent-length: 13\r\n\
             connection: close\r\n\r\n{\"a\":\"reply\"}",
        )
        .await;

        let response = connector(None)
            .send(sdk_request(&url, r#"{"SecretId":"s"}"#))
            .await
            .expect("an answer, whatever its status");

        let seen = served.await.unwrap();
        assert!(seen.starts_with("POST /path?q=1 HTTP/1.1\r\n"), "{seen}");
        assert!(seen.contains("x-amz-target: secretsmanager.GetSecretValue\r\n"));
        assert!(seen.contains("content-type: application/x-amz-json-1.1\r\n"));
        assert!(seen.ends_with(r#"{"SecretId":"s"}"#), "{seen}");
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("r-1"));
        // Unread: the SDK's TRACE line for the response must not be able to print the body.
        assert!(response.body().bytes().is_none(), "the body was buffered");
        let body = aws_smithy_types::byte_stream::ByteStream::new(response.into_body())
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(&body[..], b"{\"a\":\"reply\"}");
    }

    /// A real SDK call through the adapter: SigV4 signs the request before it reaches reqwest,
    /// so every signed header must arrive once and unchanged, and the body in full.
    #[tokio::test]
    async fn an_sdk_signed_request_arrives_with_every_signed_header_once_and_its_body() {
        use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
        let (url, served) = one_exchange(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\n\
             content-length: 55\r\nconnection: close\r\n\r\n\
             {\"__type\":\"ResourceNotFoundException\",\"message\":\"none\"}",
        )
        .await;
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "test-key", None, None, "test"))
            .endpoint_url(&url)
            .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
            .http_client(aws_http_client(http_client().unwrap()))
            .build();
        let client = aws_sdk_secretsmanager::Client::from_conf(config);

        let error = client
            .get_secret_value()
            .secret_id("s")
            .send()
            .await
            .expect_err("the server says there is no such secret");

        assert_eq!(
            aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(&error),
            Some("ResourceNotFoundException")
        );
        let seen = served.await.unwrap();
        let (head, body) = seen.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, r#"{"SecretId":"s"}"#);
        let headers: Vec<(String, String)> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        let authorization = &headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1;
        let signed = authorization
            .split("SignedHeaders=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap();
        for name in signed.split(';') {
            let count = headers.iter().filter(|(k, _)| k == name).count();
            assert_eq!(
                count, 1,
                "signed header {name} arrived {count} times: {head}"
            );
        }
        let length = &headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .unwrap()
            .1;
        assert_eq!(length, &body.len().to_string());
    }

    #[tokio::test]
    async fn redirects_are_answered_to_the_caller_not_followed() {
        let (url, served) = one_exchange(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:9/elsewhere\r\n\
             content-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;

        let response = connector(None)
            .send(sdk_request(&url, "{}"))
            .await
            .expect("the 307 itself");

        served.await.unwrap();
        assert_eq!(response.status().as_u16(), 307);
    }

    #[tokio::test]
    async fn a_silent_server_is_a_timeout_the_sdk_can_retry() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let _held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(socket);
        });

        let error = connector(Some(Duration::from_millis(100)))
            .send(sdk_request(&url, "{}"))
            .await
            .expect_err("no answer within the read timeout");

        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_io() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);

        let error = connector(None)
            .send(sdk_request(&url, "{}"))
            .await
            .expect_err("nothing listens");

        assert!(error.is_io(), "{error:?}");
    }

    #[test]
    fn the_client_builds_from_the_compiled_in_roots() {
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
        http_client().expect("the roots parse and the client builds");
    }
}
