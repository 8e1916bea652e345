//! Deployment size: the arm64 `bootstrap` and its zip from
//! `cargo lambda build --release --arm64 --output-format zip` (run by `make bench` before the
//! harness), or why they are unavailable.

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ArtifactSize {
    Measured {
        /// The stripped arm64 binary (the release profile strips).
        bootstrap_bytes: u64,
        bootstrap_zip_bytes: u64,
        dir: String,
    },
    Unavailable {
        reason: String,
    },
}

/// Reads `dir/bootstrap` and `dir/bootstrap.zip`. When they are missing, the reason is the
/// build log's last error line (or its last line), if a log is given.
pub fn arm64(dir: &Path, build_log: Option<&Path>) -> ArtifactSize {
    let size = |name: &str| std::fs::metadata(dir.join(name)).map(|m| m.len());
    match (size("bootstrap"), size("bootstrap.zip")) {
        (Ok(bootstrap_bytes), Ok(bootstrap_zip_bytes)) => ArtifactSize::Measured {
            bootstrap_bytes,
            bootstrap_zip_bytes,
            dir: dir.display().to_string(),
        },
        _ => ArtifactSize::Unavailable {
            reason: build_log
                .and_then(|log| std::fs::read_to_string(log).ok())
                .and_then(|text| failure_line(&text))
                .unwrap_or_else(|| format!("no bootstrap and bootstrap.zip in {}", dir.display())),
        },
    }
}

/// The most telling line of a failed build's output.
fn failure_line(log: &str) -> Option<String> {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .or(lines.last())
        .map(|l| (*l).to_owned())
}

/// The size of a file, if it exists.
pub fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_the_last_error_line() {
        let log = "Compiling x\nerror: linker `zig` not found\nnote: see above\n";
        assert_eq!(
            failure_line(log).as_deref(),
            Some("error: linker `zig` not found")
        );
        assert_eq!(failure_line("just this\n").as_deref(), Some("just this"));
        assert_eq!(failure_line(""), None);
    }

    #[test]
    fn a_missing_artifact_is_unavailable_not_a_panic() {
        let size = arm64(Path::new("/nonexistent/lambda/webhook"), None);
        assert!(matches!(size, ArtifactSize::Unavailable { .. }));
    }
}
