//! Every Graph call (the revoke, the Intune reads, the device update) goes through
//! [`GraphClient::call`]: the instance's token, one fresh token after a 401, 429 and 5xx (and
//! connection failures) retried while the deadline allows, honouring `Retry-After`, else
//! backing off with jitter; a fresh `client-request-id` on each attempt. Status codes decide,
//! never message text. Any other status is the caller's to read: only the caller knows what a
//! 400 or a 404 means for its call.
//!
//! Every answer is logged as `Graph answered` with Microsoft's ids for a support case: a
//! success at DEBUG (the caller's audit line records it, and one INFO line per revoked user
//! keeps a warm revocation's cost down), anything else at INFO.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use super::credentials::CredentialSource;
use super::graph::GraphClient;

const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// The longest `Retry-After` taken as given. Graph asks for seconds to minutes; a larger value
/// (even `u64::MAX`) only means "not before the deadline", so the call gives up as owed.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Exponential backoff with "equal jitter": half fixed, half random.
fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(10))
        .min(BACKOFF_CAP);
    exp / 2 + exp.mul_f64(fastrand::f64() / 2.0)
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|seconds| Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// A fresh `client-request-id`: a version 4 GUID, the form Microsoft adopts as the request's
/// correlation id. It must be unique, not secret, so the thread's fast generator serves,
/// without a getrandom(2) system call per request.
fn client_request_id() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid()
}

/// The longest body read from Graph: a page of Intune audit records is tens of KB.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Graph's answer to a call: any status but the retried ones.
#[derive(Debug, Clone)]
pub struct GraphAnswer {
    pub status: StatusCode,
    /// Graph's `request-id`, for the log and a support case.
    pub request_id: String,
    /// The `client-request-id` this function sent with the answered attempt.
    pub client_request_id: uuid::Uuid,
    pub body: Vec<u8>,
}

impl GraphAnswer {
    /// Graph's error `code` and `message` (`{"error":{"code","message"}}`), for a log line or
    /// an audit reason; empty when the body is not Graph's error shape.
    pub fn error_text(&self) -> String {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let field = |name: &str| {
            error
                .and_then(|e| e.get(name))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .chars()
                .take(300)
                .collect::<String>()
        };
        match (field("code"), field("message")) {
            (code, message) if code.is_empty() && message.is_empty() => String::new(),
            (code, message) => format!("{code}: {message}"),
        }
    }
}

/// No answer to act on by the deadline, or no token to ask with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphUnavailable {
    /// Throttling, outages or timeouts outlasted the deadline: try again later.
    #[error("Graph did not answer in time: {0}")]
    Transient(String),
    /// The function cannot get a token as deployed (credentials, secret, tenant).
    #[error("cannot get a token: {0}")]
    Misconfigured(String),
}

impl<C: CredentialSource> GraphClient<C> {
    /// `{graph_url}/{path}`: `path` starts with the version (`beta/…`, `v1.0/…`).
    pub(crate) fn graph_url_for(&self, path: &str) -> String {
        format!("{}/{}", self.graph_url, path)
    }

    /// Whether `url` is on the configured Graph host (scheme, host and port): a link Graph
    /// hands back (`@odata.nextLink`) is followed only there, so a forged or corrupted link
    /// can never carry the app's token anywhere else.
    pub(crate) fn is_graph_url(&self, url: &str) -> bool {
        let origin = |u: &str| {
            reqwest::Url::parse(u).ok().map(|u| {
                (
                    u.scheme().to_owned(),
                    u.host_str().map(str::to_ascii_lowercase),
                    u.port_or_known_default(),
                )
            })
        };
        matches!((origin(url), origin(&self.graph_url)), (Some(a), Some(b)) if a == b)
    }

    /// Sends `method url` with `body` (JSON) until Graph gives an answer that is not retried,
    /// or `deadline`.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
        deadline: Instant,
    ) -> Result<GraphAnswer, GraphUnavailable> {
        let mut fresh_token = false;
        let mut attempt: u32 = 0;
        loop {
            let last = match self
                .call_once(&method, url, body, deadline, fresh_token)
                .await
            {
                Attempt::Answered(answer) => return Ok(answer),
                Attempt::Misconfigured(e) => return Err(GraphUnavailable::Misconfigured(e)),
                Attempt::GiveUp(why) => return Err(GraphUnavailable::Transient(why)),
                Attempt::NewToken => {
                    fresh_token = true;
                    continue;
                }
                Attempt::Retry { wait, why } => (wait, why),
            };
            let (wait, why) = last;
            let wait = wait.unwrap_or_else(|| backoff(attempt));
            attempt += 1;
            let resume = Instant::now().checked_add(wait);
            if resume.is_none_or(|at| at >= deadline) {
                return Err(GraphUnavailable::Transient(format!(
                    "{why} (after {attempt} attempts)"
                )));
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn call_once(
        &self,
        method: &Method,
        url: &str,
        body: Option<&serde_json::Value>,
        deadline: Instant,
        fresh_token: bool,
    ) -> Attempt {
        let token = match self.tokens.token(deadline).await {
            Ok(token) => token,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, url, "no token yet");
                return Attempt::Retry {
                    wait: None,
                    why: e.to_string(),
                };
            }
            Err(e) => return Attempt::Misconfigured(e.to_string()),
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let client_request_id = client_request_id();
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(
                reqwest::header::AUTHORIZATION,
                token.authorization().clone(),
            )
            .header("client-request-id", client_request_id.to_string())
            .header("return-client-request-id", "true")
            .timeout(remaining);
        request = match body {
            Some(body) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string()),
            None => request.header(reqwest::header::CONTENT_LENGTH, "0"),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(
                    %client_request_id,
                    url,
                    timeout = e.is_timeout(),
                    connect = e.is_connect(),
                    "Graph call failed before an answer"
                );
                return Attempt::Retry {
                    wait: None,
                    why: if e.is_timeout() {
                        "timed out".to_owned()
                    } else {
                        "no answer".to_owned()
                    },
                };
            }
        };
        let status = response.status();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        macro_rules! answered {
            ($level:ident) => {
                tracing::$level!(
                    status = status.as_u16(),
                    request_id,
                    %client_request_id,
                    %method,
                    url,
                    "Graph answered"
                )
            };
        }
        if status.is_success() {
            answered!(debug);
        } else {
            answered!(info);
        }
        match status {
            StatusCode::UNAUTHORIZED if !fresh_token => {
                self.tokens.invalidate(&token).await;
                return Attempt::NewToken;
            }
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => {
                return Attempt::Retry {
                    wait: retry_after(&response),
                    why: format!("Graph answered {}", status.as_u16()),
                };
            }
            _ => {}
        }
        match read_limited(response).await {
            Ok(body) => Attempt::Answered(GraphAnswer {
                status,
                request_id,
                client_request_id,
                body,
            }),
            Err(Unread::BrokeOff) => Attempt::Retry {
                wait: None,
                why: "the answer broke off".to_owned(),
            },
            // Asking again gets the same answer: no time is spent on it.
            Err(Unread::TooLarge) => Attempt::GiveUp(format!(
                "the answer is larger than {} MiB",
                MAX_ANSWER_BYTES / (1024 * 1024)
            )),
        }
    }
}

/// What one attempt tells the loop.
enum Attempt {
    Answered(GraphAnswer),
    Retry {
        wait: Option<std::time::Duration>,
        why: String,
    },
    NewToken,
    Misconfigured(String),
    /// No answer to act on, and no point in asking again.
    GiveUp(String),
}

/// Why a body was not read.
enum Unread {
    BrokeOff,
    TooLarge,
}

/// The body, unless it breaks off or is larger than [`MAX_ANSWER_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, Unread> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| Unread::BrokeOff)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Unread::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_ids_are_distinct_version_4_guids() {
        let ids: std::collections::HashSet<uuid::Uuid> =
            (0..1000).map(|_| client_request_id()).collect();

        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.get_version_num(), 4, "{id}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert_eq!(id.to_string().len(), 36, "hyphenated form: {id}");
        }
    }

    #[test]
    fn backoff_grows_and_stays_within_its_cap() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            let full = BACKOFF_BASE
                .saturating_mul(1 << attempt.min(10))
                .min(BACKOFF_CAP);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
    }
}
