//! The largest bodies the webhook accepts, at their worst, measured on a fresh process each: how long the answer takes and how much memory the process peaks
//! at. A measurement, never a pass/fail: README "Performance" and the runbook read it against
//! the function's 128 MB and 5 s.
//!
//! Both bodies are authenticated (a holder of the Jamf token sent them): authentication comes
//! before parsing, so nobody else can make the function parse a body at all.

use serde::Serialize;
use serde_json::json;

use crate::answer;
use crate::environment::{self, Environment};
use crate::measure::{EVENT_TIMEOUT, Lab, MeasureError, identity};
use crate::runtime_api::Dispatcher;
use crate::stats::ms;
use crate::subject::Subject;

/// The webhook's largest accepted body (`MAX_BODY_BYTES` at its maximum).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// One measured body.
#[derive(Debug, Clone, Serialize)]
pub struct WorstCase {
    pub body: &'static str,
    pub bytes: usize,
    /// The HTTP status the function answered.
    pub status: u16,
    /// The event, handed out to answered (parse, grouping, decision, answer).
    pub wall_ms: f64,
    /// VmHWM of the process after the event (a fresh process: init included).
    pub peak_rss_kib: u64,
}

/// A Jamf smart-group change at the limit, every added device another user's: the body that
/// took 14 s when grouping searched the owners linearly.
fn distinct_owners() -> String {
    let mut devices = Vec::new();
    let mut size = 0;
    for i in 0.. {
        let device = json!({"deviceName": format!("iPad {i}"), "serialNumber": format!("SN{i:08}"),
                            "udid": format!("udid-{i:08}"), "username": format!("user{i}@contoso.com")})
        .to_string();
        size += device.len() + 1;
        if size > BODY_LIMIT - 512 {
            break;
        }
        devices.push(device);
    }
    format!(
        r#"{{"webhook":{{"id":7,"name":"Lost","webhookEvent":"SmartGroupMobileDeviceMembershipChange","eventTimestamp":1795000000000}},"event":{{"jssid":42,"name":"Lost Devices","smartGroup":true,"groupAddedDevices":[{}],"groupRemovedDevices":[]}}}}"#,
        devices.join(",")
    )
}

/// The most memory per byte JSON can ask for: an array of zeros, each a parsed value.
fn zeros() -> String {
    let mut body = String::with_capacity(BODY_LIMIT);
    body.push('[');
    while body.len() + 3 < BODY_LIMIT {
        body.push_str("0,");
    }
    body.push_str("0]");
    body
}

/// Measures each worst-case body on its own fresh webhook process.
pub async fn run(lab: &Lab, webhook: &Subject) -> Result<Vec<WorstCase>, MeasureError> {
    let mut config = lab.function_config.clone();
    config.push(("MAX_BODY_BYTES".into(), BODY_LIMIT.to_string()));
    config.push(("JAMF_LOST_GROUPS".into(), "42".into()));
    let mut results = Vec::new();
    for (name, body) in [
        (
            "Jamf smart group, every device another user",
            distinct_owners(),
        ),
        ("JSON array of zeros", zeros()),
    ] {
        let event = lab
            .maker
            .signed("/jamf", &body)
            .map_err(|e| MeasureError::Setup(e.to_string()))?;
        let dispatcher = Dispatcher::new(identity());
        let mut ticket = dispatcher.submit(event);
        let log = lab.log_dir.join("worst-case.log");
        let environment = Environment::start(webhook, dispatcher, &config, log).await?;
        let mut environments = [environment];
        let completion = environment::settle(&mut ticket, &mut environments, EVENT_TIMEOUT).await?;
        let [environment] = environments;
        let shutdown = environment.shut_down().await?;
        let status = answer::read(&completion.reply)
            .map(|(a, _)| a.status)
            .unwrap_or(0);
        results.push(WorstCase {
            body: name,
            bytes: body.len(),
            status,
            wall_ms: ms(completion.latency()),
            peak_rss_kib: shutdown.peak_rss_kib,
        });
    }
    Ok(results)
}
