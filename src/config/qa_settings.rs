//! The `[qa]` table of `switchboard.toml`: how recordings are checked after
//! the call (workers, recognizer, retries). The rules themselves are in
//! `qa/rules.toml` (see `crate::qa::rules`).
//!
//! A recognizer setting left out takes the backend's own default
//! ([`SphinxConfig::default`], [`HttpAsrConfig::default`]): each default
//! value is written once, in the backend.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::problem::ProblemSink;
use crate::qa::asr::http::{HttpAsrConfig, MAX_RETRIES};
use crate::qa::asr::sphinx::SphinxConfig;

/// Bytes in the MiB of `qa.http.max_upload_mb`.
const MIB: u64 = 1024 * 1024;

/// Which speech recognizer QA uses.
#[derive(Debug, Clone, PartialEq)]
pub enum RecognizerSettings {
    /// Embedded PocketSphinx.
    Pocketsphinx {
        model_dir: PathBuf,
        threshold_per_phone: f64,
    },
    /// An OpenAI-compatible `/v1/audio/transcriptions` server.
    Http {
        url: String,
        model: String,
        /// The API key, read from the environment variable named in the
        /// file (never written in the file itself).
        api_key: Option<String>,
        timeout: Duration,
        retries: u32,
        max_upload_bytes: u64,
        language: Option<String>,
    },
}

/// Validated `[qa]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct QaSettings {
    /// Worker threads in the switch (0: the switch does no QA itself).
    pub workers: usize,
    pub recognizer: RecognizerSettings,
    /// Open transcription besides phrase spotting (wideband channels only
    /// with PocketSphinx).
    pub transcribe: bool,
    pub max_attempts: u32,
    pub retry_base: Duration,
}

impl Default for QaSettings {
    fn default() -> Self {
        let sphinx = SphinxConfig::default();
        Self {
            workers: 1,
            recognizer: RecognizerSettings::Pocketsphinx {
                model_dir: sphinx.model_dir,
                threshold_per_phone: sphinx.threshold_per_phone,
            },
            transcribe: true,
            max_attempts: 5,
            retry_base: Duration::from_secs(30),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct QaFile {
    workers: usize,
    recognizer: String,
    transcribe: bool,
    max_attempts: u32,
    retry_seconds: u64,
    pocketsphinx: PocketsphinxFile,
    http: HttpFile,
}

impl Default for QaFile {
    fn default() -> Self {
        let d = QaSettings::default();
        Self {
            workers: d.workers,
            recognizer: "pocketsphinx".into(),
            transcribe: d.transcribe,
            max_attempts: d.max_attempts,
            retry_seconds: d.retry_base.as_secs(),
            pocketsphinx: PocketsphinxFile::default(),
            http: HttpFile::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PocketsphinxFile {
    model: PathBuf,
    threshold_per_phone: f64,
}

impl Default for PocketsphinxFile {
    fn default() -> Self {
        let sphinx = SphinxConfig::default();
        Self {
            model: sphinx.model_dir,
            threshold_per_phone: sphinx.threshold_per_phone,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct HttpFile {
    url: String,
    model: String,
    api_key_env: String,
    timeout_seconds: u64,
    retries: u32,
    max_upload_mb: u64,
    language: String,
}

impl Default for HttpFile {
    fn default() -> Self {
        let http = HttpAsrConfig::default();
        Self {
            url: http.url,
            model: http.model,
            api_key_env: String::new(),
            timeout_seconds: http.timeout.as_secs(),
            retries: http.retries,
            max_upload_mb: http.max_upload_bytes / MIB,
            language: http.language.unwrap_or_default(),
        }
    }
}

/// Checks the `[qa]` table; model paths resolve against `dir`.
pub(super) fn parse_qa(file: QaFile, dir: &Path, sink: &mut ProblemSink<'_>) -> Option<QaSettings> {
    if file.workers > 16 {
        sink.push(
            sink.line_of_key("workers"),
            "qa.workers",
            format!(
                "{} workers; give 0 (no QA in the switch) to 16",
                file.workers
            ),
        );
        return None;
    }
    if !at_least_one(
        sink,
        &[
            (
                u64::from(file.max_attempts),
                "max_attempts",
                "qa.max_attempts",
            ),
            (file.retry_seconds, "retry_seconds", "qa.retry_seconds"),
        ],
    ) {
        return None;
    }
    let recognizer = match file.recognizer.as_str() {
        "pocketsphinx" => {
            let p = file.pocketsphinx;
            if !(0.5..=10.0).contains(&p.threshold_per_phone) {
                sink.push(
                    sink.line_of_key("threshold_per_phone"),
                    "qa.pocketsphinx.threshold_per_phone",
                    format!(
                        "{} is out of range; give 0.5 to 10 (default {})",
                        p.threshold_per_phone,
                        SphinxConfig::default().threshold_per_phone
                    ),
                );
                return None;
            }
            RecognizerSettings::Pocketsphinx {
                model_dir: dir.join(p.model),
                threshold_per_phone: p.threshold_per_phone,
            }
        }
        "http" => {
            let h = file.http;
            if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
                sink.push(
                    sink.line_of_key("url"),
                    "qa.http.url",
                    format!(
                        "`{}` is not an http(s) URL; give the transcription server, e.g. \"http://127.0.0.1:8080\"",
                        h.url
                    ),
                );
                return None;
            }
            if !at_least_one(
                sink,
                &[
                    (
                        h.timeout_seconds,
                        "timeout_seconds",
                        "qa.http.timeout_seconds",
                    ),
                    (h.max_upload_mb, "max_upload_mb", "qa.http.max_upload_mb"),
                ],
            ) {
                return None;
            }
            if h.retries > MAX_RETRIES {
                sink.push(
                    sink.line_of_key("retries"),
                    "qa.http.retries",
                    format!(
                        "{} retries in a job; give 0 to {MAX_RETRIES} (a longer outage is retried by the job queue: qa.max_attempts, qa.retry_seconds)",
                        h.retries
                    ),
                );
                return None;
            }
            let api_key = (!h.api_key_env.is_empty())
                .then(|| std::env::var(&h.api_key_env).ok())
                .flatten();
            RecognizerSettings::Http {
                url: h.url,
                model: h.model,
                api_key,
                timeout: Duration::from_secs(h.timeout_seconds),
                retries: h.retries,
                max_upload_bytes: h.max_upload_mb.saturating_mul(MIB),
                language: (!h.language.is_empty()).then_some(h.language),
            }
        }
        other => {
            sink.push(
                sink.line_of_key("recognizer"),
                "qa.recognizer",
                format!("`{other}` is not a recognizer; valid: \"pocketsphinx\", \"http\""),
            );
            return None;
        }
    };
    Some(QaSettings {
        workers: file.workers,
        recognizer,
        transcribe: file.transcribe,
        max_attempts: file.max_attempts,
        retry_base: Duration::from_secs(file.retry_seconds),
    })
}

/// Reports the first of `(value, key, field)` that is 0; true when none is.
fn at_least_one(sink: &mut ProblemSink<'_>, values: &[(u64, &str, &str)]) -> bool {
    match values.iter().find(|(v, _, _)| *v == 0) {
        Some((_, key, field)) => {
            sink.push(sink.line_of_key(key), field, "must be at least 1".into());
            false
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(file: QaFile) -> QaSettings {
        let mut sink = ProblemSink::new(Path::new("switchboard.toml"), "");
        let settings = parse_qa(file, Path::new("/"), &mut sink);
        assert!(sink.problems.is_empty(), "{:?}", sink.problems);
        settings.expect("valid [qa] settings")
    }

    #[test]
    fn settings_left_out_are_the_backends_defaults() {
        let sphinx = SphinxConfig::default();
        let defaults = parsed(QaFile::default());
        assert_eq!(defaults, QaSettings::default());
        assert_eq!(
            defaults.recognizer,
            RecognizerSettings::Pocketsphinx {
                model_dir: sphinx.model_dir,
                threshold_per_phone: sphinx.threshold_per_phone,
            }
        );

        let http = HttpAsrConfig::default();
        let file = QaFile {
            recognizer: "http".into(),
            ..QaFile::default()
        };
        assert_eq!(
            parsed(file).recognizer,
            RecognizerSettings::Http {
                url: http.url,
                model: http.model,
                api_key: None,
                timeout: http.timeout,
                retries: http.retries,
                max_upload_bytes: http.max_upload_bytes,
                language: http.language,
            }
        );
    }

    #[test]
    fn http_retries_in_a_job_are_bounded() {
        let text = "[qa]\nrecognizer = \"http\"\n[qa.http]\nretries = 4\n";
        let mut sink = ProblemSink::new(Path::new("switchboard.toml"), text);
        let file = QaFile {
            recognizer: "http".into(),
            http: HttpFile {
                retries: MAX_RETRIES + 1,
                ..HttpFile::default()
            },
            ..QaFile::default()
        };
        assert_eq!(parse_qa(file, Path::new("/"), &mut sink), None);
        let problem = &sink.problems[0];
        assert_eq!(
            (problem.line, problem.field.as_str()),
            (4, "qa.http.retries")
        );
        assert!(problem.message.contains("job queue"), "{}", problem.message);
    }
}
