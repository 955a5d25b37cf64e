//! G.711 (PCMU and PCMA) behind the [`AudioEncoder`]/[`AudioDecoder`]
//! traits: one byte per 8 kHz sample through the tables of
//! [`crate::media::g711`], repeat-and-fade concealment for lost packets.

use super::plc::RepeatFade;
use super::{AudioCodec, AudioDecoder, AudioEncoder, CodecError};
use crate::media::g711;

/// Samples in 20 ms at 8 kHz.
const FRAME_20MS: usize = 160;

/// PCMU or PCMA encoder (stateless apart from the law).
#[derive(Debug, Clone)]
pub struct G711Encoder {
    codec: AudioCodec,
}

impl G711Encoder {
    pub fn pcmu() -> Self {
        Self {
            codec: AudioCodec::Pcmu,
        }
    }

    pub fn pcma() -> Self {
        Self {
            codec: AudioCodec::Pcma,
        }
    }
}

impl AudioEncoder for G711Encoder {
    fn codec(&self) -> AudioCodec {
        self.codec
    }

    fn sample_rate(&self) -> u32 {
        8000
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        let start = out.len();
        out.resize(start + pcm.len(), 0);
        let dst = &mut out[start..];
        if self.codec == AudioCodec::Pcmu {
            g711::encode_ulaw_into(pcm, dst);
        } else {
            g711::encode_alaw_into(pcm, dst);
        }
        Ok(pcm.len())
    }
}

/// PCMU or PCMA decoder with repeat-and-fade concealment.
#[derive(Debug, Clone)]
pub struct G711Decoder {
    codec: AudioCodec,
    plc: RepeatFade,
}

impl G711Decoder {
    pub fn pcmu() -> Self {
        Self {
            codec: AudioCodec::Pcmu,
            plc: RepeatFade::new(FRAME_20MS),
        }
    }

    pub fn pcma() -> Self {
        Self {
            codec: AudioCodec::Pcma,
            plc: RepeatFade::new(FRAME_20MS),
        }
    }
}

impl AudioDecoder for G711Decoder {
    fn codec(&self) -> AudioCodec {
        self.codec
    }

    fn sample_rate(&self) -> u32 {
        8000
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::Empty(self.codec));
        }
        let start = out.len();
        out.resize(start + payload.len(), 0);
        let dst = &mut out[start..];
        if self.codec == AudioCodec::Pcmu {
            g711::decode_ulaw_into(payload, dst);
        } else {
            g711::decode_alaw_into(payload, dst);
        }
        self.plc.good(&out[start..]);
        Ok(payload.len())
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> usize {
        self.plc.conceal(samples, out)
    }

    fn last_frame_samples(&self) -> usize {
        self.plc.frame_samples()
    }
}
