//! The harness behind `make bench` (bench/README.md), as a library: the Lambda Runtime API on
//! 127.0.0.1, function processes spawned as Lambda spawns them, local AWS and the signed
//! events. `src/main.rs` (`lambda-bench`) measures with it; `tests/` drive the shipped webhook
//! binary through it.

pub mod answer;
pub mod artifact;
pub mod burst;
pub mod cli;
pub mod environment;
pub mod events;
pub mod exchange;
pub mod fixture;
pub mod keep_alive;
pub mod lambda_env;
pub mod local_aws;
pub mod machine;
pub mod measure;
pub mod process;
pub mod report;
pub mod runtime_api;
pub mod stats;
pub mod subject;
pub mod worst_case;
