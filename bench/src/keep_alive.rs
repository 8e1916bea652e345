//! A keep-alive front for moto_server. moto's HTTP server (werkzeug) closes the connection
//! after every response, while DynamoDB keeps connections open: a function measured against
//! moto directly would pay a TCP connect and close, and a new HTTP connection, on every call,
//! which it does not pay in AWS. The front accepts persistent connections from the function
//! and forwards each request to moto; its own work is the harness's, not the function's.

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// A running front; it stops with the harness.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    address: SocketAddr,
}

#[derive(Clone)]
struct Target {
    base: String,
    client: reqwest::Client,
}

impl KeepAlive {
    /// Listens on 127.0.0.1 (a free port) and forwards to `target` (`http://host:port`).
    pub async fn start(target: &str) -> std::io::Result<KeepAlive> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let client = reqwest::Client::builder()
            .build()
            .map_err(std::io::Error::other)?;
        let state = Target {
            base: target.trim_end_matches('/').to_owned(),
            client,
        };
        let app = Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("keep-alive front stopped: {error}");
            }
        });
        Ok(KeepAlive { address })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

async fn forward(
    State(target): State<Target>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = target
        .client
        .request(method, format!("{}{path}", target.base))
        .body(body);
    for (name, value) in &headers {
        if !hop_by_hop(name) {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = answer.status();
    let mut reply_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            reply_headers.append(name, value.clone());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = reply_headers;
    response
}

/// Headers that describe one connection, not the message (RFC 9110, 7.6.1), and the length,
/// which the forwarded body sets again.
fn hop_by_hop(name: &header::HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
        header::HOST,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_reaches_the_target_and_its_answer_comes_back_on_one_connection() {
        // The target: answers with the path and method it saw, and closes every connection.
        let target = Router::new().fallback(|method: Method, uri: Uri, body: Bytes| async move {
            let text = format!("{method} {uri} {}", String::from_utf8_lossy(&body));
            ([(header::CONNECTION, "close")], text)
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, target).await });
        let front = KeepAlive::start(&target_url).await.unwrap();

        let client = reqwest::Client::new();
        for n in 0..2 {
            let answer = client
                .post(format!("{}/a?b={n}", front.url()))
                .body("hello")
                .send()
                .await
                .unwrap();
            assert!(answer.headers().get(header::CONNECTION).is_none());
            assert_eq!(answer.text().await.unwrap(), format!("POST /a?b={n} hello"));
        }
    }
}
