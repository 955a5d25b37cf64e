//! `switchboard.toml`: settings of the whole switch (database, recordings,
//! logging). Relative paths resolve against the configuration folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::problem::ProblemSink;

/// Validated switch-wide settings, paths already resolved.
#[derive(Debug, Clone)]
pub struct SwitchSettings {
    /// SQLite database file.
    pub database: PathBuf,
    pub recordings: PathBuf,
    pub log: LogSettings,
    /// Upper bound on concurrent SIP transactions before new work gets 503.
    pub max_transactions: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `human` or `json`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `info,sip_trace=debug`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SwitchFile {
    #[serde(default)]
    database: DatabaseFile,
    #[serde(default)]
    recordings: RecordingsFile,
    #[serde(default)]
    log: LogSettings,
    #[serde(default)]
    limits: LimitsFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseFile {
    path: String,
}

impl Default for DatabaseFile {
    fn default() -> Self {
        Self {
            path: "switchboard.db".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordingsFile {
    path: String,
}

impl Default for RecordingsFile {
    fn default() -> Self {
        Self {
            path: "recordings".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LimitsFile {
    max_transactions: usize,
}

impl Default for LimitsFile {
    fn default() -> Self {
        Self {
            max_transactions: 50_000,
        }
    }
}

/// Parses `switchboard.toml` text; paths resolve against `dir`.
pub fn parse_switch(text: &str, dir: &Path, sink: &mut ProblemSink<'_>) -> Option<SwitchSettings> {
    let file: SwitchFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            sink.toml_error(&e);
            return None;
        }
    };
    if file.database.path.trim().is_empty() {
        sink.push(
            sink.line_of_key("path"),
            "database.path",
            "empty; give a file name such as \"switchboard.db\"".into(),
        );
        return None;
    }
    if file.limits.max_transactions == 0 {
        sink.push(
            sink.line_of_key("max_transactions"),
            "limits.max_transactions",
            "must be at least 1".into(),
        );
        return None;
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&file.log.level) {
        sink.push(
            sink.line_of_key("level"),
            "log.level",
            format!("not a log filter ({e}); write e.g. \"info\" or \"debug,sqlx=warn\""),
        );
        return None;
    }
    Some(SwitchSettings {
        database: dir.join(&file.database.path),
        recordings: dir.join(&file.recordings.path),
        log: file.log,
        max_transactions: file.limits.max_transactions,
    })
}
