//! RFC 4733 telephone-event payloads: parsing/encoding the 4-byte event, a
//! receiver that turns a packet stream into digits exactly once, and a sender
//! that produces the packet sequence for one digit.
//!
//! The receiver keys events by RTP timestamp: redundant end packets and
//! retransmitted starts share the timestamp of an already reported digit and
//! are dropped. A lost start is tolerated (any packet opens the event), a lost
//! end is recovered by [`Rfc4733Receiver::poll`] after a timeout or by the
//! next event, and long events split into segments (RFC 4733 2.5.1.3) are
//! stitched back together. Times are passed in.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    #[error("telephone-event payload shorter than 4 bytes ({0})")]
    TooShort(usize),
    #[error("not a DTMF digit: {0:?}")]
    NotADigit(char),
}

/// One telephone-event payload (RFC 4733 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    /// Power level in -dBm0 (0..=63).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parse the first event of a payload (extra bytes, e.g. further events, are ignored).
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        if payload.len() < 4 {
            return Err(DtmfError::TooShort(payload.len()));
        }
        Ok(Self {
            event: payload[0],
            end: payload[1] & 0x80 != 0,
            volume: payload[1] & 0x3f,
            duration: u16::from_be_bytes([payload[2], payload[3]]),
        })
    }

    pub fn to_bytes(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }
}

/// DTMF event code (0-15) to digit.
pub fn event_to_digit(event: u8) -> Option<char> {
    b"0123456789*#ABCD"
        .get(usize::from(event))
        .map(|&b| char::from(b))
}

/// Digit to DTMF event code; accepts lowercase a-d.
pub fn digit_to_event(digit: char) -> Option<u8> {
    let d = digit.to_ascii_uppercase() as u32;
    b"0123456789*#ABCD"
        .iter()
        .position(|&b| u32::from(b) == d)
        .map(|p| p as u8)
}

/// A digit reported once per key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitEvent {
    pub digit: char,
    /// RTP timestamp of the event start (first segment).
    pub start_ts: u32,
    pub duration_ms: u32,
}

#[derive(Debug, Clone, Copy)]
struct Active {
    event: u8,
    start_ts: u32,
    seg_ts: u32,
    seg_duration: u16,
    prior_units: u64,
    last_seen: Instant,
}

/// Up to two digits produced by one packet (a flushed event with a lost end
/// plus a new one that ended at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digits([Option<DigitEvent>; 2]);

impl Iterator for Digits {
    type Item = DigitEvent;
    fn next(&mut self) -> Option<DigitEvent> {
        self.0[0].take().or_else(|| self.0[1].take())
    }
}

impl Digits {
    fn push(&mut self, d: DigitEvent) {
        let slot = if self.0[0].is_none() { 0 } else { 1 };
        self.0[slot] = Some(d);
    }
}

/// Turns received telephone-event packets into [`DigitEvent`]s, exactly once each.
#[derive(Debug, Clone)]
pub struct Rfc4733Receiver {
    clock_rate: u32,
    timeout: Duration,
    active: Option<Active>,
    /// (segment timestamp, event) of recently reported events.
    recent: [Option<(u32, u8)>; 8],
    next_recent: usize,
}

impl Rfc4733Receiver {
    /// `timeout`: silence after which an event whose end packets were lost is reported.
    pub fn new(clock_rate: u32, timeout: Duration) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            timeout,
            active: None,
            recent: [None; 8],
            next_recent: 0,
        }
    }

    fn finish(&mut self, a: Active) -> Option<DigitEvent> {
        self.recent[self.next_recent] = Some((a.seg_ts, a.event));
        self.next_recent = (self.next_recent + 1) % self.recent.len();
        let units = a.prior_units + u64::from(a.seg_duration);
        Some(DigitEvent {
            digit: event_to_digit(a.event)?,
            start_ts: a.start_ts,
            duration_ms: (units * 1000 / u64::from(self.clock_rate)) as u32,
        })
    }

    /// Feed one telephone-event RTP packet (its timestamp, marker and payload).
    pub fn on_packet(
        &mut self,
        rtp_ts: u32,
        marker: bool,
        payload: &[u8],
        arrival: Instant,
    ) -> Result<Digits, DtmfError> {
        let ev = TelephoneEvent::parse(payload)?;
        let mut out = Digits::default();
        if ev.event > 15 || self.recent.contains(&Some((rtp_ts, ev.event))) {
            return Ok(out);
        }
        if let Some(mut a) = self.active {
            let d = rtp_ts.wrapping_sub(a.seg_ts);
            let near_max = u32::from(a.seg_duration) + self.clock_rate / 5 >= 0xffff;
            if d == 0 && ev.event == a.event {
                a.seg_duration = a.seg_duration.max(ev.duration);
                a.last_seen = arrival;
                self.active = if ev.end {
                    out.0[0] = self.finish(a);
                    None
                } else {
                    Some(a)
                };
                return Ok(out);
            }
            if ev.event == a.event && !marker && near_max && d > 0 && d <= 0x1_0000 {
                // Next segment of a long event.
                a.prior_units += u64::from(d);
                a.seg_ts = rtp_ts;
                a.seg_duration = ev.duration;
                a.last_seen = arrival;
                self.active = Some(a);
                if ev.end {
                    self.active = None;
                    out.0[0] = self.finish(a);
                }
                return Ok(out);
            }
            if (d as i32) < 0 {
                return Ok(out); // stale packet of an older event
            }
            // A new event while the old one never saw its end.
            self.active = None;
            if let Some(dg) = self.finish(a) {
                out.push(dg);
            }
        }
        let a = Active {
            event: ev.event,
            start_ts: rtp_ts,
            seg_ts: rtp_ts,
            seg_duration: ev.duration,
            prior_units: 0,
            last_seen: arrival,
        };
        if ev.end {
            if let Some(dg) = self.finish(a) {
                out.push(dg);
            }
        } else {
            self.active = Some(a);
        }
        Ok(out)
    }

    /// Report an event whose end packets were all lost once `timeout` has
    /// passed since its last packet. Call on a timer (e.g. every ptime).
    pub fn poll(&mut self, now: Instant) -> Option<DigitEvent> {
        let a = self.active?;
        if now.saturating_duration_since(a.last_seen) < self.timeout {
            return None;
        }
        self.active = None;
        self.finish(a)
    }

    /// Is a key currently held (an event started but not yet reported)?
    pub fn in_progress(&self) -> Option<char> {
        self.active.and_then(|a| event_to_digit(a.event))
    }
}

/// One packet to send for a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// When to send it, relative to the digit start.
    pub offset_ms: u32,
    pub payload_type: u8,
    pub marker: bool,
    pub timestamp: u32,
    pub payload: [u8; 4],
}

/// Produces RFC 4733 packet sequences for digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc4733Sender {
    pub payload_type: u8,
    pub clock_rate: u32,
    /// -dBm0, default 10.
    pub volume: u8,
    /// Update interval, default 50 ms.
    pub interval_ms: u32,
    /// Number of end packets, default 3.
    pub end_repeats: u8,
}

impl Rfc4733Sender {
    pub fn new(payload_type: u8, clock_rate: u32) -> Self {
        Self {
            payload_type,
            clock_rate: clock_rate.max(1),
            volume: 10,
            interval_ms: 50,
            end_repeats: 3,
        }
    }

    /// Packets for `digit` starting at RTP timestamp `start_ts`, lasting
    /// `duration_ms`: a start packet with marker, an update every interval,
    /// then `end_repeats` end packets with the same timestamp and duration.
    /// Events longer than 0xFFFF units are split into segments. Sequence
    /// numbers are the caller's (the outgoing RTP stream's).
    pub fn packets(
        &self,
        digit: char,
        start_ts: u32,
        duration_ms: u32,
    ) -> Result<DigitPackets, DtmfError> {
        let event = digit_to_event(digit).ok_or(DtmfError::NotADigit(digit))?;
        let ms_to_units = |ms: u32| u64::from(ms) * u64::from(self.clock_rate) / 1000;
        Ok(DigitPackets {
            sender: *self,
            event,
            start_ts,
            total_units: ms_to_units(duration_ms.max(1)),
            step_units: ms_to_units(self.interval_ms.max(1)).max(1),
            next_units: 0,
            seg_base: 0,
            ends_left: self.end_repeats.max(1),
        })
    }
}

/// Iterator returned by [`Rfc4733Sender::packets`].
#[derive(Debug, Clone)]
pub struct DigitPackets {
    sender: Rfc4733Sender,
    event: u8,
    start_ts: u32,
    total_units: u64,
    step_units: u64,
    next_units: u64,
    seg_base: u64,
    ends_left: u8,
}

impl Iterator for DigitPackets {
    type Item = DtmfPacket;

    fn next(&mut self) -> Option<DtmfPacket> {
        if self.ends_left == 0 {
            return None;
        }
        let end = self.next_units >= self.total_units;
        let elapsed = self.next_units.min(self.total_units);
        let new_segment = elapsed - self.seg_base > 0xffff;
        if new_segment {
            self.seg_base += 0xffff;
        }
        let marker = self.next_units == 0;
        let ev = TelephoneEvent {
            event: self.event,
            end,
            volume: self.sender.volume,
            duration: (elapsed - self.seg_base).min(0xffff) as u16,
        };
        if end {
            self.ends_left -= 1;
        } else {
            self.next_units += self.step_units;
        }
        Some(DtmfPacket {
            offset_ms: (elapsed * 1000 / u64::from(self.sender.clock_rate)) as u32,
            payload_type: self.sender.payload_type,
            marker,
            timestamp: self.start_ts.wrapping_add(self.seg_base as u32),
            payload: ev.to_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(rx: &mut Rfc4733Receiver, pkts: &[DtmfPacket], t0: Instant) -> Vec<DigitEvent> {
        let mut got = Vec::new();
        for p in pkts {
            let now = t0 + Duration::from_millis(u64::from(p.offset_ms));
            got.extend(
                rx.on_packet(p.timestamp, p.marker, &p.payload, now)
                    .unwrap(),
            );
            got.extend(rx.poll(now));
        }
        got
    }

    #[test]
    fn payload_roundtrip_and_digits() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1600,
        };
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()).unwrap(), e);
        assert_eq!(TelephoneEvent::parse(&[1, 2]), Err(DtmfError::TooShort(2)));
        for (i, c) in "0123456789*#ABCD".chars().enumerate() {
            assert_eq!(event_to_digit(i as u8), Some(c));
            assert_eq!(digit_to_event(c), Some(i as u8));
        }
        assert_eq!(digit_to_event('x'), None);
        assert_eq!(event_to_digit(16), None);
    }

    #[test]
    fn sender_sequence() {
        let tx = Rfc4733Sender::new(101, 8000);
        let pkts: Vec<_> = tx.packets('5', 1000, 200).unwrap().collect();
        // t=0,50,100,150 updates + 3 ends at 200ms.
        assert_eq!(pkts.len(), 7);
        assert!(pkts[0].marker && pkts[1..].iter().all(|p| !p.marker));
        assert!(
            pkts.iter()
                .all(|p| p.timestamp == 1000 && p.payload_type == 101)
        );
        let evs: Vec<_> = pkts
            .iter()
            .map(|p| TelephoneEvent::parse(&p.payload).unwrap())
            .collect();
        assert_eq!(evs[3].duration, 1200);
        assert!(evs[4..].iter().all(|e| e.end && e.duration == 1600));
        assert!(!evs[3].end);
    }

    #[test]
    fn duplicates_and_losses_give_one_digit() {
        let t0 = Instant::now();
        let tx = Rfc4733Sender::new(101, 8000);
        let pkts: Vec<_> = tx.packets('7', 5000, 120).unwrap().collect();
        // Clean stream with every packet duplicated.
        let mut rx = Rfc4733Receiver::new(8000, Duration::from_millis(300));
        let dup: Vec<_> = pkts.iter().flat_map(|p| [*p, *p]).collect();
        let got = feed(&mut rx, &dup, t0);
        assert_eq!(
            got,
            vec![DigitEvent {
                digit: '7',
                start_ts: 5000,
                duration_ms: 120
            }]
        );
        // Retransmitted start after the end: still one digit.
        assert!(feed(&mut rx, &pkts[..1], t0).is_empty());

        // Lost start.
        let mut rx = Rfc4733Receiver::new(8000, Duration::from_millis(300));
        assert_eq!(feed(&mut rx, &pkts[1..], t0).len(), 1);

        // Lost end (all three): reported on timeout, exactly once.
        let mut rx = Rfc4733Receiver::new(8000, Duration::from_millis(300));
        let n = pkts.len();
        assert!(feed(&mut rx, &pkts[..n - 3], t0).is_empty());
        assert_eq!(rx.in_progress(), Some('7'));
        assert!(rx.poll(t0 + Duration::from_millis(200)).is_none());
        let d = rx.poll(t0 + Duration::from_millis(500)).unwrap();
        assert_eq!((d.digit, d.duration_ms), ('7', 100));
        assert!(rx.poll(t0 + Duration::from_secs(2)).is_none());
        // Late end packets after the timeout are swallowed.
        assert!(feed(&mut rx, &pkts[n - 3..], t0).is_empty());

        // Lost end followed by the next digit: both reported, in order.
        let mut rx = Rfc4733Receiver::new(8000, Duration::from_secs(5));
        let next: Vec<_> = tx.packets('#', 8000, 80).unwrap().collect();
        let mut stream = pkts[..n - 3].to_vec();
        stream.extend(next.iter().map(|p| DtmfPacket {
            offset_ms: p.offset_ms + 400,
            ..*p
        }));
        let got: String = feed(&mut rx, &stream, t0).iter().map(|d| d.digit).collect();
        assert_eq!(got, "7#");

        // Only a single end packet survives.
        let mut rx = Rfc4733Receiver::new(8000, Duration::from_secs(5));
        let got = feed(&mut rx, &pkts[n - 1..], t0);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].duration_ms, 120);
    }

    #[test]
    fn long_press_segments() {
        let t0 = Instant::now();
        let tx = Rfc4733Sender::new(101, 8000);
        // 20 s at 8 kHz = 160000 units: three segments.
        let pkts: Vec<_> = tx.packets('1', u32::MAX - 100, 20_000).unwrap().collect();
        let ts: std::collections::BTreeSet<_> = pkts.iter().map(|p| p.timestamp).collect();
        assert_eq!(ts.len(), 3);
        let mut rx = Rfc4733Receiver::new(8000, Duration::from_millis(300));
        let got = feed(&mut rx, &pkts, t0);
        assert_eq!(
            got,
            vec![DigitEvent {
                digit: '1',
                start_ts: u32::MAX - 100,
                duration_ms: 20_000
            }]
        );
    }
}
