//! Tests of the WAV writer and the stereo recorder. Repair and crash tests
//! are in `tests_repair.rs`, naming and prompt tests in `tests_misc.rs`.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

pub(super) fn opts(checkpoint_ms: u64) -> WriterOptions {
    WriterOptions {
        checkpoint_interval: Duration::from_millis(checkpoint_ms),
        ..WriterOptions::default()
    }
}

/// All samples (interleaved) and the spec, via hound.
pub(super) fn read_all(path: &Path) -> (hound::WavSpec, Vec<i16>) {
    let mut r = hound::WavReader::open(path).expect("hound opens the file");
    let spec = r.spec();
    let s = r
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .expect("samples decode");
    (spec, s)
}

/// A deterministic non-silent test signal (never 0, so padding is visible).
pub(super) fn signal(n: usize, seed: i16) -> Vec<i16> {
    (0..n)
        .map(|i| ((i as i32 * 37 + i32::from(seed) * 101) % 20_000 + 1) as i16)
        .collect()
}

fn split(stereo: &[i16]) -> (Vec<i16>, Vec<i16>) {
    (
        stereo.iter().step_by(2).copied().collect(),
        stereo.iter().skip(1).step_by(2).copied().collect(),
    )
}

#[test]
fn mono_roundtrip_exact_at_common_rates() {
    let dir = tempfile::tempdir().unwrap();
    for rate in [8000, 16000, 48000, 11025] {
        let path = dir.path().join(format!("m{rate}.wav"));
        let mut w = WavWriter::create(&path, PcmFormat::mono(rate), opts(100)).unwrap();
        let data = signal(rate as usize * 2 + 77, 3);
        for chunk in data.chunks(333) {
            w.write_frames(chunk).unwrap();
        }
        let sum = w.finish().unwrap();
        assert_eq!(sum.frames, data.len() as u64);
        assert_eq!(sum.samples, data.len() as u64);
        assert_eq!(
            sum.duration,
            PcmFormat::mono(rate).duration_of(data.len() as u64)
        );
        assert!(sum.duration > Duration::from_secs(2));
        let (spec, got) = read_all(&path);
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, rate, 16)
        );
        assert_eq!(got, data);
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len, 44 + 2 * data.len() as u64);
    }
}

#[test]
fn stereo_interleaved_roundtrip_and_partial_frame_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.wav");
    let mut w = WavWriter::create(&path, PcmFormat::stereo(8000), opts(50)).unwrap();
    let data = signal(2 * 5000, 1);
    w.write_frames(&data).unwrap();
    assert!(matches!(
        w.write_frames(&[1, 2, 3]),
        Err(WavError::PartialFrame {
            samples: 3,
            channels: 2
        })
    ));
    let sum = w.finish().unwrap();
    assert_eq!((sum.frames, sum.samples), (5000, 10000));
    let (spec, got) = read_all(&path);
    assert_eq!(spec.channels, 2);
    assert_eq!(got, data);
}

#[test]
fn create_refuses_existing_file_and_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.wav");
    std::fs::write(&path, b"keep").unwrap();
    let err = WavWriter::create(&path, PcmFormat::mono(8000), opts(100))
        .err()
        .unwrap();
    assert!(
        matches!(&err, WavError::Io { path: p, .. } if p == &path),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    let o = WriterOptions {
        overwrite: true,
        ..opts(100)
    };
    WavWriter::create(&path, PcmFormat::mono(8000), o)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 44);
    let p2 = dir.path().join("y.wav");
    for f in [
        PcmFormat {
            channels: 3,
            sample_rate: 8000,
        },
        PcmFormat::mono(0),
    ] {
        assert!(matches!(
            WavWriter::create(&p2, f, opts(100)),
            Err(WavError::InvalidSettings(_))
        ));
    }
    assert!(WavWriter::create(&p2, PcmFormat::mono(8000), opts(0)).is_err());
    assert!(!p2.exists());
}

#[test]
fn finished_writer_is_closed_and_drop_finalizes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.wav");
    let data = signal(1234, 9);
    {
        let mut w = WavWriter::create(&path, PcmFormat::mono(8000), opts(1000)).unwrap();
        w.write_frames(&data).unwrap(); // below one checkpoint: only drop writes the header
    }
    assert_eq!(read_all(&path).1, data);
}

#[test]
fn header_on_disk_never_lags_more_than_one_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.wav");
    // 8 kHz, 250 ms = 2000 frames per checkpoint.
    let mut w = WavWriter::create(&path, PcmFormat::mono(8000), opts(250)).unwrap();
    let mut written = 0u64;
    for n in [10, 1999, 1, 4000, 17_777, 3, 160, 160, 8000 * 3] {
        w.write_frames(&signal(n, 2)).unwrap();
        written += n as u64;
        let bytes = std::fs::read(&path).unwrap();
        let data = u64::from(u32::from_le_bytes(bytes[40..44].try_into().unwrap()));
        let riff = u64::from(u32::from_le_bytes(bytes[4..8].try_into().unwrap()));
        assert_eq!(riff, data + 36);
        assert_eq!(data % 2, 0);
        let header_frames = data / 2;
        assert!(
            header_frames <= written && written - header_frames < 2000,
            "{header_frames} vs {written}"
        );
        assert!(
            bytes.len() as u64 >= 44 + data,
            "header covers only data on disk"
        );
    }
    w.finish().unwrap();
}

#[test]
fn mono_pause_writes_silence_and_keeps_duration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.wav");
    let mut w = WavWriter::create(&path, PcmFormat::mono(8000), opts(100)).unwrap();
    let a = signal(8000, 1);
    w.write_frames(&a).unwrap();
    w.set_paused(true);
    assert!(w.is_paused());
    w.write_frames(&signal(8000, 2)).unwrap();
    w.write_silence(800).unwrap();
    w.set_paused(false);
    w.write_frames(&a).unwrap();
    let sum = w.finish().unwrap();
    assert_eq!(sum.duration, Duration::from_millis(3100));
    assert_eq!(sum.paused_frames, 8800);
    let got = read_all(&path).1;
    assert_eq!(got.len(), 24_800);
    assert_eq!(&got[..8000], &a[..]);
    assert!(got[8000..16_800].iter().all(|&s| s == 0));
    assert_eq!(&got[16_800..], &a[..]);
}

#[test]
fn mono_write_at_pads_gaps_and_drops_late_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("at.wav");
    let mut w = WavWriter::create(&path, PcmFormat::mono(8000), opts(100)).unwrap();
    assert_eq!(w.write_at(100, &[1, 2, 3]).unwrap(), 0);
    assert_eq!(w.write_at(101, &[7, 8, 9, 10]).unwrap(), 2);
    w.finish().unwrap();
    let got = read_all(&path).1;
    assert_eq!(got.len(), 105);
    assert!(got[..100].iter().all(|&s| s == 0));
    assert_eq!(&got[100..], &[1, 2, 3, 9, 10]);
}

fn stereo(dir: &Path, skew_ms: u64) -> StereoRecorder {
    let o = StereoOptions {
        max_skew: Duration::from_millis(skew_ms),
        writer: opts(100),
    };
    StereoRecorder::create(dir.join("st.wav"), 8000, o).unwrap()
}

#[test]
fn stereo_legs_in_any_arrival_order_are_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = stereo(dir.path(), 200);
    let (left, right) = (signal(16_000, 1), signal(16_000, 2));
    // 20 ms frames; the agent leg arrives 1..4 frames later than the caller,
    // with pairs of packets swapped (order 1, 0, 3, 2, ...).
    let order: Vec<usize> = (0..100).map(|i| i ^ 1).collect();
    let agent = |r: &mut StereoRecorder, j: usize| {
        r.write(Leg::Agent, j as u64 * 160, &right[j * 160..][..160])
    };
    for i in 0..100usize {
        r.write(Leg::Caller, i as u64 * 160, &left[i * 160..][..160])
            .unwrap();
        if i >= 3 {
            agent(&mut r, order[i - 3]).unwrap();
        }
    }
    for &j in &order[97..] {
        agent(&mut r, j).unwrap();
    }
    assert_eq!(r.late_samples_dropped(), 0);
    assert_eq!(r.committed_frames(), 16_000);
    agent(&mut r, 0).unwrap(); // a duplicate of an old packet is late
    assert_eq!(r.late_samples_dropped(), 160);
    let sum = r.finish().unwrap();
    assert_eq!(sum.frames, 16_000);
    let (l, rr) = split(&read_all(&dir.path().join("st.wav")).1);
    assert_eq!(l, left);
    assert_eq!(rr, right);
}

#[test]
fn stereo_absent_agent_is_silence_and_commits_with_bounded_lag() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = stereo(dir.path(), 100); // 800 frames of skew
    let left = signal(8000, 5);
    for c in left.chunks(160) {
        r.append(Leg::Caller, c).unwrap();
        assert!(r.position() - r.committed_frames() <= 800);
    }
    assert_eq!(r.committed_frames(), 8000 - 800);
    r.finish().unwrap();
    let (l, rr) = split(&read_all(&dir.path().join("st.wav")).1);
    assert_eq!(l, left);
    assert_eq!(rr, vec![0; 8000]);
}

#[test]
fn stereo_late_answer_hold_gap_and_far_jump() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = stereo(dir.path(), 60);
    let left = signal(24_000, 1);
    let agent = signal(4160, 2);
    // Agent answers at 0.5 s, talks 0.25 s, is on hold until 1 s, talks 0.25 s.
    for i in 0..150usize {
        let at = i * 160;
        r.write(Leg::Caller, at as u64, &left[at..][..160]).unwrap();
        let a = match at {
            4000..6080 => at - 4000,
            8000..10_080 => at - 5920,
            _ => continue,
        };
        r.write(Leg::Agent, at as u64, &agent[a..][..160]).unwrap();
    }
    assert_eq!(r.late_samples_dropped(), 0);
    // A jump far ahead is streamed as silence, not buffered.
    r.write(Leg::Caller, 8000 * 60, &[5; 160]).unwrap();
    assert!(r.position() - r.committed_frames() <= 2 * 480);
    let sum = r.finish().unwrap();
    assert_eq!(sum.frames, 8000 * 60 + 160);
    let (l, rr) = split(&read_all(&dir.path().join("st.wav")).1);
    assert_eq!(&l[..24_000], &left[..]);
    assert!(l[24_000..480_000].iter().all(|&s| s == 0));
    assert_eq!(&l[480_000..], &[5; 160]);
    assert!(rr[..4000].iter().all(|&s| s == 0));
    assert_eq!(&rr[4000..6080], &agent[..2080]);
    assert!(rr[6080..8000].iter().all(|&s| s == 0));
    assert_eq!(&rr[8000..10_080], &agent[2080..]);
    assert!(rr[10_080..].iter().all(|&s| s == 0));
}

#[test]
fn stereo_pause_mutes_both_channels_and_keeps_duration() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = stereo(dir.path(), 200);
    let (left, right) = (signal(8000 * 3, 1), signal(8000 * 3, 2));
    for i in 0..150usize {
        let at = i as u64 * 160;
        if i == 50 {
            r.pause_at(8000);
            assert!(r.is_paused());
        }
        if i == 100 {
            r.resume_at(16_000);
        }
        r.write(Leg::Caller, at, &left[i * 160..][..160]).unwrap();
        r.write(Leg::Agent, at, &right[i * 160..][..160]).unwrap();
    }
    let sum = r.finish().unwrap();
    assert_eq!(
        (sum.frames, sum.duration, sum.paused_frames),
        (24_000, Duration::from_secs(3), 8000)
    );
    let (l, rr) = split(&read_all(&dir.path().join("st.wav")).1);
    assert_eq!(&l[..8000], &left[..8000]);
    assert_eq!(&rr[16_000..], &right[16_000..]);
    assert!(
        l[8000..16_000]
            .iter()
            .chain(&rr[8000..16_000])
            .all(|&s| s == 0)
    );
}

#[test]
fn stereo_pause_now_mutes_pending_lagging_leg_only_after_position() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = stereo(dir.path(), 200);
    r.write(Leg::Caller, 0, &[1; 800]).unwrap();
    r.pause(); // at 800: the agent's late samples before 800 are kept
    r.write(Leg::Agent, 0, &[2; 1000]).unwrap();
    r.write(Leg::Caller, 800, &[1; 200]).unwrap();
    r.resume();
    let sum = r.finish().unwrap();
    assert_eq!(sum.paused_frames, 200);
    let (l, rr) = split(&read_all(&dir.path().join("st.wav")).1);
    assert_eq!((&l[..800], &rr[..800]), (&[1; 800][..], &[2; 800][..]));
    assert!(l[800..].iter().chain(&rr[800..]).all(|&s| s == 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// With a skew tolerance above the whole call, any interleaving of the
    /// legs' consecutive writes (with gaps) yields exactly the model.
    #[test]
    fn stereo_matches_model(ops in prop::collection::vec((any::<bool>(), 0usize..40, 1usize..400), 0..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut r = stereo(dir.path(), 100_000);
        let mut model: [Vec<i16>; 2] = [Vec::new(), Vec::new()];
        for (k, &(agent, gap, len)) in ops.iter().enumerate() {
            let (leg, l) = if agent { (Leg::Agent, 1) } else { (Leg::Caller, 0) };
            let at = model[l].len() + gap;
            let data = signal(len, k as i16);
            r.write(leg, at as u64, &data).unwrap();
            model[l].resize(at, 0);
            model[l].extend_from_slice(&data);
        }
        prop_assert_eq!(r.late_samples_dropped(), 0);
        let n = model[0].len().max(model[1].len());
        let sum = r.finish().unwrap();
        prop_assert_eq!(sum.frames, n as u64);
        for m in &mut model { m.resize(n, 0); }
        let (l, rr) = split(&read_all(&dir.path().join("st.wav")).1);
        prop_assert_eq!(&l, &model[0]);
        prop_assert_eq!(&rr, &model[1]);
    }
}
