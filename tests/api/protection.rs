//! Protection that does not depend on spelling (README, "Protected accounts"): the real Graph
//! client against the Entra + Graph stand-in, which serves the user lookups and
//! `checkMemberGroups`.

use lambda_http::http::StatusCode;
use revoker::startup::Graph;
use serde_json::{Value, json};
use standin::{DirectoryUser, Fault, Standin};

use crate::durability::{Queues, standin_config};
use crate::helpers::*;

pub const BREAK_GLASS: &str = "0b0b0b0b-1111-4222-8333-444455556666";
const ADMINS: &str = "9a9a9a9a-0000-4000-8000-000000000001";
const TIER0: &str = "9a9a9a9a-0000-4000-8000-000000000002";

pub fn directory_user(id: &str, upn: &str, mail: Option<&str>) -> DirectoryUser {
    DirectoryUser {
        id: id.to_owned(),
        user_principal_name: upn.to_owned(),
        mail: mail.map(str::to_owned),
    }
}

/// The stand-in with a directory of named users only (no one else exists).
pub async fn directory(users: &[DirectoryUser]) -> Standin {
    let config = standin::Config {
        known_users: Some(Vec::new()),
        ..standin_config()
    };
    let standin = Standin::start(config, 0).await.unwrap();
    for user in users {
        standin.add_user(user.clone());
    }
    standin
}

pub async fn app(standin: &Standin, env: &[(&'static str, &str)]) -> TestApp<Graph> {
    spawn_graph_app(
        Setup {
            env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            ..Setup::default()
        },
        standin,
    )
    .await
}

pub fn lost(app: &TestApp<Graph>, id: &str, user: Value) -> Value {
    signed_event(app, "/standard", &canonical("device.lost", id, user))
}

#[tokio::test]
async fn a_user_protected_by_object_id_is_protected_when_the_event_names_the_upn() {
    let standin = directory(&[directory_user(BREAK_GLASS, "breakglass@contoso.com", None)]).await;
    let app = app(&standin, &[("PROTECTED_USERS", BREAK_GLASS)]).await;

    let answer = app
        .send(&lost(&app, "p1", json!({"upn": "BreakGlass@contoso.com"})))
        .await;

    assert_eq!(
        (answer.status, answer.body["outcome"].as_str()),
        (StatusCode::OK, Some("protected"))
    );
    assert!(standin.revocations().is_empty());
}

#[tokio::test]
async fn a_user_protected_by_upn_is_protected_when_the_event_names_the_object_id() {
    let standin = directory(&[directory_user(BREAK_GLASS, "breakglass@contoso.com", None)]).await;
    let app = app(&standin, &[("PROTECTED_USERS", "breakglass@contoso.com")]).await;

    let answer = app
        .send(&lost(&app, "p2", json!({"id": BREAK_GLASS.to_uppercase()})))
        .await;

    assert_eq!(answer.body["outcome"], "protected");
    assert!(standin.revocations().is_empty());
}

#[tokio::test]
async fn a_transitive_member_of_a_protected_group_is_protected_and_others_are_revoked_by_id() {
    let admin = "11111111-0000-4000-8000-00000000000a";
    let staff = "11111111-0000-4000-8000-00000000000b";
    let standin = directory(&[
        directory_user(admin, "admin@contoso.com", None),
        directory_user(staff, "staff@contoso.com", None),
    ])
    .await;
    // admin is in TIER0 through ADMINS.
    standin.add_group(ADMINS, &[admin]);
    standin.add_group(TIER0, &[ADMINS]);
    let app = app(&standin, &[("PROTECTED_GROUPS", TIER0)]).await;
    let body = canonical("device.lost", "p3", json!({"upn": "admin@contoso.com"}));
    let admin_answer = app.send(&signed_event(&app, "/standard", &body)).await;
    let staff_answer = app
        .send(&lost(&app, "p4", json!({"upn": "staff@contoso.com"})))
        .await;

    assert_eq!(admin_answer.body["outcome"], "protected");
    assert_eq!(staff_answer.body["outcome"], "revoked");
    let revocations = standin.revocations();
    assert_eq!(revocations.len(), 1);
    assert_eq!(
        revocations[0].user, staff,
        "signed out by the object id checked"
    );
    assert_eq!(revocations[0].upn.as_deref(), Some("staff@contoso.com"));
    let checks = standin
        .graph_calls()
        .iter()
        .filter(|c| c.raw_path.ends_with("/checkMemberGroups"))
        .count();
    assert_eq!(
        checks, 2,
        "one membership check per user, for every protected group"
    );
}

#[tokio::test]
async fn a_user_named_by_object_id_is_checked_with_its_lookup_and_never_revoked_unchecked() {
    let admin = "11111111-0000-4000-8000-00000000000c";
    let staff = "11111111-0000-4000-8000-00000000000d";
    let standin = directory(&[
        directory_user(admin, "admin2@contoso.com", None),
        directory_user(staff, "staff2@contoso.com", None),
    ])
    .await;
    standin.add_group(TIER0, &[admin]);
    // staff's membership check answers "no group", but its lookup cannot be answered.
    standin.fail_next_lookup(
        staff,
        vec![Fault::ServiceUnavailable { retry_after: None }; 1000],
    );
    let app = app(
        &standin,
        &[("PROTECTED_GROUPS", TIER0), ("INLINE_DEADLINE_MS", "600")],
    )
    .await;

    let admin_answer = app.send(&lost(&app, "p9", json!({"id": admin}))).await;
    let staff_answer = app.send(&lost(&app, "p10", json!({"id": staff}))).await;

    assert_eq!(admin_answer.body["outcome"], "protected");
    assert_eq!(
        (staff_answer.status, staff_answer.body["outcome"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("failed"))
    );
    assert!(standin.revocations().is_empty());
    let checked: Vec<String> = standin
        .graph_calls()
        .iter()
        .filter(|c| c.raw_path.ends_with("/checkMemberGroups"))
        .map(|c| c.raw_path.to_ascii_lowercase())
        .collect();
    assert!(
        checked.iter().any(|p| p.contains(staff)),
        "staff's membership was checked alongside its lookup: {checked:?}"
    );
}

#[tokio::test]
async fn an_object_id_no_user_has_is_not_found_without_an_error_line() {
    let nobody = "11111111-0000-4000-8000-0000000000ee";
    let standin = directory(&[]).await;
    standin.add_group(TIER0, &[]);
    // The lookup is answered after one retry, so the membership check's 404 comes first.
    standin.fail_next_lookup(
        nobody,
        vec![Fault::ServiceUnavailable { retry_after: None }],
    );
    let app = app(&standin, &[("PROTECTED_GROUPS", TIER0)]).await;
    let logs = crate::logs::capture_this_thread();

    let answer = app.send(&lost(&app, "p11", json!({"id": nobody}))).await;

    assert_eq!(answer.body["outcome"], "user_not_found");
    assert!(standin.revocations().is_empty());
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        !text.lines().any(|l| l.contains("ERROR")),
        "a user who does not exist is no error: {text}"
    );
}

#[tokio::test]
async fn an_email_that_is_no_upn_is_resolved_by_mail_and_revoked() {
    let jane = "22222222-0000-4000-8000-000000000001";
    let standin = directory(&[directory_user(
        jane,
        "j.doe@contoso.onmicrosoft.com",
        Some("jane@contoso.com"),
    )])
    .await;
    let app = app(&standin, &[("PROTECTED_USERS", BREAK_GLASS)]).await;
    let logs = crate::logs::capture_this_thread();

    let answer = app
        .send(&lost(&app, "p5", json!({"upn": "jane@contoso.com"})))
        .await;

    assert_eq!(answer.body["outcome"], "revoked");
    let revocations = standin.revocations();
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0].user, jane);
    // The audit line names the user as the event did, and the Entra object signed out.
    let line = crate::logs::line_with(&logs, "sessions revoked");
    assert!(line.contains("user=jane@contoso.com"), "{line}");
    assert!(line.contains(&format!("object_id={jane}")), "{line}");
}

#[tokio::test]
async fn an_email_two_users_have_as_mail_is_refused_and_audited_at_error() {
    let standin = directory(&[
        directory_user(
            "33333333-0000-4000-8000-000000000001",
            "sam.one@contoso.com",
            Some("sam@contoso.com"),
        ),
        directory_user(
            "33333333-0000-4000-8000-000000000002",
            "sam.two@contoso.com",
            Some("sam@contoso.com"),
        ),
    ])
    .await;
    let app = app(&standin, &[("PROTECTED_USERS", BREAK_GLASS)]).await;
    let logs = crate::logs::capture_this_thread();

    let answer = app
        .send(&lost(&app, "p6", json!({"upn": "sam@contoso.com"})))
        .await;

    assert_eq!(
        (answer.status, answer.body["outcome"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("ambiguous_user"))
    );
    assert!(standin.revocations().is_empty());
    let line = crate::logs::line_with(&logs, "ambiguous_user");
    assert!(
        line.contains("ERROR") && line.contains("outcome="),
        "{line}"
    );
}

#[tokio::test]
async fn a_lookup_graph_cannot_answer_is_owed_and_the_user_is_not_revoked_unchecked() {
    let standin = directory(&[directory_user(
        "44444444-0000-4000-8000-000000000001",
        "lee@contoso.com",
        None,
    )])
    .await;
    standin.fail_next_lookup(
        "lee@contoso.com",
        vec![Fault::ServiceUnavailable { retry_after: None }; 1000],
    );
    let queues = Queues::create(5).await;
    let without_queue = app(
        &standin,
        &[("PROTECTED_GROUPS", TIER0), ("INLINE_DEADLINE_MS", "600")],
    )
    .await;
    let with_queue = app(
        &standin,
        &[
            ("PROTECTED_GROUPS", TIER0),
            ("INLINE_DEADLINE_MS", "2000"),
            ("RETRY_QUEUE_URL", queues.url.as_str()),
        ],
    )
    .await;

    let owed = without_queue
        .send(&lost(
            &without_queue,
            "p7",
            json!({"upn": "lee@contoso.com"}),
        ))
        .await;
    let queued = with_queue
        .send(&lost(&with_queue, "p8", json!({"upn": "lee@contoso.com"})))
        .await;

    assert_eq!(
        (owed.status, owed.body["outcome"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("failed"))
    );
    assert_eq!(
        (queued.status, queued.body["outcome"].as_str()),
        (StatusCode::ACCEPTED, Some("queued"))
    );
    assert!(standin.revocations().is_empty());
}
