//! Relay tests over real UDP sockets on 127.0.0.1: forwarding and rewriting
//! in both directions, latching, strangers, hijack attempts, garbage floods,
//! DTMF and media timeout. Ports 40100-40399, ten per test.

use super::test_util::*;
use super::{LegId, RelayEvent, RelayOptions};
use crate::media::dtmf::Rfc4733Sender;
use std::time::Duration;
use tokio::time::timeout;

#[tokio::test]
async fn forwards_both_directions_with_rewrite() {
    timeout(Duration::from_secs(10), async {
        // Per-leg PT numbers differ: the relay maps them.
        let o = RigOpts {
            pt_b: 8,
            ..Default::default()
        };
        let r = rig(40100, o).await;
        let send_a = async {
            for i in 0..50u16 {
                let p = rtp(
                    0,
                    1000 + i,
                    5000 + 160 * u32::from(i),
                    0x1111,
                    i == 0,
                    &audio(i.into()),
                );
                r.pa.send_to(&p, r.la).await.unwrap();
            }
        };
        let send_b = async {
            for i in 0..50u16 {
                let p = rtp(
                    8,
                    60_000 + i,
                    9 + 160 * u32::from(i),
                    0x2222,
                    false,
                    &audio(500 + usize::from(i)),
                );
                r.pb.send_to(&p, r.lb).await.unwrap();
            }
        };
        let got_b = async {
            let mut v = Vec::new();
            for _ in 0..50 {
                v.push(recv(&r.pb).await.expect("packet at B"));
            }
            v
        };
        let got_a = async {
            let mut v = Vec::new();
            for _ in 0..50 {
                v.push(recv(&r.pa).await.expect("packet at A"));
            }
            v
        };
        let ((), (), at_b, at_a) = tokio::join!(send_a, send_b, got_b, got_a);
        for (i, (d, from)) in at_b.iter().enumerate() {
            assert_eq!(*from, r.lb, "B hears us from leg B's port");
            let p = parse(d);
            assert_eq!(p.ssrc(), SSRC_TO_B);
            assert_eq!(p.payload_type(), 8);
            assert_eq!(p.payload(), &audio(i)[..]);
            let first = parse(&at_b[0].0);
            assert_eq!(p.sequence(), first.sequence().wrapping_add(i as u16));
            assert_eq!(
                p.timestamp(),
                first.timestamp().wrapping_add(160 * i as u32)
            );
            assert_eq!(p.marker(), i == 0);
        }
        for (i, (d, from)) in at_a.iter().enumerate() {
            assert_eq!(*from, r.la);
            let p = parse(d);
            assert_eq!(p.ssrc(), SSRC_TO_A);
            assert_eq!(p.payload_type(), 0);
            assert_eq!(p.payload(), &audio(500 + i)[..]);
            let first = parse(&at_a[0].0);
            assert_eq!(p.sequence(), first.sequence().wrapping_add(i as u16));
        }
        let s = r.relay.stop().await.unwrap();
        for leg in [LegId::A, LegId::B] {
            let l = s.leg(leg);
            assert_eq!(l.packets_received, 50, "{leg:?}");
            assert_eq!(l.bytes_received, 50 * 172);
            assert_eq!(l.packets_forwarded, 50);
            assert_eq!(l.packets_sent, 50);
            assert_eq!(l.bytes_sent, 50 * 172);
            assert_eq!(l.stream.packets_received, 49, "first packet is probation");
            assert_eq!(l.stream.packets_lost, 0);
            assert_eq!(
                (
                    l.dropped_from_strangers,
                    l.dropped_invalid,
                    l.dropped_unknown_pt
                ),
                (0, 0, 0)
            );
        }
        assert_eq!(s.a.latched_addr, Some(r.pa.local_addr().unwrap()));
        assert_eq!(s.b.latched_addr, Some(r.pb.local_addr().unwrap()));
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn latches_onto_source_port_not_sdp_port() {
    timeout(Duration::from_secs(10), async {
        let mut r = rig(40110, RigOpts::default()).await;
        // pa is peer A's SDP address (X); it actually sends from y.
        let y = peer(LO).await;
        // Before A sends anything, B's audio goes to the SDP address.
        r.pb.send_to(&rtp(0, 1, 160, 7, false, &audio(1)), r.lb)
            .await
            .unwrap();
        let (d, _) = recv(&r.pa).await.expect("pre-latch audio at SDP address");
        assert_eq!(parse(&d).payload(), &audio(1)[..]);
        y.send_to(&rtp(0, 1, 160, 9, false, &audio(2)), r.la)
            .await
            .unwrap();
        assert_eq!(
            r.relay.next_event().await,
            Some(RelayEvent::Latched {
                leg: LegId::B,
                addr: r.pb.local_addr().unwrap()
            })
        );
        assert_eq!(
            r.relay.next_event().await,
            Some(RelayEvent::Latched {
                leg: LegId::A,
                addr: y.local_addr().unwrap()
            })
        );
        recv(&r.pb).await.expect("A's first packet reaches B");
        for i in 2..5u16 {
            r.pb.send_to(
                &rtp(0, i, 160 * u32::from(i), 7, false, &audio(i.into())),
                r.lb,
            )
            .await
            .unwrap();
            let (d, from) = recv(&y).await.expect("at latched port Y");
            assert_eq!(from, r.la);
            assert_eq!(parse(&d).payload(), &audio(i.into())[..]);
        }
        silent(&r.pa, 100).await;
        let s = r.relay.stop().await.unwrap();
        assert_eq!(s.a.latched_addr, Some(y.local_addr().unwrap()));
        assert_eq!(s.a.packets_sent, 4);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn strangers_and_hijackers_are_dropped() {
    timeout(Duration::from_secs(10), async {
        let r = rig(40120, RigOpts::default()).await;
        let stranger = peer(STRANGER_IP).await;
        for i in 0..20u16 {
            stranger
                .send_to(&rtp(0, i, 0, 5, false, &audio(9)), r.la)
                .await
                .unwrap();
        }
        silent(&r.pb, 150).await;
        // The real peer latches; then an allowed IP on another port tries to take over.
        r.pa.send_to(&rtp(0, 1, 0, 1, false, &audio(1)), r.la)
            .await
            .unwrap();
        recv(&r.pb).await.expect("real packet forwarded");
        let hijacker = peer(LO).await;
        for i in 0..10u16 {
            hijacker
                .send_to(&rtp(0, 2 + i, 0, 1, false, &audio(9)), r.la)
                .await
                .unwrap();
        }
        silent(&r.pb, 150).await;
        r.pa.send_to(&rtp(0, 2, 160, 1, false, &audio(2)), r.la)
            .await
            .unwrap();
        let (d, _) = recv(&r.pb).await.expect("latched peer still forwarded");
        assert_eq!(parse(&d).payload(), &audio(2)[..]);
        let s = r.relay.stop().await.unwrap();
        assert_eq!(s.a.dropped_from_strangers, 30);
        assert_eq!(s.a.packets_forwarded, 2);
        assert_eq!(s.a.latched_addr, Some(r.pa.local_addr().unwrap()));
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn garbage_and_flood_are_dropped() {
    timeout(Duration::from_secs(20), async {
        let r = rig(40130, RigOpts::default()).await;
        let good = rtp(0, 1, 0, 1, false, &audio(1));
        let mut bad: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x80],
            good[..11].to_vec(),
            {
                let mut v = good.clone();
                v[0] = 0x40; // version 1
                v
            },
            {
                let mut v = good[..20].to_vec();
                v[0] |= 0x0f; // 15 CSRCs in 20 bytes
                v
            },
            {
                let mut v = good[..20].to_vec();
                v[0] |= 0x10; // extension past the end
                v[14] = 0xff;
                v
            },
            {
                let mut v = good.clone();
                v[0] |= 0x20; // padding longer than the packet
                *v.last_mut().unwrap() = 0xff;
                v
            },
            vec![0x80, 200, 0xff, 0xff], // RTCP-looking with a bad length
            vec![0u8; 2048],             // oversized: truncated by the relay's buffer
            vec![0x00, 0x01, 0x00, 0x00], // STUN-looking
        ];
        let variants = bad.len() as u64;
        for b in &bad {
            r.pa.send_to(b, r.la).await.unwrap();
        }
        bad.clear();
        // Flood: 10,000 garbage datagrams, paced so the kernel keeps them all.
        let mut sent = variants;
        for i in 0..10_000u32 {
            let junk = [0x17u8, (i >> 8) as u8, i as u8, 0x42, 0x99];
            r.pa.send_to(&junk, r.la).await.unwrap();
            sent += 1;
            if i % 64 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        silent(&r.pb, 200).await;
        let snap = r.relay.snapshot().await.unwrap();
        assert_eq!(snap.a.packets_forwarded, 0);
        assert_eq!(snap.a.latched_addr, None, "garbage does not latch");
        assert!(snap.a.dropped_invalid <= sent);
        assert!(
            snap.a.dropped_invalid >= sent * 9 / 10,
            "{} of {sent}",
            snap.a.dropped_invalid
        );
        // Still relaying real packets afterwards.
        r.pa.send_to(&good, r.la).await.unwrap();
        let (d, _) = recv(&r.pb).await.expect("real packet after the flood");
        assert_eq!(parse(&d).payload(), &audio(1)[..]);
        let s = r.relay.stop().await.unwrap();
        assert_eq!(s.a.packets_forwarded, 1);
        assert_eq!(s.b.packets_sent, 1);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn dtmf_is_forwarded_and_reported_once() {
    timeout(Duration::from_secs(10), async {
        let o = RigOpts {
            te_a: Some(101),
            te_b: Some(96),
            ..Default::default()
        };
        let mut r = rig(40140, o).await;
        let mut events = r.relay.take_events().unwrap();
        let sender = Rfc4733Sender::new(101, 8000);
        let pkts: Vec<_> = sender.packets('5', 32_000, 120).unwrap().collect();
        // Some audio first, same SSRC and sequence space.
        r.pa.send_to(&rtp(0, 10, 31_840, 3, false, &audio(0)), r.la)
            .await
            .unwrap();
        for (k, p) in pkts.iter().enumerate() {
            let d = rtp(
                p.payload_type,
                11 + k as u16,
                p.timestamp,
                3,
                p.marker,
                &p.payload,
            );
            r.pa.send_to(&d, r.la).await.unwrap();
        }
        recv(&r.pb).await.expect("audio");
        for p in &pkts {
            let (d, _) = recv(&r.pb).await.expect("telephone-event at B");
            let q = parse(&d);
            assert_eq!(q.payload_type(), 96);
            assert_eq!(q.payload(), &p.payload[..]);
            assert_eq!(q.ssrc(), SSRC_TO_B);
        }
        let ev = timeout(WAIT, async {
            loop {
                match events.recv().await {
                    Some(RelayEvent::Digit {
                        leg,
                        digit,
                        duration_ms,
                    }) => break (leg, digit, duration_ms),
                    Some(_) => continue,
                    None => panic!("events closed"),
                }
            }
        })
        .await
        .expect("digit event");
        assert_eq!(ev, (LegId::A, '5', 120));
        // Past the DTMF end timeout: still exactly one digit.
        tokio::time::sleep(Duration::from_millis(700)).await;
        while let Ok(e) = events.try_recv() {
            assert!(
                !matches!(e, RelayEvent::Digit { .. }),
                "duplicate digit {e:?}"
            );
        }
        let s = r.relay.stop().await.unwrap();
        assert_eq!(s.a.digits, 1);
        assert_eq!(s.a.packets_forwarded, 1 + pkts.len() as u64);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn media_timeout_is_reported_once_per_silence() {
    timeout(Duration::from_secs(10), async {
        let o = RigOpts {
            relay: RelayOptions {
                media_timeout: Some(Duration::from_millis(300)),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut r = rig(40150, o).await;
        // A keeps talking; B is silent.
        let start = tokio::time::Instant::now();
        let mut seq = 0u16;
        let mut got = Vec::new();
        while start.elapsed() < Duration::from_millis(900) {
            r.pa.send_to(
                &rtp(0, seq, 160 * u32::from(seq), 4, false, &audio(0)),
                r.la,
            )
            .await
            .unwrap();
            seq += 1;
            if let Ok(Some(e)) = timeout(Duration::from_millis(50), r.relay.next_event()).await {
                got.push((e, start.elapsed()));
            }
        }
        let timeouts: Vec<_> = got
            .iter()
            .filter(|(e, _)| matches!(e, RelayEvent::MediaTimeout { .. }))
            .collect();
        assert_eq!(timeouts.len(), 1, "{got:?}");
        assert_eq!(timeouts[0].0, RelayEvent::MediaTimeout { leg: LegId::B });
        assert!(timeouts[0].1 >= Duration::from_millis(300));
        assert!(
            timeouts[0].1 < Duration::from_millis(600),
            "{:?}",
            timeouts[0].1
        );
        r.relay.stop().await.unwrap();
    })
    .await
    .expect("test timed out");
}
