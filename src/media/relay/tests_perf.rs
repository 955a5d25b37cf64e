//! Sustained forwarding through the relay, with its CPU cost printed. In
//! the suite it relays 5,000 packets at a modest pace and checks they all
//! get through; for the figure, run
//! `RELAY_PERF_PACKETS=100000 cargo test --release --lib media::relay::tests_perf -- --nocapture`.
//! The relay runs alone on its own thread and current-thread runtime, so the
//! thread's on-CPU time (/proc/thread-self/schedstat) is the relay's cost,
//! including epoll and timer overhead. Ports 40900-40909.

use super::test_util::*;
use super::{AudioCodec, RelayOptions, spawn_relay};
use crate::media::ports::PortPool;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The syscall floor on this machine: a bare loop (readable, recv_from,
/// send_to) on the same runtime set-up, with no RTP logic at all.
async fn bare_forwarder(
    pool: &PortPool,
    to: SocketAddr,
) -> (SocketAddr, tokio::task::JoinHandle<u64>) {
    let rx = pool.bind(true).unwrap();
    let tx = pool.bind(true).unwrap();
    let addr = SocketAddr::new(LO, rx.rtp_port);
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        let mut n = 0u64;
        loop {
            if rx.rtp.readable().await.is_err() {
                return n;
            }
            while let Ok((len, _)) = rx.rtp.try_recv_from(&mut buf) {
                if tx.rtp.try_send_to(&buf[..len], to).is_ok() {
                    n += 1;
                }
            }
        }
    });
    (addr, task)
}

#[test]
fn cpu_per_relayed_packet() {
    measure(false);
    measure(true);
}

fn measure(bare: bool) {
    let measuring = std::env::var("RELAY_PERF_PACKETS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    let packets: u32 = measuring.unwrap_or(5_000);
    // The measurement paces 32 packets per 0.5 ms; the suite's run, in a
    // debug build beside other tests, 8.
    let burst: u32 = if measuring.is_some() { 32 } else { 8 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pa = peer(LO).await;
        let pb = peer(LO).await;
        let (addrs_tx, addrs_rx) = oneshot::channel::<(SocketAddr, SocketAddr)>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let (pa_addr, pb_addr) = (pa.local_addr().unwrap(), pb.local_addr().unwrap());
        let relay_thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let pool = PortPool::new(LO, 40900..=40909);
                if bare {
                    let (la, task) = bare_forwarder(&pool, pb_addr).await;
                    tokio::task::yield_now().await;
                    let cpu0 = thread_cpu_ns();
                    addrs_tx.send((la, la)).unwrap();
                    done_rx.await.unwrap();
                    let cpu1 = thread_cpu_ns();
                    task.abort();
                    return (cpu1 - cpu0, None);
                }
                let a = leg(&pool, pa_addr, 0, AudioCodec::Pcmu, Some(101), true, SSRC_TO_A);
                let b = leg(&pool, pb_addr, 0, AudioCodec::Pcmu, Some(101), true, SSRC_TO_B);
                let la = SocketAddr::new(LO, a.sockets.rtp_port);
                let lb = SocketAddr::new(LO, b.sockets.rtp_port);
                let relay = spawn_relay(a, b, RelayOptions::default()).unwrap();
                tokio::task::yield_now().await;
                let cpu0 = thread_cpu_ns();
                addrs_tx.send((la, lb)).unwrap();
                done_rx.await.unwrap();
                let cpu1 = thread_cpu_ns();
                (cpu1 - cpu0, Some(relay.stop().await.unwrap()))
            })
        });
        let (la, _lb) = addrs_rx.await.unwrap();
        let drain = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let mut n = 0u32;
            while let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_millis(500), pb.recv_from(&mut buf)).await
            {
                n += 1;
            }
            n
        });
        let payload = audio(0);
        let mut pkt = rtp(0, 0, 0, 0x5151, false, &payload);
        for i in 0..packets {
            pkt[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            pkt[4..8].copy_from_slice(&(i * 160).to_be_bytes());
            pa.send_to(&pkt, la).await.unwrap();
            if i % burst == burst - 1 {
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        done_tx.send(()).unwrap();
        let (cpu_ns, summary) = relay_thread.join().unwrap();
        let at_b = drain.await.unwrap();
        let (what, fwd) = match summary {
            Some(s) => ("relay", s.a.packets_forwarded),
            None => ("bare recv/send loop (syscall floor)", u64::from(at_b)),
        };
        println!(
            "{what}: {:.0} ns CPU per relayed packet ({} ms on-CPU, {packets} sent, {fwd} relayed, {at_b} received at B)",
            cpu_ns as f64 / fwd.max(1) as f64,
            cpu_ns / 1_000_000,
        );
        if !bare {
            assert!(
                fwd >= u64::from(packets) * 9 / 10 && u64::from(at_b) == fwd,
                "relayed {fwd} of {packets}, {at_b} arrived"
            );
        }
    });
}
