//! End-to-end check of voice activity detection and the call's signal
//! figures: stereo recordings (caller left, agent right) are built with
//! speech-like sounds at known times over line noise, written as WAV files,
//! read back, and every figure compared with the constructed truth.

use std::f64::consts::PI;

mod common;

use common::speech::write_wav;
use switchboard::qa::audio::read_recording;
use switchboard::qa::signal::{Signals, analyze_audio};
use switchboard::qa::vad::{VadConfig, detect};
use switchboard::qa::{Channel, ChannelAudio, Span};

/// How far a figure (seconds) may stray from the truth.
const TOLERANCE: f64 = 0.2;

/// A sound on one channel from `start` to `end` seconds.
#[derive(Debug, Clone, Copy)]
struct Sound {
    start: f64,
    end: f64,
    /// RMS at the loudest syllable, dBFS.
    level_db: f64,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A voice: harmonics of this fundamental (Hz), syllables at 4 Hz.
    Voice(f64),
    /// A DTMF digit (941 + 1336 Hz): a click, not speech.
    Dtmf,
}

fn voice(start: f64, end: f64, level_db: f64, f0: f64) -> Sound {
    Sound {
        start,
        end,
        level_db,
        kind: Kind::Voice(f0),
    }
}

/// One channel: line noise everywhere except `padded` (exact zeros, as the
/// recorder pads), sounds on top.
struct ChannelPlan {
    sounds: Vec<Sound>,
    /// Line noise level (dBFS) before and after `noise_step` seconds.
    noise_db: (f64, f64),
    noise_step: f64,
    padded: Vec<Span>,
}

/// A deterministic noise source (xorshift64*), Gaussian by Box-Muller.
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        (bits as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn gaussian(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
    }
}

fn db_to_amplitude(db: f64) -> f64 {
    32768.0 * 10f64.powf(db / 20.0)
}

/// A sound's value at `t` seconds (0 outside it).
fn sound_at(sound: &Sound, t: f64) -> f64 {
    if t < sound.start || t >= sound.end {
        return 0.0;
    }
    let local = t - sound.start;
    // 10 ms fades so edges do not click.
    let fade = (local / 0.01).min((sound.end - t) / 0.01).min(1.0);
    let wave = match sound.kind {
        Kind::Voice(f0) => {
            // Syllables: the envelope swings from a tenth of full to full
            // four times a second, starting low like a word does.
            let envelope = 0.55 - 0.45 * (2.0 * PI * 4.0 * local).cos();
            // Five harmonics falling 6 dB per octave, RMS 1 at full envelope,
            // the pitch drifting a little as intonation does.
            let phase = 2.0 * PI * f0 * local + 3.0 * (2.0 * PI * 0.7 * local).sin();
            let harmonics: f64 = (1..=5).map(|k| (k as f64 * phase).sin() / k as f64).sum();
            let rms = ((1..=5).map(|k| 1.0 / (k * k) as f64).sum::<f64>() / 2.0).sqrt();
            envelope * harmonics / rms
        }
        Kind::Dtmf => {
            ((2.0 * PI * 941.0 * local).sin() + (2.0 * PI * 1336.0 * local).sin()) / 2f64.sqrt()
        }
    };
    fade * wave * db_to_amplitude(sound.level_db)
}

fn render(plan: &ChannelPlan, rate: u32, samples: usize, noise: &mut Noise) -> Vec<i16> {
    (0..samples)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            if plan.padded.iter().any(|p| t >= p.start && t < p.end) {
                return 0;
            }
            let noise_db = if t < plan.noise_step {
                plan.noise_db.0
            } else {
                plan.noise_db.1
            };
            let value = noise.gaussian() * db_to_amplitude(noise_db)
                + plan.sounds.iter().map(|s| sound_at(s, t)).sum::<f64>();
            value.round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// The figures a recording was built to have.
#[derive(Debug)]
struct Truth {
    caller_talk: f64,
    agent_talk: f64,
    overtalk: f64,
    agent_interruptions: u32,
    caller_interruptions: u32,
    non_talk: f64,
    longest_silence: Span,
    hold: f64,
}

struct Recording {
    rate: u32,
    /// Seconds; the file has `samples_extra` more samples than that.
    duration: f64,
    samples_extra: usize,
    caller: ChannelPlan,
    agent: ChannelPlan,
    hold: Vec<Span>,
}

/// Builds the recording as a WAV file, reads it back and analyzes it.
fn build_and_analyze(name: &str, recording: &Recording) -> anyhow::Result<Signals> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(format!("{name}.wav"));
    let samples =
        (recording.duration * f64::from(recording.rate)).round() as usize + recording.samples_extra;
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let left = render(&recording.caller, recording.rate, samples, &mut noise);
    let right = render(&recording.agent, recording.rate, samples, &mut noise);
    write_wav(&path, recording.rate, &[&left, &right]);

    // Read back as QA reads recordings: caller left, agent right.
    let audio = read_recording(&path)?;
    anyhow::ensure!(
        audio.caller.as_ref().map(|c| c.samples.len()) == Some(samples),
        "caller channel length"
    );
    Ok(analyze_audio(
        &audio,
        &recording.hold,
        &VadConfig::default(),
    ))
}

fn assert_close(what: &str, actual: f64, expected: f64, signals: &Signals) {
    assert!(
        (actual - expected).abs() <= TOLERANCE,
        "{what}: {actual:.3} s, built as {expected:.3} s\n{signals:#?}"
    );
}

fn check(signals: &Signals, truth: &Truth) {
    assert_close(
        "caller talk",
        signals.caller_talk,
        truth.caller_talk,
        signals,
    );
    assert_close("agent talk", signals.agent_talk, truth.agent_talk, signals);
    assert_close("overtalk", signals.overtalk, truth.overtalk, signals);
    assert_close("non-talk", signals.non_talk, truth.non_talk, signals);
    assert_close(
        "longest silence start",
        signals.longest_silence.start,
        truth.longest_silence.start,
        signals,
    );
    assert_close(
        "longest silence end",
        signals.longest_silence.end,
        truth.longest_silence.end,
        signals,
    );
    assert_close("hold", signals.hold, truth.hold, signals);
    assert_eq!(
        (signals.agent_interruptions, signals.caller_interruptions),
        (truth.agent_interruptions, truth.caller_interruptions),
        "interruptions (agent, caller)\n{signals:#?}"
    );
}

fn noise_everywhere(sounds: Vec<Sound>, noise_db: f64) -> ChannelPlan {
    ChannelPlan {
        sounds,
        noise_db: (noise_db, noise_db),
        noise_step: 0.0,
        padded: Vec::new(),
    }
}

/// 8 kHz, noise at -50 dBFS: the agent cuts in on the caller, the caller
/// on the agent, one overlap too short to be an interruption, a long
/// silence in the middle.
#[test]
fn narrowband_call_with_interruptions_both_ways() -> anyhow::Result<()> {
    let recording = Recording {
        rate: 8000,
        duration: 28.0,
        samples_extra: 0,
        caller: noise_everywhere(
            vec![
                voice(1.0, 5.0, -20.0, 210.0),
                voice(9.5, 12.0, -22.0, 200.0),
                voice(20.0, 25.5, -24.0, 190.0),
            ],
            -50.0,
        ),
        agent: noise_everywhere(
            vec![
                voice(4.5, 9.0, -18.0, 130.0),   // over the caller by 0.5 s
                voice(11.8, 14.0, -20.0, 125.0), // over the caller by 0.2 s
                voice(18.0, 21.5, -20.0, 140.0), // the caller comes in at 20
            ],
            -50.0,
        ),
        hold: Vec::new(),
    };
    let signals = build_and_analyze("narrowband", &recording)?;
    check(
        &signals,
        &Truth {
            caller_talk: 4.0 + 2.5 + 5.5,
            agent_talk: 4.5 + 2.2 + 3.5,
            overtalk: 0.5 + 0.2 + 1.5,
            agent_interruptions: 1,
            caller_interruptions: 1,
            // 0..1, 9..9.5, 14..18, 25.5..28
            non_talk: 1.0 + 0.5 + 4.0 + 2.5,
            longest_silence: Span::new(14.0, 18.0),
            hold: 0.0,
        },
    );
    Ok(())
}

/// 16 kHz, a quiet caller stretch, different noise on each side, and a
/// hold padded with exact zeros on both channels: the silence around the
/// hold is cut by it, so the longest silence is a shorter one after it.
#[test]
fn wideband_call_with_hold_and_quiet_speech() -> anyhow::Result<()> {
    let hold = Span::new(15.0, 27.0);
    let caller = ChannelPlan {
        padded: vec![hold],
        ..noise_everywhere(
            vec![
                voice(0.5, 3.0, -22.0, 220.0),
                voice(6.0, 8.5, -34.0, 210.0), // quiet
                voice(29.0, 33.0, -20.0, 200.0),
            ],
            -50.0,
        )
    };
    let agent = ChannelPlan {
        padded: vec![hold],
        ..noise_everywhere(
            vec![
                voice(2.8, 6.2, -20.0, 120.0), // 0.2 s overlaps at both ends
                voice(9.0, 14.0, -20.0, 125.0),
                voice(27.5, 29.5, -21.0, 130.0), // the caller comes in at 29
                voice(35.0, 38.0, -20.0, 120.0),
            ],
            -55.0,
        )
    };
    let recording = Recording {
        rate: 16000,
        duration: 39.5,
        samples_extra: 0,
        caller,
        agent,
        hold: vec![hold],
    };
    let signals = build_and_analyze("wideband", &recording)?;
    check(
        &signals,
        &Truth {
            caller_talk: 2.5 + 2.5 + 4.0,
            agent_talk: 3.4 + 5.0 + 2.0 + 3.0,
            overtalk: 0.2 + 0.2 + 0.5,
            agent_interruptions: 0,
            caller_interruptions: 1,
            // 0..0.5, 8.5..9, 14..27.5, 33..35, 38..39.5
            non_talk: 0.5 + 0.5 + 13.5 + 2.0 + 1.5,
            longest_silence: Span::new(33.0, 35.0),
            hold: 12.0,
        },
    );
    Ok(())
}

/// 8 kHz, an odd number of samples, speech from the first sample to the
/// last, a DTMF digit (a click, not speech), a 0.25 s "mhm" inside the
/// agent's turn (overtalk, not an interruption), and caller line noise
/// stepping up from -60 to -45 dBFS mid-call.
#[test]
fn narrowband_call_edge_to_edge_with_click_and_backchannel() -> anyhow::Result<()> {
    let caller = ChannelPlan {
        noise_db: (-60.0, -45.0),
        noise_step: 10.0,
        ..noise_everywhere(
            vec![
                voice(0.0, 4.0, -18.0, 180.0),
                Sound {
                    start: 6.0,
                    end: 6.06,
                    level_db: -10.0,
                    kind: Kind::Dtmf,
                },
                voice(8.0, 8.25, -24.0, 180.0), // "mhm"
                voice(14.0, 20.0, -20.0, 170.0),
            ],
            -60.0,
        )
    };
    let recording = Recording {
        rate: 8000,
        duration: 20.0,
        samples_extra: 1,
        caller,
        agent: noise_everywhere(vec![voice(3.0, 12.0, -20.0, 115.0)], -52.0),
        hold: Vec::new(),
    };
    let signals = build_and_analyze("edges", &recording)?;
    check(
        &signals,
        &Truth {
            caller_talk: 4.0 + 0.25 + 6.0,
            agent_talk: 9.0,
            overtalk: 1.0 + 0.25,
            agent_interruptions: 1,
            caller_interruptions: 0,
            non_talk: 2.0,
            longest_silence: Span::new(12.0, 14.0),
            hold: 0.0,
        },
    );
    Ok(())
}

/// The detector alone on the narrowband caller: one span per utterance,
/// each edge within the tolerance.
#[test]
fn detector_finds_each_utterance() -> anyhow::Result<()> {
    let plan = noise_everywhere(
        vec![
            voice(1.0, 5.0, -20.0, 210.0),
            voice(9.5, 12.0, -30.0, 200.0),
            voice(20.0, 25.5, -24.0, 190.0),
        ],
        -50.0,
    );
    let samples = render(&plan, 16000, 16000 * 28, &mut Noise(7));
    let audio = ChannelAudio {
        channel: Channel::Caller,
        rate: 16000,
        samples,
    };
    let spans = detect(&audio, &VadConfig::default());
    assert_eq!(spans.len(), plan.sounds.len(), "{spans:?}");
    for (span, sound) in spans.iter().zip(&plan.sounds) {
        assert!(
            (span.start - sound.start).abs() <= TOLERANCE
                && (span.end - sound.end).abs() <= TOLERANCE,
            "{span:?} for {sound:?}"
        );
    }
    Ok(())
}
