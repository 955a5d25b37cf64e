//! Prompt loading: any common PCM/float WAV to mono `i16`.
//!
//! Decoding is done by `hound`: integer PCM of 8, 16, 24 or 32 bits and
//! 32-bit IEEE float, any sample rate, any channel count. Samples are scaled
//! to 16 bits (integer: arithmetic shift, i.e. truncation of the low bits;
//! float: clamped to [-1, 1] and rounded) and channels are averaged into one.
//! Resampling to a leg's rate is done elsewhere; the prompt keeps its rate.

use std::path::{Path, PathBuf};

use super::{Result, WavError};

/// A decoded prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// Mono samples.
    pub samples: Vec<i16>,
    /// Sample rate of `samples`, as in the file.
    pub sample_rate: u32,
}

impl Prompt {
    /// Playing time of the prompt.
    pub fn duration(&self) -> std::time::Duration {
        let rate = u64::from(self.sample_rate.max(1));
        let n = self.samples.len() as u64;
        std::time::Duration::from_secs(n / rate)
            + std::time::Duration::from_nanos((n % rate) * 1_000_000_000 / rate)
    }
}

/// Reads the prompt at `path` as mono 16-bit samples plus its sample rate.
/// Errors name the path.
pub fn read_prompt(path: impl AsRef<Path>) -> Result<Prompt> {
    let path = path.as_ref();
    let decode = |source| WavError::Decode {
        path: path.to_path_buf(),
        source,
    };
    let reader = hound::WavReader::open(path).map_err(decode)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 || spec.sample_rate == 0 {
        return Err(unsupported(path, "zero channels or sample rate"));
    }
    let frames = reader.duration() as usize;
    let mut samples = Vec::with_capacity(frames);
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            let to16 = |v: i32| -> i32 {
                if bits <= 16 {
                    v << (16 - bits)
                } else {
                    v >> (bits - 16)
                }
            };
            let mut acc = 0i64;
            for (i, s) in reader.into_samples::<i32>().enumerate() {
                acc += i64::from(to16(s.map_err(decode)?));
                if (i + 1) % channels == 0 {
                    samples.push((acc / channels as i64) as i16);
                    acc = 0;
                }
            }
        }
        (hound::SampleFormat::Float, 32) => {
            let mut acc = 0f32;
            for (i, s) in reader.into_samples::<f32>().enumerate() {
                let v = s.map_err(decode)?;
                acc += if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) };
                if (i + 1) % channels == 0 {
                    samples.push(float_to_i16(acc / channels as f32));
                    acc = 0.0;
                }
            }
        }
        (format, bits) => {
            return Err(unsupported(path, &format!("{bits}-bit {format:?} samples")));
        }
    }
    Ok(Prompt {
        samples,
        sample_rate: spec.sample_rate,
    })
}

fn float_to_i16(v: f32) -> i16 {
    (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

fn unsupported(path: &Path, reason: &str) -> WavError {
    WavError::Unsupported {
        path: PathBuf::from(path),
        reason: reason.into(),
    }
}
