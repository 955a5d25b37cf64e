//! Spoken test audio: sentences said by a flite voice, resampled by sox to
//! the 16 kHz of wideband calls, and WAV files laid out from samples. Used
//! by the QA tests and the QA benchmark; flite and sox are installed by
//! `scripts/install-deps.sh`, and a missing one fails loudly.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::{Command, Stdio};

/// The sample rate of the speech (and of G.722 calls' recordings).
pub const SPEECH_RATE: u32 = 16_000;

/// Fails the caller unless flite has `voice` (`flite -lv`).
pub fn require_voice(voice: &str) {
    super::require_program("flite", "flite");
    let out = Command::new("flite")
        .arg("-lv")
        .stdin(Stdio::null())
        .output()
        .expect("run flite -lv");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .any(|v| v == voice),
        "flite has no voice {voice}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `text` said by flite's `voice`, as 16 kHz mono samples. Kept in `dir`
/// under a name from the voice and text, so a sentence said twice is made
/// once.
pub fn speak(dir: &Path, voice: &str, text: &str) -> Vec<i16> {
    super::require_program("flite", "flite");
    super::require_program("sox", "sox");
    let mut h = DefaultHasher::new();
    (voice, text).hash(&mut h);
    let wav = dir.join(format!("{voice}-{:016x}.wav", h.finish()));
    if !wav.is_file() {
        let raw = dir.join(format!("{voice}-{:016x}.flite.wav", h.finish()));
        let out = Command::new("flite")
            .args(["-voice", voice, "-t", text, "-o"])
            .arg(&raw)
            .stdin(Stdio::null())
            .output()
            .expect("run flite");
        assert!(
            out.status.success() && raw.is_file(),
            "flite -voice {voice} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new("sox")
            .arg(&raw)
            .args(["-r", &SPEECH_RATE.to_string(), "-c", "1", "-b", "16"])
            .arg(&wav)
            .stdin(Stdio::null())
            .output()
            .expect("run sox");
        assert!(
            out.status.success(),
            "sox could not convert flite's WAV: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = fs::remove_file(&raw);
    }
    let mut reader = hound::WavReader::open(&wav).expect("sox's WAV");
    assert_eq!(reader.spec().sample_rate, SPEECH_RATE);
    reader.samples::<i16>().map(Result::unwrap).collect()
}

/// Writes a 16-bit WAV at `rate` with one channel per slice (left first);
/// a shorter channel is padded with silence.
pub fn write_wav(path: &Path, rate: u32, channels: &[&[i16]]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let len = channels.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut w = hound::WavWriter::create(path, spec)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    for i in 0..len {
        for c in channels {
            w.write_sample(c.get(i).copied().unwrap_or(0)).unwrap();
        }
    }
    w.finalize().unwrap();
}
