//! Cross-leg SSRC / sequence / timestamp rewriting.
//!
//! A [`Rewriter`] maps whatever arrives on one leg (any SSRC, any sequence and
//! timestamp base, sources that change mid-call after a re-INVITE or when a
//! prompt player takes over) onto one continuous outgoing stream with our own
//! SSRC. On a source change the sequence continues at last+1, the timestamp
//! advances by the wall-clock time elapsed since the last packet we sent
//! (converted at the clock rate), and the marker bit is set. Within one source,
//! reordering, gaps and timestamp jumps (DTX) are preserved as offsets.

use super::packet::{RtpError, RtpPacketMut};
use std::time::Instant;

/// A jump larger than this within one SSRC is treated as a new source.
const MAX_SEQ_JUMP: i16 = 3000;

/// Header fields for the outgoing packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
    pub marker: bool,
    /// This packet starts a new input source mapping.
    pub source_changed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Mapping {
    in_ssrc: u32,
    in_max_seq: u16,
    seq_delta: u16,
    ts_delta: u32,
}

#[derive(Debug, Clone, Copy)]
struct LastOut {
    seq: u16,
    ts: u32,
    at: Instant,
}

/// Maps incoming packets of one leg onto our single outgoing stream.
#[derive(Debug, Clone)]
pub struct Rewriter {
    ssrc: u32,
    clock_rate: u32,
    first_seq: u16,
    first_ts: u32,
    mapping: Option<Mapping>,
    last: Option<LastOut>,
}

impl Rewriter {
    /// `ssrc`, `first_seq` and `first_ts` should be random (RFC 3550 5.1);
    /// the caller draws them so this type stays deterministic.
    pub fn new(ssrc: u32, clock_rate: u32, first_seq: u16, first_ts: u32) -> Self {
        Self {
            ssrc,
            clock_rate: clock_rate.max(1),
            first_seq,
            first_ts,
            mapping: None,
            last: None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Force the next packet to be treated as a new source even if its SSRC
    /// is unchanged (e.g. after a re-INVITE that restarts the far end).
    pub fn new_source(&mut self) {
        self.mapping = None;
    }

    /// Change the clock rate used for gap timestamps (codec change).
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        self.clock_rate = clock_rate.max(1);
        self.mapping = None;
    }

    /// Compute outgoing header fields for one incoming packet arriving at `arrival`.
    pub fn map(
        &mut self,
        in_ssrc: u32,
        in_seq: u16,
        in_ts: u32,
        in_marker: bool,
        arrival: Instant,
    ) -> Rewritten {
        let same_source = self.mapping.is_some_and(|m| {
            m.in_ssrc == in_ssrc && (in_seq.wrapping_sub(m.in_max_seq) as i16).abs() <= MAX_SEQ_JUMP
        });
        let mut source_changed = false;
        let m = match self.mapping {
            Some(ref mut m) if same_source => m,
            _ => {
                let (out_seq, out_ts) = match self.last {
                    None => (self.first_seq, self.first_ts),
                    Some(last) => {
                        let elapsed = arrival.saturating_duration_since(last.at);
                        let ticks = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000)
                            .clamp(1, u128::from(u32::MAX / 2))
                            as u32;
                        (last.seq.wrapping_add(1), last.ts.wrapping_add(ticks))
                    }
                };
                source_changed = true;
                self.mapping.insert(Mapping {
                    in_ssrc,
                    in_max_seq: in_seq,
                    seq_delta: out_seq.wrapping_sub(in_seq),
                    ts_delta: out_ts.wrapping_sub(in_ts),
                })
            }
        };
        if (in_seq.wrapping_sub(m.in_max_seq) as i16) > 0 {
            m.in_max_seq = in_seq;
        }
        let sequence = in_seq.wrapping_add(m.seq_delta);
        let timestamp = in_ts.wrapping_add(m.ts_delta);
        let newer = self
            .last
            .is_none_or(|l| (sequence.wrapping_sub(l.seq) as i16) > 0);
        if newer {
            self.last = Some(LastOut {
                seq: sequence,
                ts: timestamp,
                at: arrival,
            });
        }
        Rewritten {
            ssrc: self.ssrc,
            sequence,
            timestamp,
            marker: in_marker || source_changed,
            source_changed,
        }
    }

    /// Validate `packet` as RTP and rewrite SSRC, sequence, timestamp and
    /// marker in place (payload untouched). Malformed packets are rejected.
    pub fn rewrite_in_place(
        &mut self,
        packet: &mut [u8],
        arrival: Instant,
    ) -> Result<Rewritten, RtpError> {
        let mut p = RtpPacketMut::new(packet)?;
        let r = self.map(p.ssrc(), p.sequence(), p.timestamp(), p.marker(), arrival);
        p.set_ssrc(r.ssrc);
        p.set_sequence(r.sequence);
        p.set_timestamp(r.timestamp);
        p.set_marker(r.marker);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::super::packet::{RtpHeader, RtpPacket};
    use super::*;
    use std::time::Duration;

    #[test]
    fn continuity_across_source_change() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut rw = Rewriter::new(0xabcd, 8000, 65_534, 1000);
        // Source A: 3 packets, 20 ms apart, with a reorder.
        let a = rw.map(1, 100, 5000, false, at(0));
        assert!(a.marker && a.source_changed);
        assert_eq!((a.sequence, a.timestamp, a.ssrc), (65_534, 1000, 0xabcd));
        let c = rw.map(1, 102, 5320, false, at(40));
        let b = rw.map(1, 101, 5160, false, at(41));
        assert_eq!((b.sequence, b.timestamp, b.marker), (65_535, 1160, false));
        assert_eq!((c.sequence, c.timestamp), (0, 1320));
        // Source B takes over 60 ms after A's last newest packet.
        let d = rw.map(2, 7, 999_999, false, at(100));
        assert!(d.marker && d.source_changed);
        assert_eq!(d.sequence, 1);
        assert_eq!(d.timestamp, 1320 + 480);
        let e = rw.map(2, 8, 999_999 + 160, false, at(120));
        assert_eq!((e.sequence, e.timestamp, e.marker), (2, 1960, false));
        // Same SSRC but a huge sequence jump: treated as a new source.
        let f = rw.map(2, 40_000, 3, false, at(140));
        assert!(f.source_changed);
        assert_eq!((f.sequence, f.timestamp), (3, 1960 + 160));
        // Forced re-anchor.
        rw.new_source();
        assert!(rw.map(2, 40_001, 163, false, at(160)).source_changed);
    }

    #[test]
    fn in_place() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(99, 8000, 10, 20);
        let mut v = Vec::new();
        RtpHeader {
            payload_type: 0,
            sequence: 500,
            timestamp: 600,
            ssrc: 7,
            marker: false,
        }
        .write(&[0xd5; 160], &mut v);
        let r = rw.rewrite_in_place(&mut v, t0).unwrap();
        let p = RtpPacket::parse(&v).unwrap();
        assert_eq!(
            (p.ssrc(), p.sequence(), p.timestamp(), p.marker()),
            (99, 10, 20, true)
        );
        assert_eq!(r.sequence, 10);
        assert_eq!(p.payload(), &[0xd5; 160][..]);
        assert!(rw.rewrite_in_place(&mut [0u8; 5], t0).is_err());
    }
}
