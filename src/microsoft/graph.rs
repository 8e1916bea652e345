//! Microsoft Graph: the one call that signs a user out everywhere, made to finish inside a
//! deadline. 401 gets one fresh token; 429 and 5xx (and connection failures) are retried,
//! honouring `Retry-After`, else with exponential backoff and jitter, while time remains.
//! Status codes decide, never message text. Each call carries a fresh `client-request-id`,
//! logged with Graph's `request-id`. Every line names the user; the invocation's span (Lambda's
//! `requestId`) ties it to the event's audit line, so no per-user span is opened.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use tokio::time::Instant;

use super::credentials::CredentialSource;
use super::token::TokenClient;
use crate::domain::{LostDeviceEvent, ObjectId, UserRef};
use crate::revocation::{Containment, GraphReceipt, Revocation, Revoker};

/// Which Graph action revokes the sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeAction {
    /// `POST /beta/users/{u}/invalidateAllRefreshTokens`.
    InvalidateAllRefreshTokens,
    /// `POST /v1.0/users/{u}/revokeSignInSessions`, Microsoft's recommended successor.
    RevokeSignInSessions,
}

impl RevokeAction {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "invalidateAllRefreshTokens" => Some(Self::InvalidateAllRefreshTokens),
            "revokeSignInSessions" => Some(Self::RevokeSignInSessions),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidateAllRefreshTokens => "invalidateAllRefreshTokens",
            Self::RevokeSignInSessions => "revokeSignInSessions",
        }
    }

    fn version(self) -> &'static str {
        match self {
            Self::InvalidateAllRefreshTokens => "beta",
            Self::RevokeSignInSessions => "v1.0",
        }
    }
}

/// Everything but unreserved characters and `@` is escaped: `#`, `/`, `?`, `%`, `'` and the
/// rest can never end the segment or change what it addresses.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// The path that addresses exactly `user`: `users/{id|upn}`, or `users('{upn}')` for a UPN
/// starting with `$`, which Graph would otherwise read as a system query option.
pub(crate) fn user_path(user: &UserRef) -> String {
    path_for(user.as_str())
}

/// [`user_path`] for any text: the parser already refuses path characters in UPNs, and this
/// encoding holds even if it did not.
fn path_for(text: &str) -> String {
    if text.starts_with('$') {
        // An OData string literal: a quote is doubled before encoding.
        let literal = text.replace('\'', "''");
        format!("users('{}')", utf8_percent_encode(&literal, SEGMENT))
    } else {
        format!("users/{}", utf8_percent_encode(text, SEGMENT))
    }
}

/// Calls Graph to revoke sessions; built once per instance, shared by every request.
#[derive(Debug)]
pub struct GraphClient<C> {
    pub(super) http: reqwest::Client,
    pub(super) graph_url: String,
    action: RevokeAction,
    pub(super) tokens: TokenClient<C>,
}

/// What one attempt tells the retry loop.
enum Step {
    Done(Revocation),
    RetryAfter(Option<Duration>),
    NewToken,
}

const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// The longest `Retry-After` taken as given. Graph asks for seconds to minutes; a larger value
/// (even `u64::MAX`) only means "not before the deadline", so the call gives up as owed.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Exponential backoff with "equal jitter": half fixed, half random.
pub(super) fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(10))
        .min(BACKOFF_CAP);
    exp / 2 + exp.mul_f64(fastrand::f64() / 2.0)
}

pub(super) fn retry_after(response: &reqwest::Response) -> Option<Duration> {
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

impl<C: CredentialSource> GraphClient<C> {
    pub(crate) fn new(
        http: reqwest::Client,
        graph_url: String,
        action: RevokeAction,
        tokens: TokenClient<C>,
    ) -> Self {
        Self {
            http,
            graph_url,
            action,
            tokens,
        }
    }

    fn url(&self, user: &UserRef) -> String {
        format!(
            "{}/{}/{}/{}",
            self.graph_url,
            self.action.version(),
            user_path(user),
            self.action.name()
        )
    }

    async fn attempt(
        &self,
        url: &str,
        user: &UserRef,
        deadline: Instant,
        fresh_token: bool,
    ) -> Step {
        let token = match self.tokens.token(deadline).await {
            Ok(token) => token,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, user = %user, "no token yet");
                return Step::RetryAfter(None);
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    user = %user,
                    "cannot get a token: the function is misconfigured"
                );
                return Step::Done(Revocation::Misconfigured);
            }
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let client_request_id = client_request_id();
        let sent = self
            .http
            .post(url)
            .header(
                reqwest::header::AUTHORIZATION,
                token.authorization().clone(),
            )
            .header("client-request-id", client_request_id.to_string())
            .header("return-client-request-id", "true")
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .timeout(remaining)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(
                    %client_request_id,
                    user = %user,
                    timeout = e.is_timeout(),
                    connect = e.is_connect(),
                    "Graph call failed before an answer"
                );
                return Step::RetryAfter(None);
            }
        };
        let status = response.status();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let wait = retry_after(&response);
        // Every answer is logged with Microsoft's ids for a support case. A success at DEBUG:
        // the audit line that follows records it, ids included, and one INFO line per revoked
        // user keeps a warm revocation's cost down.
        macro_rules! answered {
            ($level:ident) => {
                tracing::$level!(
                    status = status.as_u16(),
                    request_id,
                    %client_request_id,
                    action = self.action.name(),
                    user = %user,
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
            s if s.is_success() => Step::Done(Revocation::Revoked(GraphReceipt {
                request_id: uuid::Uuid::try_parse(&request_id).ok(),
                client_request_id: Some(client_request_id),
            })),
            StatusCode::UNAUTHORIZED if !fresh_token => {
                self.tokens.invalidate(&token).await;
                Step::NewToken
            }
            StatusCode::UNAUTHORIZED => {
                tracing::warn!(user = %user, "Graph refused a freshly issued token");
                Step::RetryAfter(None)
            }
            StatusCode::FORBIDDEN => {
                tracing::error!(
                    request_id,
                    user = %user,
                    "Graph denied the revocation: the app lacks the application permission \
                     User.RevokeSessions.All or admin consent for it"
                );
                Step::Done(Revocation::Denied)
            }
            StatusCode::NOT_FOUND => Step::Done(Revocation::UserNotFound),
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Step::RetryAfter(wait),
            other => {
                tracing::error!(
                    status = other.as_u16(),
                    request_id,
                    user = %user,
                    "Graph rejected the request; not retried inline"
                );
                Step::Done(Revocation::Misconfigured)
            }
        }
    }
}

/// A fresh `client-request-id`: a version 4 GUID, the form Microsoft adopts as the request's
/// correlation id. It must be unique, not secret, so the thread's fast generator serves,
/// without a getrandom(2) system call per request.
pub(super) fn client_request_id() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid()
}

impl<C: CredentialSource> Revoker for GraphClient<C> {
    async fn revoke(
        &self,
        event: &LostDeviceEvent,
        user: &UserRef,
        deadline: Instant,
    ) -> Revocation {
        let url = self.url(user);
        let mut fresh_token = false;
        let mut attempt: u32 = 0;
        loop {
            match self.attempt(&url, user, deadline, fresh_token).await {
                Step::Done(revocation) => return revocation,
                Step::NewToken => fresh_token = true,
                Step::RetryAfter(wait) => {
                    let wait = wait.unwrap_or_else(|| backoff(attempt));
                    attempt += 1;
                    let resume = Instant::now().checked_add(wait);
                    if resume.is_none_or(|at| at >= deadline) {
                        tracing::warn!(
                            attempts = attempt,
                            event_id = %event.id,
                            user = %user,
                            "deadline reached; revocation still owed"
                        );
                        return Revocation::Transient;
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn disable_device(&self, device: &ObjectId, deadline: Instant) -> Containment {
        super::devices::disable(self, device, deadline).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(raw: &str) -> String {
        path_for(raw)
    }

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
    fn user_segments_escape_everything_that_could_leave_the_segment() {
        assert_eq!(path("alice@contoso.com"), "users/alice@contoso.com");
        assert_eq!(
            path("alice_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
            "users/alice_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
        );
        for hostile in [
            "a/../../me@contoso.com",
            "a?$select=id@contoso.com",
            "a%2F..@contoso.com",
            "a#frag@contoso.com",
            "..@contoso.com",
        ] {
            let p = path(hostile);
            let segment = p.strip_prefix("users/").unwrap();
            assert!(!segment.contains(['/', '?', '#']), "{p}");
            assert_ne!(segment, "..");
            let decoded = percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .unwrap();
            assert_eq!(decoded, hostile, "decodes back to exactly the user");
        }
    }

    #[test]
    fn dollar_upns_use_the_key_syntax_with_quotes_doubled() {
        assert_eq!(path("$admin@contoso.com"), "users('%24admin@contoso.com')");
        assert_eq!(
            path("$o'neil@contoso.com"),
            "users('%24o%27%27neil@contoso.com')"
        );
    }

    #[test]
    fn object_ids_pass_through_lowercased() {
        let id = UserRef::parse("6F1C2A1E-8F5B-4C1D-9E2A-0123456789AB").unwrap();
        assert_eq!(user_path(&id), "users/6f1c2a1e-8f5b-4c1d-9e2a-0123456789ab");
    }

    #[test]
    fn actions_use_their_documented_versions() {
        assert_eq!(RevokeAction::InvalidateAllRefreshTokens.version(), "beta");
        assert_eq!(RevokeAction::RevokeSignInSessions.version(), "v1.0");
        assert_eq!(
            RevokeAction::parse("revokeSignInSessions"),
            Some(RevokeAction::RevokeSignInSessions)
        );
        assert_eq!(RevokeAction::parse("RevokeSignInSessions"), None);
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
