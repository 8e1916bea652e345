//! Test harness: a real `App` with Secrets Manager and SQS served by moto_server (started by
//! `make test` through scripts/with_moto.py) and a recording fake behind the act seam.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use lambda_http::http::StatusCode;
use revoker::config::{AppSecret, Config};
use revoker::domain::{Identity, LostDeviceEvent, ObjectId, UserRef};
use revoker::http;
use revoker::revocation::{
    Containment, Directory, GraphReceipt, Lookup, Revocation, Revoker, Unchecked,
};
use revoker::startup::{Clients, Graph, Instance, IntunePoller, WebhookApp};
use serde_json::{Value, json};
use tokio::time::Instant;

/// Secret values of the test secret; each is distinctive so a log scan can look for it.
pub const CLIENT_SECRET: &str = "test-client-secret-Zq9vT2";
/// `whsec_` + base64("test-standard-webhooks-key-0001").
pub const STANDARD_SECRET: &str = "whsec_dGVzdC1zdGFuZGFyZC13ZWJob29rcy1rZXktMDAwMQ==";
pub const STANDARD_KEY_TEXT: &str = "test-standard-webhooks-key-0001";
pub const JAMF_TOKEN: &str = "test-jamf-token-8HkLp3";
pub const RELAY_KEY: &str = "test-relay-hmac-key-3LmQw";
pub const BASIC_CREDENTIALS: &str = "jamf:test-basic-password-7QwXy";

/// Every configured secret value, for "never logged / never echoed" checks.
pub const ALL_SECRETS: &[&str] = &[
    CLIENT_SECRET,
    STANDARD_SECRET,
    "dGVzdC1zdGFuZGFyZC13ZWJob29rcy1rZXktMDAwMQ",
    STANDARD_KEY_TEXT,
    JAMF_TOKEN,
    RELAY_KEY,
    "test-basic-password-7QwXy",
];

/// The secret every handler test starts from (README "The secret" shape, all four schemes).
pub fn test_secret() -> Value {
    json!({
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": CLIENT_SECRET,
        "webhooks": {
            "standard": {"scheme": "standard-webhooks", "secrets": [STANDARD_SECRET]},
            "jamf": {"scheme": "header-token", "header": "X-Webhook-Token", "secrets": [JAMF_TOKEN]},
            "relay": {"scheme": "hmac", "header": "X-Hub-Signature-256", "algorithm": "sha256",
                      "encoding": "hex", "prefix": "sha256=", "timestamp_header": "X-Relay-Timestamp",
                      "secrets": [RELAY_KEY]},
            "jamf-basic": {"scheme": "basic", "secrets": [BASIC_CREDENTIALS], "format": "jamf"}
        }
    })
}

/// moto_server's address, exported by scripts/with_moto.py.
pub fn moto_url() -> String {
    std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").expect(
        "AWS_ENDPOINT_URL_SECRETS_MANAGER is not set: run the tests with `make test`, \
         which starts moto_server on 127.0.0.1",
    )
}

/// The SDK configuration every test client shares: a region, dummy credentials, a 5 s
/// timeout, and the function's own HTTP client and SDK adapter (`revoker::aws`). The
/// real SDK and wire protocol, never real AWS: each client names its endpoint.
fn test_sdk_config() -> aws_config::SdkConfig {
    let http = revoker::aws::http_client().expect("the HTTP client builds");
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(revoker::aws::aws_http_client(http))
        .region(Region::new("us-east-1"))
        .credentials_provider(
            aws_sdk_secretsmanager::config::SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "tests",
            )),
        )
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .build()
}

/// A Secrets Manager client for `endpoint` (moto_server or a proxy in front of it).
pub fn secrets_client_at(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::config::Builder::from(&test_sdk_config())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

pub fn secrets_client() -> aws_sdk_secretsmanager::Client {
    secrets_client_at(&moto_url())
}

/// An SQS client for `endpoint` (moto_server, a proxy, or a black hole).
pub fn sqs_client_at(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(&test_sdk_config())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

pub fn sqs_client() -> aws_sdk_sqs::Client {
    sqs_client_at(&moto_url())
}

/// A DynamoDB client for `endpoint` (moto_server, or a proxy in front of it).
pub fn dynamodb_client_at(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&test_sdk_config())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    dynamodb_client_at(&moto_url())
}

/// An SNS client for `endpoint` (moto_server, or a black hole).
pub fn sns_client_at(endpoint: &str) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::config::Builder::from(&test_sdk_config())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// A new ledger table in moto, shaped as template.yaml creates it (key `pk` + `sk`, TTL on
/// `expires_at`); returns its name.
pub async fn create_ledger_table() -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    let name = unique_name("revoker-ledger");
    let attribute = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    let client = dynamodb_client();
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .expect("moto_server accepts CreateTable");
    client
        .update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("moto_server accepts UpdateTimeToLive");
    name
}

/// A secret name no other test uses (moto is shared by the whole run).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Stores `value` as a new secret in moto and returns its name.
pub async fn create_secret(value: &str) -> String {
    let name = unique_name("revoker-test");
    secrets_client()
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("moto_server accepts CreateSecret");
    name
}

/// Replaces the secret's current value (a rotation).
pub async fn put_secret(name: &str, value: &str) {
    secrets_client()
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .expect("moto_server accepts PutSecretValue");
}

/// The act seam's fake: records each user it is asked to revoke, answers from a script.
#[derive(Clone, Default)]
pub struct RecordingRevoker {
    calls: Arc<Mutex<Vec<String>>>,
    answers: Arc<HashMap<String, Revocation>>,
    /// Object id → the reference its directory resolved to it.
    resolved: Arc<Mutex<HashMap<ObjectId, String>>>,
}

impl RecordingRevoker {
    pub fn answering(answers: &[(&str, Revocation)]) -> Self {
        Self {
            calls: Arc::default(),
            answers: Arc::new(answers.iter().map(|(u, r)| ((*u).to_owned(), *r)).collect()),
            resolved: Arc::default(),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

/// A directory in which every reference is a user of its own, in no group: a UPN gets an
/// object id derived from it; a revocation by that id is recorded under the UPN.
impl Directory for RecordingRevoker {
    async fn resolve(&self, user: &UserRef, _deadline: Instant) -> Lookup {
        let id = match user {
            UserRef::Id(id) => id.clone(),
            UserRef::Upn(upn) => {
                let digest = upn
                    .as_str()
                    .to_ascii_lowercase()
                    .bytes()
                    .fold(0u128, |h, b| {
                        h.wrapping_mul(0x100_0000_01b3).wrapping_add(u128::from(b))
                    });
                ObjectId::parse(&uuid::Uuid::from_u128(digest).to_string()).unwrap()
            }
        };
        self.resolved
            .lock()
            .unwrap()
            .insert(id.clone(), user.to_string());
        Lookup::Found(Identity {
            id,
            user_principal_name: user.to_string(),
            mail: None,
        })
    }

    async fn member_groups(
        &self,
        _id: &ObjectId,
        _groups: &[ObjectId],
        _deadline: Instant,
    ) -> Result<Vec<ObjectId>, Unchecked> {
        Ok(Vec::new())
    }
}

impl Revoker for RecordingRevoker {
    async fn revoke(
        &self,
        _event: &LostDeviceEvent,
        user: &UserRef,
        _deadline: Instant,
    ) -> Revocation {
        let name = match user {
            UserRef::Id(id) => self.resolved.lock().unwrap().get(id).cloned(),
            UserRef::Upn(_) => None,
        }
        .unwrap_or_else(|| user.to_string());
        let answer = self
            .answers
            .get(&name)
            .copied()
            .unwrap_or(Revocation::Revoked(GraphReceipt::default()));
        self.calls.lock().unwrap().push(name);
        answer
    }

    async fn disable_device(&self, device: &ObjectId, _deadline: Instant) -> Containment {
        self.calls
            .lock()
            .unwrap()
            .push(format!("disable {}", device.as_str()));
        Containment::Disabled { request_id: None }
    }
}

pub struct TestApp<R = RecordingRevoker> {
    pub app: WebhookApp<R>,
    pub config: Config,
    pub revoker: RecordingRevoker,
    pub secret_name: String,
    pub secret: AppSecret,
}

/// Options for [`spawn_app_with`].
pub struct Setup {
    pub secret: Value,
    pub env: Vec<(&'static str, String)>,
    pub answers: Vec<(&'static str, Revocation)>,
    pub endpoint: Option<String>,
    /// False: point the function at a secret id that does not exist.
    pub secret_exists: bool,
    /// Where the SQS client sends (default: moto_server); the queue is `RETRY_QUEUE_URL`.
    pub sqs_endpoint: Option<String>,
    /// Where the DynamoDB client sends (default: moto_server); the table is `LEDGER_TABLE`.
    pub dynamodb_endpoint: Option<String>,
    /// Where the SNS client sends (default: moto_server); the topic is `NOTIFY_TOPIC_ARN`.
    pub sns_endpoint: Option<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            secret: test_secret(),
            env: Vec::new(),
            answers: Vec::new(),
            endpoint: None,
            secret_exists: true,
            sqs_endpoint: None,
            dynamodb_endpoint: None,
            sns_endpoint: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Setup::default()).await
}

pub async fn spawn_app_with(setup: Setup) -> TestApp {
    let revoker = RecordingRevoker::answering(&setup.answers);
    let parts = prepare(setup).await;
    let instance = Instance::build(parts.config.clone(), parts.clients).await;
    TestApp {
        app: instance.webhook_with(revoker.clone()),
        config: parts.config,
        revoker,
        secret_name: parts.secret_name,
        secret: parts.secret,
    }
}

/// The webhook as the binary builds it, its Graph client pointed at `standin`.
pub async fn spawn_graph_app(mut setup: Setup, standin: &standin::Standin) -> TestApp<Graph> {
    setup.env.push(("ENTRA_AUTHORITY_URL", standin.url()));
    setup.env.push(("GRAPH_URL", standin.url()));
    let parts = prepare(setup).await;
    let instance = Instance::build(parts.config.clone(), parts.clients).await;
    TestApp {
        app: instance.webhook(),
        config: parts.config,
        revoker: RecordingRevoker::default(),
        secret_name: parts.secret_name,
        secret: parts.secret,
    }
}

/// The Intune function as bin `intune` builds it, its Graph client pointed at `standin` and
/// its checkpoint and ledger in `table`.
pub async fn intune_poller(
    standin: &standin::Standin,
    table: &str,
    extra: &[(&'static str, &str)],
) -> IntunePoller {
    let mut env = vec![
        ("LEDGER_TABLE", table.to_owned()),
        ("ENTRA_AUTHORITY_URL", standin.url()),
        ("GRAPH_URL", standin.url()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let parts = prepare(Setup {
        env,
        ..Setup::default()
    })
    .await;
    Instance::build(parts.config, parts.clients)
        .await
        .intune()
        .expect("the intune function starts with a ledger table")
}

struct Parts {
    config: Config,
    clients: Clients,
    secret_name: String,
    secret: AppSecret,
}

/// The secret in moto, the configuration, and the clients every app variant is built with.
async fn prepare(setup: Setup) -> Parts {
    let secret_text = setup.secret.to_string();
    let secret_name = if setup.secret_exists {
        create_secret(&secret_text).await
    } else {
        unique_name("revoker-missing")
    };
    let mut env: HashMap<&str, String> = HashMap::from([
        ("CREDENTIALS_SECRET_ID", secret_name.clone()),
        ("JAMF_LOST_GROUPS", "42".to_owned()),
        ("USER_DOMAIN", "contoso.com".to_owned()),
    ]);
    env.extend(setup.env);
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("test config is valid");
    let clients = Clients {
        http: revoker::aws::http_client().expect("the HTTP client builds"),
        secrets_manager: match &setup.endpoint {
            Some(endpoint) => secrets_client_at(endpoint),
            None => secrets_client(),
        },
        sqs: Some(sqs_client_at(
            setup.sqs_endpoint.as_deref().unwrap_or(&moto_url()),
        )),
        dynamodb: Some(dynamodb_client_at(
            setup.dynamodb_endpoint.as_deref().unwrap_or(&moto_url()),
        )),
        sns: Some(sns_client_at(
            setup.sns_endpoint.as_deref().unwrap_or(&moto_url()),
        )),
    };
    Parts {
        config,
        clients,
        secret_name,
        // Tests that build broken secrets still need a signer: fall back to the default one.
        secret: AppSecret::parse(&secret_text)
            .unwrap_or_else(|_| AppSecret::parse(&test_secret().to_string()).unwrap()),
    }
}

pub fn now() -> i64 {
    revoker::unix_now()
}

/// A Function URL (HTTP API v2) event, deserialized by lambda_http's own deserializer.
pub fn function_url_event(method: &str, path: &str, body: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": "abcdefghij.lambda-url.eu-west-1.on.aws",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "tests"},
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "21/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_795_000_000_000_i64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// A POST to `path` carrying `body`, signed for its source with the test secret.
pub fn signed_event<R>(app: &TestApp<R>, path: &str, body: &str) -> Value {
    let mut event = function_url_event("POST", path, body);
    revoker::dev::sample_events::sign(&mut event, &app.secret, now())
        .expect("source is configured");
    event
}

/// Sets (or replaces) one header of an event.
pub fn set_header(event: &mut Value, name: &str, value: &str) {
    event["headers"][name] = Value::String(value.to_owned());
}

pub struct Answer {
    pub status: StatusCode,
    pub allow: Option<String>,
    pub body: Value,
    pub raw: String,
}

impl<R: Revoker> TestApp<R> {
    /// Sends a signed canonical `device.lost` for `upn` (event `id`) to `/standard`.
    pub async fn send_lost(&self, upn: &str, id: &str) -> Answer {
        self.send(&signed_event(self, "/standard", &lost_for(upn, id)))
            .await
    }

    /// Serves `event` as the webhook binary does: the raw invocation event through the edge,
    /// the answer read back from the event source's response shape.
    pub async fn send(&self, event: &Value) -> Answer {
        let raw_event = serde_json::value::to_raw_value(event).expect("an event is JSON");
        let reply = http::handle_event(&self.app, &raw_event).await;
        let reply = serde_json::to_value(&reply).expect("a reply serializes");
        let status = StatusCode::from_u16(reply["statusCode"].as_u64().unwrap() as u16).unwrap();
        // Function URL and API Gateway v2 answer in `headers`; REST API in `multiValueHeaders`.
        let header = |name: &str| {
            reply["headers"][name]
                .as_str()
                .or_else(|| reply["multiValueHeaders"][name][0].as_str())
                .map(str::to_owned)
        };
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/json"),
            "every answer is JSON: {reply}"
        );
        assert_eq!(reply["isBase64Encoded"], false, "{reply}");
        let raw = reply["body"].as_str().expect("a body").to_owned();
        let body = serde_json::from_str(&raw).expect("JSON body");
        Answer {
            status,
            allow: header("allow"),
            body,
            raw,
        }
    }
}

impl TestApp {
    pub fn calls(&self) -> Vec<String> {
        self.revoker.calls()
    }
}

/// A canonical event body.
pub fn canonical(kind: &str, id: &str, user: Value) -> String {
    json!({
        "type": kind,
        "id": id,
        "timestamp": "2026-11-21T10:00:00Z",
        "data": {
            "device": {"id": "dev-1", "serial_number": "C02TEST0001", "name": "Test MacBook"},
            "user": user
        }
    })
    .to_string()
}

pub fn lost_for(upn: &str, id: &str) -> String {
    canonical("device.lost", id, json!({"upn": upn}))
}

/// A loopback TCP proxy that can be switched off, cutting open connections too: a way to
/// make a real dependency (moto_server) unreachable in the middle of a test.
pub struct Proxy {
    pub url: String,
    up: tokio::sync::watch::Sender<bool>,
    pub connections: Arc<AtomicU32>,
}

impl Proxy {
    pub async fn to(target: &str) -> Proxy {
        let target = target.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (up, _) = tokio::sync::watch::channel(true);
        let connections = Arc::new(AtomicU32::new(0));
        let (up_tx, counter) = (up.clone(), Arc::clone(&connections));
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut down = up_tx.subscribe();
                if !*down.borrow() {
                    continue; // dropped: the client sees the connection close
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Proxy {
            url,
            up,
            connections,
        }
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}
