//! The notification for people (README, "Notifications"): one per event that decided anything,
//! with a subject a pager or mail client shows well, a body naming the source, the event, the
//! devices, each user with the outcome and Graph's ids, and what to do next. Identifiers and
//! outcomes only: never a secret, token, assertion or signature (the event's payload and
//! headers are not quoted). Text the sender chose (the event type, device labels) has its
//! control characters replaced, so it cannot add lines of its own to the message.

use std::fmt::Write as _;

use super::outcome::{Outcome, Report, UserOutcome, UserResult};
use crate::domain::{LostDeviceEvent, Owner};

/// SNS takes a subject of ASCII characters without line breaks, "less than 100 characters
/// long".
const SUBJECT_LIMIT: usize = 99;

/// One message: what SNS publishes, and the attributes subscribers filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    pub body: String,
    /// The event's outcome as the response names it (`revoked`, `mixed`, `too_many_users`, …).
    pub outcome: &'static str,
    /// The source's route name (`jamf`, `standard`, `intune`, …).
    pub source: String,
}

/// The notice for `report` about `event`; `None` when nothing was decided (the event was
/// ignored, or every user was decided before).
pub(crate) fn compose(event: &LostDeviceEvent, report: &Report) -> Option<Notice> {
    let decided = match report.outcome {
        Outcome::Ignored | Outcome::Duplicate => false,
        Outcome::TooManyUsers | Outcome::NoUser => true,
        Outcome::Uniform(_) | Outcome::Mixed => {
            report.results.iter().any(|r| is_decision(r.outcome))
        }
    };
    if !decided {
        return None;
    }
    Some(Notice {
        subject: subject(event, report),
        body: body(event, report),
        outcome: report.outcome_str(),
        source: event.source.to_string(),
    })
}

/// Whether an outcome is a decision made now (not one found already made or being made).
fn is_decision(outcome: UserOutcome) -> bool {
    !matches!(outcome, UserOutcome::Duplicate | UserOutcome::InProgress)
}

/// Whether a person must look at this user's case.
fn needs_action(outcome: UserOutcome) -> bool {
    matches!(
        outcome,
        UserOutcome::Protected
            | UserOutcome::UserNotFound
            | UserOutcome::Denied
            | UserOutcome::Failed
            | UserOutcome::Ambiguous
    )
}

fn subject(event: &LostDeviceEvent, report: &Report) -> String {
    let action = matches!(report.outcome, Outcome::TooManyUsers | Outcome::NoUser)
        || report.results.iter().any(|r| needs_action(r.outcome));
    let tag = if action {
        "ACTION NEEDED"
    } else {
        "Lost device"
    };
    let decided: Vec<&UserResult> = report
        .results
        .iter()
        .filter(|r| is_decision(r.outcome))
        .collect();
    let what = match (report.outcome, decided.as_slice()) {
        (Outcome::TooManyUsers, _) => format!(
            "event naming {} users refused whole (over MAX_USERS_PER_EVENT)",
            event.owners.len()
        ),
        (Outcome::NoUser, _) => "the lost device names no user to sign out".to_owned(),
        (_, [one]) => format!("{} {}", one.user, one.outcome.as_str()),
        (_, many) => {
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for r in many {
                match counts.iter_mut().find(|(o, _)| *o == r.outcome.as_str()) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((r.outcome.as_str(), 1)),
                }
            }
            let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {o}")).collect();
            format!("{} users: {}", many.len(), parts.join(", "))
        }
    };
    let text = format!("[{tag}] {} {}: {what}", event.source, event.kind.as_str());
    let mut subject: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if subject.len() > SUBJECT_LIMIT {
        subject.truncate(SUBJECT_LIMIT - 3);
        subject.push_str("...");
    }
    subject
}

fn body(event: &LostDeviceEvent, report: &Report) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "A lost-device event was decided.\n");
    let _ = writeln!(text, "Source:     {}", event.source);
    let _ = writeln!(text, "Event id:   {}", plain(event.id.as_str()));
    let _ = writeln!(
        text,
        "Event type: {} ({})",
        plain(&event.event_type),
        event.kind.as_str()
    );
    let _ = writeln!(text, "Outcome:    {}", report.outcome_str());
    if report.outcome == Outcome::TooManyUsers {
        let _ = writeln!(
            text,
            "\nThe event names {} users, more than MAX_USERS_PER_EVENT: nobody was signed out.\n\
             Next: find out why the sender reported so many devices lost. If the losses are \
             real, raise MAX_USERS_PER_EVENT or revoke by hand; if not, rotate the sender's \
             webhook secret (docs/operations.md).",
            event.owners.len()
        );
        return text;
    }
    let _ = writeln!(text, "\nUsers:");
    for result in &report.results {
        let owner = event.owners.iter().find(|o| o.user == result.user);
        user_entry(&mut text, result, owner);
    }
    if !event.unowned.is_empty() {
        let labels: Vec<String> = event.unowned.iter().map(|d| plain(d.label())).collect();
        let _ = writeln!(
            text,
            "\nLost devices naming no user (nobody signed out for them): {}",
            labels.join(", ")
        );
    }
    let _ = writeln!(
        text,
        "\nThe audit log has one line per user under the same event id."
    );
    text
}

fn user_entry(text: &mut String, result: &UserResult, owner: Option<&Owner>) {
    let _ = write!(text, "- {}: {}", result.user, result.outcome.as_str());
    if let Some(receipt) = result.receipt {
        if let Some(object_id) = receipt.object_id {
            let _ = write!(text, " as Entra object {object_id}");
        }
        if let Some(id) = receipt.request_id {
            let _ = write!(text, " (Graph request-id {id}");
            match receipt.client_request_id {
                Some(client) => {
                    let _ = write!(text, ", client-request-id {client})");
                }
                None => text.push(')'),
            }
        } else if let Some(client) = receipt.client_request_id {
            let _ = write!(text, " (client-request-id {client})");
        }
    }
    text.push('\n');
    if let Some(owner) = owner.filter(|o| !o.devices.is_empty()) {
        let labels: Vec<String> = owner.devices.iter().map(|d| plain(d.label())).collect();
        let _ = writeln!(text, "  Devices: {}", labels.join(", "));
    }
    let _ = writeln!(text, "  {}", next_step(result.outcome));
}

/// `text` from the sender, on one line: control characters (line breaks included) become `?`.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What the reader should know or do about one outcome.
fn next_step(outcome: UserOutcome) -> &'static str {
    match outcome {
        UserOutcome::Revoked => {
            "Refresh tokens and browser sessions are revoked; access tokens already issued stay \
             valid until they expire (up to about an hour where the app lacks Continuous \
             Access Evaluation)."
        }
        UserOutcome::Queued => {
            "Graph did not finish in time: the retry function acts again; an alarm follows if \
             the job ends in the dead-letter queue."
        }
        UserOutcome::Protected => {
            "Next: a protected account was NOT signed out. Decide by hand whether to revoke its \
             sessions (Entra admin center, the user, Revoke sessions)."
        }
        UserOutcome::UserNotFound => {
            "Next: Entra ID has no such user. Check the MDM record's username against the \
             user's UPN and mail, and USER_DOMAIN; then revoke by hand."
        }
        UserOutcome::Denied => {
            "Next: Graph or Entra refused the app (permission, consent or credentials). Fix it \
             as docs/operations.md says; the sender's retry or the queue then acts."
        }
        UserOutcome::Failed => {
            "Next: neither done nor queued. The sender should deliver the event again; if it \
             does not, revoke by hand."
        }
        UserOutcome::Ambiguous => {
            "Next: more than one Entra user has this email as mail, so nobody was signed out. \
             Revoke the right user by hand and make the mail unique."
        }
        UserOutcome::DryRun => "Dry run: nothing was done.",
        UserOutcome::Duplicate => "Already decided for this event: nothing done again.",
        UserOutcome::InProgress => "Another invocation is deciding this user right now.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventId;
    use crate::revocation::GraphReceipt;
    use crate::revocation::testing::{lost, user};

    fn event(users: &[&str]) -> LostDeviceEvent {
        match lost("evt-9", users) {
            crate::domain::Parsed::Lost(event) => event,
            crate::domain::Parsed::Ignored { .. } => unreachable!(),
        }
    }

    fn result(u: &str, outcome: UserOutcome) -> UserResult {
        UserResult {
            user: user(u),
            outcome,
            receipt: None,
        }
    }

    #[test]
    fn one_revoked_user_gets_a_short_subject_and_the_graph_ids_in_the_body() {
        let event = event(&["alice@c.com"]);
        let request = uuid::Uuid::from_u128(1);
        let client = uuid::Uuid::from_u128(2);
        let report = Report::for_users(
            EventId::parse("evt-9").unwrap(),
            vec![UserResult {
                receipt: Some(GraphReceipt {
                    request_id: Some(request),
                    client_request_id: Some(client),
                    object_id: None,
                }),
                ..result("alice@c.com", UserOutcome::Revoked)
            }],
        );

        let notice = compose(&event, &report).unwrap();

        assert_eq!(
            notice.subject,
            "[Lost device] standard lost: alice@c.com revoked"
        );
        assert_eq!(
            (notice.outcome, notice.source.as_str()),
            ("revoked", "standard")
        );
        assert!(notice.body.contains("Event id:   evt-9"), "{}", notice.body);
        assert!(notice.body.contains(&format!("Graph request-id {request}")));
        assert!(notice.body.contains(&format!("client-request-id {client}")));
        assert!(notice.body.contains("Devices: SN-alice@c.com"));
    }

    #[test]
    fn a_case_a_person_must_handle_says_so_in_the_subject_and_what_to_do_in_the_body() {
        let event = event(&["a@c.com", "b@c.com", "c@c.com"]);
        let report = Report::for_users(
            EventId::parse("evt-9").unwrap(),
            vec![
                result("a@c.com", UserOutcome::Revoked),
                result("b@c.com", UserOutcome::Revoked),
                result("c@c.com", UserOutcome::Ambiguous),
            ],
        );

        let notice = compose(&event, &report).unwrap();

        assert_eq!(
            notice.subject,
            "[ACTION NEEDED] standard lost: 3 users: 2 revoked, 1 ambiguous_user"
        );
        assert_eq!(notice.outcome, "mixed");
        assert!(notice.body.contains("make the mail unique"));
    }

    #[test]
    fn text_the_sender_chose_cannot_add_lines_to_the_message() {
        let mut event = event(&["a@c.com"]);
        event.event_type = "device.lost\nOutcome:    ignored".into();
        event.owners[0].devices[0].serial_number = Some("SN1\r\nNext: nothing".into());
        let report = Report::for_users(
            EventId::parse("evt-9").unwrap(),
            vec![result("a@c.com", UserOutcome::Revoked)],
        );

        let body = compose(&event, &report).unwrap().body;

        assert!(
            body.contains("Event type: device.lost?Outcome:    ignored (lost)"),
            "{body}"
        );
        assert!(body.contains("Devices: SN1??Next: nothing"), "{body}");
        assert!(!body.lines().any(|l| l.starts_with("Outcome:    ignored")));
    }

    #[test]
    fn nothing_decided_now_sends_nothing() {
        let event = event(&["a@c.com"]);
        let report = Report::for_users(
            EventId::parse("evt-9").unwrap(),
            vec![result("a@c.com", UserOutcome::InProgress)],
        );
        assert_eq!(compose(&event, &report), None);
    }

    #[test]
    fn a_long_subject_is_cut_to_what_sns_accepts() {
        let long = format!("{}@c.com", "x".repeat(150));
        let event = event(&[long.as_str()]);
        let report = Report::for_users(
            EventId::parse("evt-9").unwrap(),
            vec![result(&long, UserOutcome::Revoked)],
        );
        let subject = compose(&event, &report).unwrap().subject;
        assert_eq!(subject.len(), SUBJECT_LIMIT);
        assert!(subject.ends_with("...") && subject.is_ascii() && !subject.contains('\n'));
    }
}
