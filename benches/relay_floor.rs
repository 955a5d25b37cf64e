//! The kernel's floor under the relay's CPU figure, side by side in one run
//! (issue 3's media load asks for <= 5 us of CPU per relayed packet).
//!
//! N calls, each a caller sending a 20 ms RTP packet every 20 ms to leg A
//! and an echo peer sending every packet it gets on leg B straight back,
//! so each call relays 100 packets a second, paced as phones pace them
//! (not in bursts, which would hide the per-wake cost). Two relays are
//! measured on the same load, each alone on one thread with a
//! current-thread tokio runtime, whose on-CPU time
//! (`/proc/thread-self/schedstat`) is the figure:
//!
//! - `bare`: per call and direction, a loop of `readable`, `recv_from`,
//!   `send_to` and nothing else: the syscalls, epoll and wake-ups any
//!   user-space relay on tokio pays;
//! - `switchboard`: `media::relay` as calls use it (latching, rewriting,
//!   statistics, RTCP, in-band DTMF detection), without the recording tap.
//!
//! The peers run on their own threads; their cost is not counted.
//!
//! Usage: `cargo bench --bench relay_floor` (CALLS [200], SECONDS [10];
//! relay ports from 20000 and 24000, below the ephemeral range the peers use).

#[path = "common/floor.rs"]
mod floor;

use floor::{env_or, thread_cpu_ns};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use switchboard::media::ports::PortPool;
use switchboard::media::relay::{AudioCodec, LegSetup, RelayOptions, spawn_relay};
use tokio::net::UdpSocket;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PTIME: Duration = Duration::from_millis(20);

/// One PCMA packet: header (PT 8) and 160 bytes of A-law silence.
fn packet(seq: u16, ts: u32) -> Vec<u8> {
    let mut p = vec![0x80, 8];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x5151_0001u32.to_be_bytes());
    p.extend(std::iter::repeat_n(0xd5u8, 160));
    p
}

/// The peers of one call: the caller's and the echo's sockets.
struct Peers {
    caller: UdpSocket,
    echo: UdpSocket,
}

/// Runs the callers and echoes until `seconds` pass; counts what arrives.
async fn run_peers(peers: Vec<(Peers, SocketAddr, SocketAddr)>, seconds: u64, got: Arc<AtomicU64>) {
    let n = peers.len() as u32;
    let mut tasks = Vec::new();
    for (i, (p, leg_a, leg_b)) in peers.into_iter().enumerate() {
        let caller = Arc::new(p.caller);
        let echo = p.echo;
        let got_c = got.clone();
        let rx = caller.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while rx.recv_from(&mut buf).await.is_ok() {
                got_c.fetch_add(1, Ordering::Relaxed);
            }
        }));
        let got_e = got.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((len, _)) = echo.recv_from(&mut buf).await {
                got_e.fetch_add(1, Ordering::Relaxed);
                let _ = echo.send_to(&buf[..len], leg_b).await;
            }
        }));
        tasks.push(tokio::spawn(async move {
            // Spread the calls' packets over the 20 ms.
            tokio::time::sleep(PTIME * i as u32 / n).await;
            let mut tick = tokio::time::interval(PTIME);
            for k in 0..u32::MAX {
                tick.tick().await;
                let _ = caller.send_to(&packet(k as u16, k * 160), leg_a).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    for t in tasks {
        t.abort();
    }
}

/// A bare forwarder: everything `from` receives goes to `to` through `via`.
async fn forward(from: Arc<UdpSocket>, via: Arc<UdpSocket>, to: SocketAddr) {
    let mut buf = [0u8; 2048];
    loop {
        if from.readable().await.is_err() {
            return;
        }
        while let Ok((len, _)) = from.try_recv_from(&mut buf) {
            let _ = via.try_send_to(&buf[..len], to);
        }
    }
}

/// Measures one kind of relay over `calls` calls; returns (CPU ns of the
/// relay thread, packets that arrived at the peers).
fn measure(bare: bool, calls: usize, seconds: u64, first_port: u16) -> (u64, u64) {
    let peers_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut peer_sockets = Vec::new();
    let mut peer_addrs = Vec::new();
    peers_rt.block_on(async {
        for _ in 0..calls {
            let caller = UdpSocket::bind((LO, 0)).await.unwrap();
            let echo = UdpSocket::bind((LO, 0)).await.unwrap();
            peer_addrs.push((caller.local_addr().unwrap(), echo.local_addr().unwrap()));
            peer_sockets.push(Peers { caller, echo });
        }
    });
    let (legs_tx, legs_rx) = std::sync::mpsc::channel::<Vec<(SocketAddr, SocketAddr)>>();
    let relay_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let last = first_port + (calls as u16) * 8 + 8;
            let pool = PortPool::new(LO, first_port..=last);
            let mut legs = Vec::new();
            let mut relays = Vec::new();
            for &(caller, echo) in &peer_addrs {
                let a = pool.bind(true).unwrap();
                let b = pool.bind(true).unwrap();
                legs.push((
                    SocketAddr::new(LO, a.rtp_port),
                    SocketAddr::new(LO, b.rtp_port),
                ));
                if bare {
                    let (a, b) = (Arc::new(a.rtp), Arc::new(b.rtp));
                    relays.push(tokio::spawn(forward(a.clone(), b.clone(), echo)));
                    relays.push(tokio::spawn(forward(b, a, caller)));
                } else {
                    let setup = |sockets, remote: SocketAddr, ssrc| LegSetup {
                        sockets,
                        remote: Some(remote),
                        allowed_ips: vec![LO],
                        payload_type: 8,
                        codec: AudioCodec::Pcma,
                        clock_rate: 8000,
                        telephone_event_pt: None,
                        our_ssrc: ssrc,
                    };
                    let r = spawn_relay(
                        setup(a, caller, 1),
                        setup(b, echo, 2),
                        RelayOptions::default(),
                    )
                    .unwrap();
                    relays.push(tokio::spawn(async move {
                        let _r = r;
                        std::future::pending::<()>().await;
                    }));
                }
            }
            legs_tx.send(legs).unwrap();
            // Settle for a second (latching, first packets), then measure.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let start = thread_cpu_ns();
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            let cpu = thread_cpu_ns() - start;
            for r in relays {
                r.abort();
            }
            cpu
        })
    });
    let legs = legs_rx.recv().unwrap();
    let got = Arc::new(AtomicU64::new(0));
    let peers: Vec<_> = peer_sockets
        .into_iter()
        .zip(legs)
        .map(|(p, (a, b))| (p, a, b))
        .collect();
    // The peers start with the relays and run past the measured window;
    // packets are counted over the same window as the CPU.
    let counter = got.clone();
    let counted = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        let before = counter.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_secs(seconds));
        counter.load(Ordering::Relaxed) - before
    });
    peers_rt.block_on(run_peers(peers, seconds + 2, got));
    let cpu = relay_thread.join().unwrap();
    (cpu, counted.join().unwrap())
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let calls = env_or("CALLS", 200) as usize;
    let seconds = env_or("SECONDS", 10);
    let mut line = format!(
        "relay_floor: {calls} calls, 50 packets/s each way, {seconds} s, one relay thread:"
    );
    for (name, bare, port) in [("bare", true, 20000u16), ("switchboard", false, 24000)] {
        let (cpu, packets) = measure(bare, calls, seconds, port);
        let expected = calls as u64 * 100 * seconds;
        let us = cpu as f64 / 1000.0 / packets.max(1) as f64;
        println!(
            "  {name:<12} {us:6.2} us CPU per relayed packet ({packets} of about {expected} packets relayed)"
        );
        line.push_str(&format!(" {name} {us:.2} us;"));
    }
    println!("{line}");
}
