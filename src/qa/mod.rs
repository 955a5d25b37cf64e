//! Quality assurance after the call: every finished recording is checked
//! the way a QA team would check it by listening.
//!
//! What it owns, one module each:
//! - [`audio`]: a recording read back as one [`ChannelAudio`] per side
//!   (stereo: caller left, agent right; mono: the agent alone);
//! - [`vad`] and [`signal`]: voice activity per channel and the call's
//!   signal figures (talk, overtalk, silence, hold), no recognizer needed;
//! - [`asr`]: speech recognition behind the [`asr::Recognizer`] trait, with
//!   the embedded PocketSphinx backend and the OpenAI-compatible HTTP one;
//! - [`rules`], [`matcher`] and [`score`]: the QA rules file, fuzzy phrase
//!   matching, and a call's score with the evidence of every item;
//! - [`jobs`]: the durable queue of QA jobs and its low-priority workers;
//! - [`report`]: agent scorecards and period reports from stored results.
//!
//! It reads recordings and the store; nothing on the call path waits on it.

pub mod asr;
pub mod audio;
pub mod cli;
pub mod jobs;
pub mod matcher;
pub mod pipeline;
pub mod report;
pub mod rules;
pub mod score;
pub mod signal;
pub mod vad;

use serde::{Deserialize, Serialize};

/// Which side of the call a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Caller,
    Agent,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Caller => "caller",
            Channel::Agent => "agent",
        }
    }
}

/// A stretch of a recording, in seconds from its start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub start: f64,
    pub end: f64,
}

impl Span {
    pub fn new(start: f64, end: f64) -> Self {
        Self { start, end }
    }

    pub fn len(&self) -> f64 {
        (self.end - self.start).max(0.0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() <= 0.0
    }
}

/// One side's audio: mono linear samples at the recording's rate.
#[derive(Debug, Clone)]
pub struct ChannelAudio {
    pub channel: Channel,
    /// Samples per second (8000 for G.711 calls, 16000 for G.722...).
    pub rate: u32,
    pub samples: Vec<i16>,
}

impl ChannelAudio {
    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        if self.rate == 0 {
            0.0
        } else {
            self.samples.len() as f64 / f64::from(self.rate)
        }
    }
}
