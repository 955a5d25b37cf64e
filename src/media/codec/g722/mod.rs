//! G.722 wideband audio at 64 kbit/s (ITU-T G.722, mode 1): 16 kHz 16-bit
//! audio in, one octet per pair of samples out (160 octets per 20 ms).
//!
//! Written here from the ITU-T G.722 recommendation's block descriptions,
//! not taken from another project: the transmit QMF splits the audio into
//! two 8 kHz sub-bands (`qmf.rs`), the lower band is coded with 6-bit and
//! the higher band with 2-bit ADPCM (`band.rs`), and each octet carries
//! `IH` in its two most significant bits and `ILR` in the six others (the
//! RTP payload format of RFC 3551 4.5.2, where the RTP clock still runs at
//! 8000 Hz). The decoder mirrors it and conceals lost packets by repeating
//! the last frame with a fade (see `plc.rs`).
//!
//! Why our own code rather than a crate: the pure-Rust G.722 crates on
//! crates.io are either a translation of a C implementation bundled into a
//! larger framework (`ezk-g722`) or part of a fast-moving multi-codec crate
//! (`audio-codec`); neither is a small, stable dependency, while the
//! algorithm is a few hundred lines of fixed-point arithmetic that the spec
//! defines exactly. Both directions were checked bit for bit against an
//! independent implementation (libg722, which tests itself against the
//! ITU-T vectors) on sweeps, full-scale noise, clipping and random octets;
//! `tests.rs` pins the result. The 56 and 48 kbit/s modes (auxiliary data
//! channel) are not implemented: RTP G.722 is always mode 1.

mod band;
mod qmf;

#[cfg(test)]
mod tests;

use super::plc::RepeatFade;
use super::{AudioCodec, AudioDecoder, AudioEncoder, CodecError};
use band::{HigherBand, LowerBand};
use qmf::{Analysis, Synthesis};

/// Audio sample rate of G.722.
pub const SAMPLE_RATE: u32 = 16000;
/// RTP timestamp clock of G.722 (RFC 3551: 8000 despite the 16 kHz audio).
pub const RTP_CLOCK_RATE: u32 = 8000;
/// Payload octets per 20 ms frame.
pub const OCTETS_PER_20MS: usize = 160;

/// G.722 encoder, 64 kbit/s.
#[derive(Debug, Clone, Default)]
pub struct G722Encoder {
    qmf: Analysis,
    low: LowerBand,
    high: HigherBand,
}

impl G722Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Encode pairs of 16 kHz samples into `out`, one octet per pair.
    ///
    /// # Panics
    /// If `out.len() * 2 != pcm.len()`.
    pub fn encode_into(&mut self, pcm: &[i16], out: &mut [u8]) {
        assert_eq!(pcm.len(), out.len() * 2, "g722: one octet per two samples");
        for (pair, o) in pcm.chunks_exact(2).zip(out.iter_mut()) {
            let (xl, xh) = self.qmf.split(pair[0], pair[1]);
            let ilr = self.low.encode(xl);
            let ih = self.high.encode(xh);
            *o = (ih << 6) | ilr;
        }
    }
}

impl AudioEncoder for G722Encoder {
    fn codec(&self) -> AudioCodec {
        AudioCodec::G722
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        if pcm.len() % 2 != 0 {
            return Err(CodecError::FrameSize {
                codec: AudioCodec::G722,
                samples: pcm.len(),
            });
        }
        let start = out.len();
        let n = pcm.len() / 2;
        out.resize(start + n, 0);
        self.encode_into(pcm, &mut out[start..]);
        Ok(n)
    }
}

/// G.722 decoder, 64 kbit/s, with repeat-and-fade concealment.
#[derive(Debug, Clone)]
pub struct G722Decoder {
    qmf: Synthesis,
    low: LowerBand,
    high: HigherBand,
    plc: RepeatFade,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self {
            qmf: Synthesis::default(),
            low: LowerBand::default(),
            high: HigherBand::default(),
            plc: RepeatFade::new(2 * OCTETS_PER_20MS),
        }
    }
}

impl G722Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode octets into `out`, two 16 kHz samples per octet. Every octet
    /// is a valid code, so this cannot fail.
    ///
    /// # Panics
    /// If `out.len() != 2 * payload.len()`.
    pub fn decode_into(&mut self, payload: &[u8], out: &mut [i16]) {
        assert_eq!(out.len(), payload.len() * 2, "g722: two samples per octet");
        for (&code, o) in payload.iter().zip(out.chunks_exact_mut(2)) {
            let rl = self.low.decode(code & 0x3f);
            let rh = self.high.decode(code >> 6);
            o.copy_from_slice(&self.qmf.merge(rl, rh));
        }
    }
}

impl AudioDecoder for G722Decoder {
    fn codec(&self) -> AudioCodec {
        AudioCodec::G722
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::Empty(AudioCodec::G722));
        }
        let start = out.len();
        let n = payload.len() * 2;
        out.resize(start + n, 0);
        self.decode_into(payload, &mut out[start..]);
        self.plc.good(&out[start..]);
        Ok(n)
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> usize {
        self.plc.conceal(samples, out)
    }

    fn last_frame_samples(&self) -> usize {
        self.plc.frame_samples()
    }
}
