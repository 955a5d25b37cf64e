//! RTP packet parsing, building and in-place header rewriting (RFC 3550 5.1).
//!
//! [`RtpPacket`] is a zero-copy, validated view over a datagram: every offset
//! is checked once in [`RtpPacket::parse`] so the accessors cannot panic and a
//! flood of garbage costs a few comparisons per datagram. [`RtpHeader`] builds
//! packets into any [`BufMut`] or slice, and [`RtpPacketMut`] rewrites the
//! fixed-header fields of a received datagram in place for relaying.

use bytes::BufMut;
use std::ops::Range;

/// Length of the fixed RTP header (no CSRCs, no extension).
pub const RTP_HEADER_LEN: usize = 12;
/// The only RTP version we accept.
pub const RTP_VERSION: u8 = 2;

/// Why a datagram was not accepted as RTP (or a buffer was too small to write).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("packet shorter than the RTP header ({0} bytes)")]
    TooShort(usize),
    #[error("unsupported RTP version {0}")]
    BadVersion(u8),
    #[error("CSRC list runs past the end of the packet")]
    TruncatedCsrc,
    #[error("header extension runs past the end of the packet")]
    BadExtension,
    #[error("invalid padding length")]
    BadPadding,
    #[error("output buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall { need: usize, have: usize },
    #[error("too many CSRCs ({0}, max 15)")]
    TooManyCsrcs(usize),
}

/// A validated, borrowed view of one RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    payload_start: usize,
    payload_end: usize,
}

/// An RTP header extension (RFC 3550 5.3.1): profile-defined 16 bits and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpExtension<'a> {
    pub profile: u16,
    pub data: &'a [u8],
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Validate `buf` as RTP and return `(header_len, payload_end)`.
#[inline]
fn validate(buf: &[u8]) -> Result<(usize, usize), RtpError> {
    let len = buf.len();
    if len < RTP_HEADER_LEN {
        return Err(RtpError::TooShort(len));
    }
    let b0 = buf[0];
    let version = b0 >> 6;
    if version != RTP_VERSION {
        return Err(RtpError::BadVersion(version));
    }
    let mut header_len = RTP_HEADER_LEN + 4 * usize::from(b0 & 0x0f);
    if header_len > len {
        return Err(RtpError::TruncatedCsrc);
    }
    if b0 & 0x10 != 0 {
        if header_len + 4 > len {
            return Err(RtpError::BadExtension);
        }
        let words = usize::from(be16(buf, header_len + 2));
        header_len += 4 + 4 * words;
        if header_len > len {
            return Err(RtpError::BadExtension);
        }
    }
    let mut payload_end = len;
    if b0 & 0x20 != 0 {
        let pad = usize::from(buf[len - 1]);
        if pad == 0 || header_len + pad > len {
            return Err(RtpError::BadPadding);
        }
        payload_end = len - pad;
    }
    Ok((header_len, payload_end))
}

impl<'a> RtpPacket<'a> {
    /// Parse and validate. Never panics; rejects anything truncated or malformed.
    #[inline]
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let (payload_start, payload_end) = validate(buf)?;
        Ok(Self {
            buf,
            payload_start,
            payload_end,
        })
    }

    /// The whole datagram.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    pub fn version(&self) -> u8 {
        self.buf[0] >> 6
    }
    pub fn has_padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }
    pub fn has_extension(&self) -> bool {
        self.buf[0] & 0x10 != 0
    }
    pub fn csrc_count(&self) -> u8 {
        self.buf[0] & 0x0f
    }
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }
    pub fn sequence(&self) -> u16 {
        be16(self.buf, 2)
    }
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, 4)
    }
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }
    /// Contributing sources, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let buf = self.buf;
        (0..usize::from(self.csrc_count())).map(move |i| be32(buf, RTP_HEADER_LEN + 4 * i))
    }
    /// The header extension, if the X bit is set.
    pub fn extension(&self) -> Option<RtpExtension<'a>> {
        if !self.has_extension() {
            return None;
        }
        let at = RTP_HEADER_LEN + 4 * usize::from(self.csrc_count());
        Some(RtpExtension {
            profile: be16(self.buf, at),
            data: &self.buf[at + 4..self.payload_start],
        })
    }
    /// Header length including CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.payload_start
    }
    /// Number of padding bytes (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }
    /// The payload, without padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.payload_start..self.payload_end]
    }
    /// Byte range of the payload inside the datagram, e.g. for `Bytes::slice`.
    pub fn payload_range(&self) -> Range<usize> {
        self.payload_start..self.payload_end
    }
    /// Copy out the fixed header fields (CSRCs/extension are not carried).
    pub fn header(&self) -> RtpHeader {
        RtpHeader {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence: self.sequence(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
        }
    }
}

/// Fixed RTP header fields, used to build packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

impl RtpHeader {
    /// Encode the 12-byte fixed header (no CSRCs, no extension, no padding).
    pub fn to_bytes(&self) -> [u8; RTP_HEADER_LEN] {
        let mut h = [0u8; RTP_HEADER_LEN];
        h[0] = RTP_VERSION << 6;
        h[1] = (u8::from(self.marker) << 7) | (self.payload_type & 0x7f);
        h[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        h[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        h[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        h
    }

    /// Append header + payload to `out` (a `Vec<u8>`, `BytesMut`, ...).
    pub fn write<B: BufMut>(&self, payload: &[u8], out: &mut B) {
        out.put_slice(&self.to_bytes());
        out.put_slice(payload);
    }

    /// Append header + CSRC list + payload to `out`.
    pub fn write_with_csrcs<B: BufMut>(
        &self,
        csrcs: &[u32],
        payload: &[u8],
        out: &mut B,
    ) -> Result<(), RtpError> {
        if csrcs.len() > 15 {
            return Err(RtpError::TooManyCsrcs(csrcs.len()));
        }
        let mut h = self.to_bytes();
        h[0] |= csrcs.len() as u8;
        out.put_slice(&h);
        for c in csrcs {
            out.put_u32(*c);
        }
        out.put_slice(payload);
        Ok(())
    }

    /// Write header + payload into a caller-provided slice; returns bytes written.
    pub fn write_into(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        let need = RTP_HEADER_LEN + payload.len();
        if out.len() < need {
            return Err(RtpError::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        out[..RTP_HEADER_LEN].copy_from_slice(&self.to_bytes());
        out[RTP_HEADER_LEN..need].copy_from_slice(payload);
        Ok(need)
    }
}

/// A validated, mutable view used to rewrite header fields in place.
#[derive(Debug)]
pub struct RtpPacketMut<'a> {
    buf: &'a mut [u8],
}

impl<'a> RtpPacketMut<'a> {
    /// Validate `buf` as RTP (same rules as [`RtpPacket::parse`]).
    #[inline]
    pub fn new(buf: &'a mut [u8]) -> Result<Self, RtpError> {
        validate(buf)?;
        Ok(Self { buf })
    }
    /// Read-only view of the same packet.
    pub fn as_packet(&self) -> RtpPacket<'_> {
        // Validated in `new`, and setters never touch lengths.
        let (payload_start, payload_end) = validate(self.buf).unwrap_or((0, 0));
        RtpPacket {
            buf: self.buf,
            payload_start,
            payload_end,
        }
    }
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }
    pub fn sequence(&self) -> u16 {
        be16(self.buf, 2)
    }
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, 4)
    }
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }
    pub fn set_marker(&mut self, marker: bool) {
        self.buf[1] = (self.buf[1] & 0x7f) | (u8::from(marker) << 7);
    }
    pub fn set_payload_type(&mut self, pt: u8) {
        self.buf[1] = (self.buf[1] & 0x80) | (pt & 0x7f);
    }
    pub fn set_sequence(&mut self, seq: u16) {
        self.buf[2..4].copy_from_slice(&seq.to_be_bytes());
    }
    pub fn set_timestamp(&mut self, ts: u32) {
        self.buf[4..8].copy_from_slice(&ts.to_be_bytes());
    }
    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        let h = RtpHeader {
            marker: true,
            payload_type: 0,
            sequence: 0xfffe,
            timestamp: 0x1234_5678,
            ssrc: 0xdead_beef,
        };
        let mut v = Vec::new();
        h.write(&[0xffu8; 160], &mut v);
        v
    }

    #[test]
    fn roundtrip_fixed_header() {
        let v = sample();
        let p = RtpPacket::parse(&v).unwrap();
        assert_eq!(p.version(), 2);
        assert!(p.marker());
        assert_eq!(p.payload_type(), 0);
        assert_eq!(p.sequence(), 0xfffe);
        assert_eq!(p.timestamp(), 0x1234_5678);
        assert_eq!(p.ssrc(), 0xdead_beef);
        assert_eq!(p.payload().len(), 160);
        assert_eq!(p.header_len(), 12);
        assert!(p.extension().is_none());
        let mut buf = [0u8; 200];
        let n = p.header().write_into(p.payload(), &mut buf).unwrap();
        assert_eq!(&buf[..n], &v[..]);
    }

    #[test]
    fn csrc_extension_padding() {
        let h = RtpHeader {
            payload_type: 8,
            ..Default::default()
        };
        let mut v = Vec::new();
        h.write_with_csrcs(&[1, 2], &[], &mut v).unwrap();
        v[0] |= 0x30; // X + P
        v.extend_from_slice(&[0xbe, 0xde, 0, 1, 9, 9, 9, 9]); // extension, one word
        v.extend_from_slice(&[7, 7, 7]); // payload
        v.extend_from_slice(&[0, 0, 3]); // padding count 3
        let p = RtpPacket::parse(&v).unwrap();
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![1, 2]);
        let ext = p.extension().unwrap();
        assert_eq!(ext.profile, 0xbede);
        assert_eq!(ext.data, &[9, 9, 9, 9]);
        assert_eq!(p.payload(), &[7, 7, 7]);
        assert_eq!(p.padding_len(), 3);
        assert_eq!(p.payload_range(), 28..31);
    }

    #[test]
    fn rejects_malformed() {
        let v = sample();
        assert_eq!(RtpPacket::parse(&v[..11]), Err(RtpError::TooShort(11)));
        let mut bad = v.clone();
        bad[0] = 0x40;
        assert_eq!(RtpPacket::parse(&bad), Err(RtpError::BadVersion(1)));
        let mut bad = v[..20].to_vec();
        bad[0] |= 0x0f;
        assert_eq!(RtpPacket::parse(&bad), Err(RtpError::TruncatedCsrc));
        let mut bad = v[..20].to_vec();
        bad[0] |= 0x10;
        bad[14] = 0xff;
        assert_eq!(RtpPacket::parse(&bad), Err(RtpError::BadExtension));
        let mut bad = v[..20].to_vec();
        bad[0] |= 0x20;
        *bad.last_mut().unwrap() = 0;
        assert_eq!(RtpPacket::parse(&bad), Err(RtpError::BadPadding));
        *bad.last_mut().unwrap() = 9;
        assert_eq!(RtpPacket::parse(&bad), Err(RtpError::BadPadding));
        *bad.last_mut().unwrap() = 8;
        assert_eq!(RtpPacket::parse(&bad).unwrap().payload().len(), 0);
    }

    #[test]
    fn rewrite_in_place() {
        let mut v = sample();
        let mut m = RtpPacketMut::new(&mut v).unwrap();
        m.set_sequence(7);
        m.set_timestamp(8);
        m.set_ssrc(9);
        m.set_payload_type(18);
        m.set_marker(false);
        assert_eq!(m.as_packet().payload().len(), 160);
        let p = RtpPacket::parse(&v).unwrap();
        assert_eq!(
            (p.sequence(), p.timestamp(), p.ssrc(), p.payload_type()),
            (7, 8, 9, 18)
        );
        assert!(!p.marker());
        assert_eq!(p.payload(), &[0xff; 160][..]);
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..96)) {
            if let Ok(p) = RtpPacket::parse(&data) {
                prop_assert!(p.header_len() + p.payload().len() + p.padding_len() == data.len());
                let _ = p.extension();
                prop_assert_eq!(p.csrcs().count(), usize::from(p.csrc_count()));
            }
        }
    }
}
