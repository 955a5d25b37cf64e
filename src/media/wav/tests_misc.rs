//! Tests of recording-path naming and the prompt reader.

use std::path::Path;
use std::time::Duration;

use super::tests::signal;
use super::*;

#[test]
fn naming_layout_sanitizing_and_dates() {
    let d = RecordingDate {
        year: 2025,
        month: 3,
        day: 7,
    };
    let p = recording_path("recordings", d, "a84b4c76e66710@pc33.example.com");
    assert_eq!(
        p,
        Path::new("recordings/2025/03/07/a84b4c76e66710_pc33.example.com.wav")
    );
    assert_eq!(sanitize_call_id("../../etc/passwd"), "_._.._etc_passwd");
    assert_eq!(sanitize_call_id(""), "_");
    assert_eq!(sanitize_call_id("é x"), "__x");
    let long_a = sanitize_call_id(&"a".repeat(300));
    let long_b = sanitize_call_id(&format!("{}b", "a".repeat(299)));
    assert!(long_a.len() < 210 && long_a != long_b);
    for (days, date) in [
        (0, (1970, 1, 1)),
        (11_016, (2000, 2, 29)),
        (20_088, (2024, 12, 31)),
        (-1, (1969, 12, 31)),
    ] {
        let got = RecordingDate::from_days_since_epoch(days);
        assert_eq!((got.year, got.month, got.day), date, "day {days}");
    }
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14T22:13:20Z
    assert_eq!(
        RecordingDate::from_system_time(t),
        RecordingDate {
            year: 2023,
            month: 11,
            day: 14
        }
    );
    let dir = tempfile::tempdir().unwrap();
    let p = create_recording_path(dir.path(), d, "call/1").unwrap();
    assert!(p.parent().unwrap().is_dir());
    assert_eq!(p.file_name().unwrap(), "call_1.wav");
}

fn write_hound<S: hound::Sample + Copy>(path: &Path, spec: hound::WavSpec, samples: &[S]) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

fn spec(channels: u16, rate: u32, bits: u16, float: bool) -> hound::WavSpec {
    let sample_format = if float {
        hound::SampleFormat::Float
    } else {
        hound::SampleFormat::Int
    };
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format,
    }
}

#[test]
fn prompt_formats_to_mono_i16() {
    let dir = tempfile::tempdir().unwrap();
    let p16 = dir.path().join("p16.wav");
    let data = signal(8000, 4);
    write_hound(&p16, spec(1, 8000, 16, false), &data);
    assert_eq!(
        read_prompt(&p16).unwrap(),
        Prompt {
            samples: data,
            sample_rate: 8000
        }
    );

    let p8 = dir.path().join("p8.wav");
    write_hound(&p8, spec(1, 8000, 8, false), &[-128i8, -1, 0, 1, 127]);
    assert_eq!(
        read_prompt(&p8).unwrap().samples,
        vec![-32768, -256, 0, 256, 32512]
    );

    let p24 = dir.path().join("p24.wav");
    write_hound(
        &p24,
        spec(1, 16000, 24, false),
        &[0x7F_FFFFi32, -0x80_0000, 0x100, 0xFF],
    );
    assert_eq!(
        read_prompt(&p24).unwrap().samples,
        vec![32767, -32768, 1, 0]
    );

    let p32 = dir.path().join("p32.wav");
    write_hound(
        &p32,
        spec(2, 48000, 32, false),
        &[i32::MAX, i32::MAX, i32::MIN, 0],
    );
    assert_eq!(read_prompt(&p32).unwrap().samples, vec![32767, -16384]);

    let pf = dir.path().join("pf.wav");
    let frames = 44_100 + 50;
    let mut st = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        st.push(if i % 2 == 0 { 0.5f32 } else { -1.5 });
        st.push(if i % 2 == 0 { 0.25f32 } else { -1.0 });
    }
    write_hound(&pf, spec(2, 44_100, 32, true), &st);
    let p = read_prompt(&pf).unwrap();
    assert_eq!((p.samples.len(), p.sample_rate), (frames, 44_100));
    assert_eq!(&p.samples[..2], &[12_288, -32_767]);
    assert!(p.duration() > Duration::from_secs(1));
}

#[test]
fn prompt_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wav");
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"this is not a wav file at all").unwrap();
    for p in [&missing, &junk] {
        let err = read_prompt(p).unwrap_err();
        assert!(matches!(&err, WavError::Decode { path, .. } if path == p));
        assert!(err.to_string().contains(p.to_str().unwrap()), "{err}");
    }
}
