//! Issue 3 (media core), a wideband caller through the switch: a
//! hand-made caller offers G.722 only, agent 1001 is a SIPp UAS with
//! `-rtp_echo` that takes PCMU only, so the switch transcodes both ways
//! (G.722 16 kHz <-> PCMU 8 kHz, through its jitter buffer and resampler).
//!
//! Pass/fail: the call is answered with G.722 to the caller; a 1 kHz tone
//! sent as G.722 comes back as G.722 (payload type 9) and decodes to about
//! 1 kHz; the CDR says G722/8000 on the caller leg and PCMU/8000 on the
//! agent leg; the recording is stereo at 16 kHz (the wideband leg's rate).

mod common;

use common::*;
use std::time::{Duration, Instant};
use switchboard::media::codec::{G722Decoder, G722Encoder};

const RATE: usize = 16_000;

#[test]
fn a_g722_caller_to_a_pcmu_agent_is_transcoded_both_ways() {
    let sw = Switch::start(SwitchOpts::new());
    let uas = SippServer::start(
        &scenario("uas_echo.xml"),
        &["-rtp_echo", "-key", "agent_pts", "0"],
    );
    let r = sipp_register(&sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "{}", r.describe());

    let mut caller = RawCaller::new(sw.carrier_addr(), "1001");
    let (status, ok) = caller.invite("9 101", None);
    assert_eq!(status, 200, "{ok}");
    assert!(
        ok.lines()
            .any(|l| l.starts_with("m=audio") && l.contains("RTP/AVP 9")),
        "answered with G.722: {ok}"
    );

    // 1.5 s of a 1 kHz tone as G.722, 20 ms packets on a fixed schedule.
    let mut encoder = G722Encoder::new();
    let start = Instant::now();
    for i in 0..75u16 {
        let pcm: Vec<i16> = (0..320)
            .map(|n| {
                let t = (usize::from(i) * 320 + n) as f64 / RATE as f64;
                (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
            })
            .collect();
        let mut payload = [0u8; 160];
        encoder.encode_into(&pcm, &mut payload);
        let at = start + Duration::from_millis(20) * u32::from(i);
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        caller.send_rtp(9, i, u32::from(i) * 160, i == 0, &payload);
    }
    let back = caller.receive(Duration::from_millis(600), Duration::from_secs(10));
    let g722: Vec<&Vec<u8>> = back
        .iter()
        .filter(|(pt, _)| *pt == 9)
        .map(|(_, p)| p)
        .collect();
    assert!(
        g722.len() >= 60,
        "G.722 echo packets: {} of {}",
        g722.len(),
        back.len()
    );
    let mut decoder = G722Decoder::new();
    let mut pcm = Vec::new();
    for p in &g722 {
        let mut out = vec![0i16; p.len() * 2];
        decoder.decode_into(p, &mut out);
        pcm.extend(out);
    }
    // Skip the start (jitter buffer and codec warm-up).
    let steady = &pcm[pcm.len() / 4..pcm.len() * 3 / 4];
    let f = crossing_frequency(steady, RATE);
    assert!((f - 1000.0).abs() < 60.0, "the echo decodes to {f} Hz");

    assert_eq!(caller.bye(), 200);
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["legs"]["caller"]["codec"], "G722/8000", "{c:#}");
    assert_eq!(c["legs"]["agent"]["codec"], "PCMU/8000", "{c:#}");
    assert_eq!(c["recordings"][0]["sample_rate"], 16000, "{c:#}");
    assert_eq!(c["recordings"][0]["channels"], 2, "{c:#}");
}
