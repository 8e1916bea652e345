//! Every answer's JSON body (README, "Responses"):
//! `{"outcome", "event_id", "results": [{"user", "outcome"}]}`, plus `error` when the request
//! was refused. The body never carries a secret or an internal error.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::error::IngressError;
use super::status::{Answer, status};
use crate::revocation::{Report, UserOutcome};

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

/// `GET /health`.
pub(super) fn health() -> Response<Body> {
    respond(status(Answer::Health), &Envelope::new("healthy"))
}

/// A decided event.
pub(super) fn report(report: &Report) -> Response<Body> {
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
        error: report
            .results
            .iter()
            .any(|r| r.outcome == UserOutcome::InProgress)
            .then(|| IN_PROGRESS_MESSAGE.to_owned()),
        ..Envelope::new(report.outcome_str())
    };
    let mut response = respond(status(Answer::Report(report)), &envelope);
    if envelope.error.is_some() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// Why a report with a user `in_progress` is a 503, and what the sender should do.
const IN_PROGRESS_MESSAGE: &str = "another invocation is deciding a user of this event \
     (a concurrent delivery): retry in a few seconds, when it is settled";

/// A refused request, with the message that says what is wrong (opaque for server errors).
pub(super) fn refusal(e: &IngressError) -> Response<Body> {
    let envelope = Envelope {
        error: Some(e.public_message()),
        ..Envelope::new(e.outcome())
    };
    let mut response = respond(status(Answer::Refused(e)), &envelope);
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
    use crate::aws::SecretError;

    fn body_of(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).expect("a JSON body")
    }

    #[test]
    fn refusals_carry_the_contract_fields_and_a_message() {
        let response = refusal(&IngressError::PayloadTooLarge { limit: 10 });

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
    fn a_user_in_progress_elsewhere_is_a_503_that_says_to_retry() {
        use crate::domain::{EventId, UserRef};
        use crate::revocation::UserResult;
        let result = |user: &str, outcome| UserResult {
            user: UserRef::parse(user).unwrap(),
            outcome,
            receipt: None,
        };
        let report = Report::for_users(
            EventId::parse("e1").unwrap(),
            vec![
                result("a@c.com", UserOutcome::Revoked),
                result("b@c.com", UserOutcome::InProgress),
            ],
        );
        let response = super::report(&report);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        let body = body_of(&response);
        assert_eq!(body["results"][1]["outcome"], "in_progress");
        assert!(body["error"].as_str().unwrap().contains("retry"), "{body}");
    }

    #[test]
    fn answers_without_an_error_have_no_error_field() {
        let body = body_of(&health());

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
        let response = refusal(&e);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body_of(&response).to_string().contains("arn:"));
        let t = IngressError::Secret(SecretError::Unavailable("timeout".into()));
        assert_eq!(refusal(&t).status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
