//! The shipped binaries' init: a function that cannot work refuses to start, with one log
//! line saying why, instead of failing every request later.

use std::process::{Command, Output, Stdio};

/// A complete function configuration; AWS credentials are added by each test or not at all.
const CONFIG: &[(&str, &str)] = &[
    ("CREDENTIALS_SECRET_ID", "lost-device-revoker/startup-test"),
    ("USER_DOMAIN", "contoso.com"),
    ("AWS_REGION", "us-east-1"),
    // Nothing listens here: init must fail before any call.
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9"),
    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
];

/// Runs `binary` with only `env` (no inherited variables) and waits for it to exit.
fn run(binary: &str, env: &[(&str, &str)]) -> Output {
    Command::new(binary)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn both_binaries() -> [&'static str; 2] {
    [env!("CARGO_BIN_EXE_webhook"), env!("CARGO_BIN_EXE_retry")]
}

#[test]
fn without_aws_credentials_in_the_environment_neither_function_starts() {
    for binary in both_binaries() {
        let output = run(binary, CONFIG);

        assert!(!output.status.success(), "{binary} started");
        let log = String::from_utf8_lossy(&output.stdout);
        let line = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["level"] == "ERROR")
            .unwrap_or_else(|| panic!("{binary} logged no ERROR line: {log}"));
        assert_eq!(line["fields"]["message"], "cannot start");
        let error = line["fields"]["error"].as_str().unwrap();
        assert!(error.contains("AWS_ACCESS_KEY_ID"), "{error}");
    }
}

#[test]
fn a_bad_configuration_stops_init_naming_the_variable() {
    let mut env = CONFIG.to_vec();
    env.retain(|(k, _)| *k != "CREDENTIALS_SECRET_ID");
    env.extend([
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ]);
    for binary in both_binaries() {
        let output = run(binary, &env);

        assert!(!output.status.success(), "{binary} started");
        let log = String::from_utf8_lossy(&output.stdout);
        assert!(log.contains("cannot start"), "{log}");
        assert!(log.contains("CREDENTIALS_SECRET_ID"), "{log}");
    }
}

#[test]
fn plain_http_to_a_host_that_is_no_local_emulator_stops_init_naming_the_variable() {
    for (variable, value) in [
        ("AWS_ENDPOINT_URL", "http://sm.example.invalid:9"),
        ("GRAPH_URL", "http://graph.example.invalid"),
    ] {
        let mut env = CONFIG.to_vec();
        env.retain(|(k, _)| *k != variable);
        env.extend([
            (variable, value),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]);
        for binary in both_binaries() {
            let output = run(binary, &env);

            assert!(!output.status.success(), "{binary} started with {variable}");
            let log = String::from_utf8_lossy(&output.stdout);
            assert!(log.contains("cannot start"), "{log}");
            assert!(log.contains(variable), "{log}");
            assert!(log.contains("must use https"), "{log}");
        }
    }
}
