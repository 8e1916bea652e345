//! Helpers shared by the stand-in's tests: fixtures, client assertions, token requests.

#![allow(dead_code)] // each test binary uses a different subset

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use standin::{Config, Standin};

pub const SECRET: &str = "test-secret-value~not-real";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub fn fixture(name: &str) -> String {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn secret_config() -> Config {
    Config {
        client_secrets: vec![SECRET.into()],
        ..Config::default()
    }
}

pub fn certificate_config() -> Config {
    Config {
        certificate_pem: Some(fixture("test-app-cert.pem")),
        ..Config::default()
    }
}

pub async fn start(config: Config) -> Standin {
    match Standin::start(config, 0).await {
        Ok(standin) => standin,
        Err(e) => panic!("stand-in did not start: {e}"),
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// base64url(SHA-256(DER)) of the first certificate in a PEM file.
pub fn x5t_s256(cert_file: &str) -> String {
    let pem = fixture(cert_file);
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("certificate base64");
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// How to build one client assertion; the defaults make a valid one.
pub struct AssertionSpec {
    pub alg: Algorithm,
    pub key_file: &'static str,
    pub cert_file: &'static str,
    pub claims: Value,
}

impl AssertionSpec {
    /// A valid PS256 assertion for `standin`, signed with the registered test key.
    pub fn valid(standin: &Standin) -> AssertionSpec {
        let client_id = Config::default().client_id;
        let now = now();
        AssertionSpec {
            alg: Algorithm::PS256,
            key_file: "test-app-key.pem",
            cert_file: "test-app-cert.pem",
            claims: json!({
                "aud": standin.token_url(),
                "iss": client_id,
                "sub": client_id,
                "jti": uuid::Uuid::new_v4().to_string(),
                "nbf": now,
                "iat": now,
                "exp": now + 600,
            }),
        }
    }

    pub fn claim(mut self, name: &str, value: Value) -> AssertionSpec {
        self.claims[name] = value;
        self
    }

    pub fn sign(&self) -> String {
        let mut header = Header::new(self.alg);
        header.x5t_s256 = Some(x5t_s256(self.cert_file));
        let key = EncodingKey::from_rsa_pem(fixture(self.key_file).as_bytes()).expect("RSA key");
        jsonwebtoken::encode(&header, &self.claims, &key).expect("signed assertion")
    }
}

/// POSTs a form to the token endpoint.
pub async fn post_token(url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("token request")
}

pub async fn secret_form_token(standin: &Standin, secret: &str) -> reqwest::Response {
    post_token(
        &standin.token_url(),
        &[
            ("client_id", &Config::default().client_id),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
            ("client_secret", secret),
        ],
    )
    .await
}

pub async fn assertion_token(standin: &Standin, assertion: &str) -> reqwest::Response {
    post_token(
        &standin.token_url(),
        &[
            ("client_id", &Config::default().client_id),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ],
    )
    .await
}

/// An access token from a stand-in configured with [`SECRET`].
pub async fn access_token(standin: &Standin) -> String {
    let body: Value = secret_form_token(standin, SECRET)
        .await
        .json()
        .await
        .expect("token JSON");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Status, AADSTS code and `error` of an Entra error reply.
pub async fn entra_error(response: reqwest::Response) -> (u16, u64, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("error JSON");
    let code = body["error_codes"][0].as_u64().unwrap_or(0);
    (
        status,
        code,
        body["error"].as_str().unwrap_or("").to_owned(),
    )
}

/// POSTs to a Graph path with an optional bearer token.
pub async fn graph_post(standin: &Standin, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(format!("{}{path}", standin.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("graph request")
}

/// The `error.code` of a Graph error reply.
pub async fn graph_error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("Graph error JSON");
    body["error"]["code"].as_str().unwrap_or("").to_owned()
}

/// Graph's ids on a reply: a fresh `request-id` GUID, and the caller's `client-request-id`
/// echoed.
pub fn assert_graph_ids(response: &reqwest::Response, client_request_id: &str) {
    let request_id = response.headers().get("request-id");
    assert!(request_id.is_some_and(|v| v.len() == 36), "{request_id:?}");
    assert_eq!(response.headers()["client-request-id"], client_request_id);
}
