//! Speech recognition for QA, behind one trait so a deployment picks its
//! recognizer: [`sphinx`] (embedded PocketSphinx, phrase spotting and open
//! transcription of wideband channels) or [`http`] (the OpenAI-compatible
//! `/v1/audio/transcriptions` API of whisper.cpp, faster-whisper, FunASR...).
//!
//! A backend is blocking: QA workers run on their own low-priority
//! threads, never on the switch's runtime.

pub mod http;
pub mod sphinx;
mod sphinx_ffi;

use serde::{Deserialize, Serialize};

use super::{Channel, ChannelAudio, Span};

/// A word heard, with its time in the recording and the recognizer's
/// confidence (0..1; 1 when the backend gives none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub start: f64,
    pub end: f64,
    pub confidence: f32,
}

/// How a segment was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Heard {
    /// Open transcription: whatever was said.
    Transcribed,
    /// Phrase spotting: one of the phrases asked for was detected here.
    Spotted,
}

/// A stretch of speech and its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub confidence: f32,
    pub heard: Heard,
    /// Word timings when the backend gives them (may be empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Word>,
}

/// What one channel said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub channel: Channel,
    /// The backend that heard it (`pocketsphinx`, `http`...).
    pub backend: String,
    /// In time order.
    pub segments: Vec<Segment>,
}

/// What to listen for in one channel.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Phrases to spot, already normalised (lowercase words, numbers
    /// spelled out). A backend that only transcribes may ignore them.
    pub phrases: &'a [String],
    /// Where the voice activity detector heard speech; a backend may decode
    /// only these spans.
    pub speech: &'a [Span],
    /// Whether an open transcription is wanted too.
    pub transcribe: bool,
    /// The expected language (`en`, `zh`...), when known.
    pub language: Option<&'a str>,
}

/// Why a channel could not be recognised.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AsrError {
    /// The recognizer cannot be reached or is overloaded: worth retrying.
    #[error("recognizer unavailable: {0}")]
    Unavailable(String),
    /// The recognizer answered something unusable: worth retrying.
    #[error("recognizer reply unusable: {0}")]
    BadReply(String),
    /// The audio or the request can never be recognised by this backend
    /// (too large, wrong rate, model missing): retrying will not help.
    #[error("cannot recognise: {0}")]
    Rejected(String),
}

impl AsrError {
    /// Whether trying again later may succeed.
    pub fn retryable(&self) -> bool {
        !matches!(self, AsrError::Rejected(_))
    }
}

/// A speech recognizer.
pub trait Recognizer: Send + Sync {
    /// Short name stored with transcripts (`pocketsphinx`, `http`).
    fn name(&self) -> &str;

    /// Recognises one channel.
    fn recognize(
        &self,
        audio: &ChannelAudio,
        request: &Request<'_>,
    ) -> Result<Transcript, AsrError>;
}
