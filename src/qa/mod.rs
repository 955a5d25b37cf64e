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

/// `spans` sorted by start, with every two that overlap, touch or are less
/// than `max_gap` seconds apart joined into one. With a `max_gap` of 0
/// only overlapping and touching spans are joined.
pub fn merge_spans(mut spans: Vec<Span>, max_gap: f64) -> Vec<Span> {
    spans.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end || span.start - last.end < max_gap => {
                last.end = last.end.max(span.end);
            }
            _ => merged.push(span),
        }
    }
    merged
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_spans_sorts_and_joins_what_is_closer_than_the_gap() {
        let spans = vec![
            Span::new(5.0, 6.0),
            Span::new(0.0, 1.0),
            Span::new(0.5, 0.8), // inside the first
            Span::new(1.0, 2.0), // touching it
            Span::new(2.2, 3.0), // 0.2 s after
            Span::new(3.5, 4.0), // 0.5 s after
        ];
        assert_eq!(
            merge_spans(spans.clone(), 0.0),
            vec![
                Span::new(0.0, 2.0),
                Span::new(2.2, 3.0),
                Span::new(3.5, 4.0),
                Span::new(5.0, 6.0),
            ]
        );
        assert_eq!(
            merge_spans(spans.clone(), 0.3),
            vec![
                Span::new(0.0, 3.0),
                Span::new(3.5, 4.0),
                Span::new(5.0, 6.0)
            ]
        );
        // A gap of exactly `max_gap` is not bridged.
        assert_eq!(
            merge_spans(vec![Span::new(0.0, 1.0), Span::new(1.5, 2.0)], 0.5),
            vec![Span::new(0.0, 1.0), Span::new(1.5, 2.0)]
        );
        assert!(merge_spans(Vec::new(), 1.0).is_empty());
    }
}
