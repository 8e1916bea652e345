//! The Entra token endpoint, `POST /{tenant}/oauth2/v2.0/token`, for the client credentials
//! grant only: the checks Entra makes, in its order, with its status codes, `error` values,
//! AADSTS codes and error body.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;

use crate::assertion::{self, Expected, JWT_BEARER};
use crate::records::{TokenAttempt, TokenFault};
use crate::stamp::{entra_timestamp, guid, unix_now};
use crate::state::Shared;

/// Microsoft Graph's application id: the same in every cloud, and a valid scope resource.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/{tenant}/oauth2/v2.0/token", any(token))
}

/// A refusal: status, OAuth `error`, AADSTS code and the description's first line.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
}

fn refusal(status: StatusCode, error: &'static str, code: u32, text: &str) -> Refusal {
    Refusal {
        status,
        error,
        code,
        message: format!("AADSTS{code}: {text}"),
    }
}

fn bad_request(error: &'static str, code: u32, text: &str) -> Refusal {
    refusal(StatusCode::BAD_REQUEST, error, code, text)
}

fn invalid_client(code: u32, text: &str) -> Refusal {
    refusal(StatusCode::UNAUTHORIZED, "invalid_client", code, text)
}

fn missing(parameter: &str) -> Refusal {
    bad_request(
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{parameter}'."),
    )
}

/// Ids every reply carries; Entra adopts a GUID `client-request-id` as the correlation id.
struct Ids {
    trace_id: String,
    correlation_id: String,
    client_request_id: Option<String>,
}

impl Ids {
    fn new(headers: &HeaderMap) -> Ids {
        let client_request_id = header_text(headers, "client-request-id");
        let correlation_id = client_request_id
            .as_deref()
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .map_or_else(guid, |id| id.to_string());
        Ids {
            trace_id: guid(),
            correlation_id,
            client_request_id,
        }
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

async fn token(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ids = Ids::new(&headers);
    let tenant_raw = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    if method != Method::POST {
        let text = format!(
            "The endpoint only accepts (POST, OPTIONS) requests. Received a {method} request."
        );
        return refusal_response(&bad_request("invalid_request", 900561, &text), &ids);
    }
    let fault = shared.write(|s| s.begin_token_request());
    let form = parse_form(&headers, &body);
    let mut attempt = TokenAttempt {
        credential: credential_kind(form.as_ref().ok()).into(),
        status: 0,
        error_code: None,
        assertion_jti: None,
        assertion_alg: form
            .as_ref()
            .ok()
            .and_then(|f| f.get("client_assertion"))
            .and_then(|a| assertion::header_alg(a)),
    };
    let outcome = match fault_refusal(fault, &shared.config.client_id).await {
        Some(refused) => Err(refused),
        None => form.and_then(|form| {
            let request = Request {
                shared: &shared,
                tenant_raw: &tenant_raw,
                headers: &headers,
            };
            request.evaluate(&form, &mut attempt)
        }),
    };
    let response = match outcome {
        Ok(()) => issue(&shared, &ids),
        Err(refused) => {
            attempt.error_code = Some(refused.code);
            refusal_response(&refused, &ids)
        }
    };
    attempt.status = response.status().as_u16();
    shared.log(format_args!(
        "token POST /{tenant_raw}/oauth2/v2.0/token credential={} -> {}{}",
        attempt.credential,
        attempt.status,
        attempt
            .error_code
            .map(|c| format!(" AADSTS{c}"))
            .unwrap_or_default()
    ));
    shared.write(|s| s.token_attempts.push(attempt));
    response
}

/// What an injected token fault answers; `Slow` waits and lets the request through.
async fn fault_refusal(fault: Option<TokenFault>, client_id: &str) -> Option<Refusal> {
    match fault? {
        TokenFault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        TokenFault::ServiceUnavailable => Some(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            90006,
            "The service is temporarily unavailable. Please try again.",
        )),
        TokenFault::InvalidClient => Some(invalid_secret_refusal(client_id)),
        TokenFault::ExpiredSecret => Some(invalid_client(
            7000222,
            "The provided client secret keys for app are expired. Visit the Azure portal to \
             create new keys for your app: https://aka.ms/NewClientSecret, or consider using \
             certificate credentials for added security: https://aka.ms/certCreds.",
        )),
    }
}

fn invalid_secret_refusal(client_id: &str) -> Refusal {
    invalid_client(
        7000215,
        &format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the \
             client secret value, not the client secret ID, for a secret added to app \
             '{client_id}'."
        ),
    )
}

/// The form fields, or a refusal for a body Entra would not read. A body that is not
/// form-encoded reads as empty, so Entra's complaint is the missing `grant_type`.
fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, Refusal> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let mut form = HashMap::new();
    if !is_form {
        return Ok(form);
    }
    for (name, value) in form_urlencoded::parse(body) {
        // RFC 6749 §3.2: parameters must not repeat; a repeated credential is ambiguous.
        if form.insert(name.to_string(), value.to_string()).is_some() {
            let text = format!("Request is malformed or invalid: parameter '{name}' is repeated.");
            return Err(bad_request("invalid_request", 9002313, &text));
        }
    }
    Ok(form)
}

fn credential_kind(form: Option<&HashMap<String, String>>) -> &'static str {
    let present = |name: &str| {
        form.and_then(|f| f.get(name))
            .is_some_and(|v| !v.is_empty())
    };
    match (present("client_secret"), present("client_assertion")) {
        (true, true) => "both",
        (true, false) => "client_secret",
        (false, true) => "client_assertion",
        (false, false) => "none",
    }
}

/// One token request being judged.
struct Request<'a> {
    shared: &'a Shared,
    tenant_raw: &'a str,
    headers: &'a HeaderMap,
}

impl Request<'_> {
    fn evaluate(
        &self,
        form: &HashMap<String, String>,
        attempt: &mut TokenAttempt,
    ) -> Result<(), Refusal> {
        let config = &self.shared.config;
        self.check_tenant()?;
        let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
        match field("grant_type") {
            None => return Err(missing("grant_type")),
            Some("client_credentials") => {}
            Some(other) => {
                let text = format!("The app requested an unsupported grant type '{other}'.");
                return Err(bad_request("unsupported_grant_type", 70003, &text));
            }
        }
        let client_id = field("client_id").ok_or_else(|| missing("client_id"))?;
        if !client_id.eq_ignore_ascii_case(&config.client_id) {
            return Err(app_not_found(client_id, &config.tenant));
        }
        check_scope(field("scope"), &config.graph_host, &config.tenant)?;
        match (field("client_secret"), field("client_assertion")) {
            (Some(_), Some(_)) => Err(bad_request(
                "invalid_request",
                9002313,
                "Request is malformed or invalid: send either 'client_secret' or \
                 'client_assertion', not both.",
            )),
            (None, None) => Err(invalid_client(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or \
                 'client_secret'.",
            )),
            (Some(secret), None) => self.check_secret(secret),
            (None, Some(jwt)) => {
                attempt.assertion_jti =
                    Some(self.check_assertion(field("client_assertion_type"), jwt)?);
                Ok(())
            }
        }
    }

    /// The tenant is a path segment; Entra matches tenant names case-insensitively.
    fn check_tenant(&self) -> Result<(), Refusal> {
        let tenant = percent_encoding::percent_decode_str(self.tenant_raw).decode_utf8_lossy();
        if tenant.eq_ignore_ascii_case(self.shared.tenant()) {
            return Ok(());
        }
        Err(bad_request(
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID \
                 and are signing into the correct cloud. Check with your subscription \
                 administrator, this may happen if there are no active subscriptions for the \
                 tenant."
            ),
        ))
    }

    fn check_secret(&self, secret: &str) -> Result<(), Refusal> {
        let known = self
            .shared
            .read(|s| s.client_secrets.iter().any(|k| k == secret));
        if known {
            Ok(())
        } else {
            Err(invalid_secret_refusal(&self.shared.config.client_id))
        }
    }

    /// Returns the accepted assertion's `jti`.
    fn check_assertion(&self, kind: Option<&str>, jwt: &str) -> Result<String, Refusal> {
        match kind {
            None => return Err(missing("client_assertion_type")),
            Some(JWT_BEARER) => {}
            Some(_) => {
                let text = "The parameter 'client_assertion_type' is empty or not valid.";
                return Err(bad_request("invalid_request", 90100, text));
            }
        }
        let certificate = self.shared.read(|s| s.certificate.clone());
        let audiences = self.audiences();
        let expected = Expected {
            certificate: certificate.as_ref(),
            client_id: &self.shared.config.client_id,
            audiences: &audiences,
            now: unix_now(),
            max_lifetime: self.shared.config.max_assertion_lifetime,
        };
        match assertion::verify(jwt, &expected) {
            Ok(verified) => Ok(verified.jti),
            Err(refused) => Err(Refusal {
                status: StatusCode::UNAUTHORIZED,
                error: "invalid_client",
                code: refused.code,
                message: refused.message,
            }),
        }
    }

    /// The token URL as the client reached it (by the `Host` it sent, or the bound address),
    /// with the tenant segment as it was sent.
    fn audiences(&self) -> Vec<String> {
        let path = format!("/{}/oauth2/v2.0/token", self.tenant_raw);
        let mut audiences = vec![format!("{}{path}", self.shared.base_url)];
        if let Some(host) = self.headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            audiences.push(format!("http://{host}{path}"));
        }
        audiences
    }
}

fn app_not_found(client_id: &str, tenant: &str) -> Refusal {
    bad_request(
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. \
             This can happen if the application has not been installed by the administrator of \
             the tenant or consented to by any user in the tenant. You may have sent your \
             authentication request to the wrong tenant."
        ),
    )
}

/// Client credentials take exactly one scope, `{resource}/.default`, and the resource must be
/// Graph in this cloud (its URL, with or without a trailing slash, or its app id).
fn check_scope(scope: Option<&str>, graph_host: &str, tenant: &str) -> Result<(), Refusal> {
    let scope = scope.ok_or_else(|| missing("scope"))?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.len() > 1 && scopes.iter().any(|s| s.ends_with("/.default")) {
        let text = format!(
            "The provided value for the input parameter 'scope' is not valid. The scope {scope} is \
             not valid. .default scope can't be combined with resource-specific scopes."
        );
        return Err(bad_request("invalid_scope", 70011, &text));
    }
    let resource = match scopes.as_slice() {
        [only] => only.strip_suffix("/.default"),
        _ => None,
    };
    let Some(resource) = resource else {
        let text = format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have \
             a scope value with /.default suffixed to the resource identifier (application ID URI)."
        );
        return Err(bad_request("invalid_scope", 1002012, &text));
    };
    let graph_url = format!("https://{graph_host}");
    let is_graph = [graph_url.as_str(), &format!("{graph_url}/"), GRAPH_APP_ID]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(resource));
    if is_graph {
        return Ok(());
    }
    Err(bad_request(
        "invalid_resource",
        500011,
        &format!(
            "The resource principal named {resource} was not found in the tenant named {tenant}. \
             This can happen if the application has not been installed by the administrator of \
             the tenant or consented to by any user in the tenant. You might have sent your \
             authentication request to the wrong tenant."
        ),
    ))
}

fn issue(shared: &Shared, ids: &Ids) -> Response {
    let lifetime = shared.config.token_lifetime;
    let token = shared.write(|s| s.issue_token(lifetime));
    let body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
    });
    with_headers((StatusCode::OK, body.to_string()).into_response(), ids)
}

fn refusal_response(refused: &Refusal, ids: &Ids) -> Response {
    let timestamp = entra_timestamp();
    let description = format!(
        "{}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {timestamp}",
        refused.message, ids.trace_id, ids.correlation_id
    );
    let body = json!({
        "error": refused.error,
        "error_description": description,
        "error_codes": [refused.code],
        "timestamp": timestamp,
        "trace_id": ids.trace_id,
        "correlation_id": ids.correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={}", refused.code),
    });
    with_headers((refused.status, body.to_string()).into_response(), ids)
}

fn with_headers(mut response: Response, ids: &Ids) -> Response {
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_TYPE, "application/json; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store, no-cache"),
        (header::PRAGMA, "no-cache"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(value) = HeaderValue::from_str(&ids.trace_id) {
        headers.insert("x-ms-request-id", value);
    }
    if let Some(value) = ids
        .client_request_id
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert("client-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_code(scope: Option<&str>) -> Option<u32> {
        check_scope(scope, "graph.microsoft.com", "contoso")
            .err()
            .map(|r| r.code)
    }

    #[test]
    fn scope_rules_follow_entra() {
        assert_eq!(
            scope_code(Some("https://graph.microsoft.com/.default")),
            None
        );
        assert_eq!(
            scope_code(Some("https://graph.microsoft.com//.default")),
            None
        );
        assert_eq!(
            scope_code(Some("00000003-0000-0000-c000-000000000000/.default")),
            None
        );
        assert_eq!(
            scope_code(Some("https://graph.microsoft.com/User.Read")),
            Some(1002012)
        );
        assert_eq!(
            scope_code(Some("https://graph.microsoft.us/.default")),
            Some(500011)
        );
        let combined = "https://graph.microsoft.com/.default openid";
        assert_eq!(scope_code(Some(combined)), Some(70011));
        assert_eq!(scope_code(None), Some(900144));
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let refused = parse_form(&headers, b"client_secret=a&client_secret=b").err();
        assert_eq!(refused.map(|r| r.code), Some(9002313));
        let json_body = parse_form(&HeaderMap::new(), b"grant_type=client_credentials");
        assert!(json_body.is_ok_and(|f| f.is_empty()));
    }
}
