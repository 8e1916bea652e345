//! Command-line options. Every path has a default relative to the repository root, where
//! `make bench` runs the harness.

use std::path::PathBuf;

use crate::subject::SubjectId;

pub const USAGE: &str = "\
usage: lambda-bench [options]   (run through scripts/with_moto.py; `make bench` does)

Measures the webhook Lambda (as is, with the DynamoDB ledger, and with protection and
notifications) and the Intune poller
against a hello-world lambda_http floor and a Python reference under a local Lambda Runtime
API, then writes bench/results/latest.{md,json}.

  --webhook PATH          release webhook binary        [target/release/webhook]
  --intune PATH           release intune binary         [target/release/intune]
  --floor PATH            release floor binary          [target/release/floor]
  --python PATH           Python with awslambdaric      [.venv/bench-python/bin/python]
  --python-root DIR       the reference handler's dir   [bench/python]
  --secret FILE           the app secret to store       [examples/demo-secret.json]
  --repetitions N         spawn pairs per subject (≥ 1) [20]
  --events N              events in a warm spawn (≥ 2)  [1000; intune: at most 100 runs]
  --only LIST             subjects, comma-separated     [webhook,webhook-ledger,
                          webhook-notified,webhook-protected,intune,floor,python]
  --burst-events N        burst size, 0 to skip         [1000]
  --burst-environments N  concurrent environments       [10]
  --burst-throttle PCT    Graph calls answered 429      [20]
  --seed N                seed of the burst's 429s      [20261121]
  --artifact-dir DIR      cargo lambda's output         [target/lambda/webhook]
  --artifact-log FILE     its build log, for the reason if missing
  --wrap 'CMD ARGS'       run each subject under CMD (a profiler: valgrind --tool=callgrind);
                          its numbers are the profiler's, so results go to the work dir
  --work-dir DIR          function logs                 [target/bench]
  --out DIR               results                       [bench/results]";

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub webhook: PathBuf,
    pub intune: PathBuf,
    pub floor: PathBuf,
    pub python: PathBuf,
    pub python_root: PathBuf,
    pub secret: PathBuf,
    pub repetitions: usize,
    pub events: usize,
    pub subjects: Vec<SubjectId>,
    pub burst_events: usize,
    pub burst_environments: usize,
    pub burst_throttle_percent: u32,
    pub seed: u64,
    pub artifact_dir: PathBuf,
    pub artifact_log: Option<PathBuf>,
    /// A command line to run each subject under (a profiler), split on whitespace.
    pub wrap: Vec<String>,
    pub work_dir: PathBuf,
    pub out: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            webhook: "target/release/webhook".into(),
            intune: "target/release/intune".into(),
            floor: "target/release/floor".into(),
            python: ".venv/bench-python/bin/python".into(),
            python_root: "bench/python".into(),
            secret: "examples/demo-secret.json".into(),
            repetitions: 20,
            events: 1000,
            subjects: SubjectId::ALL.to_vec(),
            burst_events: 1000,
            burst_environments: 10,
            burst_throttle_percent: 20,
            seed: 20_261_121,
            artifact_dir: "target/lambda/webhook".into(),
            artifact_log: None,
            wrap: Vec::new(),
            work_dir: "target/bench".into(),
            out: "bench/results".into(),
        }
    }
}

#[derive(Debug)]
pub enum Command {
    Run(Box<Options>),
    Help,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--webhook" => options.webhook = value()?.into(),
            "--intune" => options.intune = value()?.into(),
            "--floor" => options.floor = value()?.into(),
            "--python" => options.python = value()?.into(),
            "--python-root" => options.python_root = value()?.into(),
            "--secret" => options.secret = value()?.into(),
            "--repetitions" => options.repetitions = at_least(&flag, &value()?, 1)?,
            "--events" => options.events = at_least(&flag, &value()?, 2)?,
            "--only" => options.subjects = subjects(&value()?)?,
            "--burst-events" => options.burst_events = at_least(&flag, &value()?, 0)?,
            "--burst-environments" => options.burst_environments = at_least(&flag, &value()?, 1)?,
            "--burst-throttle" => {
                let percent = at_least(&flag, &value()?, 0)?;
                options.burst_throttle_percent = u32::try_from(percent)
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| format!("{flag} is a percentage from 0 to 100"))?;
            }
            "--seed" => {
                let text = value()?;
                options.seed = text
                    .parse()
                    .map_err(|_| format!("{flag}: {text:?} is not a whole number"))?;
            }
            "--artifact-dir" => options.artifact_dir = value()?.into(),
            "--artifact-log" => options.artifact_log = Some(value()?.into()),
            "--wrap" => {
                options.wrap = value()?.split_whitespace().map(str::to_owned).collect();
            }
            "--work-dir" => options.work_dir = value()?.into(),
            "--out" => options.out = value()?.into(),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if !options.wrap.is_empty() {
        // A profiled run must never overwrite the committed results.
        options.out = options.work_dir.join("wrapped");
    }
    Ok(Command::Run(Box::new(options)))
}

fn at_least(flag: &str, text: &str, min: usize) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| format!("{flag}: {text:?} is not a whole number ≥ {min}"))
}

fn subjects(list: &str) -> Result<Vec<SubjectId>, String> {
    let mut chosen = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let id = SubjectId::parse(name).ok_or_else(|| {
            format!(
                "--only: unknown subject {name:?} (webhook, webhook-ledger, intune, floor, python)"
            )
        })?;
        if !chosen.contains(&id) {
            chosen.push(id);
        }
    }
    if chosen.is_empty() {
        return Err("--only names no subject".into());
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_follow_the_issue() {
        let Ok(Command::Run(options)) = parse(Vec::new()) else {
            panic!("no arguments is a run");
        };
        assert!(options.repetitions >= 10 && options.events >= 1000);
        assert_eq!(options.burst_events, 1000);
        assert_eq!(options.burst_throttle_percent, 20);
        assert_eq!(options.subjects, SubjectId::ALL);
    }

    #[test]
    fn options_are_parsed() {
        let Ok(Command::Run(options)) = parse(args(&[
            "--repetitions",
            "2",
            "--events",
            "50",
            "--only",
            "floor, webhook",
            "--burst-events",
            "0",
        ])) else {
            panic!("a run");
        };
        assert_eq!((options.repetitions, options.events), (2, 50));
        assert_eq!(options.subjects, [SubjectId::Floor, SubjectId::Webhook]);
        assert_eq!(options.burst_events, 0);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            &["--events", "1"][..],
            &["--events"],
            &["--repetitions", "ten"],
            &["--only", "java"],
            &["--only", ","],
            &["--burst-throttle", "101"],
            &["--bogus"],
        ] {
            assert!(parse(args(bad)).is_err(), "{bad:?}");
        }
        assert!(matches!(parse(args(&["-h"])), Ok(Command::Help)));
    }
}
