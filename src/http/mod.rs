//! The webhook edge: an invocation event becomes a request (`lambda`), the request a [`Report`]
//! or an `IngressError`, and either a JSON response (`response`), with its status from the one
//! map (`status`).
//! Order of checks: route and method, body size, source, authentication (raw bytes), payload,
//! decision. Nothing past authentication runs for an unauthenticated request.

mod error;
mod lambda;
mod response;
mod status;

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use tokio::time::Instant;

pub(crate) use error::IngressError;
pub use lambda::LambdaResponse;

use crate::aws::SecretStore;
use crate::config::Config;
use crate::domain::Source;
use crate::payload::{self, MdmOptions};
use crate::revocation::{Decider, Ledger, Report, RetryQueue, Revoker};

/// Everything a request needs, built once per instance and borrowed per request.
#[derive(Debug)]
pub struct App<R, Q, L> {
    config: Config,
    mdm: MdmOptions,
    secrets: Arc<SecretStore>,
    decider: Decider<R, Q, L>,
}

impl<R: Revoker, Q: RetryQueue, L: Ledger> App<R, Q, L> {
    /// `secrets` is shared with the revoker, which reads the Entra credentials from it.
    /// Without `queue`, a revocation that cannot finish inline is answered 503; without
    /// `ledger`, duplicates are caught only within this instance.
    pub(crate) fn new(
        config: Config,
        secrets: Arc<SecretStore>,
        revoker: R,
        queue: Option<Q>,
        ledger: Option<L>,
    ) -> Self {
        Self {
            mdm: config.mdm_options(),
            decider: Decider::new(config.policy(), revoker, queue, ledger),
            config,
            secrets,
        }
    }

    /// Notifies people of each event that decided anything.
    pub(crate) fn with_notifier(
        mut self,
        notifier: Option<std::sync::Arc<dyn crate::revocation::Notifier>>,
    ) -> Self {
        self.decider = self.decider.with_notifier(notifier);
        self
    }
}

/// Serves one invocation event, whatever it holds: an event that is not a readable HTTP
/// request is answered 400 in the Function URL's shape. Never fails and never panics.
pub async fn handle_event<R: Revoker, Q: RetryQueue, L: Ledger>(
    app: &App<R, Q, L>,
    event: &serde_json::value::RawValue,
) -> LambdaResponse {
    let (shape, request) = lambda::request_of(event);
    let response = match request {
        Ok(request) => handle(app, request).await,
        Err(e) => refuse(&IngressError::from(e), "(none)"),
    };
    shape.reply(response)
}

/// Serves one request. Never fails and never panics on input: every problem is a response.
pub async fn handle<R: Revoker, Q: RetryQueue, L: Ledger>(
    app: &App<R, Q, L>,
    req: Request,
) -> Response<Body> {
    let segment = last_segment(req.uri().path()).to_owned();
    match route(app, &segment, &req).await {
        Ok(Reply::Health) => response::health(),
        Ok(Reply::Report(report)) => response::report(&report),
        Err(e) => refuse(&e, &segment),
    }
}

/// The answer to a refused request, and its one log line.
fn refuse(e: &IngressError, source: &str) -> Response<Body> {
    let response = response::refusal(e);
    e.log(source, response.status().as_u16());
    response
}

/// The last non-empty segment of a request path, so API Gateway stages and custom prefixes
/// route alike (`/prod/hooks/jamf` and `/jamf/` are both `jamf`).
pub(crate) fn last_segment(path: &str) -> &str {
    path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("")
}

enum Reply {
    Health,
    Report(Report),
}

async fn route<R: Revoker, Q: RetryQueue, L: Ledger>(
    app: &App<R, Q, L>,
    segment: &str,
    req: &Request,
) -> Result<Reply, IngressError> {
    // The inline budget counts from when the handler gets the request (after any cold-start
    // init): a secret read that init could not do spends it too.
    let started = Instant::now();
    if segment == "health" && req.method() == Method::GET {
        return Ok(Reply::Health);
    }
    if req.method() != Method::POST {
        let allow = if segment == "health" { "GET" } else { "POST" };
        return Err(IngressError::MethodNotAllowed { allow });
    }
    let source = Source::parse(segment).map_err(|_| IngressError::UnknownSource)?;

    // lambda_http has already base64-decoded the body when the event says isBase64Encoded.
    let body: &[u8] = req.body().as_ref();
    if body.len() > app.config.max_body_bytes {
        return Err(IngressError::PayloadTooLarge {
            limit: app.config.max_body_bytes,
        });
    }

    let secret = app.secrets.get().await?;
    let webhook = secret
        .webhooks
        .get(&source)
        .ok_or(IngressError::UnknownSource)?;
    let verified = webhook.scheme.verify(
        req.headers(),
        body,
        crate::unix_now(),
        app.config.signature_tolerance_secs,
    )?;
    let parsed = payload::parse(webhook.format, &source, verified.bytes(), &app.mdm)?;
    let deadline = started + app.config.inline_deadline;
    Ok(Reply::Report(
        app.decider.decide(&source, parsed, deadline).await,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_segment_ignores_stage_prefixes_and_trailing_slashes() {
        assert_eq!(last_segment("/prod/webhooks/jamf"), "jamf");
        assert_eq!(last_segment("/jamf/"), "jamf");
        assert_eq!(last_segment("/"), "");
        assert_eq!(last_segment(""), "");
    }
}
