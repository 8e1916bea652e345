//! The function's configuration: environment variables read once at init into typed values.
//! A bad value fails init with a message naming the variable and what it accepts; an empty
//! value counts as unset, because SAM and CloudFormation pass unset parameters as "".

use std::time::Duration;

use crate::domain::{ObjectId, UserRef, is_dns_domain};
use crate::microsoft::{Cloud, RevokeAction};
use crate::payload::MdmOptions;
use crate::revocation::Policy;

/// A variable that is missing or has a value the function cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// Everything the webhook function reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Secrets Manager id or ARN of the JSON secret (Entra app + webhook secrets).
    pub credentials_secret_id: String,
    /// Which Graph action signs the user out.
    pub revoke_action: RevokeAction,
    /// The national cloud: decides the token scope and the default hosts.
    pub cloud: Cloud,
    /// Scheme and host of the Entra authority (`https://login.microsoftonline.com`).
    pub authority_url: String,
    /// Scheme and host of Microsoft Graph (`https://graph.microsoft.com`).
    pub graph_url: String,
    /// Time budget for revoking inline, before answering the webhook.
    pub inline_deadline: Duration,
    /// Appended as `@domain` to bare usernames from the MDM.
    pub user_domain: Option<String>,
    /// Break-glass accounts that are never signed out.
    pub protected_users: Vec<UserRef>,
    /// Entra groups whose transitive members are never signed out.
    pub protected_groups: Vec<ObjectId>,
    /// Decide and audit, never act.
    pub dry_run: bool,
    /// Events naming more users than this are refused whole.
    pub max_users_per_event: usize,
    /// Jamf smart groups (ids or names) whose added devices are lost.
    pub jamf_lost_groups: Vec<String>,
    /// Jamf MDM commands that mean a device is lost.
    pub jamf_lost_commands: Vec<String>,
    /// Allowed clock difference for signed timestamps, both directions.
    pub signature_tolerance_secs: u64,
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: usize,
    /// How long the secret is cached before it is read again.
    pub secret_ttl: Duration,
    /// SQS queue for revocations that could not finish inline; unset: they answer 503.
    pub retry_queue_url: Option<String>,
    /// DynamoDB table that decides each (source, event id, user) once across instances;
    /// unset: duplicates are caught only within a warm instance.
    pub ledger_table: Option<String>,
    /// How long the ledger remembers a settled decision.
    pub ledger_ttl: Duration,
    /// Disable the Entra device object of a lost Windows device (README, "Device containment").
    pub disable_lost_devices: bool,
    /// Intune `remoteAction` names that mean a device is lost (the `intune` function).
    pub intune_lost_actions: Vec<String>,
    /// How far back the `intune` function's first run reads.
    pub intune_lookback: Duration,
    /// SNS topic that gets one message per event that decided anything; unset: none is sent.
    pub notify_topic_arn: Option<String>,
}

/// The most groups `PROTECTED_GROUPS` may name: Graph's `checkMemberGroups` takes 20.
const MAX_PROTECTED_GROUPS: usize = 20;

/// The AWS SDK's endpoint overrides for the services the function calls.
const AWS_ENDPOINT_VARIABLES: [&str; 5] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SNS",
];

const DAY: Duration = Duration::from_secs(86_400);

/// The largest body the function accepts. A JSON body is parsed into memory, where a hostile
/// one (an array of a million zeros) takes about 30 times its size: 1 MiB keeps the worst case
/// near 40 MB, inside the function's 128 MB, and its parse well inside the time budget
/// (`make bench` measures it). A Jamf smart-group change of 1 MiB names thousands of devices.
const MAX_BODY_LIMIT: u64 = 1024 * 1024;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        let cloud = match vars.get("ENTRA_CLOUD") {
            None => Cloud::Global,
            Some(name) => Cloud::parse(&name)
                .ok_or_else(|| err("ENTRA_CLOUD", "must be global, usgov, dod or china"))?,
        };
        Ok(Self {
            credentials_secret_id: vars.required("CREDENTIALS_SECRET_ID")?,
            revoke_action: match vars.get("REVOKE_ACTION") {
                None => RevokeAction::InvalidateAllRefreshTokens,
                Some(name) => RevokeAction::parse(&name).ok_or_else(|| {
                    err(
                        "REVOKE_ACTION",
                        "must be invalidateAllRefreshTokens or revokeSignInSessions",
                    )
                })?,
            },
            cloud,
            authority_url: vars.base_url("ENTRA_AUTHORITY_URL", cloud.authority_url())?,
            graph_url: vars.base_url("GRAPH_URL", cloud.graph_url())?,
            inline_deadline: Duration::from_millis(vars.number(
                "INLINE_DEADLINE_MS",
                1500,
                100..=60_000,
            )?),
            user_domain: vars.user_domain("USER_DOMAIN")?,
            protected_users: vars.user_list("PROTECTED_USERS")?,
            protected_groups: vars.group_list("PROTECTED_GROUPS")?,
            dry_run: vars.boolean("DRY_RUN", false)?,
            max_users_per_event: vars.number("MAX_USERS_PER_EVENT", 50, 1..=1000)? as usize,
            jamf_lost_groups: vars.list("JAMF_LOST_GROUPS", &[]),
            jamf_lost_commands: vars.list("JAMF_LOST_COMMANDS", &["EnableLostMode"]),
            signature_tolerance_secs: vars.number("SIGNATURE_TOLERANCE_SECONDS", 300, 1..=3600)?,
            max_body_bytes: vars.number("MAX_BODY_BYTES", 262_144, 1..=MAX_BODY_LIMIT)? as usize,
            secret_ttl: Duration::from_secs(vars.number("SECRET_TTL_SECONDS", 300, 0..=86_400)?),
            retry_queue_url: vars.queue_url("RETRY_QUEUE_URL")?,
            ledger_table: vars.table("LEDGER_TABLE")?,
            ledger_ttl: DAY * vars.number("LEDGER_TTL_DAYS", 7, 1..=365)? as u32,
            disable_lost_devices: vars.boolean("DISABLE_LOST_DEVICES", false)?,
            intune_lost_actions: vars.remote_actions("INTUNE_LOST_ACTIONS")?,
            intune_lookback: Duration::from_secs(
                60 * vars.number("INTUNE_LOOKBACK_MINUTES", 60, 1..=10_080)?,
            ),
            notify_topic_arn: vars.topic_arn("NOTIFY_TOPIC_ARN")?,
        })
        .and_then(|config| {
            vars.aws_endpoints()?;
            Ok(config)
        })
    }

    /// The decision policy: protected accounts, dry run, the per-event user cap.
    pub(crate) fn policy(&self) -> Policy {
        Policy {
            protected_users: self.protected_users.clone(),
            protected_groups: self.protected_groups.clone(),
            dry_run: self.dry_run,
            max_users_per_event: self.max_users_per_event,
            disable_lost_devices: self.disable_lost_devices,
        }
    }

    /// The part of the configuration the MDM parsers need.
    pub(crate) fn mdm_options(&self) -> MdmOptions {
        MdmOptions {
            user_domain: self.user_domain.clone(),
            jamf_lost_groups: self.jamf_lost_groups.clone(),
            jamf_lost_commands: self.jamf_lost_commands.clone(),
            max_users_per_event: self.max_users_per_event,
        }
    }
}

struct Vars<'a, F>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name)
            .ok_or_else(|| err(name, "is required and not set"))
    }

    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(_) => Err(err(name, "must be true or false")),
        }
    }

    fn number(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(err(
                name,
                &format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    fn list(&self, name: &str, default: &[&str]) -> Vec<String> {
        match self.get(name) {
            None => default.iter().map(|s| (*s).to_owned()).collect(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Intune `remoteAction` names, each one Graph defines (spelled as Graph does), at least one.
    fn remote_actions(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        let actions = self.list(name, &["enableLostMode"]);
        if let Some(unknown) = actions.iter().find(|a| !crate::intune::is_remote_action(a)) {
            return Err(err(
                name,
                &format!(
                    "names {unknown:?}, which is not an Intune remoteAction \
                     (for example enableLostMode, remoteLock, factoryReset)"
                ),
            ));
        }
        if actions.is_empty() {
            return Err(err(name, "names no action"));
        }
        Ok(actions)
    }

    fn user_list(&self, name: &'static str) -> Result<Vec<UserRef>, ConfigError> {
        self.list(name, &[])
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                UserRef::parse(entry).map_err(|e| {
                    err(
                        name,
                        &format!("entry {} {e}; entries are UPNs or object ids", i + 1),
                    )
                })
            })
            .collect()
    }

    /// Entra group object ids, at most [`MAX_PROTECTED_GROUPS`] (one `checkMemberGroups`
    /// call checks them all; nest groups for more).
    fn group_list(&self, name: &'static str) -> Result<Vec<ObjectId>, ConfigError> {
        let mut groups: Vec<ObjectId> = Vec::new();
        for (i, entry) in self.list(name, &[]).iter().enumerate() {
            let id = ObjectId::parse(entry).map_err(|_| {
                err(
                    name,
                    &format!("entry {} is not a group object id (a GUID)", i + 1),
                )
            })?;
            if !groups.contains(&id) {
                groups.push(id);
            }
        }
        if groups.len() > MAX_PROTECTED_GROUPS {
            return Err(err(
                name,
                &format!(
                    "names {} groups; at most {MAX_PROTECTED_GROUPS} (Graph checks 20 per call): \
                     nest the others in one of them",
                    groups.len()
                ),
            ));
        }
        Ok(groups)
    }

    /// An SNS topic ARN, `arn:{partition}:sns:{region}:{account}:{name}`.
    fn topic_arn(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        let Some(arn) = self.get(name) else {
            return Ok(None);
        };
        let parts: Vec<&str> = arn.split(':').collect();
        let well_formed = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "sns"
            && !parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && (1..=256).contains(&parts[5].len())
            && parts[5]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !well_formed {
            return Err(err(
                name,
                "must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:lost-devices",
            ));
        }
        if arn.ends_with(".fifo") {
            // A FIFO topic needs a message group id on every publish; the notices are standard.
            return Err(err(name, "must be a standard topic, not a .fifo topic"));
        }
        Ok(Some(arn))
    }

    /// `scheme://host[:port]` without a path; plain http only for local emulators (local
    /// stand-ins), so a typo can never send a token over an unencrypted connection.
    fn base_url(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default.to_owned());
        };
        let url = raw.trim_end_matches('/');
        let rest = checked_origin(name, url)?;
        if !rest.is_empty() {
            return Err(err(name, "must be scheme://host[:port] with no path"));
        }
        Ok(url.to_owned())
    }

    /// An SQS queue URL, `https://sqs.{region}.amazonaws.com/{account}/{name}`; plain http
    /// only for a loopback moto_server.
    fn queue_url(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        let Some(url) = self.get(name) else {
            return Ok(None);
        };
        let path = checked_origin(name, &url)?;
        let path_ok = path.len() > 1
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b));
        if !path_ok {
            return Err(err(
                name,
                "must be a queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/name",
            ));
        }
        if path.ends_with(".fifo") {
            // A FIFO queue needs a message group id on every send; the retry queue is standard.
            return Err(err(name, "must be a standard queue, not a .fifo queue"));
        }
        Ok(Some(url))
    }
    /// A DynamoDB table name (3 to 255 of `A-Z a-z 0-9 _ - .`) or a table ARN.
    fn table(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let table_name = match raw.strip_prefix("arn:") {
            Some(arn) => arn
                .split_once(":dynamodb:")
                .and_then(|(_, rest)| rest.split_once(":table/"))
                .map_or("", |(_, table)| table),
            None => raw.as_str(),
        };
        let ok = (3..=255).contains(&table_name.len())
            && table_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if ok {
            Ok(Some(raw))
        } else {
            Err(err(
                name,
                "must be a DynamoDB table name (3 to 255 letters, digits, _ - .) or a table ARN",
            ))
        }
    }

    /// The AWS SDK reads its endpoint overrides itself; they are held to the same rule as
    /// the function's own URLs, so a local run's setting cannot reach a deployment unnoticed.
    fn aws_endpoints(&self) -> Result<(), ConfigError> {
        for name in AWS_ENDPOINT_VARIABLES {
            if let Some(url) = self.get(name) {
                checked_origin(name, url.trim_end_matches('/'))?;
            }
        }
        Ok(())
    }

    fn user_domain(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let domain = raw.trim_start_matches('@');
        if is_dns_domain(domain) {
            Ok(Some(domain.to_owned()))
        } else {
            Err(err(name, "must be a DNS domain such as contoso.com"))
        }
    }
}

/// Checks the `scheme://host[:port]` start of `url` and returns the rest (the path, possibly
/// empty). Plain http only for loopback hosts and `host.docker.internal` (local emulators,
/// from the host or from a container), so a typo can never send a credential in the clear.
fn checked_origin<'u>(name: &'static str, url: &'u str) -> Result<&'u str, ConfigError> {
    let (scheme, after) = url.split_once("://").ok_or_else(|| {
        err(
            name,
            "must be scheme://host, such as https://graph.microsoft.com",
        )
    })?;
    let (authority, rest) = after.find('/').map_or((after, ""), |i| after.split_at(i));
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(authority, |(host, _)| host);
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
    if !host_ok || authority.contains(['?', '#', '@']) || rest.contains(['?', '#']) {
        return Err(err(
            name,
            "must be scheme://host[:port] with no query or user",
        ));
    }
    // Local emulators: this machine, or the Docker host as a container names it.
    let local = matches!(
        host.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "[::1]" | "host.docker.internal"
    );
    match scheme {
        "https" => Ok(rest),
        "http" if local => Ok(rest),
        "http" => Err(err(
            name,
            "must use https (plain http only for loopback and host.docker.internal stand-ins)",
        )),
        _ => Err(err(name, "must use https")),
    }
}

fn err(variable: &'static str, problem: &str) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const SECRET: (&str, &str) = ("CREDENTIALS_SECRET_ID", "revoker/entra");

    #[test]
    fn defaults_apply_when_only_the_secret_id_is_set() {
        let c = config(&[SECRET]).unwrap();
        assert_eq!(c.credentials_secret_id, "revoker/entra");
        assert!(!c.dry_run);
        assert!(c.protected_users.is_empty());
        assert_eq!(c.jamf_lost_commands, vec!["EnableLostMode"]);
        assert!(c.jamf_lost_groups.is_empty());
        assert_eq!(c.signature_tolerance_secs, 300);
        assert_eq!(c.max_body_bytes, 262_144);
        assert_eq!(c.secret_ttl, Duration::from_secs(300));
        assert_eq!(c.user_domain, None);
        assert_eq!(c.revoke_action, RevokeAction::InvalidateAllRefreshTokens);
        assert_eq!(c.cloud, Cloud::Global);
        assert_eq!(c.authority_url, "https://login.microsoftonline.com");
        assert_eq!(c.graph_url, "https://graph.microsoft.com");
        assert_eq!(c.inline_deadline, Duration::from_millis(1500));
    }

    #[test]
    fn the_cloud_sets_both_hosts_and_overrides_replace_them() {
        let c = config(&[SECRET, ("ENTRA_CLOUD", "dod")]).unwrap();
        assert_eq!(c.authority_url, "https://login.microsoftonline.us");
        assert_eq!(c.graph_url, "https://dod-graph.microsoft.us");
        let c = config(&[
            SECRET,
            ("ENTRA_CLOUD", "china"),
            ("ENTRA_AUTHORITY_URL", "http://127.0.0.1:4010/"),
            ("GRAPH_URL", "http://localhost:4010"),
        ])
        .unwrap();
        assert_eq!(c.authority_url, "http://127.0.0.1:4010");
        assert_eq!(c.graph_url, "http://localhost:4010");
        assert_eq!(c.cloud, Cloud::China, "the scope still follows the cloud");
    }

    /// Plain http reaches local emulators only: this machine, or the Docker host as a
    /// container names it (`sam local invoke`). Anything else is refused at init, naming
    /// the variable.
    #[test]
    fn plain_http_is_accepted_for_loopback_and_host_docker_internal_only() {
        let variables = [
            "ENTRA_AUTHORITY_URL",
            "GRAPH_URL",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "AWS_ENDPOINT_URL_SQS",
        ];
        for variable in variables {
            for local in [
                "http://127.0.0.1:4010",
                "http://localhost:5000",
                "http://[::1]:4010",
                "http://host.docker.internal:4010",
                "http://HOST.docker.internal",
            ] {
                assert!(
                    config(&[SECRET, (variable, local)]).is_ok(),
                    "{variable}={local}"
                );
            }
            for remote in [
                "http://graph.example.com",
                "http://host.docker.internal.evil.com",
                "http://docker.internal",
                "http://10.0.0.1:4010",
                "http://172.17.0.1:5000",
            ] {
                let e = config(&[SECRET, (variable, remote)]).unwrap_err();
                assert_eq!(e.variable, variable, "{remote}");
                assert!(e.to_string().contains("must use https"), "{remote}: {e}");
            }
        }
        let queue = "http://host.docker.internal:5000/123456789012/lost-device-revoker-retry";
        let c = config(&[SECRET, ("RETRY_QUEUE_URL", queue)]).unwrap();
        assert_eq!(c.retry_queue_url.as_deref(), Some(queue));
        let e = config(&[SECRET, ("RETRY_QUEUE_URL", "http://172.17.0.1:5000/1/q")]).unwrap_err();
        assert_eq!(e.variable, "RETRY_QUEUE_URL");
    }

    #[test]
    fn base_urls_refuse_plain_http_off_loopback_and_paths() {
        for (value, expected) in [
            ("http://graph.example.com", "https"),
            ("http://127.0.0.1.evil.com", "https"),
            ("https://graph.microsoft.com/v1.0", "no path"),
            ("graph.microsoft.com", "scheme://host"),
            ("ftp://graph.microsoft.com", "https"),
            ("https://user@graph.microsoft.com", "no query or user"),
        ] {
            let e = config(&[SECRET, ("GRAPH_URL", value)]).unwrap_err();
            assert_eq!(e.variable, "GRAPH_URL");
            assert!(e.to_string().contains(expected), "{value}: {e}");
        }
    }

    #[test]
    fn the_retry_queue_is_optional_and_must_be_an_https_queue_url() {
        assert_eq!(config(&[SECRET]).unwrap().retry_queue_url, None);
        for good in [
            "https://sqs.eu-west-1.amazonaws.com/123456789012/revoker-retry",
            "http://127.0.0.1:5000/123456789012/revoker-retry",
        ] {
            let c = config(&[SECRET, ("RETRY_QUEUE_URL", good)]).unwrap();
            assert_eq!(c.retry_queue_url.as_deref(), Some(good));
        }
        for (bad, expected) in [
            ("http://sqs.eu-west-1.amazonaws.com/1/q", "https"),
            ("https://sqs.eu-west-1.amazonaws.com", "queue URL"),
            ("https://sqs.eu-west-1.amazonaws.com/1/q?x=1", "no query"),
            ("revoker-retry", "scheme://host"),
            (
                "https://sqs.eu-west-1.amazonaws.com/1/q.fifo",
                "standard queue",
            ),
        ] {
            let e = config(&[SECRET, ("RETRY_QUEUE_URL", bad)]).unwrap_err();
            assert_eq!(e.variable, "RETRY_QUEUE_URL");
            assert!(e.to_string().contains(expected), "{bad}: {e}");
        }
    }

    #[test]
    fn the_ledger_is_optional_and_its_table_and_time_to_live_are_checked() {
        let c = config(&[SECRET]).unwrap();
        assert_eq!(c.ledger_table, None);
        assert_eq!(c.ledger_ttl, Duration::from_secs(7 * 86_400));
        for good in [
            "revoker-ledger",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/revoker.Ledger_1",
        ] {
            let c = config(&[SECRET, ("LEDGER_TABLE", good), ("LEDGER_TTL_DAYS", "365")]).unwrap();
            assert_eq!(c.ledger_table.as_deref(), Some(good));
            assert_eq!(c.ledger_ttl, Duration::from_secs(365 * 86_400));
        }
        for bad in ["ab", "ledger/table", "arn:aws:s3:::bucket", "ta ble"] {
            let e = config(&[SECRET, ("LEDGER_TABLE", bad)]).unwrap_err();
            assert_eq!(e.variable, "LEDGER_TABLE", "{bad}");
        }
        for bad in ["0", "366", "seven"] {
            let e = config(&[SECRET, ("LEDGER_TTL_DAYS", bad)]).unwrap_err();
            assert_eq!(e.variable, "LEDGER_TTL_DAYS");
            assert!(e.to_string().contains("from 1 to 365"), "{e}");
        }
        let e = config(&[
            SECRET,
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://10.0.0.5:8000"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "AWS_ENDPOINT_URL_DYNAMODB");
    }

    #[test]
    fn missing_or_empty_secret_id_fails_naming_the_variable() {
        for vars in [&[][..], &[("CREDENTIALS_SECRET_ID", "  ")][..]] {
            let e = config(vars).unwrap_err();
            assert_eq!(e.variable, "CREDENTIALS_SECRET_ID");
            assert!(
                e.to_string()
                    .starts_with("CREDENTIALS_SECRET_ID is required")
            );
        }
    }

    #[test]
    fn bad_values_fail_naming_the_variable_and_what_it_accepts() {
        let cases = [
            ("DRY_RUN", "maybe", "must be true or false"),
            (
                "REVOKE_ACTION",
                "logout",
                "invalidateAllRefreshTokens or revokeSignInSessions",
            ),
            ("ENTRA_CLOUD", "mars", "global, usgov, dod or china"),
            ("INLINE_DEADLINE_MS", "50", "from 100 to 60000"),
            (
                "MAX_BODY_BYTES",
                "-1",
                "must be a whole number from 1 to 1048576",
            ),
            ("MAX_BODY_BYTES", "99999999", "from 1 to 1048576"),
            ("SIGNATURE_TOLERANCE_SECONDS", "0", "from 1 to 3600"),
            ("SECRET_TTL_SECONDS", "5m", "whole number"),
            ("USER_DOMAIN", "contoso", "DNS domain"),
            (
                "PROTECTED_USERS",
                "breakglass@contoso.com, not a user",
                "entry 2",
            ),
        ];
        for (name, value, expected) in cases {
            let e = config(&[SECRET, (name, value)]).unwrap_err();
            assert_eq!(e.variable, name);
            assert!(e.to_string().contains(expected), "{name}={value}: {e}");
        }
    }

    #[test]
    fn lists_are_comma_separated_and_trimmed() {
        let c = config(&[
            SECRET,
            (
                "PROTECTED_USERS",
                " BreakGlass@contoso.com ,6f1c2a1e-8f5b-4c1d-9e2a-0123456789ab,",
            ),
            ("JAMF_LOST_GROUPS", "12, Lost Devices"),
            ("JAMF_LOST_COMMANDS", "EnableLostMode,DeviceLock"),
            ("DRY_RUN", "TRUE"),
            ("USER_DOMAIN", "@contoso.com"),
        ])
        .unwrap();
        assert_eq!(c.protected_users.len(), 2);
        assert_eq!(c.protected_users[0].as_str(), "BreakGlass@contoso.com");
        assert_eq!(c.jamf_lost_groups, vec!["12", "Lost Devices"]);
        assert_eq!(c.jamf_lost_commands, vec!["EnableLostMode", "DeviceLock"]);
        assert!(c.dry_run);
        assert_eq!(c.user_domain.as_deref(), Some("contoso.com"));
    }

    #[test]
    fn protected_groups_are_object_ids_at_most_twenty_without_repeats() {
        let g = |i: usize| format!("9a9a9a9a-0000-4000-8000-{i:012}");
        let listed = format!("{}, {},{}", g(1), g(2).to_uppercase(), g(1));
        let c = config(&[SECRET, ("PROTECTED_GROUPS", &listed)]).unwrap();
        assert_eq!(c.protected_groups.len(), 2);
        assert_eq!(c.protected_groups[1].as_str(), g(2));

        let bad = config(&[SECRET, ("PROTECTED_GROUPS", &format!("{},Admins", g(1)))]);
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("entry 2 is not a group object id")
        );
        let many: Vec<String> = (0..21).map(g).collect();
        let e = config(&[SECRET, ("PROTECTED_GROUPS", &many.join(","))]).unwrap_err();
        assert!(e.to_string().contains("at most 20"), "{e}");
    }

    #[test]
    fn the_notify_topic_must_be_an_sns_topic_arn() {
        let arn = "arn:aws:sns:eu-west-1:123456789012:lost-devices";
        let c = config(&[SECRET, ("NOTIFY_TOPIC_ARN", arn)]).unwrap();
        assert_eq!(c.notify_topic_arn.as_deref(), Some(arn));
        assert_eq!(config(&[SECRET]).unwrap().notify_topic_arn, None);
        for bad in [
            "lost-devices",
            "arn:aws:sqs:eu-west-1:123456789012:lost-devices",
            "arn:aws:sns:eu-west-1:1234:lost-devices",
            "arn:aws:sns:eu-west-1:123456789012:lost devices",
            "arn:aws:sns:eu-west-1:123456789012:lost-devices.fifo",
        ] {
            let e = config(&[SECRET, ("NOTIFY_TOPIC_ARN", bad)]).unwrap_err();
            assert_eq!(e.variable, "NOTIFY_TOPIC_ARN", "{bad}");
        }
    }
}
