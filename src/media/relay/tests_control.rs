//! Relay tests for the control side, over real sockets on 127.0.0.1:
//! re-INVITE address changes, hold, the recording tap (including a full tap),
//! RTCP consumption (muxed and on the odd port), and stop on handle drop.
//! Ports 40400-40499, ten per test.

use super::test_util::*;
use super::{LegId, RelayEvent, RelayOptions};
use bytes::BufMut;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;

#[tokio::test]
async fn set_remote_moves_sending_and_relatches() {
    timeout(Duration::from_secs(10), async {
        let mut r = rig(40400, RigOpts::default()).await;
        r.pa.send_to(&rtp(0, 1, 0, 1, false, &audio(1)), r.la)
            .await
            .unwrap();
        recv(&r.pb).await.expect("A -> B");
        r.pb.send_to(&rtp(0, 1, 0, 2, false, &audio(2)), r.lb)
            .await
            .unwrap();
        let (_, from) = recv(&r.pa).await.expect("B -> A (latched)");
        assert_eq!(from, r.la);
        // Re-INVITE: A moved to a new address.
        let moved = peer(LO).await;
        r.relay
            .set_remote(LegId::A, Some(moved.local_addr().unwrap()), vec![LO])
            .await
            .unwrap();
        r.relay.snapshot().await.unwrap(); // barrier: command applied
        r.pb.send_to(&rtp(0, 2, 160, 2, false, &audio(3)), r.lb)
            .await
            .unwrap();
        let (d, _) = recv(&moved).await.expect("B -> new SDP address");
        assert_eq!(parse(&d).payload(), &audio(3)[..]);
        silent(&r.pa, 100).await;
        // The new address sends: relatch on it.
        moved
            .send_to(&rtp(0, 500, 0, 77, false, &audio(4)), r.la)
            .await
            .unwrap();
        let (d, _) = recv(&r.pb).await.expect("new source forwarded");
        let p = parse(&d);
        assert!(p.marker(), "new source marked");
        assert_eq!(p.ssrc(), SSRC_TO_B);
        let mut latched = Vec::new();
        while let Ok(Some(e)) = timeout(Duration::from_millis(100), r.relay.next_event()).await {
            latched.push(e);
        }
        assert!(
            latched.contains(&RelayEvent::Latched {
                leg: LegId::A,
                addr: moved.local_addr().unwrap()
            }),
            "{latched:?}"
        );
        // Old address is now a stranger.
        r.pa.send_to(&rtp(0, 2, 160, 1, false, &audio(5)), r.la)
            .await
            .unwrap();
        silent(&r.pb, 100).await;
        let s = r.relay.stop().await.unwrap();
        assert_eq!(s.a.latched_addr, Some(moved.local_addr().unwrap()));
        assert_eq!(s.a.dropped_from_strangers, 1);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn hold_stops_sending_to_that_leg() {
    timeout(Duration::from_secs(10), async {
        let r = rig(40410, RigOpts::default()).await;
        r.relay.hold(LegId::B, true).await.unwrap();
        r.relay.snapshot().await.unwrap();
        for i in 0..5u16 {
            r.pa.send_to(
                &rtp(0, i, 160 * u32::from(i), 1, false, &audio(i.into())),
                r.la,
            )
            .await
            .unwrap();
        }
        silent(&r.pb, 150).await;
        // B -> A still flows while B is held.
        r.pb.send_to(&rtp(0, 1, 0, 2, false, &audio(9)), r.lb)
            .await
            .unwrap();
        recv(&r.pa).await.expect("held leg's audio still reaches A");
        r.relay.hold(LegId::B, false).await.unwrap();
        r.relay.snapshot().await.unwrap();
        r.pa.send_to(&rtp(0, 5, 800, 1, false, &audio(5)), r.la)
            .await
            .unwrap();
        let (d, _) = recv(&r.pb).await.expect("resumed");
        let p = parse(&d);
        assert_eq!(p.payload(), &audio(5)[..]);
        let s = r.relay.stop().await.unwrap();
        assert_eq!(s.a.packets_received, 6);
        assert_eq!(s.a.packets_forwarded, 1);
        assert_eq!(s.b.packets_sent, 1);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn tap_gets_frames_and_a_full_tap_does_not_block() {
    timeout(Duration::from_secs(10), async {
        let r = rig(40420, RigOpts::default()).await;
        let (tx, mut rx) = mpsc::channel(100);
        r.relay.tap(tx).await.unwrap();
        for i in 0..10u16 {
            r.pa.send_to(
                &rtp(0, i, 160 * u32::from(i), 1, false, &audio(i.into())),
                r.la,
            )
            .await
            .unwrap();
            r.pb.send_to(
                &rtp(
                    0,
                    i,
                    160 * u32::from(i),
                    2,
                    false,
                    &audio(100 + usize::from(i)),
                ),
                r.lb,
            )
            .await
            .unwrap();
        }
        let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            let f = timeout(WAIT, rx.recv()).await.unwrap().unwrap();
            match f.leg {
                LegId::A => from_a.push(f),
                LegId::B => from_b.push(f),
            }
        }
        assert_eq!(from_a.len(), 10);
        for (i, f) in from_a.iter().enumerate() {
            assert_eq!(&f.payload[..], &audio(i)[..]);
            assert_eq!(f.payload_type, 0);
            assert_eq!(
                f.rtp_timestamp,
                from_a[0].rtp_timestamp.wrapping_add(160 * i as u32)
            );
        }
        assert_eq!(&from_b[9].payload[..], &audio(109)[..]);
        // A tap that is never drained: forwarding goes on, frames are dropped.
        let (tx, _full_rx) = mpsc::channel(1);
        r.relay.tap(tx).await.unwrap();
        r.relay.snapshot().await.unwrap();
        for i in 10..30u16 {
            r.pa.send_to(
                &rtp(0, i, 160 * u32::from(i), 1, false, &audio(i.into())),
                r.la,
            )
            .await
            .unwrap();
        }
        for _ in 0..30 {
            recv(&r.pb).await.expect("forwarding continues");
        }
        let s = r.relay.stop().await.unwrap();
        assert_eq!(s.tap_dropped, 19);
        assert_eq!(s.a.packets_forwarded, 30);
    })
    .await
    .expect("test timed out");
}

fn receiver_report(ssrc: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.put_u8(0x80); // RR, no report blocks
    v.put_u8(201);
    v.put_u16(1);
    v.put_u32(ssrc);
    v
}

#[tokio::test]
async fn rtcp_is_consumed_not_forwarded() {
    timeout(Duration::from_secs(10), async {
        // rtcp-mux: RTCP on the RTP port.
        let r = rig(40430, RigOpts::default()).await;
        r.pa.send_to(&receiver_report(1), r.la).await.unwrap();
        silent(&r.pb, 100).await;
        let s = r.relay.stop().await.unwrap();
        assert_eq!((s.a.rtcp_received, s.a.dropped_invalid), (1, 0));
        assert_eq!(s.a.latched_addr, None, "RTCP does not latch");
        // No mux: RTCP on the odd port, which the pool bound.
        let o = RigOpts {
            rtcp_mux: false,
            ..Default::default()
        };
        let r = rig(40440, o).await;
        let rtcp_a = std::net::SocketAddr::new(LO, r.la.port() + 1);
        r.pa.send_to(&receiver_report(1), rtcp_a).await.unwrap();
        r.pa.send_to(b"junk", rtcp_a).await.unwrap();
        let stranger = peer(STRANGER_IP).await;
        stranger.send_to(&receiver_report(1), rtcp_a).await.unwrap();
        silent(&r.pb, 100).await;
        let s = r.relay.stop().await.unwrap();
        assert_eq!(
            (
                s.a.rtcp_received,
                s.a.dropped_invalid,
                s.a.dropped_from_strangers
            ),
            (1, 1, 1)
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn dropping_the_handle_ends_the_relay_and_frees_ports() {
    timeout(Duration::from_secs(10), async {
        let r = rig(40450, RigOpts::default()).await;
        let la = r.la;
        drop(r.relay);
        // The task ends and its sockets close: the port can be bound again.
        let mut bound = false;
        for _ in 0..100 {
            if std::net::UdpSocket::bind(la).is_ok() {
                bound = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(bound, "relay sockets not released");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_quiet_leg_has_no_media_timeout_and_a_sendless_one_gets_nothing() {
    timeout(Duration::from_secs(10), async {
        let o = RigOpts {
            relay: RelayOptions {
                media_timeout: Some(Duration::from_millis(200)),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut r = rig(40470, o).await;
        // On hold: B neither receives nor is expected to send; A keeps
        // sending (music on hold from its phone).
        r.relay.set_direction(LegId::B, false, false).await.unwrap();
        r.relay.set_direction(LegId::A, true, false).await.unwrap();
        r.relay.snapshot().await.unwrap();
        for i in 0..3u16 {
            r.pa.send_to(&rtp(0, i, 160 * u32::from(i), 1, false, &audio(1)), r.la)
                .await
                .unwrap();
        }
        silent(&r.pb, 150).await;
        let until = tokio::time::Instant::now() + Duration::from_millis(600);
        while let Ok(ev) = tokio::time::timeout_at(until, r.relay.next_event()).await {
            assert!(
                matches!(ev, Some(RelayEvent::Latched { .. })),
                "no timeout while on hold: {ev:?}"
            );
        }
        // Resumed: B is expected again, and times out when it stays silent.
        r.relay.set_direction(LegId::B, true, true).await.unwrap();
        let ev = timeout(Duration::from_secs(2), r.relay.next_event())
            .await
            .expect("timeout after resume");
        assert_eq!(ev, Some(RelayEvent::MediaTimeout { leg: LegId::B }));
        r.pa.send_to(&rtp(0, 3, 480, 1, false, &audio(3)), r.la)
            .await
            .unwrap();
        recv(&r.pb).await.expect("B receives again after resume");
    })
    .await
    .unwrap();
}

/// Next RTCP compound on `s` (RTP from the relay is skipped).
async fn next_rtcp(s: &tokio::net::UdpSocket) -> Option<Vec<u8>> {
    for _ in 0..200 {
        let (d, _) = recv(s).await?;
        if crate::media::rtp::rtcp::classify(&d) == crate::media::rtp::rtcp::PacketKind::Rtcp {
            return Some(d);
        }
    }
    None
}

#[tokio::test]
async fn each_leg_gets_sender_reports_and_its_answer_gives_the_rtt() {
    use crate::media::rtp::rtcp::{ReportBlock, RtcpCompound, RtcpPacket, write_rr};
    timeout(Duration::from_secs(10), async {
        let o = RigOpts {
            relay: RelayOptions {
                rtcp_interval: Some(Duration::from_millis(200)),
                ..Default::default()
            },
            ..Default::default()
        };
        let r = rig(40480, o).await;
        // Media both ways, so the relay sends to A and receives from A.
        for i in 0..5u16 {
            r.pa.send_to(&rtp(0, i, 160 * u32::from(i), 1, i == 0, &audio(1)), r.la)
                .await
                .unwrap();
            r.pb.send_to(&rtp(0, i, 160 * u32::from(i), 2, i == 0, &audio(2)), r.lb)
                .await
                .unwrap();
        }
        // A muxes: its own report on the RTP port teaches the relay where
        // A's RTCP goes.
        let mut rr = Vec::new();
        write_rr(1, &[], &mut rr).unwrap();
        r.pa.send_to(&rr, r.la).await.unwrap();
        let sr = next_rtcp(&r.pa).await.expect("a report to A");
        let compound = RtcpCompound::parse(&sr).expect("valid RTCP");
        let packets: Vec<RtcpPacket> = compound.flatten().collect();
        let info = packets
            .iter()
            .find_map(|p| match p {
                RtcpPacket::SenderReport { info, reports } => {
                    assert_eq!(reports.len(), 1, "a block about A's stream");
                    Some(*info)
                }
                _ => None,
            })
            .expect("a sender report: A was sent media");
        assert_eq!(info.packet_count, 5);
        let cname = packets
            .iter()
            .flat_map(|p| p.sdes_chunks())
            .find_map(|c| c.cname().map(<[u8]>::to_vec));
        assert_eq!(cname.as_deref(), Some(&b"switchboard"[..]));
        // A answers with a block on our stream: LSR = the SR's middle 32 bits.
        let block = ReportBlock {
            ssrc: info.ssrc,
            lsr: (info.ntp_timestamp >> 16) as u32,
            dlsr: 0,
            ..Default::default()
        };
        let mut answer = Vec::new();
        write_rr(1, &[block], &mut answer).unwrap();
        r.pa.send_to(&answer, r.la).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let s = r.relay.snapshot().await.unwrap();
        let rtt = s.a.stream.rtt_ms.expect("an RTT for leg A");
        assert!((0.0..1000.0).contains(&rtt), "{rtt} ms");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn inband_digits_are_reported_when_the_leg_has_no_telephone_event() {
    timeout(Duration::from_secs(10), async {
        let o = RigOpts {
            te_a: None,
            ..Default::default()
        };
        let mut r = rig(40490, o).await;
        // '7' is 852 Hz + 1209 Hz: 120 ms of it, then 60 ms of silence.
        let tone = |n: usize| -> i16 {
            let t = n as f64 / 8000.0;
            let two_pi = 2.0 * std::f64::consts::PI;
            (6000.0 * ((two_pi * 852.0 * t).sin() + (two_pi * 1209.0 * t).sin())) as i16
        };
        for i in 0..9u16 {
            let pcm: Vec<i16> = (0..160)
                .map(|k| {
                    if i < 6 {
                        tone(usize::from(i) * 160 + k)
                    } else {
                        0
                    }
                })
                .collect();
            let mut payload = vec![0u8; 160];
            crate::media::g711::encode_ulaw_into(&pcm, &mut payload);
            r.pa.send_to(&rtp(0, i, 160 * u32::from(i), 1, i == 0, &payload), r.la)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut digits = Vec::new();
        while let Ok(Some(ev)) = timeout(Duration::from_millis(300), r.relay.next_event()).await {
            if let RelayEvent::Digit { leg, digit, .. } = ev {
                digits.push((leg, digit));
            }
        }
        assert_eq!(digits, vec![(LegId::A, '7')], "one in-band 7 from A");
        // The audio itself still crossed.
        let (d, _) = recv(&r.pb).await.expect("A's audio reaches B");
        assert_eq!(parse(&d).payload_type(), 0);
    })
    .await
    .unwrap();
}

/// A one-second tone prompt for `codec`'s music, in a temporary folder.
fn music_for(codec: super::AudioCodec, dir: &std::path::Path) -> super::Music {
    let format = super::Music::format_for(codec).unwrap();
    let prompt = super::music::tests::tone_prompt(dir, format);
    super::Music::new(codec, crate::media::player::Playlist::new().prompt(prompt)).unwrap()
}

#[tokio::test]
async fn music_replaces_the_holders_stream_and_keeps_the_sequence() {
    timeout(Duration::from_secs(10), async {
        let dir = tempfile::tempdir().unwrap();
        let r = rig(40460, RigOpts::default()).await;
        // Latch both sides, then A's audio reaches B.
        r.pb.send_to(&rtp(0, 1, 0, 2, false, &audio(1)), r.lb)
            .await
            .unwrap();
        recv(&r.pa).await.expect("B -> A");
        r.pa.send_to(&rtp(0, 1, 0, 1, false, &audio(2)), r.la)
            .await
            .unwrap();
        let (d, _) = recv(&r.pb).await.expect("A -> B");
        let before = parse(&d).sequence();

        // A holds B: B hears music, not A.
        r.relay
            .music(
                LegId::B,
                Some(music_for(super::AudioCodec::Pcmu, dir.path())),
            )
            .await
            .unwrap();
        r.relay.snapshot().await.unwrap();
        r.pa.send_to(&rtp(0, 2, 160, 1, false, &audio(3)), r.la)
            .await
            .unwrap();
        let mut seqs = vec![before];
        for _ in 0..10 {
            let (d, _) = recv(&r.pb).await.expect("music to B");
            let p = parse(&d);
            assert_ne!(
                p.payload(),
                &audio(3)[..],
                "the holder's audio is not relayed"
            );
            assert_eq!(p.payload().len(), 160);
            assert_eq!(p.ssrc(), SSRC_TO_B, "one stream to B");
            assert_eq!(p.payload_type(), 0);
            seqs.push(p.sequence());
        }
        for w in seqs.windows(2) {
            assert_eq!(w[1], w[0].wrapping_add(1), "{seqs:?}");
        }
        // The music carries the tone: far from PCMU silence (0xff).
        let (d, _) = recv(&r.pb).await.unwrap();
        assert!(parse(&d).payload().iter().filter(|&&b| b != 0xff).count() > 100);

        // Resume: A's stream again, same SSRC, the sequence goes on.
        r.relay.music(LegId::B, None).await.unwrap();
        r.relay.snapshot().await.unwrap();
        while timeout(Duration::from_millis(60), r.pb.recv_from(&mut [0u8; 2048]))
            .await
            .is_ok()
        {}
        r.pa.send_to(&rtp(0, 3, 320, 1, false, &audio(4)), r.la)
            .await
            .unwrap();
        let (d, _) = recv(&r.pb).await.expect("A -> B after the hold");
        let p = parse(&d);
        assert_eq!(p.payload(), &audio(4)[..]);
        assert_eq!(p.ssrc(), SSRC_TO_B);
        assert!(p.marker(), "new talkspurt after the music");
        silent(&r.pb, 100).await;
    })
    .await
    .unwrap();
}
