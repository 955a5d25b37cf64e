//! Media helpers for the integration tests: SIPp's speech and DTMF pcaps,
//! a talking caller, and speech detection in recorded WAV files.

use std::time::Duration;

use super::{SippClient, SippResult};

pub const SPEECH_PCAP: &str = "/usr/share/sip-tester/g711a.pcap";
pub const DTMF5_PCAP: &str = "/usr/share/sip-tester/dtmf_2833_5.pcap";

/// A SIPp caller (`uac_media.xml`) to 1001 at `target` offering
/// `caller_pts`: 7 s of speech, the digit 5, a second, BYE.
pub fn talking_call_to(target: &str, caller_pts: &str, limit: Duration) -> SippResult {
    SippClient::new(target, "uac_media.xml", "60s")
        .media()
        .service("1001")
        .args(&[
            "-key",
            "caller_pts",
            caller_pts,
            "-key",
            "speech_pcap",
            SPEECH_PCAP,
            "-key",
            "dtmf_pcap",
            DTMF5_PCAP,
        ])
        .run(limit)
}

/// Per channel of a 16-bit WAV, the first and last second (start, end)
/// of the 100 ms windows whose RMS is above `threshold`.
pub fn speech_spans(path: &str, threshold: f64) -> Vec<Option<(f64, f64)>> {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{path} does not open as WAV: {e}"));
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let rate = spec.sample_rate as usize;
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let window = rate / 10;
    let mut spans = vec![None; channels];
    for (ch, span) in spans.iter_mut().enumerate() {
        let frames = samples.len() / channels;
        for w in 0..frames / window {
            let sum: f64 = (w * window..(w + 1) * window)
                .map(|i| f64::from(samples[i * channels + ch]).powi(2))
                .sum();
            let rms = (sum / window as f64).sqrt();
            if rms > threshold {
                let t = w as f64 / 10.0;
                *span = Some(span.map_or((t, t + 0.1), |(a, _)| (a, t + 0.1)));
            }
        }
    }
    spans
}
