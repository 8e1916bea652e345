//! One execution environment: its Runtime API server and the function process it started,
//! watched while events are settled, so a crash, an init error or a hang ends the wait with a
//! clear error instead of blocking the run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::lambda_env;
use crate::process::{Exit, Function, Launch, ProcessError, Usage};
use crate::runtime_api::{Completion, Dispatcher, RuntimeApi, Ticket};
use crate::subject::{Subject, SubjectId};

#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error("cannot start the Runtime API server: {0}")]
    RuntimeApi(std::io::Error),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("{subject} reported an init error: {body} (log: {log})")]
    InitError {
        subject: SubjectId,
        body: String,
        log: String,
    },
    #[error("{subject} exited ({exit:?}) with work outstanding (log: {log})")]
    Exited {
        subject: SubjectId,
        exit: Exit,
        log: String,
    },
    #[error("no answer within {waited:?} from {functions}")]
    Timeout { waited: Duration, functions: String },
    #[error("an event was dropped without an answer by {functions}")]
    Lost { functions: String },
    #[error("{subject} never called /next")]
    NeverReady { subject: SubjectId },
}

/// How often a wait checks that the functions are still alive.
const LIVENESS_CHECK: Duration = Duration::from_millis(20);

/// A started environment.
pub struct Environment {
    subject: SubjectId,
    api: RuntimeApi,
    function: Function,
    log: PathBuf,
}

/// What an environment left behind when it was shut down.
#[derive(Debug, Clone, Copy)]
pub struct Shutdown {
    /// Spawn to the first `/next`.
    pub init: Duration,
    /// `VmHWM` just before SIGTERM, KiB.
    pub peak_rss_kib: u64,
    pub usage: Usage,
}

impl Environment {
    /// Starts a Runtime API server on `dispatcher`, then the function with Lambda's
    /// environment plus `function_config`; stdout and stderr go to `log`.
    pub async fn start(
        subject: &Subject,
        dispatcher: Arc<Dispatcher>,
        function_config: &[(String, String)],
        log: PathBuf,
    ) -> Result<Environment, EnvironmentError> {
        let api = RuntimeApi::start(dispatcher)
            .await
            .map_err(EnvironmentError::RuntimeApi)?;
        let launch = Launch {
            program: subject.program.clone(),
            args: subject.args.clone(),
            dir: subject.task_root.clone(),
            env: lambda_env::environment(subject, &api.address(), function_config),
            log: log.clone(),
        };
        let function = Function::spawn(&launch)?;
        Ok(Environment {
            subject: subject.id,
            api,
            function,
            log,
        })
    }

    /// Fails if the function reported an init error or has exited.
    fn check_alive(&mut self) -> Result<(), EnvironmentError> {
        if let Some(body) = self.api.init_error() {
            return Err(EnvironmentError::InitError {
                subject: self.subject,
                body,
                log: self.log_name(),
            });
        }
        if let Some(usage) = self.function.try_reap()? {
            return Err(EnvironmentError::Exited {
                subject: self.subject,
                exit: usage.exit,
                log: self.log_name(),
            });
        }
        Ok(())
    }

    fn log_name(&self) -> String {
        self.log.display().to_string()
    }

    /// Reads the peak RSS, stops the function with SIGTERM and reaps it.
    pub async fn shut_down(self) -> Result<Shutdown, EnvironmentError> {
        let first_next = self.api.first_next().ok_or(EnvironmentError::NeverReady {
            subject: self.subject,
        })?;
        let init = first_next.saturating_duration_since(self.function.spawned_at());
        let peak_rss_kib = self.function.peak_rss_kib()?;
        let usage = self.function.terminate().await?;
        Ok(Shutdown {
            init,
            peak_rss_kib,
            usage,
        })
    }
}

/// Waits for `ticket`, failing early when any of `environments` dies or after `timeout`.
pub async fn settle(
    ticket: &mut Ticket,
    environments: &mut [Environment],
    timeout: Duration,
) -> Result<Completion, EnvironmentError> {
    let deadline = Instant::now() + timeout;
    let mut check = tokio::time::interval(LIVENESS_CHECK);
    loop {
        tokio::select! {
            settled = ticket.settled() => {
                return settled.ok_or_else(|| EnvironmentError::Lost {
                    functions: describe(environments),
                });
            }
            _ = check.tick() => {
                for environment in environments.iter_mut() {
                    environment.check_alive()?;
                }
                if Instant::now() >= deadline {
                    return Err(EnvironmentError::Timeout {
                        waited: timeout,
                        functions: describe(environments),
                    });
                }
            }
        }
    }
}

/// "webhook (log: …), webhook (log: …)": who was supposed to answer.
fn describe(environments: &[Environment]) -> String {
    let names: Vec<String> = environments
        .iter()
        .map(|e| format!("{} (log: {})", e.subject, e.log_name()))
        .collect();
    names.join(", ")
}
