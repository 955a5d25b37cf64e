//! The kernel's floor under the IVR's CPU figure (issue 4 asks for at most
//! 5 us of CPU per prompt packet sent), side by side in one run.
//!
//! N sessions each send one 20 ms G.711 RTP packet every 20 ms from their
//! own UDP socket to a receiver that reads everything, as callers in a
//! menu hearing prompts are fed, paced over the 20 ms (not in bursts).
//! Three senders are measured on the same load, each alone on one thread,
//! whose on-CPU time (`/proc/thread-self/schedstat`) is the figure:
//!
//! - `bare loop`: a plain thread that sleeps to the next millisecond and
//!   sends the packets due in it with blocking `send_to`: nothing but the
//!   system calls (on loopback, the send also delivers the datagram to
//!   the receiver's socket and wakes it, inside the call);
//! - `bare tokio`: a current-thread tokio runtime with one task per
//!   session, each with its own 20 ms interval and `send_to`: what any
//!   session-per-task design on tokio pays for timers and wake-ups;
//! - `sendmmsg`: the best case the kernel offers, for comparison only:
//!   every millisecond one `sendmmsg` system call sends all the packets
//!   due from a single socket (so all sessions would share one RTP port,
//!   which the switch does not do). What remains is the kernel's cost of
//!   carrying a datagram over loopback to its receiver.
//!
//! The switch's own figure comes from `benches/ivr_load.sh` (the same
//! kind of load through the whole switch). The receivers run on their own
//! thread; their cost is not counted.
//!
//! Usage: `cargo bench --bench prompt_floor` (SESSIONS [1000], SECONDS [10]).

#[path = "common/floor.rs"]
mod floor;

use floor::{env_or, thread_cpu_ns};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PTIME: Duration = Duration::from_millis(20);

/// One PCMU packet: header (PT 0) and 160 bytes of mu-law silence.
fn packet(seq: u16, ts: u32, ssrc: u32) -> [u8; 172] {
    let mut p = [0xffu8; 172];
    p[0] = 0x80;
    p[1] = 0;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

/// Receivers for `n` sessions on their own thread, counting packets until
/// `stop`; returns their addresses and the counter.
fn receivers(n: usize, stop: Arc<AtomicBool>) -> (Vec<SocketAddr>, Arc<AtomicU64>) {
    let got = Arc::new(AtomicU64::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let counter = got.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut addrs = Vec::new();
            for _ in 0..n {
                let s = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                    .await
                    .unwrap();
                addrs.push(s.local_addr().unwrap());
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    while s.recv_from(&mut buf).await.is_ok() {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            tx.send(addrs).unwrap();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    });
    (rx.recv().unwrap(), got)
}

/// Runs `send` once a millisecond for `seconds` on this thread, sleeping
/// in between: `send(slot, slots, k)` sends the packets of the sessions
/// in `slot` (of `slots` per 20 ms; session `i` is in slot `i % slots`)
/// for their `k`th packet and returns how many went. Returns (this
/// thread's CPU ns, packets sent).
fn paced(seconds: u64, mut send: impl FnMut(usize, usize, u32) -> u64) -> (u64, u64) {
    let slots = PTIME.as_millis() as u64;
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let cpu = thread_cpu_ns();
    let mut sent = 0u64;
    for tick in 0.. {
        let due = start + Duration::from_millis(tick);
        if due >= end {
            break;
        }
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        sent += send(
            (tick % slots) as usize,
            slots as usize,
            (tick / slots) as u32,
        );
    }
    (thread_cpu_ns() - cpu, sent)
}

/// A plain thread: every millisecond, the sessions due in it send.
fn bare_loop(to: &[SocketAddr], seconds: u64) -> (u64, u64) {
    let sockets: Vec<std::net::UdpSocket> = to
        .iter()
        .map(|_| std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
        .collect();
    paced(seconds, |slot, slots, k| {
        let mut sent = 0;
        for i in (slot..sockets.len()).step_by(slots) {
            let p = packet(k as u16, k * 160, i as u32);
            if sockets[i].send_to(&p, to[i]).is_ok() {
                sent += 1;
            }
        }
        sent
    })
}

/// One socket; every millisecond, one `sendmmsg` sends the packets due.
fn batched(to: &[SocketAddr], seconds: u64) -> (u64, u64) {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let names: Vec<libc::sockaddr_in> = to
        .iter()
        .map(|a| {
            let SocketAddr::V4(v4) = a else {
                unreachable!("receivers are on 127.0.0.1")
            };
            libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            }
        })
        .collect();
    paced(seconds, |slot, slots, k| {
        let mine: Vec<usize> = (slot..to.len()).step_by(slots).collect();
        let mut packets: Vec<[u8; 172]> = mine
            .iter()
            .map(|&i| packet(k as u16, k * 160, i as u32))
            .collect();
        let mut iovecs: Vec<libc::iovec> = packets
            .iter_mut()
            .map(|p| libc::iovec {
                iov_base: p.as_mut_ptr().cast(),
                iov_len: p.len(),
            })
            .collect();
        let mut messages: Vec<libc::mmsghdr> = mine
            .iter()
            .zip(iovecs.iter_mut())
            .map(|(&i, iov)| {
                // SAFETY: an all-zero msghdr is valid (no name, no data).
                let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                h.msg_name = (&names[i] as *const libc::sockaddr_in).cast_mut().cast();
                h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
                h.msg_iov = iov;
                h.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: h,
                    msg_len: 0,
                }
            })
            .collect();
        // SAFETY: every header points at a live address and buffer above.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                messages.as_mut_ptr(),
                messages.len() as u32,
                0,
            )
        };
        n.max(0) as u64
    })
}

/// A current-thread tokio runtime with a task and a 20 ms interval per
/// session.
fn bare_tokio(to: &[SocketAddr], seconds: u64) -> (u64, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sent = Arc::new(AtomicU64::new(0));
        let n = to.len() as u32;
        let mut tasks = Vec::new();
        for (i, &dest) in to.iter().enumerate() {
            let s = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .unwrap();
            let sent = sent.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(PTIME * i as u32 / n).await;
                let mut tick = tokio::time::interval(PTIME);
                for k in 0..u32::MAX {
                    tick.tick().await;
                    let p = packet(k as u16, k * 160, i as u32);
                    if s.send_to(&p, dest).await.is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        // Settle (every task started), then measure.
        tokio::time::sleep(PTIME * 2).await;
        let (cpu, before) = (thread_cpu_ns(), sent.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let result = (thread_cpu_ns() - cpu, sent.load(Ordering::Relaxed) - before);
        for t in tasks {
            t.abort();
        }
        result
    })
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let sessions = env_or("SESSIONS", 1000) as usize;
    let seconds = env_or("SECONDS", 10);
    println!(
        "prompt_floor: {sessions} sessions, 50 packets/s each, {seconds} s, one sending thread:"
    );
    let mut line = String::from("prompt_floor:");
    type Sender = fn(&[SocketAddr], u64) -> (u64, u64);
    let senders: [(&str, Sender); 3] = [
        ("bare loop", bare_loop),
        ("bare tokio", bare_tokio),
        ("sendmmsg", batched),
    ];
    for (name, send) in senders {
        let stop = Arc::new(AtomicBool::new(false));
        let (to, got) = receivers(sessions, stop.clone());
        let received_before = got.load(Ordering::Relaxed);
        let (cpu, sent) = send(&to, seconds);
        std::thread::sleep(Duration::from_millis(200));
        let received = got.load(Ordering::Relaxed) - received_before;
        stop.store(true, Ordering::Relaxed);
        let us = cpu as f64 / 1000.0 / sent.max(1) as f64;
        println!(
            "  {name:<11} {us:6.2} us CPU per packet sent ({sent} sent of {} due, {received} received)",
            sessions as u64 * 50 * seconds
        );
        line.push_str(&format!(" {name} {us:.2} us;"));
    }
    println!("{line}");
}
