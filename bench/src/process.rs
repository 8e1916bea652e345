//! A function process: spawned with a Lambda environment, observed through /proc while it
//! runs, stopped with SIGTERM and reaped with `wait4`, whose kernel rusage is the measurement.
//!
//! The rusage of a reaped child covers all its threads for its whole life, and only CPU time:
//! time spent blocked on moto_server or the stand-in does not count.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How to start one function process.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The working directory (`LAMBDA_TASK_ROOT`).
    pub dir: PathBuf,
    /// The complete environment: nothing of the harness's own leaks in.
    pub env: Vec<(String, String)>,
    /// stdout and stderr go here (what Lambda would ship to CloudWatch Logs).
    pub log: PathBuf,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// What the kernel accounted to the reaped process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub user: Duration,
    pub system: Duration,
    /// `ru_maxrss`: the largest resident set, KiB.
    pub max_rss_kib: u64,
    pub exit: Exit,
}

impl Usage {
    /// User + system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot open the log file {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("wait4 on pid {pid}: {source}")]
    Wait { pid: i32, source: std::io::Error },
    #[error("cannot read /proc/{pid}/status: {source}")]
    Status { pid: i32, source: std::io::Error },
    #[error("/proc/{pid}/status has no VmHWM line")]
    NoPeak { pid: i32 },
}

/// How long a function may take to exit after SIGTERM before it gets SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(5);
const REAP_POLL: Duration = Duration::from_millis(1);

/// A running (or exited, not yet dropped) function process.
#[derive(Debug)]
pub struct Function {
    pid: libc::pid_t,
    spawned_at: Instant,
    reaped: Option<Usage>,
}

impl Function {
    /// Starts the process; `spawned_at` is taken just before the fork.
    pub fn spawn(launch: &Launch) -> Result<Function, ProcessError> {
        let log = File::create(&launch.log).map_err(|source| ProcessError::Log {
            path: launch.log.clone(),
            source,
        })?;
        let log_err = log.try_clone().map_err(|source| ProcessError::Log {
            path: launch.log.clone(),
            source,
        })?;
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.args)
            .current_dir(&launch.dir)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let spawned_at = Instant::now();
        let child = command.spawn().map_err(|source| ProcessError::Spawn {
            program: launch.program.clone(),
            source,
        })?;
        // The std handle neither waits nor kills on drop: from here on the pid is ours to reap.
        let pid = child.id() as libc::pid_t;
        Ok(Function {
            pid,
            spawned_at,
            reaped: None,
        })
    }

    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// `VmHWM` from /proc/PID/status: the peak resident set so far, KiB.
    pub fn peak_rss_kib(&self) -> Result<u64, ProcessError> {
        let status =
            std::fs::read_to_string(Path::new("/proc").join(self.pid.to_string()).join("status"))
                .map_err(|source| ProcessError::Status {
                pid: self.pid,
                source,
            })?;
        parse_vm_hwm(&status).ok_or(ProcessError::NoPeak { pid: self.pid })
    }

    /// The usage if the process has already exited (reaping it), else `None`.
    pub fn try_reap(&mut self) -> Result<Option<Usage>, ProcessError> {
        if self.reaped.is_none() {
            self.reaped = wait4(self.pid, false).map_err(|source| ProcessError::Wait {
                pid: self.pid,
                source,
            })?;
        }
        Ok(self.reaped)
    }

    /// SIGTERM (SIGKILL after a grace period), then the reaped process's usage.
    pub async fn terminate(mut self) -> Result<Usage, ProcessError> {
        if let Some(usage) = self.try_reap()? {
            return Ok(usage);
        }
        signal(self.pid, libc::SIGTERM);
        let deadline = Instant::now() + TERM_GRACE;
        let mut killed = false;
        loop {
            if let Some(usage) = self.try_reap()? {
                return Ok(usage);
            }
            if !killed && Instant::now() >= deadline {
                signal(self.pid, libc::SIGKILL);
                killed = true;
            }
            tokio::time::sleep(REAP_POLL).await;
        }
    }
}

impl Drop for Function {
    /// A function abandoned on an error path is killed and reaped, never left behind.
    fn drop(&mut self) {
        if self.reaped.is_none() {
            signal(self.pid, libc::SIGKILL);
            let _ = wait4(self.pid, true);
        }
    }
}

/// Sends `sig` to a child that has not been reaped yet (so its pid cannot have been reused).
fn signal(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own unreaped child.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// `wait4(pid)`: `Some(usage)` once the child has exited and is reaped. Non-blocking unless
/// `block`.
fn wait4(pid: libc::pid_t, block: bool) -> std::io::Result<Option<Usage>> {
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live, writable locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut status, flags, &mut rusage) };
        match reaped {
            0 => return Ok(None),
            r if r == pid => return Ok(Some(usage_of(status, &rusage))),
            _ => {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
}

fn usage_of(status: libc::c_int, rusage: &libc::rusage) -> Usage {
    let exit = if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    };
    Usage {
        user: timeval(rusage.ru_utime),
        system: timeval(rusage.ru_stime),
        max_rss_kib: u64::try_from(rusage.ru_maxrss).unwrap_or(0),
        exit,
    }
}

fn timeval(t: libc::timeval) -> Duration {
    let seconds = u64::try_from(t.tv_sec).unwrap_or(0);
    let micros = u32::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_secs(seconds) + Duration::from_micros(u64::from(micros))
}

/// The `VmHWM:   1234 kB` line of /proc/PID/status, in KiB.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status = "Name:\tfloor\nVmPeak:\t  20000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(5120));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\tlots kB\n"), None);
    }

    /// `sh -c script`, logging to /dev/null.
    fn sh(script: &str) -> Launch {
        Launch {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            dir: std::env::temp_dir(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            log: "/dev/null".into(),
        }
    }

    #[tokio::test]
    async fn a_terminated_process_is_reaped_with_its_usage() {
        let function = Function::spawn(&sh("sleep 30")).unwrap();
        assert!(function.peak_rss_kib().unwrap() > 0);
        let usage = function.terminate().await.unwrap();
        assert_eq!(usage.exit, Exit::Signal(libc::SIGTERM));
        assert!(usage.cpu() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn cpu_spent_by_the_child_is_counted() {
        let mut function =
            Function::spawn(&sh("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")).unwrap();
        let usage = loop {
            if let Some(usage) = function.try_reap().unwrap() {
                break usage;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        assert_eq!(usage.exit, Exit::Code(0));
        assert!(usage.cpu() > Duration::from_millis(10), "{usage:?}");
    }

    #[test]
    fn a_missing_program_is_an_error_not_a_panic() {
        let mut launch = sh("true");
        launch.program = "/nonexistent/bootstrap".into();
        assert!(matches!(
            Function::spawn(&launch),
            Err(ProcessError::Spawn { .. })
        ));
    }
}
