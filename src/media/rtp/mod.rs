//! RTP layer of the media core: sans-IO, allocation-light packet handling.
//!
//! - [`packet`]: RTP parse/build and in-place header rewrite (RFC 3550 5.1).
//! - [`rtcp`]: compound RTCP parse, SR/RR/SDES/BYE build, rtcp-mux demux.
//! - [`stream`]: per-leg receive/send statistics, RTT, CDR summary.
//! - [`rewrite`]: SSRC/sequence/timestamp continuity across legs and sources.
//!
//! Nothing here reads a clock or touches a socket: arrival and send times are
//! passed in by the caller.

pub mod packet;
pub mod rewrite;
pub mod rtcp;
pub mod stream;

pub use packet::{RTP_HEADER_LEN, RtpError, RtpExtension, RtpHeader, RtpPacket, RtpPacketMut};
pub use rewrite::{Rewriter, Rewritten};
pub use rtcp::{
    PacketKind, ReportBlock, RtcpCompound, RtcpError, RtcpPacket, SenderInfo, classify,
};
pub use stream::{ReceiveStats, SendStats, SeqVerdict, StreamSummary, summarize};
