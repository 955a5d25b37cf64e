//! Crash-simulation and repair tests (sox is used when installed).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use proptest::prelude::*;

use super::tests::{opts, read_all, signal};
use super::*;

const SOX: &str = "/usr/bin/sox";

fn header_sizes(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    (
        u32::from_le_bytes(b[4..8].try_into().unwrap()),
        u32::from_le_bytes(b[40..44].try_into().unwrap()),
    )
}

/// `sox --i -s` (samples per channel) and `-D` (seconds) of `path`, or `None`
/// when sox is not installed.
fn sox_info(path: &Path) -> Option<(u64, f64)> {
    if !Path::new(SOX).exists() {
        eprintln!("SKIPPED sox check: {SOX} is not installed (the CI install script installs it)");
        return None;
    }
    let run = |flag: &str| {
        let out = Command::new(SOX)
            .args(["--i", flag])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sox --i {flag} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    Some((run("-s").parse().unwrap(), run("-D").parse().unwrap()))
}

#[test]
fn crash_mono_keeps_checkpointed_audio_and_repair_recovers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.wav");
    // Small buffer so audio past the last checkpoint reaches the file.
    let o = WriterOptions {
        buffer_capacity: 1000,
        ..opts(500)
    };
    let mut w = WavWriter::create(&path, PcmFormat::mono(8000), o).unwrap();
    let data = signal(8000 * 33 / 10, 7); // 3.3 s in 20 ms frames
    for frame in data.chunks(160) {
        w.write_frames(frame).unwrap();
    }
    std::mem::forget(w); // "killed": no finish, no drop
    let (riff, data_len) = header_sizes(&path);
    assert_eq!(
        (riff, data_len),
        (36 + 48_000, 48_000),
        "header at the 3.0 s checkpoint"
    );
    let got = read_all(&path).1;
    assert_eq!(got, data[..24_000]);
    if let Some((samples, secs)) = sox_info(&path) {
        assert_eq!(samples, 24_000);
        assert!((secs - 3.0).abs() < 1e-3, "sox duration {secs}");
    }
    let len = std::fs::metadata(&path).unwrap().len();
    let on_disk = (len - 44) / 2;
    assert!(
        on_disk > 24_000 + 1000,
        "buffer spills reached the file: {on_disk}"
    );
    let outcome = repair(&path).unwrap();
    let want = RepairOutcome::Repaired {
        old_data_len: 48_000,
        new_data_len: on_disk as u32 * 2,
        bytes_truncated: 0,
    };
    assert_eq!(outcome, want);
    assert_eq!(read_all(&path).1, data[..on_disk as usize]);
    if let Some((samples, secs)) = sox_info(&path) {
        assert_eq!(samples, on_disk);
        assert!(
            (secs - on_disk as f64 / 8000.0).abs() < 1e-3,
            "sox duration {secs}"
        );
    }
    assert_eq!(repair(&path).unwrap(), RepairOutcome::Healthy);
}

#[test]
fn crash_stereo_recorder_with_partial_frame_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("st.wav");
    let o = StereoOptions {
        max_skew: Duration::from_millis(100),
        writer: WriterOptions {
            buffer_capacity: 512,
            ..opts(250)
        },
    };
    let mut r = StereoRecorder::create(&path, 16_000, o).unwrap();
    let (left, right) = (signal(16_000 * 2, 1), signal(16_000 * 2, 2));
    for i in 0..97 {
        r.write(Leg::Caller, i as u64 * 320, &left[i * 320..][..320])
            .unwrap();
        r.write(Leg::Agent, i as u64 * 320, &right[i * 320..][..320])
            .unwrap();
    }
    std::mem::forget(r);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, &[1, 2, 3]).unwrap(); // a torn frame
    drop(f);
    let before = read_all(&path).1;
    assert_eq!(before.len(), 2 * 28_000, "header at the 1.75 s checkpoint");
    let len = std::fs::metadata(&path).unwrap().len();
    let frames = (len - 44) / 4;
    let RepairOutcome::Repaired {
        bytes_truncated, ..
    } = repair(&path).unwrap()
    else {
        panic!("not repaired")
    };
    assert_eq!(bytes_truncated, 3);
    let after = read_all(&path).1;
    assert_eq!(after.len() as u64, frames * 2);
    assert!(frames > 28_000);
    for (k, pair) in after.chunks(2).enumerate() {
        assert_eq!((pair[0], pair[1]), (left[k], right[k]), "frame {k}");
    }
    if let Some((samples, _)) = sox_info(&path) {
        assert_eq!(samples, frames);
    }
}

fn finished_file(dir: &Path, name: &str, frames: usize) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut w = WavWriter::create(&path, PcmFormat::mono(8000), opts(100)).unwrap();
    w.write_frames(&signal(frames, 3)).unwrap();
    w.finish().unwrap();
    path
}

#[test]
fn repair_leaves_healthy_files_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = finished_file(dir.path(), "ok.wav", 8000);
    let before = std::fs::read(&path).unwrap();
    assert_eq!(repair(&path).unwrap(), RepairOutcome::Healthy);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let empty = finished_file(dir.path(), "empty.wav", 0);
    assert_eq!(repair(&empty).unwrap(), RepairOutcome::Healthy);
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 44);
}

#[test]
fn trailing_list_chunk_is_kept_and_only_riff_size_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let path = finished_file(dir.path(), "list.wav", 1001);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"LIST\x05\0\0\0INFOx\0");
    let riff = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(repair(&path).unwrap(), RepairOutcome::Healthy);
    bytes[4..8].copy_from_slice(&(riff - 14).to_le_bytes()); // stale RIFF size
    std::fs::write(&path, &bytes).unwrap();
    let outcome = repair(&path).unwrap();
    assert_eq!(
        outcome,
        RepairOutcome::Repaired {
            old_data_len: 2002,
            new_data_len: 2002,
            bytes_truncated: 0
        }
    );
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn repair_header_only_and_odd_trailing_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = finished_file(dir.path(), "h.wav", 8000);
    let original = std::fs::read(&path).unwrap();
    std::fs::write(&path, &original[..44]).unwrap(); // header says 1 s, no audio
    let outcome = repair(&path).unwrap();
    assert_eq!(
        outcome,
        RepairOutcome::Repaired {
            old_data_len: 16_000,
            new_data_len: 0,
            bytes_truncated: 0
        }
    );
    assert_eq!(header_sizes(&path), (36, 0));
    assert!(read_all(&path).1.is_empty());

    let mut odd = original.clone();
    odd.push(0x55);
    std::fs::write(&path, &odd).unwrap();
    let outcome = repair(&path).unwrap();
    assert_eq!(
        outcome,
        RepairOutcome::Repaired {
            old_data_len: 16_000,
            new_data_len: 16_000,
            bytes_truncated: 1
        }
    );
    assert_eq!(std::fs::read(&path).unwrap(), original);
}

#[test]
fn repair_refuses_non_wav_and_truncated_headers_without_touching_them() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(finished_file(dir.path(), "g.wav", 100)).unwrap();
    let mut mp3_tag = good.clone();
    mp3_tag[20] = 0x55;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "text.wav",
            b"hello, this is not audio at all............................".to_vec(),
        ),
        ("empty.wav", Vec::new()),
        ("short.wav", good[..30].to_vec()),
        ("nofmt.wav", [&good[..12], b"data\0\0\0\0"].concat()),
        ("mp3.wav", mp3_tag),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = repair(&path).unwrap_err();
        assert!(
            matches!(err, WavError::NotWav { .. } | WavError::Unsupported { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} modified");
    }
    assert!(matches!(
        repair(dir.path().join("missing.wav")),
        Err(WavError::Io { .. })
    ));
}

#[test]
fn scan_repairs_only_broken_wavs_in_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("2025/03/07");
    std::fs::create_dir_all(&day).unwrap();
    let healthy = finished_file(&day, "a.wav", 500);
    let broken = finished_file(&day, "b.WAV", 500);
    let mut bytes = std::fs::read(&broken).unwrap();
    bytes[4..8].copy_from_slice(&236u32.to_le_bytes()); // as a crash leaves it
    bytes[40..44].copy_from_slice(&200u32.to_le_bytes());
    std::fs::write(&broken, &bytes).unwrap();
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"nope").unwrap();
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, b"RIFF").unwrap();
    let report = scan_and_repair(dir.path()).unwrap();
    assert_eq!(report.healthy, vec![healthy]);
    assert_eq!(report.repaired.len(), 1);
    assert_eq!(report.repaired[0].0, broken);
    assert_eq!(read_all(&broken).1, signal(500, 3));
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, junk);
    assert!(scan_and_repair(dir.path().join("none")).is_err());
    assert!(scan_and_repair(&other).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any cut point and any stale header: repair yields exactly the complete
    /// frames present, with their original values.
    #[test]
    fn repair_recovers_every_complete_frame(cut in 44usize..4044, stale in 0u32..5000) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.wav");
        let mut w = WavWriter::create(&path, PcmFormat::stereo(8000), opts(1000)).unwrap();
        let data = signal(2000, 4);
        w.write_frames(&data).unwrap();
        w.finish().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(cut);
        bytes[4..8].copy_from_slice(&(stale + 36).to_le_bytes());
        bytes[40..44].copy_from_slice(&stale.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        repair(&path).unwrap();
        let frames = (cut - 44) / 4;
        prop_assert_eq!(read_all(&path).1, data[..frames * 2].to_vec());
        prop_assert_eq!(std::fs::metadata(&path).unwrap().len(), 44 + frames as u64 * 4);
        prop_assert_eq!(repair(&path).unwrap(), RepairOutcome::Healthy);
    }
}
