//! What happened: per user ([`Revocation`] from the act seam, [`Decision`] after policy,
//! [`UserOutcome`] as reported) and per event ([`Report`]). Plain data; the HTTP status each
//! one answers with is decided in one place, `http::status`.

use crate::domain::{EventId, UserRef};

/// Microsoft's ids for the Graph call that signed a user out, for the audit line: what a
/// support case asks for, and what ties the line to Entra's own audit log. Both are GUIDs;
/// a `request-id` that is not one is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GraphReceipt {
    pub request_id: Option<uuid::Uuid>,
    pub client_request_id: Option<uuid::Uuid>,
    /// The Entra object id of the user signed out, when protection resolved the user to it
    /// (the event may have named them by UPN or by mail).
    pub object_id: Option<uuid::Uuid>,
}

/// What the act step reports for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Entra accepted the revocation, in the call the receipt names.
    Revoked(GraphReceipt),
    /// Entra has no such user.
    UserNotFound,
    /// Graph answered 403: the app lacks the permission or admin consent.
    Denied,
    /// The function cannot act as deployed: Entra rejects the app's credentials, the secret
    /// cannot be read, or Graph refused the call for another reason. Still owed: once the
    /// setup is fixed, a retry succeeds.
    Misconfigured,
    /// Nothing definite happened (timeouts, throttling, outages): the work is still owed.
    Transient,
}

/// What policy and the act seam made of one user, before any queueing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Protected,
    DryRun,
    /// The reference is an email more than one Entra user has: nobody is signed out on a
    /// guess.
    Ambiguous,
    Acted(Revocation),
}

impl Decision {
    /// The Graph call's ids, when the user was revoked.
    pub(crate) fn receipt(self) -> Option<GraphReceipt> {
        match self {
            Self::Acted(Revocation::Revoked(receipt)) => Some(receipt),
            _ => None,
        }
    }

    /// Whether the revocation is still owed: the retry function hands such a job back to SQS
    /// (and so, after the last attempt, to the DLQ and its alarm) instead of deleting it. A
    /// refusal is owed too: the webhook already answered 202 and the sender will not retry, so
    /// once consent or the setup is fixed, the job must still be there to act on or redrive.
    pub(crate) fn is_owed(self) -> bool {
        matches!(
            self,
            Self::Acted(Revocation::Transient | Revocation::Misconfigured | Revocation::Denied)
        )
    }
}

/// The outcome for one user, as reported in the response and the audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOutcome {
    Revoked,
    DryRun,
    Protected,
    UserNotFound,
    Queued,
    Denied,
    Failed,
    /// Already settled for this event, by this instance or (with the ledger) any other:
    /// nothing was done again.
    Duplicate,
    /// Another invocation is deciding this user for this event right now (the ledger's
    /// claim): the sender's retry finds it settled.
    InProgress,
    /// The reference is an email that more than one Entra user has as `mail`: refused, for a
    /// person to resolve.
    Ambiguous,
}

impl UserOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::DryRun => "dry_run",
            Self::Protected => "protected",
            Self::UserNotFound => "user_not_found",
            Self::Queued => "queued",
            Self::Denied => "denied",
            Self::Failed => "failed",
            Self::Duplicate => "duplicate",
            Self::InProgress => "in_progress",
            Self::Ambiguous => "ambiguous_user",
        }
    }
    /// Whether the user's case is closed: nothing more would happen on a redelivery (the same
    /// outcomes the ledger keeps). `denied` is not: once an admin grants consent, the sender's
    /// retry must act; nor is `dry_run`: a later live run must act.
    pub(crate) fn is_settled(self) -> bool {
        matches!(
            self,
            Self::Revoked | Self::Queued | Self::Protected | Self::UserNotFound | Self::Duplicate
        )
    }

    /// A sentence for the audit line (a `denied` line follows one saying which refusal).
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Revoked => "sessions revoked",
            Self::DryRun => "dry run: would revoke sessions",
            Self::Protected => "protected account: revocation refused",
            Self::UserNotFound => "Entra ID has no such user",
            Self::Queued => "queued for retry",
            Self::Denied => {
                "refused: Graph denied the revocation (permission or consent) or Entra rejected the app's credentials"
            }
            Self::Failed => "revocation failed and was not queued: the sender should retry",
            Self::Duplicate => "already handled for this event",
            Self::InProgress => {
                "another invocation is deciding this user for this event: the sender should retry"
            }
            Self::Ambiguous => {
                "refused: more than one Entra user has this email as mail; sign the right one out \
                 by hand and make the mail unique"
            }
        }
    }
}

impl From<Decision> for UserOutcome {
    /// Both refusals answer `denied` (500, README "Responses"); an owed transient one, `failed`.
    fn from(d: Decision) -> Self {
        match d {
            Decision::Protected => Self::Protected,
            Decision::DryRun => Self::DryRun,
            Decision::Ambiguous => Self::Ambiguous,
            Decision::Acted(Revocation::Revoked(_)) => Self::Revoked,
            Decision::Acted(Revocation::UserNotFound) => Self::UserNotFound,
            Decision::Acted(Revocation::Denied | Revocation::Misconfigured) => Self::Denied,
            Decision::Acted(Revocation::Transient) => Self::Failed,
        }
    }
}

/// One entry of the response's `results`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserResult {
    pub user: UserRef,
    pub outcome: UserOutcome,
    /// The Graph call's ids, when the user was revoked (for the notification; the response
    /// leaves them out).
    pub receipt: Option<GraphReceipt>,
}

/// The event-level outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Authentic, well-formed, and not a loss.
    Ignored,
    /// Already handled by this instance.
    Duplicate,
    /// A loss that names nobody to sign out.
    NoUser,
    /// A loss naming more users than `MAX_USERS_PER_EVENT`: refused whole.
    TooManyUsers,
    /// Every user ended the same way.
    Uniform(UserOutcome),
    /// Users ended differently.
    Mixed,
}

/// What happened to one event: the body of the HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub event_id: Option<EventId>,
    pub outcome: Outcome,
    pub results: Vec<UserResult>,
}

impl Report {
    pub(crate) fn for_users(event_id: EventId, results: Vec<UserResult>) -> Self {
        let first = results.first().map(|r| r.outcome);
        let outcome = match first {
            Some(o) if results.iter().all(|r| r.outcome == o) => Outcome::Uniform(o),
            Some(_) => Outcome::Mixed,
            None => Outcome::NoUser,
        };
        Self {
            event_id: Some(event_id),
            outcome,
            results,
        }
    }

    pub fn outcome_str(&self) -> &'static str {
        match self.outcome {
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::NoUser => "no_user",
            Outcome::TooManyUsers => "too_many_users",
            Outcome::Uniform(o) => o.as_str(),
            Outcome::Mixed => "mixed",
        }
    }
}
