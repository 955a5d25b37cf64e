//! Two-leg stereo call recorder: caller on the left, agent on the right.
//!
//! # Alignment by sample position
//!
//! Every write names the frame position `at` of its first sample on the
//! recording's timeline (frame 0 = recording start, one frame per sample
//! period at the file's rate). The media engine derives `at` from a shared
//! clock (e.g. elapsed time since the recording started, or a leg's RTP
//! timestamp minus its offset), so the two legs' 20 ms frames may arrive in any
//! order and at slightly different moments; [`StereoRecorder::append`] is a
//! shortcut that continues a leg right after its previous write.
//!
//! Each leg has a small pending buffer of frames not yet in the file. A frame
//! is committed to the file as soon as both legs have received it and every
//! frame before it (so packets reordered within a leg still land in place),
//! or when the newest position on either leg gets more than
//! [`StereoOptions::max_skew`] ahead of it: then the lagging (silent, on hold,
//! not yet answered, absent) leg and any hole are padded with silence. Samples that arrive for positions already committed are dropped
//! and counted ([`StereoRecorder::late_samples_dropped`]). Gaps inside a leg
//! are silence. Memory stays bounded by about `2 * max_skew` per leg, even for
//! a write far in the future (the gap is streamed out as silence).
//!
//! Crash loss is at most `checkpoint_interval + max_skew` of audio before
//! repair, and `max_skew` after it (the pending buffers live in memory).
//!
//! # Pause
//!
//! Pauses are intervals of timeline positions ([`pause_at`](StereoRecorder::pause_at),
//! or [`pause`](StereoRecorder::pause) at the newest position seen): both
//! channels are written as silence over them, so durations and timestamps stay
//! true to the call.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use super::writer::{PcmFormat, RecordingSummary, WavWriter, WriterOptions};
use super::{Result, WavError};

const COMMIT_CHUNK: u64 = 1024;

/// A call leg; selects the stereo channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The customer: left channel.
    Caller,
    /// The agent: right channel.
    Agent,
}

impl Leg {
    fn index(self) -> usize {
        match self {
            Leg::Caller => 0,
            Leg::Agent => 1,
        }
    }
}

/// Tuning of a [`StereoRecorder`].
#[derive(Clone, Debug)]
pub struct StereoOptions {
    /// How far one leg may run ahead of the other before the lagging side is
    /// padded with silence (default 200 ms). Larger tolerates more skew
    /// between the legs' clocks; smaller lowers latency and crash loss.
    pub max_skew: Duration,
    /// Options of the underlying writer.
    pub writer: WriterOptions,
}

impl Default for StereoOptions {
    fn default() -> Self {
        Self {
            max_skew: Duration::from_millis(200),
            writer: WriterOptions::default(),
        }
    }
}

/// Stereo recording of a two-leg call, aligned by sample position.
pub struct StereoRecorder {
    writer: WavWriter,
    /// Pending samples per leg; `pending[l][i]` is at frame `committed + i`;
    /// `None` is a hole (not received yet; silence if committed as such).
    pending: [VecDeque<Option<i16>>; 2],
    /// Interleaved frames on their way to the writer (reused).
    frames: Vec<i16>,
    /// Per leg, the position up to which the leg has no holes.
    filled: [u64; 2],
    /// Position after each leg's last write (for [`append`](Self::append)).
    next: [u64; 2],
    committed: u64,
    max_skew: u64,
    /// Muted half-open frame ranges; the last may be open (`u64::MAX`).
    pauses: Vec<(u64, u64)>,
    pruned_paused: u64,
    late_dropped: u64,
    finished: bool,
}

impl StereoRecorder {
    /// Creates the stereo file at `path` with `sample_rate`.
    pub fn create(
        path: impl AsRef<Path>,
        sample_rate: u32,
        options: StereoOptions,
    ) -> Result<Self> {
        let writer = WavWriter::create(path, PcmFormat::stereo(sample_rate), options.writer)?;
        let max_skew = (options.max_skew.as_nanos() * u128::from(sample_rate) / 1_000_000_000)
            .clamp(1, 1 << 32) as u64;
        Ok(Self {
            writer,
            pending: [VecDeque::new(), VecDeque::new()],
            frames: Vec::new(),
            next: [0; 2],
            filled: [0; 2],
            committed: 0,
            max_skew,
            pauses: Vec::new(),
            pruned_paused: 0,
            late_dropped: 0,
            finished: false,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        self.writer.path()
    }

    /// Frames already in the file (both channels).
    pub fn committed_frames(&self) -> u64 {
        self.committed
    }

    /// The newest timeline position seen on either leg.
    pub fn position(&self) -> u64 {
        self.leg_end(0).max(self.leg_end(1))
    }

    /// Samples discarded because they arrived for already-committed positions.
    pub fn late_samples_dropped(&self) -> u64 {
        self.late_dropped
    }

    fn leg_end(&self, l: usize) -> u64 {
        self.committed + self.pending[l].len() as u64
    }

    /// Writes `samples` of `leg` (mono, the leg's channel) starting at
    /// timeline frame `at`.
    pub fn write(&mut self, leg: Leg, at: u64, samples: &[i16]) -> Result<()> {
        self.ensure_open()?;
        let l = leg.index();
        let (mut at, mut samples) = (at, samples);
        if at < self.committed {
            let late = (self.committed - at).min(samples.len() as u64);
            self.late_dropped += late;
            samples = &samples[late as usize..];
            at += late;
        }
        for piece in samples.chunks(self.max_skew as usize) {
            if at > self.committed + self.max_skew {
                self.advance_to(at - self.max_skew)?;
            }
            self.insert(l, at, piece);
            at += piece.len() as u64;
            let end = self.leg_end(l);
            if end > self.committed + self.max_skew {
                self.advance_to(end - self.max_skew)?;
            }
        }
        self.next[l] = self.next[l].max(at);
        let both = self.filled[0].min(self.filled[1]);
        if both > self.committed {
            self.advance_to(both)?;
        }
        Ok(())
    }

    /// Writes `samples` of `leg` right after that leg's previous write.
    pub fn append(&mut self, leg: Leg, samples: &[i16]) -> Result<()> {
        self.write(leg, self.next[leg.index()], samples)
    }

    fn insert(&mut self, l: usize, at: u64, piece: &[i16]) {
        let buf = &mut self.pending[l];
        let offset = (at - self.committed) as usize;
        if buf.len() < offset {
            buf.resize(offset, None);
        }
        // Overwrite what is already pending, append the rest (the usual
        // case: the leg's next frame right after its previous one).
        let overlap = buf.len().saturating_sub(offset).min(piece.len());
        for (slot, &s) in buf.range_mut(offset..offset + overlap).zip(piece) {
            *slot = Some(s);
        }
        buf.extend(piece[overlap..].iter().map(|&s| Some(s)));
        let mut filled = (self.filled[l] - self.committed) as usize;
        while buf.get(filled).is_some_and(Option::is_some) {
            filled += 1;
        }
        self.filled[l] = self.committed + filled as u64;
        self.mute_pending();
    }

    /// Zeroes pending samples inside pause intervals.
    fn mute_pending(&mut self) {
        for &(start, end) in &self.pauses {
            for buf in &mut self.pending {
                let from = start.saturating_sub(self.committed).min(buf.len() as u64) as usize;
                let to = end.saturating_sub(self.committed).min(buf.len() as u64) as usize;
                buf.range_mut(from..to).flatten().for_each(|s| *s = 0);
            }
        }
    }

    /// Commits frames up to `target`, padding missing samples with silence.
    fn advance_to(&mut self, target: u64) -> Result<()> {
        let frames = &mut self.frames;
        while self.committed < target {
            let n = (target - self.committed).min(COMMIT_CHUNK) as usize;
            frames.clear();
            frames.resize(2 * n, 0);
            for (ch, pending) in self.pending.iter_mut().enumerate() {
                let take = n.min(pending.len());
                for (k, s) in pending.drain(..take).enumerate() {
                    frames[2 * k + ch] = s.unwrap_or(0);
                }
            }
            self.writer.write_frames(frames)?;
            self.committed += n as u64;
        }
        let committed = self.committed;
        for l in 0..2 {
            let buf = &self.pending[l];
            let mut filled = self.filled[l].max(committed);
            while buf
                .get((filled - committed) as usize)
                .is_some_and(Option::is_some)
            {
                filled += 1;
            }
            self.filled[l] = filled;
        }
        let pruned: u64 = self
            .pauses
            .iter()
            .filter(|p| p.1 <= committed)
            .map(|p| p.1 - p.0)
            .sum();
        self.pruned_paused += pruned;
        self.pauses.retain(|p| p.1 > committed);
        Ok(())
    }

    /// Whether a pause is open.
    pub fn is_paused(&self) -> bool {
        self.pauses.last().is_some_and(|p| p.1 == u64::MAX)
    }

    /// Pauses at the newest position seen ([`position`](Self::position)).
    pub fn pause(&mut self) {
        self.pause_at(self.position());
    }

    /// Resumes at the newest position seen.
    pub fn resume(&mut self) {
        self.resume_at(self.position());
    }

    /// Mutes both channels from frame `at` on. Positions already committed
    /// cannot be muted, so `at` is raised to the committed position. No-op if
    /// already paused.
    pub fn pause_at(&mut self, at: u64) {
        if self.is_paused() {
            return;
        }
        let floor = self.pauses.last().map_or(0, |p| p.1).max(self.committed);
        self.pauses.push((at.max(floor), u64::MAX));
        self.mute_pending();
    }

    /// Ends the open pause at frame `at` (exclusive). No-op if not paused.
    pub fn resume_at(&mut self, at: u64) {
        if let Some(p) = self.pauses.last_mut().filter(|p| p.1 == u64::MAX) {
            p.1 = at.max(p.0);
        }
    }

    /// Commits everything pending (padding the shorter leg with silence) and
    /// writes the final header.
    pub fn finish(mut self) -> Result<RecordingSummary> {
        self.ensure_open()?;
        self.finished = true;
        self.advance_to(self.position())?;
        let total = self.committed;
        let open: u64 = self
            .pauses
            .iter()
            .map(|p| p.1.min(total).saturating_sub(p.0))
            .sum();
        let mut summary = self.writer.finish_in_place()?;
        summary.paused_frames = self.pruned_paused + open;
        Ok(summary)
    }

    fn ensure_open(&self) -> Result<()> {
        if self.finished {
            return Err(WavError::Closed {
                path: self.writer.path().to_path_buf(),
            });
        }
        Ok(())
    }
}

impl Drop for StereoRecorder {
    /// Commits pending audio; the writer's own drop then updates the header.
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.advance_to(self.position());
        }
    }
}
