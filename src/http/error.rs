//! Why a request was not turned into a decision, and what the sender and the log are told.

use super::lambda::EnvelopeError;
use crate::auth::AuthError;
use crate::aws::SecretError;
use crate::payload::PayloadError;

/// Why a request was not turned into a decision.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error("malformed event: {0}")]
    BadEvent(#[from] EnvelopeError),
    #[error("method not allowed; use {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error("unknown or disabled source")]
    UnknownSource,
    #[error("body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("authentication failed: {0}")]
    Unauthorized(#[from] AuthError),
    #[error("malformed payload: {0}")]
    BadPayload(#[from] PayloadError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl IngressError {
    /// The response's `outcome` for this error.
    pub(super) fn outcome(&self) -> &'static str {
        match self {
            Self::BadEvent(_) => "bad_request",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UnknownSource => "unknown_source",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Unauthorized(_) => "unauthorized",
            Self::BadPayload(_) => "bad_request",
            Self::Secret(e) if e.is_transient() => "unavailable",
            Self::Secret(_) => "misconfigured",
        }
    }

    /// What the sender is told. Client errors say exactly what is wrong with the request;
    /// server errors stay opaque (the log has the detail).
    pub(super) fn public_message(&self) -> String {
        match self {
            Self::Secret(e) if e.is_transient() => {
                "temporarily unable to read configuration; retry".to_owned()
            }
            Self::Secret(_) => "the function is misconfigured; its log says what to fix".to_owned(),
            other => other.to_string(),
        }
    }

    /// The one log line of a refused request: misconfiguration at ERROR, the rest at WARN.
    pub(super) fn log(&self, source: &str, status: u16) {
        match self {
            Self::Secret(e) if !e.is_transient() => {
                tracing::error!(source, status, error = %e, "request refused: misconfigured");
            }
            _ => tracing::warn!(source, status, error = %self, "request refused"),
        }
    }
}
