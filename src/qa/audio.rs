//! A recording read back for QA: one [`ChannelAudio`] per side. The
//! recorder writes stereo files with the caller on the left and the agent on
//! the right; a mono file (a bare WAV given to `switchboard qa run`) is
//! taken as the agent alone.

use std::path::Path;

use super::{Channel, ChannelAudio};

/// Longest recording QA reads (4 hours); longer files are refused rather
/// than filling memory.
pub const MAX_SECONDS: u32 = 4 * 3600;

/// A recording's sides.
#[derive(Debug, Clone)]
pub struct CallAudio {
    /// `None` for a mono file.
    pub caller: Option<ChannelAudio>,
    pub agent: ChannelAudio,
}

impl CallAudio {
    /// Length in seconds (the longer side).
    pub fn duration(&self) -> f64 {
        let caller = self.caller.as_ref().map_or(0.0, ChannelAudio::duration);
        caller.max(self.agent.duration())
    }
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}: {reason}")]
    Unsupported { path: String, reason: String },
}

/// Reads a 16-bit PCM WAV file (mono or stereo).
pub fn read_recording(path: &Path) -> Result<CallAudio, AudioError> {
    let shown = path.display().to_string();
    let unreadable = |reason: String| AudioError::Unreadable {
        path: shown.clone(),
        reason,
    };
    let unsupported = |reason: String| AudioError::Unsupported {
        path: shown.clone(),
        reason,
    };
    let reader = hound::WavReader::open(path).map_err(|e| unreadable(e.to_string()))?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(unsupported(format!(
            "{}-bit {:?} samples; QA reads 16-bit PCM",
            spec.bits_per_sample, spec.sample_format
        )));
    }
    if !(1..=2).contains(&spec.channels) {
        return Err(unsupported(format!(
            "{} channels; QA reads mono (agent) or stereo (caller left, agent right)",
            spec.channels
        )));
    }
    if !(8000..=48_000).contains(&spec.sample_rate) {
        return Err(unsupported(format!(
            "{} Hz; QA reads 8 to 48 kHz",
            spec.sample_rate
        )));
    }
    let frames = reader.duration();
    if frames / spec.sample_rate > MAX_SECONDS {
        return Err(unsupported(format!(
            "{} s long; QA reads at most {MAX_SECONDS} s",
            frames / spec.sample_rate
        )));
    }
    let channels = usize::from(spec.channels);
    let mut sides: Vec<Vec<i16>> = vec![Vec::with_capacity(frames as usize); channels];
    for (i, sample) in reader.into_samples::<i16>().enumerate() {
        match sample {
            Ok(s) => sides[i % channels].push(s),
            // A file cut short by a crash keeps what was written.
            Err(hound::Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(e) => return Err(unreadable(e.to_string())),
        }
    }
    let len = sides.iter().map(Vec::len).min().unwrap_or(0);
    let mut sides = sides.into_iter().map(|mut s| {
        s.truncate(len);
        s
    });
    let side = |channel, samples: Vec<i16>| ChannelAudio {
        channel,
        rate: spec.sample_rate,
        samples,
    };
    let first = sides.next().unwrap_or_default();
    Ok(match sides.next() {
        Some(right) => CallAudio {
            caller: Some(side(Channel::Caller, first)),
            agent: side(Channel::Agent, right),
        },
        None => CallAudio {
            caller: None,
            agent: side(Channel::Agent, first),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, channels: u16, rate: u32, frames: &[[i16; 2]]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("create");
        for f in frames {
            for s in f.iter().take(usize::from(channels)) {
                w.write_sample(*s).expect("write");
            }
        }
        w.finalize().expect("finalize");
    }

    #[test]
    fn stereo_is_caller_left_agent_right() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.wav");
        write(&path, 2, 16_000, &[[1, -1], [2, -2], [3, -3]]);
        let call = read_recording(&path).expect("read");
        let caller = call.caller.expect("caller");
        assert_eq!(caller.samples, vec![1, 2, 3]);
        assert_eq!(caller.channel, Channel::Caller);
        assert_eq!(call.agent.samples, vec![-1, -2, -3]);
        assert_eq!(call.agent.rate, 16_000);
    }

    #[test]
    fn mono_is_the_agent_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("m.wav");
        write(&path, 1, 8000, &[[5, 0], [6, 0]]);
        let call = read_recording(&path).expect("read");
        assert!(call.caller.is_none());
        assert_eq!(call.agent.samples, vec![5, 6]);
        assert_eq!(call.agent.channel, Channel::Agent);
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = read_recording(&dir.path().join("none.wav"));
        assert!(matches!(missing, Err(AudioError::Unreadable { .. })));
        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"RIFF\x10\0\0\0WAVEjunk").expect("write");
        assert!(read_recording(&junk).is_err());
        let rate = dir.path().join("rate.wav");
        write(&rate, 1, 4000, &[[1, 0]]);
        assert!(matches!(
            read_recording(&rate),
            Err(AudioError::Unsupported { .. })
        ));
    }
}
