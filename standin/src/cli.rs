//! Command-line options of the `entra-graph-standin` example, parsed here so they are tested
//! with the library and the example stays a thin shell.

use std::time::Duration;

use crate::Config;

pub const USAGE: &str = "\
usage: entra-graph-standin [--port N] [--tenant T] [--client-id ID]
                           [--client-secret S]... [--certificate PEM_FILE]
                           [--graph-host H] [--known-user U]... [--token-lifetime SECONDS]
                           [--max-assertion-lifetime SECONDS] [--invalidate-no-content]
                           [--intune-demo]

Serves a local Entra token endpoint and Graph's revoke actions on 127.0.0.1:N (0 = any free
port), prints `listening http://127.0.0.1:PORT`, logs requests to stderr and runs until
SIGINT or SIGTERM. Read-only views: GET /_standin/revocations, GET /_standin/stats.
--intune-demo seeds Intune audit records (two lost-mode devices, one remote lock) and their
managed devices.";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Serve {
        config: Config,
        port: u16,
        /// Seed the demo's Intune records ([`crate::Standin::seed_intune_demo`]).
        intune_demo: bool,
    },
    Help,
}

/// Parses the arguments after the program name. Certificate files are read here.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut config = Config {
        log_requests: true,
        ..Config::default()
    };
    let mut port = 0u16;
    let mut intune_demo = false;
    let mut known_users: Vec<String> = Vec::new();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--port" => port = number(&flag, &value()?)?,
            "--tenant" => config.tenant = value()?,
            "--client-id" => config.client_id = value()?,
            "--client-secret" => config.client_secrets.push(value()?),
            "--certificate" => config.certificate_pem = Some(read_file(&value()?)?),
            "--graph-host" => config.graph_host = value()?,
            "--known-user" => known_users.push(value()?),
            "--token-lifetime" => config.token_lifetime = seconds(&flag, &value()?)?,
            "--max-assertion-lifetime" => {
                config.max_assertion_lifetime = Some(seconds(&flag, &value()?)?);
            }
            "--invalidate-no-content" => config.invalidate_returns_no_content = true,
            "--intune-demo" => intune_demo = true,
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if !known_users.is_empty() {
        config.known_users = Some(known_users);
    }
    Ok(Command::Serve {
        config,
        port,
        intune_demo,
    })
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a valid number"))
}

fn seconds(flag: &str, text: &str) -> Result<Duration, String> {
    number::<u64>(flag, text).map(Duration::from_secs)
}

fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("--certificate {path}: {e}"))
}

/// A one-line description of what is being served, with no secret in it.
pub fn describe(config: &Config) -> String {
    format!(
        "tenant {}, client id {}, {} client secret(s), certificate {}, graph host {}, users {}",
        config.tenant,
        config.client_id,
        config.client_secrets.len(),
        if config.certificate_pem.is_some() {
            "registered"
        } else {
            "none"
        },
        config.graph_host,
        config
            .known_users
            .as_ref()
            .map_or("any".to_owned(), |u| u.len().to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn repeated_flags_accumulate() {
        let parsed = parse(args(&[
            "--port",
            "0",
            "--client-secret",
            "a",
            "--client-secret",
            "b",
            "--known-user",
            "ada@contoso.com",
            "--known-user",
            "bob@contoso.com",
            "--tenant",
            "fabrikam.com",
        ]));
        let Ok(Command::Serve { config, port, .. }) = parsed else {
            panic!("not a serve command: {parsed:?}");
        };
        assert_eq!(port, 0);
        assert_eq!(config.client_secrets, ["a", "b"]);
        assert_eq!(config.known_users.map(|u| u.len()), Some(2));
        assert_eq!(config.tenant, "fabrikam.com");
        assert!(config.log_requests);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse(args(&["--port"])).is_err());
        assert!(parse(args(&["--port", "http"])).is_err());
        assert!(parse(args(&["--certificate", "/nonexistent/cert.pem"])).is_err());
        assert!(parse(args(&["--bogus"])).is_err());
        assert!(matches!(parse(args(&["--help"])), Ok(Command::Help)));
    }

    #[test]
    fn the_description_holds_no_secret() {
        let config = Config {
            client_secrets: vec!["s3cr3t-value".into()],
            ..Config::default()
        };
        assert!(!describe(&config).contains("s3cr3t-value"));
    }
}
