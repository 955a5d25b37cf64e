//! Prompt playback for a leg: conversion cache plus a sans-IO player.
//!
//! * [`OutputFormat`] describes what a leg sends: PCMU/8000, PCMA/8000 or
//!   linear 16-bit (big-endian, RFC 3551 `L16`) at 8, 16 or 48 kHz, cut into
//!   frames of one packetisation time (ptime, default 20 ms). G.722 and Opus
//!   legs play linear audio at their rate and encode it as they send
//!   ([`OutputFormat::for_codec`]).
//! * [`PromptCache`] (see `cache.rs`) reads a WAV prompt once per
//!   `(path, OutputFormat)`, resamples and encodes it into shared frames
//!   ([`EncodedPrompt`]) and keeps them under a byte budget with
//!   least-recently-used eviction. It does blocking file I/O: call it from a
//!   blocking context (`spawn_blocking`), never per frame.
//! * [`Player`] (see `playlist.rs`) plays a [`Playlist`] of prompts and
//!   silences, one frame per ptime tick, with looping (music on hold) and
//!   barge-in (stop on DTMF). It does no I/O and never allocates per frame:
//!   frames are reference-counted slices of the cached prompt or of static
//!   silence.

mod cache;
mod playlist;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use super::codec::AudioCodec;
use super::wav::WavError;

pub use cache::{EncodedPrompt, PromptCache, convert_rate};
pub use playlist::{Frame, PlayItem, PlaybackId, Player, PlayerEvent, Playlist};

/// Default packetisation time.
pub const DEFAULT_PTIME_MS: u16 = 20;
/// Largest accepted packetisation time.
pub const MAX_PTIME_MS: u16 = 120;

/// Largest frame in bytes (48 kHz L16 at [`MAX_PTIME_MS`]).
const MAX_FRAME_BYTES: usize = 48 * MAX_PTIME_MS as usize * 2;
/// Static silence, sliced per frame so silence never allocates.
static SILENCE_ULAW: [u8; MAX_FRAME_BYTES] = [0xFF; MAX_FRAME_BYTES];
static SILENCE_ALAW: [u8; MAX_FRAME_BYTES] = [0xD5; MAX_FRAME_BYTES];
static SILENCE_LINEAR: [u8; MAX_FRAME_BYTES] = [0x00; MAX_FRAME_BYTES];

/// Payload encoding of a leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// G.711 mu-law, one byte per sample.
    Pcmu,
    /// G.711 A-law, one byte per sample.
    Pcma,
    /// Linear 16-bit PCM, two bytes per sample, big-endian (network order,
    /// RFC 3551 `L16`). Wideband encoders read it with [`l16_samples`].
    Linear16,
}

/// What a leg sends: encoding, sample rate and frame duration (ptime).
///
/// Built with [`OutputFormat::PCMU`], [`OutputFormat::PCMA`] or
/// [`OutputFormat::linear16`], then optionally [`OutputFormat::with_ptime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutputFormat {
    encoding: Encoding,
    sample_rate: u32,
    ptime_ms: u16,
}

impl OutputFormat {
    /// PCMU/8000, 20 ms.
    pub const PCMU: Self = Self {
        encoding: Encoding::Pcmu,
        sample_rate: 8000,
        ptime_ms: DEFAULT_PTIME_MS,
    };
    /// PCMA/8000, 20 ms.
    pub const PCMA: Self = Self {
        encoding: Encoding::Pcma,
        sample_rate: 8000,
        ptime_ms: DEFAULT_PTIME_MS,
    };

    /// Linear 16-bit at 8000, 16000 or 48000 Hz, 20 ms; `None` for other
    /// rates.
    pub const fn linear16(sample_rate: u32) -> Option<Self> {
        match sample_rate {
            8000 | 16000 | 48000 => Some(Self {
                encoding: Encoding::Linear16,
                sample_rate,
                ptime_ms: DEFAULT_PTIME_MS,
            }),
            _ => None,
        }
    }

    /// What a player should produce for a leg carrying `codec`: PCMU and
    /// PCMA as they are (stateless, so frames are encoded once and shared
    /// from the cache); for G.722 and Opus, 16-bit linear audio at the
    /// codec's own rate (16 or 48 kHz), which the leg's encoder
    /// ([`crate::media::codec::AudioEncoder`]) codes frame by frame as it
    /// sends: their encoders carry state from frame to frame, so a frame
    /// cannot be encoded once and played on any leg, after any other frame.
    /// `None` for codecs the media core cannot encode.
    pub const fn for_codec(codec: AudioCodec) -> Option<Self> {
        match codec {
            AudioCodec::Pcmu => Some(Self::PCMU),
            AudioCodec::Pcma => Some(Self::PCMA),
            AudioCodec::G722 => Self::linear16(16000),
            AudioCodec::Opus => Self::linear16(48000),
            AudioCodec::Other => None,
        }
    }

    /// The same format with another ptime; `None` unless
    /// `1 <= ms <= MAX_PTIME_MS`.
    pub const fn with_ptime(self, ms: u16) -> Option<Self> {
        if ms == 0 || ms > MAX_PTIME_MS {
            return None;
        }
        Some(Self {
            ptime_ms: ms,
            ..self
        })
    }

    /// Payload encoding.
    pub const fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Sample rate in Hz.
    pub const fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Frame duration in milliseconds.
    pub const fn ptime_ms(&self) -> u16 {
        self.ptime_ms
    }

    /// Frame duration.
    pub const fn ptime(&self) -> Duration {
        Duration::from_millis(self.ptime_ms as u64)
    }

    /// Samples per frame (all supported rates are whole kHz, so exact).
    pub const fn samples_per_frame(&self) -> usize {
        (self.sample_rate / 1000) as usize * self.ptime_ms as usize
    }

    /// Payload bytes per frame.
    pub const fn bytes_per_frame(&self) -> usize {
        match self.encoding {
            Encoding::Pcmu | Encoding::Pcma => self.samples_per_frame(),
            Encoding::Linear16 => 2 * self.samples_per_frame(),
        }
    }

    /// The byte value of digital silence (0xFF mu-law, 0xD5 A-law, 0 linear).
    pub const fn silence_byte(&self) -> u8 {
        match self.encoding {
            Encoding::Pcmu => 0xFF,
            Encoding::Pcma => 0xD5,
            Encoding::Linear16 => 0x00,
        }
    }

    /// One frame of silence; static, so this never allocates.
    pub fn silence_frame(&self) -> Bytes {
        let src: &'static [u8; MAX_FRAME_BYTES] = match self.encoding {
            Encoding::Pcmu => &SILENCE_ULAW,
            Encoding::Pcma => &SILENCE_ALAW,
            Encoding::Linear16 => &SILENCE_LINEAR,
        };
        Bytes::from_static(&src[..self.bytes_per_frame()])
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.encoding {
            Encoding::Pcmu => "PCMU",
            Encoding::Pcma => "PCMA",
            Encoding::Linear16 => "L16",
        };
        write!(f, "{name}/{} ptime {} ms", self.sample_rate, self.ptime_ms)
    }
}

/// Iterates over the samples of a [`Encoding::Linear16`] payload.
pub fn l16_samples(payload: &[u8]) -> impl Iterator<Item = i16> + '_ {
    payload
        .chunks_exact(2)
        .map(|b| i16::from_be_bytes([b[0], b[1]]))
}

/// Errors of the prompt cache and player. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    /// The prompt could not be read (missing, not a WAV file, unsupported
    /// sample format); the inner error names the path.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// A playlist item was converted for another format than the player's.
    #[error("{path}: prompt converted for {found} cannot play on a {expected} leg")]
    FormatMismatch {
        /// The prompt's source file.
        path: PathBuf,
        /// The player's format.
        expected: OutputFormat,
        /// The prompt's format.
        found: OutputFormat,
    },
}
