//! The Intune function against the stand-in (Intune's audit records, managed devices, Entra
//! device objects, Graph's revoke) and moto's DynamoDB (the checkpoint and the ledger): each
//! run built as bin `intune` builds it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use revoker::aws::DynamoCheckpoint;
use revoker::intune::{Checkpoint, CheckpointStore, RunError, RunReport};
use revoker::startup::IntunePoller;
use serde_json::{Value, json};
use standin::{AuditFilter, Fault, ManagedDevice, Standin};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

use crate::durability::standin_config;
use crate::helpers::*;

const LOST: &str = "enableLostMode";

/// A `remoteActionAudit` as Graph lists it, requested `minutes_ago`.
pub fn audit(id: &str, action: &str, owner: &str, minutes_ago: i64, device: &str) -> Value {
    let at = OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago);
    json!({
        "@odata.type": "#microsoft.graph.remoteActionAudit",
        "id": id,
        "deviceDisplayName": format!("device {device}"),
        "userName": "admin@contoso.com",
        "initiatedByUserPrincipalName": "admin@contoso.com",
        "action": action,
        "requestDateTime": at.format(&Rfc3339).unwrap(),
        "deviceOwnerUserPrincipalName": owner,
        "deviceIMEI": "",
        "actionState": "pending",
        "managedDeviceId": device,
        "deviceActionCategory": "single"
    })
}

/// Adds `n` lost-mode records, one per user `{prefix}{i}@contoso.com`, the oldest 30
/// minutes ago; returns the users.
fn add_losses(standin: &Standin, prefix: &str, n: usize) -> Vec<String> {
    let users: Vec<String> = (0..n).map(|i| format!("{prefix}{i}@contoso.com")).collect();
    standin.add_audit_records(
        users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                audit(
                    &format!("{prefix}-audit-{i}"),
                    LOST,
                    u,
                    30 - i as i64,
                    &format!("d{i}"),
                )
            })
            .collect(),
    );
    users
}

/// Managed device 1, a Windows laptop that `owner` put in lost mode 5 minutes ago
/// (record `audit-1`).
fn lost_windows_device(standin: &Standin, owner: &str) {
    standin.add_managed_device(managed(1, "Windows"));
    standin.add_audit_records(vec![audit("audit-1", LOST, owner, 5, &device_id(1))]);
}

/// A managed device id (a GUID) from a small number.
fn device_id(n: u32) -> String {
    format!("7f6b5c4d-0000-4000-8000-{n:012}")
}

/// The Entra device id of managed device `n`.
fn entra_id(n: u32) -> String {
    format!("e1e2e3e4-0000-4000-8000-{n:012}")
}

fn managed(n: u32, os: &str) -> ManagedDevice {
    ManagedDevice {
        id: device_id(n),
        azure_ad_device_id: entra_id(n),
        operating_system: os.to_owned(),
        device_name: format!("device {n}"),
        account_enabled: true,
    }
}

/// Successful revocations per user at the stand-in.
fn revoked(standin: &Standin) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in standin.revocations() {
        *counts.entry(r.user).or_default() += 1;
    }
    counts
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(u, n)| ((*u).to_owned(), *n)).collect()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

async fn run(poller: &IntunePoller) -> RunReport {
    poller.run(soon()).await.expect("the run finishes")
}

/// The checkpoint item, read straight from DynamoDB (README, "The ledger").
async fn checkpoint(table: &str) -> BTreeMap<String, String> {
    let item = dynamodb_client()
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("checkpoint#intune".to_owned()))
        .key("sk", AttributeValue::S("checkpoint".to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the run saved a checkpoint");
    item.into_iter()
        .map(|(k, v)| {
            let text = v.as_s().or_else(|_| v.as_n()).cloned().unwrap_or_default();
            (k, text)
        })
        .collect()
}

async fn setup() -> (Standin, String) {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    (standin, create_ledger_table().await)
}

#[tokio::test]
async fn a_lost_mode_record_revokes_its_owner_once_across_runs_and_cold_starts() {
    let (standin, table) = setup().await;
    standin.add_audit_records(vec![audit("audit-1", LOST, "erin@contoso.com", 5, "d1")]);

    let poller = intune_poller(&standin, &table, &[]).await;
    let first = run(&poller).await;
    assert_eq!((first.losses, first.revoked), (1, 1), "{first:?}");
    let again = run(&poller).await;
    assert_eq!((again.revoked, again.duplicate), (0, 1), "{again:?}");
    // A cold start: a new instance, with nothing in memory, reads the record again.
    let cold = intune_poller(&standin, &table, &[]).await;
    let third = run(&cold).await;
    assert_eq!((third.revoked, third.duplicate), (0, 1), "{third:?}");

    assert_eq!(revoked(&standin), counts(&[("erin@contoso.com", 1)]));
    let saved = checkpoint(&table).await;
    assert_eq!(saved["kind"], "checkpoint");
    assert_eq!(saved["version"], "3");
    assert!(!saved.contains_key("next_link"), "{saved:?}");
}

#[tokio::test]
async fn records_of_other_actions_older_records_and_canceled_ones_are_never_acted_on() {
    let (standin, table) = setup().await;
    let mut canceled = audit("audit-3", LOST, "gus@contoso.com", 5, "d3");
    canceled["actionState"] = json!("canceled");
    standin.add_audit_records(vec![
        audit("audit-1", "remoteLock", "frank@contoso.com", 5, "d1"),
        audit("audit-2", "factoryReset", "frank@contoso.com", 5, "d2"),
        canceled,
        // Before the first run's lookback (60 minutes) and its overlap (10).
        audit("audit-4", LOST, "hana@contoso.com", 90, "d4"),
        audit("audit-5", LOST, "ivan@contoso.com", 65, "d5"),
    ]);
    // Whatever Graph does with the filter, the poller filters again.
    standin.set_audit_filter(AuditFilter::Ignore);

    let report = run(&intune_poller(&standin, &table, &[]).await).await;

    assert_eq!(report.records, 5);
    assert_eq!(
        report.losses, 1,
        "only ivan's, inside the overlap: {report:?}"
    );
    assert_eq!(revoked(&standin), counts(&[("ivan@contoso.com", 1)]));
}

#[tokio::test]
async fn a_listing_of_many_pages_is_read_to_the_end_and_each_owner_revoked() {
    let (standin, table) = setup().await;
    standin.set_audit_page_size(2);
    let users = add_losses(&standin, "user", 7);

    let report = run(&intune_poller(&standin, &table, &[]).await).await;

    assert_eq!(
        (report.pages, report.revoked, report.complete),
        (4, 7, true)
    );
    let expected: BTreeMap<String, usize> = users.iter().map(|u| (u.clone(), 1)).collect();
    assert_eq!(revoked(&standin), expected);
}

#[tokio::test]
async fn a_run_cut_short_by_its_deadline_resumes_where_it_stopped_without_loss_or_double_action() {
    let (standin, table) = setup().await;
    standin.set_audit_page_size(1);
    let users = add_losses(&standin, "slow", 6);
    // Each page takes 250 ms; a run keeps 3 s for its checkpoint and reads for half the rest.
    standin.fail_next_listing(vec![Fault::Slow(Duration::from_millis(250)); 40]);
    let poller = intune_poller(&standin, &table, &[]).await;

    let first = poller
        .run(Instant::now() + Duration::from_millis(4200))
        .await
        .unwrap();
    assert!(!first.complete && first.pages < 6, "{first:?}");
    assert!(checkpoint(&table).await.contains_key("next_link"));
    let mut runs = 1;
    loop {
        let report = poller
            .run(Instant::now() + Duration::from_millis(4200))
            .await
            .unwrap();
        runs += 1;
        if report.complete {
            break;
        }
        assert!(runs < 12, "the pass never ends");
    }

    let expected: BTreeMap<String, usize> = users.iter().map(|u| (u.clone(), 1)).collect();
    assert_eq!(revoked(&standin), expected, "after {runs} runs");
    assert!(!checkpoint(&table).await.contains_key("next_link"));
}

#[tokio::test]
async fn a_next_link_to_another_host_is_never_followed() {
    let (standin, table) = setup().await;
    standin.set_audit_page_size(1);
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    standin.set_next_link_base(&format!("http://{}", elsewhere.local_addr().unwrap()));
    standin.add_audit_records(vec![
        audit("audit-1", LOST, "erin@contoso.com", 5, "d1"),
        audit("audit-2", LOST, "frank@contoso.com", 4, "d2"),
    ]);
    let logs = crate::logs::capture_this_thread();

    let result = intune_poller(&standin, &table, &[]).await.run(soon()).await;

    assert!(matches!(result, Err(RunError::ForeignLink)), "{result:?}");
    assert_eq!(revoked(&standin), counts(&[("erin@contoso.com", 1)]));
    let accepted = tokio::time::timeout(Duration::from_millis(100), elsewhere.accept()).await;
    assert!(accepted.is_err(), "a connection reached the other host");
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(text.contains("points to another host"), "{text}");
    // The next run starts from that page again, not past it.
    assert!(checkpoint(&table).await["next_link"].starts_with(&standin.url()));
}

#[tokio::test]
async fn graph_throttling_the_listing_is_waited_out_as_retry_after_says() {
    let (standin, table) = setup().await;
    standin.add_audit_records(vec![audit("audit-1", LOST, "erin@contoso.com", 5, "d1")]);
    standin.fail_next_listing(vec![Fault::TooManyRequests {
        retry_after: Some(1),
    }]);

    let started = Instant::now();
    let report = run(&intune_poller(&standin, &table, &[]).await).await;

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(report.revoked, 1);
    let listings: Vec<u16> = standin
        .graph_calls()
        .iter()
        .filter(|c| c.raw_path.ends_with("remoteActionAudits"))
        .map(|c| c.status)
        .collect();
    assert_eq!(listings, vec![429, 200]);
}

#[tokio::test]
async fn a_filter_graph_refuses_is_dropped_and_the_records_still_read() {
    let (standin, table) = setup().await;
    standin.set_audit_filter(AuditFilter::Reject);
    standin.add_audit_records(vec![audit("audit-1", LOST, "erin@contoso.com", 5, "d1")]);

    let poller = intune_poller(&standin, &table, &[]).await;
    assert_eq!(run(&poller).await.revoked, 1);
    run(&poller).await;

    let queries: Vec<Option<String>> = standin
        .graph_calls()
        .iter()
        .filter(|c| c.raw_path.ends_with("remoteActionAudits"))
        .map(|c| c.raw_query.clone())
        .collect();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(queries[0].as_deref().is_some_and(|q| q.contains("filter")));
    assert_eq!(queries[1..], [None, None], "the instance remembers");
}

#[tokio::test]
async fn containment_disables_a_windows_device_and_audits_a_macos_one_as_not_disableable() {
    let (standin, table) = setup().await;
    standin.add_managed_device(managed(1, "Windows"));
    standin.add_managed_device(managed(2, "macOS"));
    standin.add_audit_records(vec![
        audit("audit-1", LOST, "erin@contoso.com", 5, &device_id(1)),
        audit("audit-2", LOST, "frank@contoso.com", 4, &device_id(2)),
    ]);
    let logs = crate::logs::capture_this_thread();

    let poller = intune_poller(&standin, &table, &[("DISABLE_LOST_DEVICES", "true")]).await;
    let report = run(&poller).await;

    assert_eq!(report.revoked, 2);
    let enabled: Vec<(String, bool)> = standin
        .managed_devices()
        .into_iter()
        .map(|d| (d.operating_system, d.account_enabled))
        .collect();
    assert_eq!(enabled, [("Windows".into(), false), ("macOS".into(), true)]);
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    let line = |outcome: &str| {
        text.lines()
            .find(|l| l.contains(&format!("outcome=\"{outcome}\"")))
            .unwrap_or_else(|| panic!("no {outcome} line in {text}"))
            .to_owned()
    };
    assert!(line("device_disabled").contains(&entra_id(1)));
    let macos = line("device_not_disableable");
    assert!(
        macos.contains(&entra_id(2)) && macos.contains("macOS"),
        "{macos}"
    );
    // Graph was never asked to disable the Mac: its rule is known.
    let patches = standin
        .graph_calls()
        .iter()
        .filter(|c| c.method == "PATCH")
        .count();
    assert_eq!(patches, 1);
}

#[tokio::test]
async fn a_failing_device_patch_leaves_the_revocation_intact_and_is_audited_at_error() {
    let (standin, table) = setup().await;
    standin.add_managed_device(managed(1, "Windows"));
    standin.fail_next_device(&entra_id(1), vec![Fault::Forbidden]);
    standin.add_audit_records(vec![audit(
        "audit-1",
        LOST,
        "erin@contoso.com",
        5,
        &device_id(1),
    )]);
    let logs = crate::logs::capture_this_thread();

    let poller = intune_poller(&standin, &table, &[("DISABLE_LOST_DEVICES", "true")]).await;
    let report = run(&poller).await;

    assert_eq!((report.revoked, report.owed, report.complete), (1, 0, true));
    assert_eq!(revoked(&standin), counts(&[("erin@contoso.com", 1)]));
    assert!(standin.managed_devices()[0].account_enabled);
    let failed = crate::logs::line_with(&logs, "device_disable_failed");
    assert!(
        failed.contains("ERROR") && failed.contains("Cloud Device Administrator"),
        "{failed}"
    );
}

#[tokio::test]
async fn a_protected_owner_is_neither_revoked_nor_has_a_device_disabled() {
    let (standin, table) = setup().await;
    lost_windows_device(&standin, "breakglass@contoso.com");

    let poller = intune_poller(
        &standin,
        &table,
        &[
            ("PROTECTED_USERS", "breakglass@contoso.com"),
            ("DISABLE_LOST_DEVICES", "true"),
        ],
    )
    .await;
    let report = run(&poller).await;

    assert_eq!((report.losses, report.revoked), (1, 0));
    assert!(standin.revocations().is_empty());
    assert!(standin.managed_devices()[0].account_enabled);
}

#[tokio::test]
async fn a_dry_run_calls_nothing_that_writes() {
    let (standin, table) = setup().await;
    lost_windows_device(&standin, "erin@contoso.com");

    let poller = intune_poller(
        &standin,
        &table,
        &[("DRY_RUN", "true"), ("DISABLE_LOST_DEVICES", "true")],
    )
    .await;
    let report = run(&poller).await;

    assert_eq!((report.losses, report.revoked), (1, 0));
    let methods: Vec<String> = standin
        .graph_calls()
        .into_iter()
        .map(|c| c.method)
        .collect();
    assert!(methods.iter().all(|m| m == "GET"), "{methods:?}");
    assert!(standin.managed_devices()[0].account_enabled);
}

#[tokio::test]
async fn a_run_naming_more_users_than_the_cap_refuses_them_all() {
    let (standin, table) = setup().await;
    add_losses(&standin, "u", 4);
    let logs = crate::logs::capture_this_thread();

    let poller = intune_poller(&standin, &table, &[("MAX_USERS_PER_EVENT", "3")]).await;
    let report = run(&poller).await;

    assert!(report.refused, "{report:?}");
    assert!(standin.revocations().is_empty());
    // Nothing is dropped: the pass is held until someone raises the cap.
    assert!(!report.complete);
    assert!(checkpoint(&table).await.contains_key("next_link"));
    let raised = intune_poller(&standin, &table, &[("MAX_USERS_PER_EVENT", "4")]).await;
    assert_eq!(run(&raised).await.revoked, 4);
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert_eq!(text.matches("too_many_users").count(), 4, "{text}");
}

#[tokio::test]
async fn an_owner_still_owed_keeps_the_checkpoint_on_that_page_until_graph_recovers() {
    let (standin, table) = setup().await;
    standin.add_audit_records(vec![audit("audit-1", LOST, "erin@contoso.com", 5, "d1")]);
    standin.fail_next("erin@contoso.com", vec![Fault::Forbidden]);

    let poller = intune_poller(&standin, &table, &[]).await;
    let first = run(&poller).await;
    assert_eq!((first.owed, first.complete), (1, false), "{first:?}");
    assert!(checkpoint(&table).await.contains_key("next_link"));

    let second = run(&poller).await;
    assert_eq!((second.revoked, second.complete), (1, true), "{second:?}");
    assert_eq!(revoked(&standin), counts(&[("erin@contoso.com", 1)]));
}

#[tokio::test]
async fn the_intune_function_refuses_to_start_without_a_ledger_table() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    let config = revoker::config::Config::from_lookup(|name| match name {
        "CREDENTIALS_SECRET_ID" => Some("s".to_owned()),
        "GRAPH_URL" | "ENTRA_AUTHORITY_URL" => Some(standin.url()),
        _ => None,
    })
    .unwrap();
    let clients = revoker::startup::Clients {
        http: revoker::aws::http_client().unwrap(),
        secrets_manager: secrets_client(),
        sqs: None,
        dynamodb: None,
        sns: None,
    };
    let refused = revoker::startup::Instance::build(config, clients)
        .await
        .intune()
        .expect_err("no LEDGER_TABLE");
    assert!(refused.to_string().contains("LEDGER_TABLE"), "{refused}");
}

#[tokio::test]
async fn a_relay_event_naming_an_entra_device_gets_the_same_containment() {
    let standin = Standin::start(standin_config(), 0).await.unwrap();
    standin.add_managed_device(managed(1, "Windows"));
    let setup = Setup {
        env: vec![("DISABLE_LOST_DEVICES", "true".to_owned())],
        ..Setup::default()
    };
    let app = spawn_graph_app(setup, &standin).await;
    let body = json!({
        "type": "device.lost", "id": "evt-contain-1",
        "data": {"device": {"serial_number": "PF3ABCDE", "entra_device_id": entra_id(1)},
                 "user": {"upn": "erin@contoso.com"}}
    })
    .to_string();

    let answer = app.send(&signed_event(&app, "/standard", &body)).await;

    assert_eq!(answer.body["outcome"], "revoked", "{}", answer.raw);
    assert!(!standin.managed_devices()[0].account_enabled);
}

#[tokio::test]
async fn a_checkpoint_save_is_refused_when_another_run_moved_it_first() {
    let store = DynamoCheckpoint::new(dynamodb_client(), create_ledger_table().await);
    assert_eq!(store.load().await.unwrap(), None);
    let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
    let first = Checkpoint {
        since: at(1_795_000_000),
        next_link: None,
        high_water: None,
        version: 1,
    };
    let second = Checkpoint {
        next_link: Some("http://127.0.0.1:1/beta/deviceManagement/remoteActionAudits".into()),
        high_water: Some(at(1_795_000_600)),
        version: 2,
        ..first.clone()
    };

    store.save(&first).await.unwrap();
    let twice = store.save(&first).await;
    store.save(&second).await.unwrap();
    let stale = store.save(&second).await;

    assert!(twice.is_err(), "a second first save");
    assert!(
        stale.unwrap_err().to_string().contains("another run"),
        "a save from a run that read version 1"
    );
    assert_eq!(store.load().await.unwrap(), Some(second));
}

#[tokio::test]
async fn an_owed_record_older_than_a_day_no_longer_holds_the_checkpoint() {
    let (standin, table) = setup().await;
    standin.add_audit_records(vec![audit(
        "audit-old",
        LOST,
        "olga@contoso.com",
        25 * 60,
        "d1",
    )]);
    standin.fail_next("olga@contoso.com", vec![Fault::Forbidden]);

    let poller = intune_poller(&standin, &table, &[("INTUNE_LOOKBACK_MINUTES", "2000")]).await;
    let report = run(&poller).await;

    assert_eq!((report.owed, report.complete), (1, true), "{report:?}");
    assert!(!checkpoint(&table).await.contains_key("next_link"));
}

#[tokio::test]
async fn a_record_dated_in_the_future_never_moves_the_checkpoint_past_now() {
    let (standin, table) = setup().await;
    standin.add_audit_records(vec![audit(
        "audit-future",
        LOST,
        "fay@contoso.com",
        -120,
        "d1",
    )]);

    let report = run(&intune_poller(&standin, &table, &[]).await).await;

    assert_eq!(report.revoked, 1);
    let since = OffsetDateTime::parse(&checkpoint(&table).await["since"], &Rfc3339).unwrap();
    assert!(since <= OffsetDateTime::now_utc(), "{since}");
}

#[tokio::test]
async fn records_left_when_the_deadline_comes_are_decided_by_the_next_run_once() {
    let (standin, table) = setup().await;
    let users = add_losses(&standin, "late", 16);
    for user in &users {
        standin.fail_next(user, vec![Fault::Slow(Duration::from_millis(700))]);
    }
    let poller = intune_poller(&standin, &table, &[]).await;

    // 3 s are kept for the checkpoint: 1 s to decide 16 records, 8 at a time, 0.7 s each.
    let first = poller
        .run(Instant::now() + Duration::from_millis(4000))
        .await
        .unwrap();
    assert!(
        first.deferred + first.owed > 0 && !first.complete,
        "{first:?}"
    );
    let second = run(&poller).await;

    assert!(second.complete, "{second:?}");
    // A deferred record was never started, so the next run is its one act. An owed one was
    // cut at the deadline while Graph was still answering; the call may have landed, and
    // acting again is the documented harmless repeat.
    let acts = revoked(&standin);
    assert_eq!(
        acts.keys().collect::<BTreeSet<_>>(),
        users.iter().collect::<BTreeSet<_>>()
    );
    let twice = acts.values().filter(|&&n| n == 2).count();
    assert!(acts.values().all(|&n| (1..=2).contains(&n)), "{acts:?}");
    assert!(twice <= first.owed, "{twice} acted twice, {first:?}");
}

#[tokio::test]
async fn a_page_larger_than_the_read_limit_is_refused_at_once_not_asked_again() {
    let (standin, table) = setup().await;
    standin.set_audit_page_size(10_000);
    let mut record = audit("big", "remoteLock", "erin@contoso.com", 5, "d");
    record["deviceActionDetails"] = json!([{"key": "note", "value": "x".repeat(1000)}]);
    standin.add_audit_records(vec![record; 5000]);

    let started = Instant::now();
    let result = intune_poller(&standin, &table, &[]).await.run(soon()).await;

    assert!(
        matches!(&result, Err(RunError::Listing(why)) if why.contains("larger than")),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let listings = standin
        .graph_calls()
        .iter()
        .filter(|c| c.raw_path.ends_with("remoteActionAudits"))
        .count();
    assert_eq!(listings, 1, "the same answer was asked for again");
}

#[tokio::test]
async fn a_record_read_again_in_the_overlap_is_not_looked_up_again() {
    let (standin, table) = setup().await;
    lost_windows_device(&standin, "erin@contoso.com");
    let poller = intune_poller(&standin, &table, &[("DISABLE_LOST_DEVICES", "true")]).await;

    run(&poller).await;
    let again = run(&poller).await;

    assert_eq!(again.duplicate, 1, "{again:?}");
    let lookups = standin
        .graph_calls()
        .iter()
        .filter(|c| c.raw_path.contains("managedDevices"))
        .count();
    assert_eq!(lookups, 1);
}
