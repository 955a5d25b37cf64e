//! Music on hold from the relay. While one party holds the other, the held
//! leg hears the switch's music instead of the holder's stream: a looping
//! [`Player`] gives one frame per 20 ms playout tick in the leg's own
//! format ([`OutputFormat::for_codec`]: G.711 frames as cached, linear audio
//! coded here with the leg's encoder for G.722 and Opus). The frames form a
//! source of their own (own SSRC, sequence and timestamp) that the leg's
//! [`Rewriter`](crate::media::rtp::Rewriter) maps onto the stream we send
//! it, so the phone sees one continuous stream into, through and out of
//! the hold.

use super::AudioCodec;
use crate::media::codec::AudioEncoder;
use crate::media::player::{Encoding, OutputFormat, Player, Playlist, l16_samples};

/// Why music cannot be played on a leg.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MusicError {
    #[error("no music can be played to a {0:?} leg")]
    Codec(AudioCodec),
    #[error("the music was converted for another format than the leg's")]
    Format,
}

/// One frame of music, as the relay sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MusicFrame {
    /// Payload bytes written at the start of the caller's buffer.
    pub len: usize,
    pub marker: bool,
    /// The music source's own header fields (mapped by the leg's rewriter).
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
}

/// The music playing to one leg.
pub struct Music {
    player: Player,
    /// Codes linear frames for G.722 and Opus legs.
    encoder: Option<Box<dyn AudioEncoder>>,
    pcm: Vec<i16>,
    coded: Vec<u8>,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// RTP clock units per frame.
    step: u32,
}

impl std::fmt::Debug for Music {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Music")
            .field("format", &self.player.format())
            .finish()
    }
}

impl Music {
    /// The format music must be converted to for a leg carrying `codec`.
    pub fn format_for(codec: AudioCodec) -> Option<OutputFormat> {
        OutputFormat::for_codec(codec)
    }

    /// Loops `playlist` to a leg carrying `codec`.
    pub fn new(codec: AudioCodec, playlist: Playlist) -> Result<Self, MusicError> {
        let format = Self::format_for(codec).ok_or(MusicError::Codec(codec))?;
        let encoder = match format.encoding() {
            Encoding::Linear16 => Some(codec.encoder().ok_or(MusicError::Codec(codec))?),
            Encoding::Pcmu | Encoding::Pcma => None,
        };
        let clock = codec.rtp_clock_rate().ok_or(MusicError::Codec(codec))?;
        let mut player = Player::new(format);
        player
            .play(playlist.looping(true))
            .map_err(|_| MusicError::Format)?;
        Ok(Self {
            player,
            encoder,
            pcm: Vec::new(),
            coded: Vec::new(),
            ssrc: rand::random(),
            sequence: rand::random(),
            timestamp: rand::random(),
            step: clock * format.ptime().as_millis() as u32 / 1000,
        })
    }

    /// The next frame, its payload written to the start of `out`; `None`
    /// when the playlist is empty or the frame does not fit.
    pub fn next_frame(&mut self, out: &mut [u8]) -> Option<MusicFrame> {
        let frame = self.player.next_frame()?;
        let payload: &[u8] = match self.encoder.as_mut() {
            None => &frame.payload,
            Some(enc) => {
                self.pcm.clear();
                self.pcm.extend(l16_samples(&frame.payload));
                self.coded.clear();
                enc.encode(&self.pcm, &mut self.coded).ok()?;
                &self.coded
            }
        };
        let len = payload.len();
        out.get_mut(..len)?.copy_from_slice(payload);
        let f = MusicFrame {
            len,
            marker: frame.marker,
            ssrc: self.ssrc,
            sequence: self.sequence,
            timestamp: self.timestamp,
        };
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(self.step);
        Some(f)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::media::player::EncodedPrompt;
    use crate::media::player::Playlist;
    use std::sync::Arc;

    /// A one-second tone prompt (8 kHz source) converted to `format`.
    pub(in crate::media::relay) fn tone_prompt(
        dir: &std::path::Path,
        format: OutputFormat,
    ) -> Arc<EncodedPrompt> {
        let path = dir.join("tone.wav");
        let samples: Vec<i16> = (0..8000)
            .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
            .collect();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        samples.iter().for_each(|&s| w.write_sample(s).unwrap());
        w.finalize().unwrap();
        Arc::new(EncodedPrompt::load(&path, format).unwrap())
    }

    #[test]
    fn loops_g711_frames_with_a_continuous_clock() {
        let dir = tempfile::tempdir().unwrap();
        let p = tone_prompt(dir.path(), OutputFormat::PCMU);
        let mut m = Music::new(AudioCodec::Pcmu, Playlist::new().prompt(p)).unwrap();
        let mut out = [0u8; 2048];
        let first = m.next_frame(&mut out).unwrap();
        assert_eq!(first.len, 160);
        assert!(first.marker);
        let mut last = first;
        // One second of prompt is 50 frames: go round it twice.
        for _ in 0..120 {
            let f = m.next_frame(&mut out).unwrap();
            assert_eq!(f.sequence, last.sequence.wrapping_add(1));
            assert_eq!(f.timestamp, last.timestamp.wrapping_add(160));
            assert_eq!(f.ssrc, first.ssrc);
            last = f;
        }
    }

    #[test]
    fn codes_linear_frames_for_wideband_legs() {
        let dir = tempfile::tempdir().unwrap();
        let p = tone_prompt(dir.path(), Music::format_for(AudioCodec::G722).unwrap());
        let mut m = Music::new(AudioCodec::G722, Playlist::new().prompt(p)).unwrap();
        let mut out = [0u8; 2048];
        let a = m.next_frame(&mut out).unwrap();
        let b = m.next_frame(&mut out).unwrap();
        // G.722 at 64 kbit/s: 160 bytes per 20 ms; RTP clock 8000 (RFC 3551).
        assert_eq!((a.len, b.timestamp.wrapping_sub(a.timestamp)), (160, 160));

        let p = tone_prompt(dir.path(), OutputFormat::PCMA);
        assert_eq!(
            Music::new(AudioCodec::G722, Playlist::new().prompt(p)).unwrap_err(),
            MusicError::Format
        );
    }
}
