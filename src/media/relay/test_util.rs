//! Test fixtures for the relay: fake peers on 127.0.0.1, RTP builders, and a
//! rig wiring two legs from a test-private port sub-range (40000-40999).

use super::{AudioCodec, LegSetup, RelayHandle, RelayOptions, spawn_relay};
use crate::media::ports::PortPool;
use crate::media::rtp::{RtpHeader, RtpPacket};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

pub const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub const STRANGER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5));
pub const SSRC_TO_A: u32 = 0xaaaa_0001;
pub const SSRC_TO_B: u32 = 0xbbbb_0002;
pub const WAIT: Duration = Duration::from_secs(2);

pub fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(12 + payload.len());
    RtpHeader {
        marker,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
    }
    .write(payload, &mut v);
    v
}

/// A 160-byte PCMU payload tagged with `i` so each packet is recognizable.
pub fn audio(i: usize) -> Vec<u8> {
    let mut p = vec![0xd5u8; 160];
    p[0] = i as u8;
    p[1] = (i >> 8) as u8;
    p
}

pub async fn peer(ip: IpAddr) -> UdpSocket {
    UdpSocket::bind(SocketAddr::new(ip, 0)).await.unwrap()
}

/// Next datagram on `s`, or `None` after `WAIT`.
pub async fn recv(s: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 2048];
    let (n, from) = timeout(WAIT, s.recv_from(&mut buf)).await.ok()?.ok()?;
    buf.truncate(n);
    Some((buf, from))
}

/// Assert nothing arrives on `s` for `ms` milliseconds.
pub async fn silent(s: &UdpSocket, ms: u64) {
    let mut buf = [0u8; 2048];
    let got = timeout(Duration::from_millis(ms), s.recv_from(&mut buf)).await;
    assert!(got.is_err(), "unexpected datagram: {got:?}");
}

pub fn parse(v: &[u8]) -> RtpPacket<'_> {
    RtpPacket::parse(v).expect("valid RTP out of the relay")
}

pub struct Rig {
    pub relay: RelayHandle,
    /// Fake far ends; each sends from and receives on its own socket.
    pub pa: UdpSocket,
    pub pb: UdpSocket,
    /// The relay's leg sockets (where the peers send).
    pub la: SocketAddr,
    pub lb: SocketAddr,
}

pub struct RigOpts {
    pub pt_a: u8,
    pub pt_b: u8,
    /// The legs' codecs; both PCMU by default whatever the PTs (so payloads
    /// pass untouched).
    pub codec_a: AudioCodec,
    pub codec_b: AudioCodec,
    pub te_a: Option<u8>,
    pub te_b: Option<u8>,
    pub rtcp_mux: bool,
    pub relay: RelayOptions,
}

impl Default for RigOpts {
    fn default() -> Self {
        Self {
            pt_a: 0,
            pt_b: 0,
            codec_a: AudioCodec::Pcmu,
            codec_b: AudioCodec::Pcmu,
            te_a: Some(101),
            te_b: Some(101),
            rtcp_mux: true,
            relay: RelayOptions::default(),
        }
    }
}

pub fn leg(
    pool: &PortPool,
    remote: SocketAddr,
    pt: u8,
    codec: AudioCodec,
    te: Option<u8>,
    mux: bool,
    ssrc: u32,
) -> LegSetup {
    LegSetup {
        sockets: pool.bind(mux).unwrap(),
        remote: Some(remote),
        allowed_ips: vec![LO],
        payload_type: pt,
        codec,
        clock_rate: codec.rtp_clock_rate().unwrap_or(8000),
        telephone_event_pt: te,
        our_ssrc: ssrc,
    }
}

/// Two legs from `first..=first+9`, peers on 127.0.0.1 whose SDP addresses are their sockets.
pub async fn rig(first: u16, o: RigOpts) -> Rig {
    let pool = PortPool::new(LO, first..=first + 9);
    let pa = peer(LO).await;
    let pb = peer(LO).await;
    let a = leg(
        &pool,
        pa.local_addr().unwrap(),
        o.pt_a,
        o.codec_a,
        o.te_a,
        o.rtcp_mux,
        SSRC_TO_A,
    );
    let b = leg(
        &pool,
        pb.local_addr().unwrap(),
        o.pt_b,
        o.codec_b,
        o.te_b,
        o.rtcp_mux,
        SSRC_TO_B,
    );
    let la = SocketAddr::new(LO, a.sockets.rtp_port);
    let lb = SocketAddr::new(LO, b.sockets.rtp_port);
    Rig {
        relay: spawn_relay(a, b, o.relay).expect("bridgeable codecs"),
        pa,
        pb,
        la,
        lb,
    }
}
