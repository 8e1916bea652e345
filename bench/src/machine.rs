//! The machine a run was taken on, recorded with the results: numbers from another machine, or
//! from a busy one, are not comparable.

use std::path::Path;
use std::process::Command;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub date_utc: String,
    pub cpu_model: String,
    pub logical_cpus: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub os: String,
    pub rustc: String,
    pub python: String,
    pub git_commit: String,
    /// 1-minute load average when the run started and ended: how quiet the machine was.
    pub load_average_start: f64,
    pub load_average_end: f64,
}

impl Machine {
    /// Everything but `load_average_end`, which [`Machine::finish`] fills in.
    pub fn describe(python: &Path) -> Machine {
        let cpuinfo = read("/proc/cpuinfo");
        Machine {
            date_utc: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            cpu_model: field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            logical_cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: field(&read("/proc/meminfo"), "MemTotal")
                .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
                .map_or(0.0, |kib| kib / 1024.0 / 1024.0),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            os: os_name(),
            rustc: output("rustc", &["-V"]),
            python: output(&python.display().to_string(), &["-V"]),
            git_commit: git_commit(),
            load_average_start: load_average(),
            load_average_end: f64::NAN,
        }
    }

    pub fn finish(&mut self) {
        self.load_average_end = load_average();
    }

    /// One line for the report.
    pub fn summary(&self) -> String {
        format!(
            "{} ({} logical CPUs, {:.0} GiB), Linux {}, {}, {}, {}; load average {:.2} at start, \
             {:.2} at end",
            self.cpu_model,
            self.logical_cpus,
            self.memory_gib,
            self.kernel,
            self.os,
            self.rustc,
            self.python,
            self.load_average_start,
            self.load_average_end
        )
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The value of the first `key : value` line.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

fn os_name() -> String {
    read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map_or_else(|| "unknown OS".into(), |v| v.trim_matches('"').to_owned())
}

fn load_average() -> f64 {
    read("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A command's first line of output, or "unknown".
fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn git_commit() -> String {
    let commit = output("git", &["rev-parse", "--short=12", "HEAD"]);
    // The results being rewritten by this very run do not make the measured code dirty.
    let dirty = Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)bench/results",
        ])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    if dirty {
        format!("{commit} (with local changes)")
    } else {
        commit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_by_key() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu\n";
        assert_eq!(field(cpuinfo, "model name").as_deref(), Some("AMD EPYC"));
        assert_eq!(field(cpuinfo, "bogus"), None);
    }
}
