//! One recording through QA: voice activity and signal figures per
//! channel, the recognizer listening for the rules' phrases (and
//! transcribing), then the rules scored with their evidence. Used by the
//! job workers ([`JobProcessor`]) and by `switchboard qa run`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::asr::http::{HttpAsr, HttpAsrConfig};
use super::asr::sphinx::{Sphinx, SphinxConfig};
use super::asr::{AsrError, Recognizer, Request, Transcript};
use super::audio::{AudioError, CallAudio, read_recording};
use super::jobs::{JobError, JobProcessor};
use super::rules::{LiveRules, Rules};
use super::score::{CallScore, phrases, score};
use super::signal::{Signals, analyze_audio};
use super::vad::VadConfig;
use super::{Channel, Span};
use crate::config::{QaSettings, RecognizerSettings};
use crate::store::{QaCallContext, QaJob, QaResultRow};

/// What QA found in one recording.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QaOutcome {
    /// Total, per category and per item, with evidence.
    #[serde(flatten)]
    pub score: CallScore,
    pub signals: Signals,
    /// Caller's, then agent's.
    pub transcripts: Vec<Transcript>,
    pub backend: String,
    /// Seconds of audio (the recording's length).
    pub audio_seconds: f64,
    /// Seconds the check took.
    pub took_seconds: f64,
}

/// The checker: rules, recognizer and detector.
pub struct Pipeline {
    /// Read at the start of each check: a reload takes effect from the
    /// next job.
    rules: Arc<LiveRules>,
    recognizer: Arc<dyn Recognizer>,
    vad: VadConfig,
    transcribe: bool,
}

/// Starts the recognizer the settings name.
pub fn recognizer(settings: &QaSettings) -> Result<Arc<dyn Recognizer>, AsrError> {
    Ok(match &settings.recognizer {
        RecognizerSettings::Pocketsphinx {
            model_dir,
            threshold_per_phone,
        } => Arc::new(Sphinx::new(SphinxConfig {
            model_dir: model_dir.clone(),
            threshold_per_phone: *threshold_per_phone,
            ..SphinxConfig::default()
        })?),
        RecognizerSettings::Http {
            url,
            model,
            api_key,
            timeout,
            retries,
            max_upload_bytes,
            language,
        } => Arc::new(HttpAsr::new(HttpAsrConfig {
            url: url.clone(),
            model: model.clone(),
            api_key: api_key.clone(),
            timeout: *timeout,
            retries: *retries,
            max_upload_bytes: *max_upload_bytes,
            language: language.clone(),
            ..HttpAsrConfig::default()
        })?),
    })
}

impl Pipeline {
    /// A checker with fixed rules.
    pub fn new(rules: Arc<Rules>, recognizer: Arc<dyn Recognizer>, transcribe: bool) -> Self {
        Self::live(Arc::new(LiveRules::new(rules)), recognizer, transcribe)
    }

    /// A checker with the rules in force in `rules` (reloaded elsewhere).
    pub fn live(rules: Arc<LiveRules>, recognizer: Arc<dyn Recognizer>, transcribe: bool) -> Self {
        Self {
            rules,
            recognizer,
            vad: VadConfig::default(),
            transcribe,
        }
    }

    /// Checks one recording; `holds` are the hold spans in seconds from
    /// its start.
    pub fn check(&self, audio: &CallAudio, holds: &[Span]) -> Result<QaOutcome, AsrError> {
        let started = Instant::now();
        let rules = self.rules.current();
        let (agent_phrases, caller_phrases) = phrases(&rules);
        let signals = analyze_audio(audio, holds, &self.vad);
        fn listen<'a>(speech: &'a [Span], phrases: &'a [String], transcribe: bool) -> Request<'a> {
            Request {
                phrases,
                speech,
                transcribe,
                language: None,
            }
        }
        let agent = self.recognizer.recognize(
            &audio.agent,
            &listen(&signals.agent_speech, &agent_phrases, self.transcribe),
        )?;
        let caller = match &audio.caller {
            Some(c) => self.recognizer.recognize(
                c,
                &listen(&signals.caller_speech, &caller_phrases, self.transcribe),
            )?,
            None => Transcript {
                channel: Channel::Caller,
                backend: self.recognizer.name().to_string(),
                segments: Vec::new(),
            },
        };
        let score = score(&rules, &caller, &agent, &signals);
        Ok(QaOutcome {
            score,
            signals,
            transcripts: vec![caller, agent],
            backend: self.recognizer.name().to_string(),
            audio_seconds: audio.duration(),
            took_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Reads and checks a recording file.
    pub fn check_file(&self, path: &Path, holds: &[Span]) -> Result<QaOutcome, JobError> {
        let audio = read_recording(path).map_err(|e| match e {
            AudioError::Unreadable { .. } => JobError::retry(e.to_string()),
            AudioError::Unsupported { .. } => JobError::fatal(e.to_string()),
        })?;
        self.check(&audio, holds).map_err(|e| JobError {
            retryable: e.retryable(),
            reason: e.to_string(),
        })
    }
}

/// The hold spans of a call, in seconds from its recording's start.
pub fn holds_in_recording(context: &QaCallContext) -> Vec<Span> {
    context
        .holds
        .iter()
        .map(|(from, to)| {
            let at = |ms: i64| ((ms - context.recording_started_at) as f64 / 1000.0).max(0.0);
            Span::new(at(*from), at(*to))
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// The stored form: a summary without what was said (no evidence, and no
/// notes, which may quote the words heard), the rest sealed.
pub fn result_row(
    job: &QaJob,
    context: Option<&QaCallContext>,
    outcome: &QaOutcome,
) -> QaResultRow {
    let mut summary = outcome.score.clone();
    for item in &mut summary.items {
        item.evidence.clear();
        item.note.clear();
    }
    let detail = serde_json::to_string(outcome).unwrap_or_default();
    QaResultRow {
        recording: job.recording.clone(),
        call_id: job.call_id.clone(),
        agent: context.and_then(|c| c.agent.clone()),
        queue: context.and_then(|c| c.queue.clone()),
        intent: context.and_then(|c| c.intent.clone()),
        call_started_at: context.map_or(job.created_at, |c| c.call_started_at),
        score: outcome.score.score.clamp(0.0, 100.0),
        summary: serde_json::to_string(&summary).unwrap_or_default(),
        detail,
        backend: outcome.backend.clone(),
        took_ms: i64::try_from(Duration::from_secs_f64(outcome.took_seconds.max(0.0)).as_millis())
            .unwrap_or(i64::MAX),
        created_at: crate::call::unix_ms(),
    }
}

impl JobProcessor for Pipeline {
    fn process(
        &self,
        job: &QaJob,
        context: Option<&QaCallContext>,
    ) -> Result<QaResultRow, JobError> {
        let holds = context.map(holds_in_recording).unwrap_or_default();
        let outcome = self.check_file(Path::new(&job.recording), &holds)?;
        Ok(result_row(job, context, &outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qa::score::{Evidence, ItemResult, Outcome};
    use crate::store::QaJobState;

    #[test]
    fn the_stored_summary_keeps_no_word_anyone_said() {
        let said = "my card number is four four one two";
        let outcome = QaOutcome {
            score: CallScore {
                score: 50.0,
                fatal: Vec::new(),
                categories: Vec::new(),
                items: vec![ItemResult {
                    rule: "closing".into(),
                    category: "process".into(),
                    kind: "required".into(),
                    outcome: Outcome::Fail,
                    fatal: false,
                    weight: 1.0,
                    evidence: vec![Evidence {
                        channel: Channel::Caller,
                        start: 1.0,
                        end: 2.0,
                        text: said.into(),
                    }],
                    note: format!("closest: \"{said}\" at 00:01.0"),
                }],
            },
            signals: Signals::default(),
            transcripts: Vec::new(),
            backend: "pocketsphinx".into(),
            audio_seconds: 3.0,
            took_seconds: 0.5,
        };
        let job = QaJob {
            id: 1,
            recording: "/rec/c1.wav".into(),
            call_id: "c1".into(),
            state: QaJobState::Running,
            attempts: 1,
            next_at: 0,
            worker: None,
            started_at: None,
            error: None,
            created_at: 0,
            updated_at: 0,
        };
        let row = result_row(&job, None, &outcome);
        assert!(!row.summary.contains("card number"), "{}", row.summary);
        assert!(
            row.summary.contains("\"outcome\":\"fail\""),
            "{}",
            row.summary
        );
        assert!(row.detail.contains("card number"));
        assert_eq!(row.score, 50.0);
    }
}
