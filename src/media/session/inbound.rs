//! The decode path of a session: the caller's audio packets go into the
//! jitter buffer as they arrive, and one frame is played out per tick. The
//! frame stays G.711 for echo and for the recorder; it is decoded to linear
//! PCM here only for the in-band DTMF detector (Goertzel), which runs when
//! the leg has no telephone-event payload type.

use crate::media::dtmf::{DetectorConfig, GoertzelDetector};
use crate::media::g711::{decode_alaw_into, decode_ulaw_into};
use crate::media::jitter::{JitterBuffer, JitterConfig, JitterStats, Pop};
use crate::media::relay::AudioCodec;
use bytes::Bytes;
use std::time::Instant;

/// What the caller's stream gives for one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Heard {
    /// A frame, as received.
    Frame(Bytes),
    /// Its packet was lost (later ones arrived).
    Lost,
    /// No audio: buffering, silence suppression, or no stream at all.
    Nothing,
}

pub(super) struct Inbound {
    codec: AudioCodec,
    jitter: JitterBuffer,
    detector: Option<GoertzelDetector>,
    /// One tick of decoded audio for the detector.
    pcm: Box<[i16]>,
}

/// Decode the G.711 `payload` into the start of `out` (as many samples as
/// both hold); returns the number of samples written.
pub(super) fn decode(codec: AudioCodec, payload: &[u8], out: &mut [i16]) -> usize {
    let n = payload.len().min(out.len());
    match codec {
        AudioCodec::Pcma => decode_alaw_into(&payload[..n], &mut out[..n]),
        // The session only runs G.711 legs (`spawn_session` refuses others).
        _ => decode_ulaw_into(&payload[..n], &mut out[..n]),
    }
    n
}

impl Inbound {
    /// `jitter` must already carry the leg's clock rate and ptime.
    pub fn new(codec: AudioCodec, jitter: JitterConfig, inband_dtmf: bool) -> Self {
        let samples = (jitter.clock_rate / 1000 * jitter.ptime_ms) as usize;
        let detector = inband_dtmf.then(|| {
            GoertzelDetector::new(DetectorConfig {
                sample_rate: jitter.clock_rate,
                ..DetectorConfig::default()
            })
        });
        Self {
            codec,
            jitter: JitterBuffer::new(jitter),
            detector,
            pcm: vec![0; samples].into_boxed_slice(),
        }
    }

    /// One received audio packet.
    pub fn push(&mut self, ssrc: u32, seq: u16, ts: u32, payload: &[u8], arrival: Instant) {
        let payload = Bytes::copy_from_slice(payload);
        self.jitter.push(ssrc, seq, ts, payload, arrival);
    }

    /// Play out one tick: the frame heard, and an in-band digit recognised in it.
    pub fn tick(&mut self, now: Instant) -> (Heard, Option<char>) {
        let heard = match self.jitter.pop(now) {
            Pop::Frame(f) => Heard::Frame(f.payload),
            Pop::Missing { .. } => Heard::Lost,
            Pop::Empty => Heard::Nothing,
        };
        let digit = match self.detector.as_mut() {
            Some(det) => {
                let n = match &heard {
                    Heard::Frame(p) => decode(self.codec, p, &mut self.pcm),
                    Heard::Lost | Heard::Nothing => 0,
                };
                // Gaps are fed as silence so the detector sees tones end.
                self.pcm[n..].fill(0);
                det.process_frame(&self.pcm).map(|d| d.digit)
            }
            None => None,
        };
        (heard, digit)
    }

    pub fn stats(&self) -> JitterStats {
        self.jitter.stats()
    }
}
