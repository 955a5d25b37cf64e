//! Opus (RFC 6716, RTP payload format RFC 7587) behind the
//! [`AudioEncoder`]/[`AudioDecoder`] traits, through the system libopus
//! (the `audiopus` binding, found with pkg-config).
//!
//! For telephony both directions run mono at 48 kHz: the encoder uses the
//! VoIP application mode, 20 ms frames, in-band FEC (LBRR) with an expected
//! loss of 10 %, and a bitrate that the far end's fmtp may lower
//! ([`OpusConfig::from_fmtp`]). The decoder takes mono or stereo packets
//! (libopus downmixes), conceals a lost packet with Opus PLC, and recovers
//! it from the next packet's FEC data when that has already arrived.

use super::{AudioCodec, AudioDecoder, AudioEncoder, CodecError};
use audiopus::coder::{Decoder, Encoder};
use audiopus::{Application, Bandwidth, Bitrate, Channels, SampleRate};

/// The rate Opus runs at here (and its RTP clock rate).
pub const SAMPLE_RATE: u32 = 48000;
/// Samples in 20 ms at 48 kHz.
pub const FRAME_20MS: usize = 960;
/// Largest frame a packet can carry: 120 ms at 48 kHz.
const MAX_FRAME: usize = 5760;
/// Room for one encoded packet (RFC 6716: at most 1275 octets per frame).
const MAX_PACKET: usize = 1500;
/// Frame sizes the encoder takes at 48 kHz (2.5 to 60 ms).
const FRAME_SIZES: [usize; 6] = [120, 240, 480, 960, 1920, 2880];

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusConfig {
    /// Target bitrate in bit/s (6000 to 510000).
    pub bitrate: u32,
    /// Put in-band FEC (LBRR) into the packets.
    pub fec: bool,
    /// Expected packet loss in percent: how much FEC the encoder adds.
    pub packet_loss_percent: u8,
    /// Encoder complexity 0-10 (CPU for quality).
    pub complexity: u8,
    /// Constant bitrate instead of VBR.
    pub cbr: bool,
    /// Highest audio rate the receiver will play (`maxplaybackrate`): the
    /// encoder's bandwidth is capped to it.
    pub max_playback_rate: u32,
}

impl Default for OpusConfig {
    /// 32 kbit/s VBR, FEC for 10 % loss, complexity 5 (half the CPU of 10
    /// for speech that is hard to tell apart), full band.
    fn default() -> Self {
        Self {
            bitrate: 32_000,
            fec: true,
            packet_loss_percent: 10,
            complexity: 5,
            cbr: false,
            max_playback_rate: 48_000,
        }
    }
}

impl OpusConfig {
    /// The defaults, adjusted by the receiver's fmtp (RFC 7587 6.1):
    /// `maxaveragebitrate` caps the bitrate, `useinbandfec=0` turns FEC off,
    /// `cbr=1` asks for constant bitrate, `maxplaybackrate` caps the
    /// bandwidth. Unknown or malformed parameters are ignored.
    pub fn from_fmtp(fmtp: Option<&str>) -> Self {
        let mut cfg = Self::default();
        for param in fmtp.unwrap_or("").split(';') {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let Ok(v) = value.trim().parse::<u32>() else {
                continue;
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "maxaveragebitrate" => cfg.bitrate = cfg.bitrate.min(v).clamp(6_000, 510_000),
                "useinbandfec" => cfg.fec = v == 1,
                "cbr" => cfg.cbr = v == 1,
                "maxplaybackrate" if v > 0 => cfg.max_playback_rate = v,
                _ => {}
            }
        }
        cfg
    }

    fn bandwidth(&self) -> Bandwidth {
        match self.max_playback_rate {
            0..=8_000 => Bandwidth::Narrowband,
            8_001..=12_000 => Bandwidth::Mediumband,
            12_001..=16_000 => Bandwidth::Wideband,
            16_001..=24_000 => Bandwidth::Superwideband,
            _ => Bandwidth::Fullband,
        }
    }
}

/// Opus encoder, mono 48 kHz.
pub struct OpusEncoder {
    enc: Encoder,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder").finish_non_exhaustive()
    }
}

impl OpusEncoder {
    pub fn new(cfg: &OpusConfig) -> Result<Self, CodecError> {
        let opus = CodecError::Opus;
        let mut enc =
            Encoder::new(SampleRate::Hz48000, Channels::Mono, Application::Voip).map_err(opus)?;
        let bitrate = cfg.bitrate.clamp(6_000, 510_000) as i32;
        enc.set_bitrate(Bitrate::BitsPerSecond(bitrate))
            .map_err(opus)?;
        enc.set_complexity(cfg.complexity.min(10)).map_err(opus)?;
        enc.set_inband_fec(cfg.fec).map_err(opus)?;
        enc.set_packet_loss_perc(cfg.packet_loss_percent.min(100))
            .map_err(opus)?;
        enc.set_vbr(!cfg.cbr).map_err(opus)?;
        enc.set_max_bandwidth(cfg.bandwidth()).map_err(opus)?;
        Ok(Self { enc })
    }
}

impl AudioEncoder for OpusEncoder {
    fn codec(&self) -> AudioCodec {
        AudioCodec::Opus
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        if !FRAME_SIZES.contains(&pcm.len()) {
            return Err(CodecError::FrameSize {
                codec: AudioCodec::Opus,
                samples: pcm.len(),
            });
        }
        let start = out.len();
        out.resize(start + MAX_PACKET, 0);
        match self.enc.encode(pcm, &mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(n)
            }
            Err(e) => {
                out.truncate(start);
                Err(CodecError::Opus(e))
            }
        }
    }
}

/// Opus decoder, mono 48 kHz, with PLC and FEC recovery.
pub struct OpusDecoder {
    dec: Decoder,
    /// Samples of the last decoded or concealed frame.
    last_frame: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("last_frame", &self.last_frame)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    pub fn new() -> Result<Self, CodecError> {
        let dec = Decoder::new(SampleRate::Hz48000, Channels::Mono).map_err(CodecError::Opus)?;
        Ok(Self {
            dec,
            last_frame: FRAME_20MS,
        })
    }

    /// Run libopus into `out` with room for `room` samples; keep what it
    /// wrote. `input` None is PLC; `fec` decodes the LBRR of `input`.
    fn run(
        &mut self,
        input: Option<&[u8]>,
        room: usize,
        fec: bool,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        let start = out.len();
        out.resize(start + room, 0);
        match self.dec.decode(input, &mut out[start..], fec) {
            Ok(n) => {
                out.truncate(start + n.min(room));
                Ok(n.min(room))
            }
            Err(e) => {
                out.truncate(start);
                Err(CodecError::Opus(e))
            }
        }
    }

    /// Make what was appended since `start` exactly `samples` long (cut, or
    /// padded with silence).
    fn exact(out: &mut Vec<i16>, start: usize, samples: usize) -> usize {
        out.resize(start + samples, 0);
        samples
    }
}

/// A loss is concealed in whole 2.5 ms steps (what libopus takes).
fn plc_room(samples: usize) -> usize {
    samples.div_ceil(120).clamp(1, MAX_FRAME / 120) * 120
}

impl AudioDecoder for OpusDecoder {
    fn codec(&self) -> AudioCodec {
        AudioCodec::Opus
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::Empty(AudioCodec::Opus));
        }
        let n = self.run(Some(payload), MAX_FRAME, false, out)?;
        self.last_frame = n;
        Ok(n)
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> usize {
        let start = out.len();
        let _ = self.run(None, plc_room(samples), false, out);
        self.last_frame = samples;
        Self::exact(out, start, samples)
    }

    fn recover(&mut self, next: &[u8], samples: usize, out: &mut Vec<i16>) -> usize {
        let start = out.len();
        let room = plc_room(samples);
        let got = if next.is_empty() {
            Err(CodecError::Empty(AudioCodec::Opus))
        } else {
            self.run(Some(next), room, true, out)
        };
        if got.is_err() {
            let _ = self.run(None, room, false, out);
        }
        self.last_frame = samples;
        Self::exact(out, start, samples)
    }

    fn can_recover(&self) -> bool {
        true
    }

    fn last_frame_samples(&self) -> usize {
        self.last_frame
    }
}
