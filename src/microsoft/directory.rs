//! The directory reads protection needs (README, "Protected accounts"), on Graph v1.0:
//! - `GET /users/{id|upn}?$select=id,userPrincipalName,mail`: one call returns all protection
//!   matches against. Least-privileged application permission: `User.Read.All`
//!   (`User.ReadBasic.All` is not granted to apps for these reads).
//! - for an email that is no UPN, `GET /users?$filter=mail eq '…'&$top=2`: one match is that
//!   user, two are refused (never a guess); a default `$filter` on `mail`, no `ConsistencyLevel`
//!   needed.
//! - `POST /users/{id}/checkMemberGroups` with up to 20 `groupIds`, answered with the ones
//!   the user is a transitive member of: `User.Read.All` and `GroupMember.Read.All`.
//!
//! Every call goes through [`GraphClient::call`]; a status decides, never message text.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::time::Instant;

use super::calls::{GraphAnswer, GraphUnavailable};
use super::credentials::CredentialSource;
use super::graph::{GraphClient, user_path};
use crate::domain::{Identity, ObjectId, Upn, UserRef};
use crate::revocation::{Directory, Lookup, Unchecked};

/// The properties protection needs, in one lookup.
const SELECT: &str = "$select=id,userPrincipalName,mail";

/// A query value keeps only unreserved characters; quotes, spaces and `&` are escaped.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A user as Graph returns it with [`SELECT`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphUser {
    id: String,
    user_principal_name: String,
    mail: Option<String>,
}

impl GraphUser {
    fn identity(self) -> Option<Identity> {
        Some(Identity {
            id: ObjectId::parse(&self.id).ok()?,
            user_principal_name: self.user_principal_name,
            mail: self.mail,
        })
    }
}

#[derive(Deserialize)]
struct Collection<T> {
    value: Vec<T>,
}

impl<C: CredentialSource> GraphClient<C> {
    async fn by_reference(&self, user: &UserRef, deadline: Instant) -> Lookup {
        let url = self.graph_url_for(&format!("v1.0/{}?{SELECT}", user_path(user)));
        let answer = match self.call(Method::GET, &url, None, deadline).await {
            Ok(answer) => answer,
            Err(e) => return Lookup::Unchecked(unavailable(&e, user)),
        };
        match answer.status {
            StatusCode::OK => match serde_json::from_slice::<GraphUser>(&answer.body)
                .ok()
                .and_then(GraphUser::identity)
            {
                Some(identity) => found(identity, user, &answer),
                None => Lookup::Unchecked(unreadable(&answer, user)),
            },
            StatusCode::NOT_FOUND => match user {
                UserRef::Upn(email) => self.by_mail(email, deadline).await,
                UserRef::Id(_) => Lookup::NotFound,
            },
            _ => Lookup::Unchecked(refused(&answer, user, "User.Read.All")),
        }
    }

    /// The user whose `mail` is `email`, when exactly one is.
    async fn by_mail(&self, email: &Upn, deadline: Instant) -> Lookup {
        // An OData string literal doubles its quotes; the whole value is then escaped.
        let filter = format!("mail eq '{}'", email.as_str().replace('\'', "''"));
        let url = self.graph_url_for(&format!(
            "v1.0/users?$filter={}&{SELECT}&$top=2",
            utf8_percent_encode(&filter, QUERY_VALUE)
        ));
        let user = UserRef::Upn(email.clone());
        let answer = match self.call(Method::GET, &url, None, deadline).await {
            Ok(answer) => answer,
            Err(e) => return Lookup::Unchecked(unavailable(&e, &user)),
        };
        if answer.status != StatusCode::OK {
            return Lookup::Unchecked(refused(&answer, &user, "User.Read.All"));
        }
        let Ok(matches) = serde_json::from_slice::<Collection<GraphUser>>(&answer.body) else {
            return Lookup::Unchecked(unreadable(&answer, &user));
        };
        let mut users = matches.value.into_iter();
        match (users.next(), users.next()) {
            (None, _) => Lookup::NotFound,
            (Some(one), None) => match one.identity() {
                Some(identity) => found(identity, &user, &answer),
                None => Lookup::Unchecked(unreadable(&answer, &user)),
            },
            (Some(_), Some(_)) => Lookup::Ambiguous,
        }
    }
}

impl<C: CredentialSource> Directory for GraphClient<C> {
    async fn resolve(&self, user: &UserRef, deadline: Instant) -> Lookup {
        self.by_reference(user, deadline).await
    }

    async fn member_groups(
        &self,
        id: &ObjectId,
        groups: &[ObjectId],
        deadline: Instant,
    ) -> Result<Vec<ObjectId>, Unchecked> {
        let user = UserRef::Id(id.clone());
        let url = self.graph_url_for(&format!("v1.0/{}/checkMemberGroups", user_path(&user)));
        let ids: Vec<&str> = groups.iter().map(ObjectId::as_str).collect();
        let body = serde_json::json!({ "groupIds": ids });
        let answer = self
            .call(Method::POST, &url, Some(&body), deadline)
            .await
            .map_err(|e| unavailable(&e, &user))?;
        if answer.status == StatusCode::NOT_FOUND {
            // No such user: the lookup, sent with this check for an object id, says so too.
            tracing::debug!(user = %user, "checkMemberGroups: no such user");
            return Err(Unchecked::NoSuchUser);
        }
        if answer.status != StatusCode::OK {
            return Err(refused(
                &answer,
                &user,
                "User.Read.All and GroupMember.Read.All",
            ));
        }
        let members = serde_json::from_slice::<Collection<String>>(&answer.body)
            .map_err(|_| unreadable(&answer, &user))?;
        Ok(members
            .value
            .iter()
            .filter_map(|g| ObjectId::parse(g).ok())
            .filter(|g| groups.contains(g))
            .collect())
    }
}

/// `identity`, when it is the user `user` names (its id, or its UPN or mail): an answer about
/// anyone else is never acted on.
fn found(identity: Identity, user: &UserRef, answer: &GraphAnswer) -> Lookup {
    if identity.is_named_by(user) {
        return Lookup::Found(identity);
    }
    tracing::error!(
        request_id = answer.request_id.as_str(),
        user = %user,
        "Graph's directory answer names another user; the user is not revoked unchecked"
    );
    Lookup::Unchecked(Unchecked::Misconfigured)
}

fn unavailable(error: &GraphUnavailable, user: &UserRef) -> Unchecked {
    match error {
        GraphUnavailable::Transient(why) => {
            tracing::warn!(user = %user, why, "directory lookup not answered in time; owed");
            Unchecked::Transient
        }
        GraphUnavailable::Misconfigured(error) => {
            tracing::error!(user = %user, error, "cannot get a token for the directory lookup");
            Unchecked::Misconfigured
        }
    }
}

/// A status the lookup cannot use: 403 is the missing `permission`, anything else a request
/// Graph will not serve as sent.
fn refused(answer: &GraphAnswer, user: &UserRef, permission: &str) -> Unchecked {
    let request_id = answer.request_id.as_str();
    let graph_says = answer.error_text();
    if answer.status == StatusCode::FORBIDDEN {
        tracing::error!(
            request_id,
            user = %user,
            graph_says,
            "Graph denied the directory lookup protection needs: grant the application \
             permission {permission} with admin consent"
        );
        Unchecked::Denied
    } else {
        tracing::error!(
            status = answer.status.as_u16(),
            request_id,
            user = %user,
            graph_says,
            "Graph rejected the directory lookup; the user is not revoked unchecked"
        );
        Unchecked::Misconfigured
    }
}

fn unreadable(answer: &GraphAnswer, user: &UserRef) -> Unchecked {
    tracing::error!(
        request_id = answer.request_id.as_str(),
        user = %user,
        "Graph's directory answer lacks an object id or is not the documented shape"
    );
    Unchecked::Misconfigured
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> GraphAnswer {
        GraphAnswer {
            status: StatusCode::OK,
            request_id: "r".into(),
            client_request_id: uuid::Uuid::nil(),
            body: Vec::new(),
        }
    }

    #[test]
    fn an_answer_about_another_user_is_never_taken_for_the_user_asked_for() {
        let identity = Identity {
            id: ObjectId::parse("11111111-0000-4000-8000-000000000001").unwrap(),
            user_principal_name: "ann@contoso.com".into(),
            mail: Some("ann.smith@contoso.com".into()),
        };
        for asked in [
            "ANN@contoso.com",
            "ann.smith@contoso.com",
            "11111111-0000-4000-8000-000000000001",
        ] {
            let user = UserRef::parse(asked).unwrap();
            let lookup = found(identity.clone(), &user, &answer());
            assert_eq!(lookup, Lookup::Found(identity.clone()), "{asked}");
        }
        let other = UserRef::parse("bob@contoso.com").unwrap();
        assert_eq!(
            found(identity, &other, &answer()),
            Lookup::Unchecked(Unchecked::Misconfigured)
        );
    }

    #[test]
    fn a_mail_filter_escapes_quotes_as_odata_and_everything_else_for_the_query() {
        let filter = format!("mail eq '{}'", "o'neil&x=1@contoso.com".replace('\'', "''"));
        let value = utf8_percent_encode(&filter, QUERY_VALUE).to_string();
        assert_eq!(value, "mail%20eq%20%27o%27%27neil%26x%3D1%40contoso.com%27");
    }
}
