//! Reads a Graph request path, exactly as received, into what it addresses:
//!
//! - `/{version}/users/{u}/{action}` and `/{version}/users('{u}')/{action}`: a revoke action;
//! - `/{version}/users/{u}` and `/{version}/users('{u}')`: one user;
//! - `/{version}/users`: the user list (queried with `$filter`);
//! - `/{version}/users/{u}/checkMemberGroups` (or the key form): a membership check.
//!
//! The user segment must decode to one plain identifier (no `/`, not `.` or `..`).

use percent_encoding::percent_decode_str;

/// The two revoke actions and where Graph serves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// beta only; never promoted to v1.0.
    InvalidateAllRefreshTokens,
    /// v1.0 and beta.
    RevokeSignInSessions,
}

impl Action {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Action::InvalidateAllRefreshTokens => "invalidateAllRefreshTokens",
            Action::RevokeSignInSessions => "revokeSignInSessions",
        }
    }
}

/// A well-formed revoke request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) version: &'static str,
    pub(crate) action: Action,
    /// As received (for `users('…')`, between the quotes).
    pub(crate) user_raw: String,
    pub(crate) user: String,
}

/// A user as a path names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserPath {
    pub(crate) version: &'static str,
    /// As received (for `users('…')`, between the quotes).
    pub(crate) user_raw: String,
    pub(crate) user: String,
}

/// What a well-formed path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `users/{u}/{action}`.
    Revoke(Target),
    /// `users/{u}`.
    User(UserPath),
    /// `users`, the list.
    UserQuery { version: &'static str },
    /// `users/{u}/checkMemberGroups`.
    CheckMemberGroups(UserPath),
}

impl Route {
    /// The decoded user the path names, if any.
    pub(crate) fn user(&self) -> Option<&str> {
        match self {
            Route::Revoke(target) => Some(&target.user),
            Route::User(user) | Route::CheckMemberGroups(user) => Some(&user.user),
            Route::UserQuery { .. } => None,
        }
    }
}

/// A path Graph answers `400 BadRequest` to, with the user it named, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    pub(crate) user: Option<String>,
    pub(crate) message: String,
}

fn segment_not_found(segment: &str, user: Option<String>) -> Rejected {
    Rejected {
        user,
        message: format!("Resource not found for the segment '{segment}'."),
    }
}

pub(crate) fn parse(path: &str) -> Result<Route, Rejected> {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let version = match segments.first().copied() {
        Some("v1.0") => "v1.0",
        Some("beta") => "beta",
        other => {
            let message = format!("Invalid version: {}", other.unwrap_or(""));
            return Err(Rejected {
                user: None,
                message,
            });
        }
    };
    let (user_raw, user, rest) = match segments.get(1).copied() {
        Some("users") if segments.len() == 2 => return Ok(Route::UserQuery { version }),
        Some("users") => slash_form(&segments[2..])?,
        Some(segment) if segment.starts_with("users(") => key_form(segment, &segments[2..])?,
        Some(segment) => return Err(segment_not_found(segment, None)),
        None => return Err(segment_not_found(version, None)),
    };
    let addressed = UserPath {
        version,
        user_raw: user_raw.to_owned(),
        user,
    };
    match rest {
        [] => Ok(Route::User(addressed)),
        [segment] if is_check_member_groups(segment) => Ok(Route::CheckMemberGroups(addressed)),
        [segment] => match parse_action(version, segment) {
            Some(action) => Ok(Route::Revoke(Target {
                version,
                action,
                user_raw: addressed.user_raw,
                user: addressed.user,
            })),
            None => Err(segment_not_found(segment, Some(addressed.user))),
        },
        [extra, ..] => Err(segment_not_found(extra, Some(addressed.user))),
    }
}

/// `checkMemberGroups`, bare or namespace-qualified; v1.0 and beta.
fn is_check_member_groups(segment: &str) -> bool {
    segment.strip_prefix("microsoft.graph.").unwrap_or(segment) == "checkMemberGroups"
}

/// `users/{u}/…`: Graph reads a segment starting with `$` as a system segment (`$count`,
/// `$ref`), which is why its docs say UPNs starting with `$` need `users('$…')`.
fn slash_form<'a>(segments: &'a [&'a str]) -> Result<(&'a str, String, &'a [&'a str]), Rejected> {
    let Some((raw, rest)) = segments.split_first() else {
        return Err(segment_not_found("users", None));
    };
    let user = decode_user(raw)?;
    if user.starts_with('$') {
        return Err(segment_not_found(&user, Some(user.clone())));
    }
    Ok((raw, user, rest))
}

/// `users('{u}')/…`, the OData key form: quotes literal or `%27`, `''` escapes a quote.
fn key_form<'a>(
    segment: &'a str,
    rest: &'a [&'a str],
) -> Result<(&'a str, String, &'a [&'a str]), Rejected> {
    let syntax_error = || Rejected {
        user: None,
        message: "Bad Request - Error in query syntax.".into(),
    };
    let inner = segment
        .strip_prefix("users(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(syntax_error)?;
    let unquoted = strip_quote(inner, true).and_then(|s| strip_quote(s, false));
    let raw = unquoted.ok_or_else(syntax_error)?;
    let user = decode_user(raw)?.replace("''", "'");
    Ok((raw, user, rest))
}

/// Removes one leading (or trailing) single quote, literal or percent-encoded.
fn strip_quote(text: &str, leading: bool) -> Option<&str> {
    let quotes = ["'", "%27"];
    quotes.iter().find_map(|quote| {
        if leading {
            text.get(..quote.len())
                .filter(|head| head.eq_ignore_ascii_case(quote))
                .map(|_| &text[quote.len()..])
        } else {
            let cut = text.len().checked_sub(quote.len())?;
            text.get(cut..)
                .filter(|tail| tail.eq_ignore_ascii_case(quote))
                .map(|_| &text[..cut])
        }
    })
}

/// Percent-decodes a user segment and refuses what could never name one user.
fn decode_user(raw: &str) -> Result<String, Rejected> {
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| Rejected {
            user: None,
            message: "Invalid request: the user segment is not valid UTF-8 once decoded.".into(),
        })?;
    let user = decoded.into_owned();
    let hostile = user.is_empty()
        || user == "."
        || user == ".."
        || user.contains('/')
        || user.contains('\\')
        || user.chars().any(char::is_control);
    if hostile {
        return Err(segment_not_found(raw, Some(user)));
    }
    Ok(user)
}

/// The action segment, bare or namespace-qualified (`microsoft.graph.revokeSignInSessions`, as
/// the PowerShell SDK sends it).
fn parse_action(version: &str, segment: &str) -> Option<Action> {
    let name = segment.strip_prefix("microsoft.graph.").unwrap_or(segment);
    match (version, name) {
        ("beta", "invalidateAllRefreshTokens") => Some(Action::InvalidateAllRefreshTokens),
        (_, "revokeSignInSessions") => Some(Action::RevokeSignInSessions),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        match parse(path) {
            Ok(Route::Revoke(target)) => target,
            other => panic!("{path}: {other:?}"),
        }
    }

    fn user_path(path: &str) -> UserPath {
        match parse(path) {
            Ok(Route::User(user)) => user,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn guest_upns_decode_and_keep_their_raw_form() {
        let t = target(
            "/beta/users/ada_fabrikam.com%23EXT%23%40contoso.com/invalidateAllRefreshTokens",
        );
        assert_eq!(t.user, "ada_fabrikam.com#EXT#@contoso.com");
        assert_eq!(t.user_raw, "ada_fabrikam.com%23EXT%23%40contoso.com");
        assert_eq!(t.action, Action::InvalidateAllRefreshTokens);
        assert_eq!(t.version, "beta");
    }

    #[test]
    fn the_key_form_takes_dollar_upns_and_escaped_quotes() {
        let t = target("/v1.0/users('$ada@contoso.com')/revokeSignInSessions");
        assert_eq!(t.user, "$ada@contoso.com");
        assert_eq!(t.user_raw, "$ada@contoso.com");
        let t = target("/v1.0/users(%27%24o''brien%40contoso.com%27)/revokeSignInSessions");
        assert_eq!(t.user, "$o'brien@contoso.com");
        assert_eq!(t.user_raw, "%24o''brien%40contoso.com");
    }

    #[test]
    fn hostile_segments_address_nothing() {
        for path in [
            "/v1.0/users/a%2Fb/revokeSignInSessions",
            "/v1.0/users/%2E%2E/revokeSignInSessions",
            "/v1.0/users/../revokeSignInSessions",
            "/v1.0/users//revokeSignInSessions",
            "/v1.0/users/a/b/revokeSignInSessions",
            "/v1.0/users/a/revokeSignInSessions/",
            "/v1.0/users/$ada@contoso.com/revokeSignInSessions",
            "/v1.0/users/ada%FF/revokeSignInSessions",
            "/v1.0/users/ada/invalidateAllRefreshTokens",
            "/v1.0/revokeSignInSessions",
            "/v2.0/users/ada/revokeSignInSessions",
            "/v1.0/users('ada/revokeSignInSessions",
            "/v1.0/users(ada)/revokeSignInSessions",
            "/",
            "/v1.0/users/",
            "/v1.0/users/$ada@contoso.com",
            "/v1.0/users/a%2Fb",
            "/v1.0/users/..",
            "/v1.0/users/ada/checkMemberGroups/",
            "/v1.0/users/ada/checkmembergroups",
            "/v1.0/users/ada/extra/checkMemberGroups",
        ] {
            assert!(parse(path).is_err(), "{path} was accepted");
        }
    }

    #[test]
    fn a_user_without_an_action_is_a_user_lookup_not_a_revoke() {
        let u = user_path("/v1.0/users/ada");
        assert_eq!((u.version, u.user.as_str()), ("v1.0", "ada"));
        let u = user_path("/beta/users(%27%24o''brien%40contoso.com%27)");
        assert_eq!(u.user, "$o'brien@contoso.com");
        assert_eq!(u.user_raw, "%24o''brien%40contoso.com");
        let u = user_path("/v1.0/users/ada_fabrikam.com%23EXT%23%40contoso.com");
        assert_eq!(u.user, "ada_fabrikam.com#EXT#@contoso.com");
    }

    #[test]
    fn the_user_list_and_check_member_groups_are_routes_of_their_own() {
        assert_eq!(
            parse("/beta/users"),
            Ok(Route::UserQuery { version: "beta" })
        );
        for path in [
            "/v1.0/users/ada/checkMemberGroups",
            "/v1.0/users('ada')/microsoft.graph.checkMemberGroups",
        ] {
            match parse(path) {
                Ok(Route::CheckMemberGroups(u)) => assert_eq!(u.user, "ada", "{path}"),
                other => panic!("{path}: {other:?}"),
            }
        }
        let route = parse("/v1.0/users/ada/checkMemberGroups").unwrap();
        assert_eq!(route.user(), Some("ada"));
    }

    #[test]
    fn rejected_paths_still_name_the_user_they_tried() {
        let rejected = parse("/v1.0/users/a%2Fb/revokeSignInSessions").err();
        assert_eq!(rejected.and_then(|r| r.user), Some("a/b".to_owned()));
    }

    #[test]
    fn beta_serves_both_actions_and_qualified_names() {
        assert_eq!(
            target("/beta/users/ada/revokeSignInSessions").action,
            Action::RevokeSignInSessions
        );
        let qualified = target("/v1.0/users/ada/microsoft.graph.revokeSignInSessions");
        assert_eq!(qualified.action, Action::RevokeSignInSessions);
    }

    #[test]
    fn percent_and_query_characters_survive_when_encoded() {
        let t = target("/v1.0/users/100%25%3Fsure%40contoso.com/revokeSignInSessions");
        assert_eq!(t.user, "100%?sure@contoso.com");
    }
}
