//! The one map from what a request came to, to its HTTP status (README, "Responses"). When
//! several statuses apply, the most severe wins: 503 > 500 > 422 > 202 > 200, which is the
//! numeric order of the codes the contract uses.

use lambda_http::http::StatusCode;

use super::error::IngressError;
use crate::revocation::{Outcome, Report, UserOutcome};

/// What a request came to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer<'a> {
    Health,
    Report(&'a Report),
    Refused(&'a IngressError),
}

/// The status `answer` is sent with.
pub(crate) fn status(answer: Answer<'_>) -> StatusCode {
    let of_user = |outcome: UserOutcome| match outcome {
        UserOutcome::Revoked
        | UserOutcome::DryRun
        | UserOutcome::Protected
        | UserOutcome::Duplicate => StatusCode::OK,
        UserOutcome::Queued => StatusCode::ACCEPTED,
        UserOutcome::UserNotFound | UserOutcome::Ambiguous => StatusCode::UNPROCESSABLE_ENTITY,
        UserOutcome::Denied => StatusCode::INTERNAL_SERVER_ERROR,
        UserOutcome::Failed | UserOutcome::InProgress => StatusCode::SERVICE_UNAVAILABLE,
    };
    match answer {
        Answer::Health => StatusCode::OK,
        Answer::Report(report) => {
            let event = match report.outcome {
                Outcome::NoUser | Outcome::TooManyUsers => StatusCode::UNPROCESSABLE_ENTITY,
                Outcome::Ignored | Outcome::Duplicate | Outcome::Uniform(_) | Outcome::Mixed => {
                    StatusCode::OK
                }
            };
            report
                .results
                .iter()
                .map(|r| of_user(r.outcome))
                .fold(event, StatusCode::max)
        }
        Answer::Refused(error) => match error {
            IngressError::BadEvent(_) => StatusCode::BAD_REQUEST,
            IngressError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            IngressError::UnknownSource => StatusCode::NOT_FOUND,
            IngressError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngressError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            IngressError::BadPayload(_) => StatusCode::BAD_REQUEST,
            IngressError::Secret(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            IngressError::Secret(_) => StatusCode::INTERNAL_SERVER_ERROR,
        },
    }
}

/// The decider (with the seams' fakes) and this map together: the statuses a sender sees.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::testing::*;
    use crate::revocation::{GraphReceipt, Policy, Revocation};

    fn of(report: &Report) -> StatusCode {
        status(Answer::Report(report))
    }

    #[tokio::test]
    async fn one_users_outcome_sets_the_status_alone() {
        let cases = [
            (Revocation::Revoked(GraphReceipt::default()), StatusCode::OK),
            (Revocation::UserNotFound, StatusCode::UNPROCESSABLE_ENTITY),
            (Revocation::Denied, StatusCode::INTERNAL_SERVER_ERROR),
            (Revocation::Misconfigured, StatusCode::INTERNAL_SERVER_ERROR),
            (Revocation::Transient, StatusCode::SERVICE_UNAVAILABLE),
        ];
        for (answer, expected) in cases {
            let d = decider(Policy::default(), vec![("a@c.com", answer)]);
            let r = d.decide(&source(), lost("e1", &["a@c.com"]), later()).await;
            assert_eq!(of(&r), expected, "{answer:?}");
        }
        let queued = with_queue(
            Policy::default(),
            vec![("a@c.com", Revocation::Transient)],
            Some(Queue::default()),
        );
        let r = queued
            .decide(&source(), lost("e1", &["a@c.com"]), later())
            .await;
        assert_eq!(of(&r), StatusCode::ACCEPTED);
    }

    #[tokio::test]
    async fn decisions_without_a_graph_call_are_200() {
        let dry = decider(
            Policy {
                dry_run: true,
                ..Policy::default()
            },
            vec![],
        );
        let r = dry
            .decide(&source(), lost("e1", &["a@c.com"]), later())
            .await;
        assert_eq!((r.outcome_str(), of(&r)), ("dry_run", StatusCode::OK));

        let protected = decider(
            Policy {
                protected_users: vec![user("a@c.com")],
                ..Policy::default()
            },
            vec![],
        );
        let r = protected
            .decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!((r.outcome_str(), of(&r)), ("mixed", StatusCode::OK));

        let again = protected
            .decide(&source(), lost("e1", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!(
            (again.outcome_str(), of(&again)),
            ("duplicate", StatusCode::OK)
        );
    }

    #[tokio::test]
    async fn a_loss_naming_nobody_or_too_many_is_422_and_an_ignored_event_200() {
        let d = decider(
            Policy {
                max_users_per_event: 1,
                ..Policy::default()
            },
            vec![],
        );
        let nobody = d.decide(&source(), lost("e1", &[]), later()).await;
        assert_eq!(of(&nobody), StatusCode::UNPROCESSABLE_ENTITY);
        let many = d
            .decide(&source(), lost("e2", &["a@c.com", "b@c.com"]), later())
            .await;
        assert_eq!(of(&many), StatusCode::UNPROCESSABLE_ENTITY);
        let ignored = crate::domain::Parsed::Ignored {
            id: None,
            event_type: "device.enrolled".into(),
            reason: "not a loss".into(),
        };
        let r = d.decide(&source(), ignored, later()).await;
        assert_eq!(of(&r), StatusCode::OK);
    }

    #[test]
    fn health_is_200() {
        assert_eq!(status(Answer::Health), StatusCode::OK);
    }

    /// Every combination of answers for three users, under each policy (plain, dry run, one
    /// protected user), with no queue, a working queue and a broken one: whenever the status
    /// is 2xx, each user was revoked, decided without acting (dry run, protected), or has a
    /// job on the queue. Each event is sent twice: `duplicate` (200) only follows a user
    /// whose every user was settled (not `failed`, not `denied`).
    #[tokio::test]
    async fn no_2xx_answer_leaves_a_user_neither_revoked_decided_nor_queued() {
        let answers = [
            Revocation::Revoked(GraphReceipt::default()),
            Revocation::UserNotFound,
            Revocation::Denied,
            Revocation::Misconfigured,
            Revocation::Transient,
        ];
        let n = answers.len();
        let users = ["a@c.com", "b@c.com", "c@c.com"];
        let policies = [
            Policy::default(),
            Policy {
                dry_run: true,
                ..Policy::default()
            },
            Policy {
                protected_users: vec![user("b@c.com")],
                ..Policy::default()
            },
        ];
        let mut checked = 0;
        for combo in 0..n.pow(3) {
            let per_user: Vec<_> = (0..3)
                .map(|i| (users[i], answers[combo / n.pow(i as u32) % n]))
                .collect();
            for policy in &policies {
                for queue in [None, Some(false), Some(true)] {
                    let queue = queue.map(Queue::new);
                    let d = with_queue(policy.clone(), per_user.clone(), queue);
                    let first = d.decide(&source(), lost("e", &users), later()).await;
                    let queued = jobs(&d);
                    let first_ok = of(&first).is_success();
                    if first_ok {
                        for (result, (user, answer)) in first.results.iter().zip(&per_user) {
                            let acted = matches!(answer, Revocation::Revoked(_));
                            let decided = policy.dry_run
                                || policy.protected_users.iter().any(|p| p.as_str() == *user);
                            let is_queued = queued.iter().any(|q| q == user);
                            assert!(
                                acted || decided || is_queued,
                                "{user}: answered {} after {answer:?}, nothing queued",
                                of(&first)
                            );
                            assert_eq!(result.outcome == UserOutcome::Queued, is_queued);
                        }
                    }
                    let again = d.decide(&source(), lost("e", &users), later()).await;
                    if again.outcome == Outcome::Duplicate {
                        assert!(
                            first.results.iter().all(|r| r.outcome.is_settled()),
                            "a duplicate is only answered once every user is settled"
                        );
                    } else {
                        for (before, after) in first.results.iter().zip(&again.results) {
                            assert_eq!(
                                after.outcome == UserOutcome::Duplicate,
                                before.outcome.is_settled(),
                                "{}: {:?} then {:?}",
                                before.user,
                                before.outcome,
                                after.outcome
                            );
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 125 * 3 * 3);
    }

    #[tokio::test]
    async fn status_is_the_most_severe_of_the_users_outcomes() {
        let d = decider(
            Policy::default(),
            vec![
                ("gone@c.com", Revocation::UserNotFound),
                ("denied@c.com", Revocation::Denied),
                ("flaky@c.com", Revocation::Transient),
            ],
        );
        let s = |users: &'static [&'static str], id: &'static str| {
            let d = &d;
            async move { d.decide(&source(), lost(id, users), later()).await }
        };
        assert_eq!(
            of(&s(&["a@c.com", "gone@c.com"], "1").await),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            of(&s(&["gone@c.com", "denied@c.com"], "2").await),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            of(&s(&["denied@c.com", "flaky@c.com"], "3").await),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
