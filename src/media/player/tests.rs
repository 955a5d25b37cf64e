//! Tests of prompt conversion, the prompt cache and the player.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::media::g711::{decode_alaw_into, decode_ulaw_into};
use crate::media::wav::Prompt;

fn tone(freq: f64, rate: u32, secs: f64, amp: f64) -> Vec<i16> {
    let n = (f64::from(rate) * secs).round() as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (amp * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Writes interleaved 16-bit `channels` with hound.
fn write_wav(dir: &Path, name: &str, rate: u32, channels: &[Vec<i16>]) -> PathBuf {
    let path = dir.join(name);
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample(ch[i]).unwrap();
        }
    }
    w.finalize().unwrap();
    path
}

/// Decodes all frames of a prompt to linear samples.
fn decode(p: &EncodedPrompt) -> Vec<i16> {
    let mut out = Vec::new();
    for f in p.frames() {
        let start = out.len();
        match p.format().encoding() {
            Encoding::Pcmu => {
                out.resize(start + f.len(), 0);
                decode_ulaw_into(f, &mut out[start..]);
            }
            Encoding::Pcma => {
                out.resize(start + f.len(), 0);
                decode_alaw_into(f, &mut out[start..]);
            }
            Encoding::Linear16 => out.extend(l16_samples(f)),
        }
    }
    out
}

/// Frequency from positive-going zero crossings over `x`.
fn frequency(x: &[i16], rate: u32) -> f64 {
    let ups: Vec<usize> = (1..x.len())
        .filter(|&i| x[i - 1] < 0 && x[i] >= 0)
        .collect();
    let (first, last) = (ups[0], ups[ups.len() - 1]);
    (ups.len() - 1) as f64 * f64::from(rate) / (last - first) as f64
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Middle 80% of a signal (avoids the filters' edge transients).
fn middle(x: &[i16]) -> &[i16] {
    &x[x.len() / 10..x.len() * 9 / 10]
}

fn synthetic(frames: usize, format: OutputFormat, value: i16) -> Arc<EncodedPrompt> {
    let prompt = Prompt {
        samples: vec![value; frames * format.samples_per_frame()],
        sample_rate: format.sample_rate(),
    };
    Arc::new(EncodedPrompt::convert(
        format!("synthetic-{frames}"),
        &prompt,
        format,
    ))
}

#[test]
fn tone_16k_to_pcmu_keeps_pitch_and_level() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wav(
        dir.path(),
        "t.wav",
        16000,
        &[tone(440.0, 16000, 1.0, 16000.0)],
    );
    let p = EncodedPrompt::load(&path, OutputFormat::PCMU).unwrap();
    assert_eq!(p.frames().len(), 50);
    assert!(p.frames().iter().all(|f| f.len() == 160));
    assert_eq!(p.duration(), Duration::from_secs(1));
    let x = decode(&p);
    let f = frequency(middle(&x), 8000);
    assert!((f - 440.0).abs() < 2.0, "frequency {f}");
    let level = rms(middle(&x));
    let want = 16000.0 / 2f64.sqrt();
    assert!((level / want - 1.0).abs() < 0.03, "rms {level} vs {want}");
}

#[test]
fn integer_resampling_is_not_delayed() {
    // 50 ms of silence, then the tone: the onset must stay at 50 ms.
    let mut s = vec![0i16; 800];
    s.extend(tone(440.0, 16000, 0.2, 16000.0));
    let dir = tempfile::tempdir().unwrap();
    let path = write_wav(dir.path(), "onset.wav", 16000, &[s]);
    let x = decode(&EncodedPrompt::load(&path, OutputFormat::PCMU).unwrap());
    let onset = x.iter().position(|v| v.abs() > 500).unwrap();
    assert!((398..=406).contains(&onset), "onset at sample {onset}");
}

#[test]
fn stereo_44k1_to_pcma_keeps_pitch_and_level() {
    let dir = tempfile::tempdir().unwrap();
    let left = tone(440.0, 44100, 1.0, 20000.0);
    let right = tone(440.0, 44100, 1.0, 10000.0);
    let path = write_wav(dir.path(), "cd.wav", 44100, &[left, right]);
    let p = EncodedPrompt::load(&path, OutputFormat::PCMA).unwrap();
    assert_eq!(p.frames().len(), 50);
    assert_eq!(p.source_rate(), 44100);
    let x = decode(&p);
    assert_eq!(x.len(), 8000);
    let f = frequency(middle(&x), 8000);
    assert!((f - 440.0).abs() < 2.0, "frequency {f}");
    let level = rms(middle(&x));
    let want = 15000.0 / 2f64.sqrt();
    assert!((level / want - 1.0).abs() < 0.03, "rms {level} vs {want}");
}

#[test]
fn fallback_resampler_rejects_aliases() {
    // 6 kHz is above the 4 kHz Nyquist of the output: must not fold to 2 kHz.
    let dir = tempfile::tempdir().unwrap();
    let path = write_wav(
        dir.path(),
        "hi.wav",
        22050,
        &[tone(6000.0, 22050, 0.5, 20000.0)],
    );
    let x = decode(&EncodedPrompt::load(&path, OutputFormat::PCMU).unwrap());
    let level = rms(middle(&x));
    assert!(level < 20.0, "alias level {level} (input rms ~14142)");
}

#[test]
fn fallback_passband_is_flat_for_speech() {
    // 3 kHz through 11025 -> 8000 keeps its level within 0.5 dB.
    let x = convert_rate(&tone(3000.0, 11025, 1.0, 16000.0), 11025, 8000);
    assert_eq!(x.len(), 8000);
    // Lengths round up: 5513 samples at 11025 Hz are 4000.36 at 8 kHz.
    assert_eq!(convert_rate(&[1; 5513], 11025, 8000).len(), 4001);
    let ratio = rms(middle(&x)) / (16000.0 / 2f64.sqrt());
    assert!((0.944..1.06).contains(&ratio), "gain {ratio}");
    assert!((frequency(middle(&x), 8000) - 3000.0).abs() < 3.0);
}

#[test]
fn odd_rates_without_a_phase_bank_still_convert() {
    // 44101 / 8000 has 8000 phases x 354 taps: weights computed per output.
    let x = convert_rate(&tone(1000.0, 44101, 1.0, 16000.0), 44101, 8000);
    assert_eq!(x.len(), 8000);
    assert!((frequency(middle(&x), 8000) - 1000.0).abs() < 2.0);
    let gain = rms(middle(&x)) / (16000.0 / 2f64.sqrt());
    assert!((gain - 1.0).abs() < 0.02, "gain {gain}");
}

#[test]
fn linear16_8k_to_16k_doubles_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wav(
        dir.path(),
        "nb.wav",
        8000,
        &[tone(440.0, 8000, 1.0, 12000.0)],
    );
    let fmt = OutputFormat::linear16(16000).unwrap();
    let p = EncodedPrompt::load(&path, fmt).unwrap();
    assert_eq!(p.frames().len(), 50);
    assert!(p.frames().iter().all(|f| f.len() == 640));
    let x = decode(&p);
    assert_eq!(x.len(), 16000);
    assert!((frequency(middle(&x), 16000) - 440.0).abs() < 2.0);
    let level = rms(middle(&x)) / (12000.0 / 2f64.sqrt());
    assert!((level - 1.0).abs() < 0.02, "gain {level}");
    // 44.1 kHz -> 48 kHz (fallback upsampling) also gives whole frames.
    let path = write_wav(
        dir.path(),
        "cd.wav",
        44100,
        &[tone(1000.0, 44100, 1.0, 8000.0)],
    );
    let p = EncodedPrompt::load(&path, OutputFormat::linear16(48000).unwrap()).unwrap();
    assert_eq!(decode(&p).len(), 48000);
    assert!((frequency(middle(&decode(&p)), 48000) - 1000.0).abs() < 2.0);
}

#[test]
fn last_frame_is_padded_with_silence() {
    for (fmt, silence) in [
        (OutputFormat::PCMU, 0xFF),
        (OutputFormat::PCMA, 0xD5),
        (OutputFormat::linear16(8000).unwrap(), 0x00),
    ] {
        let prompt = Prompt {
            samples: vec![1000; 170],
            sample_rate: 8000,
        };
        let p = EncodedPrompt::convert("pad", &prompt, fmt);
        assert_eq!(p.frames().len(), 2, "{fmt}");
        let bps = fmt.bytes_per_frame() / 160;
        let tail = &p.frames()[1][10 * bps..];
        assert!(tail.iter().all(|&b| b == silence), "{fmt}");
        assert!(p.frames()[1][..10 * bps].iter().any(|&b| b != silence));
    }
}

#[test]
fn ptime_changes_frame_size() {
    let fmt = OutputFormat::PCMU.with_ptime(30).unwrap();
    let prompt = Prompt {
        samples: vec![0; 8000],
        sample_rate: 8000,
    };
    let p = EncodedPrompt::convert("p", &prompt, fmt);
    assert_eq!(p.frames().len(), 34);
    assert!(p.frames().iter().all(|f| f.len() == 240));
    assert!(OutputFormat::PCMU.with_ptime(0).is_none());
    assert!(OutputFormat::linear16(44100).is_none());
}

#[test]
fn cache_shares_and_evicts_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let t = tone(440.0, 8000, 1.0, 8000.0);
    let a = write_wav(dir.path(), "a.wav", 8000, std::slice::from_ref(&t));
    let b = write_wav(dir.path(), "b.wav", 8000, std::slice::from_ref(&t));
    let c = write_wav(dir.path(), "c.wav", 8000, &[t]);
    let size = EncodedPrompt::load(&a, OutputFormat::PCMU)
        .unwrap()
        .memory_size();
    let cache = PromptCache::new(2 * size + size / 2);

    let a1 = cache.get(&a, OutputFormat::PCMU).unwrap();
    let a2 = cache.get(&a, OutputFormat::PCMU).unwrap();
    assert!(Arc::ptr_eq(&a1, &a2));
    let a_alaw = cache.get(&a, OutputFormat::PCMA).unwrap();
    assert!(!Arc::ptr_eq(&a1, &a_alaw));
    assert_eq!(cache.len(), 2);

    // a (PCMU) is used more recently than a (PCMA): b evicts the A-law one.
    let _ = cache.get(&a, OutputFormat::PCMU).unwrap();
    let _b = cache.get(&b, OutputFormat::PCMU).unwrap();
    assert!(!cache.contains(&a, OutputFormat::PCMA));
    assert!(cache.contains(&a, OutputFormat::PCMU));
    let _ = cache.get(&a, OutputFormat::PCMU).unwrap();
    let _c = cache.get(&c, OutputFormat::PCMU).unwrap();
    assert!(!cache.contains(&b, OutputFormat::PCMU));
    assert!(cache.contains(&a, OutputFormat::PCMU));
    assert!(cache.contains(&c, OutputFormat::PCMU));
    assert_eq!(cache.total_bytes(), 2 * size);
    assert!(cache.total_bytes() <= cache.budget());
    // Still cached: same Arc as the very first load.
    assert!(Arc::ptr_eq(
        &a1,
        &cache.get(&a, OutputFormat::PCMU).unwrap()
    ));

    cache.invalidate(&a);
    assert!(!cache.contains(&a, OutputFormat::PCMU));
    assert_eq!(cache.total_bytes(), size);
    assert!(!Arc::ptr_eq(
        &a1,
        &cache.get(&a, OutputFormat::PCMU).unwrap()
    ));

    // Larger than the whole budget: served, not kept.
    let tiny = PromptCache::new(size / 2);
    assert_eq!(tiny.get(&a, OutputFormat::PCMU).unwrap().frames().len(), 50);
    assert!(tiny.is_empty());
    assert_eq!(tiny.total_bytes(), 0);
}

#[test]
fn cache_is_shared_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_wav(dir.path(), "a.wav", 8000, &[vec![100; 1600]]);
    let cache = Arc::new(PromptCache::new(1 << 20));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (cache, a) = (Arc::clone(&cache), a.clone());
            std::thread::spawn(move || cache.get(&a, OutputFormat::PCMU).unwrap())
        })
        .collect();
    let got: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let cached = cache.get(&a, OutputFormat::PCMU).unwrap();
    assert!(got.iter().all(|p| Arc::ptr_eq(p, &cached)));
    assert_eq!(cache.len(), 1);
}

/// A burst of callers reaching a new prompt together: one converts it, the
/// others wait for that conversion instead of each converting it at once.
#[test]
fn callers_asking_at_once_share_one_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_wav(
        dir.path(),
        "a.wav",
        22050,
        &[tone(440.0, 22050, 5.0, 8000.0)],
    );
    let cache = PromptCache::new(1 << 22);
    let barrier = std::sync::Barrier::new(8);
    let got: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    cache.get(&a, OutputFormat::PCMU).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(cache.conversions(), 1);
    assert!(got.iter().all(|p| Arc::ptr_eq(p, &got[0])));
    assert_eq!(got[0].duration(), Duration::from_secs(5));

    // A conversion that fails leaves nobody waiting: each caller tries.
    let missing = dir.path().join("nope.wav");
    let errors = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| cache.get(&missing, OutputFormat::PCMU).is_err()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|failed| *failed)
            .count()
    });
    assert_eq!(errors, 4);
    assert_eq!(cache.conversions(), 1 + 4);
    assert_eq!(cache.len(), 1);
}

#[test]
fn missing_or_non_wav_file_errors_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.wav");
    let cache = PromptCache::new(1 << 20);
    let err = cache.get(&missing, OutputFormat::PCMU).unwrap_err();
    assert!(err.to_string().contains("nope.wav"), "{err}");
    let text = dir.path().join("readme.wav");
    std::fs::write(&text, "this is not a wave file at all").unwrap();
    let err = cache.get(&text, OutputFormat::PCMA).unwrap_err();
    assert!(err.to_string().contains("readme.wav"), "{err}");
    assert!(cache.is_empty());
}

#[test]
fn playlist_plays_items_in_order_then_finishes_once() {
    let fmt = OutputFormat::PCMU;
    let a = synthetic(3, fmt, 1000);
    let b = synthetic(2, fmt, -1000);
    let mut player = Player::new(fmt);
    assert!(!player.is_playing());
    assert!(player.next_frame().is_none());
    let id = player
        .play(Playlist::new().prompt(a.clone()).prompt(b.clone()))
        .unwrap();
    assert!(player.is_playing());
    let frames: Vec<Frame> = std::iter::from_fn(|| player.next_frame())
        .take(10)
        .collect();
    assert_eq!(frames.len(), 5);
    let markers: Vec<bool> = frames.iter().map(|f| f.marker).collect();
    assert_eq!(markers, [true, false, false, true, false]);
    let items: Vec<usize> = frames.iter().map(|f| f.item).collect();
    assert_eq!(items, [0, 0, 0, 1, 1]);
    let lasts: Vec<bool> = frames.iter().map(|f| f.last).collect();
    assert_eq!(lasts, [false, false, false, false, true]);
    // Payloads are the cached frames themselves, not copies.
    assert_eq!(frames[1].payload.as_ptr(), a.frames()[1].as_ptr());
    assert_eq!(frames[4].payload.as_ptr(), b.frames()[1].as_ptr());
    assert!(!player.is_playing());
    assert_eq!(player.poll_event(), Some(PlayerEvent::Finished(id)));
    assert_eq!(player.poll_event(), None);
    assert!(player.next_frame().is_none());
    assert_eq!(player.poll_event(), None);
}

#[test]
fn silence_items_last_whole_frames() {
    let fmt = OutputFormat::PCMA;
    let mut player = Player::new(fmt);
    let p = synthetic(1, fmt, 500);
    player
        .play(
            Playlist::new()
                .silence(Duration::from_millis(100))
                .prompt(p)
                .silence(Duration::from_millis(50))
                .silence(Duration::ZERO),
        )
        .unwrap();
    let frames: Vec<Frame> = std::iter::from_fn(|| player.next_frame()).collect();
    assert_eq!(frames.len(), 5 + 1 + 3);
    for f in frames[..5].iter().chain(&frames[6..]) {
        assert_eq!(f.payload.len(), 160);
        assert!(f.payload.iter().all(|&b| b == 0xD5));
    }
    assert!(frames[5].payload.iter().all(|&b| b != 0xD5));
    let markers: Vec<usize> = (0..9).filter(|&i| frames[i].marker).collect();
    assert_eq!(markers, [0, 5, 6]);
    assert!(frames[8].last);
    assert!(matches!(
        player.poll_event(),
        Some(PlayerEvent::Finished(_))
    ));
}

#[test]
fn looping_plays_past_the_end_until_stopped() {
    let fmt = OutputFormat::PCMU;
    let mut player = Player::new(fmt);
    let id = player
        .play(
            Playlist::new()
                .prompt(synthetic(2, fmt, 800))
                .silence(Duration::from_millis(20))
                .looping(true),
        )
        .unwrap();
    let frames: Vec<Frame> = (0..300).map_while(|_| player.next_frame()).collect();
    assert_eq!(frames.len(), 300);
    assert!(frames.iter().all(|f| !f.last));
    assert!(
        frames
            .iter()
            .enumerate()
            .all(|(i, f)| f.marker == (i % 3 != 1))
    );
    assert!(player.is_playing());
    assert_eq!(player.poll_event(), None);
    assert!(player.stop());
    assert!(!player.stop());
    assert!(player.next_frame().is_none());
    assert_eq!(player.poll_event(), Some(PlayerEvent::Stopped(id)));
}

#[test]
fn barge_in_stops_on_a_digit_only_when_enabled() {
    let fmt = OutputFormat::PCMU;
    let p = synthetic(5, fmt, 800);
    let mut player = Player::new(fmt);
    player.play(Playlist::new().prompt(p.clone())).unwrap();
    player.next_frame().unwrap();
    assert!(!player.on_dtmf('5'));
    assert!(player.is_playing());
    assert!(player.next_frame().is_some());
    assert_eq!(player.poll_event(), None);

    let id = player
        .play(Playlist::new().prompt(p).barge_in(true))
        .unwrap();
    assert!(matches!(player.poll_event(), Some(PlayerEvent::Stopped(_))));
    player.next_frame().unwrap();
    assert!(player.on_dtmf('#'));
    assert!(!player.is_playing());
    assert!(player.next_frame().is_none());
    assert_eq!(
        player.poll_event(),
        Some(PlayerEvent::BargedIn { id, digit: '#' })
    );
    assert!(!player.on_dtmf('1'));
}

#[test]
fn empty_playlists_finish_at_once() {
    let fmt = OutputFormat::PCMU;
    let mut player = Player::new(fmt);
    let empty = Arc::new(EncodedPrompt::convert(
        "empty",
        &Prompt {
            samples: Vec::new(),
            sample_rate: 8000,
        },
        fmt,
    ));
    let id = player
        .play(Playlist::new().prompt(empty).looping(true))
        .unwrap();
    assert!(!player.is_playing());
    assert!(player.next_frame().is_none());
    assert_eq!(player.poll_event(), Some(PlayerEvent::Finished(id)));
}

#[test]
fn prompt_for_another_format_is_refused() {
    let mut player = Player::new(OutputFormat::PCMA);
    let p = synthetic(1, OutputFormat::PCMU, 0);
    let err = player.play(Playlist::new().prompt(p)).unwrap_err();
    assert!(matches!(err, PlayerError::FormatMismatch { .. }));
    assert!(err.to_string().contains("synthetic-1"), "{err}");
    assert!(!player.is_playing());
}

#[test]
fn format_for_each_leg_codec() {
    use crate::media::codec::AudioCodec;
    assert_eq!(
        OutputFormat::for_codec(AudioCodec::Pcmu),
        Some(OutputFormat::PCMU)
    );
    assert_eq!(
        OutputFormat::for_codec(AudioCodec::Pcma),
        Some(OutputFormat::PCMA)
    );
    let g722 = OutputFormat::for_codec(AudioCodec::G722).unwrap();
    assert_eq!(
        (g722.encoding(), g722.sample_rate()),
        (Encoding::Linear16, 16000)
    );
    // 20 ms of it is what the G.722 encoder turns into one 160-octet payload.
    assert_eq!(g722.samples_per_frame(), 320);
    let opus = OutputFormat::for_codec(AudioCodec::Opus).unwrap();
    assert_eq!(
        (opus.encoding(), opus.samples_per_frame()),
        (Encoding::Linear16, 960)
    );
    assert_eq!(OutputFormat::for_codec(AudioCodec::Other), None);
}
