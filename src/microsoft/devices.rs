//! Device containment on Graph: `PATCH /v1.0/devices(deviceId='{id}')` with
//! `{"accountEnabled": false}`, which needs the application permission `Device.ReadWrite.All`
//! and the Cloud Device Administrator role assigned to the app (README, "Device
//! containment"). App-only, Graph allows it for Windows devices only: any other platform is
//! answered 400 ("Properties other than ExtendedAttribute1..15 can be modified only on
//! windows devices"), which is audited as not disableable, with Graph's words.

use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use super::calls::GraphUnavailable;
use super::credentials::CredentialSource;
use super::graph::GraphClient;
use crate::domain::ObjectId;
use crate::revocation::Containment;

/// Disables the Entra device `device` (its `deviceId`, a GUID: nothing in it needs escaping).
pub(super) async fn disable<C: CredentialSource>(
    graph: &GraphClient<C>,
    device: &ObjectId,
    deadline: Instant,
) -> Containment {
    let url = graph.graph_url_for(&format!("v1.0/devices(deviceId='{}')", device.as_str()));
    let body = serde_json::json!({ "accountEnabled": false });
    let answer = match graph.call(Method::PATCH, &url, Some(&body), deadline).await {
        Ok(answer) => answer,
        Err(GraphUnavailable::Transient(why)) => {
            return Containment::Failed(format!("Graph did not disable the device: {why}"));
        }
        Err(GraphUnavailable::Misconfigured(why)) => {
            return Containment::Failed(format!("no token to disable the device: {why}"));
        }
    };
    let graph_says = answer.error_text();
    match answer.status {
        s if s.is_success() => Containment::Disabled {
            request_id: Some(answer.request_id).filter(|id| !id.is_empty()),
        },
        StatusCode::BAD_REQUEST => Containment::NotDisableable(format!(
            "Graph refused to disable it (not a Windows device?): {graph_says}"
        )),
        StatusCode::FORBIDDEN => Containment::Failed(format!(
            "Graph denied it: the app needs Device.ReadWrite.All with admin consent and the \
             Cloud Device Administrator role ({graph_says})"
        )),
        StatusCode::NOT_FOUND => Containment::Failed(format!(
            "Entra has no device with this deviceId ({graph_says})"
        )),
        other => Containment::Failed(format!("Graph answered {} ({graph_says})", other.as_u16())),
    }
}
