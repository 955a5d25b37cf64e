//! Session tests over real UDP sockets on 127.0.0.1: echo, prompt playback
//! (a 16 kHz stereo WAV converted for a PCMU leg), playback events,
//! recording, and RFC 4733 digits sent. Ports 41000-41099, ten per test.

use super::test_util::*;
use super::{SessionError, SessionEvent};
use crate::media::dtmf::TelephoneEvent;
use crate::media::player::{Playlist, PromptCache};
use std::path::Path;
use std::time::Duration;
use tokio::time::timeout;

const QUIET: Duration = Duration::from_millis(400);

#[tokio::test]
async fn echo_round_trip() {
    timeout(Duration::from_secs(15), async {
        let r = rig(41000, RigOpts::default()).await;
        r.session.set_echo(true).await.unwrap();
        let sent: Vec<Vec<u8>> = (0..50).map(audio).collect();
        let (_, got) = tokio::join!(
            send_paced(&r.peer, r.local, 0, 7, &sent),
            collect(&r.peer, 60, QUIET)
        );
        let got: Vec<Vec<u8>> = got.into_iter().map(|(d, _)| d).collect();
        assert_eq!(got.len(), 50, "one echo per packet, nothing else");
        let first = parse(&got[0]);
        assert!(first.marker(), "talkspurt starts with the marker bit");
        let mut prev = first;
        for (i, d) in got.iter().enumerate() {
            let p = parse(d);
            assert_eq!(p.payload(), &sent[i][..], "frame {i} echoed unchanged");
            assert_eq!(p.ssrc(), OUR_SSRC);
            assert_eq!(p.payload_type(), 0);
            if i > 0 {
                assert_eq!(p.sequence(), prev.sequence().wrapping_add(1));
                let step = p.timestamp().wrapping_sub(prev.timestamp());
                assert!(step >= 160 && step % 160 == 0, "timestamp step {step}");
            }
            prev = p;
        }
        let s = r.session.snapshot().await.unwrap();
        assert_eq!(s.frames_echoed, 50);
        assert_eq!(s.leg.packets_received, 50);
        assert_eq!(s.leg.packets_sent, 50);
        assert_eq!(s.leg.stream.packets_lost, 0);
        assert_eq!(s.leg.latched_addr, Some(r.peer.local_addr().unwrap()));
    })
    .await
    .unwrap();
}

/// Writes a 16 kHz stereo WAV: 440 Hz, left at `l`, right at `r` (in phase).
fn stereo_wav(path: &Path, secs: f64, l: f64, r: f64) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(16000.0 * secs) as usize {
        let s = (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 16000.0).sin();
        w.write_sample((l * s).round() as i16).unwrap();
        w.write_sample((r * s).round() as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[tokio::test]
async fn plays_converted_wav_prompt_paced() {
    timeout(Duration::from_secs(15), async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prompt.wav");
        stereo_wav(&path, 1.0, 12000.0, 4000.0);
        let mut r = rig(41010, RigOpts::default()).await;
        let prompt = PromptCache::new(1 << 20)
            .get(&path, r.session.format())
            .unwrap();
        let id = r
            .session
            .play(Playlist::new().prompt(prompt))
            .await
            .unwrap();
        let got = collect(&r.peer, 100, QUIET).await;
        // 1 s at 20 ms per frame, minus any frame a badly stalled runtime
        // could not send in time.
        assert!((45..=50).contains(&got.len()), "{} frames", got.len());
        let span = got.last().unwrap().1 - got[0].1;
        assert!(
            span >= Duration::from_millis(800),
            "paced, not burst: {span:?}"
        );
        let first = parse(&got[0].0);
        assert!(first.marker());
        let mut pcm = Vec::new();
        for (i, (d, _)) in got.iter().enumerate() {
            let p = parse(d);
            assert_eq!(p.ssrc(), OUR_SSRC);
            assert_eq!(p.payload().len(), 160);
            assert_eq!(p.sequence(), first.sequence().wrapping_add(i as u16));
            pcm.extend(decode_ulaw(p.payload()));
        }
        // Mono is the channels' mean: a 440 Hz sine of amplitude 8000.
        let mid = &pcm[pcm.len() / 5..pcm.len() * 4 / 5];
        let want = 8000.0 / 2f64.sqrt();
        let level = rms(mid);
        assert!(
            (level - want).abs() < want * 0.08,
            "rms {level}, want {want}"
        );
        let ups = mid.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        let hz = ups as f64 * 8000.0 / mid.len() as f64;
        assert!((hz - 440.0).abs() < 15.0, "{hz} Hz");
        let ev = wait_event(&mut r.session, |e| {
            matches!(e, SessionEvent::PlaybackFinished(_))
        })
        .await;
        assert_eq!(ev, SessionEvent::PlaybackFinished(id));
        let s = r.session.stop().await.unwrap();
        assert_eq!(s.frames_played, got.len() as u64);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn playback_events_finished_replaced_stopped() {
    timeout(Duration::from_secs(15), async {
        let mut r = rig(41020, RigOpts::default()).await;
        let short = Playlist::new().silence(Duration::from_millis(60));
        let a = r.session.play(short).await.unwrap();
        let ev = wait_event(&mut r.session, |_| true).await;
        assert_eq!(ev, SessionEvent::PlaybackFinished(a));
        let got = collect(&r.peer, 10, QUIET).await;
        assert_eq!(got.len(), 3, "60 ms of silence is three frames");
        assert!(got.iter().all(|(d, _)| parse(d).payload() == [0xFF; 160]));

        let moh = || {
            Playlist::new()
                .silence(Duration::from_millis(40))
                .looping(true)
        };
        let b = r.session.play(moh()).await.unwrap();
        let c = r.session.play(moh()).await.unwrap();
        assert_ne!(b, c);
        let ev = wait_event(&mut r.session, |_| true).await;
        assert_eq!(ev, SessionEvent::PlaybackStopped(b), "replaced by c");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(r.session.stop_playback().await.unwrap());
        let ev = wait_event(&mut r.session, |_| true).await;
        assert_eq!(ev, SessionEvent::PlaybackStopped(c));
        assert!(!r.session.stop_playback().await.unwrap());
        // A looping playlist never finishes by itself.
        assert!(
            events_for(&mut r.session, Duration::from_millis(100))
                .await
                .is_empty()
        );
        flush(&r.peer);
        silent(&r.peer, 100).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn records_received_audio_into_wav() {
    timeout(Duration::from_secs(15), async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("caller.wav");
        let r = rig(41030, RigOpts::default()).await;
        assert!(matches!(
            r.session.stop_recording().await,
            Err(SessionError::NotRecording)
        ));
        let started = tokio::time::Instant::now();
        r.session.start_recording(&path).await.unwrap();
        let other = dir.path().join("second.wav");
        assert!(matches!(
            r.session.start_recording(&other).await,
            Err(SessionError::AlreadyRecording)
        ));
        assert!(!other.exists(), "refused recording's file removed");
        let tone = sine(440.0, 8000.0, 1000);
        let frames = ulaw_frames(&tone);
        send_paced(&r.peer, r.local, 0, 100, &frames).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let summary = r.session.stop_recording().await.unwrap();
        let wall = started.elapsed();
        assert_eq!(summary.path, path);
        // The file keeps the session's timeline: as long as the recording.
        let secs = summary.duration.as_secs_f64();
        assert!(
            secs > 1.0 && secs <= wall.as_secs_f64() + 0.05,
            "{secs} s recorded in {wall:?}"
        );
        let mut reader = hound::WavReader::open(&path).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, 8000, 16)
        );
        let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(samples.len() as u64, summary.frames);
        // Every frame the caller sent, decoded, is in the file, in order,
        // with nothing but silence around (where the jitter buffer had
        // nothing to play: before, after, and in any rebuffering gap).
        let mut pos = 0;
        for (k, f) in frames.iter().enumerate() {
            let heard = decode_ulaw(f);
            let at = pos
                + samples[pos..]
                    .windows(heard.len())
                    .position(|w| w == &heard[..])
                    .unwrap_or_else(|| panic!("frame {k} not in the recording"));
            assert!(
                samples[pos..at].iter().all(|&s| s == 0),
                "only silence before frame {k}"
            );
            pos = at + heard.len();
        }
        assert!(samples[pos..].iter().all(|&s| s == 0), "silence after");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn sends_rfc4733_digit_in_our_stream() {
    timeout(Duration::from_secs(15), async {
        let o = RigOpts {
            session: super::SessionOptions::default(), // idle silence
            ..RigOpts::default()
        };
        let r = rig(41040, o).await;
        assert!(matches!(
            r.session.send_digit('x').await,
            Err(SessionError::NotADigit('x'))
        ));
        recv(&r.peer).await.expect("idle silence");
        r.session.send_digit('#').await.unwrap();
        let got = collect(&r.peer, 30, QUIET).await;
        let pkts: Vec<_> = got.iter().map(|(d, _)| parse(d)).collect();
        for w in pkts.windows(2) {
            assert_eq!(w[1].sequence(), w[0].sequence().wrapping_add(1));
        }
        let ev: Vec<usize> = (0..pkts.len())
            .filter(|&i| pkts[i].payload_type() == 101)
            .collect();
        // 100 ms at one update per 20 ms: 5 updates and 3 end packets, in a row.
        assert_eq!(ev.len(), 8, "{ev:?}");
        assert_eq!(ev[7] - ev[0], 7);
        let start = &pkts[ev[0]];
        assert!(start.marker());
        let events: Vec<TelephoneEvent> = ev
            .iter()
            .map(|&i| TelephoneEvent::parse(pkts[i].payload()).unwrap())
            .collect();
        for (k, &i) in ev.iter().enumerate() {
            assert_eq!(
                pkts[i].timestamp(),
                start.timestamp(),
                "one event timestamp"
            );
            assert_eq!(events[k].event, 11, "#");
            assert_eq!(events[k].end, k >= 5);
            assert_eq!(pkts[i].marker(), k == 0);
        }
        assert_eq!(events[7].duration, 800);
        let after = &pkts[ev[7] + 1];
        assert_eq!(after.payload_type(), 0, "audio resumes");
        assert!(after.marker(), "new talkspurt after the digit");
        let s = r.session.snapshot().await.unwrap();
        assert_eq!(s.digits_sent, 1);
    })
    .await
    .unwrap();
}
