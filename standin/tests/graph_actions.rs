//! Graph's revoke actions: authentication, addressing, injected faults and the records kept.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use standin::{Config, Fault};

const V1_REVOKE: &str = "/v1.0/users/ada@contoso.com/revokeSignInSessions";

#[tokio::test]
async fn revoke_sign_in_sessions_answers_200_value_true_and_is_recorded() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let response = reqwest::Client::new()
        .post(format!("{}{V1_REVOKE}", standin.url()))
        .bearer_auth(&token)
        .header("client-request-id", "c0ffee00-0000-4000-8000-000000000001")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_graph_ids(&response, "c0ffee00-0000-4000-8000-000000000001");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean",
            "value": true
        })
    );
    let revocations = standin.revocations();
    assert_eq!(revocations.len(), 1);
    let r = &revocations[0];
    assert_eq!(
        (r.version.as_str(), r.action.as_str()),
        ("v1.0", "revokeSignInSessions")
    );
    assert_eq!(
        (r.user.as_str(), r.user_raw.as_str()),
        ("ada@contoso.com", "ada@contoso.com")
    );
    assert_eq!(
        r.client_request_id.as_deref(),
        Some("c0ffee00-0000-4000-8000-000000000001")
    );
    let calls = standin.graph_calls();
    assert_eq!((calls[0].method.as_str(), calls[0].status), ("POST", 200));
}

#[tokio::test]
async fn invalidate_all_refresh_tokens_answers_like_the_live_service_or_as_documented() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let path = "/beta/users/ada@contoso.com/invalidateAllRefreshTokens";
    let response = graph_post(&standin, path, Some(&token)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["value"], true);
    assert_eq!(
        body["@odata.context"],
        "https://graph.microsoft.com/beta/$metadata#Edm.Boolean"
    );

    let documented = start(Config {
        invalidate_returns_no_content: true,
        ..secret_config()
    })
    .await;
    let token = access_token(&documented).await;
    let response = graph_post(&documented, path, Some(&token)).await;
    assert_eq!(response.status(), 204);
    assert!(response.headers().contains_key("request-id"));
    assert_eq!(
        documented.revocations()[0].action,
        "invalidateAllRefreshTokens"
    );
}

#[tokio::test]
async fn without_a_valid_token_graph_answers_401_invalid_authentication_token() {
    let standin = start(secret_config()).await;
    let missing = graph_post(&standin, V1_REVOKE, None).await;
    assert_eq!(missing.status(), 401);
    assert!(missing.headers().contains_key("www-authenticate"));
    assert_eq!(
        graph_error_code(missing).await,
        "InvalidAuthenticationToken"
    );
    let forged = graph_post(&standin, V1_REVOKE, Some("made-up")).await;
    assert_eq!(forged.status(), 401);

    let token = access_token(&standin).await;
    standin.expire_all_tokens();
    let expired = graph_post(&standin, V1_REVOKE, Some(&token)).await;
    assert_eq!(expired.status(), 401);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let inner = &body["error"]["innerError"];
    assert!(inner["date"].is_string() && inner["request-id"].is_string());
    assert!(inner["client-request-id"].is_string());

    // A fresh token works again; every refused call was recorded, none revoked anything.
    let fresh = access_token(&standin).await;
    assert_eq!(
        graph_post(&standin, V1_REVOKE, Some(&fresh)).await.status(),
        200
    );
    let statuses: Vec<u16> = standin.graph_calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [401, 401, 401, 200]);
    assert_eq!(standin.revocations().len(), 1);
}

#[tokio::test]
async fn a_token_past_its_lifetime_is_refused() {
    let config = Config {
        token_lifetime: Duration::from_millis(1),
        ..secret_config()
    };
    let standin = start(config).await;
    let token = access_token(&standin).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        graph_post(&standin, V1_REVOKE, Some(&token)).await.status(),
        401
    );
}

#[tokio::test]
async fn faults_are_served_in_order_then_normal_behaviour_resumes() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    standin.fail_next(
        "Ada@Contoso.com",
        vec![
            Fault::TooManyRequests {
                retry_after: Some(7),
            },
            Fault::ServiceUnavailable {
                retry_after: Some(3),
            },
            Fault::TooManyRequests { retry_after: None },
            Fault::InternalError,
            Fault::BadGateway,
            Fault::GatewayTimeout,
            Fault::ExpiredToken,
            Fault::Forbidden,
            Fault::NotFound,
        ],
    );
    let expected = [
        (429, "TooManyRequests", Some("7")),
        (503, "serviceNotAvailable", Some("3")),
        (429, "TooManyRequests", None),
        (500, "generalException", None),
        (502, "BadGateway", None),
        (504, "GatewayTimeout", None),
        (401, "InvalidAuthenticationToken", None),
        (403, "Authorization_RequestDenied", None),
        (404, "Request_ResourceNotFound", None),
    ];
    for (status, code, retry_after) in expected {
        let response = graph_post(&standin, V1_REVOKE, Some(&token)).await;
        assert_eq!(response.status(), status);
        let header = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header.as_deref(), retry_after, "{status}");
        assert!(response.headers().contains_key("request-id"));
        assert_eq!(graph_error_code(response).await, code);
    }
    assert!(standin.revocations().is_empty());
    assert_eq!(
        graph_post(&standin, V1_REVOKE, Some(&token)).await.status(),
        200
    );
    assert_eq!(standin.revocations().len(), 1);
    assert_eq!(standin.graph_calls().len(), expected.len() + 1);
}

#[tokio::test]
async fn faults_belong_to_one_user_and_survive_failed_authentication() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    standin.fail_next("ada@contoso.com", vec![Fault::Forbidden]);
    let bob = "/v1.0/users/bob@contoso.com/revokeSignInSessions";
    assert_eq!(graph_post(&standin, bob, Some(&token)).await.status(), 200);
    assert_eq!(graph_post(&standin, V1_REVOKE, None).await.status(), 401);
    assert_eq!(
        graph_post(&standin, V1_REVOKE, Some(&token)).await.status(),
        403
    );
    assert_eq!(
        graph_post(&standin, V1_REVOKE, Some(&token)).await.status(),
        200
    );
}

#[tokio::test]
async fn a_slow_fault_delays_then_succeeds() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    standin.fail_next(
        "ada@contoso.com",
        vec![Fault::Slow(Duration::from_millis(300))],
    );
    let started = Instant::now();
    assert_eq!(
        graph_post(&standin, V1_REVOKE, Some(&token)).await.status(),
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_guest_upn_is_recorded_raw_and_decoded() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let path =
        "/beta/users/ada_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/invalidateAllRefreshTokens";
    assert_eq!(graph_post(&standin, path, Some(&token)).await.status(), 200);
    let call = &standin.graph_calls()[0];
    assert_eq!(call.raw_path, path);
    assert_eq!(
        call.user.as_deref(),
        Some("ada_fabrikam.com#EXT#@contoso.onmicrosoft.com")
    );
    let revocation = &standin.revocations()[0];
    assert_eq!(
        revocation.user_raw,
        "ada_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
    );
    assert_eq!(
        revocation.user,
        "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    );
}

#[tokio::test]
async fn a_dollar_upn_goes_through_the_key_form_only() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let key_form = "/v1.0/users('$ada@contoso.com')/revokeSignInSessions";
    assert_eq!(
        graph_post(&standin, key_form, Some(&token)).await.status(),
        200
    );
    let r = &standin.revocations()[0];
    assert_eq!(
        (r.user.as_str(), r.user_raw.as_str()),
        ("$ada@contoso.com", "$ada@contoso.com")
    );
    let slash_form = "/v1.0/users/$ada@contoso.com/revokeSignInSessions";
    let refused = graph_post(&standin, slash_form, Some(&token)).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(graph_error_code(refused).await, "BadRequest");
    assert_eq!(standin.revocations().len(), 1);
}

#[tokio::test]
async fn hostile_user_segments_are_refused_and_recorded() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    for path in [
        "/v1.0/users/evil%2F..%2Fadmin/revokeSignInSessions",
        "/v1.0/users/ada@contoso.com/extra/revokeSignInSessions",
        "/v1.0/users/ada@contoso.com/invalidateAllRefreshTokens",
        "/v2.0/users/ada@contoso.com/revokeSignInSessions",
        "/v1.0/me/revokeSignInSessions",
    ] {
        let response = graph_post(&standin, path, Some(&token)).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(graph_error_code(response).await, "BadRequest");
    }
    let calls = standin.graph_calls();
    assert_eq!(
        calls[0].raw_path,
        "/v1.0/users/evil%2F..%2Fadmin/revokeSignInSessions"
    );
    assert_eq!(calls[0].user.as_deref(), Some("evil/../admin"));
    assert!(standin.revocations().is_empty());

    // A bare `?` cuts the path short: the rest arrives as a query, and is kept.
    let cut = graph_post(
        &standin,
        "/v1.0/users/who?/revokeSignInSessions",
        Some(&token),
    )
    .await;
    assert_eq!(cut.status(), 400);
    let last = standin.graph_calls().pop().unwrap();
    assert_eq!(last.raw_path, "/v1.0/users/who");
    assert_eq!(last.raw_query.as_deref(), Some("/revokeSignInSessions"));
}

#[tokio::test]
async fn unknown_users_are_404_when_the_directory_is_listed() {
    let config = Config {
        known_users: Some(vec!["Ada@Contoso.com".into()]),
        ..secret_config()
    };
    let standin = start(config).await;
    let token = access_token(&standin).await;
    assert_eq!(
        graph_post(&standin, V1_REVOKE, Some(&token)).await.status(),
        200
    );
    let ghost = "/v1.0/users/ghost@contoso.com/revokeSignInSessions";
    let response = graph_post(&standin, ghost, Some(&token)).await;
    assert_eq!(response.status(), 404);
    assert_eq!(graph_error_code(response).await, "Request_ResourceNotFound");
    assert_eq!(standin.revocations().len(), 1);
}

#[tokio::test]
async fn only_post_revokes() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let response = reqwest::Client::new()
        .get(format!("{}{V1_REVOKE}", standin.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert!(standin.revocations().is_empty());
}

#[tokio::test]
async fn the_control_routes_report_without_counting_as_graph_calls() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let guest = "/beta/users/g%23EXT%23@contoso.com/invalidateAllRefreshTokens";
    graph_post(&standin, guest, Some(&token)).await;
    let revocations: Value = reqwest::get(format!("{}/_standin/revocations", standin.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        revocations,
        json!([{
            "version": "beta",
            "action": "invalidateAllRefreshTokens",
            "user": "g#EXT#@contoso.com",
            "user_raw": "g%23EXT%23@contoso.com"
        }])
    );
    let stats: Value = reqwest::get(format!("{}/_standin/stats", standin.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"token_requests": 1, "tokens_issued": 1, "graph_calls": 1})
    );
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let standin = start(secret_config()).await;
    let url = standin.token_url();
    standin.shutdown().await;
    assert!(reqwest::get(url).await.is_err());
}
