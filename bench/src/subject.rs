//! The functions compared in one run, and what a correct answer from each looks like.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Which function a measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectId {
    /// The release `webhook` binary, doing real revocations.
    Webhook,
    /// The same binary with the ledger configured (`LEDGER_TABLE`, DynamoDB on moto).
    WebhookLedger,
    /// The same binary with notifications alone (`NOTIFY_TOPIC_ARN`, SNS on moto): what
    /// `WebhookProtected` is without protection.
    WebhookNotified,
    /// The same binary with protection (`PROTECTED_USERS`, `PROTECTED_GROUPS`: each user
    /// looked up and checked against the groups on the stand-in) and notifications
    /// (`NOTIFY_TOPIC_ARN`, SNS on moto).
    WebhookProtected,
    /// The release `intune` binary: one scheduled run per event, reading the stand-in's
    /// Intune audit records, with its checkpoint and ledger in moto.
    Intune,
    /// A hello-world `lambda_http` binary with the same release profile.
    Floor,
    /// The same job in Python under `awslambdaric`.
    Python,
}

impl SubjectId {
    pub const ALL: [SubjectId; 7] = [
        SubjectId::Webhook,
        SubjectId::WebhookLedger,
        SubjectId::WebhookNotified,
        SubjectId::WebhookProtected,
        SubjectId::Intune,
        SubjectId::Floor,
        SubjectId::Python,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SubjectId::Webhook => "webhook",
            SubjectId::WebhookLedger => "webhook-ledger",
            SubjectId::WebhookNotified => "webhook-notified",
            SubjectId::WebhookProtected => "webhook-protected",
            SubjectId::Intune => "intune",
            SubjectId::Floor => "floor",
            SubjectId::Python => "python",
        }
    }

    pub fn parse(name: &str) -> Option<SubjectId> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// A log line that means the subject fell back from what it measures: a subject with the
    /// ledger that logs `ledger unavailable` answered without the ledger, one with
    /// notifications that logs `notification not sent` did not publish.
    pub fn must_not_log(self) -> Option<&'static str> {
        match self {
            SubjectId::WebhookLedger | SubjectId::Intune => Some("ledger unavailable"),
            SubjectId::WebhookNotified | SubjectId::WebhookProtected => {
                Some("notification not sent")
            }
            SubjectId::Webhook | SubjectId::Floor | SubjectId::Python => None,
        }
    }

    /// Whether the subject publishes a notification per event (`NOTIFY_TOPIC_ARN`).
    pub fn notifies(self) -> bool {
        matches!(
            self,
            SubjectId::WebhookNotified | SubjectId::WebhookProtected
        )
    }

    /// Whether the subject decides through the ledger table (`LEDGER_TABLE`).
    pub fn uses_ledger(self) -> bool {
        matches!(self, SubjectId::WebhookLedger | SubjectId::Intune)
    }

    /// What answer `n` (from 0) of a spawn must be for a measurement to count. The Intune
    /// poller's spawn has one new lost-mode record: its first run revokes its owner, the
    /// later ones find nothing new.
    pub fn expect(self, n: usize) -> Expect {
        match self {
            SubjectId::Webhook
            | SubjectId::WebhookLedger
            | SubjectId::WebhookNotified
            | SubjectId::WebhookProtected
            | SubjectId::Python => Expect::Revoked,
            SubjectId::Intune => Expect::Run {
                revoked: usize::from(n == 0),
            },
            SubjectId::Floor => Expect::Ok,
        }
    }

    /// How many events a warm spawn serves when `requested` are asked for: a poller run
    /// costs a listing and a checkpoint read and write, so 100 runs say what a warm run
    /// costs without making the benchmark wait on moto for 1,000.
    pub fn warm_events(self, requested: usize) -> usize {
        match self {
            SubjectId::Intune => requested.min(100),
            _ => requested,
        }
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The check applied to each answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// HTTP 200 and every user `revoked`: the function really called Graph.
    Revoked,
    /// HTTP 200.
    Ok,
    /// An Intune run's report: `revoked` users revoked, nobody owed, nothing refused.
    Run { revoked: usize },
}

/// How to start one subject, as Lambda would start its bootstrap.
#[derive(Debug, Clone)]
pub struct Subject {
    pub id: SubjectId,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// `LAMBDA_TASK_ROOT` and the working directory.
    pub task_root: PathBuf,
    /// `_HANDLER`.
    pub handler: String,
    /// Configuration of this subject only, on top of the run's function configuration.
    pub extra_env: Vec<(String, String)>,
}

impl Subject {
    /// A custom-runtime binary (`provided.al2023`): the bootstrap is the program itself.
    pub fn native(id: SubjectId, binary: PathBuf) -> Subject {
        let task_root = binary
            .parent()
            .map_or_else(|| PathBuf::from("."), PathBuf::from);
        Subject {
            id,
            program: binary,
            args: Vec::new(),
            task_root,
            handler: "bootstrap".into(),
            extra_env: Vec::new(),
        }
    }

    /// A Python handler under the runtime interface client, as a container image runs it:
    /// `python -m awslambdaric module.function`.
    pub fn python(python: PathBuf, task_root: PathBuf, handler: &str) -> Subject {
        Subject {
            id: SubjectId::Python,
            program: python,
            args: vec!["-m".into(), "awslambdaric".into(), handler.into()],
            task_root,
            handler: handler.into(),
            extra_env: Vec::new(),
        }
    }

    /// Runs the subject under `wrapper` (a profiler such as valgrind): `wrapper… program args…`.
    /// The numbers of a wrapped run are the profiler's, not the function's.
    pub fn wrapped(mut self, wrapper: &[String]) -> Subject {
        let Some((program, wrapper_args)) = wrapper.split_first() else {
            return self;
        };
        let mut args = wrapper_args.to_vec();
        args.push(self.program.display().to_string());
        args.append(&mut self.args);
        self.program = program.into();
        self.args = args;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapper_goes_in_front_of_the_command() {
        let python = Subject::python("/venv/bin/python".into(), "/task".into(), "h.f");
        let wrapped = python.wrapped(&["valgrind".into(), "--tool=callgrind".into()]);
        assert_eq!(wrapped.program, PathBuf::from("valgrind"));
        assert_eq!(
            wrapped.args,
            [
                "--tool=callgrind",
                "/venv/bin/python",
                "-m",
                "awslambdaric",
                "h.f"
            ]
        );
        let floor = Subject::native(SubjectId::Floor, "/bin/floor".into()).wrapped(&[]);
        assert_eq!(floor.program, PathBuf::from("/bin/floor"));
    }
}
