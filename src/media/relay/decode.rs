//! The relay's transcoding path through linear audio, for one direction (one
//! leg's audio on its way to the other leg) when the two codecs differ and
//! no table maps one onto the other (anything but PCMU <-> PCMA):
//!
//! 1. Received audio payloads go into a [`JitterBuffer`] (60 ms playout
//!    delay, adaptive between 40 and 200 ms) that puts reordered packets
//!    back in order and turns holes into losses.
//! 2. On each 20 ms playout tick the relay asks for one outgoing frame:
//!    payloads are pulled from the jitter buffer and decoded (a lost one
//!    concealed, or rebuilt from the next packet's FEC where the codec has
//!    it), resampled to the other codec's rate (8 kHz G.711, 16 kHz G.722,
//!    48 kHz Opus) and queued until 20 ms are there, which are encoded (an
//!    Opus encoder capped to the band the source codec has).
//! 3. The frame goes out as our own RTP stream to the other leg: our SSRC,
//!    consecutive sequence numbers, and a timestamp that advances by 20 ms
//!    of the other codec's RTP clock (160 for G.711 and G.722, 960 for
//!    Opus) on every tick, also on ticks with nothing to send; the first
//!    packet after such a gap carries the marker (a new talkspurt).
//! 4. Telephone events from the same leg are put on that stream: the next
//!    sequence number, the audio timestamp at the event's start, and the
//!    event duration converted to the other clock.
//!
//! When the jitter buffer holds more than 60 ms beyond its target (the
//! sender's clock runs faster than ours), one frame is decoded and dropped.
//! Buffers are kept from packet to packet; the payload copies the jitter
//! buffer holds are cut from a shared arena (one allocation per 16 KiB).

use super::{AudioCodec, DecodeSummary, RelaySetupError};
use crate::media::codec::{AudioDecoder, AudioEncoder};
use crate::media::jitter::{JitterBuffer, JitterConfig, Pop};
use crate::media::resample::Resampler;
use crate::media::rtp::{Rewriter, RtpHeader};
use bytes::{Bytes, BytesMut};
use std::time::{Duration, Instant};

/// The outgoing packetisation time, and the playout tick.
pub const PTIME: Duration = Duration::from_millis(20);
const PTIME_MS: u32 = 20;
/// Playout delay of the jitter buffer: initial, lowest and highest.
const TARGET_MS: u32 = 60;
const MIN_MS: u32 = 40;
const MAX_MS: u32 = 200;
/// Buffered audio beyond the target that makes us drop a frame.
const DRIFT_SLACK_MS: u32 = 60;
/// Size of the blocks the payload copies are cut from.
const ARENA_BLOCK: usize = 16 * 1024;

/// One outgoing frame written by [`DecodePath::next_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    /// Length of the RTP packet at the front of the buffer.
    pub len: usize,
    pub payload_len: usize,
}

pub struct DecodePath {
    jitter: JitterBuffer,
    decoder: Box<dyn AudioDecoder>,
    resampler: Resampler,
    encoder: Box<dyn AudioEncoder>,
    /// One pulled frame at the decoder's rate.
    decoded: Vec<i16>,
    /// Audio at the encoder's rate waiting to be encoded.
    pending: Vec<i16>,
    /// One encoded frame.
    payload: Vec<u8>,
    /// Samples per outgoing frame, at the encoder's rate.
    frame: usize,
    /// RTP clock ticks per outgoing frame, and both legs' RTP clocks.
    frame_ts: u32,
    in_clock: u32,
    out_clock: u32,
    /// The outgoing stream: next sequence number and timestamp.
    seq: u16,
    ts: u32,
    started: bool,
    marker: bool,
    /// The telephone event being relayed: its input and output timestamps.
    event: Option<(u32, u32)>,
    /// Makes the received stream's timestamps continuous for the tap.
    tap_ts: Rewriter,
    arena: BytesMut,
    counts: DecodeSummary,
}

impl DecodePath {
    /// The path from a `from` leg's audio to a `to` leg's.
    pub fn new(from: AudioCodec, to: AudioCodec) -> Result<Self, RelaySetupError> {
        let decoder = from
            .decoder()
            .ok_or(RelaySetupError::CodecUnavailable(from))?;
        let encoder = to
            .encoder_for_source(decoder.sample_rate())
            .ok_or(RelaySetupError::CodecUnavailable(to))?;
        let in_clock = rtp_clock(from)?;
        let out_clock = rtp_clock(to)?;
        let resampler = Resampler::new(decoder.sample_rate(), encoder.sample_rate())
            .map_err(|_| RelaySetupError::CodecMismatch { a: from, b: to })?;
        let frame = (encoder.sample_rate() * PTIME_MS / 1000) as usize;
        Ok(Self {
            jitter: JitterBuffer::new(JitterConfig {
                clock_rate: in_clock,
                ptime_ms: PTIME_MS,
                target_ms: TARGET_MS,
                min_ms: MIN_MS,
                max_ms: MAX_MS,
                adaptive: true,
            }),
            decoder,
            resampler,
            encoder,
            decoded: Vec::with_capacity(6 * frame),
            pending: Vec::with_capacity(8 * frame),
            payload: Vec::with_capacity(1500),
            frame,
            frame_ts: out_clock * PTIME_MS / 1000,
            in_clock,
            out_clock,
            seq: rand::random(),
            ts: rand::random(),
            started: false,
            marker: false,
            event: None,
            tap_ts: Rewriter::new(0, in_clock, rand::random(), rand::random()),
            arena: BytesMut::new(),
            counts: DecodeSummary::default(),
        })
    }

    /// Queue one received audio payload. Returns the timestamp for the tap
    /// (the received stream made continuous, in the sender's clock) and the
    /// queued copy of the payload.
    pub fn push(
        &mut self,
        ssrc: u32,
        seq: u16,
        ts: u32,
        payload: &[u8],
        now: Instant,
    ) -> (u32, Bytes) {
        let tap_ts = self.tap_ts.map(ssrc, seq, ts, false, now).timestamp;
        if self.arena.capacity() < payload.len() {
            self.arena.reserve(ARENA_BLOCK.max(payload.len()));
        }
        self.arena.extend_from_slice(payload);
        let copy = self.arena.split().freeze();
        self.jitter.push(ssrc, seq, ts, copy.clone(), now);
        (tap_ts, copy)
    }

    /// Pull one payload from the jitter buffer, decode (or conceal) it and
    /// queue it resampled. False when the jitter buffer had nothing to play.
    fn pull(&mut self, now: Instant) -> bool {
        self.decoded.clear();
        match self.jitter.pop(now) {
            Pop::Frame(f) => {
                if self.decoder.decode(&f.payload, &mut self.decoded).is_ok() {
                    self.counts.decoded += 1;
                } else {
                    self.counts.decode_errors += 1;
                    let n = self.decoder.last_frame_samples();
                    self.decoder.conceal(n, &mut self.decoded);
                }
            }
            Pop::Missing { .. } => {
                let n = self.decoder.last_frame_samples();
                match self.jitter.peek_next() {
                    Some(next) if self.decoder.can_recover() => {
                        self.decoder.recover(next, n, &mut self.decoded);
                        self.counts.recovered += 1;
                    }
                    _ => {
                        self.decoder.conceal(n, &mut self.decoded);
                        self.counts.concealed += 1;
                    }
                }
            }
            Pop::Empty => return false,
        }
        self.resampler.process(&self.decoded, &mut self.pending);
        true
    }

    /// One playout tick. When `send`, and 20 ms of audio are ready, writes
    /// the next RTP packet (SSRC `ssrc`, payload type `pt`) to the front of
    /// `buf`. Otherwise the frame, if any, is consumed unsent and the
    /// stream's timestamp still advances.
    pub fn next_frame(
        &mut self,
        now: Instant,
        send: bool,
        buf: &mut [u8],
        ssrc: u32,
        pt: u8,
    ) -> Option<Produced> {
        if self.jitter.depth_ms() > self.jitter.target_ms() + DRIFT_SLACK_MS {
            let keep = self.pending.len();
            if self.pull(now) {
                self.pending.truncate(keep);
                self.counts.dropped_for_latency += 1;
            }
        }
        while self.pending.len() < self.frame && self.pull(now) {}
        let ready = self.pending.len() >= self.frame;
        let mut produced = None;
        if ready && send {
            self.payload.clear();
            match self
                .encoder
                .encode(&self.pending[..self.frame], &mut self.payload)
            {
                Ok(_) => {
                    self.counts.encoded += 1;
                    let header = RtpHeader {
                        marker: self.marker || !self.started,
                        payload_type: pt,
                        sequence: self.seq,
                        timestamp: self.ts,
                        ssrc,
                    };
                    if let Ok(len) = header.write_into(&self.payload, buf) {
                        produced = Some(Produced {
                            len,
                            payload_len: self.payload.len(),
                        });
                    }
                }
                Err(_) => self.counts.encode_errors += 1,
            }
        }
        if ready {
            self.pending.drain(..self.frame);
        }
        if produced.is_some() {
            self.seq = self.seq.wrapping_add(1);
            self.started = true;
            self.marker = false;
        } else if self.started {
            self.marker = true;
        }
        if self.started {
            self.ts = self.ts.wrapping_add(self.frame_ts);
        }
        produced
    }

    /// Put a telephone-event packet from the sender (timestamp `in_ts`,
    /// payload rewritten in place) on our outgoing stream: returns its
    /// sequence number and timestamp there.
    pub fn map_event(&mut self, in_ts: u32, payload: &mut [u8]) -> (u16, u32) {
        let out_ts = match self.event {
            Some((i, o)) if i == in_ts => o,
            _ => {
                self.event = Some((in_ts, self.ts));
                self.ts
            }
        };
        if self.in_clock != self.out_clock && payload.len() >= 4 {
            // RFC 4733 2.3: the duration is in timestamp units.
            let d = u64::from(u16::from_be_bytes([payload[2], payload[3]]));
            let scaled = (d * u64::from(self.out_clock) / u64::from(self.in_clock)).min(0xffff);
            payload[2..4].copy_from_slice(&(scaled as u16).to_be_bytes());
        }
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        (seq, out_ts)
    }

    pub fn summary(&self) -> DecodeSummary {
        DecodeSummary {
            jitter: self.jitter.stats(),
            ..self.counts
        }
    }
}

fn rtp_clock(c: AudioCodec) -> Result<u32, RelaySetupError> {
    c.rtp_clock_rate()
        .ok_or(RelaySetupError::CodecUnavailable(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::test_util::{best_lag, chirp, tone, tone_share};
    use crate::media::rtp::RtpPacket;

    /// PCMU in, G.722 out, no sockets: frames come out on the ticks with
    /// consecutive sequence numbers and 160-tick timestamps, the audio
    /// resampled to 16 kHz.
    #[test]
    fn ticks_turn_payloads_into_frames_of_the_other_codec() {
        let mut p = DecodePath::new(AudioCodec::Pcmu, AudioCodec::G722).unwrap();
        let t0 = Instant::now();
        let x = tone(1000.0, 12000.0, 8000, 8000);
        let mut enc = AudioCodec::Pcmu.encoder().unwrap();
        let mut buf = [0u8; 2048];
        let mut out = Vec::new();
        for (i, f) in x.chunks_exact(160).enumerate() {
            let at = t0 + PTIME * i as u32;
            let mut payload = Vec::new();
            enc.encode(f, &mut payload).unwrap();
            p.push(7, 1000 + i as u16, 160 * i as u32, &payload, at);
            if let Some(fr) = p.next_frame(at + Duration::from_millis(1), true, &mut buf, 5, 9) {
                out.push(buf[..fr.len].to_vec());
            }
        }
        // Playout starts once 60 ms are buffered: the first two ticks give
        // nothing, then one frame per tick.
        assert_eq!(out.len(), 50 - 2, "frames out");
        let mut dec = AudioCodec::G722.decoder().unwrap();
        let mut y = Vec::new();
        for (k, d) in out.iter().enumerate() {
            let r = RtpPacket::parse(d).unwrap();
            let first = RtpPacket::parse(&out[0]).unwrap();
            assert_eq!((r.ssrc(), r.payload_type()), (5, 9));
            assert_eq!(r.sequence(), first.sequence().wrapping_add(k as u16));
            assert_eq!(
                r.timestamp(),
                first.timestamp().wrapping_add(160 * k as u32)
            );
            assert_eq!(r.marker(), k == 0);
            assert_eq!(r.payload().len(), 160);
            dec.decode(r.payload(), &mut y).unwrap();
        }
        assert!(tone_share(&y[1600..], 1000.0, 16000) > 0.97);
        let s = p.summary();
        assert_eq!((s.decoded, s.encoded, s.concealed), (48, 48, 0));
    }

    #[test]
    fn a_packet_one_frame_late_still_plays_in_order() {
        // Frames arrive as 1, 0, 3, 2, ...: each even frame 20 ms late,
        // after its successor. The 60 ms playout delay absorbs that whatever
        // the phase of the playout ticks against the arrivals: nothing late,
        // nothing concealed, and the chirp comes out whole.
        let n = 40;
        let x = chirp(300.0, 3000.0, 12000.0, 8000, 160 * n);
        let mut enc = AudioCodec::Pcmu.encoder().unwrap();
        let payloads: Vec<Vec<u8>> = x
            .chunks_exact(160)
            .map(|f| {
                let mut p = Vec::new();
                enc.encode(f, &mut p).unwrap();
                p
            })
            .collect();
        let want = chirp(300.0, 3000.0, 12000.0, 16000, 320 * n);
        for phase_ms in [0u64, 5, 10, 15, 19] {
            let mut p = DecodePath::new(AudioCodec::Pcmu, AudioCodec::G722).unwrap();
            let t0 = Instant::now();
            let ms = |m: u64| t0 + Duration::from_millis(m);
            let mut arrivals: Vec<(u64, usize)> = (0..n)
                .map(|k| {
                    let nominal = 20 * k as u64;
                    let at = if k % 2 == 0 {
                        nominal + 20
                    } else {
                        nominal - 20
                    };
                    (at, k)
                })
                .collect();
            arrivals.sort();
            let mut next = 0;
            let mut buf = [0u8; 2048];
            let mut dec = AudioCodec::G722.decoder().unwrap();
            let mut y = Vec::new();
            for tick in 0..(n as u64 + 10) {
                let now = 20 * tick + phase_ms;
                while next < n && arrivals[next].0 <= now {
                    let k = arrivals[next].1;
                    p.push(
                        7,
                        k as u16,
                        160 * k as u32,
                        &payloads[k],
                        ms(arrivals[next].0),
                    );
                    next += 1;
                }
                if let Some(fr) = p.next_frame(ms(now), true, &mut buf, 1, 9) {
                    let r = RtpPacket::parse(&buf[..fr.len]).unwrap();
                    dec.decode(r.payload(), &mut y).unwrap();
                }
            }
            let s = p.summary();
            assert_eq!(
                (s.jitter.late, s.jitter.missing, s.concealed, s.decoded),
                (0, 0, 0, n as u64),
                "phase {phase_ms} ms: {s:?}"
            );
            let (lag, corr) = best_lag(&want, &y, 400, 400, y.len() - 800);
            assert!(corr > 0.95, "phase {phase_ms} ms: {corr:.3} at lag {lag}");
        }
    }

    #[test]
    fn events_join_the_stream_with_their_duration_rescaled() {
        let mut p = DecodePath::new(AudioCodec::Pcmu, AudioCodec::Opus).unwrap();
        let mut ev = [5u8, 0x0a, 0x01, 0x40]; // digit 5, duration 320
        let (s1, t1) = p.map_event(8000, &mut ev);
        assert_eq!(
            u16::from_be_bytes([ev[2], ev[3]]),
            320 * 6,
            "8 kHz -> 48 kHz"
        );
        let (s2, t2) = p.map_event(8000, &mut [5, 0x8a, 0x02, 0x80]);
        assert_eq!(s2, s1.wrapping_add(1));
        assert_eq!(t2, t1, "same event, same timestamp");
        // A huge duration saturates instead of wrapping.
        let mut long = [5u8, 0x8a, 0xff, 0x00];
        p.map_event(16000, &mut long);
        assert_eq!(&long[2..], &[0xff, 0xff]);
    }
}
