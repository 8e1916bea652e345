//! Reading what a function answered: the Lambda HTTP response (`statusCode`, `body`) and, in
//! the body, the revoker's JSON `{"outcome", "results": [{"user", "outcome"}]}`.

use serde::Deserialize;
use serde_json::Value;

use crate::runtime_api::Reply;
use crate::subject::Expect;

/// One function answer, as far as the benchmark cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Per-user outcomes from `results[]` (empty when the body is not the revoker's JSON).
    pub outcomes: Vec<UserOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOutcome {
    pub user: String,
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the function reported an error ({error_type}): {body}")]
    FunctionError { error_type: String, body: String },
    #[error("the answer is not a Lambda HTTP response: {0}")]
    NotHttp(String),
    #[error("expected {expected}, got HTTP {status}: {body}")]
    Unexpected {
        expected: &'static str,
        status: u16,
        body: String,
    },
}

#[derive(Deserialize)]
struct HttpResponse {
    #[serde(rename = "statusCode")]
    status_code: u16,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, rename = "isBase64Encoded")]
    is_base64_encoded: bool,
}

/// The body of a `/response` reply; an `/error` reply is the function's error.
fn response_body(reply: &Reply) -> Result<&[u8], AnswerError> {
    match reply {
        Reply::Response(raw) => Ok(raw),
        Reply::Error { error_type, body } => Err(AnswerError::FunctionError {
            error_type: error_type.clone().unwrap_or_else(|| "unknown".into()),
            body: String::from_utf8_lossy(body).into_owned(),
        }),
    }
}

/// Reads a reply; an `/error` reply or a non-HTTP body is an error.
pub fn read(reply: &Reply) -> Result<(Answer, String), AnswerError> {
    let raw = response_body(reply)?;
    let http: HttpResponse = serde_json::from_slice(raw)
        .map_err(|_| AnswerError::NotHttp(String::from_utf8_lossy(raw).into_owned()))?;
    let body = if http.is_base64_encoded {
        String::new()
    } else {
        http.body.unwrap_or_default()
    };
    let outcomes = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("results").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .map(|r| UserOutcome {
            user: r["user"].as_str().unwrap_or_default().to_owned(),
            outcome: r["outcome"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    Ok((
        Answer {
            status: http.status_code,
            outcomes,
        },
        body,
    ))
}

/// Checks a reply against what the subject must answer.
pub fn check(reply: &Reply, expect: Expect) -> Result<Answer, AnswerError> {
    if let Expect::Run { revoked } = expect {
        return check_run(reply, revoked);
    }
    let (answer, body) = read(reply)?;
    let ok = match expect {
        Expect::Ok => answer.status == 200,
        Expect::Revoked => {
            answer.status == 200
                && !answer.outcomes.is_empty()
                && answer.outcomes.iter().all(|o| o.outcome == "revoked")
        }
        Expect::Run { .. } => unreachable!("checked above"),
    };
    if ok {
        Ok(answer)
    } else {
        Err(AnswerError::Unexpected {
            expected: match expect {
                Expect::Ok => "HTTP 200",
                Expect::Revoked => "HTTP 200 with every user revoked",
                Expect::Run { .. } => "an Intune run report",
            },
            status: answer.status,
            body,
        })
    }
}

/// An Intune run's answer: its report, with `revoked` users revoked, none owed or refused.
fn check_run(reply: &Reply, revoked: usize) -> Result<Answer, AnswerError> {
    let raw = response_body(reply)?;
    let report: Value = serde_json::from_slice(raw).unwrap_or_default();
    let count = |name: &str| report.get(name).and_then(Value::as_u64);
    let ok = count("revoked") == Some(revoked as u64)
        && count("owed") == Some(0)
        && report.get("refused") == Some(&Value::Bool(false));
    if ok {
        return Ok(Answer {
            status: 200,
            outcomes: Vec::new(),
        });
    }
    Err(AnswerError::Unexpected {
        expected: if revoked == 1 {
            "an Intune run that revoked its record's owner"
        } else {
            "an Intune run with nothing new"
        },
        status: 200,
        body: String::from_utf8_lossy(raw).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;

    use super::*;

    fn response(json: &str) -> Reply {
        Reply::Response(Bytes::from(json.to_owned()))
    }

    #[test]
    fn a_revocation_answer_is_read() {
        let reply = response(
            r#"{"statusCode":200,"headers":{},"body":"{\"outcome\":\"revoked\",\"results\":[{\"user\":\"a@contoso.com\",\"outcome\":\"revoked\"}]}","isBase64Encoded":false}"#,
        );
        let answer = check(&reply, Expect::Revoked).unwrap();
        assert_eq!(answer.outcomes[0].user, "a@contoso.com");
    }

    #[test]
    fn a_queued_answer_is_not_a_revocation_but_is_read() {
        let reply = response(
            r#"{"statusCode":202,"body":"{\"outcome\":\"queued\",\"results\":[{\"user\":\"a@contoso.com\",\"outcome\":\"queued\"}]}"}"#,
        );
        assert!(matches!(
            check(&reply, Expect::Revoked),
            Err(AnswerError::Unexpected { status: 202, .. })
        ));
        let (answer, _) = read(&reply).unwrap();
        assert_eq!(answer.outcomes[0].outcome, "queued");
    }

    #[test]
    fn errors_and_garbage_are_errors() {
        let error = Reply::Error {
            error_type: Some("Runtime.Boom".into()),
            body: Bytes::from_static(b"{}"),
        };
        assert!(matches!(
            read(&error),
            Err(AnswerError::FunctionError { .. })
        ));
        assert!(matches!(
            read(&response("not json")),
            Err(AnswerError::NotHttp(_))
        ));
        assert!(
            check(
                &response(r#"{"statusCode":200,"body":"hello"}"#),
                Expect::Ok
            )
            .is_ok()
        );
    }
}
