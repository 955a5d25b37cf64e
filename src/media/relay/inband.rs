//! In-band DTMF on a bridged leg whose phone did not offer telephone-event
//! (RFC 4733): each G.711 payload is decoded with the tables and searched
//! for DTMF tone pairs (Goertzel), so digits pressed on such phones still
//! reach the call's events. Audio is relayed untouched either way.

use crate::media::codec::AudioCodec;
use crate::media::dtmf::{DetectorConfig, GoertzelDetector};
use crate::media::g711;

/// The detector of one leg.
pub struct InbandDtmf {
    codec: AudioCodec,
    detector: GoertzelDetector,
    pcm: Vec<i16>,
}

impl InbandDtmf {
    /// For a PCMU or PCMA leg (`None` for any other codec).
    pub fn for_codec(codec: AudioCodec) -> Option<Self> {
        codec.is_g711().then(|| Self {
            codec,
            detector: GoertzelDetector::new(DetectorConfig::default()),
            pcm: Vec::with_capacity(480),
        })
    }

    /// A digit whose tone is recognised in this audio payload, if any.
    pub fn on_audio(&mut self, payload: &[u8]) -> Option<char> {
        self.pcm.clear();
        self.pcm.resize(payload.len(), 0);
        match self.codec {
            AudioCodec::Pcma => g711::decode_alaw_into(payload, &mut self.pcm),
            _ => g711::decode_ulaw_into(payload, &mut self.pcm),
        }
        let mut found = None;
        self.detector.process(&self.pcm, |d| found = Some(d.digit));
        found
    }
}

impl std::fmt::Debug for InbandDtmf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InbandDtmf")
            .field("codec", &self.codec)
            .finish()
    }
}
