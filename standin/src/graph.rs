//! Microsoft Graph's revoke actions: bearer token first, then the path, then any injected fault,
//! then the directory. User lookups and `checkMemberGroups` go to [`crate::directory`] once
//! the token is accepted. Every reply carries a fresh `request-id`, echoes `client-request-id` and
//! reports errors in Graph's `{"error":{code,message,innerError}}` shape.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::directory;
use crate::graph_path::{self, Action, Route, Target};
use crate::intune;
use crate::records::{Fault, GraphCall, Revocation};
use crate::stamp::{graph_date, guid};
use crate::state::{Shared, TokenStatus};

/// Graph's 401 challenge, naming the authority and Graph's own app id.
const CHALLENGE: &str = "Bearer realm=\"\", \
    authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
    client_id=\"00000003-0000-0000-c000-000000000000\"";

/// An error reply in Graph's terms.
#[derive(Debug)]
pub(crate) struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

pub(crate) fn graph_error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> GraphError {
    GraphError {
        status,
        code,
        message: message.into(),
        retry_after: None,
    }
}

fn expired_token() -> GraphError {
    graph_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        "Lifetime validation failed, the token is expired.",
    )
}

/// The ids of one Graph exchange.
struct Ids {
    request_id: String,
    client_request_id: Option<String>,
}

/// Handles every request that is neither the token endpoint nor a control route.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ids = Ids {
        request_id: guid(),
        client_request_id: headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let route = graph_path::parse(uri.path());
    let call = GraphCall {
        method: method.to_string(),
        raw_path: uri.path().to_owned(),
        raw_query: uri.query().map(str::to_owned),
        user: match &route {
            Ok(Route::UserQuery { .. }) => directory::filtered_mail(uri.query()),
            Ok(route) => route.user().map(str::to_owned),
            Err(rejected) => rejected.user.clone(),
        },
        status: 0,
        client_request_id: ids.client_request_id.clone(),
    };
    let index = shared.write(|s| s.begin_graph_call(call));
    let outcome = serve(&shared, &method, &uri, &headers, &body, route, &ids).await;
    let (response, note) = match outcome {
        Ok(response) => (response, String::new()),
        Err(error) => {
            let note = format!(" {}", error.code);
            (error_response(error, &ids), note)
        }
    };
    let status = response.status().as_u16();
    shared.write(|s| s.finish_graph_call(index, status));
    shared.log(format_args!(
        "graph {method} {} -> {status}{note}",
        uri.path()
    ));
    response
}

async fn serve(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    route: Result<Route, graph_path::Rejected>,
    ids: &Ids,
) -> Result<Response, GraphError> {
    authenticate(shared, headers)?;
    if intune::serves(uri.path()) {
        return intune::serve(shared, method, uri, body)
            .await
            .map(|response| with_ids(response, ids));
    }
    let route = route.map_err(|r| graph_error(StatusCode::BAD_REQUEST, "BadRequest", r.message))?;
    let query = uri.query();
    let response = match route {
        Route::Revoke(target) => return serve_revoke(shared, method, target, ids).await,
        Route::User(user) => directory::user(shared, method, query, user).await?,
        Route::UserQuery { version } => {
            directory::user_query(shared, method, query, version).await?
        }
        Route::CheckMemberGroups(user) => {
            directory::check_member_groups(shared, method, query, body, user).await?
        }
    };
    Ok(with_ids(response, ids))
}

async fn serve_revoke(
    shared: &Shared,
    method: &Method,
    target: Target,
    ids: &Ids,
) -> Result<Response, GraphError> {
    if method != Method::POST {
        return Err(method_not_allowed());
    }
    // A fault queued for a user applies whichever form (id or UPN) the revoke addresses.
    let fault = shared.write(|s| s.next_fault(&target.user)).or_else(|| {
        let user = shared.resolve_user(&target.user)?;
        [user.user_principal_name, user.id]
            .iter()
            .find_map(|name| shared.write(|s| s.next_fault(name)))
    });
    if let Some(error) = apply_fault(fault).await {
        return Err(error);
    }
    let user = shared
        .resolve_user(&target.user)
        .ok_or_else(|| user_not_found(&target.user))?;
    Ok(revoke(shared, target, user.user_principal_name, ids))
}

/// 405 for a method the path does not take.
pub(crate) fn method_not_allowed() -> GraphError {
    graph_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
}

/// 404 for a user the directory does not have.
pub(crate) fn user_not_found(user: &str) -> GraphError {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!(
            "Resource '{user}' does not exist or one of its queried reference-property objects \
             are not present."
        ),
    )
}

/// Graph accepts only a live token this stand-in issued, sent as `Authorization: Bearer …`.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), GraphError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty.",
        ));
    };
    match shared.read(|s| s.token_status(token)) {
        TokenStatus::Valid => Ok(()),
        TokenStatus::Expired => Err(expired_token()),
        TokenStatus::Unknown => Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in \
             JWS or JWE Compact Serialization Format.",
        )),
    }
}

/// The reply an injected fault forces; `Slow` waits and lets the request through.
pub(crate) async fn apply_fault(fault: Option<Fault>) -> Option<GraphError> {
    let error = match fault? {
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            return None;
        }
        Fault::TooManyRequests { retry_after } => GraphError {
            retry_after,
            ..graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests. Please retry after the time in the Retry-After header.",
            )
        },
        Fault::ServiceUnavailable { retry_after } => GraphError {
            retry_after,
            ..graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
            )
        },
        Fault::InternalError => graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "An unspecified error has occurred.",
        ),
        Fault::BadGateway => graph_error(
            StatusCode::BAD_GATEWAY,
            "BadGateway",
            "The gateway did not receive a valid response from the upstream service.",
        ),
        Fault::GatewayTimeout => graph_error(
            StatusCode::GATEWAY_TIMEOUT,
            "GatewayTimeout",
            "The gateway did not receive a timely response from the upstream service.",
        ),
        Fault::ExpiredToken => expired_token(),
        Fault::Forbidden => graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        Fault::NotFound => graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            "Resource does not exist or one of its queried reference-property objects are not \
             present.",
        ),
    };
    Some(error)
}

/// Records the revocation and answers as the live service does: `200 {"value":true}` for both
/// actions (Graph known issue), or `204` for `invalidateAllRefreshTokens` when configured.
fn revoke(shared: &Shared, target: Target, upn: String, ids: &Ids) -> Response {
    let revocation = Revocation {
        version: target.version.into(),
        action: target.action.name().into(),
        user_raw: target.user_raw,
        user: target.user,
        upn: Some(upn),
        client_request_id: ids.client_request_id.clone(),
    };
    shared.write(|s| s.revocations.push(revocation));
    let no_content = target.action == Action::InvalidateAllRefreshTokens
        && shared.config.invalidate_returns_no_content;
    let response = if no_content {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let body = json!({
            "@odata.context": format!(
                "https://{}/{}/$metadata#Edm.Boolean",
                shared.config.graph_host, target.version
            ),
            "value": true,
        });
        odata_json(&body)
    };
    with_ids(response, ids)
}

/// `200` with a JSON body, typed as Graph types its OData replies.
pub(crate) fn odata_json(body: &serde_json::Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/json;odata.metadata=minimal;odata.streaming=true;\
             IEEE754Compatible=false;charset=utf-8",
        ),
    );
    response
}

fn error_response(error: GraphError, ids: &Ids) -> Response {
    let body = json!({
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": graph_date(),
                "request-id": ids.request_id,
                "client-request-id": client_request_id(ids),
            }
        }
    });
    let mut response = (error.status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(seconds) = error.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if error.status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(CHALLENGE),
        );
    }
    with_ids(response, ids)
}

/// Graph echoes the caller's `client-request-id`, or uses its own `request-id` when none came.
fn client_request_id(ids: &Ids) -> &str {
    ids.client_request_id.as_deref().unwrap_or(&ids.request_id)
}

fn with_ids(mut response: Response, ids: &Ids) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&ids.request_id) {
        headers.insert("request-id", value);
    }
    if let Ok(value) = HeaderValue::from_str(client_request_id(ids)) {
        headers.insert("client-request-id", value);
    }
    response
}
