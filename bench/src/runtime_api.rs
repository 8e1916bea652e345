//! A minimal Lambda Runtime API (the `2018-06-01` interface) on 127.0.0.1: what a function's
//! runtime client talks to inside a Lambda execution environment.
//!
//! - `GET  /2018-06-01/runtime/invocation/next` long-polls for the next event and answers it
//!   with the `Lambda-Runtime-*` headers;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `…/{id}/error` settle it;
//! - `POST /2018-06-01/runtime/init/error` reports a failed init.
//!
//! A [`Dispatcher`] holds the events; each execution environment gets its own [`RuntimeApi`]
//! server (as in Lambda), and several servers may share one dispatcher, like concurrent
//! environments of one function. The server notes when a function first asked for work (the end
//! of its init) and when each event was handed out and answered.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// What the function answered for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `POST …/response`: the handler's result (for an HTTP event, the Lambda HTTP response).
    Response(Bytes),
    /// `POST …/error`: the handler failed; `error_type` from `Lambda-Runtime-Function-Error-Type`.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
}

/// One settled event.
#[derive(Debug, Clone)]
pub struct Completion {
    /// When `/next` handed the event to the function.
    pub handed_at: Instant,
    /// When the function's `/response` or `/error` arrived.
    pub finished_at: Instant,
    pub reply: Reply,
}

impl Completion {
    /// The event's wall time as Lambda's `Duration` sees it: handed out to answered.
    pub fn latency(&self) -> Duration {
        self.finished_at.saturating_duration_since(self.handed_at)
    }
}

/// A submitted event: resolves when a function settles it.
#[derive(Debug)]
pub struct Ticket {
    pub request_id: String,
    receiver: oneshot::Receiver<Completion>,
}

impl Ticket {
    /// Waits for the answer; `None` if the event can no longer be answered (the dispatcher and
    /// every server holding it are gone).
    pub async fn settled(&mut self) -> Option<Completion> {
        (&mut self.receiver).await.ok()
    }
}

struct Pending {
    request_id: String,
    body: Bytes,
    done: oneshot::Sender<Completion>,
}

struct InFlight {
    handed_at: Instant,
    done: oneshot::Sender<Completion>,
}

/// The Lambda identity the `/next` headers carry.
#[derive(Debug, Clone)]
pub struct FunctionIdentity {
    pub arn: String,
    /// The function timeout, for `Lambda-Runtime-Deadline-Ms`.
    pub timeout: Duration,
}

/// Events waiting for a function, and the ones handed out but not yet answered.
pub struct Dispatcher {
    identity: FunctionIdentity,
    sender: mpsc::UnboundedSender<Pending>,
    receiver: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub fn new(identity: FunctionIdentity) -> Arc<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        Arc::new(Dispatcher {
            identity,
            sender,
            receiver: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// Queues `event` (the JSON the function receives) for the next `/next`.
    pub fn submit(&self, event: impl Into<Bytes>) -> Ticket {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (done, receiver) = oneshot::channel();
        let pending = Pending {
            request_id: request_id.clone(),
            body: event.into(),
            done,
        };
        // The receiver lives as long as `self`: sending cannot fail while we hold `&self`.
        let _ = self.sender.send(pending);
        Ticket {
            request_id,
            receiver,
        }
    }

    /// The next queued event; waits while there is none. Cancel-safe.
    async fn take(&self) -> Option<Pending> {
        self.receiver.lock().await.recv().await
    }

    fn hand_out(&self, request_id: String, done: oneshot::Sender<Completion>) -> Instant {
        let handed_at = Instant::now();
        self.lock_in_flight()
            .insert(request_id, InFlight { handed_at, done });
        handed_at
    }

    /// Settles a handed-out event; `false` when `request_id` is not in flight.
    fn settle(&self, request_id: &str, reply: Reply) -> bool {
        let finished_at = Instant::now();
        let Some(in_flight) = self.lock_in_flight().remove(request_id) else {
            return false;
        };
        // A dropped ticket means nobody waits for the answer any more: that is fine.
        let _ = in_flight.done.send(Completion {
            handed_at: in_flight.handed_at,
            finished_at,
            reply,
        });
        true
    }

    fn lock_in_flight(&self) -> MutexGuard<'_, HashMap<String, InFlight>> {
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What one execution environment's server has seen.
#[derive(Debug, Default)]
struct Observations {
    first_next: OnceLock<Instant>,
    init_error: Mutex<Option<String>>,
}

struct Environment {
    dispatcher: Arc<Dispatcher>,
    observed: Observations,
    /// Flips to `false` when the server stops, releasing `/next` calls still waiting.
    open: watch::Sender<bool>,
}

/// One execution environment's Runtime API server. Stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    environment: Arc<Environment>,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves on 127.0.0.1 on a free port, taking events from `dispatcher`.
    pub async fn start(dispatcher: Arc<Dispatcher>) -> std::io::Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let environment = Arc::new(Environment {
            dispatcher,
            observed: Observations::default(),
            open: watch::Sender::new(true),
        });
        let app = router().with_state(Arc::clone(&environment));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("lambda-bench: runtime API server error: {error}");
            }
        });
        Ok(RuntimeApi {
            addr,
            environment,
            task,
        })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first called `/next`: the end of its init.
    pub fn first_next(&self) -> Option<Instant> {
        self.environment.observed.first_next.get().copied()
    }

    /// The body of `/init/error`, when the function reported one.
    pub fn init_error(&self) -> Option<String> {
        self.environment
            .observed
            .init_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.environment.open.send_replace(false);
        self.task.abort();
    }
}

type Env = State<Arc<Environment>>;

fn router() -> Router<Arc<Environment>> {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .fallback(unknown_route)
}

async fn next(State(env): Env) -> Response {
    env.observed.first_next.get_or_init(Instant::now);
    let mut open = env.open.subscribe();
    let pending = tokio::select! {
        pending = env.dispatcher.take() => pending,
        _ = open.wait_for(|open| !*open) => None,
    };
    let Some(pending) = pending else {
        return lambda_error(
            StatusCode::GONE,
            "EnvironmentShutdown",
            "the execution environment is shutting down",
        );
    };
    let identity = &env.dispatcher.identity;
    let deadline = unix_millis() + identity.timeout.as_millis();
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    insert(
        &mut headers,
        "lambda-runtime-aws-request-id",
        &pending.request_id,
    );
    insert(
        &mut headers,
        "lambda-runtime-deadline-ms",
        &deadline.to_string(),
    );
    insert(
        &mut headers,
        "lambda-runtime-invoked-function-arn",
        &identity.arn,
    );
    insert(&mut headers, "lambda-runtime-trace-id", &trace_id());
    env.dispatcher.hand_out(pending.request_id, pending.done);
    (StatusCode::OK, headers, pending.body).into_response()
}

async fn response(State(env): Env, Path(request_id): Path<String>, body: Bytes) -> Response {
    settle(&env, &request_id, Reply::Response(body))
}

async fn error(
    State(env): Env,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    settle(&env, &request_id, Reply::Error { error_type, body })
}

async fn init_error(State(env): Env, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    *env.observed
        .init_error
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(text);
    accepted()
}

async fn unknown_route() -> Response {
    lambda_error(
        StatusCode::NOT_FOUND,
        "UnknownRoute",
        "no such Runtime API route",
    )
}

fn settle(env: &Environment, request_id: &str, reply: Reply) -> Response {
    if env.dispatcher.settle(request_id, reply) {
        accepted()
    } else {
        lambda_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "the request id is not in flight",
        )
    }
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

fn lambda_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = json!({ "errorMessage": message, "errorType": error_type });
    (status, axum::Json(body)).into_response()
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// An X-Ray trace header in Lambda's shape, not sampled.
fn trace_id() -> String {
    let seconds = unix_millis() / 1000;
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{seconds:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &random[16..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> FunctionIdentity {
        FunctionIdentity {
            arn: "arn:aws:lambda:us-east-1:123456789012:function:test".into(),
            timeout: Duration::from_secs(30),
        }
    }

    #[tokio::test]
    async fn an_event_goes_out_on_next_and_settles_on_response() {
        let dispatcher = Dispatcher::new(identity());
        let api = RuntimeApi::start(Arc::clone(&dispatcher)).await.unwrap();
        let base = format!("http://{}/2018-06-01/runtime", api.address());
        let mut ticket = dispatcher.submit(r#"{"hello":1}"#);
        let http = reqwest::Client::new();

        let next = http
            .get(format!("{base}/invocation/next"))
            .send()
            .await
            .unwrap();
        assert_eq!(next.status(), 200);
        let id = next.headers()["lambda-runtime-aws-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id, ticket.request_id);
        for name in [
            "lambda-runtime-deadline-ms",
            "lambda-runtime-invoked-function-arn",
            "lambda-runtime-trace-id",
        ] {
            assert!(next.headers().contains_key(name), "{name}");
        }
        assert_eq!(next.text().await.unwrap(), r#"{"hello":1}"#);
        assert!(api.first_next().is_some());

        let answered = http
            .post(format!("{base}/invocation/{id}/response"))
            .body("done")
            .send()
            .await
            .unwrap();
        assert_eq!(answered.status(), 202);
        let completion = ticket.settled().await.unwrap();
        assert_eq!(completion.reply, Reply::Response(Bytes::from("done")));

        let again = http
            .post(format!("{base}/invocation/{id}/response"))
            .body("twice")
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 400, "a settled id is no longer in flight");
    }

    #[tokio::test]
    async fn errors_and_init_errors_are_recorded() {
        let dispatcher = Dispatcher::new(identity());
        let api = RuntimeApi::start(Arc::clone(&dispatcher)).await.unwrap();
        let base = format!("http://{}/2018-06-01/runtime", api.address());
        let http = reqwest::Client::new();
        let mut ticket = dispatcher.submit("{}");
        let next = http
            .get(format!("{base}/invocation/next"))
            .send()
            .await
            .unwrap();
        let id = next.headers()["lambda-runtime-aws-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        http.post(format!("{base}/invocation/{id}/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Runtime.Boom")
            .body("{}")
            .send()
            .await
            .unwrap();
        let completion = ticket.settled().await.unwrap();
        assert!(matches!(
            completion.reply,
            Reply::Error { error_type: Some(ref t), .. } if t == "Runtime.Boom"
        ));

        http.post(format!("{base}/init/error"))
            .body("bad config")
            .send()
            .await
            .unwrap();
        assert_eq!(api.init_error().as_deref(), Some("bad config"));
    }

    #[tokio::test]
    async fn a_waiting_next_is_released_when_the_server_stops() {
        let dispatcher = Dispatcher::new(identity());
        let api = RuntimeApi::start(Arc::clone(&dispatcher)).await.unwrap();
        let url = format!(
            "http://{}/2018-06-01/runtime/invocation/next",
            api.address()
        );
        let waiting = tokio::spawn(async move { reqwest::get(url).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(api);
        // Either the 410 or a closed connection: the call must not hang.
        let outcome = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(outcome.is_ok(), "the long poll was released");
    }
}
