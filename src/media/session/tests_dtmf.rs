//! Session tests of received DTMF over real UDP sockets on 127.0.0.1: RFC
//! 4733 de-duplication, barge-in (and its absence), in-band detection when
//! the leg has no telephone-event payload type (and not when it has one).
//! Ports 41100-41199, ten per test.

use super::test_util::*;
use super::{DigitSource, SessionEvent};
use crate::media::dtmf::Rfc4733Sender;
use crate::media::player::{EncodedPrompt, Playlist};
use crate::media::wav::Prompt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::{sleep, timeout};

/// Press `digit` for `ms` as RFC 4733 packets (PT 101) every 20 ms, each
/// packet sent `copies` times and the end packets twice more.
async fn press(from: &UdpSocket, to: SocketAddr, digit: char, ms: u32, ts: u32, copies: usize) {
    let tx = Rfc4733Sender {
        interval_ms: 20,
        ..Rfc4733Sender::new(101, 8000)
    };
    let pkts: Vec<_> = tx.packets(digit, ts, ms).unwrap().collect();
    let mut last_offset = 0;
    for (i, p) in pkts.iter().enumerate() {
        if p.offset_ms > last_offset {
            sleep(Duration::from_millis(u64::from(p.offset_ms - last_offset))).await;
            last_offset = p.offset_ms;
        }
        let seq = (ts as u16).wrapping_add(i as u16);
        let d = rtp(101, seq, p.timestamp, PEER_SSRC, p.marker, &p.payload);
        let end = p.payload[1] & 0x80 != 0;
        for _ in 0..copies + if end { 2 } else { 0 } {
            from.send_to(&d, to).await.unwrap();
        }
    }
}

fn digits(evs: &[SessionEvent]) -> Vec<(char, DigitSource, Option<u32>)> {
    evs.iter()
        .filter_map(|e| match e {
            SessionEvent::Digit {
                digit,
                source,
                duration_ms,
            } => Some((*digit, *source, *duration_ms)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn rfc4733_digit_reported_once() {
    timeout(Duration::from_secs(15), async {
        let mut r = rig(41100, RigOpts::default()).await;
        press(&r.peer, r.local, '7', 120, 4000, 2).await;
        let evs = events_for(&mut r.session, Duration::from_millis(1000)).await;
        assert_eq!(
            digits(&evs),
            vec![('7', DigitSource::Rfc4733, Some(120))],
            "{evs:?}"
        );
        // A retransmitted press (same event timestamp) is still the same press.
        press(&r.peer, r.local, '7', 120, 4000, 1).await;
        let evs = events_for(&mut r.session, Duration::from_millis(700)).await;
        assert!(digits(&evs).is_empty(), "{evs:?}");
        assert_eq!(r.session.snapshot().await.unwrap().leg.digits, 1);
    })
    .await
    .unwrap();
}

fn tone_prompt(r: &Rig) -> Arc<EncodedPrompt> {
    let prompt = Prompt {
        samples: sine(500.0, 6000.0, 200),
        sample_rate: 8000,
    };
    Arc::new(EncodedPrompt::convert("tone", &prompt, r.session.format()))
}

#[tokio::test]
async fn barge_in_stops_playback_on_digit() {
    timeout(Duration::from_secs(15), async {
        let mut r = rig(41110, RigOpts::default()).await;
        let prompt = tone_prompt(&r);
        let menu = Playlist::new()
            .prompt(prompt.clone())
            .looping(true)
            .barge_in(true);
        let id = r.session.play(menu).await.unwrap();
        recv(&r.peer).await.expect("prompt playing");
        press(&r.peer, r.local, '5', 80, 9000, 1).await;
        let mut seen = Vec::new();
        loop {
            let ev = wait_event(&mut r.session, |e| !matches!(e, SessionEvent::Latched(_))).await;
            seen.push(ev.clone());
            if let SessionEvent::PlaybackInterrupted { .. } = ev {
                break;
            }
        }
        assert_eq!(
            seen,
            vec![
                SessionEvent::Digit {
                    digit: '5',
                    source: DigitSource::Rfc4733,
                    duration_ms: Some(80)
                },
                SessionEvent::PlaybackInterrupted { id, digit: '5' },
            ]
        );
        sleep(Duration::from_millis(60)).await;
        flush(&r.peer);
        silent(&r.peer, 200).await; // idle: nothing after the prompt

        // Without barge-in the same key leaves the prompt playing.
        let moh = Playlist::new().prompt(prompt).looping(true);
        r.session.play(moh).await.unwrap();
        recv(&r.peer).await.expect("playing again");
        press(&r.peer, r.local, '6', 80, 20_000, 1).await;
        let evs = events_for(&mut r.session, Duration::from_millis(700)).await;
        assert_eq!(digits(&evs), vec![('6', DigitSource::Rfc4733, Some(80))]);
        assert!(
            !evs.iter()
                .any(|e| matches!(e, SessionEvent::PlaybackInterrupted { .. })),
            "{evs:?}"
        );
        flush(&r.peer);
        let still = collect(&r.peer, 5, Duration::from_millis(200)).await;
        assert_eq!(still.len(), 5, "prompt still playing");
    })
    .await
    .unwrap();
}

/// `ms` of the DTMF pair for `digit`, each tone at -10 dBFS.
fn dual(digit: char, ms: usize) -> Vec<i16> {
    let (row, col) = match digit {
        '8' => (852.0, 1336.0),
        '9' => (852.0, 1477.0),
        _ => unreachable!("only 8 and 9 are used"),
    };
    let amp = 32767.0 * 10f64.powf(-10.0 / 20.0);
    sine(row, amp, ms)
        .iter()
        .zip(sine(col, amp, ms))
        .map(|(a, b)| a.saturating_add(b))
        .collect()
}

/// 100 ms silence, '8' for 120 ms, 100 ms silence, '9' for 120 ms, 200 ms silence.
fn dtmf_audio() -> Vec<Vec<u8>> {
    let mut pcm = vec![0i16; 800];
    pcm.extend(dual('8', 120));
    pcm.extend(vec![0; 800]);
    pcm.extend(dual('9', 120));
    pcm.extend(vec![0; 1600]);
    ulaw_frames(&pcm)
}

#[tokio::test]
async fn inband_dtmf_without_telephone_event() {
    timeout(Duration::from_secs(15), async {
        let o = RigOpts {
            te: None,
            ..RigOpts::default()
        };
        let mut r = rig(41120, o).await;
        send_paced(&r.peer, r.local, 0, 1, &dtmf_audio()).await;
        let evs = events_for(&mut r.session, Duration::from_millis(500)).await;
        assert_eq!(
            digits(&evs),
            vec![
                ('8', DigitSource::Inband, None),
                ('9', DigitSource::Inband, None)
            ],
            "{evs:?}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn no_inband_detection_with_telephone_event() {
    timeout(Duration::from_secs(15), async {
        let mut r = rig(41130, RigOpts::default()).await;
        send_paced(&r.peer, r.local, 0, 1, &dtmf_audio()).await;
        let evs = events_for(&mut r.session, Duration::from_millis(500)).await;
        assert!(digits(&evs).is_empty(), "{evs:?}");
        let s = r.session.snapshot().await.unwrap();
        assert_eq!(s.leg.packets_received, dtmf_audio().len() as u64);
        assert_eq!(s.leg.digits, 0);
    })
    .await
    .unwrap();
}
