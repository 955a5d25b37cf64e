//! Crash-safe 16-bit PCM WAV writer.
//!
//! The file starts with a canonical 44-byte header (`RIFF`, `fmt `, `data`).
//! Samples go through a bounded [`BufWriter`]; every `checkpoint_interval` of
//! audio the writer flushes the buffer to the OS *and then* rewrites the whole
//! header in one 44-byte write at offset 0 with the sizes of the data flushed
//! so far. A large write is split at checkpoint boundaries, so at any moment
//! the on-disk header covers all audio except at most the last interval.
//! Bytes past the header's `data` size (buffer spills between checkpoints) are
//! ignored by players and recovered by [`repair`](super::repair).
//!
//! Killing the process therefore loses at most one checkpoint interval of
//! audio (none after `repair`). Power loss additionally depends on
//! [`SyncPolicy`]: with `EveryCheckpoint`, data is `sync_data`'d *before* the
//! header that covers it is written.
//!
//! Pause (e.g. while a caller reads out a card number) writes **silence**
//! instead of the audio: the file keeps the call's timeline, so durations and
//! timestamps used by QA match the call's events, and stereo channels stay
//! aligned. Paused audio never reaches the disk or the buffer.
//!
//! Dropping a writer without [`WavWriter::finish`] still flushes and updates
//! the header (best effort); `std::mem::forget` or a crash leaves the header
//! of the last checkpoint.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Result, WavError, io_err};

/// Length of the header written by [`WavWriter`].
pub(crate) const HEADER_LEN: u64 = 44;

/// Frames handled per internal chunk (bounds stack/heap scratch buffers).
const CHUNK_FRAMES: usize = 1024;

/// Sample layout of a recording: 16-bit PCM, 1 or 2 channels, any rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcmFormat {
    /// 1 (mono) or 2 (stereo: left = caller, right = agent).
    pub channels: u16,
    /// Samples per second per channel, e.g. 8000, 16000, 48000.
    pub sample_rate: u32,
}

impl PcmFormat {
    /// Mono at `sample_rate`.
    pub fn mono(sample_rate: u32) -> Self {
        Self {
            channels: 1,
            sample_rate,
        }
    }

    /// Stereo at `sample_rate`.
    pub fn stereo(sample_rate: u32) -> Self {
        Self {
            channels: 2,
            sample_rate,
        }
    }

    /// Bytes per frame (all channels of one sample instant).
    pub fn block_align(&self) -> u16 {
        self.channels * 2
    }

    /// Duration of `frames` frames at this rate.
    pub fn duration_of(&self, frames: u64) -> Duration {
        let rate = u64::from(self.sample_rate.max(1));
        let nanos = (frames % rate) * 1_000_000_000 / rate;
        Duration::from_secs(frames / rate) + Duration::from_nanos(nanos)
    }

    fn validate(&self) -> Result<()> {
        if !(1..=2).contains(&self.channels) {
            return Err(WavError::InvalidSettings(format!(
                "{} channels (1 or 2 supported)",
                self.channels
            )));
        }
        if self.sample_rate == 0 {
            return Err(WavError::InvalidSettings("sample rate 0".into()));
        }
        Ok(())
    }

    /// The canonical 44-byte header for `data_bytes` bytes of samples.
    pub(crate) fn header(&self, data_bytes: u32) -> [u8; HEADER_LEN as usize] {
        let mut h = [0u8; HEADER_LEN as usize];
        let byte_rate = self.sample_rate * u32::from(self.block_align());
        h[0..4].copy_from_slice(b"RIFF");
        h[4..8].copy_from_slice(&(data_bytes + 36).to_le_bytes());
        h[8..12].copy_from_slice(b"WAVE");
        h[12..16].copy_from_slice(b"fmt ");
        h[16..20].copy_from_slice(&16u32.to_le_bytes());
        h[20..22].copy_from_slice(&1u16.to_le_bytes()); // WAVE_FORMAT_PCM
        h[22..24].copy_from_slice(&self.channels.to_le_bytes());
        h[24..28].copy_from_slice(&self.sample_rate.to_le_bytes());
        h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
        h[32..34].copy_from_slice(&self.block_align().to_le_bytes());
        h[34..36].copy_from_slice(&16u16.to_le_bytes());
        h[36..40].copy_from_slice(b"data");
        h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
        h
    }
}

/// When the writer asks the OS to make data durable (`sync_data`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Never sync; survives process crashes, not power loss.
    Never,
    /// Sync once in [`WavWriter::finish`] (and on drop).
    #[default]
    OnFinish,
    /// Sync data before every header update, and at finish. Costs one
    /// `fdatasync` per checkpoint.
    EveryCheckpoint,
}

/// Tuning of a [`WavWriter`].
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Audio time between header updates (default 500 ms). A crash loses at
    /// most this much audio before repair. Must be non-zero.
    pub checkpoint_interval: Duration,
    /// Capacity of the write buffer in bytes (default 16 KiB).
    pub buffer_capacity: usize,
    /// Durability policy (default [`SyncPolicy::OnFinish`]).
    pub sync: SyncPolicy,
    /// Replace an existing file instead of failing (default `false`).
    pub overwrite: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            checkpoint_interval: Duration::from_millis(500),
            buffer_capacity: 16 * 1024,
            sync: SyncPolicy::OnFinish,
            overwrite: false,
        }
    }
}

/// What a finished recording holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingSummary {
    /// The file written.
    pub path: PathBuf,
    /// Frames (sample instants) in the file.
    pub frames: u64,
    /// Samples in the file (`frames * channels`).
    pub samples: u64,
    /// Audio duration (`frames / sample_rate`).
    pub duration: Duration,
    /// Frames written as silence because the recording was paused.
    pub paused_frames: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Finished,
    Failed,
}

/// Crash-safe 16-bit PCM WAV writer (mono or interleaved stereo).
///
/// Two mono files per call = two `WavWriter`s fed with [`write_at`](Self::write_at)
/// using the same timeline.
pub struct WavWriter {
    path: PathBuf,
    format: PcmFormat,
    out: BufWriter<File>,
    sync: SyncPolicy,
    frames: u64,
    checkpoint_frames: u64,
    next_checkpoint: u64,
    max_frames: u64,
    paused: bool,
    paused_frames: u64,
    state: State,
}

impl WavWriter {
    /// Creates `path` (not its directories) and writes an empty header.
    pub fn create(
        path: impl AsRef<Path>,
        format: PcmFormat,
        options: WriterOptions,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        format.validate()?;
        if options.checkpoint_interval.is_zero() {
            return Err(WavError::InvalidSettings("checkpoint interval 0".into()));
        }
        let mut open = OpenOptions::new();
        open.write(true);
        if options.overwrite {
            open.create(true).truncate(true);
        } else {
            open.create_new(true);
        }
        let mut file = open.open(&path).map_err(io_err(&path))?;
        file.write_all(&format.header(0)).map_err(io_err(&path))?;
        let rate = u128::from(format.sample_rate);
        let checkpoint_frames = (options.checkpoint_interval.as_nanos() * rate / 1_000_000_000)
            .clamp(1, u128::from(u32::MAX)) as u64;
        let max_data = u64::from(u32::MAX) - 36;
        Ok(Self {
            max_frames: max_data / u64::from(format.block_align()),
            out: BufWriter::with_capacity(options.buffer_capacity.max(64), file),
            path,
            format,
            sync: options.sync,
            frames: 0,
            checkpoint_frames,
            next_checkpoint: checkpoint_frames,
            paused: false,
            paused_frames: 0,
            state: State::Open,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sample layout.
    pub fn format(&self) -> PcmFormat {
        self.format
    }

    /// Frames written so far (including silence and paused frames).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Duration written so far.
    pub fn duration(&self) -> Duration {
        self.format.duration_of(self.frames)
    }

    /// Whether incoming audio is currently replaced by silence.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Pauses (`true`) or resumes (`false`): while paused, every write puts
    /// the same number of frames of silence in the file.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Appends interleaved frames (`L R L R ...` for stereo).
    pub fn write_frames(&mut self, interleaved: &[i16]) -> Result<()> {
        let ch = usize::from(self.format.channels);
        if interleaved.len() % ch != 0 {
            return Err(WavError::PartialFrame {
                samples: interleaved.len(),
                channels: self.format.channels,
            });
        }
        self.write_inner(Some(interleaved), (interleaved.len() / ch) as u64)
    }

    /// Appends `frames` frames of silence.
    pub fn write_silence(&mut self, frames: u64) -> Result<()> {
        self.write_inner(None, frames)
    }

    /// Writes interleaved frames starting at frame position `at` of the
    /// recording timeline: a gap since the last write is filled with silence,
    /// and frames before the current end (already written) are dropped.
    /// Returns the number of frames dropped as late.
    pub fn write_at(&mut self, at: u64, interleaved: &[i16]) -> Result<u64> {
        let ch = usize::from(self.format.channels);
        if interleaved.len() % ch != 0 {
            return Err(WavError::PartialFrame {
                samples: interleaved.len(),
                channels: self.format.channels,
            });
        }
        if at > self.frames {
            self.write_silence(at - self.frames)?;
        }
        let late = (self.frames - at).min((interleaved.len() / ch) as u64);
        self.write_frames(&interleaved[late as usize * ch..])?;
        Ok(late)
    }

    fn write_inner(&mut self, mut src: Option<&[i16]>, mut frames: u64) -> Result<()> {
        self.ensure_open()?;
        if self.frames + frames > self.max_frames {
            return Err(WavError::TooLarge {
                path: self.path.clone(),
            });
        }
        let ch = usize::from(self.format.channels);
        while frames > 0 {
            let n = frames
                .min(self.next_checkpoint - self.frames)
                .min(CHUNK_FRAMES as u64);
            let n_samples = n as usize * ch;
            let mut bytes = [0u8; CHUNK_FRAMES * 4];
            let bytes = &mut bytes[..n_samples * 2];
            if let Some(s) = src.as_mut() {
                let (now, later) = s.split_at(n_samples);
                if !self.paused {
                    for (dst, v) in bytes.chunks_exact_mut(2).zip(now) {
                        dst.copy_from_slice(&v.to_le_bytes());
                    }
                }
                *s = later;
            }
            let res = self.out.write_all(bytes);
            self.check(res)?;
            if self.paused {
                self.paused_frames += n;
            }
            self.frames += n;
            frames -= n;
            if self.frames >= self.next_checkpoint {
                self.checkpoint()?;
            }
        }
        Ok(())
    }

    /// Flushes buffered samples and rewrites the header to cover them.
    /// Called automatically every checkpoint interval of audio.
    pub fn checkpoint(&mut self) -> Result<()> {
        self.ensure_open()?;
        let sync = self.sync == SyncPolicy::EveryCheckpoint;
        let res = self.update_header(sync);
        self.check(res)?;
        self.next_checkpoint = self.frames + self.checkpoint_frames;
        Ok(())
    }

    fn update_header(&mut self, sync: bool) -> std::io::Result<()> {
        self.out.flush()?;
        let file = self.out.get_mut();
        if sync {
            file.sync_data()?;
        }
        let data_bytes = self.frames * u64::from(self.format.block_align());
        // `max_frames` keeps this within u32.
        let header = self.format.header(data_bytes as u32);
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&header)?;
        file.seek(SeekFrom::Start(HEADER_LEN + data_bytes))?;
        Ok(())
    }

    /// Writes the final header (and syncs unless the policy is `Never`).
    pub fn finish(mut self) -> Result<RecordingSummary> {
        self.finish_in_place()
    }

    pub(crate) fn finish_in_place(&mut self) -> Result<RecordingSummary> {
        self.ensure_open()?;
        let sync = self.sync == SyncPolicy::EveryCheckpoint;
        let res = self.update_header(sync).and_then(|()| {
            if self.sync != SyncPolicy::Never {
                self.out.get_mut().sync_all()?;
            }
            Ok(())
        });
        self.check(res)?;
        self.state = State::Finished;
        Ok(RecordingSummary {
            path: self.path.clone(),
            frames: self.frames,
            samples: self.frames * u64::from(self.format.channels),
            duration: self.duration(),
            paused_frames: self.paused_frames,
        })
    }

    fn ensure_open(&self) -> Result<()> {
        match self.state {
            State::Open => Ok(()),
            State::Finished | State::Failed => Err(WavError::Closed {
                path: self.path.clone(),
            }),
        }
    }

    /// On I/O failure the writer stops: the bytes on disk may no longer match
    /// the frame count, so the last good header is left alone.
    fn check(&mut self, res: std::io::Result<()>) -> Result<()> {
        res.map_err(|e| {
            self.state = State::Failed;
            io_err(&self.path)(e)
        })
    }
}

impl Drop for WavWriter {
    fn drop(&mut self) {
        if self.state == State::Open {
            let sync = self.sync != SyncPolicy::Never;
            let _ = self.update_header(sync);
        }
    }
}
