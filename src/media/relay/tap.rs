//! Turning tapped audio into linear audio for the recorder: a
//! [`TapDecoder`] keeps one decoder per leg (decoders carry state from one
//! payload to the next) and decodes each [`TapFrame`] at its leg's own rate,
//! 8 kHz for G.711, 16 kHz for G.722, 48 kHz for Opus, so a wideband leg is
//! recorded wideband. Resampling to a common rate, and filling gaps the
//! frames' timestamps show, are the recorder's choice.

use super::{LegId, TapFrame};
use crate::media::codec::{AudioCodec, AudioDecoder, CodecError};

/// Linear audio decoded from one tap frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Rate of the samples, in Hz (the leg codec's own).
    pub sample_rate: u32,
    /// Samples appended.
    pub samples: usize,
}

/// Decoders for the frames of both legs of one relay's tap.
#[derive(Default)]
pub struct TapDecoder {
    legs: [Option<Box<dyn AudioDecoder>>; 2],
}

impl std::fmt::Debug for TapDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codecs = self.legs.each_ref().map(|d| d.as_ref().map(|d| d.codec()));
        f.debug_struct("TapDecoder").field("legs", &codecs).finish()
    }
}

impl TapDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode `frame`'s payload, appending the audio to `out` at the rate of
    /// the frame's codec. The leg's decoder is kept for its next frames and
    /// replaced when the leg's codec changes. Fails for `Other` (nothing to
    /// decode with) and for payloads the decoder refuses.
    pub fn decode(&mut self, frame: &TapFrame, out: &mut Vec<i16>) -> Result<Decoded, CodecError> {
        let d = self.decoder(frame.leg, frame.codec)?;
        let samples = d.decode(&frame.payload, out)?;
        Ok(Decoded {
            sample_rate: d.sample_rate(),
            samples,
        })
    }

    /// Conceal a lost frame of `leg` (see [`AudioDecoder::conceal`]):
    /// appends `samples` samples at that leg's rate. Nothing before the
    /// leg's first frame.
    pub fn conceal(&mut self, leg: LegId, samples: usize, out: &mut Vec<i16>) -> usize {
        match self.legs[leg.index()].as_mut() {
            Some(d) => d.conceal(samples, out),
            None => 0,
        }
    }

    fn decoder(
        &mut self,
        leg: LegId,
        codec: AudioCodec,
    ) -> Result<&mut Box<dyn AudioDecoder>, CodecError> {
        let slot = &mut self.legs[leg.index()];
        if slot.as_ref().is_none_or(|d| d.codec() != codec) {
            *slot = Some(codec.decoder().ok_or(CodecError::Unsupported(codec))?);
        }
        Ok(slot.as_mut().expect("set above"))
    }
}

impl TapFrame {
    /// The rate the payload decodes to (see [`TapDecoder`]); `None` when
    /// its codec is not one the media core decodes.
    pub fn sample_rate(&self) -> Option<u32> {
        self.codec.sample_rate()
    }
}
