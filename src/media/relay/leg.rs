//! State of one relay leg: its sockets, latching, the rewriter for the stream
//! we send to it, receive/send statistics, the RFC 4733 receiver for digits
//! it sends, hold and media-timeout bookkeeping, counters, and what its
//! audio goes through on the way to the other leg ([`Transcode`]: nothing,
//! the G.711 tables in place, or the decoding path of `decode.rs`). A media
//! session (`media::session`) keeps its one leg in the same type.

use super::decode::DecodePath;
use super::inband::InbandDtmf;
use super::latch::Latch;
use super::{AudioCodec, LegId, LegSetup, LegSummary, RelaySetupError};
use crate::media::dtmf::Rfc4733Receiver;
use crate::media::g711;
use crate::media::rtp::{ReceiveStats, Rewriter, RtcpCompound, RtcpPacket, SendStats, summarize};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// How a received payload type maps onto the other leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PtKind {
    Audio,
    Dtmf,
    Unknown,
}

/// What happens to an audio payload between two legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transcode {
    /// Same codec: the payload is forwarded untouched.
    None,
    UlawToAlaw,
    AlawToUlaw,
    /// Decoded to linear audio, resampled and re-encoded (`decode.rs`);
    /// the payload is not forwarded as such.
    Decode {
        from: AudioCodec,
        to: AudioCodec,
    },
}

impl Transcode {
    /// The conversion from a `from` leg's audio to a `to` leg's: the same
    /// codec passes, PCMU <-> PCMA by table, any other pair of decodable
    /// codecs through linear audio; `Other` only with `Other`.
    pub fn between(from: AudioCodec, to: AudioCodec) -> Result<Self, RelaySetupError> {
        match (from, to) {
            (AudioCodec::Pcmu, AudioCodec::Pcma) => Ok(Transcode::UlawToAlaw),
            (AudioCodec::Pcma, AudioCodec::Pcmu) => Ok(Transcode::AlawToUlaw),
            (f, t) if f == t => Ok(Transcode::None),
            (f, t) if f.is_decodable() && t.is_decodable() => {
                Ok(Transcode::Decode { from: f, to: t })
            }
            (a, b) => Err(RelaySetupError::CodecMismatch { a, b }),
        }
    }

    /// Convert `payload` in place (table look-ups, no allocation). A no-op
    /// for `None` and for `Decode`, whose payloads take the decoding path.
    #[inline]
    pub fn apply(self, payload: &mut [u8]) {
        match self {
            Transcode::None | Transcode::Decode { .. } => {}
            Transcode::UlawToAlaw => g711::ulaw_to_alaw_in_place(payload),
            Transcode::AlawToUlaw => g711::alaw_to_ulaw_in_place(payload),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    pub packets_received: u64,
    pub bytes_received: u64,
    pub packets_forwarded: u64,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub dropped_from_strangers: u64,
    pub dropped_invalid: u64,
    pub dropped_unknown_pt: u64,
    pub send_errors: u64,
    pub rtcp_received: u64,
    pub digits: u32,
}

pub struct Leg {
    pub id: LegId,
    pub rtp: UdpSocket,
    pub rtcp: Option<UdpSocket>,
    pub latch: Latch,
    pub payload_type: u8,
    pub codec: AudioCodec,
    /// Applied to this leg's audio before it is sent to the other leg.
    pub transcode_out: Transcode,
    /// For `Transcode::Decode`: the path this leg's audio takes.
    pub decode: Option<Box<DecodePath>>,
    pub telephone_event_pt: Option<u8>,
    /// Rewrites what the other leg sends into our stream to this leg.
    pub rewriter: Rewriter,
    pub recv: ReceiveStats,
    pub send: SendStats,
    pub dtmf: Rfc4733Receiver,
    pub hold: bool,
    /// The leg is not expected to send (SDP says so): no media timeout.
    pub quiet: bool,
    pub last_rtp: Instant,
    /// In-band DTMF detection for a G.711 leg whose phone offered no
    /// telephone-event (RFC 4733 digits are read by `dtmf` instead).
    pub inband: Option<Box<InbandDtmf>>,
    /// Where this leg's RTCP comes from, once it sent some.
    pub rtcp_peer: Option<super::rtcp_out::RtcpPeer>,
    /// When we last sent it a report.
    pub last_rtcp_report: Instant,
    /// RTP timestamp of the last packet we sent it (for our SRs).
    pub last_sent_ts: u32,
    pub timeout_reported: bool,
    /// Music on hold sent to this leg instead of the other leg's stream.
    pub music: Option<Box<super::Music>>,
    pub c: Counters,
}

impl Leg {
    pub fn new(
        id: LegId,
        s: LegSetup,
        transcode_out: Transcode,
        dtmf_timeout: Duration,
        now: Instant,
    ) -> Result<Self, RelaySetupError> {
        let decode = match transcode_out {
            Transcode::Decode { from, to } => Some(Box::new(DecodePath::new(from, to)?)),
            _ => None,
        };
        Ok(Self {
            id,
            rtp: s.sockets.rtp,
            rtcp: s.sockets.rtcp,
            latch: Latch::new(s.remote, s.allowed_ips),
            payload_type: s.payload_type,
            codec: s.codec,
            transcode_out,
            decode,
            telephone_event_pt: s.telephone_event_pt,
            rewriter: Rewriter::new(s.our_ssrc, s.clock_rate, rand::random(), rand::random()),
            recv: ReceiveStats::new(s.clock_rate),
            send: SendStats::new(s.our_ssrc),
            dtmf: Rfc4733Receiver::new(s.clock_rate, dtmf_timeout),
            hold: false,
            quiet: false,
            last_rtp: now,
            inband: s
                .telephone_event_pt
                .is_none()
                .then(|| InbandDtmf::for_codec(s.codec).map(Box::new))
                .flatten(),
            rtcp_peer: None,
            last_rtcp_report: now,
            last_sent_ts: 0,
            timeout_reported: false,
            music: None,
            c: Counters::default(),
        })
    }

    #[inline]
    pub fn classify_pt(&self, pt: u8) -> PtKind {
        if pt == self.payload_type {
            PtKind::Audio
        } else if Some(pt) == self.telephone_event_pt {
            PtKind::Dtmf
        } else {
            PtKind::Unknown
        }
    }

    /// The payload type to use on this leg for `kind`, if it has one.
    #[inline]
    pub fn out_pt(&self, kind: PtKind) -> Option<u8> {
        match kind {
            PtKind::Audio => Some(self.payload_type),
            PtKind::Dtmf => self.telephone_event_pt,
            PtKind::Unknown => None,
        }
    }

    /// Consume an RTCP compound from this leg: SR timing for our reports,
    /// report blocks about our stream for RTT. Nothing is forwarded.
    pub fn on_rtcp(&mut self, buf: &[u8], arrival: Instant) -> bool {
        let Ok(compound) = RtcpCompound::parse(buf) else {
            return false;
        };
        self.c.rtcp_received += 1;
        for p in compound.flatten() {
            match p {
                RtcpPacket::SenderReport { info, reports } => {
                    self.recv.on_sr_received(info.ntp_timestamp, arrival);
                    for b in reports.iter() {
                        self.send.on_report_block(&b, arrival);
                    }
                }
                RtcpPacket::ReceiverReport { reports, .. } => {
                    for b in reports.iter() {
                        self.send.on_report_block(&b, arrival);
                    }
                }
                _ => {}
            }
        }
        true
    }

    /// Count one packet of `len` bytes sent to this leg.
    #[inline]
    pub fn on_sent(&mut self, packet: &[u8], payload_len: usize) {
        let len = packet.len();
        if let Some(ts) = packet.get(4..8) {
            self.last_sent_ts = u32::from_be_bytes([ts[0], ts[1], ts[2], ts[3]]);
        }
        self.send.on_sent(payload_len);
        self.c.packets_sent += 1;
        self.c.bytes_sent += len as u64;
    }

    /// Media timeout bookkeeping: `true` once per silence longer than `timeout`.
    pub fn check_timeout(&mut self, timeout: Duration, now: Instant) -> bool {
        if self.hold || self.quiet || self.timeout_reported {
            return false;
        }
        if now.saturating_duration_since(self.last_rtp) >= timeout {
            self.timeout_reported = true;
            return true;
        }
        false
    }

    pub fn summary(&self) -> LegSummary {
        LegSummary {
            stream: summarize(&self.recv, Some(&self.send)),
            packets_received: self.c.packets_received,
            bytes_received: self.c.bytes_received,
            packets_forwarded: self.c.packets_forwarded,
            packets_sent: self.c.packets_sent,
            bytes_sent: self.c.bytes_sent,
            dropped_from_strangers: self.c.dropped_from_strangers,
            dropped_invalid: self.c.dropped_invalid,
            dropped_unknown_pt: self.c.dropped_unknown_pt,
            send_errors: self.c.send_errors,
            rtcp_received: self.c.rtcp_received,
            latched_addr: self.latch.latched(),
            digits: self.c.digits,
            decoding: self.decode.as_ref().map(|d| d.summary()),
        }
    }
}
