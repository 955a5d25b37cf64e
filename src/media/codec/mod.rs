//! Audio codecs behind one pair of traits, for the paths that need linear
//! audio: the relay when it transcodes between codecs that no table can map,
//! and the recorder decoding what the relay taps.
//!
//! This module owns:
//! * [`AudioCodec`]: the codecs the media core can name (G.711 both laws,
//!   G.722, Opus) and `Other` for everything it cannot decode, with their
//!   PCM sample rate and RTP clock rate (G.722 samples at 16 kHz but its RTP
//!   clock runs at 8000, RFC 3551 4.5.2; Opus's clock is 48000, RFC 7587).
//! * [`AudioEncoder`] / [`AudioDecoder`]: stateful, frame-at-a-time mono
//!   16-bit codecs with packet loss concealment on the decode side, and the
//!   constructors from an SDP [`Codec`] ([`encoder_for`], [`decoder_for`])
//!   or from an [`AudioCodec`].
//! * The implementations: [`G711Encoder`]/[`G711Decoder`] (wrapping
//!   [`crate::media::g711`]), [`G722Encoder`]/[`G722Decoder`] (our own
//!   64 kbit/s implementation of ITU-T G.722, see `g722/`), and
//!   [`OpusEncoder`]/[`OpusDecoder`] (the system libopus through the
//!   `audiopus` binding, mono 48 kHz, in-band FEC and PLC).
//!
//! Every encoder and decoder appends to a caller-owned `Vec`, so a caller
//! that keeps its buffers allocates nothing per frame. Decoders never panic
//! on garbage: a payload they cannot use is a [`CodecError`].

mod g711;
pub mod g722;
mod opus;
mod plc;

#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod tests;

pub use g711::{G711Decoder, G711Encoder};
pub use g722::{G722Decoder, G722Encoder};
pub use opus::{OpusConfig, OpusDecoder, OpusEncoder};

use super::sdp::Codec;

/// The audio codec a leg carries, as far as the media core can handle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// G.711 mu-law, `PCMU/8000`.
    Pcmu,
    /// G.711 A-law, `PCMA/8000`.
    Pcma,
    /// G.722 at 64 kbit/s, `G722/8000` (16 kHz audio, 8000 Hz RTP clock).
    G722,
    /// Opus, `opus/48000/2` (decoded and encoded mono at 48 kHz).
    Opus,
    /// Any other codec. Two `Other` legs are forwarded untouched: the relay
    /// cannot tell them apart, so the caller must have negotiated the same
    /// codec on both. `Other` with any other leg is refused.
    Other,
}

impl AudioCodec {
    /// From an SDP encoding name and clock rate (`a=rtpmap:<pt> PCMA/8000`).
    /// Names compare case-insensitively.
    pub fn from_encoding(name: &str, clock_rate: u32) -> Self {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        match clock_rate {
            8000 if is("PCMU") => AudioCodec::Pcmu,
            8000 if is("PCMA") => AudioCodec::Pcma,
            8000 if is("G722") => AudioCodec::G722,
            48000 if is("opus") => AudioCodec::Opus,
            _ => AudioCodec::Other,
        }
    }

    /// From a negotiated codec. G.711 and G.722 must be mono; Opus is
    /// signalled `opus/48000/2` (RFC 7587), a mono `opus/48000` is taken
    /// too. Anything else is `Other`.
    pub fn from_codec(codec: &Codec) -> Self {
        let c = Self::from_encoding(&codec.name, codec.clock_rate);
        let channels = codec.channels.unwrap_or(1);
        match c {
            AudioCodec::Opus if channels <= 2 => c,
            _ if channels == 1 => c,
            _ => AudioCodec::Other,
        }
    }

    /// From a static RFC 3551 payload type (0 = PCMU, 8 = PCMA, 9 = G722).
    /// Dynamic payload types say nothing by themselves: use
    /// [`Self::from_encoding`] with the `rtpmap` instead.
    pub fn from_static_payload_type(pt: u8) -> Self {
        match pt {
            0 => AudioCodec::Pcmu,
            8 => AudioCodec::Pcma,
            9 => AudioCodec::G722,
            _ => AudioCodec::Other,
        }
    }

    /// PCMU or PCMA (transcoded between each other byte by byte).
    pub fn is_g711(self) -> bool {
        matches!(self, AudioCodec::Pcmu | AudioCodec::Pcma)
    }

    /// Whether the media core can decode and encode this codec.
    pub fn is_decodable(self) -> bool {
        self != AudioCodec::Other
    }

    /// The rate of the linear audio the codec carries: 8000 for G.711,
    /// 16000 for G.722, 48000 for Opus; `None` for `Other`.
    pub fn sample_rate(self) -> Option<u32> {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma => Some(8000),
            AudioCodec::G722 => Some(16000),
            AudioCodec::Opus => Some(48000),
            AudioCodec::Other => None,
        }
    }

    /// The RTP timestamp clock: 8000 for G.711 and G.722, 48000 for Opus;
    /// `None` for `Other`.
    pub fn rtp_clock_rate(self) -> Option<u32> {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma | AudioCodec::G722 => Some(8000),
            AudioCodec::Opus => Some(48000),
            AudioCodec::Other => None,
        }
    }

    /// A new encoder with default settings (Opus: [`OpusConfig::default`]).
    pub fn encoder(self) -> Option<Box<dyn AudioEncoder>> {
        match self {
            AudioCodec::Pcmu => Some(Box::new(G711Encoder::pcmu())),
            AudioCodec::Pcma => Some(Box::new(G711Encoder::pcma())),
            AudioCodec::G722 => Some(Box::new(G722Encoder::new())),
            AudioCodec::Opus => OpusEncoder::new(&OpusConfig::default())
                .ok()
                .map(|e| Box::new(e) as Box<dyn AudioEncoder>),
            AudioCodec::Other => None,
        }
    }

    /// A new encoder for audio that carries nothing above `source_rate / 2`
    /// (say, decoded from G.711 or G.722): Opus then caps its bandwidth
    /// there ([`OpusConfig::max_playback_rate`]), spending its bits on the
    /// band that exists and, from an 8 kHz source, about half the CPU. The
    /// other codecs have a fixed band: the same as [`Self::encoder`].
    pub fn encoder_for_source(self, source_rate: u32) -> Option<Box<dyn AudioEncoder>> {
        match self {
            AudioCodec::Opus => {
                let cfg = OpusConfig {
                    max_playback_rate: source_rate.min(48_000),
                    ..OpusConfig::default()
                };
                OpusEncoder::new(&cfg)
                    .ok()
                    .map(|e| Box::new(e) as Box<dyn AudioEncoder>)
            }
            c => c.encoder(),
        }
    }

    /// A new decoder.
    pub fn decoder(self) -> Option<Box<dyn AudioDecoder>> {
        match self {
            AudioCodec::Pcmu => Some(Box::new(G711Decoder::pcmu())),
            AudioCodec::Pcma => Some(Box::new(G711Decoder::pcma())),
            AudioCodec::G722 => Some(Box::new(G722Decoder::new())),
            AudioCodec::Opus => OpusDecoder::new()
                .ok()
                .map(|d| Box::new(d) as Box<dyn AudioDecoder>),
            AudioCodec::Other => None,
        }
    }
}

/// Why a frame could not be encoded or a payload decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The encoder cannot take a frame of this many samples (G.722 needs an
    /// even count; Opus 2.5, 5, 10, 20, 40 or 60 ms).
    #[error("{codec:?} cannot encode a frame of {samples} samples")]
    FrameSize { codec: AudioCodec, samples: usize },
    /// An empty payload.
    #[error("empty {0:?} payload")]
    Empty(AudioCodec),
    /// Not a codec the media core decodes or encodes.
    #[error("{0:?} is not decoded here")]
    Unsupported(AudioCodec),
    /// libopus refused (a corrupt or truncated packet, a bad setting).
    #[error("opus: {0}")]
    Opus(audiopus::Error),
}

/// Encodes mono 16-bit linear audio at [`Self::sample_rate`], one frame
/// (one RTP payload) at a time. Stateful: feed consecutive frames.
pub trait AudioEncoder: Send {
    /// The codec produced.
    fn codec(&self) -> AudioCodec;
    /// The rate of the PCM [`Self::encode`] takes, in Hz.
    fn sample_rate(&self) -> u32;
    /// Encode one frame, appending the payload to `out`; returns the number
    /// of bytes appended. Nothing is appended on error.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError>;
}

/// Decodes one RTP payload at a time to mono 16-bit linear audio at
/// [`Self::sample_rate`]. Stateful: feed payloads in sequence order and
/// report each lost one with [`Self::conceal`] or [`Self::recover`].
pub trait AudioDecoder: Send {
    /// The codec taken.
    fn codec(&self) -> AudioCodec;
    /// The rate of the PCM produced, in Hz.
    fn sample_rate(&self) -> u32;
    /// Decode one payload, appending the audio to `out`; returns the number
    /// of samples appended. Nothing is appended on error.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError>;
    /// Packet loss concealment: append exactly `samples` samples standing in
    /// for a lost payload (Opus: its PLC; the others: the last frame
    /// repeated and faded out). Returns `samples`.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> usize;
    /// A payload was lost but the one after it, `next`, has arrived: recover
    /// the lost `samples` from it where the codec carries redundancy (Opus
    /// in-band FEC), else conceal. `next` must still be decoded afterwards.
    /// Returns `samples`.
    fn recover(&mut self, next: &[u8], samples: usize, out: &mut Vec<i16>) -> usize {
        let _ = next;
        self.conceal(samples, out)
    }
    /// Whether [`Self::recover`] can do better than [`Self::conceal`].
    fn can_recover(&self) -> bool {
        false
    }
    /// Samples in the last decoded or concealed frame (the size to conceal
    /// a loss with); 20 ms before the first frame.
    fn last_frame_samples(&self) -> usize;
}

/// An encoder for a negotiated codec, honouring its fmtp where it matters
/// (Opus: `maxaveragebitrate`, `useinbandfec`, `maxplaybackrate`, `cbr`).
/// `None` when the codec is not one we can encode.
pub fn encoder_for(codec: &Codec) -> Option<Box<dyn AudioEncoder>> {
    match AudioCodec::from_codec(codec) {
        AudioCodec::Opus => {
            let cfg = OpusConfig::from_fmtp(codec.fmtp.as_deref());
            OpusEncoder::new(&cfg)
                .ok()
                .map(|e| Box::new(e) as Box<dyn AudioEncoder>)
        }
        c => c.encoder(),
    }
}

/// A decoder for a negotiated codec; `None` when we cannot decode it.
pub fn decoder_for(codec: &Codec) -> Option<Box<dyn AudioDecoder>> {
    AudioCodec::from_codec(codec).decoder()
}
