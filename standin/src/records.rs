//! What the stand-in remembers about the traffic it saw, and the faults tests can inject.

use std::time::Duration;

use serde::Serialize;

/// One request that reached Graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraphCall {
    pub method: String,
    /// The path exactly as received (percent-encoding intact), without the query.
    pub raw_path: String,
    /// The query string as received, if any: a UPN with a bare `?` ends up here.
    pub raw_query: Option<String>,
    /// The decoded user segment, when the path had one.
    pub user: Option<String>,
    /// The status answered (0 while the request is still in flight).
    pub status: u16,
    /// The caller's `client-request-id` header.
    pub client_request_id: Option<String>,
}

/// One successful revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// `beta` or `v1.0`.
    pub version: String,
    /// `invalidateAllRefreshTokens` or `revokeSignInSessions` (namespace prefix removed).
    pub action: String,
    /// The user as received in the path, still percent-encoded (for `users('…')`, the part
    /// between the quotes).
    pub user_raw: String,
    /// The user decoded.
    pub user: String,
    /// The resolved user's `userPrincipalName` (`None` when the directory does not know it).
    pub upn: Option<String>,
    pub client_request_id: Option<String>,
}

/// A user in the stand-in's directory, as Graph's user lookups return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryUser {
    /// The object id (GUID).
    pub id: String,
    pub user_principal_name: String,
    pub mail: Option<String>,
}

/// One POST to the token endpoint. Never holds a secret, token or assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenAttempt {
    /// `client_secret`, `client_assertion`, `both` or `none`.
    pub credential: String,
    pub status: u16,
    /// The AADSTS code of a refusal.
    pub error_code: Option<u32>,
    /// The `jti` of an accepted assertion.
    pub assertion_jti: Option<String>,
    /// The assertion's header `alg`, when it could be read.
    pub assertion_alg: Option<String>,
}

/// A fault for the next Graph call of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `TooManyRequests`, with `Retry-After` when given.
    TooManyRequests { retry_after: Option<u64> },
    /// 500 `generalException`.
    InternalError,
    /// 502.
    BadGateway,
    /// 503 `serviceNotAvailable`, with `Retry-After` when given.
    ServiceUnavailable { retry_after: Option<u64> },
    /// 504.
    GatewayTimeout,
    /// Waits, then answers normally.
    Slow(Duration),
    /// 401 `InvalidAuthenticationToken` as for an expired token (the token stays valid).
    ExpiredToken,
    /// 403 `Authorization_RequestDenied`: the app lacks `User.RevokeSessions.All` or consent.
    Forbidden,
    /// 404 `Request_ResourceNotFound`.
    NotFound,
}

/// A fault for the next token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFault {
    /// 503 `temporarily_unavailable`.
    ServiceUnavailable,
    /// Waits, then answers normally.
    Slow(Duration),
    /// 401 `invalid_client` AADSTS7000215, whatever the credential.
    InvalidClient,
    /// 401 `invalid_client` AADSTS7000222: the client secret has expired.
    ExpiredSecret,
}
