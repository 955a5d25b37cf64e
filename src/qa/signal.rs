//! The call's signal figures, from the voice activity of each channel and
//! the call's hold events: no recognizer needed.
//!
//! [`analyze`] owns the span arithmetic (talk, overtalk, interruptions,
//! silence with hold cut out); [`analyze_audio`] runs the [`vad`] on the
//! recording's channels first, for `switchboard qa run` and the job
//! workers alike (see [`Pipeline`]).
//!
//! [`vad`]: super::vad
//! [`Pipeline`]: super::pipeline::Pipeline

use serde::{Deserialize, Serialize};

use super::audio::CallAudio;
use super::vad::{self, VadConfig};
use super::{Channel, Span, merge_spans};

/// The shortest overlap (seconds) that counts as an interruption.
///
/// An overlap within a microsecond of it counts (span ends are sums of
/// floats).
///
/// Speaking over the other side for less than this is ordinary turn-taking
/// (starting a beat early) or a backchannel blip ("mhm"), not cutting them
/// off. The overlap still counts in [`Signals::overtalk`].
pub const MIN_INTERRUPTION: f64 = 0.3;

/// Slack for comparing lengths computed from float span ends.
const EPSILON: f64 = 1e-6;

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
    /// Times the agent started speaking while the caller was speaking
    /// (overlaps of at least [`MIN_INTERRUPTION`]).
    pub agent_interruptions: u32,
    /// Times the caller started speaking while the agent was speaking
    /// (overlaps of at least [`MIN_INTERRUPTION`]).
    pub caller_interruptions: u32,
    /// Time nobody spoke (hold included).
    pub non_talk: f64,
    /// The longest stretch with nobody speaking (hold excluded: a silence
    /// that overlaps hold is cut by it). Empty (0..0) when there is none.
    pub longest_silence: Span,
    /// Time the caller was on hold (from the call's events).
    pub hold: f64,
    /// The longest hold. Empty (0..0) when there is none (and in results
    /// stored before it was kept).
    #[serde(default)]
    pub longest_hold: Span,
    /// Where each side spoke.
    pub caller_speech: Vec<Span>,
    pub agent_speech: Vec<Span>,
    /// Where both spoke at once.
    pub overtalk_spans: Vec<Span>,
}

/// The figures of a call lasting `duration` seconds, from where each side
/// spoke and where the caller was on hold.
///
/// Spans may come in any order and overlap one another; they are sorted,
/// merged and clipped to `0..duration` first (a non-finite or negative
/// duration counts as 0).
pub fn analyze(caller: &[Span], agent: &[Span], duration: f64, hold: &[Span]) -> Signals {
    let duration = if duration.is_finite() {
        duration.max(0.0)
    } else {
        0.0
    };
    let caller = normalize(caller, duration);
    let agent = normalize(agent, duration);
    let hold = normalize(hold, duration);

    let caller_talk = total(&caller);
    let agent_talk = total(&agent);
    let overlaps = overtalk(&caller, &agent);
    let overtalk_spans: Vec<Span> = overlaps.iter().map(|o| o.span).collect();
    let overtalk_total = total(&overtalk_spans);
    let silences = complement(&union(&caller, &agent), duration);
    let non_talk = total(&silences);

    Signals {
        duration,
        caller_talk,
        agent_talk,
        agent_talk_ratio: ratio(agent_talk, caller_talk + agent_talk),
        overtalk: overtalk_total,
        overtalk_percent: 100.0 * ratio(overtalk_total, duration),
        agent_interruptions: interruptions_by(&overlaps, Channel::Agent),
        caller_interruptions: interruptions_by(&overlaps, Channel::Caller),
        non_talk,
        longest_silence: longest(&subtract(&silences, &hold)),
        hold: total(&hold),
        longest_hold: longest(&hold),
        overtalk_spans,
        caller_speech: caller,
        agent_speech: agent,
    }
}

/// [`analyze`] on a recording: voice activity of each channel first (none
/// on the caller's side of a mono recording), the call lasting as long as
/// its longer channel. The one place QA runs the detector: the spans it
/// found are the returned [`Signals::caller_speech`] and
/// [`Signals::agent_speech`].
pub fn analyze_audio(audio: &CallAudio, hold: &[Span], vad: &VadConfig) -> Signals {
    let caller_speech = audio
        .caller
        .as_ref()
        .map(|caller| vad::detect(caller, vad))
        .unwrap_or_default();
    let agent_speech = vad::detect(&audio.agent, vad);
    analyze(&caller_speech, &agent_speech, audio.duration(), hold)
}

/// `part / whole`, 0 when the whole is nothing.
fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// Sorted, disjoint, non-empty spans within `0..duration`.
fn normalize(spans: &[Span], duration: f64) -> Vec<Span> {
    let clipped: Vec<Span> = spans
        .iter()
        .filter(|span| span.start.is_finite() && span.end.is_finite())
        .map(|span| Span::new(span.start.max(0.0), span.end.min(duration)))
        .filter(|span| !span.is_empty())
        .collect();
    merge_spans(clipped, 0.0)
}

/// Summed length (`Iterator::sum` of no floats would give -0.0).
fn total(spans: &[Span]) -> f64 {
    spans.iter().fold(0.0, |sum, span| sum + span.len())
}

/// Both sides speaking at once, and who started it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Overtalk {
    span: Span,
    /// The side that started speaking while the other already was; `None`
    /// when both started at the same instant.
    started_by: Option<Channel>,
}

/// Where normalized `caller` and `agent` overlap, in order.
fn overtalk(caller: &[Span], agent: &[Span]) -> Vec<Overtalk> {
    let mut overlaps = Vec::new();
    let (mut c, mut a) = (0, 0);
    while let (Some(said), Some(answered)) = (caller.get(c), agent.get(a)) {
        let span = Span::new(said.start.max(answered.start), said.end.min(answered.end));
        if !span.is_empty() {
            let started_by = match said.start.total_cmp(&answered.start) {
                std::cmp::Ordering::Less => Some(Channel::Agent),
                std::cmp::Ordering::Greater => Some(Channel::Caller),
                std::cmp::Ordering::Equal => None,
            };
            overlaps.push(Overtalk { span, started_by });
        }
        if said.end <= answered.end {
            c += 1;
        } else {
            a += 1;
        }
    }
    overlaps
}

fn interruptions_by(overlaps: &[Overtalk], side: Channel) -> u32 {
    let count = overlaps
        .iter()
        .filter(|o| o.started_by == Some(side) && o.span.len() >= MIN_INTERRUPTION - EPSILON)
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Everything either side covers, normalized.
fn union(a: &[Span], b: &[Span]) -> Vec<Span> {
    let both: Vec<Span> = a.iter().chain(b).copied().collect();
    normalize(&both, f64::INFINITY)
}

/// The parts of `0..duration` that normalized `spans` leave uncovered.
fn complement(spans: &[Span], duration: f64) -> Vec<Span> {
    let mut gaps = Vec::with_capacity(spans.len() + 1);
    let mut from = 0.0;
    for span in spans {
        if span.start > from {
            gaps.push(Span::new(from, span.start));
        }
        from = span.end;
    }
    if duration > from {
        gaps.push(Span::new(from, duration));
    }
    gaps
}

/// The parts of normalized `spans` outside normalized `cut`.
fn subtract(spans: &[Span], cut: &[Span]) -> Vec<Span> {
    let mut kept = Vec::with_capacity(spans.len());
    let mut next_cut = 0;
    for span in spans {
        let mut from = span.start;
        // Cuts wholly before this span cannot touch the later ones either.
        while cut.get(next_cut).is_some_and(|c| c.end <= from) {
            next_cut += 1;
        }
        for c in cut[next_cut..].iter().take_while(|c| c.start < span.end) {
            if c.start > from {
                kept.push(Span::new(from, c.start));
            }
            from = from.max(c.end);
        }
        if span.end > from {
            kept.push(Span::new(from, span.end));
        }
    }
    kept
}

/// The longest span, the first of equals; empty when there is none.
fn longest(spans: &[Span]) -> Span {
    spans.iter().fold(Span::default(), |best, span| {
        if span.len() > best.len() { *span } else { best }
    })
}

#[cfg(test)]
#[path = "tests_signal.rs"]
mod tests;
