//! The media port pool: hands out UDP socket pairs for RTP (even port) and
//! RTCP (the next odd port, unless rtcp-mux) from a configured range.
//!
//! Allocation is round-robin over the range with one atomic counter, so a
//! port just released is not handed out again until the whole range has been
//! cycled (late packets of the old call cannot reach the new one). There is
//! no bookkeeping of ports in use: the kernel is the source of truth, and a
//! pair whose bind fails (held by another call or another process) is
//! skipped. [`PortPool::bind`] gives up after trying every pair once.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::UdpSocket;

/// Default kernel receive buffer requested for media sockets (capped by
/// `net.core.rmem_max`).
pub const DEFAULT_RECV_BUFFER: usize = 512 * 1024;
/// Default kernel send buffer requested for media sockets (capped by
/// `net.core.wmem_max`).
pub const DEFAULT_SEND_BUFFER: usize = 256 * 1024;

/// The sockets of one media stream.
#[derive(Debug)]
pub struct MediaSockets {
    pub rtp: UdpSocket,
    /// `None` with rtcp-mux (RTCP shares the RTP port).
    pub rtcp: Option<UdpSocket>,
    pub rtp_port: u16,
}

impl MediaSockets {
    /// The RTCP port to advertise (`a=rtcp:`): the RTP port with rtcp-mux.
    pub fn rtcp_port(&self) -> u16 {
        if self.rtcp.is_some() {
            self.rtp_port + 1
        } else {
            self.rtp_port
        }
    }
}

/// A thread-safe, lock-free pool of RTP/RTCP port pairs on one local address.
#[derive(Debug)]
pub struct PortPool {
    ip: IpAddr,
    /// First even port of the range.
    first: u16,
    /// Number of (even, odd) pairs that fit in the range.
    pairs: usize,
    next: AtomicUsize,
    recv_buffer: usize,
    send_buffer: usize,
}

impl PortPool {
    /// A pool over `range` (inclusive) on `ip`. Only pairs whose even port and
    /// following odd port both lie in the range are used; port 0 is skipped.
    pub fn new(ip: IpAddr, range: RangeInclusive<u16>) -> Self {
        let start = (*range.start()).max(2);
        let first = start.saturating_add(start % 2);
        let end = u32::from(*range.end());
        let pairs = if u32::from(first) < end {
            // Even ports first, first + 2, ... up to end - 1 (RTCP needs end).
            ((end - 1 - u32::from(first)) / 2 + 1) as usize
        } else {
            0
        };
        Self {
            ip,
            first,
            pairs,
            next: AtomicUsize::new(0),
            recv_buffer: DEFAULT_RECV_BUFFER,
            send_buffer: DEFAULT_SEND_BUFFER,
        }
    }

    /// Override the kernel buffer sizes requested for each socket.
    pub fn with_buffer_sizes(mut self, recv: usize, send: usize) -> Self {
        self.recv_buffer = recv;
        self.send_buffer = send;
        self
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Number of RTP/RTCP pairs in the range (the most concurrent streams).
    pub fn capacity(&self) -> usize {
        self.pairs
    }

    /// Bind the next free pair (only the RTP port with `rtcp_mux`). Must be
    /// called within a tokio runtime; the sockets belong to the media
    /// runtime when one is installed. Fails with `AddrInUse` after trying
    /// every pair of the range once.
    pub fn bind(&self, rtcp_mux: bool) -> io::Result<MediaSockets> {
        // The media threads, not the caller's, drive the sockets.
        let _media = crate::media::runtime::enter();
        let mut last_err = None;
        for _ in 0..self.pairs {
            let idx = self.next.fetch_add(1, Ordering::Relaxed) % self.pairs;
            let port = self.first + 2 * idx as u16;
            match self.bind_pair(port, rtcp_mux) {
                Ok(s) => return Ok(s),
                Err(e) => last_err = Some(e),
            }
        }
        let detail = last_err.map_or_else(|| "empty range".to_owned(), |e| e.to_string());
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "no free media port pair on {} in {}..={} ({detail})",
                self.ip,
                self.first,
                u32::from(self.first) + 2 * self.pairs as u32 - 1
            ),
        ))
    }

    fn bind_pair(&self, port: u16, rtcp_mux: bool) -> io::Result<MediaSockets> {
        let rtp = self.bind_one(port)?;
        let rtcp = if rtcp_mux {
            None
        } else {
            Some(self.bind_one(port + 1)?)
        };
        Ok(MediaSockets {
            rtp: UdpSocket::from_std(rtp)?,
            rtcp: rtcp.map(UdpSocket::from_std).transpose()?,
            rtp_port: port,
        })
    }

    fn bind_one(&self, port: u16) -> io::Result<std::net::UdpSocket> {
        let addr = SocketAddr::new(self.ip, port);
        let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        // Best effort: the kernel caps these at rmem_max / wmem_max.
        let _ = s.set_recv_buffer_size(self.recv_buffer);
        let _ = s.set_send_buffer_size(self.send_buffer);
        s.set_nonblocking(true)?;
        s.bind(&addr.into())?;
        Ok(s.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn range_arithmetic() {
        assert_eq!(PortPool::new(LO, 40001..=40010).capacity(), 4); // 40002..40009
        assert_eq!(PortPool::new(LO, 40000..=40001).capacity(), 1);
        assert_eq!(PortPool::new(LO, 40000..=40000).capacity(), 0);
        assert_eq!(PortPool::new(LO, 0..=3).capacity(), 1); // 2,3
        assert_eq!(PortPool::new(LO, 65534..=65535).capacity(), 1);
    }

    #[tokio::test]
    async fn round_robin_skips_busy_and_exhausts() {
        // Occupy 40012's RTCP port (40013) outside the pool.
        let squatter = std::net::UdpSocket::bind("127.0.0.1:40013").unwrap();
        let pool = PortPool::new(LO, 40010..=40015);
        let a = pool.bind(false).unwrap();
        assert_eq!((a.rtp_port, a.rtcp_port()), (40010, 40011));
        let b = pool.bind(false).unwrap(); // 40012 fails on 40013, takes 40014
        assert_eq!(b.rtp_port, 40014);
        let err = pool.bind(false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(a);
        // Next in round-robin order after the exhausted sweep.
        let c = pool.bind(true).unwrap();
        assert!(c.rtcp.is_none());
        assert_eq!(c.rtcp_port(), c.rtp_port);
        assert_eq!(c.rtp_port, 40010);
        drop((b, c, squatter));
        // The cycle continues where it was, not at the port just released.
        let d = pool.bind(false).unwrap();
        assert_eq!(d.rtp_port, 40012);
        assert_eq!(d.rtp.local_addr().unwrap(), SocketAddr::new(LO, d.rtp_port));
    }
}
