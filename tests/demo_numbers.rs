//! Issue 3 (media core), the demo numbers on the `carrier` profile, with a
//! hand-made caller (raw SIP and RTP over UDP).
//!
//! Pass/fail:
//! - `9196` answers and echoes: 50 packets of a PCMU pattern come back
//!   (at least 45), carrying the same payload;
//! - `9197` answers and plays its prompt and beep (at least 3 s of
//!   non-silent audio), records the caller until `#` (RFC 4733), then plays
//!   the recording back (the caller's 1 s pattern comes back as at least
//!   40 frames) and hangs up with BYE; the CDR says hung up by the switch
//!   after the message was played back, the `#` is in its journal and the
//!   message's recording row is complete, mono, about 1 s long.

mod common;

use common::*;
use std::time::Duration;

/// PCMU: 0xFF is silence; 0x20 is a loud negative sample.
const PATTERN: u8 = 0x20;

/// Sends silence (the caller listens) until the prompt and beep have
/// played: loud frames, then 800 ms of quiet (longer than the pauses
/// between the prompt's sentences). Returns what was heard.
fn listen_to_prompt(caller: &RawCaller, seq: &mut u16, ts: &mut u32) -> Vec<(u8, Vec<u8>)> {
    let mut got = Vec::new();
    let start = std::time::Instant::now();
    let mut quiet_run = 0;
    for i in 0..500u32 {
        let at = start + Duration::from_millis(20) * i;
        if let Some(wait) = at.checked_duration_since(std::time::Instant::now()) {
            std::thread::sleep(wait);
        }
        caller.send_rtp(0, *seq, *ts, *seq == 1, &[SILENCE; 160]);
        *seq += 1;
        *ts += 160;
        for (pt, p) in caller.receive(Duration::from_millis(1), Duration::from_millis(5)) {
            quiet_run = if loud(&p) { 0 } else { quiet_run + 1 };
            got.push((pt, p));
        }
        let heard = got.iter().filter(|(_, p)| loud(p)).count();
        if heard >= 150 && quiet_run >= 40 {
            break;
        }
    }
    got
}

#[test]
fn echo_number_9196_sends_the_caller_back_its_audio() {
    let sw = Switch::start(SwitchOpts::new());
    let mut caller = RawCaller::new(sw.carrier_addr(), "9196");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    caller.talk(&mut seq, &mut ts, 50, PATTERN);
    let back = caller.receive(Duration::from_millis(500), Duration::from_secs(5));
    let echoed = back
        .iter()
        .filter(|(pt, p)| *pt == 0 && p.iter().all(|&b| b == PATTERN))
        .count();
    assert!(
        echoed >= 45,
        "echoed packets: {echoed} of 50 ({} received)",
        back.len()
    );
    assert_eq!(caller.bye(), 200);
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["agent"], "app:echo", "{c:#}");
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
}

#[test]
fn record_and_playback_number_9197() {
    let sw = Switch::start(SwitchOpts::new());
    let mut caller = RawCaller::new(sw.carrier_addr(), "9197");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    let prompt = listen_to_prompt(&caller, &mut seq, &mut ts);
    let loud_frames = prompt.iter().filter(|(_, p)| loud(p)).count();
    assert!(
        loud_frames >= 150,
        "the prompt and beep were heard: {loud_frames} loud frames of {}",
        prompt.len()
    );
    // The message: 1 s of the pattern, then '#'.
    caller.talk(&mut seq, &mut ts, 50, PATTERN);
    caller.send_digit(11, &mut seq, ts);
    let played = caller.receive(Duration::from_millis(1500), Duration::from_secs(10));
    let pattern = played
        .iter()
        .filter(|(_, p)| p.iter().all(|&b| b == PATTERN))
        .count();
    assert!(
        pattern >= 40,
        "the message came back: {pattern} frames of the pattern in {}",
        played.len()
    );
    assert!(
        caller.await_bye(Duration::from_secs(5)),
        "the switch hangs up"
    );
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["agent"], "app:record-playback", "{c:#}");
    assert_eq!(c["hangup_by"], "switch", "{c:#}");
    assert_eq!(c["cause"], "message played back", "{c:#}");
    let digits: Vec<&str> = c["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "dtmf")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(digits.iter().any(|d| d.starts_with('#')), "{digits:?}");
    let rec = &c["recordings"][0];
    assert_eq!(rec["channels"], 1, "{c:#}");
    assert_eq!(rec["state"], "complete", "{c:#}");
    let ms = rec["duration_ms"].as_i64().unwrap_or(0);
    assert!((900..3000).contains(&ms), "message length {ms} ms: {c:#}");
}

/// A caller who hangs up while 9197 records the message: the message's
/// row is completed at the call's end (not left `recording` until the
/// next start), with the second the caller spoke.
#[test]
fn hanging_up_while_9197_records_completes_the_message() {
    let sw = Switch::start(SwitchOpts::new());
    let mut caller = RawCaller::new(sw.carrier_addr(), "9197");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    let prompt = listen_to_prompt(&caller, &mut seq, &mut ts);
    assert!(prompt.iter().filter(|(_, p)| loud(p)).count() >= 150);
    caller.talk(&mut seq, &mut ts, 50, PATTERN);
    assert_eq!(caller.bye(), 200);
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
    let rec = &c["recordings"][0];
    assert_eq!(rec["state"], "complete", "{c:#}");
    let ms = rec["duration_ms"].as_i64().unwrap_or(0);
    assert!((700..3000).contains(&ms), "message length {ms} ms: {c:#}");
}
