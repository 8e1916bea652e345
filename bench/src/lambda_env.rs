//! The environment Lambda gives a function process: the reserved `AWS_LAMBDA_*` variables,
//! region and (dummy) credentials, plus the function's own configuration. The harness's own
//! environment never leaks in.

use crate::local_aws::REGION;
use crate::subject::Subject;

/// The function's name in ARNs, log group names and `AWS_LAMBDA_FUNCTION_NAME`.
pub const FUNCTION_NAME: &str = "lost-device-revoker-bench";
pub const MEMORY_MB: u32 = 128;

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`, moto's default account.
pub fn function_arn() -> String {
    format!("arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}")
}

/// The complete environment of one execution environment of `subject`.
pub fn environment(
    subject: &Subject,
    runtime_api: &str,
    function_config: &[(String, String)],
) -> Vec<(String, String)> {
    let stream = uuid::Uuid::new_v4().simple().to_string();
    let task_root = subject.task_root.display().to_string();
    let reserved = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{FUNCTION_NAME}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("2026/11/21/[$LATEST]{stream}"),
        ),
        // template.yaml's LoggingConfig (LogFormat JSON, ApplicationLogLevel INFO), which
        // Lambda passes to the runtime as these two variables.
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_SESSION_TOKEN", "testing".to_owned()),
        ("_HANDLER", subject.handler.clone()),
        ("LAMBDA_TASK_ROOT", task_root.clone()),
        ("LAMBDA_RUNTIME_DIR", task_root),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ];
    reserved
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(function_config.iter().cloned())
        .chain(subject.extra_env.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::subject::SubjectId;

    #[test]
    fn the_runtime_api_and_the_function_config_are_set() {
        let subject = Subject::native(SubjectId::Floor, PathBuf::from("/opt/fn/floor"));
        let config = [("CREDENTIALS_SECRET_ID".to_owned(), "s".to_owned())];
        let env = environment(&subject, "127.0.0.1:9001", &config);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
        assert_eq!(get("LAMBDA_TASK_ROOT"), Some("/opt/fn"));
        assert_eq!(get("CREDENTIALS_SECRET_ID"), Some("s"));
        assert_eq!(get("AWS_REGION"), Some(REGION));
        assert_eq!(get("AWS_LAMBDA_LOG_FORMAT"), Some("JSON"));
    }
}
