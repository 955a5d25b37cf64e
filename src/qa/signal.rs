//! The call's signal figures, from the voice activity of each channel and
//! the call's hold events: no recognizer needed.

use serde::{Deserialize, Serialize};

use super::Span;

/// Signal figures of one recording (seconds unless said otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// Length of the recording.
    pub duration: f64,
    /// Time the caller spoke.
    pub caller_talk: f64,
    /// Time the agent spoke.
    pub agent_talk: f64,
    /// Agent's share of all talk, 0..1 (0 when nobody spoke).
    pub agent_talk_ratio: f64,
    /// Time both spoke at once.
    pub overtalk: f64,
    /// Overtalk as a percentage of the call's duration.
    pub overtalk_percent: f64,
    /// Times the agent started speaking while the caller was speaking.
    pub agent_interruptions: u32,
    /// Times the caller started speaking while the agent was speaking.
    pub caller_interruptions: u32,
    /// Time nobody spoke.
    pub non_talk: f64,
    /// The longest stretch with nobody speaking (hold excluded).
    pub longest_silence: Span,
    /// Time the caller was on hold (from the call's events).
    pub hold: f64,
    /// Where each side spoke.
    pub caller_speech: Vec<Span>,
    pub agent_speech: Vec<Span>,
    /// Where both spoke at once.
    pub overtalk_spans: Vec<Span>,
}
