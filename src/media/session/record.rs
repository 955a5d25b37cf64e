//! Recording what the caller says. The session task hands each played-out
//! frame (still G.711, a reference-counted slice) through a bounded channel
//! to a writer on tokio's blocking pool, tagged with its place on the
//! recording's timeline (one frame per tick since the recording started).
//! The writer decodes it and places it with [`WavWriter::write_at`], so ticks
//! without audio, and frames dropped because the writer fell behind, become
//! silence and the file keeps the session's timing. The task never waits for
//! the disk. The file is finished when the [`Recorder`] is finished or
//! dropped (channel closed).

use super::SessionError;
use super::inbound::decode;
use crate::media::relay::AudioCodec;
use crate::media::wav::{RecordingSummary, WavError, WavWriter};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;

#[derive(Debug)]
enum Chunk {
    /// Audio heard at sample position `at` of the recording.
    Frame { at: u64, payload: Bytes },
    /// The recording ends at sample position `at` (trailing silence).
    End { at: u64 },
}

/// The session task's side of one recording.
#[derive(Debug)]
pub(crate) struct Recorder {
    tx: mpsc::Sender<Chunk>,
    join: JoinHandle<Result<RecordingSummary, WavError>>,
    /// Sample position of the next tick.
    at: u64,
    samples_per_tick: u64,
}

impl Recorder {
    /// Start the writer for `writer`, decoding `codec` frames of
    /// `samples_per_tick` samples; at most `capacity` frames wait for it.
    pub fn spawn(
        writer: WavWriter,
        codec: AudioCodec,
        samples_per_tick: u64,
        capacity: usize,
    ) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Self {
            tx,
            join: tokio::task::spawn_blocking(move || write_loop(writer, rx, codec)),
            at: 0,
            samples_per_tick,
        }
    }

    /// One tick of the caller's audio (`None`: nothing heard, silence).
    /// Returns `false` when the frame was dropped because the writer is
    /// behind (it becomes silence). After a write error the writer is gone
    /// and frames are ignored; the error comes out of [`Self::finish`].
    pub fn tick(&mut self, payload: Option<&Bytes>) -> bool {
        let at = self.at;
        self.at += self.samples_per_tick;
        let Some(payload) = payload else {
            return true;
        };
        let chunk = Chunk::Frame {
            at,
            payload: payload.clone(),
        };
        !matches!(self.tx.try_send(chunk), Err(TrySendError::Full(_)))
    }

    /// `ticks` ticks passed without being processed (the task stalled).
    pub fn skip(&mut self, ticks: u64) {
        self.at = self
            .at
            .saturating_add(ticks.saturating_mul(self.samples_per_tick));
    }

    /// End the recording here (padding it with silence up to now) and wait
    /// for the file to be complete.
    pub async fn finish(self) -> Result<RecordingSummary, SessionError> {
        let Self { tx, join, at, .. } = self;
        // Fails only if the writer already stopped on an error.
        let _ = tx.send(Chunk::End { at }).await;
        drop(tx);
        match join.await {
            Ok(r) => r.map_err(SessionError::from),
            Err(_) => Err(SessionError::Closed),
        }
    }
}

fn write_loop(
    mut writer: WavWriter,
    mut rx: mpsc::Receiver<Chunk>,
    codec: AudioCodec,
) -> Result<RecordingSummary, WavError> {
    let mut pcm: Vec<i16> = Vec::new();
    while let Some(chunk) = rx.blocking_recv() {
        match chunk {
            Chunk::Frame { at, payload } => {
                pcm.resize(payload.len(), 0);
                decode(codec, &payload, &mut pcm);
                writer.write_at(at, &pcm)?;
            }
            Chunk::End { at } => {
                if at > writer.frames() {
                    writer.write_silence(at - writer.frames())?;
                }
                break;
            }
        }
    }
    writer.finish()
}
