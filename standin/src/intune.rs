//! Intune and device objects, as far as the poller and containment use them:
//!
//! - `GET /beta/deviceManagement/remoteActionAudits`: the stored records in the order they
//!   were added (Graph documents no order), in pages with `@odata.nextLink`
//!   (`$skiptoken`). Graph documents no query options for this list, so what happens to
//!   `$filter=requestDateTime ge …` is a switch ([`AuditFilter`]): honoured, ignored, or
//!   refused with 400.
//! - `GET /beta/deviceManagement/managedDevices/{id}`: `id`, `azureADDeviceId`,
//!   `operatingSystem`, `deviceName`; 404 for an unknown id.
//! - `PATCH /v1.0/devices(deviceId='{id}')`: Graph's app-only rule, a device that is not
//!   Windows may change only `extensionAttributes` (400 "Properties other than
//!   ExtendedAttribute1..15 can be modified only on windows devices."); `204` otherwise.
//!
//! Each reads the bearer token as Graph does; faults queued for the listing, or for a
//! device id, are served first.

use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::graph::{GraphError, apply_fault, graph_error};
use crate::state::Shared;

/// What the audit list does with `$filter` (undocumented for this list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditFilter {
    /// `requestDateTime ge {time}` is applied.
    #[default]
    Honour,
    /// Any `$filter` is ignored: every record is listed.
    Ignore,
    /// Any `$filter` is answered 400.
    Reject,
}

/// A managed device and its Entra device object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedDevice {
    pub id: String,
    /// `azureADDeviceId`: the Entra device's `deviceId`.
    pub azure_ad_device_id: String,
    pub operating_system: String,
    pub device_name: String,
    /// The Entra device object's `accountEnabled`.
    pub account_enabled: bool,
}

const AUDITS: &str = "/beta/deviceManagement/remoteActionAudits";
const MANAGED_DEVICES: &str = "/beta/deviceManagement/managedDevices/";
const DEVICES_PREFIX: &str = "/v1.0/devices(deviceId='";
const DEVICES_SUFFIX: &str = "')";

/// Whether this module serves `path`.
pub(crate) fn serves(path: &str) -> bool {
    path == AUDITS || path.starts_with(MANAGED_DEVICES) || path.starts_with(DEVICES_PREFIX)
}

/// The key faults for `path` are queued under: the listing, or a device id.
pub(crate) fn fault_key(path: &str) -> String {
    if path == AUDITS {
        "intune:listing".to_owned()
    } else {
        device_id(path).map_or_else(String::new, |id| format!("device:{id}"))
    }
}

fn device_id(path: &str) -> Option<String> {
    path.strip_prefix(DEVICES_PREFIX)
        .and_then(|rest| rest.strip_suffix(DEVICES_SUFFIX))
        .or_else(|| path.strip_prefix(MANAGED_DEVICES))
        .map(str::to_lowercase)
}

/// Serves an authenticated request to one of this module's paths.
pub(crate) async fn serve(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<Response, GraphError> {
    let path = uri.path();
    let fault = shared.write(|s| s.next_fault(&fault_key(path)));
    if let Some(error) = apply_fault(fault).await {
        return Err(error);
    }
    match (method, path) {
        (&Method::GET, AUDITS) => list(shared, uri.query().unwrap_or("")),
        (&Method::GET, p) if p.starts_with(MANAGED_DEVICES) => managed_device(shared, p),
        (&Method::PATCH, p) if p.starts_with(DEVICES_PREFIX) => patch_device(shared, p, body),
        _ => Err(graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )),
    }
}

fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn list(shared: &Shared, query: &str) -> Result<Response, GraphError> {
    let filter = query_value(query, "$filter");
    let mode = shared.read(|s| s.audit_filter);
    let from = match (&filter, mode) {
        (Some(_), AuditFilter::Reject) => {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid filter clause: the query option $filter is not supported on this list.",
            ));
        }
        (Some(clause), AuditFilter::Honour) => Some(parse_filter(clause)?),
        _ => None,
    };
    let skip: usize = match query_value(query, "$skiptoken") {
        None => 0,
        Some(token) => token.parse().map_err(|_| {
            graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The skip token is not valid.",
            )
        })?,
    };
    let (records, size, link_base) = shared.read(|s| {
        let matching: Vec<Value> = s
            .audits
            .iter()
            .filter(|r| from.is_none_or(|from| requested_at(r).is_some_and(|t| t >= from)))
            .cloned()
            .collect();
        (
            matching,
            s.audit_page_size.max(1),
            s.next_link_base
                .clone()
                .unwrap_or_else(|| shared.base_url.clone()),
        )
    });
    let page: Vec<Value> = records.iter().skip(skip).take(size).cloned().collect();
    let mut body = json!({
        "@odata.context": format!(
            "https://{}/beta/$metadata#deviceManagement/remoteActionAudits",
            shared.config.graph_host
        ),
        "value": page,
    });
    if skip + size < records.len() {
        let mut next = form_urlencoded::Serializer::new(String::new());
        if let Some(clause) = &filter {
            next.append_pair("$filter", clause);
        }
        next.append_pair("$skiptoken", &(skip + size).to_string());
        body["@odata.nextLink"] = Value::String(format!("{link_base}{AUDITS}?{}", next.finish()));
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `requestDateTime ge 2026-11-30T10:00:00Z`, the one clause the poller sends.
fn parse_filter(clause: &str) -> Result<OffsetDateTime, GraphError> {
    clause
        .strip_prefix("requestDateTime ge ")
        .and_then(|t| OffsetDateTime::parse(t.trim(), &Rfc3339).ok())
        .ok_or_else(|| {
            graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("Invalid filter clause: {clause}"),
            )
        })
}

fn requested_at(record: &Value) -> Option<OffsetDateTime> {
    record
        .get("requestDateTime")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
}

fn not_found(what: &str) -> GraphError {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!(
            "Resource '{what}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn managed_device(shared: &Shared, path: &str) -> Result<Response, GraphError> {
    let id = device_id(path).unwrap_or_default();
    let device = shared
        .read(|s| {
            s.managed_devices
                .iter()
                .find(|d| d.id.to_lowercase() == id)
                .cloned()
        })
        .ok_or_else(|| not_found(&id))?;
    let body = json!({
        "@odata.context": format!(
            "https://{}/beta/$metadata#deviceManagement/managedDevices/$entity",
            shared.config.graph_host
        ),
        "id": device.id,
        "deviceName": device.device_name,
        "operatingSystem": device.operating_system,
        "azureADDeviceId": device.azure_ad_device_id,
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn patch_device(shared: &Shared, path: &str, body: &[u8]) -> Result<Response, GraphError> {
    let Some(id) = path
        .strip_prefix(DEVICES_PREFIX)
        .and_then(|rest| rest.strip_suffix(DEVICES_SUFFIX))
        .map(str::to_lowercase)
    else {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Bad alternate key.",
        ));
    };
    let changes: serde_json::Map<String, Value> = serde_json::from_slice(body).map_err(|_| {
        graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload.",
        )
    })?;
    let windows_only = changes.keys().any(|k| k != "extensionAttributes");
    shared.write(|s| {
        let device = s
            .managed_devices
            .iter_mut()
            .find(|d| d.azure_ad_device_id.to_lowercase() == id)
            .ok_or_else(|| not_found(&id))?;
        if windows_only && !device.operating_system.to_lowercase().starts_with("windows") {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                "Properties other than ExtendedAttribute1..15 can be modified only on windows devices.",
            ));
        }
        if let Some(enabled) = changes.get("accountEnabled").and_then(Value::as_bool) {
            device.account_enabled = enabled;
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;odata.metadata=minimal;charset=utf-8"),
    );
    response
}

/// The demo's Intune tenant: kim's Windows laptop and mia's Mac put in lost mode a few minutes
/// ago, and a remote lock of lee's phone (not a loss).
pub(crate) fn demo() -> (Vec<Value>, Vec<ManagedDevice>) {
    let device = |n: u32, os: &str, name: &str| ManagedDevice {
        id: format!("0d0e0f10-0000-4000-8000-{n:012}"),
        azure_ad_device_id: format!("a1a2a3a4-0000-4000-8000-{n:012}"),
        operating_system: os.to_owned(),
        device_name: name.to_owned(),
        account_enabled: true,
    };
    let devices = vec![
        device(1, "Windows", "KIM-LAPTOP"),
        device(2, "macOS", "Mia's MacBook Pro"),
        device(3, "iOS", "Lee's iPhone"),
    ];
    let now = OffsetDateTime::now_utc();
    let record = |id: &str, action: &str, owner: &str, minutes_ago: i64, device: &ManagedDevice| {
        json!({
            "@odata.type": "#microsoft.graph.remoteActionAudit",
            "id": id,
            "deviceDisplayName": device.device_name,
            "userName": "helpdesk@contoso.com",
            "initiatedByUserPrincipalName": "helpdesk@contoso.com",
            "action": action,
            "requestDateTime": (now - time::Duration::minutes(minutes_ago)).format(&Rfc3339).unwrap_or_default(),
            "deviceOwnerUserPrincipalName": owner,
            "deviceIMEI": "",
            "actionState": "pending",
            "managedDeviceId": device.id,
            "deviceActionCategory": "single",
            "bulkDeviceActionId": "",
            "deviceActionDetails": []
        })
    };
    let records = vec![
        record(
            "4f1e2d3c-0000-4000-8000-000000000001",
            "enableLostMode",
            "kim@contoso.com",
            7,
            &devices[0],
        ),
        record(
            "4f1e2d3c-0000-4000-8000-000000000002",
            "remoteLock",
            "lee@contoso.com",
            5,
            &devices[2],
        ),
        record(
            "4f1e2d3c-0000-4000-8000-000000000003",
            "enableLostMode",
            "mia@contoso.com",
            3,
            &devices[1],
        ),
    ];
    (records, devices)
}
