//! The floor of the benchmark: a hello-world `lambda_http` function. It has the webhook's
//! runtime (current-thread tokio), its `lambda_http` features, its log subscriber and the
//! workspace's release profile, and does nothing else. The harness measures what any Rust HTTP
//! Lambda costs with this binary, so the webhook's own cost is the difference.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    run(service_fn(hello)).await
}

async fn hello(_request: Request) -> Result<Response<Body>, Error> {
    let response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"message":"hello"}"#))?;
    Ok(response)
}
