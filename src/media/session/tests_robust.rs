//! Session tests of hostile or unusual network input and of the control
//! side, over real UDP sockets on 127.0.0.1: strangers before and after
//! latching, garbage and truncated datagrams, a flood, a stalled runtime,
//! media timeout, hold, re-INVITE, stop on handle drop, codecs refused.
//! Ports 41200-41299, ten per test.

use super::test_util::*;
use super::{SessionError, SessionEvent, SessionOptions, spawn_session};
use crate::media::ports::PortPool;
use crate::media::relay::AudioCodec;
use bytes::BufMut;
use std::time::Duration;
use tokio::time::{sleep, timeout};

#[tokio::test]
async fn strangers_dropped_and_not_echoed() {
    timeout(Duration::from_secs(15), async {
        let mut r = rig(41200, RigOpts::default()).await;
        r.session.set_echo(true).await.unwrap();
        let stranger = peer(STRANGER_IP).await;
        // Before latching: a stranger cannot take the leg.
        for i in 0..5u16 {
            let d = rtp(0, i, 160 * u32::from(i), 0x5, false, &audio(900));
            stranger.send_to(&d, r.local).await.unwrap();
        }
        let caller: Vec<Vec<u8>> = (0..10).map(audio).collect();
        send_paced(&r.peer, r.local, 0, 1, &caller).await;
        let ev = wait_event(&mut r.session, |e| matches!(e, SessionEvent::Latched(_))).await;
        assert_eq!(ev, SessionEvent::Latched(r.peer.local_addr().unwrap()));
        // After latching: neither another IP nor another port of the caller's IP.
        let same_ip = peer(LO).await;
        for i in 0..10u16 {
            let d = rtp(
                0,
                100 + i,
                16_000 + 160 * u32::from(i),
                0x5,
                false,
                &audio(901),
            );
            stranger.send_to(&d, r.local).await.unwrap();
            same_ip.send_to(&d, r.local).await.unwrap();
            sleep(Duration::from_millis(5)).await;
        }
        let got = collect(&r.peer, 40, Duration::from_millis(400)).await;
        assert_eq!(got.len(), 10, "only the caller's frames come back");
        for (i, (d, _)) in got.iter().enumerate() {
            assert_eq!(parse(d).payload(), &caller[i][..]);
        }
        silent(&stranger, 100).await;
        silent(&same_ip, 50).await;
        let s = r.session.snapshot().await.unwrap();
        assert_eq!(s.leg.dropped_from_strangers, 25);
        assert_eq!(s.leg.packets_received, 10);
        assert_eq!(s.frames_echoed, 10);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn garbage_and_truncated_packets_counted() {
    timeout(Duration::from_secs(15), async {
        let mut r = rig(41210, RigOpts::default()).await;
        let good = rtp(0, 1, 160, PEER_SSRC, false, &audio(1));
        let mut bad_version = good.clone();
        bad_version[0] = 0x40;
        let mut csrc_overrun = good[..20].to_vec();
        csrc_overrun[0] |= 0x0f;
        let mut ext_overrun = good[..20].to_vec();
        ext_overrun[0] |= 0x10;
        ext_overrun[14] = 0xff;
        let mut bad_padding = good.clone();
        bad_padding[0] |= 0x20;
        *bad_padding.last_mut().unwrap() = 200;
        let mut bad_rtcp = vec![0x80, 200, 0, 40]; // SR claiming 164 bytes
        bad_rtcp.put_u32(1);
        let oversized = {
            let mut v = good.clone();
            v.resize(3000, 0xd5);
            v
        };
        let garbage: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x80, 0, 1],
            good[..11].to_vec(),
            bad_version,
            csrc_overrun,
            ext_overrun,
            bad_padding,
            bad_rtcp,
            oversized,
        ];
        for g in &garbage {
            r.peer.send_to(g, r.local).await.unwrap();
        }
        // Commands go before datagrams: let the task read them first.
        sleep(Duration::from_millis(100)).await;
        let s = r.session.snapshot().await.unwrap();
        assert_eq!(s.leg.dropped_invalid, garbage.len() as u64);
        assert_eq!(s.leg.packets_received, 0);
        assert_eq!(s.leg.latched_addr, None, "garbage does not latch");
        // An unknown payload type is valid RTP: it latches, and is counted.
        let cn = rtp(13, 2, 320, PEER_SSRC, false, &[0x40]);
        r.peer.send_to(&cn, r.local).await.unwrap();
        let ev = wait_event(&mut r.session, |_| true).await;
        assert_eq!(ev, SessionEvent::Latched(r.peer.local_addr().unwrap()));
        let s = r.session.snapshot().await.unwrap();
        assert_eq!(s.leg.dropped_unknown_pt, 1);
        assert_eq!(s.leg.packets_received, 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn flood_does_not_stall_pacing() {
    timeout(Duration::from_secs(20), async {
        let o = RigOpts {
            session: SessionOptions::default(), // idle silence every 20 ms
            ..RigOpts::default()
        };
        let r = rig(41220, o).await;
        let stranger = peer(STRANGER_IP).await;
        recv(&r.peer).await.expect("pacing");
        let flood = async {
            let d = rtp(0, 1, 0, 0x5, false, &audio(1));
            for _ in 0..20_000 {
                let _ = stranger.send_to(&d, r.local).await;
            }
        };
        let (_, got) = tokio::join!(flood, async {
            let mut n = 0;
            let end = tokio::time::Instant::now() + Duration::from_millis(1000);
            let mut buf = [0u8; 2048];
            while let Ok(Ok(_)) = tokio::time::timeout_at(end, r.peer.recv_from(&mut buf)).await {
                n += 1;
            }
            n
        });
        assert!(got >= 40, "{got} frames in 1 s under a flood");
        let s = r.session.snapshot().await.unwrap();
        assert!(s.leg.dropped_from_strangers > 1000, "{s:?}");
        assert_eq!(s.leg.packets_received, 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn media_timeout_reported_once_per_silence() {
    timeout(Duration::from_secs(15), async {
        let o = RigOpts {
            session: SessionOptions {
                media_timeout: Some(Duration::from_millis(200)),
                idle: super::IdleOutput::Nothing,
                ..SessionOptions::default()
            },
            ..RigOpts::default()
        };
        let mut r = rig(41230, o).await;
        let frames: Vec<Vec<u8>> = (0..3).map(audio).collect();
        send_paced(&r.peer, r.local, 0, 1, &frames).await;
        let evs = events_for(&mut r.session, Duration::from_millis(800)).await;
        let timeouts = evs
            .iter()
            .filter(|e| **e == SessionEvent::MediaTimeout)
            .count();
        assert_eq!(timeouts, 1, "{evs:?}");
        // Media again re-arms it; on hold it is suspended.
        send_paced(&r.peer, r.local, 0, 4, &frames).await;
        let ev = wait_event(&mut r.session, |e| *e == SessionEvent::MediaTimeout).await;
        assert_eq!(ev, SessionEvent::MediaTimeout);
        send_paced(&r.peer, r.local, 0, 7, &frames).await;
        r.session.hold(true).await.unwrap();
        let evs = events_for(&mut r.session, Duration::from_millis(500)).await;
        assert!(evs.is_empty(), "{evs:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn hold_stops_sending_and_resumes_with_marker() {
    timeout(Duration::from_secs(15), async {
        let o = RigOpts {
            session: SessionOptions::default(),
            ..RigOpts::default()
        };
        let r = rig(41240, o).await;
        let (d, from) = recv(&r.peer).await.expect("idle silence");
        assert_eq!(from, r.local, "sent from the leg's own port");
        let before = parse(&d).sequence();
        r.session.hold(true).await.unwrap();
        r.session.snapshot().await.unwrap(); // barrier: hold applied
        flush(&r.peer);
        silent(&r.peer, 200).await;
        r.session.hold(false).await.unwrap();
        let (d, _) = recv(&r.peer).await.expect("resumed");
        let p = parse(&d);
        assert!(p.marker(), "a new talkspurt");
        // The sequence continues from what was sent (nothing was sent on hold).
        let gap = p.sequence().wrapping_sub(before);
        assert!((1..=20).contains(&gap), "sequence gap {gap}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn set_remote_moves_sending_and_relatches() {
    timeout(Duration::from_secs(15), async {
        let o = RigOpts {
            session: SessionOptions::default(),
            ..RigOpts::default()
        };
        let mut r = rig(41250, o).await;
        r.peer
            .send_to(&rtp(0, 1, 0, PEER_SSRC, false, &audio(1)), r.local)
            .await
            .unwrap();
        wait_event(&mut r.session, |e| matches!(e, SessionEvent::Latched(_))).await;
        let moved = peer(LO).await;
        r.session
            .set_remote(Some(moved.local_addr().unwrap()), vec![])
            .await
            .unwrap();
        r.session.snapshot().await.unwrap();
        flush(&r.peer);
        recv(&moved).await.expect("sent to the new address");
        silent(&r.peer, 100).await;
        // The new address latches; the old one is a stranger from then on.
        moved
            .send_to(&rtp(0, 9, 0, 0x77, false, &audio(3)), r.local)
            .await
            .unwrap();
        let ev = wait_event(&mut r.session, |e| matches!(e, SessionEvent::Latched(_))).await;
        assert_eq!(ev, SessionEvent::Latched(moved.local_addr().unwrap()));
        r.peer
            .send_to(&rtp(0, 2, 160, PEER_SSRC, false, &audio(2)), r.local)
            .await
            .unwrap();
        sleep(Duration::from_millis(100)).await;
        let s = r.session.snapshot().await.unwrap();
        assert_eq!(s.leg.dropped_from_strangers, 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn dropping_the_handle_stops_the_session() {
    timeout(Duration::from_secs(15), async {
        let o = RigOpts {
            session: SessionOptions::default(),
            ..RigOpts::default()
        };
        let r = rig(41260, o).await;
        recv(&r.peer).await.expect("running");
        drop(r.session);
        sleep(Duration::from_millis(100)).await;
        flush(&r.peer);
        silent(&r.peer, 200).await;
        // Its port is free again.
        assert!(std::net::UdpSocket::bind(r.local).is_ok());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn refuses_codecs_it_cannot_play() {
    let pool = PortPool::new(LO, 41270..=41279);
    let remote = "127.0.0.1:9".parse().unwrap();
    for (codec, rate) in [(AudioCodec::Other, 8000), (AudioCodec::Pcmu, 16000)] {
        let o = RigOpts {
            codec,
            ..RigOpts::default()
        };
        let mut s = setup(&pool, remote, &o);
        s.clock_rate = rate;
        let err = spawn_session(s, SessionOptions::default()).unwrap_err();
        assert!(
            matches!(err, SessionError::UnsupportedCodec { codec: c, clock_rate } if c == codec && clock_rate == rate),
            "{err}"
        );
    }
    let o = RigOpts {
        te: None,
        ..RigOpts::default()
    };
    let h = spawn_session(setup(&pool, remote, &o), SessionOptions::default()).unwrap();
    assert!(matches!(
        h.send_digit('1').await,
        Err(SessionError::NoTelephoneEvent)
    ));
    let s = h.stop().await.unwrap();
    assert_eq!(s.digits_sent, 0);
}

#[tokio::test]
async fn stall_sends_a_short_burst_and_skips_the_rest() {
    timeout(Duration::from_secs(15), async {
        let o = RigOpts {
            session: SessionOptions::default(), // idle silence every 20 ms
            ..RigOpts::default()
        };
        let r = rig(41280, o).await;
        recv(&r.peer).await.expect("pacing");
        sleep(Duration::from_millis(100)).await;
        // Block the (single-threaded) runtime: the session misses ~10 ticks.
        std::thread::sleep(Duration::from_millis(200));
        let got = collect(&r.peer, 40, Duration::from_millis(300)).await;
        let s = r.session.snapshot().await.unwrap();
        assert!(
            (5..=12).contains(&s.ticks_late),
            "{} ticks late",
            s.ticks_late
        );
        let pkts: Vec<_> = got.iter().map(|(d, _)| parse(d)).collect();
        for w in pkts.windows(2) {
            assert_eq!(w[1].sequence(), w[0].sequence().wrapping_add(1));
        }
        // One timestamp jump over the ticks not sent, starting a talkspurt.
        let jumps: Vec<_> = pkts
            .windows(2)
            .filter(|w| w[1].timestamp().wrapping_sub(w[0].timestamp()) > 160)
            .collect();
        assert_eq!(jumps.len(), 1, "{} jumps", jumps.len());
        let step = jumps[0][1]
            .timestamp()
            .wrapping_sub(jumps[0][0].timestamp());
        assert_eq!(u64::from(step), 160 * (s.ticks_late + 1));
        assert!(jumps[0][1].marker());
        // The last few overdue frames went out back to back.
        let i = pkts
            .iter()
            .position(|p| p.timestamp() == jumps[0][1].timestamp())
            .unwrap();
        let burst = got[i + 2].1 - got[i].1;
        assert!(
            burst < Duration::from_millis(10),
            "burst spread over {burst:?}"
        );
    })
    .await
    .unwrap();
}
