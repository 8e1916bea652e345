//! Microsoft Graph: the one call that signs a user out everywhere, made to finish inside a
//! deadline through [`GraphClient::call`] (tokens, retries, `Retry-After`, the ids of each
//! attempt), and what each answer means for the user. Every line names the user; the
//! invocation's span (Lambda's `requestId`) ties it to the event's audit line, so no per-user
//! span is opened.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use super::calls::{GraphAnswer, GraphUnavailable};
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

    /// What Graph's answer to the revoke means; 429 and 5xx never get here (`call` retries
    /// them).
    fn revocation(&self, answer: &GraphAnswer, user: &UserRef) -> Revocation {
        let request_id = answer.request_id.as_str();
        match answer.status {
            s if s.is_success() => Revocation::Revoked(GraphReceipt {
                request_id: uuid::Uuid::try_parse(request_id).ok(),
                client_request_id: Some(answer.client_request_id),
                object_id: None,
            }),
            StatusCode::UNAUTHORIZED => {
                tracing::warn!(user = %user, "Graph refused a freshly issued token");
                Revocation::Transient
            }
            StatusCode::FORBIDDEN => {
                tracing::error!(
                    request_id,
                    user = %user,
                    "Graph denied the revocation: the app lacks the application permission \
                     User.RevokeSessions.All or admin consent for it"
                );
                Revocation::Denied
            }
            StatusCode::NOT_FOUND => Revocation::UserNotFound,
            other => {
                tracing::error!(
                    status = other.as_u16(),
                    request_id,
                    user = %user,
                    "Graph rejected the request; not retried inline"
                );
                Revocation::Misconfigured
            }
        }
    }
}

impl<C: CredentialSource> Revoker for GraphClient<C> {
    async fn revoke(
        &self,
        event: &LostDeviceEvent,
        user: &UserRef,
        deadline: Instant,
    ) -> Revocation {
        let url = self.url(user);
        match self.call(Method::POST, &url, None, deadline).await {
            Ok(answer) => self.revocation(&answer, user),
            Err(GraphUnavailable::Transient(why)) => {
                tracing::warn!(
                    event_id = %event.id,
                    user = %user,
                    why,
                    "deadline reached; revocation still owed"
                );
                Revocation::Transient
            }
            Err(GraphUnavailable::Misconfigured(error)) => {
                tracing::error!(
                    error,
                    user = %user,
                    "cannot get a token: the function is misconfigured"
                );
                Revocation::Misconfigured
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
}
