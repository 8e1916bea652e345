//! The webhook handler end to end: routes, authentication for every scheme, payloads,
//! decisions, and every status of the README's Responses table this function can produce.

use base64::Engine as _;
use lambda_http::http::StatusCode;
use revoker::revocation::Revocation;
use serde_json::json;

use crate::helpers::*;

/// A Jamf smart-group change adding two devices (two users) to group 42 and removing one.
pub fn jamf_smart_group_body(id: u64) -> String {
    json!({
        "webhook": {"id": id, "name": "Lost devices", "webhookEvent": "SmartGroupMobileDeviceMembershipChange",
                    "eventTimestamp": 1_795_000_000_000_u64},
        "event": {
            "jssid": 42, "name": "Lost Devices", "smartGroup": true,
            "groupAddedDevices": [
                {"udid": "00008030-000A1C2E3F48802E", "deviceName": "Carol's iPad", "serialNumber": "DMPX0001",
                 "username": "carol", "emailAddress": "carol@contoso.com"},
                {"udid": "00008030-000B1C2E3F48802E", "deviceName": "Dave's iPhone", "serialNumber": "DMPX0002",
                 "username": "dave@contoso.com", "emailAddress": "dave@contoso.com"}
            ],
            "groupAddedDevicesIds": [101, 102],
            "groupRemovedDevices": [
                {"udid": "00008030-000C1C2E3F48802E", "deviceName": "Found iPad", "serialNumber": "DMPX0003",
                 "username": "frank@contoso.com", "emailAddress": "frank@contoso.com"}
            ],
            "groupRemovedDevicesIds": [103]
        }
    })
    .to_string()
}

pub fn jamf_command_body(id: u64, command: &str, username: &str) -> String {
    json!({
        "webhook": {"id": id, "name": "Lost mode", "webhookEvent": "MobileDeviceCommandCompleted",
                    "eventTimestamp": 1_795_000_000_500_u64},
        "event": {"mdmCommand": command, "udid": "00008030-000D1C2E3F48802E", "deviceName": "Erin's iPhone",
                  "serialNumber": "DMPX0004", "username": username}
    })
    .to_string()
}

// ---- routes and methods ------------------------------------------------------------------

#[tokio::test]
async fn health_returns_200_without_reading_the_secret() {
    // Arrange: Secrets Manager that does not answer at all.
    let app = spawn_app_with(Setup {
        endpoint: Some("http://127.0.0.1:9".into()),
        ..Setup::default()
    })
    .await;
    // Act
    let answer = app
        .send(&function_url_event("GET", "/prod/health", ""))
        .await;
    // Assert
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["outcome"], "healthy");
}

#[tokio::test]
async fn webhook_returns_405_for_methods_other_than_post() {
    let app = spawn_app().await;
    for method in ["GET", "PUT", "DELETE"] {
        let answer = app.send(&function_url_event(method, "/jamf", "{}")).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(answer.body["outcome"], "method_not_allowed");
        assert_eq!(answer.allow.as_deref(), Some("POST"));
    }
    let answer = app.send(&function_url_event("POST", "/health", "")).await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_FOUND,
        "health is not a source"
    );
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn webhook_returns_404_for_unknown_or_unconfigured_sources() {
    let app = spawn_app().await;
    for path in ["/intune", "/", "/prod/..", "/a%2Fb"] {
        let mut event = function_url_event("POST", path, "{}");
        set_header(&mut event, "x-webhook-token", JAMF_TOKEN);
        let answer = app.send(&event).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.body["outcome"], "unknown_source");
    }
}

#[tokio::test]
async fn webhook_routes_on_the_last_path_segment_behind_stages_and_prefixes() {
    let app = spawn_app().await;
    let event = signed_event(
        &app,
        "/prod/hooks/standard",
        &lost_for("alice@contoso.com", "e-route"),
    );
    let answer = app.send(&event).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert_eq!(app.calls(), vec!["alice@contoso.com"]);
}

#[tokio::test]
async fn webhook_returns_413_for_a_body_over_the_limit_before_authenticating() {
    // Secrets Manager unreachable and no signature: only the size check can answer.
    let app = spawn_app_with(Setup {
        env: vec![("MAX_BODY_BYTES", "1024".into())],
        endpoint: Some("http://127.0.0.1:9".into()),
        ..Setup::default()
    })
    .await;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2000));
    let answer = app
        .send(&function_url_event("POST", "/standard", &big))
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.body["outcome"], "payload_too_large");
    assert!(app.calls().is_empty());
}

// ---- authentication ----------------------------------------------------------------------

#[tokio::test]
async fn webhook_returns_401_for_a_bad_signature_in_every_scheme_and_never_acts() {
    let app = spawn_app().await;
    let body = lost_for("alice@contoso.com", "e-forged");
    let jamf = jamf_command_body(1, "EnableLostMode", "erin@contoso.com");
    let forged_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("jamf:guess")
    );
    let cases: Vec<(&str, &str, &str, String)> = vec![
        (
            "/standard",
            &body,
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".into(),
        ),
        (
            "/relay",
            &body,
            "x-hub-signature-256",
            format!("sha256={}", "ab".repeat(32)),
        ),
        ("/jamf", &jamf, "x-webhook-token", "not-the-token".into()),
        ("/jamf-basic", &jamf, "authorization", forged_basic),
    ];
    for (path, body, header, forged) in cases {
        let mut event = signed_event(&app, path, body);
        set_header(&mut event, header, &forged);
        let answer = app.send(&event).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {}",
            answer.raw
        );
        assert_eq!(answer.body["outcome"], "unauthorized");
    }
    assert!(
        app.calls().is_empty(),
        "a forged request reached the act seam"
    );
}

#[tokio::test]
async fn webhook_returns_401_for_a_tampered_body_signed_correctly_for_another() {
    let app = spawn_app().await;
    for path in ["/standard", "/relay"] {
        let mut event = signed_event(&app, path, &lost_for("alice@contoso.com", "e-1"));
        event["body"] = json!(lost_for("mallory@contoso.com", "e-1"));
        let answer = app.send(&event).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn webhook_returns_401_for_missing_authentication_headers() {
    let app = spawn_app().await;
    for path in ["/standard", "/relay", "/jamf", "/jamf-basic"] {
        let event = function_url_event("POST", path, &lost_for("alice@contoso.com", "e-2"));
        let answer = app.send(&event).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            answer.body["error"]
                .as_str()
                .unwrap()
                .contains("missing header"),
            "{}",
            answer.raw
        );
    }
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn webhook_returns_401_for_stale_and_future_timestamps() {
    let app = spawn_app().await;
    let body = lost_for("alice@contoso.com", "e-3");
    for (path, skew) in [
        ("/standard", -301),
        ("/standard", 301),
        ("/relay", -3600),
        ("/relay", 900),
    ] {
        let mut event = function_url_event("POST", path, &body);
        revoker::dev::sample_events::sign(&mut event, &app.secret, now() + skew).unwrap();
        let answer = app.send(&event).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path} {skew}");
        assert!(answer.body["error"].as_str().unwrap().contains("timestamp"));
    }
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn repeated_authentication_headers_never_let_a_forged_value_through() {
    let app = spawn_app().await;
    let body = jamf_command_body(7, "EnableLostMode", "erin@contoso.com");
    // Function URL / HTTP API v2 join repeated headers with commas into one value.
    let mut v2 = function_url_event("POST", "/jamf", &body);
    set_header(
        &mut v2,
        "x-webhook-token",
        &format!("{JAMF_TOKEN},{JAMF_TOKEN}"),
    );
    assert_eq!(app.send(&v2).await.status, StatusCode::UNAUTHORIZED);
    // REST API v1 lists every value in multiValueHeaders and the last one in headers, which
    // lambda_http delivers: a genuine token sent first does not carry a forged last one.
    let rest = json!({
        "resource": "/{source}", "path": "/jamf", "httpMethod": "POST",
        "headers": {"X-Webhook-Token": "forged-token"},
        "multiValueHeaders": {"X-Webhook-Token": [JAMF_TOKEN, "forged-token"]},
        "requestContext": {"accountId": "123456789012", "stage": "prod", "requestId": "r-2",
                           "identity": {"sourceIp": "203.0.113.10"}, "resourcePath": "/{source}",
                           "httpMethod": "POST", "apiId": "api1", "path": "/prod/jamf"},
        "body": body, "isBase64Encoded": false
    });
    let answer = app.send(&rest).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.raw);
    assert!(app.calls().is_empty());
}

/// Two `EnableLostMode` completions from one Jamf webhook in the same millisecond (lost mode
/// pushed to a cart of iPads) share an event id. Both owners are signed out; only a second
/// delivery of the same user's event is a duplicate.
#[tokio::test]
async fn two_lost_mode_completions_sharing_an_event_id_sign_out_both_users() {
    let app = spawn_app().await;
    let erin = jamf_command_body(4, "EnableLostMode", "erin@contoso.com");
    let frank = jamf_command_body(4, "EnableLostMode", "frank@contoso.com");

    let first = app.send(&signed_event(&app, "/jamf", &erin)).await;
    let second = app.send(&signed_event(&app, "/jamf", &frank)).await;
    let again = app.send(&signed_event(&app, "/jamf", &frank)).await;

    assert_eq!(first.body["event_id"], second.body["event_id"]);
    assert_eq!(first.body["outcome"], "revoked", "{}", first.raw);
    assert_eq!(second.body["outcome"], "revoked", "{}", second.raw);
    assert_eq!(again.body["outcome"], "duplicate", "{}", again.raw);
    assert_eq!(app.calls(), vec!["erin@contoso.com", "frank@contoso.com"]);
}

#[tokio::test]
async fn a_denied_event_is_acted_on_again_when_the_sender_retries() {
    let app = spawn_app_with(Setup {
        answers: vec![("alice@contoso.com", Revocation::Denied)],
        ..Setup::default()
    })
    .await;
    let body = lost_for("alice@contoso.com", "e-denied");
    assert_eq!(
        app.send(&signed_event(&app, "/standard", &body))
            .await
            .status,
        500
    );
    let retry = app.send(&signed_event(&app, "/standard", &body)).await;
    assert_eq!(retry.body["outcome"], "denied", "not answered duplicate");
    assert_eq!(app.calls().len(), 2);
}

#[tokio::test]
async fn an_event_naming_more_users_than_the_cap_is_refused_with_422() {
    let app = spawn_app_with(Setup {
        env: vec![("MAX_USERS_PER_EVENT", "1".into())],
        ..Setup::default()
    })
    .await;
    let answer = app
        .send(&signed_event(&app, "/jamf", &jamf_smart_group_body(60)))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["outcome"], "too_many_users");
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn webhook_accepts_the_second_secret_of_a_rotation_pair() {
    let mut secret = test_secret();
    secret["webhooks"]["jamf"]["secrets"] = json!(["old-token-being-retired", JAMF_TOKEN]);
    let app = spawn_app_with(Setup {
        secret,
        ..Setup::default()
    })
    .await;
    let mut event = function_url_event(
        "POST",
        "/jamf",
        &jamf_command_body(2, "EnableLostMode", "erin@contoso.com"),
    );
    set_header(&mut event, "x-webhook-token", JAMF_TOKEN);
    assert_eq!(app.send(&event).await.status, StatusCode::OK);
    set_header(&mut event, "x-webhook-token", "old-token-being-retired");
    let answer = app.send(&event).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body["outcome"], "duplicate",
        "same event, second delivery"
    );
}

#[tokio::test]
async fn webhook_verifies_base64_encoded_bodies_over_the_decoded_bytes() {
    let app = spawn_app().await;
    let body = lost_for("alice@contoso.com", "e-b64");
    let mut event = signed_event(&app, "/standard", &body);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&body));
    event["isBase64Encoded"] = json!(true);
    let answer = app.send(&event).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert_eq!(app.calls(), vec!["alice@contoso.com"]);
}

// ---- payloads and decisions --------------------------------------------------------------

#[tokio::test]
async fn canonical_lost_event_revokes_its_user() {
    let app = spawn_app().await;
    let answer = app
        .send(&signed_event(
            &app,
            "/standard",
            &lost_for("alice@contoso.com", "e-10"),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        json!({"outcome": "revoked", "event_id": "e-10",
               "results": [{"user": "alice@contoso.com", "outcome": "revoked"}]})
    );
    assert_eq!(app.calls(), vec!["alice@contoso.com"]);
}

#[tokio::test]
async fn relay_stolen_event_revokes_by_object_id_first() {
    let app = spawn_app().await;
    let user = json!({"id": "6F1C2A1E-8F5B-4C1D-9E2A-0123456789AB", "upn": "bob@contoso.com"});
    let body = canonical("device.stolen", "e-11", user);
    let answer = app.send(&signed_event(&app, "/relay", &body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert_eq!(app.calls(), vec!["6f1c2a1e-8f5b-4c1d-9e2a-0123456789ab"]);
}

#[tokio::test]
async fn jamf_smart_group_change_revokes_added_devices_owners_only() {
    let app = spawn_app().await;
    let answer = app
        .send(&signed_event(&app, "/jamf", &jamf_smart_group_body(7)))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert_eq!(answer.body["event_id"], "7-1795000000000");
    assert_eq!(app.calls(), vec!["carol@contoso.com", "dave@contoso.com"]);
}

#[tokio::test]
async fn jamf_lost_mode_command_over_basic_auth_revokes_the_device_user() {
    let app = spawn_app().await;
    let body = jamf_command_body(3, "EnableLostMode", "erin@contoso.com");
    let answer = app.send(&signed_event(&app, "/jamf-basic", &body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert_eq!(app.calls(), vec!["erin@contoso.com"]);
}

#[tokio::test]
async fn events_that_are_not_losses_are_ignored_with_200() {
    let app = spawn_app().await;
    let enrolled = canonical(
        "device.enrolled",
        "e-12",
        json!({"upn": "alice@contoso.com"}),
    );
    let other_command = jamf_command_body(4, "DeviceLock", "erin@contoso.com");
    for (path, body) in [("/standard", enrolled), ("/jamf", other_command)] {
        let answer = app.send(&signed_event(&app, path, &body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.body["outcome"], "ignored");
    }
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn webhook_returns_400_naming_the_field_for_malformed_authenticated_payloads() {
    let app = spawn_app().await;
    let cases = [
        ("/standard", "not json".to_owned(), "body"),
        ("/standard", String::new(), "body"),
        (
            "/standard",
            json!({"type": "device.lost", "data": {}}).to_string(),
            "id",
        ),
        (
            "/standard",
            canonical("device.lost", "e-13", json!({"id": "not-a-guid"})),
            "data.user.id",
        ),
        ("/jamf", json!({"event": {}}).to_string(), "webhook"),
    ];
    for (path, body, field) in cases {
        let answer = app.send(&signed_event(&app, path, &body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.body["outcome"], "bad_request");
        let error = answer.body["error"].as_str().unwrap();
        assert!(error.contains(field), "{error} should name {field}");
    }
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn webhook_returns_400_for_a_non_utf8_body_without_panicking() {
    let app = spawn_app().await;
    let mut event = function_url_event("POST", "/jamf", "");
    event["body"] =
        json!(base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, 0x00, 0x80]));
    event["isBase64Encoded"] = json!(true);
    set_header(&mut event, "x-webhook-token", JAMF_TOKEN);
    set_header(&mut event, "content-type", "application/octet-stream");
    let answer = app.send(&event).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn webhook_returns_422_no_user_for_a_loss_naming_nobody() {
    let app = spawn_app().await;
    let body = canonical("device.lost", "e-14", json!({}));
    let answer = app.send(&signed_event(&app, "/standard", &body)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["outcome"], "no_user");
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn protected_accounts_are_refused_with_200_and_never_acted_on() {
    let app = spawn_app_with(Setup {
        env: vec![("PROTECTED_USERS", "BreakGlass@Contoso.com".into())],
        ..Setup::default()
    })
    .await;
    let answer = app
        .send(&signed_event(
            &app,
            "/standard",
            &lost_for("breakglass@contoso.com", "e-15"),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["outcome"], "protected");
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn dry_run_answers_dry_run_and_never_acts() {
    let app = spawn_app_with(Setup {
        env: vec![("DRY_RUN", "true".into())],
        ..Setup::default()
    })
    .await;
    let answer = app
        .send(&signed_event(&app, "/jamf", &jamf_smart_group_body(8)))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["outcome"], "dry_run");
    assert_eq!(answer.body["results"].as_array().unwrap().len(), 2);
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn a_redelivered_event_is_answered_duplicate_without_acting_twice() {
    let app = spawn_app().await;
    let body = lost_for("alice@contoso.com", "e-16");
    app.send(&signed_event(&app, "/standard", &body)).await;
    let answer = app.send(&signed_event(&app, "/standard", &body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["outcome"], "duplicate");
    assert_eq!(app.calls().len(), 1);
}

#[tokio::test]
async fn act_results_map_to_422_500_and_503() {
    let app = spawn_app_with(Setup {
        answers: vec![
            ("gone@contoso.com", Revocation::UserNotFound),
            ("denied@contoso.com", Revocation::Denied),
            ("flaky@contoso.com", Revocation::Transient),
        ],
        ..Setup::default()
    })
    .await;
    let cases = [
        (
            "gone@contoso.com",
            StatusCode::UNPROCESSABLE_ENTITY,
            "user_not_found",
        ),
        (
            "denied@contoso.com",
            StatusCode::INTERNAL_SERVER_ERROR,
            "denied",
        ),
        (
            "flaky@contoso.com",
            StatusCode::SERVICE_UNAVAILABLE,
            "failed",
        ),
    ];
    for (i, (user, status, outcome)) in cases.into_iter().enumerate() {
        let body = lost_for(user, &format!("e-17-{i}"));
        let answer = app.send(&signed_event(&app, "/standard", &body)).await;
        assert_eq!(answer.status, status, "{user}");
        assert_eq!(answer.body["outcome"], outcome);
    }
}

#[tokio::test]
async fn webhook_returns_500_when_the_secret_does_not_exist() {
    let app = spawn_app_with(Setup {
        secret_exists: false,
        ..Setup::default()
    })
    .await;
    let answer = app
        .send(&signed_event(
            &app,
            "/standard",
            &lost_for("alice@contoso.com", "e-18"),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["outcome"], "misconfigured");
    assert!(
        !answer.raw.contains(&app.secret_name),
        "no internal detail in the answer"
    );
}

#[tokio::test]
async fn webhook_returns_500_naming_nothing_secret_when_the_secret_is_malformed() {
    let mut secret = test_secret();
    secret["webhooks"]["standard"]["secrets"] = json!([]);
    let app = spawn_app_with(Setup {
        secret,
        ..Setup::default()
    })
    .await;
    let answer = app
        .send(&signed_event(
            &app,
            "/standard",
            &lost_for("alice@contoso.com", "e-19"),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    for s in ALL_SECRETS {
        assert!(!answer.raw.contains(s));
    }
}

#[tokio::test]
async fn webhook_returns_503_when_secrets_manager_is_unreachable() {
    let app = spawn_app_with(Setup {
        endpoint: Some("http://127.0.0.1:9".into()),
        ..Setup::default()
    })
    .await;
    let answer = app
        .send(&signed_event(
            &app,
            "/standard",
            &lost_for("alice@contoso.com", "e-20"),
        ))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.raw
    );
    assert_eq!(answer.body["outcome"], "unavailable");
    assert!(app.calls().is_empty());
}

#[tokio::test]
async fn rest_api_and_alb_events_are_handled_like_function_url_events() {
    let app = spawn_app().await;
    let body = jamf_command_body(5, "EnableLostMode", "erin@contoso.com");
    let rest = json!({
        "resource": "/{source}", "path": "/jamf", "httpMethod": "POST",
        "headers": {"X-Webhook-Token": JAMF_TOKEN, "Content-Type": "application/json"},
        "multiValueHeaders": {"X-Webhook-Token": [JAMF_TOKEN], "Content-Type": ["application/json"]},
        "queryStringParameters": null, "multiValueQueryStringParameters": null,
        "pathParameters": {"source": "jamf"}, "stageVariables": null,
        "requestContext": {"accountId": "123456789012", "resourceId": "abc", "stage": "prod",
                           "requestId": "r-1", "identity": {"sourceIp": "203.0.113.10"},
                           "resourcePath": "/{source}", "httpMethod": "POST", "apiId": "api1",
                           "path": "/prod/jamf"},
        "body": body, "isBase64Encoded": false
    });
    let answer = app.send(&rest).await;
    assert_eq!(answer.status, StatusCode::OK, "REST: {}", answer.raw);

    let alb = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/t/1"}},
        "httpMethod": "POST", "path": "/jamf", "queryStringParameters": {},
        "headers": {"x-webhook-token": JAMF_TOKEN, "content-type": "application/json"},
        "body": jamf_command_body(6, "EnableLostMode", "frank@contoso.com"), "isBase64Encoded": false
    });
    let answer = app.send(&alb).await;
    assert_eq!(answer.status, StatusCode::OK, "ALB: {}", answer.raw);
    assert_eq!(app.calls(), vec!["erin@contoso.com", "frank@contoso.com"]);
}
