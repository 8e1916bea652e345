//! Graph's user lookups and `checkMemberGroups`: addressing, query options, the directory's
//! users and groups, injected faults, and revoking a user by the id a lookup returned.

mod common;

use common::*;
use serde_json::{Value, json};
use standin::{Config, DirectoryUser, Fault, Standin};

const ADA_ID: &str = "0a0a0a0a-0000-4000-8000-000000000001";
const GROUP_LOST: &str = "9a000000-0000-4000-8000-000000000001";
const GROUP_STAFF: &str = "9a000000-0000-4000-8000-000000000002";
const GROUP_OTHER: &str = "9a000000-0000-4000-8000-000000000003";

fn ada() -> DirectoryUser {
    DirectoryUser {
        id: ADA_ID.into(),
        user_principal_name: "ada@contoso.com".into(),
        mail: Some("Ada.Lovelace@contoso.com".into()),
    }
}

/// A stand-in where only `listed` exist besides added users.
async fn listed(listed: &[&str]) -> Standin {
    start(Config {
        known_users: Some(listed.iter().map(|u| (*u).to_owned()).collect()),
        ..secret_config()
    })
    .await
}

async fn graph_get(standin: &Standin, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", standin.url()))
        .bearer_auth(token)
        .header("client-request-id", "c0ffee00-0000-4000-8000-000000000002")
        .send()
        .await
        .expect("graph request")
}

async fn check_groups(
    standin: &Standin,
    user: &str,
    body: &Value,
    token: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!(
            "{}/v1.0/users/{user}/checkMemberGroups",
            standin.url()
        ))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("graph request")
}

/// Status and JSON body.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("Graph JSON"))
}

#[tokio::test]
async fn a_user_is_found_by_id_in_any_case_with_graphs_ids_and_context() {
    let standin = listed(&[]).await;
    standin.add_user(ada());
    let token = access_token(&standin).await;
    let response = graph_get(
        &standin,
        &format!("/v1.0/users/{}", ADA_ID.to_uppercase()),
        &token,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_graph_ids(&response, "c0ffee00-0000-4000-8000-000000000002");
    let (_, body) = answer(response).await;
    assert_eq!(
        body,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "id": ADA_ID,
            "userPrincipalName": "ada@contoso.com",
            "mail": "Ada.Lovelace@contoso.com",
            "displayName": "ada"
        })
    );
    let call = &standin.graph_calls()[0];
    assert_eq!((call.method.as_str(), call.status), ("GET", 200));
    assert_eq!(call.user.as_deref(), Some(&*ADA_ID.to_uppercase()));
}

#[tokio::test]
async fn a_user_is_found_by_upn_case_insensitively_and_by_the_key_form() {
    let standin = listed(&[]).await;
    standin.add_user(ada());
    let token = access_token(&standin).await;
    for path in [
        "/v1.0/users/ADA@Contoso.com",
        "/beta/users('ada%40contoso.com')",
        "/v1.0/users(%27Ada@contoso.com%27)",
    ] {
        let (status, body) = answer(graph_get(&standin, path, &token).await).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["id"], ADA_ID, "{path}");
    }
}

#[tokio::test]
async fn every_user_exists_when_the_directory_is_not_listed() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let (status, upn) =
        answer(graph_get(&standin, "/v1.0/users/Kim@Contoso.com", &token).await).await;
    assert_eq!(status, 200);
    assert_eq!(upn["userPrincipalName"], "Kim@Contoso.com");
    assert_eq!(upn["mail"], "Kim@Contoso.com");
    assert_eq!(upn["displayName"], "Kim");
    let id = upn["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    let (_, again) = answer(graph_get(&standin, "/v1.0/users/kim@contoso.com", &token).await).await;
    assert_eq!(
        again["id"], id,
        "the id is derived from the lower-cased UPN"
    );

    let guid = "0B0B0B0B-0000-4000-8000-000000000001";
    let path = format!("/v1.0/users/{guid}");
    let (status, body) = answer(graph_get(&standin, &path, &token).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], guid.to_lowercase());
    assert_eq!(
        body["userPrincipalName"],
        format!("{}@standin.invalid", guid.to_lowercase())
    );
    assert_eq!(body["mail"], Value::Null);
}

#[tokio::test]
async fn select_returns_only_the_chosen_properties() {
    let standin = listed(&[]).await;
    standin.add_user(ada());
    let token = access_token(&standin).await;
    let path = "/v1.0/users/ada@contoso.com?$select=id,userPrincipalName,mail";
    let (status, body) = answer(graph_get(&standin, path, &token).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "@odata.context":
                "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,mail)/$entity",
            "id": ADA_ID,
            "userPrincipalName": "ada@contoso.com",
            "mail": "Ada.Lovelace@contoso.com"
        })
    );
    let (_, body) =
        answer(graph_get(&standin, "/beta/users/ada@contoso.com?select=id", &token).await).await;
    assert_eq!(
        body,
        json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#users(id)/$entity",
            "id": ADA_ID
        })
    );
}

#[tokio::test]
async fn an_unknown_selected_property_or_query_argument_is_400() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let path = "/v1.0/users/ada@contoso.com?$select=id,onPremisesSamAccountName";
    let (status, body) = answer(graph_get(&standin, path, &token).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "BadRequest");
    assert_eq!(
        body["error"]["message"],
        "Could not find a property named 'onPremisesSamAccountName' on type 'microsoft.graph.user'."
    );
    assert!(body["error"]["innerError"]["request-id"].is_string());
    for path in [
        "/v1.0/users/ada@contoso.com?$expand=manager",
        "/v1.0/users/ada@contoso.com?select=id",
        "/v1.0/users/ada@contoso.com?$select=id&$select=mail",
        "/v1.0/users/ada@contoso.com?$select=",
    ] {
        let response = graph_get(&standin, path, &token).await;
        assert_eq!(response.status(), 400, "{path}");
    }
}

#[tokio::test]
async fn an_unknown_user_is_404_like_the_revoke_actions() {
    let standin = listed(&["ada@contoso.com"]).await;
    let token = access_token(&standin).await;
    let (status, body) =
        answer(graph_get(&standin, "/v1.0/users/ghost@contoso.com", &token).await).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
    let revoke = "/v1.0/users/ghost@contoso.com/revokeSignInSessions";
    let (_, revoke_body) = answer(graph_post(&standin, revoke, Some(&token)).await).await;
    assert_eq!(body["error"]["message"], revoke_body["error"]["message"]);
    let (status, _) =
        answer(graph_get(&standin, "/v1.0/users/ADA@contoso.com", &token).await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_user_path_answers_get_only() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let response = graph_post(&standin, "/v1.0/users/ada@contoso.com", Some(&token)).await;
    assert_eq!(response.status(), 405);
    let response = graph_post(&standin, "/v1.0/users?$filter=mail eq 'a@x'", Some(&token)).await;
    assert_eq!(response.status(), 405);
    let unauthenticated = graph_post(&standin, "/v1.0/users/ada@contoso.com", None).await;
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn the_mail_filter_finds_none_one_or_two_users() {
    let standin = listed(&["kim@contoso.com"]).await;
    standin.add_user(ada());
    let twin = |n: u32| DirectoryUser {
        id: format!("0c0c0c0c-0000-4000-8000-00000000000{n}"),
        user_principal_name: format!("shared{n}@contoso.com"),
        mail: Some("shared@contoso.com".into()),
    };
    standin.add_user(twin(1));
    standin.add_user(twin(2));
    let token = access_token(&standin).await;
    let query = |mail: &str| format!("/v1.0/users?$filter=mail eq '{mail}'&$select=id,mail");

    let (status, none) =
        answer(graph_get(&standin, &query("ghost@contoso.com"), &token).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        none,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,mail)",
            "value": []
        })
    );
    let (_, one) =
        answer(graph_get(&standin, &query("ADA.lovelace@contoso.com"), &token).await).await;
    assert_eq!(
        one["value"],
        json!([{"id": ADA_ID, "mail": "Ada.Lovelace@contoso.com"}])
    );
    let (_, two) = answer(graph_get(&standin, &query("shared@contoso.com"), &token).await).await;
    let ids: Vec<&str> = two["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [twin(1).id, twin(2).id]);
    let (_, listed) = answer(graph_get(&standin, &query("kim@contoso.com"), &token).await).await;
    assert_eq!(listed["value"][0]["mail"], "kim@contoso.com");

    let calls = standin.graph_calls();
    assert_eq!(calls[0].user.as_deref(), Some("ghost@contoso.com"));
    assert!(calls.iter().all(|c| c.status == 200));
}

#[tokio::test]
async fn a_quote_in_the_mail_is_doubled_and_a_plus_stays_a_plus() {
    let standin = listed(&[]).await;
    standin.add_user(DirectoryUser {
        id: "0d0d0d0d-0000-4000-8000-000000000001".into(),
        user_principal_name: "oneil@contoso.com".into(),
        mail: Some("o'neil+lost@contoso.com".into()),
    });
    let token = access_token(&standin).await;
    let path = "/v1.0/users?$filter=mail%20eq%20'o''neil+lost@contoso.com'";
    let (status, body) = answer(graph_get(&standin, path, &token).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"][0]["userPrincipalName"], "oneil@contoso.com");
    assert_eq!(
        standin.graph_calls()[0].user.as_deref(),
        Some("o'neil+lost@contoso.com")
    );
    let unescaped = "/v1.0/users?$filter=mail eq 'o'neil+lost@contoso.com'";
    let response = graph_get(&standin, unescaped, &token).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn an_added_user_hides_the_synthesized_one_of_its_upn_or_mail() {
    let standin = start(secret_config()).await;
    standin.add_user(ada());
    let token = access_token(&standin).await;
    for mail in ["ada@contoso.com", "ada.lovelace@contoso.com"] {
        let path = format!("/v1.0/users?$filter=mail eq '{mail}'");
        let (_, body) = answer(graph_get(&standin, &path, &token).await).await;
        let found = body["value"].as_array().unwrap();
        let expected = usize::from(mail.starts_with("ada.lovelace"));
        assert_eq!(found.len(), expected, "{mail}: {body}");
    }
    let path = "/v1.0/users?$filter=mail eq 'bob@contoso.com'";
    let (_, body) = answer(graph_get(&standin, path, &token).await).await;
    assert_eq!(body["value"][0]["userPrincipalName"], "bob@contoso.com");
}

#[tokio::test]
async fn top_limits_the_page_and_links_the_next() {
    let standin = listed(&[]).await;
    for n in 1..=3 {
        standin.add_user(DirectoryUser {
            id: format!("0e0e0e0e-0000-4000-8000-00000000000{n}"),
            user_principal_name: format!("u{n}@contoso.com"),
            mail: Some("team@contoso.com".into()),
        });
    }
    let token = access_token(&standin).await;
    let path = "/v1.0/users?$filter=mail eq 'team@contoso.com'&$top=2";
    let (status, first) = answer(graph_get(&standin, path, &token).await).await;
    assert_eq!(status, 200);
    assert_eq!(first["value"].as_array().unwrap().len(), 2);
    let next = first["@odata.nextLink"].as_str().unwrap();
    let next = next.strip_prefix(&standin.url()).unwrap();
    let (status, second) = answer(graph_get(&standin, next, &token).await).await;
    assert_eq!(status, 200, "{next}: {second}");
    assert_eq!(second["value"][0]["userPrincipalName"], "u3@contoso.com");
    assert!(second.get("@odata.nextLink").is_none());
    for top in ["0", "1000", "-1", "two"] {
        let path = format!("/v1.0/users?$filter=mail eq 'team@contoso.com'&$top={top}");
        assert_eq!(
            graph_get(&standin, &path, &token).await.status(),
            400,
            "{top}"
        );
    }
}

#[tokio::test]
async fn any_other_filter_is_an_unsupported_query() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    for path in [
        "/v1.0/users",
        "/v1.0/users?$select=id",
        "/v1.0/users?$filter=userPrincipalName eq 'ada@contoso.com'",
        "/v1.0/users?$filter=mail eq 'a@x' or mail eq 'b@x'",
        "/v1.0/users?$filter=startswith(mail,'ada')",
        "/v1.0/users?$filter=mail  eq 'ada@contoso.com'",
        "/v1.0/users?$filter=mail+eq+'ada@contoso.com'",
        "/beta/users?$filter=mail eq ada@contoso.com",
    ] {
        let (status, body) = answer(graph_get(&standin, path, &token).await).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["code"], "Request_UnsupportedQuery", "{path}");
        assert_eq!(body["error"]["message"], "Unsupported query.", "{path}");
    }
    let (status, _) =
        answer(graph_get(&standin, "/v1.0/users?$filter=MAIL eq 'a@x'", &token).await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn check_member_groups_answers_the_groups_held_through_nesting() {
    let standin = listed(&[]).await;
    standin.add_user(ada());
    standin.add_group(GROUP_STAFF, &[ADA_ID]);
    standin.add_group(GROUP_LOST, &[GROUP_STAFF]);
    // A cycle must not hang the check.
    standin.add_group(GROUP_STAFF, &[GROUP_LOST]);
    let token = access_token(&standin).await;
    let asked = json!({"groupIds": [GROUP_OTHER, GROUP_LOST.to_uppercase(), GROUP_STAFF]});
    let response = check_groups(&standin, "ada@contoso.com", &asked, &token).await;
    assert!(response.headers().contains_key("request-id"));
    let (status, body) = answer(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
            "value": [GROUP_LOST.to_uppercase(), GROUP_STAFF]
        })
    );
    let (status, body) = answer(check_groups(&standin, ADA_ID, &asked, &token).await).await;
    assert_eq!((status, body["value"].as_array().unwrap().len()), (200, 2));
    let call = standin.graph_calls().pop().unwrap();
    assert_eq!(call.user.as_deref(), Some(ADA_ID));

    let (status, body) =
        answer(check_groups(&standin, "ghost@contoso.com", &asked, &token).await).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
}

#[tokio::test]
async fn check_member_groups_takes_1_to_20_guids() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let twenty_one: Vec<String> = (0..21)
        .map(|n| format!("9b000000-0000-4000-8000-{n:012}"))
        .collect();
    let refused = [
        json!({"groupIds": twenty_one}),
        json!({"groupIds": [GROUP_LOST, "lost-devices"]}),
        json!({"groupIds": []}),
        json!({"groupIds": [1]}),
        json!({"groupIds": GROUP_LOST}),
        json!({}),
        json!({"groupIds": [GROUP_LOST], "extra": true}),
        json!([GROUP_LOST]),
    ];
    for body in refused {
        let (status, error) =
            answer(check_groups(&standin, "ada@contoso.com", &body, &token).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["error"]["code"], "Request_BadRequest", "{body}");
    }
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1.0/users/ada@contoso.com/checkMemberGroups",
            standin.url()
        ))
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let twenty = json!({"groupIds": twenty_one[..20]});
    let (status, body) =
        answer(check_groups(&standin, "ada@contoso.com", &twenty, &token).await).await;
    assert_eq!((status, body["value"].clone()), (200, json!([])));
    let get = graph_get(
        &standin,
        "/beta/users/ada@contoso.com/checkMemberGroups",
        &token,
    )
    .await;
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn lookup_membership_and_revoke_faults_are_consumed_apart() {
    let standin = start(secret_config()).await;
    let token = access_token(&standin).await;
    let user = "ada@contoso.com";
    standin.fail_next(user, vec![Fault::InternalError]);
    standin.fail_next_lookup(
        "ADA@contoso.com",
        vec![
            Fault::TooManyRequests {
                retry_after: Some(2),
            },
            Fault::ServiceUnavailable { retry_after: None },
        ],
    );
    standin.fail_next_membership(user, vec![Fault::Forbidden]);
    let asked = json!({"groupIds": [GROUP_LOST]});

    let (status, body) = answer(check_groups(&standin, user, &asked, &token).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied"))
    );
    let looked_up = graph_get(&standin, "/v1.0/users/ada@contoso.com", &token).await;
    assert_eq!(looked_up.status(), 429);
    assert_eq!(looked_up.headers()["retry-after"], "2");
    let filtered = "/v1.0/users?$filter=mail eq 'ada@contoso.com'";
    assert_eq!(graph_get(&standin, filtered, &token).await.status(), 503);
    let revoke = "/v1.0/users/ada@contoso.com/revokeSignInSessions";
    assert_eq!(
        graph_post(&standin, revoke, Some(&token)).await.status(),
        500
    );

    // Every queue is empty now: each call answers normally.
    assert_eq!(
        check_groups(&standin, user, &asked, &token).await.status(),
        200
    );
    assert_eq!(
        graph_get(&standin, "/v1.0/users/ada@contoso.com", &token)
            .await
            .status(),
        200
    );
    assert_eq!(graph_get(&standin, filtered, &token).await.status(), 200);
    assert_eq!(
        graph_post(&standin, revoke, Some(&token)).await.status(),
        200
    );
}

#[tokio::test]
async fn a_lookup_fault_waits_or_answers_its_error_before_the_directory() {
    let standin = listed(&[]).await;
    let token = access_token(&standin).await;
    standin.fail_next_lookup("ghost@contoso.com", vec![Fault::GatewayTimeout]);
    let path = "/v1.0/users/ghost@contoso.com";
    assert_eq!(graph_get(&standin, path, &token).await.status(), 504);
    assert_eq!(graph_get(&standin, path, &token).await.status(), 404);
    standin.fail_next_lookup(
        "ghost@contoso.com",
        vec![Fault::Slow(std::time::Duration::from_millis(200))],
    );
    let started = std::time::Instant::now();
    assert_eq!(graph_get(&standin, path, &token).await.status(), 404);
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
}

#[tokio::test]
async fn revoking_by_a_looked_up_id_resolves_to_the_listed_upn() {
    let standin = listed(&["Ada@Contoso.com"]).await;
    let token = access_token(&standin).await;
    let (status, user) =
        answer(graph_get(&standin, "/v1.0/users/ada@contoso.com?$select=id", &token).await).await;
    assert_eq!(status, 200);
    let id = user["id"].as_str().unwrap().to_owned();
    let revoke = format!("/v1.0/users/{id}/revokeSignInSessions");
    assert_eq!(
        graph_post(&standin, &revoke, Some(&token)).await.status(),
        200
    );
    let revocation = &standin.revocations()[0];
    assert_eq!(revocation.user, id);
    assert_eq!(revocation.upn.as_deref(), Some("Ada@Contoso.com"));

    // By UPN, the record names the UPN as the request did; an unlisted id is still 404.
    let by_upn = "/v1.0/users/ADA@contoso.com/revokeSignInSessions";
    assert_eq!(
        graph_post(&standin, by_upn, Some(&token)).await.status(),
        200
    );
    assert_eq!(
        standin.revocations()[1].upn.as_deref(),
        Some("ADA@contoso.com")
    );
    let stranger = "/v1.0/users/0f0f0f0f-0000-4000-8000-000000000001/revokeSignInSessions";
    assert_eq!(
        graph_post(&standin, stranger, Some(&token)).await.status(),
        404
    );
}

#[tokio::test]
async fn an_added_user_can_be_revoked_by_id_whatever_the_list_says() {
    let standin = listed(&[]).await;
    standin.add_user(ada());
    let token = access_token(&standin).await;
    let revoke = format!("/beta/users/{ADA_ID}/invalidateAllRefreshTokens");
    assert_eq!(
        graph_post(&standin, &revoke, Some(&token)).await.status(),
        200
    );
    assert_eq!(
        standin.revocations()[0].upn.as_deref(),
        Some("ada@contoso.com")
    );
}
