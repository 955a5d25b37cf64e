//! Test fixtures for the session: a fake caller on 127.0.0.1 facing a
//! session whose socket comes from a test-private port range (41000-41999,
//! ten ports per test), event helpers, paced sending and G.711 audio
//! generators. Packet helpers come from the relay's fixtures.

pub use crate::media::relay::test_util::{
    LO, STRANGER_IP, WAIT, audio, parse, peer, recv, rtp, silent,
};

use super::{SessionEvent, SessionHandle, SessionOptions, spawn_session};
use crate::media::g711::{decode_ulaw_into, encode_ulaw};
use crate::media::ports::PortPool;
use crate::media::relay::{AudioCodec, LegSetup};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::{Instant, MissedTickBehavior, interval, timeout};

/// The SSRC the sessions under test send with.
pub const OUR_SSRC: u32 = 0x5e55_1011;
/// The SSRC the fake caller sends with.
pub const PEER_SSRC: u32 = 0x0ca1_1e12;

pub struct Rig {
    pub session: SessionHandle,
    /// The fake caller; its address is the leg's SDP address.
    pub peer: UdpSocket,
    /// The session's RTP socket (where the caller sends).
    pub local: SocketAddr,
}

pub struct RigOpts {
    pub codec: AudioCodec,
    pub pt: u8,
    pub te: Option<u8>,
    pub rtcp_mux: bool,
    pub session: SessionOptions,
}

impl Default for RigOpts {
    /// PCMU (PT 0), telephone-event 101, rtcp-mux, and a session that sends
    /// nothing when idle (so the caller sees only what is under test).
    fn default() -> Self {
        Self {
            codec: AudioCodec::Pcmu,
            pt: 0,
            te: Some(101),
            rtcp_mux: true,
            session: SessionOptions {
                idle: super::IdleOutput::Nothing,
                ..SessionOptions::default()
            },
        }
    }
}

pub fn setup(pool: &PortPool, remote: SocketAddr, o: &RigOpts) -> LegSetup {
    LegSetup {
        sockets: pool.bind(o.rtcp_mux).unwrap(),
        remote: Some(remote),
        allowed_ips: vec![LO],
        payload_type: o.pt,
        codec: o.codec,
        clock_rate: 8000,
        telephone_event_pt: o.te,
        our_ssrc: OUR_SSRC,
    }
}

/// A session on a port of `first..=first+9`, facing a caller on 127.0.0.1.
pub async fn rig(first: u16, o: RigOpts) -> Rig {
    let pool = PortPool::new(LO, first..=first + 9);
    let peer = peer(LO).await;
    let s = setup(&pool, peer.local_addr().unwrap(), &o);
    let local = SocketAddr::new(LO, s.sockets.rtp_port);
    Rig {
        session: spawn_session(s, o.session).expect("G.711 leg"),
        peer,
        local,
    }
}

/// Send `payloads` as audio (PT `pt`) every 20 ms, sequence from `seq`.
pub async fn send_paced(from: &UdpSocket, to: SocketAddr, pt: u8, seq: u16, payloads: &[Vec<u8>]) {
    let mut tick = interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    for (i, p) in payloads.iter().enumerate() {
        tick.tick().await;
        let seq = seq.wrapping_add(i as u16);
        let ts = 1000 + 160 * u32::from(seq);
        let d = rtp(pt, seq, ts, PEER_SSRC, i == 0, p);
        from.send_to(&d, to).await.unwrap();
    }
}

/// Datagrams arriving at `s` (with arrival times) until `quiet` passes
/// without one or `max` have arrived.
pub async fn collect(s: &UdpSocket, max: usize, quiet: Duration) -> Vec<(Vec<u8>, Instant)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 2048];
    while out.len() < max {
        match timeout(quiet, s.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => out.push((buf[..n].to_vec(), Instant::now())),
            _ => break,
        }
    }
    out
}

/// Discard whatever is queued at `s`.
pub fn flush(s: &UdpSocket) {
    let mut buf = [0u8; 2048];
    while s.try_recv_from(&mut buf).is_ok() {}
}

/// The next event `want` accepts (others are skipped); panics after `WAIT`.
pub async fn wait_event(
    h: &mut SessionHandle,
    want: impl Fn(&SessionEvent) -> bool,
) -> SessionEvent {
    let deadline = Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, h.next_event()).await {
            Ok(Some(ev)) if want(&ev) => return ev,
            Ok(Some(_)) => {}
            Ok(None) => panic!("session ended"),
            Err(_) => panic!("no such event within {WAIT:?}"),
        }
    }
}

/// Every event within `window`.
pub async fn events_for(h: &mut SessionHandle, window: Duration) -> Vec<SessionEvent> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, h.next_event()).await {
        out.push(ev);
    }
    out
}

/// `ms` of a sine at `freq` Hz, amplitude `amp`, 8 kHz.
pub fn sine(freq: f64, amp: f64, ms: usize) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| {
            let t = i as f64 / 8000.0;
            (amp * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Mu-law 20 ms frames of `samples` (the last one padded with silence).
pub fn ulaw_frames(samples: &[i16]) -> Vec<Vec<u8>> {
    samples
        .chunks(160)
        .map(|c| {
            let mut f: Vec<u8> = c.iter().map(|&s| encode_ulaw(s)).collect();
            f.resize(160, 0xFF);
            f
        })
        .collect()
}

pub fn decode_ulaw(payload: &[u8]) -> Vec<i16> {
    let mut out = vec![0; payload.len()];
    decode_ulaw_into(payload, &mut out);
    out
}

pub fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}
