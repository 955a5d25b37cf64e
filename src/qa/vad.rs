//! Voice activity detection for one channel of a recording: where the
//! channel carries speech, as [`Span`]s in seconds from its start.
//!
//! It is energy-based and runs offline on the whole channel:
//!
//! 1. the channel is cut into frames of [`VadConfig::frame`] (10 ms) and the
//!    mean power of each frame is measured, relative to full scale;
//! 2. the noise floor under each frame comes from "minimum statistics": the
//!    lowest power (averaged over three frames) in the
//!    [`VadConfig::floor_window`] seconds before the frame, and the lowest
//!    in as many seconds after it. Speech pauses for breath, so neither
//!    minimum is lifted by it; taking the higher of the two makes the floor
//!    follow line noise and comfort noise the moment their level steps up
//!    or down, instead of a window later. Near either end of the channel,
//!    where one side's window is cut short, that side counts only once it
//!    spans a quarter of the window (before, it may hold nothing but the
//!    first or last words). Frames that are mostly exact
//!    zeros (the recorder's padding where a leg had no audio) take no part:
//!    they would pull the floor down to nothing and make any noise look
//!    loud;
//! 3. a frame is speech when its power is [`VadConfig::margin_db`] above
//!    that floor and above the absolute [`VadConfig::min_level_db`]; the
//!    floor is never taken above [`VadConfig::max_floor_db`], since a long
//!    steady sound with no pause in the window (a held vowel, a tone on a
//!    clean digital line padded with zeros) is louder than any line noise;
//! 4. runs of speech frames become spans; gaps shorter than
//!    [`VadConfig::hangover`] are bridged (a sentence is not split at its
//!    pauses), then spans shorter than [`VadConfig::min_speech`] (clicks,
//!    blips) are dropped.
//!
//! Cost is one pass over the samples (a sum of squares) plus a few passes
//! over the frames, with no allocation per frame.

use std::collections::VecDeque;

use super::{ChannelAudio, Span, merge_spans};

/// Full scale of a 16-bit sample, squared: the power of a full-scale square wave.
const FULL_SCALE_POWER: f64 = 32768.0 * 32768.0;

/// Parameters of the detector; [`Default`] suits telephone speech.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// Frame length in seconds (0.01 or 0.02).
    pub frame: f64,
    /// How far above the noise floor a frame must be to be speech, in dB.
    pub margin_db: f64,
    /// The lowest power that can be speech, in dBFS, however clean the line.
    pub min_level_db: f64,
    /// The highest noise floor believed, in dBFS.
    pub max_floor_db: f64,
    /// How far (seconds) before and after a frame its noise floor is looked for.
    pub floor_window: f64,
    /// Pauses shorter than this (seconds) do not end a span.
    pub hangover: f64,
    /// Spans shorter than this (seconds) are not speech.
    pub min_speech: f64,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            frame: 0.01,
            margin_db: 10.0,
            min_level_db: -55.0,
            max_floor_db: -35.0,
            floor_window: 4.0,
            hangover: 0.3,
            min_speech: 0.1,
        }
    }
}

/// Where one channel carries speech: sorted, disjoint spans in seconds.
pub fn detect(audio: &ChannelAudio, config: &VadConfig) -> Vec<Span> {
    detect_samples(&audio.samples, audio.rate, config)
}

/// [`detect`] on bare samples at `rate` samples per second. Empty input or
/// a zero rate give no speech.
pub fn detect_samples(samples: &[i16], rate: u32, config: &VadConfig) -> Vec<Span> {
    if samples.is_empty() || rate == 0 {
        return Vec::new();
    }
    let frame_len = frame_len(rate, config.frame);
    let frames = measure_frames(samples, frame_len);
    let floor = noise_floor(&frames, floor_window_frames(config, rate, frame_len));
    let speech = classify(&frames, &floor, config);
    let seconds = |sample: usize| sample as f64 / f64::from(rate);
    let spans = speech_runs(&speech)
        .into_iter()
        .map(|(first, last)| {
            let end = ((last + 1) * frame_len).min(samples.len());
            Span::new(seconds(first * frame_len), seconds(end))
        })
        .collect();
    drop_short(bridge_gaps(spans, config.hangover), config.min_speech)
}

/// Samples per frame: at least one, whatever the configuration says.
fn frame_len(rate: u32, frame: f64) -> usize {
    // `as` saturates: NaN gives 0 and infinity the largest frame.
    ((f64::from(rate) * frame).round() as usize).max(1)
}

/// Frames on each side of a frame that its noise floor is looked for in.
fn floor_window_frames(config: &VadConfig, rate: u32, frame_len: usize) -> usize {
    let frame_seconds = frame_len as f64 / f64::from(rate);
    (config.floor_window / frame_seconds).round() as usize
}

/// One frame's measure.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Mean power relative to full scale (1.0 = 0 dBFS).
    power: f64,
    /// Mostly exact zeros: the recorder's padding, not a line.
    padded: bool,
}

fn measure_frames(samples: &[i16], frame_len: usize) -> Vec<Frame> {
    samples
        .chunks(frame_len)
        .map(|chunk| {
            let mut energy: u64 = 0;
            let mut zeros: usize = 0;
            for &sample in chunk {
                let value = i32::from(sample);
                energy += (value * value) as u64;
                zeros += usize::from(sample == 0);
            }
            Frame {
                power: energy as f64 / (chunk.len() as f64 * FULL_SCALE_POWER),
                padded: zeros * 2 > chunk.len(),
            }
        })
        .collect()
}

/// The noise floor under each frame (power), `None` where both windows
/// hold nothing but padding.
fn noise_floor(frames: &[Frame], window: usize) -> Vec<Option<f64>> {
    let smoothed = smooth_unpadded(frames);
    let before = window_minimum(&smoothed, window, 0);
    let after = window_minimum(&smoothed, 0, window);
    let last = frames.len().saturating_sub(1);
    // A side's window, cut short by an end of the channel, still counts
    // from this many frames on.
    let trusted = window / 4;
    before
        .into_iter()
        .zip(after)
        .enumerate()
        .map(|(index, (before, after))| {
            let before_counts = index >= trusted;
            let after_counts = index.saturating_add(trusted) <= last;
            match (before_counts, after_counts) {
                (true, true) => higher(before, after),
                (true, false) => before.or(after),
                (false, true) => after.or(before),
                (false, false) => lower(before, after),
            }
        })
        .collect()
}

fn higher(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => a.or(b),
    }
}

fn lower(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => a.or(b),
    }
}

/// For each index, the minimum of the values from `back` before it to
/// `ahead` after it (`None` values skipped; `None` if there are no others).
fn window_minimum(values: &[Option<f64>], back: usize, ahead: usize) -> Vec<Option<f64>> {
    let mut minimum = Vec::with_capacity(values.len());
    // Candidates for the window's minimum: increasing value, increasing index.
    let mut candidates: VecDeque<(usize, f64)> = VecDeque::new();
    let mut next = 0;
    for index in 0..values.len() {
        let right = index.saturating_add(ahead).min(values.len() - 1);
        while next <= right {
            if let Some(value) = values[next] {
                while candidates.back().is_some_and(|&(_, v)| v >= value) {
                    candidates.pop_back();
                }
                candidates.push_back((next, value));
            }
            next += 1;
        }
        let left = index.saturating_sub(back);
        while candidates.front().is_some_and(|&(i, _)| i < left) {
            candidates.pop_front();
        }
        minimum.push(candidates.front().map(|&(_, value)| value));
    }
    minimum
}

/// Each unpadded frame's power averaged with its unpadded neighbours, so one
/// quiet frame of noise does not drag the floor down; padded frames give `None`.
fn smooth_unpadded(frames: &[Frame]) -> Vec<Option<f64>> {
    (0..frames.len())
        .map(|index| {
            if frames[index].padded {
                return None;
            }
            let from = index.saturating_sub(1);
            let to = (index + 2).min(frames.len());
            let (sum, count) = frames[from..to]
                .iter()
                .filter(|frame| !frame.padded)
                .fold((0.0, 0.0), |(sum, count), frame| {
                    (sum + frame.power, count + 1.0)
                });
            Some(sum / count)
        })
        .collect()
}

/// Speech or not, frame by frame.
fn classify(frames: &[Frame], floor: &[Option<f64>], config: &VadConfig) -> Vec<bool> {
    let margin = db_to_power(config.margin_db);
    let min_level = db_to_power(config.min_level_db);
    let max_floor = db_to_power(config.max_floor_db);
    frames
        .iter()
        .zip(floor)
        .map(|(frame, floor)| {
            let threshold = floor
                .map_or(0.0, |floor| floor.min(max_floor) * margin)
                .max(min_level);
            frame.power > threshold
        })
        .collect()
}

fn db_to_power(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

/// Runs of speech frames, as (first, last) frame indices.
fn speech_runs(speech: &[bool]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (index, &is_speech) in speech.iter().enumerate() {
        match (is_speech, start) {
            (true, None) => start = Some(index),
            (false, Some(first)) => {
                runs.push((first, index - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(first) = start {
        runs.push((first, speech.len() - 1));
    }
    runs
}

/// Joins spans separated by less than `hangover` seconds.
fn bridge_gaps(spans: Vec<Span>, hangover: f64) -> Vec<Span> {
    merge_spans(spans, hangover)
}

/// Keeps the spans at least `min_speech` seconds long.
fn drop_short(spans: Vec<Span>, min_speech: f64) -> Vec<Span> {
    spans
        .into_iter()
        .filter(|span| span.len() >= min_speech)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8000;

    /// A 200 Hz tone at `dbfs` from `start` to `end` seconds, over `total` seconds of
    /// deterministic noise at `noise_dbfs` (or exact zeros when `None`).
    fn tone_over_noise(
        rate: u32,
        total: f64,
        (start, end): (f64, f64),
        dbfs: f64,
        noise_dbfs: Option<f64>,
    ) -> Vec<i16> {
        let amplitude = 32768.0 * 10f64.powf(dbfs / 20.0) * std::f64::consts::SQRT_2;
        // Uniform noise of this peak has the wanted RMS.
        let noise_peak = noise_dbfs.map_or(0.0, |db| 32768.0 * 10f64.powf(db / 20.0) * 3f64.sqrt());
        let mut state: u32 = 0x1234_5678;
        let count = (total * f64::from(rate)) as usize;
        (0..count)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = (f64::from(state) / f64::from(u32::MAX) * 2.0 - 1.0) * noise_peak;
                let t = i as f64 / f64::from(rate);
                let tone = if t >= start && t < end {
                    amplitude * (2.0 * std::f64::consts::PI * 200.0 * t).sin()
                } else {
                    0.0
                };
                (tone + noise).round().clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }

    fn assert_near(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= 0.03,
            "{actual} is not near {expected}"
        );
    }

    #[test]
    fn empty_and_degenerate_input_give_no_speech() {
        let config = VadConfig::default();
        assert!(detect_samples(&[], RATE, &config).is_empty());
        assert!(detect_samples(&[1000; 800], 0, &config).is_empty());
        assert!(detect_samples(&[0; 12345], RATE, &config).is_empty());
        let odd = VadConfig {
            frame: f64::NAN,
            floor_window: f64::INFINITY,
            ..VadConfig::default()
        };
        let samples = tone_over_noise(RATE, 0.5, (0.1, 0.4), -20.0, Some(-50.0));
        // Must not panic; one-sample frames are silly but allowed.
        let _ = detect_samples(&samples, RATE, &odd);
    }

    #[test]
    fn finds_a_tone_over_noise_at_any_rate_and_odd_length() {
        for rate in [8000, 16000, 48000] {
            let mut samples = tone_over_noise(rate, 3.0, (1.0, 2.0), -30.0, Some(-50.0));
            samples.push(7); // an odd length, a partial last frame
            let spans = detect_samples(&samples, rate, &VadConfig::default());
            assert_eq!(spans.len(), 1, "{rate} Hz: {spans:?}");
            assert_near(spans[0].start, 1.0);
            assert_near(spans[0].end, 2.0);
        }
    }

    #[test]
    fn speech_up_to_the_last_sample_ends_there() {
        let samples = tone_over_noise(RATE, 2.0, (1.0, 3.0), -30.0, Some(-50.0));
        let spans = detect_samples(&samples[..15_999], RATE, &VadConfig::default());
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_near(spans[0].end, 15_999.0 / 8000.0);
    }

    #[test]
    fn noise_alone_is_not_speech_even_next_to_padding() {
        // Half a call of exact zeros, then line noise: the zeros must not
        // lower the floor under the noise.
        let mut samples = vec![0i16; 8000 * 3];
        samples.extend(tone_over_noise(RATE, 3.0, (9.0, 9.0), -30.0, Some(-45.0)));
        assert!(detect_samples(&samples, RATE, &VadConfig::default()).is_empty());
    }

    #[test]
    fn noise_stepping_up_or_down_is_not_speech() {
        let quiet = tone_over_noise(RATE, 6.0, (9.0, 9.0), -30.0, Some(-62.0));
        let loud = tone_over_noise(RATE, 6.0, (9.0, 9.0), -30.0, Some(-42.0));
        let up: Vec<i16> = quiet.iter().chain(&loud).copied().collect();
        let down: Vec<i16> = loud.iter().chain(&quiet).copied().collect();
        assert_eq!(detect_samples(&up, RATE, &VadConfig::default()), vec![]);
        assert_eq!(detect_samples(&down, RATE, &VadConfig::default()), vec![]);
    }

    #[test]
    fn speech_from_the_first_sample_is_found() {
        let samples = tone_over_noise(RATE, 10.0, (0.0, 0.9), -30.0, Some(-50.0));
        let spans = detect_samples(&samples, RATE, &VadConfig::default());
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_near(spans[0].start, 0.0);
        assert_near(spans[0].end, 0.9);
    }

    #[test]
    fn quiet_speech_on_a_clean_line_needs_the_absolute_level() {
        let samples = tone_over_noise(RATE, 3.0, (1.0, 2.0), -62.0, Some(-80.0));
        assert!(detect_samples(&samples, RATE, &VadConfig::default()).is_empty());
        let samples = tone_over_noise(RATE, 3.0, (1.0, 2.0), -45.0, Some(-80.0));
        assert_eq!(
            detect_samples(&samples, RATE, &VadConfig::default()).len(),
            1
        );
    }

    #[test]
    fn short_pauses_are_bridged_and_blips_dropped() {
        let spans = vec![
            Span::new(0.0, 1.0),
            Span::new(1.2, 2.0),  // 200 ms pause: same sentence
            Span::new(2.5, 3.0),  // 500 ms pause: a new one
            Span::new(4.0, 4.05), // a 50 ms click
        ];
        let bridged = bridge_gaps(spans, 0.3);
        assert_eq!(
            bridged,
            vec![
                Span::new(0.0, 2.0),
                Span::new(2.5, 3.0),
                Span::new(4.0, 4.05)
            ]
        );
        assert_eq!(
            drop_short(bridged, 0.1),
            vec![Span::new(0.0, 2.0), Span::new(2.5, 3.0)]
        );
    }

    #[test]
    fn a_click_alone_is_dropped() {
        let samples = tone_over_noise(RATE, 3.0, (1.0, 1.05), -10.0, Some(-50.0));
        assert!(detect_samples(&samples, RATE, &VadConfig::default()).is_empty());
    }

    #[test]
    fn noise_floor_follows_the_window_minimum() {
        let frame = |power| Frame {
            power,
            padded: false,
        };
        let padded = Frame {
            power: 0.0,
            padded: true,
        };
        let frames = [
            frame(4.0),
            frame(4.0),
            frame(1.0),
            frame(4.0),
            padded,
            frame(7.0),
        ];
        let floor = noise_floor(&frames, 1);
        // Smoothed: 4, 3, 3, 2.5, -, 7; each frame takes the higher of
        // the minimum before it and the minimum after it.
        assert_eq!(
            floor,
            vec![
                Some(4.0),
                Some(3.0),
                Some(3.0),
                Some(2.5),
                Some(7.0),
                Some(7.0)
            ]
        );
        assert_eq!(noise_floor(&[padded, padded], 5), vec![None, None]);
    }
}
