//! The log subscriber both functions install first. It follows Lambda's advanced logging
//! controls as `lambda_runtime`'s default subscriber does (`AWS_LAMBDA_LOG_FORMAT`,
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO; no timestamp, CloudWatch adds its own),
//! with two differences in JSON:
//!
//! - each line names its `target`, so `filter target = "audit"` selects exactly the audit
//!   trail (the text format keeps it too);
//! - the enclosing spans are written once, as the `spans` list (Lambda's `requestId` first),
//!   not again as a separate `span` object. Formatting a span is most of a JSON line's cost.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// The format and level Lambda asks for, from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    pub level: LevelFilter,
}

impl LogSettings {
    pub fn from_env() -> Self {
        Self::from_values(
            std::env::var("AWS_LAMBDA_LOG_FORMAT").ok().as_deref(),
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .or_else(|_| std::env::var("RUST_LOG"))
                .ok()
                .as_deref(),
        )
    }

    /// `format` as Lambda names it (`JSON` or `Text`), `level` as a tracing level; anything
    /// unreadable falls back to text and INFO, as Lambda's own runtimes do.
    pub fn from_values(format: Option<&str>, level: Option<&str>) -> Self {
        Self {
            json: format.is_some_and(|f| f.eq_ignore_ascii_case("json")),
            level: level
                .and_then(|l| LevelFilter::from_str(l).ok())
                .unwrap_or(LevelFilter::INFO),
        }
    }
}

/// Installs the process-wide subscriber, writing to stdout. Call once, first thing in `main`.
pub fn init() {
    let settings = LogSettings::from_env();
    let filter = EnvFilter::builder()
        .with_default_directive(settings.level.into())
        .from_env_lossy();
    let builder = tracing_subscriber::fmt()
        .without_time()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    if settings.json {
        builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_json_format_and_level_are_honoured() {
        let settings = LogSettings::from_values(Some("JSON"), Some("WARN"));
        assert!(settings.json);
        assert_eq!(settings.level, LevelFilter::WARN);
    }

    #[test]
    fn text_and_info_are_the_fallbacks() {
        assert_eq!(
            LogSettings::from_values(None, None),
            LogSettings {
                json: false,
                level: LevelFilter::INFO
            }
        );
        let odd = LogSettings::from_values(Some("Text"), Some("loud"));
        assert!(!odd.json);
        assert_eq!(odd.level, LevelFilter::INFO);
    }
}
