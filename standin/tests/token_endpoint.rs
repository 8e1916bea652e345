//! The Entra token endpoint: what it accepts, and each refusal with Entra's status and code.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use standin::{Config, TokenFault};

#[tokio::test]
async fn a_client_secret_gets_a_bearer_token() {
    let standin = start(secret_config()).await;
    let response = secret_form_token(&standin, SECRET).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-ms-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() >= 32));
    assert_eq!((standin.token_requests(), standin.tokens_issued()), (1, 1));
    let attempt = &standin.token_attempts()[0];
    assert_eq!(
        (attempt.credential.as_str(), attempt.status),
        ("client_secret", 200)
    );
}

#[tokio::test]
async fn a_ps256_certificate_assertion_gets_a_token_and_its_jti_is_recorded() {
    let standin = start(certificate_config()).await;
    let spec = AssertionSpec::valid(&standin);
    let jti = spec.claims["jti"].as_str().unwrap().to_owned();
    let response = assertion_token(&standin, &spec.sign()).await;
    assert_eq!(response.status(), 200);
    let attempt = &standin.token_attempts()[0];
    assert_eq!(attempt.credential, "client_assertion");
    assert_eq!(attempt.assertion_jti.as_deref(), Some(jti.as_str()));
    assert_eq!(attempt.assertion_alg.as_deref(), Some("PS256"));
}

#[tokio::test]
async fn rs256_assertions_are_still_accepted() {
    let standin = start(certificate_config()).await;
    let spec = AssertionSpec {
        alg: Algorithm::RS256,
        ..AssertionSpec::valid(&standin)
    };
    assert_eq!(assertion_token(&standin, &spec.sign()).await.status(), 200);
}

#[tokio::test]
async fn an_unknown_tenant_is_aadsts90002_in_entras_error_shape() {
    let standin = start(secret_config()).await;
    let url = standin
        .token_url()
        .replace("contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com");
    let form = [
        ("client_id", Config::default().client_id),
        ("scope", GRAPH_SCOPE.into()),
        ("grant_type", "client_credentials".into()),
        ("client_secret", SECRET.into()),
    ];
    let client_request_id = uuid::Uuid::new_v4().to_string();
    let response = reqwest::Client::new()
        .post(&url)
        .header("client-request-id", &client_request_id)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_codes"], json!([90002]));
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with("AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found"));
    for part in ["\r\nTrace ID: ", "\r\nCorrelation ID: ", "\r\nTimestamp: "] {
        assert!(description.contains(part), "{description:?} lacks {part:?}");
    }
    // Entra adopts a GUID client-request-id as the correlation id.
    assert_eq!(body["correlation_id"], client_request_id.as_str());
    assert!(body["trace_id"].as_str().is_some_and(|t| t.len() == 36));
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(
        body["error_uri"],
        "https://login.microsoftonline.com/error?code=90002"
    );
    assert_eq!(standin.token_requests(), 1);
    assert_eq!(standin.tokens_issued(), 0);
}

#[tokio::test]
async fn protocol_errors_carry_their_codes() {
    let standin = start(secret_config()).await;
    let client_id = Config::default().client_id;
    let base = |grant: &'static str, id: &str, scope: &'static str| {
        vec![
            ("grant_type", grant.to_owned()),
            ("client_id", id.to_owned()),
            ("scope", scope.to_owned()),
            ("client_secret", SECRET.to_owned()),
        ]
    };
    let cases = [
        (
            base("password", &client_id, GRAPH_SCOPE),
            (400, 70003, "unsupported_grant_type"),
        ),
        (
            base(
                "client_credentials",
                "99999999-2222-3333-4444-555555555555",
                GRAPH_SCOPE,
            ),
            (400, 700016, "unauthorized_client"),
        ),
        (
            base(
                "client_credentials",
                &client_id,
                "https://graph.microsoft.com/User.Read",
            ),
            (400, 1002012, "invalid_scope"),
        ),
        (
            base(
                "client_credentials",
                &client_id,
                "https://graph.microsoft.us/.default",
            ),
            (400, 500011, "invalid_resource"),
        ),
    ];
    for (form, expected) in cases {
        let response = reqwest::Client::new()
            .post(standin.token_url())
            .form(&form)
            .send()
            .await
            .unwrap();
        let (status, code, error) = entra_error(response).await;
        assert_eq!((status, code, error.as_str()), expected, "{form:?}");
    }
    assert_eq!(standin.tokens_issued(), 0);
}

#[tokio::test]
async fn a_wrong_secret_is_401_invalid_client_7000215() {
    let standin = start(secret_config()).await;
    let response = secret_form_token(&standin, "the-secret-id-not-its-value").await;
    assert_eq!(
        entra_error(response).await,
        (401, 7000215, "invalid_client".into())
    );
    assert_eq!(standin.token_attempts()[0].error_code, Some(7000215));
}

#[tokio::test]
async fn both_or_neither_credential_is_refused() {
    let standin = start(secret_config()).await;
    let client_id = Config::default().client_id;
    let common = [
        ("client_id", client_id.as_str()),
        ("scope", GRAPH_SCOPE),
        ("grant_type", "client_credentials"),
    ];
    let neither = post_token(&standin.token_url(), &common).await;
    assert_eq!(
        entra_error(neither).await,
        (401, 7000218, "invalid_client".into())
    );
    let mut both = common.to_vec();
    both.extend([
        ("client_secret", SECRET),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", "a.b.c"),
    ]);
    let (status, _, error) = entra_error(post_token(&standin.token_url(), &both).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_request"));
    let kinds: Vec<String> = standin
        .token_attempts()
        .into_iter()
        .map(|a| a.credential)
        .collect();
    assert_eq!(kinds, ["none", "both"]);
}

#[tokio::test]
async fn a_missing_parameter_is_aadsts900144() {
    let standin = start(secret_config()).await;
    let response = post_token(&standin.token_url(), &[("client_secret", SECRET)]).await;
    assert_eq!(
        entra_error(response).await,
        (400, 900144, "invalid_request".into())
    );
}

#[tokio::test]
async fn an_assertion_signed_by_another_key_is_700027() {
    let standin = start(certificate_config()).await;
    // Names the registered certificate but is signed with an unrelated key.
    let spec = AssertionSpec {
        key_file: "other-key.pem",
        ..AssertionSpec::valid(&standin)
    };
    let response = assertion_token(&standin, &spec.sign()).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_codes"], json!([700027]));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("invalid signature")
    );
    assert_eq!(standin.token_attempts()[0].status, 401);
}

#[tokio::test]
async fn an_assertion_for_an_unregistered_certificate_is_700027_not_registered() {
    let standin = start(certificate_config()).await;
    let spec = AssertionSpec {
        key_file: "other-key.pem",
        cert_file: "other-cert.pem",
        ..AssertionSpec::valid(&standin)
    };
    let response = assertion_token(&standin, &spec.sign()).await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_codes"], json!([700027]));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not registered")
    );
}

#[tokio::test]
async fn assertion_claims_are_checked_with_entras_codes() {
    let standin = start(certificate_config()).await;
    let now = now();
    let login_aud = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
    let cases = [
        ("aud", json!(login_aud), 700023),
        ("aud", json!([standin.token_url(), login_aud]), 5002741),
        ("iss", json!("99999999-2222-3333-4444-555555555555"), 700021),
        ("sub", json!("someone-else"), 50048),
        ("exp", json!(now - 1), 700024),
        ("nbf", json!(now + 3600), 700024),
        ("jti", json!(null), 50027),
    ];
    for (claim, value, code) in cases {
        let spec = AssertionSpec::valid(&standin).claim(claim, value.clone());
        let response = assertion_token(&standin, &spec.sign()).await;
        assert_eq!(
            entra_error(response).await,
            (401, code, "invalid_client".into()),
            "{claim}={value}"
        );
    }
    assert_eq!(standin.tokens_issued(), 0);
}

#[tokio::test]
async fn assertions_need_the_jwt_bearer_type_and_a_supported_alg() {
    let standin = start(certificate_config()).await;
    let assertion = AssertionSpec::valid(&standin).sign();
    let client_id = Config::default().client_id;
    let form = [
        ("client_id", client_id.as_str()),
        ("scope", GRAPH_SCOPE),
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, code, _) = entra_error(post_token(&standin.token_url(), &form).await).await;
    assert_eq!((status, code), (400, 90100));
    let rs384 = AssertionSpec {
        alg: Algorithm::RS384,
        ..AssertionSpec::valid(&standin)
    };
    let response = assertion_token(&standin, &rs384.sign()).await;
    assert_eq!(
        entra_error(response).await,
        (401, 5002738, "invalid_client".into())
    );
    let garbage = assertion_token(&standin, "not-a-jwt").await;
    assert_eq!(
        entra_error(garbage).await,
        (401, 50027, "invalid_client".into())
    );
}

#[tokio::test]
async fn a_lifetime_cap_is_opt_in() {
    let config = Config {
        max_assertion_lifetime: Some(Duration::from_secs(600)),
        ..certificate_config()
    };
    let standin = start(config).await;
    let hour = AssertionSpec::valid(&standin).claim("exp", json!(now() + 3600));
    assert_eq!(
        entra_error(assertion_token(&standin, &hour.sign()).await)
            .await
            .1,
        700024
    );
    let ten_minutes = AssertionSpec::valid(&standin);
    assert_eq!(
        assertion_token(&standin, &ten_minutes.sign())
            .await
            .status(),
        200
    );

    let uncapped = start(certificate_config()).await;
    let hour = AssertionSpec::valid(&uncapped).claim("exp", json!(now() + 3600));
    assert_eq!(assertion_token(&uncapped, &hour.sign()).await.status(), 200);
}

#[tokio::test]
async fn rotating_secrets_at_entra_takes_effect_at_once() {
    let standin = start(secret_config()).await;
    standin.set_client_secrets(vec!["new-secret".into()]);
    assert_eq!(secret_form_token(&standin, SECRET).await.status(), 401);
    assert_eq!(
        secret_form_token(&standin, "new-secret").await.status(),
        200
    );
}

#[tokio::test]
async fn removing_the_certificate_refuses_its_assertions() {
    let standin = start(certificate_config()).await;
    standin.set_certificate_pem(None).unwrap();
    let spec = AssertionSpec::valid(&standin);
    assert_eq!(
        entra_error(assertion_token(&standin, &spec.sign()).await)
            .await
            .1,
        700027
    );
    assert!(
        standin
            .set_certificate_pem(Some("not a pem".into()))
            .is_err()
    );
}

#[tokio::test]
async fn token_faults_are_served_in_order_then_normal_behaviour_resumes() {
    let standin = start(secret_config()).await;
    standin.fail_token_next(vec![
        TokenFault::ServiceUnavailable,
        TokenFault::InvalidClient,
        TokenFault::ExpiredSecret,
        TokenFault::Slow(Duration::from_millis(300)),
    ]);
    let unavailable = secret_form_token(&standin, SECRET).await;
    assert_eq!(
        entra_error(unavailable).await,
        (503, 90006, "temporarily_unavailable".into())
    );
    let forced = secret_form_token(&standin, SECRET).await;
    assert_eq!(
        entra_error(forced).await,
        (401, 7000215, "invalid_client".into())
    );
    let expired = secret_form_token(&standin, SECRET).await;
    assert_eq!(
        entra_error(expired).await,
        (401, 7000222, "invalid_client".into())
    );
    let started = Instant::now();
    assert_eq!(secret_form_token(&standin, SECRET).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(secret_form_token(&standin, SECRET).await.status(), 200);
    assert_eq!((standin.token_requests(), standin.tokens_issued()), (5, 2));
}

#[tokio::test]
async fn only_post_is_a_token_request() {
    let standin = start(secret_config()).await;
    let response = reqwest::get(standin.token_url()).await.unwrap();
    assert_eq!(
        entra_error(response).await,
        (400, 900561, "invalid_request".into())
    );
    assert_eq!(standin.token_requests(), 0);
}

#[tokio::test]
async fn a_json_body_reads_as_an_empty_form() {
    let standin = start(secret_config()).await;
    let response = reqwest::Client::new()
        .post(standin.token_url())
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        entra_error(response).await,
        (400, 900144, "invalid_request".into())
    );
}

#[tokio::test]
async fn the_audience_may_name_the_host_the_client_used() {
    let standin = start(certificate_config()).await;
    let host = format!("localhost:{}", standin.addr().port());
    let aud = format!("http://{host}/contoso.onmicrosoft.com/oauth2/v2.0/token");
    let assertion = AssertionSpec::valid(&standin)
        .claim("aud", json!(aud))
        .sign();
    let client_id = Config::default().client_id;
    let form = [
        ("client_id", client_id.as_str()),
        ("scope", GRAPH_SCOPE),
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    let response = reqwest::Client::new()
        .post(standin.token_url())
        .header("host", &host)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
