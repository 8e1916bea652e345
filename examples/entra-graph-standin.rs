//! Serves the local Entra token endpoint and Graph revoke actions (the `standin` crate) for
//! demos and manual runs, so nothing ever reaches Microsoft.
//!
//! Usage: cargo run --example entra-graph-standin -- --port 0 [--tenant T] [--client-id ID]
//!        [--client-secret S]... [--certificate PEM_FILE] [--graph-host H] [--known-user U]...
//! Prints one line, `listening http://127.0.0.1:PORT`, to stdout so scripts can read the port,
//! logs each request to stderr (never a secret, token or assertion) and serves until SIGINT or
//! SIGTERM.

use std::io::Write;
use std::process::ExitCode;

use standin::Standin;
use standin::cli::{self, Command};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("entra-graph-standin: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let (config, port, intune_demo) = match cli::parse(std::env::args().skip(1))? {
        Command::Help => {
            println!("{}", cli::USAGE);
            return Ok(());
        }
        Command::Serve {
            config,
            port,
            intune_demo,
        } => (config, port, intune_demo),
    };
    let description = cli::describe(&config);
    let standin = Standin::start(config, port)
        .await
        .map_err(|e| format!("cannot start: {e}"))?;
    if intune_demo {
        standin.seed_intune_demo();
    }
    // Scripts wait for this exact line: print it alone and flush before anything else.
    println!("listening {}", standin.url());
    std::io::stdout()
        .flush()
        .map_err(|e| format!("stdout: {e}"))?;
    eprintln!(
        "entra-graph-standin: {description}; token URL {}",
        standin.token_url()
    );
    standin::shutdown_signal().await;
    eprintln!("entra-graph-standin: stopping");
    standin.shutdown().await;
    Ok(())
}
