//! Read-only JSON views for demos and scripts: `GET /_standin/revocations` and
//! `GET /_standin/stats`. They change nothing and are not counted as Graph calls.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::Shared;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_standin/revocations", get(revocations))
        .route("/_standin/stats", get(stats))
}

async fn revocations(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let list: Vec<Value> = shared.read(|s| {
        s.revocations
            .iter()
            .map(|r| {
                json!({
                    "version": r.version,
                    "action": r.action,
                    "user": r.user,
                    "user_raw": r.user_raw,
                })
            })
            .collect()
    });
    Json(Value::Array(list))
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.read(|s| {
        json!({
            "token_requests": s.token_requests,
            "tokens_issued": s.tokens_issued,
            "graph_calls": s.graph_calls.len(),
        })
    }))
}
