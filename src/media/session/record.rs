//! Recording what the caller says. The session task hands each played-out
//! frame (still G.711, a reference-counted slice) through a bounded channel
//! to a writer task of its own on the media runtime, tagged with its place
//! on the recording's timeline (one frame per tick since the recording
//! started). The writer decodes it and places it with
//! [`WavWriter::write_at`] (buffered writes, no sync), so ticks without
//! audio, and frames dropped because the writer fell behind, become silence
//! and the file keeps the session's timing. The session task never waits
//! for the disk. The file is finished (its header written and synced) on
//! the blocking pool of the runtime that started the recording
//! (signalling, in the switch) when the [`Recorder`] is finished or dropped
//! (channel closed): a recording holds no thread while it runs, so a
//! thousand voicemails at once do not exhaust the blocking pool.

use super::SessionError;
use super::inbound::decode;
use crate::media::relay::AudioCodec;
use crate::media::wav::{RecordingSummary, WavError, WavWriter};
use bytes::Bytes;
use tokio::runtime::Handle;
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
pub(crate) struct Recorder {
    tx: mpsc::Sender<Chunk>,
    /// The writer once the recording has ended (`None`: the channel closed
    /// without an end, the writer was finished in the background).
    join: JoinHandle<Result<Option<WavWriter>, WavError>>,
    /// The runtime that started the recording (signalling, in the switch):
    /// the file is finished on its blocking pool, off the media threads.
    home: Handle,
    /// Sample position of the next tick.
    at: u64,
    samples_per_tick: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
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
        let home = Handle::current();
        Self {
            tx,
            join: crate::media::runtime::spawn(write_loop(writer, rx, codec, home.clone())),
            home,
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
        let Self {
            tx, join, at, home, ..
        } = self;
        // Fails only if the writer already stopped on an error.
        let _ = tx.send(Chunk::End { at }).await;
        drop(tx);
        let writer = match join.await {
            Ok(Ok(Some(writer))) => writer,
            Ok(Ok(None)) | Err(_) => return Err(SessionError::Closed),
            Ok(Err(e)) => return Err(e.into()),
        };
        // The final header and the sync: off the media threads.
        match home.spawn_blocking(move || writer.finish()).await {
            Ok(r) => r.map_err(SessionError::from),
            Err(_) => Err(SessionError::Closed),
        }
    }
}

/// Writes the frames as they come; gives the writer back at the end, or
/// finishes it in the background when the channel closes without one.
async fn write_loop(
    mut writer: WavWriter,
    mut rx: mpsc::Receiver<Chunk>,
    codec: AudioCodec,
    home: Handle,
) -> Result<Option<WavWriter>, WavError> {
    let mut pcm: Vec<i16> = Vec::new();
    while let Some(chunk) = rx.recv().await {
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
                return Ok(Some(writer));
            }
        }
    }
    // The recorder was dropped: nobody waits for the summary.
    home.spawn_blocking(move || {
        if let Err(e) = writer.finish() {
            tracing::warn!("a dropped recording was not finished: {e}");
        }
    });
    Ok(None)
}
