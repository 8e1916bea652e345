//! The stand-in's directory and the Graph reads served from it:
//!
//! - `GET /{v}/users/{ref}` and `GET /{v}/users('{ref}')`: one user, by object id or UPN
//!   (both case-insensitive), with `$select` over `id`, `userPrincipalName`, `mail` and
//!   `displayName`; 404 `Request_ResourceNotFound` for an unknown user.
//! - `GET /{v}/users?$filter=mail eq '{value}'`: the users with that `mail`
//!   (case-insensitive), with `$select`, `$top` (1..=999) and `$skiptoken` (from an
//!   `@odata.nextLink`). Any other `$filter`, or none, is 400 `Request_UnsupportedQuery`.
//! - `POST /{v}/users/{ref}/checkMemberGroups` with `{"groupIds": [...]}` (1 to 20 GUIDs):
//!   the requested groups the user is a transitive member of, in request order.
//!
//! A query string is percent-decoded with `+` kept as `+`, as RFC 3986 reads it. Query
//! arguments a route does not take are refused with 400, as Graph's directory does
//! ("Unrecognized query argument specified"); on beta the `$` prefix is optional.
//!
//! Users are those added with [`crate::Standin::add_user`]; otherwise, when
//! [`crate::Config::known_users`] is `None` or lists the reference, a user is synthesized:
//! for a UPN, a GUID derived from SHA-256 of the lower-cased UPN; for a GUID, that GUID with
//! `userPrincipalName` `{id}@standin.invalid` and no `mail`. A listed UPN is also found by
//! its synthesized id; with no list, a synthesized UPN user, once served, is remembered, so
//! that a later reference by its id finds the same user rather than `{id}@standin.invalid`.

use std::collections::{HashMap, HashSet};

use axum::http::{Method, StatusCode};
use axum::response::Response;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::graph::{
    GraphError, apply_fault, graph_error, method_not_allowed, odata_json, user_not_found,
};
use crate::graph_path::UserPath;
use crate::records::DirectoryUser;
use crate::state::Shared;

/// Properties of `microsoft.graph.user` the stand-in serves, in reply order.
const PROPERTIES: [&str; 4] = ["id", "userPrincipalName", "mail", "displayName"];

/// Graph's limit on `groupIds` in one `checkMemberGroups` ("up to 20").
const MAX_GROUP_IDS: usize = 20;

/// Graph's default page size for the user list.
const DEFAULT_PAGE_SIZE: usize = 100;

/// Users and groups, kept in the stand-in's state.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    users: Vec<DirectoryUser>,
    /// Lower-cased group id → lower-cased members (user ids or UPNs, or group ids).
    groups: HashMap<String, Vec<String>>,
    /// Synthesized id → the UPN it was derived from, for users already served.
    synthesized: HashMap<String, String>,
}

impl Directory {
    /// Adds `user`, replacing one with the same id.
    pub(crate) fn add_user(&mut self, user: DirectoryUser) {
        match self
            .users
            .iter_mut()
            .find(|u| u.id.eq_ignore_ascii_case(&user.id))
        {
            Some(existing) => *existing = user,
            None => self.users.push(user),
        }
    }

    /// Adds members to group `group_id` (created when new).
    pub(crate) fn add_group(&mut self, group_id: &str, members: &[&str]) {
        self.groups
            .entry(group_id.to_lowercase())
            .or_default()
            .extend(members.iter().map(|m| m.to_lowercase()));
    }

    /// The user `reference` (object id or UPN, case-insensitive) names, if the directory has
    /// it. `known` is [`crate::Config::known_users`].
    pub(crate) fn resolve(
        &mut self,
        reference: &str,
        known: Option<&[String]>,
    ) -> Option<DirectoryUser> {
        let lower = reference.to_lowercase();
        if let Some(user) = self
            .users
            .iter()
            .find(|u| u.id.to_lowercase() == lower || u.user_principal_name.to_lowercase() == lower)
        {
            return Some(user.clone());
        }
        if is_guid(reference) {
            // A listed UPN is found by its id, as listed; with no list, a UPN already served.
            let listed_upn = known
                .into_iter()
                .flatten()
                .find(|k| !is_guid(k) && synthesized_id(k) == lower);
            if let Some(upn) = listed_upn.or_else(|| self.synthesized.get(&lower)) {
                return Some(upn_user(upn));
            }
            return listed(known, reference).then(|| guid_user(&lower));
        }
        listed(known, reference).then(|| self.remember(upn_user(reference)))
    }

    /// The users whose `mail` is `mail` (case-insensitive): added ones, then the synthesized
    /// user of `mail` unless an added user already has it as UPN or mail.
    pub(crate) fn with_mail(&mut self, mail: &str, known: Option<&[String]>) -> Vec<DirectoryUser> {
        let lower = mail.to_lowercase();
        let mut found: Vec<DirectoryUser> = self
            .users
            .iter()
            .filter(|u| u.mail.as_deref().is_some_and(|m| m.to_lowercase() == lower))
            .cloned()
            .collect();
        let taken = !found.is_empty()
            || self
                .users
                .iter()
                .any(|u| u.user_principal_name.to_lowercase() == lower);
        if !taken && !mail.is_empty() && !is_guid(mail) && listed(known, mail) {
            found.push(self.remember(upn_user(mail)));
        }
        found
    }

    /// Of `group_ids`, those `user` is a member of, directly or through nested groups, in
    /// order and without repeats.
    pub(crate) fn member_groups(&self, user: &DirectoryUser, group_ids: &[String]) -> Vec<String> {
        let mut answered = HashSet::new();
        group_ids
            .iter()
            .filter(|g| answered.insert(g.to_lowercase()))
            .filter(|g| self.is_member(g, user))
            .cloned()
            .collect()
    }

    /// Depth-first through nested groups; each group is visited once, so cycles end.
    fn is_member(&self, group_id: &str, user: &DirectoryUser) -> bool {
        let id = user.id.to_lowercase();
        let upn = user.user_principal_name.to_lowercase();
        let mut visited = HashSet::new();
        let mut pending = vec![group_id.to_lowercase()];
        while let Some(group) = pending.pop() {
            if !visited.insert(group.clone()) {
                continue;
            }
            for member in self.groups.get(&group).into_iter().flatten() {
                if *member == id || *member == upn {
                    return true;
                }
                if self.groups.contains_key(member) {
                    pending.push(member.clone());
                }
            }
        }
        false
    }

    fn remember(&mut self, user: DirectoryUser) -> DirectoryUser {
        self.synthesized
            .insert(user.id.clone(), user.user_principal_name.clone());
        user
    }
}

/// Whether `known` (`None`: everyone) lists `reference`, case-insensitively.
fn listed(known: Option<&[String]>, reference: &str) -> bool {
    known.is_none_or(|known| {
        let reference = reference.to_lowercase();
        known.iter().any(|k| k.to_lowercase() == reference)
    })
}

/// The synthesized user of a UPN.
fn upn_user(upn: &str) -> DirectoryUser {
    DirectoryUser {
        id: synthesized_id(upn),
        user_principal_name: upn.to_owned(),
        mail: Some(upn.to_owned()),
    }
}

/// The synthesized user of an object id (lower-cased).
fn guid_user(id: &str) -> DirectoryUser {
    DirectoryUser {
        id: id.to_owned(),
        user_principal_name: format!("{id}@standin.invalid"),
        mail: None,
    }
}

/// The object id the stand-in gives the UPN `upn`: the first 16 bytes of SHA-256 of the
/// lower-cased UPN, as a lower-case GUID.
pub(crate) fn synthesized_id(upn: &str) -> String {
    let digest = Sha256::digest(upn.to_lowercase().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex in either case.
pub(crate) fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `GET users/{ref}`.
pub(crate) async fn user(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    path: UserPath,
) -> Result<Response, GraphError> {
    let options = query_options(query, path.version, &["$select"])?;
    if method != Method::GET {
        return Err(method_not_allowed());
    }
    let select = parse_select(options.get("$select"))?;
    let fault = shared.write(|s| s.next_fault(&lookup_key(&path.user)));
    if let Some(error) = apply_fault(fault).await {
        return Err(error);
    }
    let user = shared
        .resolve_user(&path.user)
        .ok_or_else(|| user_not_found(&path.user))?;
    let mut body = user_json(&user, select.as_deref());
    body.insert(
        "@odata.context".into(),
        Value::String(format!(
            "https://{}/{}/$metadata#users{}/$entity",
            shared.config.graph_host,
            path.version,
            selected(select.as_deref())
        )),
    );
    Ok(odata_json(&Value::Object(body)))
}

/// `GET users?$filter=mail eq '…'`.
pub(crate) async fn user_query(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    version: &str,
) -> Result<Response, GraphError> {
    let allowed = ["$filter", "$select", "$top", "$skiptoken"];
    let options = query_options(query, version, &allowed)?;
    if method != Method::GET {
        return Err(method_not_allowed());
    }
    let filter = options.get("$filter").map(String::as_str);
    let mail = filter.and_then(mail_filter).ok_or_else(|| {
        graph_error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "Unsupported query.",
        )
    })?;
    let select = parse_select(options.get("$select"))?;
    let top = match options.get("$top") {
        None => None,
        Some(text) => Some(parse_top(text)?),
    };
    let skip = match options.get("$skiptoken") {
        None => 0,
        Some(token) => token.parse::<usize>().map_err(|_| {
            graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                "The specified page token value has expired and can no longer be included in \
                 your request.",
            )
        })?,
    };
    let fault = shared.write(|s| s.next_fault(&lookup_key(&mail)));
    if let Some(error) = apply_fault(fault).await {
        return Err(error);
    }
    let users = shared.users_with_mail(&mail);
    let size = top.unwrap_or(DEFAULT_PAGE_SIZE);
    let page: Vec<Value> = users
        .iter()
        .skip(skip)
        .take(size)
        .map(|u| Value::Object(user_json(u, select.as_deref())))
        .collect();
    let mut body = json!({
        "@odata.context": format!(
            "https://{}/{version}/$metadata#users{}",
            shared.config.graph_host,
            selected(select.as_deref())
        ),
        "value": page,
    });
    if skip + size < users.len() {
        let mut next = vec![("$filter", filter.unwrap_or_default().to_owned())];
        if let Some(select) = options.get("$select") {
            next.push(("$select", select.clone()));
        }
        if let Some(top) = top {
            next.push(("$top", top.to_string()));
        }
        next.push(("$skiptoken", (skip + size).to_string()));
        let query: Vec<String> = next
            .iter()
            .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, NON_ALPHANUMERIC)))
            .collect();
        let base = shared.read(|s| s.next_link_base.clone());
        let base = base.unwrap_or_else(|| shared.base_url.clone());
        body["@odata.nextLink"] =
            Value::String(format!("{base}/{version}/users?{}", query.join("&")));
    }
    Ok(odata_json(&body))
}

/// `POST users/{ref}/checkMemberGroups`.
pub(crate) async fn check_member_groups(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    body: &[u8],
    path: UserPath,
) -> Result<Response, GraphError> {
    query_options(query, path.version, &[])?;
    if method != Method::POST {
        return Err(method_not_allowed());
    }
    let fault = shared.write(|s| s.next_fault(&membership_key(&path.user)));
    if let Some(error) = apply_fault(fault).await {
        return Err(error);
    }
    let group_ids = parse_group_ids(body)?;
    let user = shared
        .resolve_user(&path.user)
        .ok_or_else(|| user_not_found(&path.user))?;
    let member_of = shared.read(|s| s.directory.member_groups(&user, &group_ids));
    let body = json!({
        "@odata.context": format!(
            "https://{}/{}/$metadata#Collection(Edm.String)",
            shared.config.graph_host, path.version
        ),
        "value": member_of,
    });
    Ok(odata_json(&body))
}

/// The fault key of user lookups (by path or by `mail`) of `reference`.
pub(crate) fn lookup_key(reference: &str) -> String {
    format!("lookup:{reference}")
}

/// The fault key of `checkMemberGroups` of `reference`.
pub(crate) fn membership_key(reference: &str) -> String {
    format!("groups:{reference}")
}

fn bad_request(message: impl Into<String>) -> GraphError {
    graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

/// The query arguments, percent-decoded (`+` stays `+`), keyed by their lower-cased name with
/// its `$` (optional on beta). Arguments not in `allowed`, or repeated, are refused.
fn query_options(
    query: Option<&str>,
    version: &str,
    allowed: &[&str],
) -> Result<HashMap<String, String>, GraphError> {
    let mut options = HashMap::new();
    for part in query.unwrap_or_default().split('&') {
        if part.is_empty() {
            continue;
        }
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let (name, value) = (decode_query(name)?, decode_query(value)?);
        let mut key = name.to_lowercase();
        if version == "beta" && !key.starts_with('$') {
            key.insert(0, '$');
        }
        if !allowed.contains(&key.as_str()) {
            return Err(bad_request(format!(
                "Unrecognized query argument specified: '{name}'."
            )));
        }
        if options.insert(key, value).is_some() {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!(
                    "Query option '{name}' was specified more than once, but it must be \
                     specified at most once."
                ),
            ));
        }
    }
    Ok(options)
}

fn decode_query(text: &str) -> Result<String, GraphError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| {
            graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Bad Request - Error in query syntax.",
            )
        })
}

/// `$select`: the named properties, in request order without repeats.
fn parse_select(value: Option<&String>) -> Result<Option<Vec<&'static str>>, GraphError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let mut chosen: Vec<&'static str> = Vec::new();
    for item in value.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Bad Request - Error in query syntax.",
            ));
        }
        let property = PROPERTIES
            .iter()
            .find(|p| p.eq_ignore_ascii_case(item))
            .ok_or_else(|| {
                graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!(
                        "Could not find a property named '{item}' on type 'microsoft.graph.user'."
                    ),
                )
            })?;
        if !chosen.contains(property) {
            chosen.push(property);
        }
    }
    Ok(Some(chosen))
}

/// `$top`: 1 to 999.
fn parse_top(text: &str) -> Result<usize, GraphError> {
    text.parse::<usize>()
        .ok()
        .filter(|top| (1..=999).contains(top))
        .ok_or_else(|| {
            bad_request(format!(
                "Invalid page size specified: '{text}'. Must be between 1 and 999 inclusive."
            ))
        })
}

/// `mail eq '{literal}'` exactly (property name in any case, single spaces), with `''` an
/// escaped quote inside the literal.
pub(crate) fn mail_filter(filter: &str) -> Option<String> {
    let (property, rest) = filter.split_once(' ')?;
    if !property.eq_ignore_ascii_case("mail") {
        return None;
    }
    let literal = rest.strip_prefix("eq ")?;
    let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return None;
        }
        value.push(c);
    }
    Some(value)
}

/// The `mail` a user query's `$filter` names, if it is one the stand-in reads (for the log).
pub(crate) fn filtered_mail(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|part| part.split_once('='))
        .find(|(name, _)| {
            let name = name.strip_prefix('$').unwrap_or(name);
            name.eq_ignore_ascii_case("filter")
        })
        .and_then(|(_, filter)| decode_query(filter).ok())
        .and_then(|filter| mail_filter(&filter))
}

/// The `(id,mail,…)` a `$select` puts in `@odata.context`.
fn selected(select: Option<&[&str]>) -> String {
    select.map_or_else(String::new, |s| format!("({})", s.join(",")))
}

/// The user as Graph shows it: the selected properties, or all four the stand-in knows.
fn user_json(user: &DirectoryUser, select: Option<&[&str]>) -> Map<String, Value> {
    let upn = &user.user_principal_name;
    let display_name = upn.split_once('@').map_or(upn.as_str(), |(name, _)| name);
    let values = [
        Value::String(user.id.clone()),
        Value::String(upn.clone()),
        user.mail.clone().map_or(Value::Null, Value::String),
        Value::String(display_name.to_owned()),
    ];
    PROPERTIES
        .iter()
        .zip(values)
        .filter(|(name, _)| select.is_none_or(|s| s.contains(name)))
        .map(|(name, value)| ((*name).to_owned(), value))
        .collect()
}

/// `{"groupIds": [...]}`: 1 to 20 GUIDs.
fn parse_group_ids(body: &[u8]) -> Result<Vec<String>, GraphError> {
    let payload: Value = serde_json::from_slice(body).map_err(|_| {
        bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and \
             payload is of valid JSON format.",
        )
    })?;
    let Some(payload) = payload.as_object() else {
        return Err(bad_request("The request payload must be a JSON object."));
    };
    if let Some(other) = payload.keys().find(|k| *k != "groupIds") {
        return Err(bad_request(format!(
            "The parameter '{other}' in the request payload is not a valid parameter for the \
             operation 'checkMemberGroups'."
        )));
    }
    let ids = payload.get("groupIds").ok_or_else(|| {
        bad_request("The parameter 'groupIds' is missing from the request payload.")
    })?;
    let ids: Option<Vec<String>> = ids.as_array().and_then(|ids| {
        ids.iter()
            .map(|id| id.as_str().map(str::to_owned))
            .collect()
    });
    let ids = ids.ok_or_else(|| {
        bad_request("Invalid value for the parameter 'groupIds': expected an array of strings.")
    })?;
    if ids.is_empty() {
        return Err(bad_request(
            "The parameter 'groupIds' must hold at least one group id.",
        ));
    }
    if ids.len() > MAX_GROUP_IDS {
        return Err(bad_request(format!(
            "The parameter 'groupIds' holds {} group ids; up to {MAX_GROUP_IDS} are allowed.",
            ids.len()
        )));
    }
    if let Some(invalid) = ids.iter().find(|id| !is_guid(id)) {
        return Err(bad_request(format!(
            "Invalid object identifier '{invalid}'."
        )));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, upn: &str, mail: Option<&str>) -> DirectoryUser {
        DirectoryUser {
            id: id.into(),
            user_principal_name: upn.into(),
            mail: mail.map(str::to_owned),
        }
    }

    const ADA_ID: &str = "0a0a0a0a-0000-4000-8000-000000000001";

    #[test]
    fn synthesized_ids_are_lower_case_guids_of_the_lower_cased_upn() {
        let id = synthesized_id("Ada@Contoso.com");
        assert!(is_guid(&id), "{id}");
        assert_eq!(id, id.to_lowercase());
        assert_eq!(id, synthesized_id("ada@contoso.com"));
        assert_ne!(id, synthesized_id("bob@contoso.com"));
    }

    #[test]
    fn guids_are_recognised_in_either_case_and_nothing_else_is() {
        assert!(is_guid(ADA_ID));
        assert!(is_guid("0A0A0A0A-0000-4000-8000-00000000000F"));
        for text in [
            "0a0a0a0a00004000800000000000000001",
            "0a0a0a0a-0000-4000-8000-00000000000g",
            "{0a0a0a0a-0000-4000-8000-000000000001}",
            "ada@contoso.com",
            "",
        ] {
            assert!(!is_guid(text), "{text}");
        }
    }

    #[test]
    fn added_users_are_found_by_id_or_upn_in_any_case() {
        let mut directory = Directory::default();
        directory.add_user(user(ADA_ID, "ada@contoso.com", None));
        let known = Some(&[][..]);
        for reference in [ADA_ID, &ADA_ID.to_uppercase(), "ADA@contoso.com"] {
            let found = directory.resolve(reference, known);
            assert_eq!(found.map(|u| u.id), Some(ADA_ID.to_owned()), "{reference}");
        }
        assert_eq!(directory.resolve("bob@contoso.com", known), None);
    }

    #[test]
    fn synthesized_users_follow_the_known_users_list() {
        let mut directory = Directory::default();
        let everyone = None;
        let upn = directory.resolve("Ada@Contoso.com", everyone).unwrap();
        assert_eq!(upn.user_principal_name, "Ada@Contoso.com");
        assert_eq!(upn.mail.as_deref(), Some("Ada@Contoso.com"));
        let by_id = directory.resolve(&upn.id.to_uppercase(), everyone).unwrap();
        assert_eq!(by_id, upn, "a served id finds its UPN again");
        let guid = directory.resolve(&ADA_ID.to_uppercase(), everyone).unwrap();
        assert_eq!(guid.id, ADA_ID);
        assert_eq!(
            guid.user_principal_name,
            format!("{ADA_ID}@standin.invalid")
        );
        assert_eq!(guid.mail, None);

        let mut listed = Directory::default();
        let known = vec!["ada@contoso.com".to_owned()];
        let known = Some(known.as_slice());
        let id = synthesized_id("ada@contoso.com");
        let by_id = listed.resolve(&id, known).unwrap();
        assert_eq!(by_id.user_principal_name, "ada@contoso.com");
        assert_eq!(listed.resolve(ADA_ID, known), None);
        assert_eq!(listed.resolve("bob@contoso.com", known), None);
    }

    #[test]
    fn membership_is_transitive_and_cycles_end() {
        let mut directory = Directory::default();
        let ada = user(ADA_ID, "ada@contoso.com", None);
        let (outer, inner, other) = (
            "9a000000-0000-4000-8000-000000000001",
            "9a000000-0000-4000-8000-000000000002",
            "9a000000-0000-4000-8000-000000000003",
        );
        directory.add_group(inner, &[ADA_ID, outer]);
        directory.add_group(outer, &[inner]);
        directory.add_group(other, &[outer.to_uppercase().as_str()]);
        let asked = [other, "9a000000-0000-4000-8000-00000000000f", outer];
        let asked: Vec<String> = asked.iter().map(|g| (*g).to_owned()).collect();
        assert_eq!(directory.member_groups(&ada, &asked), [other, outer]);
        let bob = user("0b0b0b0b-0000-4000-8000-000000000001", "bob@x", None);
        assert!(directory.member_groups(&bob, &asked).is_empty());
    }

    #[test]
    fn the_mail_filter_is_exactly_mail_eq_a_literal() {
        assert_eq!(
            mail_filter("mail eq 'ada@contoso.com'").as_deref(),
            Some("ada@contoso.com")
        );
        assert_eq!(
            mail_filter("Mail eq 'o''neil@x'").as_deref(),
            Some("o'neil@x")
        );
        assert_eq!(mail_filter("mail eq ''").as_deref(), Some(""));
        assert_eq!(mail_filter("mail eq 'a+b@x'").as_deref(), Some("a+b@x"));
        for filter in [
            "mail eq 'o'neil@x'",
            "mail  eq 'a@x'",
            "mail eq  'a@x'",
            "mail eq 'a@x' ",
            "mail eq a@x",
            "mail eq '",
            "mail EQ 'a@x'",
            "mail ne 'a@x'",
            "userPrincipalName eq 'a@x'",
            "mail eq 'a@x' or mail eq 'b@x'",
            "startswith(mail,'a')",
            "",
        ] {
            assert_eq!(mail_filter(filter), None, "{filter}");
        }
    }

    #[test]
    fn query_arguments_are_checked_by_name_and_decoded_without_plus() {
        let options = query_options(
            Some("$filter=mail%20eq%20'a+b@x'&$SELECT=id"),
            "v1.0",
            &["$filter", "$select"],
        )
        .unwrap();
        assert_eq!(options["$filter"], "mail eq 'a+b@x'");
        assert_eq!(options["$select"], "id");
        let beta = query_options(Some("select=id"), "beta", &["$select"]).unwrap();
        assert_eq!(beta["$select"], "id");
        assert!(query_options(Some("select=id"), "v1.0", &["$select"]).is_err());
        assert!(query_options(Some("/revokeSignInSessions"), "v1.0", &["$select"]).is_err());
        assert!(query_options(Some("$select=id&$select=mail"), "v1.0", &["$select"]).is_err());
        assert!(query_options(Some(""), "v1.0", &[]).is_ok());
    }
}
