//! The HTTP edge: a `lambda_http` request becomes a [`Report`] or an [`IngressError`], and
//! either becomes a JSON response here, the one place that maps errors to status codes.
//! Order of checks: route and method, body size, source, authentication (raw bytes), payload,
//! decision. Nothing past authentication runs for an unauthenticated request.

use std::sync::Arc;

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use tokio::time::Instant;

use crate::auth::AuthError;
use crate::aws::secrets_manager::{SecretError, SecretStore};
use crate::config::Config;
use crate::domain::{Source, last_segment};
use crate::payload::{self, MdmOptions, PayloadError};
use crate::retry::queue::{RetryQueue, SqsQueue};
use crate::revocation::{Decider, Report, Revoker};

/// Everything a request needs, built once per instance and borrowed per request.
#[derive(Debug)]
pub struct App<R, Q = SqsQueue> {
    config: Config,
    mdm: MdmOptions,
    secrets: Arc<SecretStore>,
    decider: Decider<R, Q>,
}

impl<R: Revoker, Q: RetryQueue> App<R, Q> {
    /// `secrets` is shared with the revoker, which reads the Entra credentials from it.
    /// Without `queue`, a revocation that cannot finish inline is answered 503.
    pub fn new(config: Config, secrets: Arc<SecretStore>, revoker: R, queue: Option<Q>) -> Self {
        Self {
            mdm: config.mdm_options(),
            decider: Decider::new(config.policy(), revoker, queue),
            config,
            secrets,
        }
    }
}

/// Why a request was not turned into a decision.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
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
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnknownSource => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::BadPayload(_) => StatusCode::BAD_REQUEST,
            Self::Secret(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Secret(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response's `outcome` for this error.
    fn outcome(&self) -> &'static str {
        match self {
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
    fn public_message(&self) -> String {
        match self {
            Self::Secret(e) if e.is_transient() => {
                "temporarily unable to read configuration; retry".to_owned()
            }
            Self::Secret(_) => "the function is misconfigured; its log says what to fix".to_owned(),
            other => other.to_string(),
        }
    }

    fn log(&self, source: &str) {
        let status = self.status().as_u16();
        match self {
            Self::Secret(e) if !e.is_transient() => {
                tracing::error!(source, status, error = %e, "request refused: misconfigured");
            }
            _ => tracing::warn!(source, status, error = %self, "request refused"),
        }
    }
}

/// Serves one request. Never fails and never panics on input: every problem is a response.
pub async fn handle<R: Revoker, Q: RetryQueue>(app: &App<R, Q>, req: Request) -> Response<Body> {
    let segment = last_segment(req.uri().path()).to_owned();
    let result = route(app, &segment, &req).await;
    match result {
        Ok(Reply::Health) => respond(StatusCode::OK, &Envelope::new("healthy")),
        Ok(Reply::Report(report)) => report_response(&report),
        Err(e) => {
            e.log(&segment);
            error_response(&e)
        }
    }
}

enum Reply {
    Health,
    Report(Report),
}

async fn route<R: Revoker, Q: RetryQueue>(
    app: &App<R, Q>,
    segment: &str,
    req: &Request,
) -> Result<Reply, IngressError> {
    // The inline budget counts from when the handler gets the request (after any cold-start
    // init): a secret read that init could not do spends it too.
    let started = Instant::now();
    if segment == "health" && req.method() == Method::GET {
        return Ok(Reply::Health);
    }
    if req.method() != Method::POST {
        let allow = if segment == "health" { "GET" } else { "POST" };
        return Err(IngressError::MethodNotAllowed { allow });
    }
    let source = Source::parse(segment).map_err(|_| IngressError::UnknownSource)?;

    // lambda_http has already base64-decoded the body when the event says isBase64Encoded.
    let body: &[u8] = req.body().as_ref();
    if body.len() > app.config.max_body_bytes {
        return Err(IngressError::PayloadTooLarge {
            limit: app.config.max_body_bytes,
        });
    }

    let secret = app.secrets.get().await?;
    let webhook = secret
        .webhooks
        .get(&source)
        .ok_or(IngressError::UnknownSource)?;
    let verified = webhook.scheme.verify(
        req.headers(),
        body,
        crate::unix_now(),
        app.config.signature_tolerance_secs,
    )?;
    let parsed = payload::parse(webhook.format, &source, verified.bytes(), &app.mdm)?;
    let deadline = started + app.config.inline_deadline;
    Ok(Reply::Report(
        app.decider.decide(&source, parsed, deadline).await,
    ))
}

/// Every answer's body (DESIGN §5): `{"outcome", "event_id", "results": [{"user", "outcome"}]}`,
/// plus `error` when the request was refused.
#[derive(Debug, Serialize)]
struct Envelope<'a> {
    outcome: &'a str,
    event_id: Option<&'a str>,
    results: Vec<UserResult<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct UserResult<'a> {
    user: &'a str,
    outcome: &'a str,
}

impl<'a> Envelope<'a> {
    fn new(outcome: &'a str) -> Self {
        Self {
            outcome,
            event_id: None,
            results: Vec::new(),
            error: None,
        }
    }
}

fn report_response(report: &Report) -> Response<Body> {
    let envelope = Envelope {
        event_id: report.event_id.as_ref().map(|id| id.as_str()),
        results: report
            .results
            .iter()
            .map(|r| UserResult {
                user: r.user.as_str(),
                outcome: r.outcome.as_str(),
            })
            .collect(),
        ..Envelope::new(report.outcome_str())
    };
    respond(report.status(), &envelope)
}

fn error_response(e: &IngressError) -> Response<Body> {
    let envelope = Envelope {
        error: Some(e.public_message()),
        ..Envelope::new(e.outcome())
    };
    let mut response = respond(e.status(), &envelope);
    if let IngressError::MethodNotAllowed { allow } = e {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}

fn respond(status: StatusCode, envelope: &Envelope<'_>) -> Response<Body> {
    // Serializing string slices and a derived struct into a Vec cannot fail.
    let body = serde_json::to_string(envelope).unwrap_or_default();
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).expect("a JSON body")
    }

    #[test]
    fn refusals_carry_the_contract_fields_and_a_message() {
        let response = error_response(&IngressError::PayloadTooLarge { limit: 10 });

        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            HeaderValue::from_static("application/json")
        );
        assert_eq!(
            body_of(&response),
            serde_json::json!({"outcome": "payload_too_large", "event_id": null, "results": [],
                               "error": "body is larger than 10 bytes"})
        );
    }

    #[test]
    fn answers_without_an_error_have_no_error_field() {
        let body = body_of(&respond(StatusCode::OK, &Envelope::new("healthy")));

        assert_eq!(
            body,
            serde_json::json!({"outcome": "healthy", "event_id": null, "results": []})
        );
    }

    #[test]
    fn server_errors_keep_their_detail_out_of_the_response() {
        let e = IngressError::Secret(SecretError::Inaccessible {
            secret_id: "arn:aws:secretsmanager:eu-west-1:123:secret:x".into(),
            code: "AccessDeniedException".into(),
            hint: "grant",
        });
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.public_message().contains("arn:"));
        let t = IngressError::Secret(SecretError::Unavailable("timeout".into()));
        assert_eq!(t.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
