//! Recorder tests: synthetic tap frames in, the WAV file and the
//! `recordings` row checked afterwards.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::media::g711;
use crate::media::relay::AudioCodec;
use crate::store::CallRecord;

const RATE: usize = 8000;
/// Samples per 20 ms frame.
const PTIME: usize = 160;
/// Margin allowed around a span's edges, in seconds.
const EDGE: f64 = 0.05;

fn tone(freq: f64, len: usize) -> Vec<i16> {
    (0..len)
        .map(|i| {
            let t = i as f64 / RATE as f64;
            (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

/// Deterministic noise: no two 20 ms frames alike, so a misplaced frame shows.
fn noise(len: usize) -> Vec<i16> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 16_000) as i16 - 8000
        })
        .collect()
}

fn encode(codec: AudioCodec, samples: &[i16]) -> Vec<u8> {
    let mut out = vec![0; samples.len()];
    match codec {
        AudioCodec::Pcmu => g711::encode_ulaw_into(samples, &mut out),
        AudioCodec::Pcma => g711::encode_alaw_into(samples, &mut out),
        AudioCodec::G722 | AudioCodec::Opus | AudioCodec::Other => out.fill(0x55),
    }
    out
}

/// What the file should hold for `samples` sent as `codec`.
fn through_g711(codec: AudioCodec, samples: &[i16]) -> Vec<i16> {
    let encoded = encode(codec, samples);
    let mut out = vec![0; encoded.len()];
    match codec {
        AudioCodec::Pcma => g711::decode_alaw_into(&encoded, &mut out),
        _ => g711::decode_ulaw_into(&encoded, &mut out),
    }
    out
}

/// 20 ms frames of `samples`, timestamps from `first_ts`, arriving every
/// 20 ms from `first_arrival`.
fn frames(
    leg: LegId,
    codec: AudioCodec,
    samples: &[i16],
    first_ts: u32,
    first_arrival: Instant,
) -> Vec<TapFrame> {
    samples
        .chunks(PTIME)
        .enumerate()
        .map(|(i, chunk)| TapFrame {
            leg,
            payload_type: match codec {
                AudioCodec::Pcma => 8,
                _ => 0,
            },
            codec,
            rtp_timestamp: first_ts.wrapping_add((i * PTIME) as u32),
            arrival: first_arrival + Duration::from_millis(20 * i as u64),
            payload: Bytes::from(encode(codec, chunk)),
        })
        .collect()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Sends the frames in arrival order, as the relay would.
async fn play(rec: &RecorderHandle, legs: Vec<Vec<TapFrame>>) {
    let mut all: Vec<TapFrame> = legs.into_iter().flatten().collect();
    all.sort_by_key(|f| f.arrival);
    let tap = rec.tap_sender();
    for f in all {
        tap.send(f).await.unwrap();
    }
}

/// The caller leg of most tests: 1 s of 440 Hz as PCMU from t = 0, its
/// timestamps wrapping around u32 halfway.
fn caller_tone(rec: &RecorderHandle) -> Vec<TapFrame> {
    let ts = u32::MAX - 4000;
    frames(
        LegId::A,
        AudioCodec::Pcmu,
        &tone(440.0, RATE),
        ts,
        rec.started_at(),
    )
}

/// The agent leg of most tests: 1 s of 1000 Hz as PCMA from t = 0.5 s.
fn agent_tone(rec: &RecorderHandle) -> Vec<TapFrame> {
    let start = rec.started_at() + secs(0.5);
    frames(LegId::B, AudioCodec::Pcma, &tone(1000.0, RATE), 77, start)
}

struct Wav {
    left: Vec<i16>,
    right: Vec<i16>,
}

impl Wav {
    fn read(path: &Path) -> Self {
        let mut reader = hound::WavReader::open(path).unwrap();
        let spec = reader.spec();
        assert_eq!(spec.channels, 2);
        assert_eq!(spec.sample_rate, RATE as u32);
        assert_eq!(spec.bits_per_sample, 16);
        let all: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        Self {
            left: all.iter().step_by(2).copied().collect(),
            right: all.iter().skip(1).step_by(2).copied().collect(),
        }
    }

    fn duration(&self) -> f64 {
        self.left.len() as f64 / RATE as f64
    }
}

fn assert_near(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() <= 0.04, "{what}: {got} s, want {want} s");
}

/// `channel` has audio in every 20 ms window inside the `active` spans
/// (seconds, give or take [`EDGE`]) and exact silence in every window outside.
fn assert_spans(name: &str, channel: &[i16], active: &[Range<f64>]) {
    for (w, window) in channel.chunks(PTIME).enumerate() {
        let from = (w * PTIME) as f64 / RATE as f64;
        let to = from + window.len() as f64 / RATE as f64;
        let inside = active
            .iter()
            .any(|s| from >= s.start + EDGE && to <= s.end - EDGE);
        let near = active
            .iter()
            .any(|s| to > s.start - EDGE && from < s.end + EDGE);
        let rms = (window.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / window.len() as f64)
            .sqrt();
        if inside {
            assert!(rms > 2000.0, "{name}: silent at {from:.2} s (rms {rms:.0})");
        } else if !near {
            assert!(rms == 0.0, "{name}: sound at {from:.2} s (rms {rms:.0})");
        }
    }
}

async fn store_with_call(call_id: &str) -> Store {
    let store = Store::open_in_memory().await.unwrap();
    store
        .insert_call(&CallRecord {
            call_id: call_id.into(),
            profile: "carrier".into(),
            caller: "+15551230001".into(),
            callee: "+15559870000".into(),
            started_at: 1_000,
        })
        .await
        .unwrap();
    store
}

fn wav_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(wav_files(&path));
        } else if path.extension().is_some_and(|e| e == "wav") {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn caller_left_agent_right_on_a_shared_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let rec = start_recording(None, "c1@pbx", RecorderConfig::new(dir.path()))
        .await
        .unwrap();
    assert_eq!(rec.tap_sender().max_capacity(), 256);
    let caller = caller_tone(&rec);
    let agent = agent_tone(&rec);
    play(&rec, vec![caller, agent]).await;
    let result = rec.finish().await.unwrap();

    assert!(result.write_error.is_none() && result.store_error.is_none());
    assert_near("result", result.duration.as_secs_f64(), 1.5);
    assert_eq!(result.paused, Duration::ZERO);
    for leg in [&result.caller, &result.agent] {
        assert_eq!(
            *leg,
            LegCounters {
                frames: 50,
                ..Default::default()
            }
        );
    }

    let wav = Wav::read(&result.path);
    assert_near("file", wav.duration(), 1.5);
    assert_spans("left", &wav.left, &[0.0..1.0]);
    assert_spans("right", &wav.right, &[0.5..1.5]);
    // Sample-exact placement, and each law decoded as itself: G.711 keeps
    // a 8000-peak tone within its quantisation step (256 at that level).
    let left = &wav.left[..RATE];
    assert_eq!(left, through_g711(AudioCodec::Pcmu, &tone(440.0, RATE)));
    let right = &wav.right[RATE / 2..RATE / 2 + RATE];
    assert_eq!(right, through_g711(AudioCodec::Pcma, &tone(1000.0, RATE)));
    for (got, want) in right.iter().zip(tone(1000.0, RATE)) {
        assert!((got - want).abs() <= 256, "{got} vs {want}");
    }
}

#[tokio::test]
async fn reordered_and_jittered_packets_land_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let rec = start_recording(None, "c2", RecorderConfig::new(dir.path()))
        .await
        .unwrap();
    let audio = noise(RATE);
    let mut caller = frames(LegId::A, AudioCodec::Pcmu, &audio, 9, rec.started_at());
    for (i, f) in caller.iter_mut().enumerate().skip(1) {
        // up to 10 ms of jitter, packet 20 late behind 21..23, 31 behind 32
        let late = match i {
            20 => 70,
            31 => 25,
            _ => (i as u64 * 7) % 11,
        };
        f.arrival += Duration::from_millis(late);
    }
    let mut order: Vec<usize> = (0..caller.len()).collect();
    order.sort_by_key(|&i| caller[i].arrival);
    assert_ne!(
        order,
        (0..caller.len()).collect::<Vec<_>>(),
        "not reordered"
    );
    play(&rec, vec![caller]).await;
    let result = rec.finish().await.unwrap();

    assert_eq!(result.caller.frames, 50);
    assert_eq!(result.caller.late_samples, 0);
    let wav = Wav::read(&result.path);
    assert_eq!(wav.left, through_g711(AudioCodec::Pcmu, &audio));
    assert!(wav.right.iter().all(|&s| s == 0));
}

#[tokio::test]
async fn pause_silences_both_channels_and_keeps_the_duration() {
    let dir = tempfile::tempdir().unwrap();
    let rec = start_recording(None, "c3", RecorderConfig::new(dir.path()))
        .await
        .unwrap();
    let t0 = rec.started_at();
    rec.pause_at(t0 + secs(0.3)).await.unwrap();
    rec.resume_at(t0 + secs(0.7)).await.unwrap();
    let (caller, agent) = (caller_tone(&rec), agent_tone(&rec));
    play(&rec, vec![caller, agent]).await;
    let result = rec.finish().await.unwrap();

    assert_near("result", result.duration.as_secs_f64(), 1.5);
    assert_eq!(result.paused, Duration::from_millis(400));
    let wav = Wav::read(&result.path);
    assert_near("file", wav.duration(), 1.5);
    assert_spans("left", &wav.left, &[0.0..0.3, 0.7..1.0]);
    assert_spans("right", &wav.right, &[0.7..1.5]);
    let paused = RATE * 3 / 10..RATE * 7 / 10;
    assert!(wav.left[paused.clone()].iter().all(|&s| s == 0));
    assert!(wav.right[paused].iter().all(|&s| s == 0));
}

#[tokio::test]
async fn row_goes_from_recording_to_complete_with_the_duration() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_call("c4").await;
    let mut cfg = RecorderConfig::new(dir.path());
    cfg.consent = false;
    let rec = start_recording(Some(store.clone()), "c4", cfg)
        .await
        .unwrap();
    let path = rec.path().to_string_lossy().into_owned();

    let rows = store.recordings_for_call("c4").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].path, path);
    assert_eq!(rows[0].state, RecordingState::Recording);
    assert_eq!(rows[0].duration_ms, None);
    assert_eq!((rows[0].channels, rows[0].sample_rate), (2, 8000));
    assert!(!rows[0].consent);

    let (caller, agent) = (caller_tone(&rec), agent_tone(&rec));
    play(&rec, vec![caller, agent]).await;
    let result = rec.finish().await.unwrap();
    assert!(result.store_error.is_none());

    let rows = store.recordings_for_call("c4").await.unwrap();
    assert_eq!(rows[0].state, RecordingState::Complete);
    assert_eq!(rows[0].duration_ms, Some(1500));
    assert_eq!(
        rows[0].duration_ms,
        Some(result.duration.as_millis() as i64)
    );
    assert!(store.open_recordings().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_row_needs_the_call_and_no_file_is_left_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_call("c5").await;
    let err = start_recording(Some(store), "unknown", RecorderConfig::new(dir.path()))
        .await
        .unwrap_err();
    assert!(matches!(err, RecorderError::Store(_)), "{err}");
    assert!(wav_files(dir.path()).is_empty());
}

#[tokio::test]
async fn dropping_the_handle_finishes_once_the_tap_closes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_call("c6").await;
    let rec = start_recording(Some(store.clone()), "c6", RecorderConfig::new(dir.path()))
        .await
        .unwrap();
    let path = rec.path().to_path_buf();
    let tap = rec.tap_sender();
    let mut caller = caller_tone(&rec);
    let second_half = caller.split_off(25);
    play(&rec, vec![caller]).await;
    drop(rec);
    // the relay still holds its sender: recording goes on
    for f in second_half {
        tap.send(f).await.unwrap();
    }
    drop(tap);

    let row = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let row = store.recordings_for_call("c6").await.unwrap().remove(0);
            if row.state != RecordingState::Recording {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("row never completed");
    assert_eq!(row.state, RecordingState::Complete);
    assert_eq!(row.duration_ms, Some(1000));
    let wav = Wav::read(&path);
    assert_near("file", wav.duration(), 1.0);
    assert_spans("left", &wav.left, &[0.0..1.0]);
}

#[tokio::test]
async fn a_timestamp_jump_reanchors_on_arrival_but_a_silence_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let rec = start_recording(None, "c7", RecorderConfig::new(dir.path()))
        .await
        .unwrap();
    let t0 = rec.started_at();
    let audio = noise(RATE * 3 / 2);
    let (a, rest) = audio.split_at(RATE / 2);
    let (b, c) = rest.split_at(RATE / 2);
    let ts = 1000;
    let leg = |part: &[i16], ts: u32, at: f64| {
        frames(LegId::A, AudioCodec::Pcmu, part, ts, t0 + secs(at))
    };
    // 0.5 s of talk, 2 s without packets (DTX: timestamps follow), 0.5 s of
    // talk, then the timestamps leap ~10 minutes ahead while packets go on.
    let talk = leg(a, ts, 0.0);
    let after_silence = leg(b, ts + (RATE * 5 / 2) as u32, 2.5);
    let leap = leg(c, ts + 3 * RATE as u32 + 5_000_000, 3.0);
    play(&rec, vec![talk, after_silence, leap]).await;
    let result = rec.finish().await.unwrap();

    assert_eq!(result.caller.reanchors, 1);
    assert_near("result", result.duration.as_secs_f64(), 3.5);
    let wav = Wav::read(&result.path);
    assert_spans("left", &wav.left, &[0.0..0.5, 2.5..3.5]);
    let half = RATE / 2;
    assert_eq!(wav.left[..half], through_g711(AudioCodec::Pcmu, a));
    assert_eq!(
        wav.left[5 * half..],
        through_g711(AudioCodec::Pcmu, &audio[half..])
    );
}

#[tokio::test]
async fn other_codecs_are_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let rec = start_recording(None, "c8", RecorderConfig::new(dir.path()))
        .await
        .unwrap();
    let caller = caller_tone(&rec);
    let wideband = frames(
        LegId::B,
        AudioCodec::Other,
        &tone(1000.0, RATE),
        5,
        rec.started_at(),
    );
    play(&rec, vec![caller, wideband]).await;
    let result = rec.finish().await.unwrap();

    assert_eq!(result.agent.unsupported_frames, 50);
    assert_eq!(result.agent.frames, 0);
    assert_eq!(result.caller.frames, 50);
    let wav = Wav::read(&result.path);
    assert_spans("left", &wav.left, &[0.0..1.0]);
    assert!(wav.right.iter().all(|&s| s == 0));
}

#[tokio::test]
async fn a_call_recorded_again_gets_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_recording(None, "c9@10.0.0.1", RecorderConfig::new(dir.path()))
        .await
        .unwrap();
    let second = start_recording(None, "c9@10.0.0.1", RecorderConfig::new(dir.path()))
        .await
        .unwrap();
    assert!(first.path().starts_with(dir.path()));
    assert_eq!(first.path().file_name().unwrap(), "c9_10.0.0.1.wav");
    assert_eq!(second.path().file_name().unwrap(), "c9_10.0.0.1-2.wav");
    assert_eq!(first.path().parent(), second.path().parent());
    let caller = caller_tone(&first);
    play(&first, vec![caller]).await;
    let (a, b) = (
        first.finish().await.unwrap(),
        second.finish().await.unwrap(),
    );
    assert_near("first", Wav::read(&a.path).duration(), 1.0);
    // Nothing was said on the second: silence for as long as it was open.
    let silent = Wav::read(&b.path);
    assert!(silent.duration() < 0.5, "{}", silent.duration());
    assert!(silent.left.iter().chain(&silent.right).all(|&s| s == 0));
}

#[tokio::test]
async fn a_finished_recording_lasts_until_the_finish_even_in_silence() {
    let dir = tempfile::tempdir().unwrap();
    let rec = start_recording(None, "quiet", RecorderConfig::new(dir.path()))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let r = rec.finish().await.unwrap();
    let wav = Wav::read(&r.path);
    assert!(
        (0.38..0.6).contains(&wav.duration()),
        "padded to the finish: {} s",
        wav.duration()
    );
    assert!(wav.left.iter().chain(&wav.right).all(|&s| s == 0));
}

#[tokio::test]
async fn an_unusable_root_fails_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let err = start_recording(None, "c10", RecorderConfig::new(&not_a_dir))
        .await
        .unwrap_err();
    assert!(matches!(err, RecorderError::File(_)), "{err}");
}

/// Runs itself again under `ulimit -f 24` (24 KiB per file, SIGXFSZ ignored)
/// so the file cannot grow past ~0.75 s of audio: the write error must end
/// the recording (not the call), and leave a repaired file and row.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_write_error_ends_the_recording_not_the_call() {
    const CHILD: &str = "SWITCHBOARD_RECORDER_FILE_LIMIT_TEST";
    let Some(root) = std::env::var_os(CHILD) else {
        let dir = tempfile::tempdir().unwrap();
        let name = "media::recorder::tests::a_write_error_ends_the_recording_not_the_call";
        let out = std::process::Command::new("bash")
            .args(["-c", "trap '' XFSZ; ulimit -f 24; exec \"$0\" \"$@\""])
            .arg(std::env::current_exe().unwrap())
            .args([name, "--exact", "--test-threads=1"])
            .env(CHILD, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    };
    let store = store_with_call("c11").await;
    let mut cfg = RecorderConfig::new(PathBuf::from(root));
    // no header update before the error: only the repair makes audio count
    cfg.wav.writer.checkpoint_interval = Duration::from_secs(60);
    let rec = start_recording(Some(store.clone()), "c11", cfg)
        .await
        .unwrap();
    let tap = rec.tap_sender();
    let mut all: Vec<TapFrame> = [caller_tone(&rec), agent_tone(&rec)].concat();
    all.sort_by_key(|f| f.arrival);
    for f in all {
        // the relay's try_send would see the channel closed and untap
        if tap.send(f).await.is_err() {
            break;
        }
    }
    let result = rec.finish().await.unwrap();
    assert!(tap.is_closed());

    assert!(
        matches!(result.write_error, Some(WavError::Io { .. })),
        "{:?}",
        result.write_error
    );
    let secs = result.duration.as_secs_f64();
    assert!((0.7..1.0).contains(&secs), "kept {secs} s");
    let wav = Wav::read(&result.path);
    assert!((wav.duration() - secs).abs() < 0.001);
    assert_spans("left", &wav.left[..RATE * 7 / 10], &[0.0..1.0]);
    let row = store.recordings_for_call("c11").await.unwrap().remove(0);
    assert_eq!(row.state, RecordingState::Repaired);
    assert_eq!(row.duration_ms, Some(result.duration.as_millis() as i64));
}

/// Zero crossings per second of `x` at `rate`, halved: a tone's frequency.
fn crossing_frequency(x: &[i16], rate: usize) -> f64 {
    let crossings = x.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    crossings as f64 / 2.0 / (x.len() as f64 / rate as f64)
}

#[tokio::test]
async fn a_wideband_leg_is_recorded_at_its_rate_and_the_narrowband_one_upsampled() {
    const WIDE: usize = 16_000;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RecorderConfig::new(dir.path());
    cfg.sample_rate = WIDE as u32;
    let rec = start_recording(None, "wide", cfg).await.unwrap();
    // Caller: 1 s of 440 Hz as PCMU from t = 0 (8 kHz).
    let caller = frames(
        LegId::A,
        AudioCodec::Pcmu,
        &tone(440.0, RATE),
        1000,
        rec.started_at(),
    );
    // Agent: 1 s of 5 kHz (above what 8 kHz can carry) as G.722 from 0.5 s.
    let wide_tone: Vec<i16> = (0..WIDE)
        .map(|i| {
            (8000.0 * (2.0 * std::f64::consts::PI * 5000.0 * i as f64 / WIDE as f64).sin()) as i16
        })
        .collect();
    let mut encoder = crate::media::codec::G722Encoder::new();
    let start = rec.started_at() + secs(0.5);
    let agent: Vec<TapFrame> = wide_tone
        .chunks(320)
        .enumerate()
        .map(|(i, chunk)| {
            let mut payload = vec![0u8; 160];
            encoder.encode_into(chunk, &mut payload);
            TapFrame {
                leg: LegId::B,
                payload_type: 9,
                codec: AudioCodec::G722,
                // G.722's RTP clock is 8000 although it samples at 16 kHz.
                rtp_timestamp: 500 + (i * 160) as u32,
                arrival: start + Duration::from_millis(20 * i as u64),
                payload: Bytes::from(payload),
            }
        })
        .collect();
    play(&rec, vec![caller, agent]).await;
    let r = rec.finish().await.unwrap();
    assert_eq!(r.agent.frames, 50, "{r:?}");
    assert_eq!(r.agent.unsupported_frames, 0);
    let mut reader = hound::WavReader::open(&r.path).unwrap();
    assert_eq!(reader.spec().sample_rate, WIDE as u32);
    assert_eq!(reader.spec().channels, 2);
    let all: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let left: Vec<i16> = all.iter().step_by(2).copied().collect();
    let right: Vec<i16> = all.iter().skip(1).step_by(2).copied().collect();
    let seconds = left.len() as f64 / WIDE as f64;
    assert!((1.45..1.6).contains(&seconds), "{seconds} s");
    // The middle of each span: the agent's 5 kHz survived, the caller's
    // 440 Hz was upsampled, not shifted.
    let agent_mid = &right[WIDE * 8 / 10..WIDE * 12 / 10];
    let caller_mid = &left[WIDE * 3 / 10..WIDE * 7 / 10];
    let f_agent = crossing_frequency(agent_mid, WIDE);
    let f_caller = crossing_frequency(caller_mid, WIDE);
    assert!((f_agent - 5000.0).abs() < 150.0, "agent {f_agent} Hz");
    assert!((f_caller - 440.0).abs() < 20.0, "caller {f_caller} Hz");
    // Silence before the agent started.
    assert!(right[..WIDE * 4 / 10].iter().all(|&s| s.abs() < 50));
}
