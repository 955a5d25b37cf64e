//! Symmetric RTP (latching, a.k.a. comedia) for one leg: which source
//! addresses are accepted and where we send.
//!
//! Before latching, datagrams are accepted from any port of an allowed IP
//! (the SDP address's IP, the SIP signalling source) and we send to the SDP
//! address. The first valid RTP packet from an allowed IP latches the leg onto
//! its exact source address (NAT'd phones and linphone send from a port other
//! than the one in their SDP); from then on only that address is accepted and
//! we send there. A re-INVITE (`reset`) unlatches.

use std::net::{IpAddr, SocketAddr};

/// What to do with a datagram from `src`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// From the latched address.
    Latched,
    /// From an allowed IP while not latched: accept; latch if it is valid RTP.
    Candidate,
    /// Not allowed, or not the latched address.
    Stranger,
}

#[derive(Debug, Clone, Default)]
pub struct Latch {
    sdp: Option<SocketAddr>,
    allowed: Vec<IpAddr>,
    latched: Option<SocketAddr>,
}

/// IPv4-mapped IPv6 addresses compare equal to their IPv4 form (dual-stack sockets).
fn canon(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Latch {
    pub fn new(sdp: Option<SocketAddr>, allowed_ips: Vec<IpAddr>) -> Self {
        let mut l = Self::default();
        l.reset(sdp, allowed_ips);
        l
    }

    /// New SDP address and allowed IPs: unlatch.
    pub fn reset(&mut self, sdp: Option<SocketAddr>, allowed_ips: Vec<IpAddr>) {
        let mut allowed: Vec<IpAddr> = allowed_ips.into_iter().map(canon).collect();
        if let Some(a) = sdp {
            allowed.push(canon(a.ip()));
        }
        allowed.sort_unstable();
        allowed.dedup();
        self.sdp = sdp;
        self.allowed = allowed;
        self.latched = None;
    }

    #[inline]
    pub fn admit(&self, src: SocketAddr) -> Admit {
        match self.latched {
            Some(l) if l == src => Admit::Latched,
            Some(_) => Admit::Stranger,
            None if self.allowed.contains(&canon(src.ip())) => Admit::Candidate,
            None => Admit::Stranger,
        }
    }

    /// Latch onto `src` (after a valid RTP packet admitted as a candidate).
    pub fn latch(&mut self, src: SocketAddr) {
        self.latched = Some(src);
    }

    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Where to send to this leg: the latched address, else the SDP address.
    #[inline]
    pub fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.sdp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn latches_on_allowed_ip_any_port() {
        let sig: IpAddr = "10.0.0.9".parse().unwrap();
        let mut l = Latch::new(Some(sa("192.0.2.1:4000")), vec![sig]);
        assert_eq!(l.destination(), Some(sa("192.0.2.1:4000")));
        assert_eq!(l.admit(sa("192.0.2.1:5555")), Admit::Candidate);
        assert_eq!(l.admit(sa("10.0.0.9:7000")), Admit::Candidate);
        assert_eq!(l.admit(sa("192.0.2.2:4000")), Admit::Stranger);
        l.latch(sa("192.0.2.1:5555"));
        assert_eq!(l.destination(), Some(sa("192.0.2.1:5555")));
        assert_eq!(l.admit(sa("192.0.2.1:5555")), Admit::Latched);
        assert_eq!(l.admit(sa("192.0.2.1:4000")), Admit::Stranger);
        assert_eq!(l.admit(sa("[::ffff:192.0.2.1]:5555")), Admit::Stranger);
        l.reset(Some(sa("198.51.100.7:6000")), vec![]);
        assert_eq!(l.latched(), None);
        assert_eq!(l.admit(sa("192.0.2.1:5555")), Admit::Stranger);
        assert_eq!(l.admit(sa("[::ffff:198.51.100.7]:1")), Admit::Candidate);
    }

    #[test]
    fn nothing_known_accepts_nothing() {
        let l = Latch::new(None, vec![]);
        assert_eq!(l.destination(), None);
        assert_eq!(l.admit(sa("127.0.0.1:1")), Admit::Stranger);
    }
}
