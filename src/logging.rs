//! The log subscriber both functions install first. It follows Lambda's advanced logging
//! controls as `lambda_runtime`'s default subscriber does: `AWS_LAMBDA_LOG_FORMAT`, and the
//! level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO, with `RUST_LOG`'s directives
//! applied on top; no timestamp, CloudWatch adds its own. Two differences in JSON:
//!
//! - each line names its `target`, so `filter target = "audit"` selects exactly the audit
//!   trail (the text format keeps it too);
//! - the enclosing spans are written once, as the `spans` list (Lambda's `requestId` first),
//!   not again as a separate `span` object. Formatting a span is most of a JSON line's cost.
//!
//! Whatever the level, one event is never written: `lambda_runtime` logs every invocation's
//! raw JSON at TRACE, headers and body included, which for a webhook means the Jamf token,
//! Basic credentials and signatures ([`NoRawEvents`]).

use std::str::FromStr;

use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The format and level Lambda asks for, from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LogSettings {
    json: bool,
    level: LevelFilter,
}

impl LogSettings {
    fn from_env() -> Self {
        Self::from_values(
            std::env::var("AWS_LAMBDA_LOG_FORMAT").ok().as_deref(),
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .or_else(|_| std::env::var("RUST_LOG"))
                .ok()
                .as_deref(),
        )
    }

    /// `format` as Lambda names it (`JSON` or `Text`), `level` as Lambda or tracing names it
    /// (Lambda's `FATAL` is tracing's ERROR); anything unreadable falls back to text and INFO,
    /// as Lambda's own runtimes do.
    fn from_values(format: Option<&str>, level: Option<&str>) -> Self {
        let level = match level {
            Some(l) if l.eq_ignore_ascii_case("fatal") => Some(LevelFilter::ERROR),
            Some(l) => LevelFilter::from_str(l).ok(),
            None => None,
        };
        Self {
            json: format.is_some_and(|f| f.eq_ignore_ascii_case("json")),
            level: level.unwrap_or(LevelFilter::INFO),
        }
    }
}

/// Installs the process-wide subscriber, writing to stdout. Call once, first thing in `main`;
/// a subscriber already installed stays.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(
        LogSettings::from_env(),
        std::io::stdout,
    ));
}

/// The subscriber `settings` describe, writing to `writer`.
fn subscriber<W>(settings: LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .with_default_directive(settings.level.into())
        .from_env_lossy();
    let builder = tracing_subscriber::fmt()
        .without_time()
        .with_env_filter(filter)
        .with_writer(writer);
    if settings.json {
        Box::new(
            builder
                .json()
                .with_current_span(false)
                .with_span_list(true)
                .finish()
                .with(NoRawEvents),
        )
    } else {
        Box::new(builder.finish().with(NoRawEvents))
    }
}

/// Drops `lambda_runtime`'s TRACE line with the raw invocation event, whatever `RUST_LOG` or
/// `AWS_LAMBDA_LOG_LEVEL` asks for: a level filter could be widened again by a directive, a
/// layer that disables the callsite cannot. Every other event is left to the level filter.
struct NoRawEvents;

/// Where `lambda_runtime` 1.x writes the raw event (`layers/api_response.rs`).
const RAW_EVENT_TARGET: &str = "lambda_runtime::layers::api_response";

fn is_raw_event(metadata: &Metadata<'_>) -> bool {
    *metadata.level() == Level::TRACE && metadata.target() == RAW_EVENT_TARGET
}

impl<S: Subscriber> Layer<S> for NoRawEvents {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_raw_event(metadata) {
            Interest::never()
        } else {
            Interest::always()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        !is_raw_event(metadata)
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

    #[test]
    fn lambda_fatal_is_error() {
        let settings = LogSettings::from_values(Some("JSON"), Some("FATAL"));
        assert_eq!(settings.level, LevelFilter::ERROR);
    }

    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    /// The shape the template's metric filters (`$.fields.outcome`) and the runbook's queries
    /// (`target = "audit"`, Lambda's `requestId`) rely on.
    #[test]
    fn json_lines_carry_fields_target_and_the_span_list_once() {
        let buffer = Buffer::default();
        let settings = LogSettings::from_values(Some("JSON"), Some("INFO"));

        tracing::subscriber::with_default(subscriber(settings, buffer.clone()), || {
            let invocation = tracing::info_span!("Lambda runtime invoke", requestId = "r-1");
            let _entered = invocation.enter();
            tracing::info!(target: "audit", outcome = "revoked", "sessions revoked");
            tracing::debug!("not at INFO");
        });

        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["target"], "audit");
        assert_eq!(line["fields"]["outcome"], "revoked");
        assert_eq!(line["fields"]["message"], "sessions revoked");
        assert_eq!(line["spans"][0]["requestId"], "r-1");
        assert!(
            line.get("span").is_none(),
            "the span is written once: {text}"
        );
        assert!(
            line.get("timestamp").is_none(),
            "CloudWatch adds the time: {text}"
        );
    }

    /// The runtime's raw-event line is dropped even when TRACE is asked for by name; its other
    /// lines, and every other TRACE line, are not.
    #[test]
    fn the_runtimes_raw_event_line_is_never_written_at_any_level() {
        for format in ["JSON", "Text"] {
            let buffer = Buffer::default();
            let settings = LogSettings::from_values(Some(format), Some("TRACE"));

            tracing::subscriber::with_default(subscriber(settings, buffer.clone()), || {
                tracing::trace!(
                    target: "lambda_runtime::layers::api_response",
                    body = "X-Webhook-Token: s3cr3t",
                    "raw JSON event received from Lambda"
                );
                tracing::error!(
                    target: "lambda_runtime::layers::api_response",
                    "Failed to parse raw JSON event received from Lambda"
                );
                tracing::trace!("another trace line");
            });

            let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
            assert!(!text.contains("s3cr3t"), "{format}: {text}");
            assert!(
                text.contains("Failed to parse raw JSON event"),
                "{format}: {text}"
            );
            assert!(text.contains("another trace line"), "{format}: {text}");
        }
    }
}
