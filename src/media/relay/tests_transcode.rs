//! Relay tests for bridging a PCMA leg with a PCMU leg (G.711 transcoded in
//! place), over real sockets on 127.0.0.1: both directions, the recording
//! tap, telephone events, same-codec PCMA legs, and which codec pairs are
//! refused. Ports 40500-40599, ten per test.

use super::test_util::*;
use super::{AudioCodec, LegId, LegSetup, RelayEvent, RelayOptions, RelaySetupError, spawn_relay};
use crate::media::dtmf::Rfc4733Sender;
use crate::media::g711::{alaw_to_ulaw, decode_alaw, decode_ulaw, ulaw_to_alaw};
use crate::media::ports::PortPool;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// A 160-byte G.711 payload; over 50 packets every code occurs many times.
fn g711_payload(i: usize) -> Vec<u8> {
    (0..160).map(|k| (i * 160 + k * 7) as u8).collect()
}

/// Quantisation step, in 16-bit units, of the segment of A-law code `c`.
fn alaw_step(c: u8) -> i32 {
    let seg = ((c ^ 0x55) >> 4) & 7;
    16 << seg.saturating_sub(1)
}

/// Quantisation step, in 16-bit units, of the segment of mu-law code `c`.
fn ulaw_step(c: u8) -> i32 {
    let seg = (!c >> 4) & 7;
    8 << seg
}

fn pcma_pcmu() -> RigOpts {
    RigOpts {
        pt_a: 8,
        pt_b: 0,
        codec_a: AudioCodec::Pcma,
        codec_b: AudioCodec::Pcmu,
        ..Default::default()
    }
}

#[tokio::test]
async fn pcma_caller_pcmu_agent_transcodes_both_directions() {
    timeout(Duration::from_secs(10), async {
        let r = rig(40500, pcma_pcmu()).await;
        let send_a = async {
            for i in 0..50u16 {
                let p = rtp(
                    8,
                    100 + i,
                    160 * u32::from(i),
                    0x1111,
                    i == 0,
                    &g711_payload(i.into()),
                );
                r.pa.send_to(&p, r.la).await.unwrap();
            }
        };
        let send_b = async {
            for i in 0..50u16 {
                let p = rtp(
                    0,
                    7000 + i,
                    160 * u32::from(i),
                    0x2222,
                    false,
                    &g711_payload(1000 + usize::from(i)),
                );
                r.pb.send_to(&p, r.lb).await.unwrap();
            }
        };
        let got = |s| async move {
            let mut v = Vec::new();
            for _ in 0..50 {
                v.push(recv(s).await.expect("packet").0);
            }
            v
        };
        let ((), (), at_b, at_a) = tokio::join!(send_a, send_b, got(&r.pb), got(&r.pa));
        // A (A-law) -> B (mu-law).
        let first = parse(&at_b[0]);
        for (i, d) in at_b.iter().enumerate() {
            let p = parse(d);
            assert_eq!(p.payload_type(), 0);
            assert_eq!(p.ssrc(), SSRC_TO_B);
            assert_eq!(p.sequence(), first.sequence().wrapping_add(i as u16));
            assert_eq!(p.marker(), i == 0);
            let input = g711_payload(i);
            assert_eq!(p.payload().len(), input.len());
            for (&a, &u) in input.iter().zip(p.payload()) {
                assert_eq!(u, alaw_to_ulaw(a), "table transcoding of A-law {a:#04x}");
                let err = (i32::from(decode_ulaw(u)) - i32::from(decode_alaw(a))).abs();
                assert!(
                    err <= ulaw_step(u),
                    "A-law {a:#04x} -> mu-law {u:#04x}: error {err}"
                );
            }
        }
        // B (mu-law) -> A (A-law).
        for (i, d) in at_a.iter().enumerate() {
            let p = parse(d);
            assert_eq!(p.payload_type(), 8);
            assert_eq!(p.ssrc(), SSRC_TO_A);
            let input = g711_payload(1000 + i);
            assert_eq!(p.payload().len(), input.len());
            for (&u, &a) in input.iter().zip(p.payload()) {
                assert_eq!(a, ulaw_to_alaw(u), "table transcoding of mu-law {u:#04x}");
                let err = (i32::from(decode_alaw(a)) - i32::from(decode_ulaw(u))).abs();
                assert!(
                    err <= alaw_step(a),
                    "mu-law {u:#04x} -> A-law {a:#04x}: error {err}"
                );
            }
        }
        let s = r.relay.stop().await.unwrap();
        for leg in [LegId::A, LegId::B] {
            let l = s.leg(leg);
            assert_eq!(l.packets_received, 50, "{leg:?}");
            assert_eq!(l.packets_forwarded, 50);
            assert_eq!(l.bytes_sent, 50 * 172, "same size after transcoding");
            assert_eq!(l.dropped_unknown_pt, 0);
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn tap_gets_each_leg_as_received_with_its_codec() {
    timeout(Duration::from_secs(10), async {
        let r = rig(40510, pcma_pcmu()).await;
        let (tx, mut rx) = mpsc::channel(100);
        r.relay.tap(tx).await.unwrap();
        for i in 0..5u16 {
            let ts = 160 * u32::from(i);
            r.pa.send_to(&rtp(8, i, ts, 1, false, &g711_payload(i.into())), r.la)
                .await
                .unwrap();
            recv(&r.pb).await.expect("audio at B");
            r.pb.send_to(
                &rtp(0, i, ts, 2, false, &g711_payload(100 + usize::from(i))),
                r.lb,
            )
            .await
            .unwrap();
            recv(&r.pa).await.expect("audio at A");
        }
        for i in 0..5usize {
            let f = rx.recv().await.unwrap();
            assert_eq!(
                (f.leg, f.codec, f.payload_type),
                (LegId::A, AudioCodec::Pcma, 8)
            );
            assert_eq!(&f.payload[..], &g711_payload(i)[..], "A-law as received");
            let f = rx.recv().await.unwrap();
            assert_eq!(
                (f.leg, f.codec, f.payload_type),
                (LegId::B, AudioCodec::Pcmu, 0)
            );
            assert_eq!(
                &f.payload[..],
                &g711_payload(100 + i)[..],
                "mu-law as received"
            );
        }
        let s = r.relay.stop().await.unwrap();
        assert_eq!(s.tap_dropped, 0);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn telephone_events_are_mapped_not_transcoded() {
    timeout(Duration::from_secs(10), async {
        let o = RigOpts {
            te_a: Some(101),
            te_b: Some(96),
            ..pcma_pcmu()
        };
        let mut r = rig(40520, o).await;
        let mut events = r.relay.take_events().unwrap();
        let pkts: Vec<_> = Rfc4733Sender::new(101, 8000)
            .packets('7', 8000, 120)
            .unwrap()
            .collect();
        for (k, p) in pkts.iter().enumerate() {
            let d = rtp(
                p.payload_type,
                k as u16,
                p.timestamp,
                3,
                p.marker,
                &p.payload,
            );
            r.pa.send_to(&d, r.la).await.unwrap();
        }
        for p in &pkts {
            let (d, _) = recv(&r.pb).await.expect("telephone-event at B");
            let q = parse(&d);
            assert_eq!(q.payload_type(), 96);
            assert_eq!(q.payload(), &p.payload[..], "event payload untouched");
        }
        let ev = timeout(WAIT, async {
            loop {
                match events.recv().await {
                    Some(RelayEvent::Digit { leg, digit, .. }) => break (leg, digit),
                    Some(_) => continue,
                    None => panic!("events closed"),
                }
            }
        })
        .await
        .expect("digit event");
        assert_eq!(ev, (LegId::A, '7'));
        r.relay.stop().await.unwrap();
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn pcma_legs_pass_payload_untouched() {
    timeout(Duration::from_secs(10), async {
        let o = RigOpts {
            pt_a: 8,
            pt_b: 8,
            codec_a: AudioCodec::Pcma,
            codec_b: AudioCodec::Pcma,
            ..Default::default()
        };
        let r = rig(40530, o).await;
        for i in 0..5u16 {
            let payload = g711_payload(i.into());
            r.pa.send_to(&rtp(8, i, 160 * u32::from(i), 1, false, &payload), r.la)
                .await
                .unwrap();
            let (d, _) = recv(&r.pb).await.expect("audio at B");
            assert_eq!(parse(&d).payload(), &payload[..]);
        }
        r.relay.stop().await.unwrap();
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn unbridgeable_codecs_are_refused_at_setup() {
    let pool = PortPool::new(LO, 40540..=40549);
    let remote = peer(LO).await.local_addr().unwrap();
    let mk = |pt, codec| leg(&pool, remote, pt, codec, Some(101), true, 1);
    let pairs = [
        (AudioCodec::Pcmu, AudioCodec::Other, false),
        (AudioCodec::Other, AudioCodec::Pcma, false),
        (AudioCodec::G722, AudioCodec::Other, false),
        (AudioCodec::Other, AudioCodec::Opus, false),
        (AudioCodec::Pcmu, AudioCodec::Pcma, true),
        (AudioCodec::Pcma, AudioCodec::Pcma, true),
        (AudioCodec::Other, AudioCodec::Other, true),
        (AudioCodec::Pcmu, AudioCodec::G722, true),
        (AudioCodec::Opus, AudioCodec::Pcma, true),
        (AudioCodec::G722, AudioCodec::Opus, true),
        (AudioCodec::Opus, AudioCodec::Opus, true),
    ];
    for (ca, cb, ok) in pairs {
        let a = mk(0, ca);
        let b = mk(9, cb);
        let want = if ok {
            Ok(())
        } else {
            Err(RelaySetupError::CodecMismatch { a: ca, b: cb })
        };
        assert_eq!(LegSetup::validate_pair(&a, &b), want, "{ca:?}/{cb:?}");
        assert_eq!(LegSetup::validate_pair(&b, &a).is_ok(), ok);
        match spawn_relay(a, b, RelayOptions::default()) {
            Ok(h) => {
                assert!(ok, "{ca:?}/{cb:?} must be refused");
                h.stop().await.unwrap();
            }
            Err(e) => assert_eq!(Err(e), want),
        }
    }
}
