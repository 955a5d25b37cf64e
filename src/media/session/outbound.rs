//! Our RTP stream to the leg (RFC 3550 5.1): one SSRC, random initial
//! sequence number and timestamp, the sequence number one up per packet
//! sent, the timestamp one frame up per tick whether a packet goes out or
//! not, and the marker bit on the first audio packet of a talkspurt (after a
//! tick with nothing sent, after a digit) or when the source asks for it
//! (first frame of a prompt). Also the queue of digits sent as RFC 4733
//! events, one packet per tick (the update interval is the ptime).

use super::PTIME;
use crate::media::dtmf::rfc4733::DigitPackets;
use crate::media::dtmf::{DtmfPacket, Rfc4733Sender};
use crate::media::rtp::RtpHeader;
use std::collections::VecDeque;
use std::time::Duration;

pub(super) struct OutStream {
    ssrc: u32,
    seq: u16,
    ts: u32,
    samples_per_tick: u32,
    /// The previous tick sent audio: the next audio packet continues it.
    talking: bool,
}

impl OutStream {
    pub fn new(ssrc: u32, samples_per_tick: u32, first_seq: u16, first_ts: u32) -> Self {
        Self {
            ssrc,
            seq: first_seq,
            ts: first_ts,
            samples_per_tick,
            talking: false,
        }
    }

    fn next_seq(&mut self) -> u16 {
        let s = self.seq;
        self.seq = s.wrapping_add(1);
        s
    }

    /// Header of this tick's audio packet; `marker` forces the marker bit.
    pub fn audio(&mut self, payload_type: u8, marker: bool) -> RtpHeader {
        let marker = marker || !self.talking;
        self.talking = true;
        RtpHeader {
            marker,
            payload_type,
            sequence: self.next_seq(),
            timestamp: self.ts,
            ssrc: self.ssrc,
        }
    }

    /// Header of an RFC 4733 packet (its own timestamp: the event's start).
    pub fn event(&mut self, p: &DtmfPacket) -> RtpHeader {
        self.talking = false;
        RtpHeader {
            marker: p.marker,
            payload_type: p.payload_type,
            sequence: self.next_seq(),
            timestamp: p.timestamp,
            ssrc: self.ssrc,
        }
    }

    /// Nothing sent this tick: the next audio packet starts a talkspurt.
    pub fn pause(&mut self) {
        self.talking = false;
    }

    /// The media clock moves on by `ticks` frames.
    pub fn advance(&mut self, ticks: u64) {
        let units = (ticks as u32).wrapping_mul(self.samples_per_tick);
        self.ts = self.ts.wrapping_add(units);
    }

    /// Timestamp of the current tick.
    pub fn timestamp(&self) -> u32 {
        self.ts
    }
}

/// Digits waiting to be sent, and the one being sent.
pub(super) struct DigitQueue {
    sender: Rfc4733Sender,
    duration_ms: u32,
    waiting: VecDeque<char>,
    capacity: usize,
    current: Option<DigitPackets>,
    gap_ticks: u32,
    gap_left: u32,
}

impl DigitQueue {
    pub fn new(
        payload_type: u8,
        clock_rate: u32,
        duration: Duration,
        gap: Duration,
        capacity: usize,
    ) -> Self {
        let ptime_ms = PTIME.as_millis() as u32;
        let gap_ms = gap.as_millis().min(u128::from(u32::MAX)) as u32;
        Self {
            sender: Rfc4733Sender {
                interval_ms: ptime_ms,
                ..Rfc4733Sender::new(payload_type, clock_rate)
            },
            duration_ms: duration.as_millis().clamp(1, u128::from(u32::MAX)) as u32,
            waiting: VecDeque::new(),
            capacity: capacity.max(1),
            current: None,
            gap_ticks: gap_ms.div_ceil(ptime_ms),
            gap_left: 0,
        }
    }

    /// Queue a digit (already checked to be one); `false` when full.
    pub fn push(&mut self, digit: char) -> bool {
        if self.waiting.len() >= self.capacity {
            return false;
        }
        self.waiting.push_back(digit);
        true
    }

    /// The packet to send on this tick (whose timestamp is `ts`), if a digit
    /// is being sent or may start now.
    pub fn poll(&mut self, ts: u32) -> Option<DtmfPacket> {
        if let Some(packets) = self.current.as_mut() {
            if let Some(p) = packets.next() {
                return Some(p);
            }
            self.current = None;
            self.gap_left = self.gap_ticks;
        }
        if self.gap_left > 0 {
            self.gap_left -= 1;
            return None;
        }
        let digit = self.waiting.pop_front()?;
        let mut packets = self.sender.packets(digit, ts, self.duration_ms).ok()?;
        let first = packets.next();
        self.current = Some(packets);
        first
    }
}
