//! The poller's `AuditSource` on Graph: pages of `GET /beta/deviceManagement/remoteActionAudits`
//! (application permission `DeviceManagementManagedDevices.Read.All`) and one managed device
//! (`GET /beta/deviceManagement/managedDevices/{id}`, same permission).
//!
//! Graph's documentation lists no query options for the audit list, so the poller asks for
//! `$filter=requestDateTime ge …` to read less, and is correct whatever Graph does with it:
//! the filter is applied again to every record read, nothing relies on the order, and a 400
//! to the filter makes the instance list without it. `@odata.nextLink` is followed only on
//! the configured Graph host.

use reqwest::{Method, StatusCode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

use super::credentials::CredentialSource;
use super::graph::GraphClient;
use crate::domain::ObjectId;
use crate::intune::{AuditRecord, AuditSource, ListError, ManagedDevice, Page};

/// The audit list, relative to the Graph URL.
const AUDITS: &str = "beta/deviceManagement/remoteActionAudits";

impl<C: CredentialSource> AuditSource for GraphClient<C> {
    fn first_page(&self, from: OffsetDateTime, filtered: bool) -> String {
        first_page(self, from, filtered)
    }

    fn may_follow(&self, link: &str) -> bool {
        self.is_graph_url(link)
    }

    async fn page(&self, link: &str, deadline: Instant) -> Result<Page, ListError> {
        page(self, link, deadline).await
    }

    async fn managed_device(&self, id: &str, deadline: Instant) -> Result<ManagedDevice, String> {
        managed_device(self, id, deadline).await
    }
}

fn first_page<C: CredentialSource>(
    graph: &GraphClient<C>,
    from: OffsetDateTime,
    filtered: bool,
) -> String {
    let base = graph.graph_url_for(AUDITS);
    // UTC, so the literal has no `+` (which a query string reads as a space).
    match from.to_offset(time::UtcOffset::UTC).format(&Rfc3339) {
        Ok(from) if filtered => format!("{base}?$filter=requestDateTime%20ge%20{from}"),
        _ => base,
    }
}

/// Reads the page at `url`; its records that cannot be read are logged and counted.
async fn page<C: CredentialSource>(
    graph: &GraphClient<C>,
    url: &str,
    deadline: Instant,
) -> Result<Page, ListError> {
    let answer = graph
        .call(Method::GET, url, None, deadline)
        .await
        .map_err(|e| ListError::Unavailable(e.to_string()))?;
    if !answer.status.is_success() {
        return Err(ListError::Refused {
            status: answer.status.as_u16(),
            graph_says: answer.error_text(),
        });
    }
    let body: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|_| ListError::NotAPage)?;
    let values = body
        .get("value")
        .and_then(serde_json::Value::as_array)
        .ok_or(ListError::NotAPage)?;
    let mut records = Vec::with_capacity(values.len());
    let mut unusable = 0;
    for (i, value) in values.iter().enumerate() {
        match AuditRecord::parse(value) {
            Ok(record) => records.push(record),
            Err(problem) => {
                unusable += 1;
                tracing::warn!(
                    position = i,
                    request_id = answer.request_id,
                    problem,
                    "an Intune audit record could not be read; it is skipped"
                );
            }
        }
    }
    let next_link = match body.get("@odata.nextLink") {
        None | Some(serde_json::Value::Null) => None,
        Some(link) => Some(link.as_str().ok_or(ListError::NotAPage)?.to_owned()),
    };
    Ok(Page {
        records,
        unusable,
        next_link,
    })
}

/// Looks up the managed device `id` (a GUID, as Intune's ids are).
async fn managed_device<C: CredentialSource>(
    graph: &GraphClient<C>,
    id: &str,
    deadline: Instant,
) -> Result<ManagedDevice, String> {
    let id = ObjectId::parse(id).map_err(|_| "the managedDeviceId is not a GUID".to_owned())?;
    let url = graph.graph_url_for(&format!(
        "beta/deviceManagement/managedDevices/{}?$select=id,azureADDeviceId,operatingSystem",
        id.as_str()
    ));
    let answer = graph
        .call(Method::GET, &url, None, deadline)
        .await
        .map_err(|e| e.to_string())?;
    match answer.status {
        s if s.is_success() => {}
        StatusCode::NOT_FOUND => return Err("Intune has no such managed device".to_owned()),
        other => {
            return Err(format!(
                "Graph answered {}: {}",
                other.as_u16(),
                answer.error_text()
            ));
        }
    }
    let body: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|_| "the managed device is not JSON".to_owned())?;
    let text = |name: &str| {
        body.get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    Ok(ManagedDevice {
        entra_device_id: text("azureADDeviceId")
            .and_then(|id| ObjectId::parse(id).ok())
            .filter(|id| id.as_str() != "00000000-0000-0000-0000-000000000000"),
        operating_system: text("operatingSystem").map(|os| os.chars().take(64).collect()),
    })
}
