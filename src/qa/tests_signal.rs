//! Unit tests of the span arithmetic behind [`super::analyze`]: overlaps,
//! interruptions, silence with hold cut out, odd and empty inputs.

use super::*;
use crate::qa::ChannelAudio;

fn s(start: f64, end: f64) -> Span {
    Span::new(start, end)
}

fn assert_near(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} is not {expected}"
    );
}

#[test]
fn empty_inputs_give_an_empty_call() {
    let signals = analyze(&[], &[], 0.0, &[]);
    assert_eq!(signals, Signals::default());

    let signals = analyze(&[], &[], 30.0, &[]);
    assert_near(signals.duration, 30.0);
    assert_near(signals.non_talk, 30.0);
    assert_eq!(signals.longest_silence, s(0.0, 30.0));
    assert_near(signals.agent_talk_ratio, 0.0);
    assert_near(signals.overtalk_percent, 0.0);
}

#[test]
fn talk_and_ratio_per_side() {
    let signals = analyze(&[s(0.0, 2.0), s(5.0, 6.0)], &[s(2.5, 4.5)], 10.0, &[]);
    assert_near(signals.caller_talk, 3.0);
    assert_near(signals.agent_talk, 2.0);
    assert_near(signals.agent_talk_ratio, 0.4);
    assert_near(signals.overtalk, 0.0);
    assert!(signals.overtalk_spans.is_empty());
    // 2.0..2.5, 4.5..5.0 and 6.0..10.0
    assert_near(signals.non_talk, 5.0);
    assert_eq!(signals.longest_silence, s(6.0, 10.0));
}

#[test]
fn unsorted_overlapping_and_stray_spans_are_normalized() {
    let caller = [
        s(5.0, 7.0),
        s(1.0, 3.0),
        s(2.0, 4.0),
        s(-1.0, 0.5),
        s(9.0, 12.0),
        s(3.0, 3.0),
        s(f64::NAN, 2.0),
    ];
    let signals = analyze(&caller, &[], 10.0, &[]);
    assert_eq!(
        signals.caller_speech,
        vec![s(0.0, 0.5), s(1.0, 4.0), s(5.0, 7.0), s(9.0, 10.0)]
    );
    assert_near(signals.caller_talk, 6.5);
    assert_near(signals.agent_talk_ratio, 0.0);
    assert_eq!(analyze(&caller, &[], f64::NAN, &[]), Signals::default());
}

#[test]
fn overtalk_spans_total_and_percent() {
    let caller = [s(0.0, 4.0), s(6.0, 9.0)];
    let agent = [s(3.0, 7.0), s(8.0, 8.5)];
    let signals = analyze(&caller, &agent, 20.0, &[]);
    assert_eq!(
        signals.overtalk_spans,
        vec![s(3.0, 4.0), s(6.0, 7.0), s(8.0, 8.5)]
    );
    assert_near(signals.overtalk, 2.5);
    assert_near(signals.overtalk_percent, 12.5);
    // Speech covers 0..9: 11 s of nobody.
    assert_near(signals.non_talk, 11.0);
}

#[test]
fn interruptions_go_to_whoever_started_second() {
    // The agent cuts in at 3 (1 s over the caller); the caller comes back
    // at 6 while the agent is still talking (1 s over the agent).
    let signals = analyze(&[s(0.0, 4.0), s(6.0, 9.0)], &[s(3.0, 7.0)], 10.0, &[]);
    assert_eq!(signals.agent_interruptions, 1);
    assert_eq!(signals.caller_interruptions, 1);

    // One long agent turn, the caller breaking in twice.
    let signals = analyze(&[s(2.0, 3.0), s(5.0, 6.0)], &[s(0.0, 10.0)], 10.0, &[]);
    assert_eq!(signals.caller_interruptions, 2);
    assert_eq!(signals.agent_interruptions, 0);
}

#[test]
fn short_overlaps_and_simultaneous_starts_are_not_interruptions() {
    // The agent starts 0.2 s before the caller finishes: turn-taking.
    // The caller's 0.25 s "mhm" inside the agent's turn: a backchannel.
    let signals = analyze(&[s(0.0, 3.0), s(5.0, 5.25)], &[s(2.8, 8.0)], 10.0, &[]);
    assert_eq!(signals.agent_interruptions, 0);
    assert_eq!(signals.caller_interruptions, 0);
    assert_near(signals.overtalk, 0.45);

    // Exactly the minimum counts.
    let signals = analyze(&[s(0.0, 3.0)], &[s(2.7, 5.0)], 10.0, &[]);
    assert_eq!(signals.agent_interruptions, 1);

    // Both start together: nobody interrupted anybody.
    let signals = analyze(&[s(1.0, 3.0)], &[s(1.0, 4.0)], 10.0, &[]);
    assert_eq!(signals.agent_interruptions, 0);
    assert_eq!(signals.caller_interruptions, 0);
    assert_near(signals.overtalk, 2.0);
}

#[test]
fn hold_cuts_the_silence_it_overlaps() {
    // Silence 2..14 with hold 5..12 inside: pieces 2..5 and 12..14.
    let signals = analyze(&[s(0.0, 2.0)], &[s(14.0, 16.0)], 16.0, &[s(5.0, 12.0)]);
    assert_near(signals.non_talk, 12.0);
    assert_near(signals.hold, 7.0);
    assert_eq!(signals.longest_silence, s(2.0, 5.0));

    // Hold at the start of a silence, and a second one past it.
    let signals = analyze(
        &[s(0.0, 1.0), s(10.0, 11.0)],
        &[],
        12.0,
        &[s(0.5, 4.0), s(10.5, 11.5)],
    );
    assert_eq!(signals.longest_silence, s(4.0, 10.0));
    assert_near(signals.hold, 4.5);
    assert_eq!(signals.longest_hold, s(0.5, 4.0));
}

#[test]
fn a_silence_wholly_on_hold_is_no_silence() {
    let signals = analyze(&[s(0.0, 2.0)], &[s(8.0, 10.0)], 10.0, &[s(1.0, 9.0)]);
    assert_eq!(signals.longest_silence, Span::default());
    assert_near(signals.non_talk, 6.0);
    assert_near(signals.hold, 8.0);
}

#[test]
fn overlapping_hold_events_count_once() {
    let signals = analyze(&[], &[], 20.0, &[s(2.0, 6.0), s(4.0, 8.0), s(15.0, 25.0)]);
    assert_near(signals.hold, 11.0);
    assert_eq!(signals.longest_silence, s(8.0, 15.0));
}

#[test]
fn subtract_handles_cuts_spanning_several_spans() {
    let spans = [s(0.0, 2.0), s(3.0, 5.0), s(6.0, 9.0)];
    let cut = [s(1.0, 3.5), s(4.0, 4.5), s(8.0, 20.0)];
    assert_eq!(
        subtract(&spans, &cut),
        vec![s(0.0, 1.0), s(3.5, 4.0), s(4.5, 5.0), s(6.0, 8.0)]
    );
    assert_eq!(subtract(&spans, &[]), spans.to_vec());
    assert!(subtract(&[], &cut).is_empty());
}

#[test]
fn analyze_audio_runs_the_detector_on_both_sides() {
    let rate = 8000;
    let tone = |from: usize, to: usize| -> Vec<i16> {
        (0..rate * 4)
            .map(|i| {
                if (from * rate..to * rate).contains(&i) {
                    let t = i as f64 / rate as f64;
                    (3000.0 * (2.0 * std::f64::consts::PI * 180.0 * t).sin()) as i16
                } else {
                    0
                }
            })
            .collect()
    };
    let caller = ChannelAudio {
        channel: Channel::Caller,
        rate: rate as u32,
        samples: tone(0, 2),
    };
    let agent = ChannelAudio {
        channel: Channel::Agent,
        rate: rate as u32,
        samples: tone(1, 3),
    };
    // Steady tones over padding: found only because the floor is capped.
    let mut audio = CallAudio {
        caller: Some(caller),
        agent,
    };
    let signals = analyze_audio(&audio, &[], &VadConfig::default());
    assert_near(signals.duration, 4.0);
    assert_eq!(signals.caller_speech, vec![s(0.0, 2.0)]);
    assert_eq!(signals.agent_speech, vec![s(1.0, 3.0)]);
    assert_eq!(signals.agent_interruptions, 1);
    assert_eq!(signals.longest_silence, s(3.0, 4.0));

    // A mono recording is the agent alone: nobody speaks over them.
    audio.caller = None;
    let mono = analyze_audio(&audio, &[], &VadConfig::default());
    assert_near(mono.duration, 4.0);
    assert!(mono.caller_speech.is_empty());
    assert_eq!(mono.agent_speech, vec![s(1.0, 3.0)]);
    assert_eq!(mono.agent_interruptions, 0);
    assert_eq!(mono.longest_silence, s(0.0, 1.0));
}
