//! The RTCP the relay sends each leg (RFC 3550 section 6): every
//! `RelayOptions::rtcp_interval`, a compound of a sender report (once we
//! have sent it media; a receiver report before) with a report block about
//! the stream it sends us, and an SDES CNAME. The peer's receiver reports
//! answering our sender reports give the leg's round-trip time, kept for
//! the CDR.
//!
//! Where it goes: where the peer's own RTCP came from when it sent any (on
//! the RTP port: rtcp-mux), else the RTP port + 1 of the address we send
//! its media to.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::leg::Leg;
use crate::media::rtp::rtcp::{write_rr, write_sdes_cname, write_sr};
use crate::media::rtp::stream::ntp_from_unix;

/// Our CNAME in every report.
const CNAME: &[u8] = b"switchboard";

/// Where a leg's RTCP was last seen coming from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpPeer {
    pub addr: SocketAddr,
    /// It came on the RTP port (RFC 5761 multiplexing).
    pub mux: bool,
}

/// The compound report for `leg` and where to send it, as (bytes,
/// destination, send on the RTP socket); `None` while the leg has no
/// address.
pub fn report(leg: &mut Leg, now: Instant) -> Option<(Vec<u8>, SocketAddr, bool)> {
    let (dest, mux) = match leg.rtcp_peer {
        Some(p) => (p.addr, p.mux || leg.rtcp.is_none()),
        None => {
            let rtp = leg.latch.destination()?;
            match leg.rtcp {
                Some(_) => (SocketAddr::new(rtp.ip(), rtp.port().checked_add(1)?), false),
                None => (rtp, true),
            }
        }
    };
    let mut out = Vec::with_capacity(128);
    let blocks: Vec<_> = leg.recv.report_block(now).into_iter().collect();
    let ssrc = leg.rewriter.ssrc();
    let sent_any = leg.c.packets_sent > 0;
    let written = if sent_any {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let info = leg
            .send
            .sender_info(ntp_from_unix(since_epoch), leg.last_sent_ts, now);
        write_sr(&info, &blocks, &mut out)
    } else {
        write_rr(ssrc, &blocks, &mut out)
    };
    written.ok()?;
    write_sdes_cname(ssrc, CNAME, &mut out);
    Some((out, dest, mux))
}
