//! Relay tests bridging codecs through linear audio, over real UDP sockets
//! on 127.0.0.1: a PCMU leg with a G.722 leg and a PCMA leg with an Opus
//! leg, both directions (codec, payload type, SSRC, sequence, timestamps in
//! the right clock, and the tone's frequency after decoding on the far
//! side); reordered packets on the decode path; a lost packet concealed
//! (G.722 side) or recovered from FEC (Opus side); telephone events moved
//! between 8 and 48 kHz clocks; the tap and its decoder at each leg's own
//! rate. Ports 42000-42099 (this file's own range), ten per test.

use super::test_util::*;
use super::{AudioCodec, LegId, RelayEvent, RelaySummary, TapDecoder};
use crate::media::codec::test_util::{best_lag, chirp, tone, tone_share, zero_crossing_freq};
use crate::media::dtmf::Rfc4733Sender;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval, timeout};

const OPUS_PT: u8 = 111;

/// `x` encoded with `codec` in 20 ms payloads.
fn encode_frames(codec: AudioCodec, x: &[i16]) -> Vec<Vec<u8>> {
    let mut e = codec.encoder().unwrap();
    let n = e.sample_rate() as usize / 50;
    x.chunks_exact(n)
        .map(|f| {
            let mut p = Vec::new();
            e.encode(f, &mut p).unwrap();
            p
        })
        .collect()
}

/// A phone sending `payloads` as one RTP stream (payload type `pt`, frame
/// `k` with sequence `1000 + k` and timestamp `k * ts_step`): the frames
/// listed in `order`, `burst` of them every `burst * 20` ms.
async fn send_paced(
    sock: &UdpSocket,
    to: SocketAddr,
    pt: u8,
    ts_step: u32,
    payloads: &[Vec<u8>],
    order: &[usize],
    burst: usize,
) {
    let mut tick = interval(Duration::from_millis(20 * burst as u64));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    for chunk in order.chunks(burst) {
        tick.tick().await;
        for &k in chunk {
            let p = rtp(
                pt,
                1000 + k as u16,
                k as u32 * ts_step,
                0x5eed,
                k == 0,
                &payloads[k],
            );
            sock.send_to(&p, to).await.unwrap();
        }
    }
}

/// Datagrams arriving on `sock` until `n` came or none for a second.
async fn collect(sock: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 2048];
    while got.len() < n {
        match timeout(Duration::from_secs(1), sock.recv_from(&mut buf)).await {
            Ok(Ok((len, _))) => got.push(buf[..len].to_vec()),
            _ => break,
        }
    }
    got
}

/// Check one stream the relay produced for a leg and decode it: payload
/// type, our SSRC, consecutive sequence numbers, the timestamp advancing by
/// `ts_step` per packet (more only after a gap, and then on a marked
/// packet). Returns the audio, decoded in order at `codec`'s rate.
fn check_stream(pkts: &[Vec<u8>], pt: u8, ssrc: u32, ts_step: u32, codec: AudioCodec) -> Vec<i16> {
    let mut dec = codec.decoder().unwrap();
    let mut y = Vec::new();
    let first = parse(&pkts[0]);
    assert!(first.marker(), "the stream starts with the marker");
    for (k, d) in pkts.iter().enumerate() {
        let p = parse(d);
        assert_eq!((p.payload_type(), p.ssrc()), (pt, ssrc), "packet {k}");
        assert_eq!(
            p.sequence(),
            first.sequence().wrapping_add(k as u16),
            "packet {k}"
        );
        if k > 0 {
            let prev = parse(&pkts[k - 1]);
            let step = p.timestamp().wrapping_sub(prev.timestamp());
            assert!(
                step == ts_step || (p.marker() && step % ts_step == 0 && step > 0),
                "packet {k}: timestamp step {step}, marker {}",
                p.marker()
            );
        }
        let n = dec.decode(p.payload(), &mut y).unwrap();
        assert_eq!(
            n as u32,
            dec.sample_rate() / 50,
            "packet {k}: 20 ms of audio"
        );
    }
    y
}

/// The decoding summary of the audio from `leg`.
fn decoding(s: &RelaySummary, leg: LegId) -> super::DecodeSummary {
    s.leg(leg).decoding.expect("a decoding direction")
}

fn assert_tone(y: &[i16], rate: u32, freq: f64, what: &str) {
    // Skip the first 100 ms (codec and resampler start-up).
    let y = &y[rate as usize / 10..];
    let f = zero_crossing_freq(y, rate);
    assert!(
        (f - freq).abs() < freq * 0.02,
        "{what}: {f:.1} Hz, want {freq}"
    );
    let share = tone_share(y, freq, rate);
    assert!(share > 0.85, "{what}: {share:.3} of the power at {freq} Hz");
}

/// Both directions between a leg of `ca` (payload type `pa`) and one of
/// `cb`: A sends 1 kHz, B sends 700 Hz, 50 frames each.
async fn both_ways(first_port: u16, ca: AudioCodec, pa: u8, cb: AudioCodec, pb: u8) {
    let r = rig(
        first_port,
        RigOpts {
            pt_a: pa,
            pt_b: pb,
            codec_a: ca,
            codec_b: cb,
            ..Default::default()
        },
    )
    .await;
    let (ra, rb) = (ca.sample_rate().unwrap(), cb.sample_rate().unwrap());
    let (clock_a, clock_b) = (ca.rtp_clock_rate().unwrap(), cb.rtp_clock_rate().unwrap());
    let from_a = encode_frames(ca, &tone(1000.0, 12000.0, ra, ra as usize));
    let from_b = encode_frames(cb, &tone(700.0, 12000.0, rb, rb as usize));
    let order: Vec<usize> = (0..50).collect();
    let ((), (), at_b, at_a) = tokio::join!(
        send_paced(&r.pa, r.la, pa, clock_a / 50, &from_a, &order, 1),
        send_paced(&r.pb, r.lb, pb, clock_b / 50, &from_b, &order, 1),
        collect(&r.pb, 50),
        collect(&r.pa, 50),
    );
    let s = r.relay.stop().await.unwrap();
    // Every frame sent came out re-encoded on the other side.
    for (leg, got) in [(LegId::A, &at_b), (LegId::B, &at_a)] {
        let d = decoding(&s, leg);
        assert_eq!(d.jitter.pushed, 50, "{leg:?}");
        assert_eq!(
            (d.decoded, d.decode_errors, d.concealed),
            (50, 0, 0),
            "{leg:?}: {d:?}"
        );
        assert_eq!(d.encoded, got.len() as u64, "{leg:?}");
        assert!(got.len() >= 48, "{leg:?}: {} frames arrived", got.len());
        assert_eq!(s.leg(leg).packets_forwarded, got.len() as u64);
    }
    let y = check_stream(&at_b, pb, SSRC_TO_B, clock_b / 50, cb);
    assert_tone(&y, rb, 1000.0, &format!("{ca:?} -> {cb:?}"));
    let y = check_stream(&at_a, pa, SSRC_TO_A, clock_a / 50, ca);
    assert_tone(&y, ra, 700.0, &format!("{cb:?} -> {ca:?}"));
}

#[tokio::test]
async fn pcmu_and_g722_legs_hear_each_other() {
    timeout(
        Duration::from_secs(15),
        both_ways(42000, AudioCodec::Pcmu, 0, AudioCodec::G722, 9),
    )
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn pcma_and_opus_legs_hear_each_other() {
    timeout(
        Duration::from_secs(15),
        both_ways(42010, AudioCodec::Pcma, 8, AudioCodec::Opus, OPUS_PT),
    )
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn reordered_packets_play_in_order() {
    timeout(Duration::from_secs(15), async {
        let r = rig(
            42020,
            RigOpts {
                pt_b: 9,
                codec_b: AudioCodec::G722,
                ..Default::default()
            },
        )
        .await;
        // A chirp, so that frames played out of order would show (a steady
        // tone repeats every 20 ms frame); each pair of frames swapped.
        let n = 60;
        let x = chirp(300.0, 3000.0, 12000.0, 8000, 160 * n);
        let frames = encode_frames(AudioCodec::Pcmu, &x);
        let order: Vec<usize> = (0..n).map(|k| k ^ 1).collect();
        let ((), at_b) = tokio::join!(
            send_paced(&r.pa, r.la, 0, 160, &frames, &order, 2),
            collect(&r.pb, n),
        );
        let s = r.relay.stop().await.unwrap();
        let d = decoding(&s, LegId::A);
        assert_eq!((d.jitter.late, d.jitter.missing), (0, 0), "{d:?}");
        assert_eq!((d.decoded, d.concealed), (n as u64, 0));
        assert_eq!(at_b.len(), n, "every frame came out");
        let y = check_stream(&at_b, 9, SSRC_TO_B, 160, AudioCodec::G722);
        // The same chirp at 16 kHz, continuous: out-of-order frames or a
        // concealed one would break the correlation (measured > 0.99).
        let want = chirp(300.0, 3000.0, 12000.0, 16000, 320 * n);
        let (lag, corr) = best_lag(&want, &y, 400, 400, y.len() - 800);
        assert!(corr > 0.95, "correlation {corr:.3} at lag {lag}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn lost_packets_are_concealed_or_recovered() {
    timeout(Duration::from_secs(15), async {
        // PCMU from A loses frame 20 (G.722 for B: concealed); Opus from B
        // loses frame 20 too (PCMU for A: rebuilt from frame 21's FEC).
        let r = rig(
            42030,
            RigOpts {
                pt_b: OPUS_PT,
                codec_b: AudioCodec::Opus,
                ..Default::default()
            },
        )
        .await;
        let from_a = encode_frames(AudioCodec::Pcmu, &tone(1000.0, 12000.0, 8000, 8000 * 4 / 5));
        let from_b = encode_frames(
            AudioCodec::Opus,
            &tone(700.0, 12000.0, 48000, 48000 * 4 / 5),
        );
        let order: Vec<usize> = (0..40).filter(|&k| k != 20).collect();
        let ((), (), at_b, at_a) = tokio::join!(
            send_paced(&r.pa, r.la, 0, 160, &from_a, &order, 1),
            send_paced(&r.pb, r.lb, OPUS_PT, 960, &from_b, &order, 1),
            collect(&r.pb, 40),
            collect(&r.pa, 40),
        );
        let s = r.relay.stop().await.unwrap();
        let (da, db) = (decoding(&s, LegId::A), decoding(&s, LegId::B));
        assert_eq!(
            (da.jitter.missing, da.concealed, da.recovered),
            (1, 1, 0),
            "{da:?}"
        );
        assert_eq!(
            (db.jitter.missing, db.concealed, db.recovered),
            (1, 0, 1),
            "{db:?}"
        );
        // The stream out goes on without a hole: 40 frames, consecutive
        // timestamps, and the tone holds through the lost frame.
        assert_eq!((at_b.len(), at_a.len()), (40, 40));
        let y = check_stream(&at_b, OPUS_PT, SSRC_TO_B, 960, AudioCodec::Opus);
        assert_tone(&y, 48000, 1000.0, "PCMU -> opus");
        let y = check_stream(&at_a, 0, SSRC_TO_A, 160, AudioCodec::Pcmu);
        assert_tone(&y, 8000, 700.0, "opus -> PCMU");
        // Around the lost frame the level stays within 6 dB of the rest.
        let rms = |f: &[i16]| {
            (f.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / f.len() as f64).sqrt()
        };
        let steady = rms(&y[160 * 10..160 * 15]);
        for k in 18..24 {
            let level = rms(&y[160 * k..160 * (k + 1)]);
            assert!(
                level > steady / 2.0 && level < steady * 2.0,
                "frame {k}: rms {level:.0} vs {steady:.0}"
            );
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn telephone_events_join_the_transcoded_stream() {
    timeout(Duration::from_secs(15), async {
        let mut r = rig(
            42040,
            RigOpts {
                pt_b: OPUS_PT,
                codec_b: AudioCodec::Opus,
                te_a: Some(101),
                te_b: Some(110),
                ..Default::default()
            },
        )
        .await;
        let mut events = r.relay.take_events().unwrap();
        let audio = encode_frames(AudioCodec::Pcmu, &tone(1000.0, 8000.0, 8000, 160 * 10));
        let order: Vec<usize> = (0..10).collect();
        let pkts: Vec<_> = Rfc4733Sender::new(101, 8000)
            .packets('5', 1600, 120)
            .unwrap()
            .collect();
        let send = async {
            send_paced(&r.pa, r.la, 0, 160, &audio, &order, 1).await;
            for (k, p) in pkts.iter().enumerate() {
                let d = rtp(
                    101,
                    1010 + k as u16,
                    p.timestamp,
                    0x5eed,
                    p.marker,
                    &p.payload,
                );
                r.pa.send_to(&d, r.la).await.unwrap();
            }
        };
        let ((), got) = tokio::join!(send, collect(&r.pb, 10 + pkts.len()));
        let digit = timeout(WAIT, async {
            loop {
                if let Some(RelayEvent::Digit { leg, digit, .. }) = events.recv().await {
                    break (leg, digit);
                }
            }
        })
        .await
        .expect("digit event");
        assert_eq!(digit, (LegId::A, '5'));
        r.relay.stop().await.unwrap();
        let (audio_out, dtmf_out): (Vec<_>, Vec<_>) = got
            .iter()
            .map(|d| parse(d))
            .partition(|p| p.payload_type() == OPUS_PT);
        assert_eq!(dtmf_out.len(), pkts.len(), "every event packet relayed");
        assert!(!audio_out.is_empty());
        // One stream: distinct sequence numbers, all ours.
        let mut seqs: Vec<u16> = got.iter().map(|d| parse(d).sequence()).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), got.len(), "no sequence number used twice");
        let ts0 = dtmf_out[0].timestamp();
        for (p, q) in pkts.iter().zip(&dtmf_out) {
            assert_eq!(q.payload_type(), 110);
            assert_eq!(q.ssrc(), SSRC_TO_B);
            assert_eq!(q.timestamp(), ts0, "one event, one timestamp");
            assert_eq!(
                q.payload()[..2],
                p.payload[..2],
                "event and end bit/volume kept"
            );
            let d_in = u16::from_be_bytes([p.payload[2], p.payload[3]]);
            let d_out = u16::from_be_bytes([q.payload()[2], q.payload()[3]]);
            assert_eq!(
                u32::from(d_out),
                u32::from(d_in) * 6,
                "duration in 48 kHz units"
            );
        }
        // The event sits on the audio timeline: a multiple of 960 from the
        // first audio packet.
        let off = ts0.wrapping_sub(audio_out[0].timestamp());
        assert_eq!(off % 960, 0, "event timestamp {ts0} vs audio");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn tap_decodes_each_leg_at_its_own_rate() {
    timeout(Duration::from_secs(15), async {
        // Two wideband legs: G.722 (16 kHz audio, 8 kHz clock) and Opus.
        let r = rig(
            42050,
            RigOpts {
                pt_a: 9,
                codec_a: AudioCodec::G722,
                pt_b: OPUS_PT,
                codec_b: AudioCodec::Opus,
                ..Default::default()
            },
        )
        .await;
        let (tx, mut rx) = mpsc::channel(200);
        r.relay.tap(tx).await.unwrap();
        let from_a = encode_frames(AudioCodec::G722, &tone(5000.0, 9000.0, 16000, 16000 / 2));
        let from_b = encode_frames(AudioCodec::Opus, &tone(9000.0, 9000.0, 48000, 48000 / 2));
        let order: Vec<usize> = (0..25).collect();
        let ((), (), at_b, _) = tokio::join!(
            send_paced(&r.pa, r.la, 9, 160, &from_a, &order, 1),
            send_paced(&r.pb, r.lb, OPUS_PT, 960, &from_b, &order, 1),
            collect(&r.pb, 25),
            collect(&r.pa, 25),
        );
        r.relay.stop().await.unwrap();
        // 5 kHz only exists at 16 kHz: it survives G.722 -> opus.
        let y = check_stream(&at_b, OPUS_PT, SSRC_TO_B, 960, AudioCodec::Opus);
        assert_tone(&y, 48000, 5000.0, "G.722 -> opus");
        let mut dec = TapDecoder::new();
        let mut audio = [Vec::new(), Vec::new()];
        let mut last_ts: [Option<u32>; 2] = [None, None];
        let mut frames = 0;
        while let Ok(f) = rx.try_recv() {
            frames += 1;
            let i = f.leg.index();
            let (rate, step) = match f.leg {
                LegId::A => (16000, 160),
                LegId::B => (48000, 960),
            };
            assert_eq!(f.sample_rate(), Some(rate));
            let d = dec.decode(&f, &mut audio[i]).unwrap();
            assert_eq!((d.sample_rate, d.samples), (rate, rate as usize / 50));
            if let Some(prev) = last_ts[i] {
                assert_eq!(f.rtp_timestamp.wrapping_sub(prev), step, "{:?}", f.leg);
            }
            last_ts[i] = Some(f.rtp_timestamp);
        }
        assert_eq!(frames, 50, "every payload tapped");
        // Decoded at 16 and 48 kHz, the legs keep tones a narrowband
        // recording could not hold.
        assert_tone(&audio[0], 16000, 5000.0, "tap of the G.722 leg");
        assert_tone(&audio[1], 48000, 9000.0, "tap of the opus leg");
        assert_eq!(dec.conceal(LegId::B, 960, &mut audio[1]), 960);
    })
    .await
    .expect("test timed out");
}
