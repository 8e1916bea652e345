//! The Lambda side of the edge: an invocation event becomes a [`Request`], and the answer goes
//! back in the shape its event source expects (Function URL and API Gateway HTTP API, API
//! Gateway REST API, ALB).
//!
//! Built here, not by `lambda_http`'s adapter: its conversion panics on envelopes it cannot
//! turn into a URI (a query string with a space or a quote, a Host header that is not a host,
//! a body that is not the base64 it claims to be), and with `panic = "abort"` one such
//! unauthenticated request would end the instance. The function reads only the method, the
//! path, the headers and the body; the query string and the host are never looked at, so a
//! malformed one cannot matter, and anything else that is wrong is a 400.

use aws_lambda_events::event::alb::{AlbTargetGroupRequest, AlbTargetGroupResponse};
use aws_lambda_events::event::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest,
    ApiGatewayV2httpResponse,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use lambda_http::http::{HeaderMap, HeaderValue, Method, Uri, header};
use lambda_http::{Body, Request, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Which event source sent the request, and so which response shape it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// API Gateway REST API (payload format 1.0).
    ApiGatewayV1,
    /// Function URL and API Gateway HTTP API (payload format 2.0).
    ApiGatewayV2,
    Alb,
}

/// Why an invocation event is not a request this function can read. Names what is wrong,
/// never a value from the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EnvelopeError {
    #[error("the event is not an HTTP request from a Function URL, API Gateway or a load balancer")]
    NotHttp,
    #[error("the body is not valid base64 although isBase64Encoded is true")]
    BadBase64,
}

/// The answer, in the event source's own response shape.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LambdaResponse {
    ApiGatewayV1(ApiGatewayProxyResponse),
    ApiGatewayV2(ApiGatewayV2httpResponse),
    Alb(AlbTargetGroupResponse),
}

/// Path characters kept as they are; everything else is percent-encoded, so any path the
/// event names makes a valid URI (a source name is letters, digits, `-` and `_`, so an
/// encoded segment is simply an unknown source).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Just enough of an event to tell its source: read without keeping anything, so an event
/// of any size or depth costs no memory here.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "requestContext", default)]
    request_context: Option<ProbeContext>,
    #[serde(rename = "httpMethod", default)]
    http_method: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ProbeContext {
    #[serde(default)]
    http: Option<IgnoredAny>,
    #[serde(default)]
    elb: Option<IgnoredAny>,
}

impl Probe {
    fn origin(text: &str) -> Option<Origin> {
        let probe: Probe = serde_json::from_str(text).ok()?;
        let context = probe.request_context.as_ref();
        if context.is_some_and(|c| c.http.is_some()) {
            Some(Origin::ApiGatewayV2)
        } else if context.is_some_and(|c| c.elb.is_some()) {
            Some(Origin::Alb)
        } else if probe.http_method.is_some() {
            Some(Origin::ApiGatewayV1)
        } else {
            None
        }
    }
}

/// The request an invocation event carries, and where to answer. The event is read as the
/// one type its source sends (not tried against each in turn, which would buffer it whole).
/// An event that is not a request at all is answered in the Function URL's shape, the one
/// the template deploys.
pub(super) fn request_of(event: &RawValue) -> (ReplyShape, Result<Request, EnvelopeError>) {
    let text = event.get();
    let Some(origin) = Probe::origin(text) else {
        return (
            ReplyShape(Origin::ApiGatewayV2),
            Err(EnvelopeError::NotHttp),
        );
    };
    let parts = match origin {
        Origin::ApiGatewayV2 => serde_json::from_str::<ApiGatewayV2httpRequest>(text).map(|e| {
            let mut headers = e.headers;
            if let Some(cookies) = e.cookies
                && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
            {
                headers.insert(header::COOKIE, value);
            }
            Parts {
                method: e.request_context.http.method,
                path: e.raw_path,
                headers,
                body: e.body,
                base64: e.is_base64_encoded,
            }
        }),
        Origin::ApiGatewayV1 => {
            serde_json::from_str::<ApiGatewayProxyRequest>(text).map(|e| Parts {
                method: e.http_method,
                path: e.path,
                headers: merged(e.multi_value_headers, e.headers),
                body: e.body,
                base64: e.is_base64_encoded,
            })
        }
        Origin::Alb => serde_json::from_str::<AlbTargetGroupRequest>(text).map(|e| Parts {
            method: e.http_method,
            path: e.path,
            headers: merged(e.multi_value_headers, e.headers),
            body: e.body,
            base64: e.is_base64_encoded,
        }),
    };
    let shape = ReplyShape(origin);
    match parts {
        Ok(parts) => (shape, parts.into_request()),
        Err(_) => (shape, Err(EnvelopeError::NotHttp)),
    }
}

/// What the function reads of any event source's request.
struct Parts {
    method: Method,
    path: Option<String>,
    headers: HeaderMap,
    body: Option<String>,
    base64: bool,
}

impl Parts {
    fn into_request(self) -> Result<Request, EnvelopeError> {
        let body = match self.body {
            None => Body::Empty,
            Some(text) if self.base64 => {
                Body::Binary(B64.decode(text).map_err(|_| EnvelopeError::BadBase64)?)
            }
            Some(text) => Body::Text(text),
        };
        let path = self.path.unwrap_or_default();
        let encoded = utf8_percent_encode(path.trim_start_matches('/'), PATH).to_string();
        // Only the characters kept above and %XX escapes: this always parses.
        let uri = Uri::try_from(format!("/{encoded}")).unwrap_or_else(|_| Uri::from_static("/"));
        let mut request = Request::new(body);
        *request.method_mut() = self.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers;
        Ok(request)
    }
}

/// REST API and ALB events carry each header in `headers` and, with every value, in
/// `multiValueHeaders`; the multi-valued map is the canonical one (as `lambda_http` reads it).
fn merged(mut multi: HeaderMap, single: HeaderMap) -> HeaderMap {
    multi.extend(single);
    multi
}

/// How to shape the answer for the event source that asked.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReplyShape(Origin);

impl ReplyShape {
    /// `response` in this event source's shape. A JSON body is text, so never base64.
    pub(super) fn reply(self, response: Response<Body>) -> LambdaResponse {
        let (parts, body) = response.into_parts();
        let (is_base64_encoded, body) = match body {
            Body::Empty => (false, None),
            text @ Body::Text(_) => (false, Some(text)),
            binary @ Body::Binary(_) => (true, Some(binary)),
            _ => (false, None),
        };
        let status_code = i64::from(parts.status.as_u16());
        match self.0 {
            Origin::ApiGatewayV2 => {
                let mut r = ApiGatewayV2httpResponse::default();
                r.status_code = status_code;
                r.headers = parts.headers;
                r.body = body;
                r.is_base64_encoded = is_base64_encoded;
                LambdaResponse::ApiGatewayV2(r)
            }
            Origin::ApiGatewayV1 => {
                let mut r = ApiGatewayProxyResponse::default();
                r.status_code = status_code;
                // Only the multi-valued map: API Gateway merges both, which would repeat headers.
                r.multi_value_headers = parts.headers;
                r.body = body;
                r.is_base64_encoded = is_base64_encoded;
                LambdaResponse::ApiGatewayV1(r)
            }
            Origin::Alb => {
                let mut r = AlbTargetGroupResponse::default();
                r.status_code = status_code;
                r.status_description = Some(format!(
                    "{} {}",
                    parts.status.as_u16(),
                    parts.status.canonical_reason().unwrap_or_default()
                ));
                // Both maps: the target group may be set to either.
                r.headers = parts.headers.clone();
                r.multi_value_headers = parts.headers;
                r.body = body;
                r.is_base64_encoded = is_base64_encoded;
                LambdaResponse::Alb(r)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;
    use serde_json::json;

    fn raw(event: &serde_json::Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(event).unwrap()
    }

    fn function_url(query: &str, body: &str, base64: bool) -> serde_json::Value {
        json!({
            "version": "2.0", "rawPath": "/prod/standard", "rawQueryString": query,
            "headers": {"host": "not a host", "x-forwarded-proto": "no scheme",
                        "webhook-id": "msg_1"},
            "cookies": ["a=1", "b=2"],
            "requestContext": {"http": {"method": "POST", "path": "/prod/standard"},
                               "stage": "st age"},
            "body": body, "isBase64Encoded": base64
        })
    }

    #[test]
    fn a_query_string_or_host_no_uri_could_hold_is_never_read() {
        for query in ["a b", "q=\"x\"", "<x>", "%zz", "#f", "\u{7f}"] {
            let (_, request) = request_of(&raw(&function_url(query, "{}", false)));

            let request = request.unwrap();
            assert_eq!(request.uri(), "/prod/standard", "{query:?}");
            assert_eq!(request.method(), Method::POST);
            assert_eq!(request.headers()["webhook-id"], "msg_1");
            assert_eq!(request.headers()[header::COOKIE], "a=1; b=2");
            assert_eq!(request.body().as_ref(), b"{}");
        }
    }

    #[test]
    fn any_path_becomes_a_valid_uri_and_routing_segments_survive() {
        for (path, expected) in [
            ("/prod/webhooks/jamf", "/prod/webhooks/jamf"),
            ("/a b/\"<jamf>\"", "/a%20b/%22%3Cjamf%3E%22"),
            ("jamf", "/jamf"),
            ("//jamf?x#y", "/jamf%3Fx%23y"),
            ("/é", "/%C3%A9"),
        ] {
            let mut event = function_url("", "", false);
            event["rawPath"] = json!(path);

            let (_, request) = request_of(&raw(&event));

            assert_eq!(request.unwrap().uri(), expected, "{path:?}");
        }
    }

    #[test]
    fn a_body_that_is_not_the_base64_it_claims_is_refused() {
        let (_, request) = request_of(&raw(&function_url("", "%%% nope", true)));
        assert_eq!(request.unwrap_err(), EnvelopeError::BadBase64);

        let (_, request) = request_of(&raw(&function_url("", "e30=", true)));
        assert_eq!(request.unwrap().body().as_ref(), b"{}");
    }

    #[test]
    fn events_that_are_not_http_requests_are_refused_in_the_function_url_shape() {
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        for text in [
            "{}",
            "[]",
            "\"x\"",
            "42",
            "null",
            "{\"requestContext\":{\"http\":{}}}",
            &deep,
        ] {
            let event = RawValue::from_string(text.to_owned()).unwrap();

            let (shape, request) = request_of(&event);

            assert_eq!(request.unwrap_err(), EnvelopeError::NotHttp, "{text:.40}");
            assert!(matches!(
                shape.reply(Response::new(Body::Empty)),
                LambdaResponse::ApiGatewayV2(_)
            ));
        }
    }

    #[test]
    fn rest_api_and_alb_events_are_read_and_answered_in_their_own_shapes() {
        let rest = json!({
            "httpMethod": "POST", "path": "/prod/jamf", "resource": "/{proxy+}",
            "headers": {"x-webhook-token": "t"},
            "multiValueHeaders": {"x-webhook-token": ["t"], "x-extra": ["1", "2"]},
            "requestContext": {"stage": "prod", "httpMethod": "POST"},
            "body": "{}", "isBase64Encoded": false
        });
        let alb = json!({
            "httpMethod": "POST", "path": "/jamf",
            "headers": {"x-webhook-token": "t"},
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:x"}},
            "body": "{}", "isBase64Encoded": false
        });
        let answer = || {
            let mut response = Response::new(Body::Text("{}".into()));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        };

        let (shape, request) = request_of(&raw(&rest));
        let request = request.unwrap();
        assert_eq!(request.uri(), "/prod/jamf");
        assert_eq!(request.headers().get_all("x-extra").iter().count(), 2);
        let reply = serde_json::to_value(shape.reply(answer())).unwrap();
        assert_eq!(reply["statusCode"], 401);
        assert_eq!(
            reply["multiValueHeaders"]["content-type"][0],
            "application/json"
        );

        let (shape, request) = request_of(&raw(&alb));
        assert_eq!(request.unwrap().headers()["x-webhook-token"], "t");
        let reply = serde_json::to_value(shape.reply(answer())).unwrap();
        assert_eq!(reply["statusDescription"], "401 Unauthorized");
        assert_eq!(reply["headers"]["content-type"], "application/json");
    }
}
