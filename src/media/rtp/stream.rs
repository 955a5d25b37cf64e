//! Per-leg RTP stream statistics: receive-side sequence tracking, loss and
//! interarrival jitter (RFC 3550 A.1, A.3, A.8), report-block generation,
//! sender-side counters for SRs, and round-trip time from RR LSR/DLSR against
//! the SRs we sent (RFC 3550 6.4.1). Time is always passed in.

use super::rtcp::{ReportBlock, SenderInfo};
use std::time::{Duration, Instant};

const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const MIN_SEQUENTIAL: u32 = 2;
const RTP_SEQ_MOD: u32 = 1 << 16;

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// 64-bit NTP timestamp from a Unix-epoch duration (e.g. `SystemTime` read by the caller).
pub fn ntp_from_unix(since_unix_epoch: Duration) -> u64 {
    let secs = since_unix_epoch.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// Middle 32 bits of an NTP timestamp (the LSR / "compact" form).
pub fn ntp_compact(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// RTT in 1/65536 s from the compact NTP arrival time of an RR and its LSR/DLSR.
/// `None` when LSR is 0 (no SR received yet) or the result would be negative.
pub fn rtt_compact(arrival: u32, lsr: u32, dlsr: u32) -> Option<u32> {
    if lsr == 0 {
        return None;
    }
    let rtt = arrival.wrapping_sub(lsr).wrapping_sub(dlsr);
    (rtt < 0x8000_0000).then_some(rtt)
}

fn duration_to_compact(d: Duration) -> u32 {
    ((d.as_micros() << 16) / 1_000_000).min(u128::from(u32::MAX)) as u32
}

/// Result of feeding one packet to [`ReceiveStats::on_packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// Packet is valid and counted.
    Valid,
    /// New source still in probation (RFC 3550 A.1); not yet counted as valid.
    Probation,
    /// A large jump; dropped unless the next packet confirms the new sequence.
    Bad,
    /// A different SSRC replaced the tracked one; statistics restarted (carried into totals).
    SourceChanged,
}

/// Receive-side statistics for one incoming RTP stream (one leg).
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    transit: Option<i64>,
    /// Jitter scaled by 16 (A.8 integer form), in timestamp units.
    jitter_q4: u64,
    epoch: Option<Instant>,
    last_sr: Option<(u32, Instant)>,
    // Totals from earlier sources of this leg (SSRC changes), for the CDR.
    retired_received: u64,
    retired_lost: i64,
}

impl ReceiveStats {
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            ssrc: None,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_q4: 0,
            epoch: None,
            last_sr: None,
            retired_received: 0,
            retired_lost: 0,
        }
    }

    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Feed one received RTP packet (A.1 `update_seq` + A.8 jitter).
    pub fn on_packet(&mut self, ssrc: u32, seq: u16, rtp_ts: u32, arrival: Instant) -> SeqVerdict {
        let mut changed = false;
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                self.retired_received += self.received;
                self.retired_lost += self.cumulative_lost();
                changed = true;
            }
            let rate = self.clock_rate;
            let (rr, rl) = (self.retired_received, self.retired_lost);
            *self = Self::new(rate);
            self.retired_received = rr;
            self.retired_lost = rl;
            self.ssrc = Some(ssrc);
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
        }
        let verdict = self.update_seq(seq);
        if verdict == SeqVerdict::Valid {
            self.update_jitter(rtp_ts, arrival);
        }
        if changed {
            SeqVerdict::SourceChanged
        } else {
            verdict
        }
    }

    fn update_seq(&mut self, seq: u16) -> SeqVerdict {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return SeqVerdict::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqVerdict::Probation;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if udelta <= (RTP_SEQ_MOD - u32::from(MAX_MISORDER)) as u16 {
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets: assume the other side restarted.
                self.retired_received += self.received;
                self.retired_lost += self.cumulative_lost();
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return SeqVerdict::Bad;
            }
        }
        // else: duplicate or reordered packet, counted.
        self.received += 1;
        SeqVerdict::Valid
    }

    fn update_jitter(&mut self, rtp_ts: u32, arrival: Instant) {
        let epoch = *self.epoch.get_or_insert(arrival);
        let elapsed = arrival.saturating_duration_since(epoch);
        let arrival_ts = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000) as i64;
        // Transit in timestamp units, modulo 2^32 to survive RTP timestamp wrap.
        let transit = arrival_ts.wrapping_sub(i64::from(rtp_ts)) as u32 as i64;
        if let Some(prev) = self.transit {
            let d = (transit.wrapping_sub(prev) as u32 as i32).unsigned_abs() as u64;
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Note an SR received from the remote sender (for LSR/DLSR in our reports).
    pub fn on_sr_received(&mut self, ntp_timestamp: u64, arrival: Instant) {
        self.last_sr = Some((ntp_compact(ntp_timestamp), arrival));
    }

    pub fn extended_highest_seq(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected from this source (A.3).
    pub fn expected(&self) -> u64 {
        if self.ssrc.is_none() || self.probation > 0 {
            return 0;
        }
        u64::from(self.extended_highest_seq().wrapping_sub(self.base_seq)) + 1
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative lost for the current source (negative with duplicates).
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter_q4 >> 4) as u32
    }

    pub fn jitter_ms(&self) -> f64 {
        (self.jitter_q4 as f64 / 16.0) * 1000.0 / f64::from(self.clock_rate)
    }

    /// Build a report block for the current source and start a new report
    /// interval (fraction lost is per interval). `None` before any valid packet.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        if self.probation > 0 {
            return None;
        }
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        self.expected_prior = expected;
        let received_interval = self.received - self.received_prior;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => (lsr, duration_to_compact(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            extended_highest_seq: self.extended_highest_seq(),
            jitter: self.jitter(),
            lsr,
            dlsr,
        })
    }

    /// Total packets received and lost across all sources this leg has seen.
    pub fn totals(&self) -> (u64, i64) {
        (
            self.retired_received + self.received,
            self.retired_lost + self.cumulative_lost(),
        )
    }
}

/// Send-side counters and RTT measurement for our outgoing stream.
#[derive(Debug, Clone)]
pub struct SendStats {
    pub ssrc: u32,
    packets: u32,
    octets: u32,
    /// Recent SRs we sent: (compact NTP, send instant). Ring buffer.
    sent_srs: [(u32, Option<Instant>); 8],
    next_sr: usize,
    rtt: Option<Duration>,
}

impl SendStats {
    pub fn new(ssrc: u32) -> Self {
        Self {
            ssrc,
            packets: 0,
            octets: 0,
            sent_srs: [(0, None); 8],
            next_sr: 0,
            rtt: None,
        }
    }

    /// Count one sent RTP packet with `payload_len` payload octets.
    pub fn on_sent(&mut self, payload_len: usize) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
    }

    /// Sender info for an SR about to be sent at `now`; remembers it for RTT.
    /// `ntp_now` is the wall clock read by the caller, `rtp_now` our media clock.
    pub fn sender_info(&mut self, ntp_now: u64, rtp_now: u32, now: Instant) -> SenderInfo {
        self.sent_srs[self.next_sr] = (ntp_compact(ntp_now), Some(now));
        self.next_sr = (self.next_sr + 1) % self.sent_srs.len();
        SenderInfo {
            ssrc: self.ssrc,
            ntp_timestamp: ntp_now,
            rtp_timestamp: rtp_now,
            packet_count: self.packets,
            octet_count: self.octets,
        }
    }

    /// Process a report block about our stream received at `arrival`.
    /// Returns the RTT if the block's LSR matches one of our recent SRs.
    pub fn on_report_block(&mut self, block: &ReportBlock, arrival: Instant) -> Option<Duration> {
        if block.ssrc != self.ssrc || block.lsr == 0 {
            return None;
        }
        let (_, sent) = self
            .sent_srs
            .iter()
            .find(|(c, t)| *c == block.lsr && t.is_some())?;
        let held = arrival.saturating_duration_since((*sent)?);
        let dlsr = Duration::from_micros((u64::from(block.dlsr) * 1_000_000) >> 16);
        let rtt = held.checked_sub(dlsr).unwrap_or_default();
        self.rtt = Some(rtt);
        Some(rtt)
    }

    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }
}

/// Per-leg summary for the CDR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamSummary {
    pub packets_received: u64,
    pub packets_lost: i64,
    pub loss_percent: f64,
    pub jitter_ms: f64,
    pub rtt_ms: Option<f64>,
}

/// Build the CDR summary from a leg's receive and send statistics.
pub fn summarize(recv: &ReceiveStats, send: Option<&SendStats>) -> StreamSummary {
    let (received, lost) = recv.totals();
    let expected = received as i64 + lost;
    let loss_percent = if expected > 0 && lost > 0 {
        lost as f64 * 100.0 / expected as f64
    } else {
        0.0
    };
    StreamSummary {
        packets_received: received,
        packets_lost: lost.max(0),
        loss_percent,
        jitter_ms: recv.jitter_ms(),
        rtt_ms: send
            .and_then(SendStats::rtt)
            .map(|d| d.as_secs_f64() * 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn probation_loss_and_wrap() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(8000);
        let mut seq = 65_530u16;
        let mut verdicts = Vec::new();
        for i in 0..100u32 {
            if i == 50 || i == 51 || i == 70 {
                seq = seq.wrapping_add(1);
                continue; // lost
            }
            verdicts.push(s.on_packet(7, seq, i * 160, at(t0, u64::from(i) * 20)));
            seq = seq.wrapping_add(1);
        }
        assert_eq!(verdicts[0], SeqVerdict::Probation);
        assert_eq!(verdicts[1], SeqVerdict::Valid);
        assert!(s.extended_highest_seq() > 65_536);
        assert_eq!(s.received(), 96);
        assert_eq!(s.cumulative_lost(), 3);
        assert_eq!(s.jitter(), 0);
        let rb = s.report_block(at(t0, 2000)).unwrap();
        assert_eq!(rb.cumulative_lost, 3);
        assert_eq!(rb.fraction_lost, (3 * 256 / 99) as u8);
        assert_eq!(rb.lsr, 0);
        // Next interval without loss.
        for i in 100..110u32 {
            s.on_packet(7, seq, i * 160, at(t0, u64::from(i) * 20));
            seq = seq.wrapping_add(1);
        }
        assert_eq!(s.report_block(at(t0, 2300)).unwrap().fraction_lost, 0);
        let sum = summarize(&s, None);
        assert_eq!(sum.packets_received, 106);
        assert_eq!(sum.packets_lost, 3);
        assert!((sum.loss_percent - 300.0 / 109.0).abs() < 1e-9);
    }

    #[test]
    fn jitter_converges() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(8000);
        // Alternating 0 / +10 ms arrival offset: |D| = 80 ticks each packet.
        for i in 0..2000u32 {
            let ms = u64::from(i) * 20 + if i % 2 == 1 { 10 } else { 0 };
            s.on_packet(1, i as u16, i * 160, at(t0, ms));
        }
        assert!((s.jitter() as i64 - 80).abs() <= 2, "{}", s.jitter());
        assert!((s.jitter_ms() - 10.0).abs() < 0.3);
    }

    #[test]
    fn restart_and_source_change() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(8000);
        for i in 0..10u16 {
            s.on_packet(1, i, 0, t0);
        }
        // Big jump: first is bad, second sequential confirms restart.
        assert_eq!(s.on_packet(1, 30_000, 0, t0), SeqVerdict::Bad);
        assert_eq!(s.on_packet(1, 30_001, 0, t0), SeqVerdict::Valid);
        assert_eq!(s.cumulative_lost(), 0);
        assert_eq!(s.on_packet(2, 5, 0, t0), SeqVerdict::SourceChanged);
        assert_eq!(s.on_packet(2, 6, 0, t0), SeqVerdict::Valid);
        assert_eq!(s.totals().0, 9 + 1 + 1);
    }

    #[test]
    fn rtt_from_lsr_dlsr() {
        let t0 = Instant::now();
        let mut tx = SendStats::new(42);
        let ntp = ntp_from_unix(Duration::from_secs(1_700_000_000));
        let info = tx.sender_info(ntp, 1234, t0);
        assert_eq!(info.ntp_timestamp, ntp);
        // Peer holds the SR 500 ms, network RTT 80 ms.
        let block = ReportBlock {
            ssrc: 42,
            lsr: ntp_compact(ntp),
            dlsr: 500 * 65536 / 1000,
            ..Default::default()
        };
        let rtt = tx.on_report_block(&block, at(t0, 580)).unwrap();
        assert!((rtt.as_secs_f64() * 1000.0 - 80.0).abs() < 0.1, "{rtt:?}");
        let sum = summarize(&ReceiveStats::new(8000), Some(&tx));
        assert!((sum.rtt_ms.unwrap() - 80.0).abs() < 0.1);
        assert_eq!(rtt_compact(0x0001_8000, 0x0001_0000, 0x4000), Some(0x4000));
        assert_eq!(rtt_compact(5, 0, 0), None);
        // Our report carries LSR/DLSR of the peer's SR.
        let mut rx = ReceiveStats::new(8000);
        for i in 0..3u16 {
            rx.on_packet(9, i, 0, t0);
        }
        rx.on_sr_received(ntp, t0);
        let rb = rx.report_block(at(t0, 250)).unwrap();
        assert_eq!(rb.lsr, ntp_compact(ntp));
        assert_eq!(rb.dlsr, 65536 / 4);
    }
}
