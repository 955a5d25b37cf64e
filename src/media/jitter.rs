//! Jitter buffer for the decode path.
//!
//! Packets are pushed as they arrive (sequence, timestamp, payload, arrival
//! time) and one frame is popped per ptime tick, in sequence order. Slots are
//! indexed by sequence number relative to the next frame to play, so
//! reordering is absorbed, duplicates are dropped, packets whose slot already
//! played are dropped as late, and holes come out as [`Pop::Missing`] so the
//! decoder can conceal. Depth is bounded by `max_ms`: a packet that would not
//! fit pushes the oldest frames out (counted). An SSRC change or a large
//! sequence jump resets the buffer. Playout starts (and restarts after an
//! underrun) once the first packet has waited `target_ms`; in adaptive mode an
//! underrun raises the target by one ptime and a long run without underruns
//! lowers it again. One packet is assumed to carry one ptime of audio.

use bytes::Bytes;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Sequence jump (either way) treated as a stream restart.
const MAX_JUMP: i16 = 3000;
/// Frames played without underrun before the adaptive target shrinks.
const SHRINK_AFTER: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    pub clock_rate: u32,
    pub ptime_ms: u32,
    /// Initial (or fixed) playout delay.
    pub target_ms: u32,
    /// Lower bound for the adaptive target.
    pub min_ms: u32,
    /// Maximum buffered audio; also the upper bound of the adaptive target.
    pub max_ms: u32,
    pub adaptive: bool,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            clock_rate: 8000,
            ptime_ms: 20,
            target_ms: 60,
            min_ms: 40,
            max_ms: 400,
            adaptive: true,
        }
    }
}

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// Queued after a reset (new SSRC or sequence restart).
    Reset,
    Duplicate,
    /// Its slot has already been played (or skipped); dropped.
    Late,
}

/// One frame to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub sequence: u16,
    pub timestamp: u32,
    pub payload: Bytes,
}

/// Result of one playout tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pop {
    Frame(Frame),
    /// This sequence number was lost: conceal one frame.
    Missing {
        sequence: u16,
        timestamp: u32,
    },
    /// Nothing to play yet (initial buffering or rebuffering after an underrun).
    Empty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    pub pushed: u64,
    pub played: u64,
    pub duplicates: u64,
    pub late: u64,
    pub missing: u64,
    pub overflow_dropped: u64,
    pub underruns: u64,
    pub resets: u64,
}

#[derive(Debug, Clone)]
struct Slot {
    timestamp: u32,
    payload: Bytes,
}

#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    capacity: usize,
    samples_per_frame: u32,
    ssrc: Option<u32>,
    next_seq: u16,
    slots: VecDeque<Option<Slot>>,
    playing: bool,
    buffering_since: Option<Instant>,
    last_played: Option<(u16, u32)>,
    target_ms: u32,
    good_run: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    pub fn new(cfg: JitterConfig) -> Self {
        let ptime = cfg.ptime_ms.max(1);
        let capacity = (cfg.max_ms / ptime).max(2) as usize;
        Self {
            capacity,
            samples_per_frame: cfg.clock_rate / 1000 * ptime,
            ssrc: None,
            next_seq: 0,
            slots: VecDeque::with_capacity(capacity),
            playing: false,
            buffering_since: None,
            last_played: None,
            target_ms: cfg.target_ms.clamp(cfg.min_ms.min(cfg.max_ms), cfg.max_ms),
            good_run: 0,
            stats: JitterStats::default(),
            cfg,
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Current playout target in ms.
    pub fn target_ms(&self) -> u32 {
        self.target_ms
    }

    /// Audio currently held, from the next frame to the newest packet, in ms.
    pub fn depth_ms(&self) -> u32 {
        self.slots.len() as u32 * self.cfg.ptime_ms
    }

    /// The payload of the next frame to play, if it has arrived: after a
    /// [`Pop::Missing`], the packet following the lost one (for decoders
    /// that carry forward error correction, such as Opus).
    pub fn peek_next(&self) -> Option<&Bytes> {
        self.slots.front()?.as_ref().map(|s| &s.payload)
    }

    fn reset(&mut self, ssrc: u32, seq: u16) {
        if self.ssrc.is_some() {
            self.stats.resets += 1;
        }
        self.ssrc = Some(ssrc);
        self.next_seq = seq;
        self.slots.clear();
        self.playing = false;
        self.buffering_since = None;
        self.last_played = None;
    }

    /// Add one received packet.
    pub fn push(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        payload: Bytes,
        arrival: Instant,
    ) -> Push {
        self.stats.pushed += 1;
        let mut outcome = Push::Queued;
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                outcome = Push::Reset;
            }
            self.reset(ssrc, seq);
        }
        let mut diff = seq.wrapping_sub(self.next_seq) as i16;
        if !(-MAX_JUMP..=MAX_JUMP).contains(&diff) {
            self.reset(ssrc, seq);
            outcome = Push::Reset;
            diff = 0;
        }
        if diff < 0 {
            let back = diff.unsigned_abs() as usize;
            let fits = back + self.slots.len() <= self.capacity;
            let never_played = self
                .last_played
                .is_none_or(|(s, _)| (seq.wrapping_sub(s) as i16) > 0);
            if self.playing || !fits || !never_played {
                self.stats.late += 1;
                return Push::Late;
            }
            // Earlier packet arriving during initial buffering: extend backwards.
            for _ in 0..back {
                self.slots.push_front(None);
            }
            self.next_seq = seq;
            diff = 0;
        }
        let mut idx = diff as usize;
        if idx >= self.capacity {
            let drop = idx + 1 - self.capacity;
            for _ in 0..drop {
                if let Some(Some(_)) = self.slots.pop_front() {
                    self.stats.overflow_dropped += 1;
                }
            }
            self.next_seq = self.next_seq.wrapping_add(drop as u16);
            idx -= drop;
        }
        if self.slots.len() <= idx {
            self.slots.resize(idx + 1, None);
        }
        if self.slots[idx].is_some() {
            self.stats.duplicates += 1;
            return Push::Duplicate;
        }
        self.slots[idx] = Some(Slot { timestamp, payload });
        self.buffering_since.get_or_insert(arrival);
        outcome
    }

    /// One playout tick (call every ptime).
    pub fn pop(&mut self, now: Instant) -> Pop {
        if !self.playing {
            let Some(since) = self.buffering_since else {
                return Pop::Empty;
            };
            let waited = now.saturating_duration_since(since)
                >= Duration::from_millis(self.target_ms.into());
            if !waited && self.depth_ms() < self.target_ms {
                return Pop::Empty;
            }
            self.playing = true;
        }
        if self.slots.iter().all(Option::is_none) {
            // Underrun: keep the sequence position (DTX pauses keep numbering) and rebuffer.
            self.stats.underruns += 1;
            self.playing = false;
            self.buffering_since = None;
            self.good_run = 0;
            if self.cfg.adaptive {
                self.target_ms = (self.target_ms + self.cfg.ptime_ms).min(self.cfg.max_ms);
            }
            return Pop::Empty;
        }
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        self.good_run += 1;
        if self.cfg.adaptive && self.good_run >= SHRINK_AFTER {
            self.good_run = 0;
            self.target_ms = self
                .target_ms
                .saturating_sub(self.cfg.ptime_ms)
                .max(self.cfg.min_ms);
        }
        match self.slots.pop_front().flatten() {
            Some(slot) => {
                self.stats.played += 1;
                self.last_played = Some((seq, slot.timestamp));
                Pop::Frame(Frame {
                    sequence: seq,
                    timestamp: slot.timestamp,
                    payload: slot.payload,
                })
            }
            None => {
                self.stats.missing += 1;
                let timestamp = match self.last_played {
                    Some((s, ts)) => ts.wrapping_add(
                        u32::from(seq.wrapping_sub(s)).wrapping_mul(self.samples_per_frame),
                    ),
                    None => 0,
                };
                self.last_played = Some((seq, timestamp));
                Pop::Missing {
                    sequence: seq,
                    timestamp,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> JitterConfig {
        JitterConfig {
            target_ms: 40,
            min_ms: 20,
            max_ms: 200,
            adaptive: false,
            ..Default::default()
        }
    }

    fn pl(seq: u16) -> Bytes {
        Bytes::from(seq.to_be_bytes().to_vec())
    }

    fn push(jb: &mut JitterBuffer, seq: u16, t: Instant) -> Push {
        jb.push(1, seq, u32::from(seq) * 160, pl(seq), t)
    }

    /// Pop until `n` non-empty results, returning them as sequence numbers (None = missing).
    fn drain(jb: &mut JitterBuffer, t: Instant, n: usize) -> Vec<Option<u16>> {
        let mut out = Vec::new();
        for k in 0..(n * 4) {
            match jb.pop(t + Duration::from_millis(1000 + 20 * k as u64)) {
                Pop::Frame(f) => {
                    assert_eq!(f.payload, pl(f.sequence));
                    out.push(Some(f.sequence))
                }
                Pop::Missing {
                    sequence,
                    timestamp,
                } => {
                    assert_eq!(timestamp, u32::from(sequence) * 160);
                    out.push(None)
                }
                Pop::Empty => {}
            }
            if out.len() == n {
                break;
            }
        }
        out
    }

    #[test]
    fn in_order_waits_for_target() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(cfg());
        assert_eq!(jb.pop(t), Pop::Empty);
        push(&mut jb, 10, t);
        assert_eq!(jb.pop(t + Duration::from_millis(20)), Pop::Empty);
        push(&mut jb, 11, t + Duration::from_millis(20));
        // Depth reached 40 ms: playout starts.
        assert!(matches!(jb.pop(t + Duration::from_millis(21)), Pop::Frame(f) if f.sequence == 10));
    }

    #[test]
    fn reorder_duplicate_late_lost() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(cfg());
        for s in [101, 100, 103, 102, 102, 105, 99] {
            push(&mut jb, s, t);
        }
        assert_eq!(jb.stats().duplicates, 1);
        assert_eq!(
            drain(&mut jb, t, 7),
            vec![
                Some(99),
                Some(100),
                Some(101),
                Some(102),
                Some(103),
                None,
                Some(105)
            ]
        );
        assert_eq!(jb.peek_next(), None, "all played");
        assert_eq!(push(&mut jb, 104, t), Push::Late);
        assert_eq!(push(&mut jb, 98, t), Push::Late);
        let s = jb.stats();
        assert_eq!((s.late, s.missing, s.played), (2, 1, 6));
        // Underrun afterwards: empty, counted, no sequence skipped.
        assert_eq!(jb.pop(t + Duration::from_secs(5)), Pop::Empty);
        assert_eq!(jb.stats().underruns, 1);
        push(&mut jb, 106, t + Duration::from_secs(6));
        assert_eq!(
            drain(&mut jb, t + Duration::from_secs(6), 1),
            vec![Some(106)]
        );
    }

    #[test]
    fn wrap_at_65535() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(cfg());
        for s in [65_533u16, 65_535, 65_534, 0, 2, 1, 3] {
            assert_eq!(push(&mut jb, s, t), Push::Queued);
        }
        let want: Vec<_> = [65_533u16, 65_534, 65_535, 0, 1, 2, 3].map(Some).to_vec();
        assert_eq!(drain(&mut jb, t, 7), want);
    }

    #[test]
    fn peek_shows_the_packet_after_a_loss() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(cfg());
        for s in [10, 12, 13] {
            push(&mut jb, s, t);
        }
        assert_eq!(drain(&mut jb, t, 1), vec![Some(10)]);
        assert_eq!(jb.peek_next(), None, "11 has not arrived");
        assert_eq!(drain(&mut jb, t, 1), vec![None]);
        assert_eq!(jb.peek_next(), Some(&pl(12)), "12 follows the lost 11");
        assert_eq!(
            drain(&mut jb, t, 1),
            vec![Some(12)],
            "peeking takes nothing"
        );
    }

    #[test]
    fn overflow_is_bounded() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(cfg()); // 200 ms = 10 slots
        for s in 0..25u16 {
            push(&mut jb, s, t);
            assert!(jb.depth_ms() <= 200);
        }
        assert_eq!(jb.stats().overflow_dropped, 15);
        assert_eq!(
            drain(&mut jb, t, 10),
            (15..25).map(Some).collect::<Vec<_>>()
        );
    }

    #[test]
    fn source_change_and_jump_reset() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(cfg());
        push(&mut jb, 1, t);
        push(&mut jb, 2, t);
        assert_eq!(jb.push(2, 500, 0, pl(500), t), Push::Reset);
        assert_eq!(jb.push(2, 40_000, 0, pl(40_000), t), Push::Reset);
        assert_eq!(jb.stats().resets, 2);
        assert_eq!(jb.depth_ms(), 20);
    }

    #[test]
    fn adaptive_target_grows_on_underrun() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig {
            adaptive: true,
            ..cfg()
        });
        push(&mut jb, 1, t);
        assert!(matches!(
            jb.pop(t + Duration::from_millis(50)),
            Pop::Frame(_)
        ));
        assert_eq!(jb.pop(t + Duration::from_millis(70)), Pop::Empty);
        assert_eq!(jb.target_ms(), 60);
    }
}
