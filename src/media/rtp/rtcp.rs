//! RTCP compound packet parsing and SR/RR/SDES/BYE building (RFC 3550 6.4-6.6),
//! plus RTP/RTCP/STUN/DTLS demultiplexing on one port (RFC 5761 4, RFC 7983).
//!
//! Parsing is zero-copy: [`RtcpCompound`] iterates the packets of a datagram,
//! yielding borrowed views; report blocks, SDES chunks and BYE sources are
//! decoded lazily. The whole compound is validated up front (version, lengths
//! summing to the datagram, padding only on the last packet).

use bytes::BufMut;

pub const RTCP_SR: u8 = 200;
pub const RTCP_RR: u8 = 201;
pub const RTCP_SDES: u8 = 202;
pub const RTCP_BYE: u8 = 203;
pub const RTCP_APP: u8 = 204;
/// SDES item type for CNAME.
pub const SDES_CNAME: u8 = 1;
const REPORT_BLOCK_LEN: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("RTCP packet truncated")]
    Truncated,
    #[error("unsupported RTCP version {0}")]
    BadVersion(u8),
    #[error("RTCP length field inconsistent with datagram")]
    BadLength,
    #[error("padding bit set on a packet that is not last in the compound")]
    BadPadding,
    #[error("too many report blocks ({0}, max 31)")]
    TooManyReports(usize),
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// One reception report block (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction lost since the previous report, fixed point /256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire).
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (0 if none).
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

impl ReportBlock {
    fn parse(b: &[u8]) -> Self {
        let lost_raw = be32(b, 4);
        // Sign-extend the 24-bit cumulative loss.
        let cumulative_lost = ((lost_raw << 8) as i32) >> 8;
        Self {
            ssrc: be32(b, 0),
            fraction_lost: (lost_raw >> 24) as u8,
            cumulative_lost,
            extended_highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            lsr: be32(b, 16),
            dlsr: be32(b, 20),
        }
    }

    fn write<B: BufMut>(&self, out: &mut B) {
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff;
        out.put_u32(self.ssrc);
        out.put_u32((u32::from(self.fraction_lost) << 24) | lost);
        out.put_u32(self.extended_highest_seq);
        out.put_u32(self.jitter);
        out.put_u32(self.lsr);
        out.put_u32(self.dlsr);
    }
}

/// Lazily decoded report blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlocks<'a>(&'a [u8]);

impl<'a> ReportBlocks<'a> {
    pub fn len(&self) -> usize {
        self.0.len() / REPORT_BLOCK_LEN
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        self.0
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::parse)
    }
}

/// Sender info of an SR (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    pub ssrc: u32,
    /// 64-bit NTP timestamp (seconds since 1900 << 32 | fraction).
    pub ntp_timestamp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One SDES chunk: a source and its items (type, value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    pub ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// Items as `(type, value)`, stopping at the null item.
    pub fn items(&self) -> impl Iterator<Item = (u8, &'a [u8])> + 'a {
        let mut rest = self.items;
        std::iter::from_fn(move || {
            let (&ty, tail) = rest.split_first()?;
            let (&len, tail) = tail.split_first()?;
            if ty == 0 || usize::from(len) > tail.len() {
                return None;
            }
            let (value, tail) = tail.split_at(usize::from(len));
            rest = tail;
            Some((ty, value))
        })
    }
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items().find(|(t, _)| *t == SDES_CNAME).map(|(_, v)| v)
    }
}

/// One packet of a compound, as a borrowed view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport {
        info: SenderInfo,
        reports: ReportBlocks<'a>,
    },
    ReceiverReport {
        ssrc: u32,
        reports: ReportBlocks<'a>,
    },
    /// Source count and the raw chunk area; see [`RtcpPacket::sdes_chunks`].
    Sdes { count: u8, body: &'a [u8] },
    Bye {
        sources: &'a [u8],
        reason: Option<&'a [u8]>,
    },
    /// APP, feedback (RFC 4585) or anything else: type and raw body, skipped.
    Other { packet_type: u8, body: &'a [u8] },
}

impl<'a> RtcpPacket<'a> {
    /// Decode SDES chunks (empty for other packet types). Stops at malformed data.
    pub fn sdes_chunks(&self) -> impl Iterator<Item = SdesChunk<'a>> + 'a {
        let (mut count, mut rest) = match *self {
            RtcpPacket::Sdes { count, body } => (count, body),
            _ => (0, &[][..]),
        };
        std::iter::from_fn(move || {
            if count == 0 || rest.len() < 4 {
                return None;
            }
            count -= 1;
            let ssrc = be32(rest, 0);
            let items = &rest[4..];
            // Walk items to find the null terminator, then skip to a 32-bit boundary.
            let mut i = 0;
            while i < items.len() && items[i] != 0 {
                if i + 1 >= items.len() {
                    break;
                }
                i += 2 + usize::from(items[i + 1]);
            }
            let used = 4 + (i + 1).min(items.len());
            let next = used.div_ceil(4) * 4;
            let chunk = SdesChunk {
                ssrc,
                items: &items[..i.min(items.len())],
            };
            rest = rest.get(next..).unwrap_or(&[]);
            Some(chunk)
        })
    }

    /// SSRCs leaving, for BYE (empty otherwise).
    pub fn bye_sources(&self) -> impl Iterator<Item = u32> + 'a {
        let s = match *self {
            RtcpPacket::Bye { sources, .. } => sources,
            _ => &[][..],
        };
        s.chunks_exact(4).map(|c| be32(c, 0))
    }
}

/// Iterator over the packets of a validated compound RTCP datagram.
#[derive(Debug, Clone)]
pub struct RtcpCompound<'a> {
    rest: &'a [u8],
}

impl<'a> RtcpCompound<'a> {
    /// Validate the whole compound (header of every packet) without decoding bodies.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtcpError> {
        let mut off = 0;
        if buf.len() < 4 {
            return Err(RtcpError::Truncated);
        }
        while off < buf.len() {
            if buf.len() - off < 4 {
                return Err(RtcpError::Truncated);
            }
            let v = buf[off] >> 6;
            if v != 2 {
                return Err(RtcpError::BadVersion(v));
            }
            let len = (usize::from(u16::from_be_bytes([buf[off + 2], buf[off + 3]])) + 1) * 4;
            if off + len > buf.len() {
                return Err(RtcpError::BadLength);
            }
            if buf[off] & 0x20 != 0 {
                let pad = usize::from(buf[off + len - 1]);
                if off + len != buf.len() {
                    return Err(RtcpError::BadPadding);
                }
                if pad == 0 || pad > len - 4 {
                    return Err(RtcpError::BadPadding);
                }
            }
            off += len;
        }
        Ok(Self { rest: buf })
    }
}

impl<'a> Iterator for RtcpCompound<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 4 {
            return None;
        }
        let b = self.rest;
        let len = ((usize::from(u16::from_be_bytes([b[2], b[3]])) + 1) * 4).min(b.len());
        self.rest = &b[len..];
        let mut end = len;
        if b[0] & 0x20 != 0 {
            end = len.saturating_sub(usize::from(b[len - 1])).max(4);
        }
        Some(decode_one(b[0] & 0x1f, b[1], &b[4..end]))
    }
}

fn decode_one(count: u8, pt: u8, body: &[u8]) -> Result<RtcpPacket<'_>, RtcpError> {
    let blocks = usize::from(count) * REPORT_BLOCK_LEN;
    match pt {
        RTCP_SR => {
            if body.len() < 24 + blocks {
                return Err(RtcpError::Truncated);
            }
            let info = SenderInfo {
                ssrc: be32(body, 0),
                ntp_timestamp: (u64::from(be32(body, 4)) << 32) | u64::from(be32(body, 8)),
                rtp_timestamp: be32(body, 12),
                packet_count: be32(body, 16),
                octet_count: be32(body, 20),
            };
            Ok(RtcpPacket::SenderReport {
                info,
                reports: ReportBlocks(&body[24..24 + blocks]),
            })
        }
        RTCP_RR => {
            if body.len() < 4 + blocks {
                return Err(RtcpError::Truncated);
            }
            Ok(RtcpPacket::ReceiverReport {
                ssrc: be32(body, 0),
                reports: ReportBlocks(&body[4..4 + blocks]),
            })
        }
        RTCP_SDES => Ok(RtcpPacket::Sdes { count, body }),
        RTCP_BYE => {
            let n = usize::from(count) * 4;
            if body.len() < n {
                return Err(RtcpError::Truncated);
            }
            let reason = body
                .get(n)
                .and_then(|&l| body.get(n + 1..n + 1 + usize::from(l)));
            Ok(RtcpPacket::Bye {
                sources: &body[..n],
                reason,
            })
        }
        _ => Ok(RtcpPacket::Other {
            packet_type: pt,
            body,
        }),
    }
}

fn put_header<B: BufMut>(out: &mut B, count: u8, pt: u8, body_len: usize) {
    out.put_u8(0x80 | (count & 0x1f));
    out.put_u8(pt);
    out.put_u16((body_len / 4) as u16);
}

/// Append an SR with up to 31 report blocks.
pub fn write_sr<B: BufMut>(
    info: &SenderInfo,
    reports: &[ReportBlock],
    out: &mut B,
) -> Result<(), RtcpError> {
    if reports.len() > 31 {
        return Err(RtcpError::TooManyReports(reports.len()));
    }
    put_header(out, reports.len() as u8, RTCP_SR, 24 + 24 * reports.len());
    out.put_u32(info.ssrc);
    out.put_u64(info.ntp_timestamp);
    out.put_u32(info.rtp_timestamp);
    out.put_u32(info.packet_count);
    out.put_u32(info.octet_count);
    reports.iter().for_each(|r| r.write(out));
    Ok(())
}

/// Append an RR with up to 31 report blocks.
pub fn write_rr<B: BufMut>(
    ssrc: u32,
    reports: &[ReportBlock],
    out: &mut B,
) -> Result<(), RtcpError> {
    if reports.len() > 31 {
        return Err(RtcpError::TooManyReports(reports.len()));
    }
    put_header(out, reports.len() as u8, RTCP_RR, 4 + 24 * reports.len());
    out.put_u32(ssrc);
    reports.iter().for_each(|r| r.write(out));
    Ok(())
}

/// Append an SDES packet with one chunk carrying a CNAME (truncated to 255 bytes).
pub fn write_sdes_cname<B: BufMut>(ssrc: u32, cname: &[u8], out: &mut B) {
    let cname = &cname[..cname.len().min(255)];
    // ssrc + type + len + text + at least one null, padded to 4.
    let chunk = (4 + 2 + cname.len() + 1).div_ceil(4) * 4;
    put_header(out, 1, RTCP_SDES, chunk);
    out.put_u32(ssrc);
    out.put_u8(SDES_CNAME);
    out.put_u8(cname.len() as u8);
    out.put_slice(cname);
    out.put_bytes(0, chunk - 6 - cname.len());
}

/// Append a BYE for up to 31 sources (no reason).
pub fn write_bye<B: BufMut>(ssrcs: &[u32], out: &mut B) {
    let n = ssrcs.len().min(31);
    put_header(out, n as u8, RTCP_BYE, 4 * n);
    ssrcs[..n].iter().for_each(|s| out.put_u32(*s));
}

/// What a datagram arriving on a media port is (RFC 7983 first byte, RFC 5761 PT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    Rtp,
    Rtcp,
    Stun,
    Dtls,
    Unknown,
}

/// Classify a datagram for rtcp-mux. RTCP packet types 192-223 (RFC 5761 4:
/// RTP payload types 64-95 must not be used with mux) are taken as RTCP.
pub fn classify(buf: &[u8]) -> PacketKind {
    match buf.first() {
        Some(0..=3) => PacketKind::Stun,
        Some(20..=63) => PacketKind::Dtls,
        Some(128..=191) if buf.len() >= 4 => {
            if (192..=223).contains(&buf[1]) {
                PacketKind::Rtcp
            } else {
                PacketKind::Rtp
            }
        }
        _ => PacketKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 25,
            cumulative_lost: -3,
            extended_highest_seq: 0x1_0005,
            jitter: 80,
            lsr: 0x1234_5678,
            dlsr: 65536,
        }
    }

    #[test]
    fn compound_roundtrip() {
        let info = SenderInfo {
            ssrc: 1,
            ntp_timestamp: 0xe000_0000_8000_0000,
            rtp_timestamp: 160,
            packet_count: 10,
            octet_count: 1600,
        };
        let mut v = Vec::new();
        write_sr(&info, &[block(7), block(8)], &mut v).unwrap();
        write_sdes_cname(1, b"agent-42@switchboard", &mut v);
        write_rr(2, &[block(9)], &mut v).unwrap();
        // APP packet with name "TEST" and 4 bytes of data.
        v.extend_from_slice(&[
            0x80, RTCP_APP, 0, 3, 0, 0, 0, 1, b'T', b'E', b'S', b'T', 1, 2, 3, 4,
        ]);
        write_bye(&[1], &mut v);
        assert_eq!(classify(&v), PacketKind::Rtcp);

        let pkts: Vec<_> = RtcpCompound::parse(&v)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(pkts.len(), 5);
        match pkts[0] {
            RtcpPacket::SenderReport { info: i, reports } => {
                assert_eq!(i, info);
                let r: Vec<_> = reports.iter().collect();
                assert_eq!(r, vec![block(7), block(8)]);
            }
            ref p => panic!("{p:?}"),
        }
        let chunks: Vec<_> = pkts[1].sdes_chunks().collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].ssrc, 1);
        assert_eq!(chunks[0].cname(), Some(&b"agent-42@switchboard"[..]));
        assert!(
            matches!(pkts[2], RtcpPacket::ReceiverReport { ssrc: 2, reports } if reports.len() == 1)
        );
        assert!(matches!(
            pkts[3],
            RtcpPacket::Other {
                packet_type: RTCP_APP,
                ..
            }
        ));
        assert_eq!(pkts[4].bye_sources().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn rejects_bad_compounds() {
        let mut v = Vec::new();
        write_rr(2, &[block(9)], &mut v).unwrap();
        assert_eq!(
            RtcpCompound::parse(&v[..v.len() - 1]).unwrap_err(),
            RtcpError::BadLength
        );
        let mut bad = v.clone();
        bad[0] = 0x41;
        assert_eq!(
            RtcpCompound::parse(&bad).unwrap_err(),
            RtcpError::BadVersion(1)
        );
        let mut two = v.clone();
        two.extend_from_slice(&v);
        two[0] |= 0x20;
        assert_eq!(
            RtcpCompound::parse(&two).unwrap_err(),
            RtcpError::BadPadding
        );
        // RR claiming 2 blocks but carrying 1 -> truncated on decode.
        let mut short = v.clone();
        short[0] = 0x82;
        let first = RtcpCompound::parse(&short).unwrap().next().unwrap();
        assert_eq!(first.unwrap_err(), RtcpError::Truncated);
    }

    #[test]
    fn demux() {
        assert_eq!(classify(&[0x80, 0x00, 0, 1]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 0xe5, 0, 1]), PacketKind::Rtp); // PT 101 + marker
        assert_eq!(classify(&[0x80, 200, 0, 6]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x81, 201, 0, 7]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x00, 0x01, 0, 0]), PacketKind::Stun);
        assert_eq!(classify(&[22, 0xfe, 0xfd, 0]), PacketKind::Dtls);
        assert_eq!(classify(&[0xff]), PacketKind::Unknown);
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(c) = RtcpCompound::parse(&data) {
                for p in c.flatten() {
                    let _ = p.sdes_chunks().map(|c| c.items().count()).sum::<usize>();
                    let _ = p.bye_sources().count();
                    if let RtcpPacket::SenderReport { reports, .. } | RtcpPacket::ReceiverReport { reports, .. } = p {
                        let _ = reports.iter().count();
                    }
                }
            }
        }
    }
}
