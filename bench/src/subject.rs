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
    /// A hello-world `lambda_http` binary with the same release profile.
    Floor,
    /// The same job in Python under `awslambdaric`.
    Python,
}

impl SubjectId {
    pub const ALL: [SubjectId; 4] = [
        SubjectId::Webhook,
        SubjectId::WebhookLedger,
        SubjectId::Floor,
        SubjectId::Python,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SubjectId::Webhook => "webhook",
            SubjectId::WebhookLedger => "webhook-ledger",
            SubjectId::Floor => "floor",
            SubjectId::Python => "python",
        }
    }

    pub fn parse(name: &str) -> Option<SubjectId> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// A log line that means the subject fell back from what it measures: the ledger subject
    /// that logs `ledger unavailable` answered `revoked` without the ledger.
    pub fn must_not_log(self) -> Option<&'static str> {
        match self {
            SubjectId::WebhookLedger => Some("ledger unavailable"),
            SubjectId::Webhook | SubjectId::Floor | SubjectId::Python => None,
        }
    }

    /// What every answer of this subject must be for a measurement to count.
    pub fn expect(self) -> Expect {
        match self {
            SubjectId::Webhook | SubjectId::WebhookLedger | SubjectId::Python => Expect::Revoked,
            SubjectId::Floor => Expect::Ok,
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
