//! Re-signs sample Lambda events in place with the demo secret, so events whose scheme
//! carries a timestamp work on any day (`sam local invoke`, `cargo lambda invoke`).
//!
//! Usage: cargo run --example sign-event -- [--secret examples/demo-secret.json] events/x.json...
//! Events addressed to no configured source (such as events/health.json) and events that are
//! not HTTP requests (the SQS retry event, env.json, env.docker.json) are left as they are.

use std::path::PathBuf;
use std::process::ExitCode;

use revoker::config::AppSecret;
use revoker::dev::sample_events::{self, SampleEventError};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sign-event: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut secret_path = PathBuf::from("examples/demo-secret.json");
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--secret" => secret_path = args.next().ok_or("--secret needs a file")?.into(),
            "-h" | "--help" => {
                println!("usage: sign-event [--secret FILE] EVENT.json...");
                return Ok(());
            }
            _ => files.push(PathBuf::from(arg)),
        }
    }
    if files.is_empty() {
        return Err("name at least one event file".into());
    }
    let secret_text = std::fs::read_to_string(&secret_path)
        .map_err(|e| format!("{}: {e}", secret_path.display()))?;
    let secret =
        AppSecret::parse(&secret_text).map_err(|e| format!("{}: {e}", secret_path.display()))?;
    let now = revoker::unix_now();

    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut event: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        match sample_events::sign(&mut event, &secret, now) {
            Ok(()) => {
                let mut out = serde_json::to_string_pretty(&event).map_err(|e| e.to_string())?;
                out.push('\n');
                std::fs::write(&file, out).map_err(|e| format!("{}: {e}", file.display()))?;
                println!("signed {}", file.display());
            }
            Err(SampleEventError::UnknownSource(_) | SampleEventError::BadSource) => {
                println!("skipped {} (no configured source)", file.display());
            }
            Err(SampleEventError::NoPath) => {
                println!("skipped {} (not an HTTP event)", file.display());
            }
            Err(e) => return Err(format!("{}: {e}", file.display())),
        }
    }
    Ok(())
}
