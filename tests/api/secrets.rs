//! The secret store against moto_server: caching, rotation, and how failures are classified.

use std::time::Duration;

use revoker::aws::{SecretError, SecretStore};
use revoker::microsoft::ClientCredential;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::*;

fn client_secret_of(secret: &revoker::config::AppSecret) -> String {
    match &secret.entra.credential {
        ClientCredential::Secret(s) => s.expose_secret().to_owned(),
        ClientCredential::Certificate { .. } => panic!("expected a client secret"),
    }
}

fn with_client_secret(value: &str) -> String {
    let mut secret = test_secret();
    secret["client_secret"] = json!(value);
    secret.to_string()
}

#[tokio::test]
async fn secret_store_serves_the_cached_value_until_the_ttl_expires() {
    let name = create_secret(&with_client_secret("first")).await;
    let store = SecretStore::new(secrets_client(), name.clone(), Duration::from_secs(3600));
    assert_eq!(client_secret_of(&store.get().await.unwrap()), "first");

    put_secret(&name, &with_client_secret("second")).await;
    assert_eq!(
        client_secret_of(&store.get().await.unwrap()),
        "first",
        "within the TTL the cache answers"
    );
    assert_eq!(
        client_secret_of(&store.refresh().await.unwrap()),
        "second",
        "refresh reads through"
    );
    assert_eq!(client_secret_of(&store.get().await.unwrap()), "second");
}

#[tokio::test]
async fn secret_store_reads_again_once_the_ttl_has_passed() {
    let name = create_secret(&with_client_secret("first")).await;
    let store = SecretStore::new(secrets_client(), name.clone(), Duration::ZERO);
    assert_eq!(client_secret_of(&store.get().await.unwrap()), "first");
    put_secret(&name, &with_client_secret("second")).await;
    assert_eq!(client_secret_of(&store.get().await.unwrap()), "second");
}

#[tokio::test]
async fn a_rotated_webhook_secret_is_accepted_once_the_cache_expires() {
    let app = spawn_app_with(Setup {
        env: vec![("SECRET_TTL_SECONDS", "0".into())],
        ..Setup::default()
    })
    .await;
    let mut rotated = test_secret();
    rotated["webhooks"]["jamf"]["secrets"] = json!(["rotated-jamf-token"]);
    put_secret(&app.secret_name, &rotated.to_string()).await;

    let body = crate::webhook::jamf_command_body(40, "EnableLostMode", "erin@contoso.com");
    let mut event = function_url_event("POST", "/jamf", &body);
    set_header(&mut event, "x-webhook-token", JAMF_TOKEN);
    assert_eq!(app.send(&event).await.status, 401, "the old token is gone");
    set_header(&mut event, "x-webhook-token", "rotated-jamf-token");
    assert_eq!(app.send(&event).await.status, 200);
}

#[tokio::test]
async fn a_missing_secret_is_a_permanent_error_with_a_hint() {
    let store = SecretStore::new(secrets_client(), unique_name("absent"), Duration::ZERO);
    let err = store.get().await.unwrap_err();
    assert!(!err.is_transient());
    assert!(
        matches!(&err, SecretError::Inaccessible { code, .. } if code == "ResourceNotFoundException"),
        "{err}"
    );
    assert!(err.to_string().contains("CREDENTIALS_SECRET_ID"));
}

#[tokio::test]
async fn a_malformed_secret_names_the_key_and_not_the_value() {
    let mut secret = test_secret();
    secret["client_id"] = json!("hunter2-not-a-guid");
    let name = create_secret(&secret.to_string()).await;
    let store = SecretStore::new(secrets_client(), name, Duration::ZERO);
    let err = store.get().await.unwrap_err();
    assert!(matches!(&err, SecretError::Format(e) if e.key() == "client_id"));
    assert!(!err.to_string().contains("hunter2"));
}

#[tokio::test]
async fn an_unreachable_secrets_manager_is_transient() {
    let store = SecretStore::new(
        secrets_client_at("http://127.0.0.1:9"),
        "any".into(),
        Duration::ZERO,
    );
    assert!(store.get().await.unwrap_err().is_transient());
}

#[tokio::test]
async fn an_outage_serves_the_previous_secret_and_backs_off_before_asking_again() {
    // Arrange: a store that reads through a proxy, with a TTL of zero.
    let name = create_secret(&with_client_secret("first")).await;
    let proxy = Proxy::to(&moto_url()).await;
    let client = secrets_client_at(&proxy.url);
    let store = SecretStore::new(client, name, Duration::ZERO);
    assert_eq!(client_secret_of(&store.get().await.unwrap()), "first");

    // Act: Secrets Manager becomes unreachable.
    proxy.set_up(false);
    let during = store.get().await;
    let attempts = proxy.connections.load(std::sync::atomic::Ordering::SeqCst);
    let again = store.get().await;

    // Assert: the previous value serves, and the next request does not try again at once.
    assert_eq!(client_secret_of(&during.unwrap()), "first");
    assert_eq!(client_secret_of(&again.unwrap()), "first");
    assert_eq!(
        proxy.connections.load(std::sync::atomic::Ordering::SeqCst),
        attempts,
        "no new attempt inside the back-off window"
    );
}

fn connections(proxy: &Proxy) -> u32 {
    proxy.connections.load(std::sync::atomic::Ordering::SeqCst)
}

/// With nothing cached, every request once cost a read (and a wait on the timeout) while
/// Secrets Manager was down. Now a failed read is answered again, without a call, until its
/// back-off ends; then the store reads again and recovers.
#[tokio::test]
async fn with_nothing_cached_a_failed_read_is_not_repeated_until_its_back_off_ends() {
    let name = create_secret(&with_client_secret("first")).await;
    let proxy = Proxy::to(&moto_url()).await;
    proxy.set_up(false);
    let store = SecretStore::new(
        secrets_client_at(&proxy.url),
        name,
        Duration::from_secs(300),
    );

    assert!(store.get().await.unwrap_err().is_transient());
    let attempts = connections(&proxy);
    for _ in 0..20 {
        assert!(store.get().await.unwrap_err().is_transient());
    }
    assert_eq!(connections(&proxy), attempts, "no call while backing off");

    proxy.set_up(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(client_secret_of(&store.get().await.unwrap()), "first");
}

/// A misconfiguration (here, a secret that does not exist) is remembered the same way: a
/// scanner's requests do not each cost a Secrets Manager call.
#[tokio::test]
async fn a_permanent_failure_is_answered_again_without_a_call_while_backing_off() {
    let proxy = Proxy::to(&moto_url()).await;
    let store = SecretStore::new(
        secrets_client_at(&proxy.url),
        unique_name("absent"),
        Duration::ZERO,
    );

    let first = store.get().await.unwrap_err();
    let attempts = connections(&proxy);
    let again = store.get().await.unwrap_err();

    assert!(!first.is_transient());
    assert_eq!(again.to_string(), first.to_string());
    assert_eq!(connections(&proxy), attempts);
}

/// A cold start during an outage: Secrets Manager down, twenty unsigned POSTs. The first
/// request reads again (init's failure is not held against the event that caused the cold
/// start); all are answered 503 (the sender retries); the other nineteen cost no read.
#[tokio::test]
async fn unsigned_posts_during_an_outage_at_a_cold_start_cost_no_read_each() {
    let proxy = Proxy::to(&moto_url()).await;
    proxy.set_up(false);
    let app = spawn_app_with(Setup {
        endpoint: Some(proxy.url.clone()),
        ..Setup::default()
    })
    .await;
    let after_init = connections(&proxy);
    let unsigned = || function_url_event("POST", "/jamf", "{}");

    let first = app.send(&unsigned()).await;
    let after_first = connections(&proxy);
    for _ in 0..19 {
        let answer = app.send(&unsigned()).await;
        assert_eq!(answer.status, 503, "{}", answer.raw);
    }

    assert_eq!(first.status, 503, "{}", first.raw);
    assert!(after_init > 0, "init tried to read the secret");
    assert!(after_first > after_init, "the first request read again");
    assert_eq!(
        connections(&proxy),
        after_first,
        "no read per request after that"
    );
}

/// A misconfigured new secret must not let the previous one stand in, even while the store
/// backs off: the change may have removed a leaked webhook token.
#[tokio::test]
async fn after_a_malformed_new_secret_the_previous_one_is_never_served() {
    let name = create_secret(&with_client_secret("first")).await;
    let store = SecretStore::new(secrets_client(), name.clone(), Duration::ZERO);
    assert_eq!(client_secret_of(&store.get().await.unwrap()), "first");

    put_secret(&name, "{\"tenant_id\": \"typo").await;
    let during = store.get().await;
    let again = store.get().await;

    assert!(matches!(during, Err(SecretError::Format(_))), "{during:?}");
    assert!(
        matches!(again, Err(SecretError::Format(_))),
        "backing off answers the failure again, not the old secret: {again:?}"
    );
}
