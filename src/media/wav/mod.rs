//! WAV files for the media core: crash-safe call recordings and prompt loading.
//!
//! * [`WavWriter`] writes 16-bit PCM WAV (mono or stereo) with our own header
//!   code and rewrites the RIFF/`data` sizes at regular checkpoints, so a
//!   process killed at any moment leaves a playable file (see `writer.rs`).
//! * [`StereoRecorder`] puts the caller on the left channel and the agent on
//!   the right, aligning the two legs by sample position (see `stereo.rs`).
//! * [`repair`] / [`scan_and_repair`] fix the sizes of files left open by a
//!   crash; the switch runs the scan at start-up (see `repair.rs`).
//! * [`read_prompt`] loads a prompt of any common PCM/float format as mono
//!   `i16` plus its sample rate (see `reader.rs`).
//! * [`recording_path`] builds `recordings/YYYY/MM/DD/<call-id>.wav`.
//!
//! This module depends on nothing else in the crate.

mod naming;
mod reader;
mod repair;
mod stereo;
mod writer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_misc;
#[cfg(test)]
mod tests_repair;

use std::io;
use std::path::PathBuf;

pub use naming::{RecordingDate, create_recording_path, recording_path, sanitize_call_id};
pub use reader::{Prompt, read_prompt};
pub use repair::{RepairOutcome, ScanReport, repair, scan_and_repair};
pub use stereo::{Leg, StereoOptions, StereoRecorder};
pub use writer::{PcmFormat, RecordingSummary, SyncPolicy, WavWriter, WriterOptions};

/// Errors from the WAV writer, repairer and prompt reader.
///
/// Every variant tied to a file names its path.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// An I/O operation on `path` failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file is not a RIFF/WAVE file (or is too short to tell).
    #[error("{path}: not a WAV file: {reason}")]
    NotWav {
        /// The offending file.
        path: PathBuf,
        /// What was wrong.
        reason: &'static str,
    },
    /// The file is a WAV file, but one this code cannot safely handle.
    #[error("{path}: unsupported WAV file: {reason}")]
    Unsupported {
        /// The offending file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// hound could not decode a prompt.
    #[error("{path}: cannot read WAV prompt: {source}")]
    Decode {
        /// The prompt file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: hound::Error,
    },
    /// Invalid writer parameters (channel count, sample rate, options).
    #[error("invalid WAV writer settings: {0}")]
    InvalidSettings(String),
    /// Interleaved input whose length is not a whole number of frames.
    #[error("{samples} samples is not a whole number of {channels}-channel frames")]
    PartialFrame {
        /// Number of samples passed.
        samples: usize,
        /// Channels per frame.
        channels: u16,
    },
    /// The recording would exceed the 4 GiB limit of the WAV size fields.
    #[error("{path}: WAV size limit (4 GiB) reached; start a new file")]
    TooLarge {
        /// The recording file.
        path: PathBuf,
    },
    /// The writer already failed or was finished and refuses further use.
    #[error("{path}: writer is closed after an earlier error")]
    Closed {
        /// The recording file.
        path: PathBuf,
    },
}

/// Result type of this module.
pub type Result<T, E = WavError> = std::result::Result<T, E>;

/// Wraps an `io::Error` with the path it concerns.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> WavError {
    let path = path.into();
    move |source| WavError::Io { path, source }
}
