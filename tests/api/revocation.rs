//! The act step for real: the handler with the Entra token client and the Graph client,
//! against the project's Entra + Graph stand-in on 127.0.0.1 (Secrets Manager on moto).

use std::time::Duration;

use lambda_http::http::StatusCode;
use serde_json::json;
use standin::{Fault, Standin, TokenFault};

use crate::durability::standin_config;
use crate::helpers::*;

const CERT: &str = include_str!("../fixtures/test-app-cert.pem");
const KEY: &str = include_str!("../fixtures/test-app-key.pem");

async fn standin() -> Standin {
    Standin::start(standin_config(), 0).await.unwrap()
}

fn env(pairs: &[(&'static str, &str)]) -> Setup {
    Setup {
        env: pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        ..Setup::default()
    }
}

fn calls_for(standin: &Standin, user: &str) -> usize {
    standin
        .graph_calls()
        .iter()
        .filter(|c| c.user.as_deref() == Some(user))
        .count()
}

#[tokio::test]
async fn invalidate_all_refresh_tokens_is_called_on_beta_by_default() {
    let standin = standin().await;
    let app = spawn_graph_app(Setup::default(), &standin).await;

    let answer = app.send_lost("alice@contoso.com", "r-1").await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert_eq!(answer.body["outcome"], "revoked");
    let revoked = standin.revocations();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].version, "beta");
    assert_eq!(revoked[0].action, "invalidateAllRefreshTokens");
    assert_eq!(revoked[0].user, "alice@contoso.com");
    assert!(
        revoked[0].client_request_id.is_some(),
        "a client-request-id is sent"
    );
}

#[tokio::test]
async fn revoke_sign_in_sessions_is_called_on_v1_when_configured() {
    let standin = standin().await;
    let app = spawn_graph_app(env(&[("REVOKE_ACTION", "revokeSignInSessions")]), &standin).await;

    let answer = app.send_lost("alice@contoso.com", "r-2").await;

    assert_eq!(answer.body["outcome"], "revoked", "{}", answer.raw);
    let revoked = standin.revocations();
    assert_eq!(
        (revoked[0].version.as_str(), revoked[0].action.as_str()),
        ("v1.0", "revokeSignInSessions")
    );
}

#[tokio::test]
async fn a_certificate_credential_signs_in_with_a_ps256_assertion() {
    let standin = Standin::start(
        standin::Config {
            certificate_pem: Some(CERT.to_owned()),
            ..standin::Config::default()
        },
        0,
    )
    .await
    .unwrap();
    let mut secret = test_secret();
    secret.as_object_mut().unwrap().remove("client_secret");
    secret["client_certificate"] = json!({"certificate_pem": CERT, "private_key_pem": KEY});
    let app = spawn_graph_app(
        Setup {
            secret,
            ..Setup::default()
        },
        &standin,
    )
    .await;

    let answer = app.send_lost("alice@contoso.com", "r-3").await;

    assert_eq!(answer.body["outcome"], "revoked", "{}", answer.raw);
    let attempts = standin.token_attempts();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].credential, "client_assertion");
    assert_eq!(attempts[0].assertion_alg.as_deref(), Some("PS256"));
    assert_eq!(attempts[0].status, 200);
}

#[tokio::test]
async fn many_events_share_one_token_request() {
    let standin = standin().await;
    let app = spawn_graph_app(Setup::default(), &standin).await;
    for i in 0..5 {
        let answer = app
            .send_lost(&format!("user{i}@contoso.com"), &format!("r-4-{i}"))
            .await;
        assert_eq!(answer.body["outcome"], "revoked");
    }
    let body = crate::webhook::jamf_smart_group_body(70);
    let answer = app.send(&signed_event(&app, "/jamf", &body)).await;
    assert_eq!(answer.body["outcome"], "revoked", "two users concurrently");
    assert_eq!(standin.token_requests(), 1);
    assert_eq!(standin.revocations().len(), 7);
}

/// `Retry-After: 18446744073709551615` once overflowed the clock and, with `panic = "abort"`,
/// ended the instance. It now only means "not before the deadline": the revocation is owed.
#[tokio::test]
async fn a_retry_after_too_large_for_the_clock_leaves_the_revocation_owed() {
    let standin = standin().await;
    standin.fail_next(
        "alice@contoso.com",
        vec![Fault::TooManyRequests {
            retry_after: Some(u64::MAX),
        }],
    );
    let app = spawn_graph_app(Setup::default(), &standin).await;

    let answer = app.send_lost("alice@contoso.com", "r-huge-wait").await;

    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.raw
    );
    assert_eq!(answer.body["outcome"], "failed");
    assert_eq!(calls_for(&standin, "alice@contoso.com"), 1);
}

/// An `expires_in` of `u64::MAX` once overflowed the token cache's clock. It is capped at a
/// day: the token is used, and cached rather than fetched again for the next event.
#[tokio::test]
async fn a_token_lifetime_too_large_for_the_clock_is_capped_and_the_token_cached() {
    let standin = Standin::start(
        standin::Config {
            token_lifetime: Duration::from_secs(u64::MAX),
            ..standin_config()
        },
        0,
    )
    .await
    .unwrap();
    let app = spawn_graph_app(Setup::default(), &standin).await;

    let first = app.send_lost("alice@contoso.com", "r-huge-token-1").await;
    let second = app.send_lost("bob@contoso.com", "r-huge-token-2").await;

    assert_eq!(first.body["outcome"], "revoked", "{}", first.raw);
    assert_eq!(second.body["outcome"], "revoked", "{}", second.raw);
    assert_eq!(standin.tokens_issued(), 1);
}

#[tokio::test]
async fn throttling_is_retried_after_retry_after_and_then_revokes() {
    let standin = standin().await;
    standin.fail_next(
        "alice@contoso.com",
        vec![Fault::TooManyRequests {
            retry_after: Some(1),
        }],
    );
    let app = spawn_graph_app(env(&[("INLINE_DEADLINE_MS", "3000")]), &standin).await;

    let started = std::time::Instant::now();
    let answer = app.send_lost("alice@contoso.com", "r-5").await;

    assert_eq!(answer.body["outcome"], "revoked", "{}", answer.raw);
    assert_eq!(calls_for(&standin, "alice@contoso.com"), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_until_success() {
    let standin = standin().await;
    standin.fail_next(
        "alice@contoso.com",
        vec![
            Fault::ServiceUnavailable { retry_after: None },
            Fault::InternalError,
            Fault::BadGateway,
            Fault::GatewayTimeout,
        ],
    );
    let app = spawn_graph_app(env(&[("INLINE_DEADLINE_MS", "5000")]), &standin).await;

    let answer = app.send_lost("alice@contoso.com", "r-6").await;

    assert_eq!(answer.body["outcome"], "revoked", "{}", answer.raw);
    assert_eq!(calls_for(&standin, "alice@contoso.com"), 5);
}

#[tokio::test]
async fn persistent_failure_ends_failed_503_within_the_deadline() {
    let standin = standin().await;
    standin.fail_next("alice@contoso.com", vec![Fault::InternalError; 50]);
    let app = spawn_graph_app(env(&[("INLINE_DEADLINE_MS", "800")]), &standin).await;

    let started = std::time::Instant::now();
    let answer = app.send_lost("alice@contoso.com", "r-7").await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body["outcome"], "failed");
    assert!(calls_for(&standin, "alice@contoso.com") >= 2, "it retried");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "it stopped at the deadline"
    );
    assert!(standin.revocations().is_empty());
}

#[tokio::test]
async fn a_slow_graph_beyond_the_deadline_ends_failed_503() {
    let standin = standin().await;
    standin.fail_next(
        "alice@contoso.com",
        vec![Fault::Slow(Duration::from_secs(3))],
    );
    let app = spawn_graph_app(env(&[("INLINE_DEADLINE_MS", "500")]), &standin).await;

    let started = std::time::Instant::now();
    let answer = app.send_lost("alice@contoso.com", "r-8").await;

    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.raw
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn an_expired_token_is_replaced_once_and_the_call_repeated() {
    let standin = standin().await;
    let app = spawn_graph_app(Setup::default(), &standin).await;
    app.send_lost("warmup@contoso.com", "r-9a").await;
    standin.expire_all_tokens();

    let answer = app.send_lost("alice@contoso.com", "r-9").await;

    assert_eq!(answer.body["outcome"], "revoked", "{}", answer.raw);
    assert_eq!(standin.token_requests(), 2);
    assert_eq!(calls_for(&standin, "alice@contoso.com"), 2);
}

#[tokio::test]
async fn graph_403_is_denied_500_without_retrying() {
    let standin = standin().await;
    standin.fail_next("alice@contoso.com", vec![Fault::Forbidden]);
    let app = spawn_graph_app(Setup::default(), &standin).await;

    let answer = app.send_lost("alice@contoso.com", "r-10").await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["outcome"], "denied");
    assert_eq!(calls_for(&standin, "alice@contoso.com"), 1);
}

#[tokio::test]
async fn graph_404_is_user_not_found_422() {
    let standin = standin().await;
    standin.fail_next("ghost@contoso.com", vec![Fault::NotFound]);
    let app = spawn_graph_app(Setup::default(), &standin).await;

    let answer = app.send_lost("ghost@contoso.com", "r-11").await;

    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["outcome"], "user_not_found");
    assert_eq!(calls_for(&standin, "ghost@contoso.com"), 1);
}

#[tokio::test]
async fn a_rotated_client_secret_is_picked_up_after_invalid_client() {
    // Arrange: the function has cached the old secret; Entra and the secret now hold a new one.
    let standin = standin().await;
    let app = spawn_graph_app(Setup::default(), &standin).await;
    app.send_lost("warmup@contoso.com", "r-12a").await;
    standin.set_client_secrets(vec!["rotated-client-secret-value".into()]);
    standin.expire_all_tokens();
    let mut rotated = test_secret();
    rotated["client_secret"] = json!("rotated-client-secret-value");
    put_secret(&app.secret_name, &rotated.to_string()).await;

    // Act
    let answer = app.send_lost("alice@contoso.com", "r-12").await;

    // Assert: one refusal (invalid_client), one refetch, one success.
    assert_eq!(answer.body["outcome"], "revoked", "{}", answer.raw);
    let statuses: Vec<(u16, Option<u32>)> = standin
        .token_attempts()
        .iter()
        .map(|a| (a.status, a.error_code))
        .collect();
    assert_eq!(
        statuses,
        vec![(200, None), (401, Some(7_000_215)), (200, None)]
    );
}

#[tokio::test]
async fn credentials_entra_keeps_refusing_are_denied_500_after_one_refetch() {
    let standin = standin().await;
    standin.set_client_secrets(vec!["something-else".into()]);
    let app = spawn_graph_app(Setup::default(), &standin).await;

    let answer = app.send_lost("alice@contoso.com", "r-13").await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["outcome"], "denied");
    assert_eq!(
        standin.token_requests(),
        2,
        "one refetch of the secret, then stop"
    );
    assert!(standin.graph_calls().is_empty());
}

#[tokio::test]
async fn an_unavailable_token_endpoint_is_retried_inside_the_deadline() {
    let standin = standin().await;
    standin.fail_token_next(vec![TokenFault::ServiceUnavailable]);
    let app = spawn_graph_app(env(&[("INLINE_DEADLINE_MS", "3000")]), &standin).await;

    let answer = app.send_lost("alice@contoso.com", "r-14").await;

    assert_eq!(answer.body["outcome"], "revoked", "{}", answer.raw);
    assert_eq!(standin.token_requests(), 2);
}

#[tokio::test]
async fn the_token_scope_follows_entra_cloud() {
    for (cloud, graph_host, expected) in [
        ("usgov", "graph.microsoft.us", "revoked"),
        ("dod", "dod-graph.microsoft.us", "revoked"),
        ("china", "microsoftgraph.chinacloudapi.cn", "revoked"),
        ("global", "graph.microsoft.us", "denied"),
    ] {
        let standin = Standin::start(
            standin::Config {
                graph_host: graph_host.to_owned(),
                ..standin_config()
            },
            0,
        )
        .await
        .unwrap();
        let app = spawn_graph_app(env(&[("ENTRA_CLOUD", cloud)]), &standin).await;
        let answer = app
            .send_lost("alice@contoso.com", &format!("r-15-{cloud}"))
            .await;
        assert_eq!(answer.body["outcome"], expected, "{cloud}: {}", answer.raw);
    }
}

#[tokio::test]
async fn guest_and_dollar_upns_address_exactly_that_user() {
    let standin = standin().await;
    let app = spawn_graph_app(Setup::default(), &standin).await;
    for (i, upn) in [
        "alice_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "$svc-account@contoso.com",
    ]
    .iter()
    .enumerate()
    {
        let answer = app.send_lost(upn, &format!("r-16-{i}")).await;
        assert_eq!(answer.body["outcome"], "revoked", "{upn}: {}", answer.raw);
    }
    let revoked = standin.revocations();
    assert_eq!(
        revoked[0].user,
        "alice_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    );
    assert_eq!(
        revoked[0].user_raw,
        "alice_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
    );
    assert_eq!(revoked[1].user, "$svc-account@contoso.com");
    for call in standin.graph_calls() {
        assert!(call.raw_query.is_none(), "{call:?}");
    }
}

#[tokio::test]
async fn hostile_upns_are_refused_before_any_graph_call() {
    let standin = standin().await;
    let app = spawn_graph_app(Setup::default(), &standin).await;
    for (i, upn) in [
        "a/../../me@contoso.com",
        "a?$select=id@contoso.com",
        "a%2F..@contoso.com",
        "..@contoso.com/x",
        "victim@contoso.com/../../other@contoso.com",
    ]
    .iter()
    .enumerate()
    {
        let answer = app.send_lost(upn, &format!("r-17-{i}")).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{upn}: {}",
            answer.raw
        );
        let error = answer.body["error"].as_str().unwrap();
        assert!(error.contains("data.user.upn"), "{error}");
    }
    assert!(standin.graph_calls().is_empty());
    assert_eq!(standin.token_requests(), 0);
}

#[tokio::test]
async fn dry_run_never_reaches_entra_or_graph() {
    let standin = standin().await;
    let app = spawn_graph_app(env(&[("DRY_RUN", "true")]), &standin).await;
    let answer = app.send_lost("alice@contoso.com", "r-18").await;
    assert_eq!(answer.body["outcome"], "dry_run");
    assert_eq!(standin.token_requests(), 0);
    assert!(standin.graph_calls().is_empty());
}
