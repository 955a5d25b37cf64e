//! A media session: the switch itself as the far end of ONE leg (echo test,
//! prompts, recording the caller, music on hold, IVR). One tokio task owns
//! the leg's sockets; it receives the caller's RTP (symmetric RTP latching as
//! in the relay, see [`crate::media::relay::latch`]), paces our own RTP
//! stream every [`PTIME`], and reports digits, playback ends, latching and
//! media timeouts as [`SessionEvent`]s without ever blocking on a consumer.
//!
//! # What goes out, tick by tick
//!
//! Each 20 ms tick sends at most one packet, the first that applies:
//! 1. an RFC 4733 packet of a digit queued by [`SessionHandle::send_digit`]
//!    (audio is suppressed, and the player paused, while a digit is sent);
//! 2. the [`Player`](crate::media::player::Player)'s next frame (prompts,
//!    silences, looping music on hold, barge-in);
//! 3. in echo mode, the frame the caller sent, out of the jitter buffer;
//! 4. otherwise [`IdleOutput`]: nothing, or digital silence.
//!
//! Our stream has its own SSRC; its sequence number grows by one per packet
//! sent and its timestamp by one frame per tick, sent or not (RFC 3550 5.1),
//! with the marker bit on the first packet of each talkspurt and of each
//! prompt. Nothing is sent on hold or before the leg has an address; the
//! player and queued digits then wait.
//!
//! # What comes in
//!
//! Audio packets go into a jitter buffer, one frame of which is played out
//! per tick: echoed, recorded (mono WAV at the leg's rate, a timeline of the
//! session with silence where the caller sent nothing), and, when the leg has
//! no telephone-event payload type, searched for in-band DTMF (Goertzel).
//! RFC 4733 packets go to a de-duplicating receiver. Strangers, garbage and
//! unknown payload types are dropped and counted; a flood is read in bounded
//! batches so the ticks keep their pace.
//!
//! The leg is described by the relay's [`LegSetup`] (same SDP outcome, same
//! sockets from the port pool) and its state kept in the relay's per-leg type,
//! so the session's [`SessionSummary::leg`] is the relay's [`LegSummary`].
//!
//! This module holds the public types and the [`SessionHandle`]; the decode
//! path is in `inbound.rs`, our RTP stream and digit sending in
//! `outbound.rs`, the recording writer in `record.rs`, the loop in `task.rs`.

mod inbound;
mod outbound;
mod record;
mod task;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_dtmf;
#[cfg(test)]
mod tests_robust;

use crate::media::dtmf::digit_to_event;
use crate::media::jitter::{JitterConfig, JitterStats};
use crate::media::player::{OutputFormat, PlaybackId, PlayerError, Playlist};
use crate::media::ports::MediaSockets;
use crate::media::relay::{AudioCodec, LegSetup, LegSummary};
use crate::media::wav::{PcmFormat, RecordingSummary, WavError, WavWriter, WriterOptions};
use record::Recorder;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Packetisation time of everything a session sends, and its tick.
pub const PTIME: Duration = Duration::from_millis(20);

/// What a session sends when it has nothing to play, echo or signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdleOutput {
    /// Send nothing (the timestamp keeps running; the next packet has the
    /// marker bit).
    Nothing,
    /// Send frames of digital silence in the leg's codec (keeps NAT bindings
    /// open and latching peers latched). Not RFC 3389 comfort noise.
    #[default]
    Silence,
}

/// Session tuning.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Report [`SessionEvent::MediaTimeout`] when the leg (not on hold) sends
    /// no RTP for this long. `None` disables the check.
    pub media_timeout: Option<Duration>,
    /// Look for DTMF tones in the audio when the leg has no telephone-event
    /// payload type (ignored when it has one).
    pub inband_dtmf: bool,
    /// What to send when there is nothing else.
    pub idle: IdleOutput,
    /// The jitter buffer of the decode path; its clock rate and ptime are set
    /// from the leg.
    pub jitter: JitterConfig,
    /// An RFC 4733 event whose end packets were all lost is reported after
    /// this much silence.
    pub dtmf_end_timeout: Duration,
    /// How long each digit of [`SessionHandle::send_digit`] lasts.
    pub digit_duration: Duration,
    /// Pause between two queued digits.
    pub digit_gap: Duration,
    /// Digits that may wait to be sent.
    pub digit_queue: usize,
    /// Capacity of the event channel; events that do not fit are dropped and
    /// counted.
    pub event_capacity: usize,
    /// Capacity of the command channel.
    pub command_capacity: usize,
    /// Largest number of datagrams read from one socket before the task looks
    /// at its tick and commands again.
    pub batch: usize,
    /// Frames that may wait for the recording writer; beyond that they are
    /// dropped (and written as silence).
    pub recording_queue: usize,
    /// Options of the recording's [`WavWriter`] (crash-safe checkpoints).
    pub recording: WriterOptions,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            media_timeout: Some(Duration::from_secs(30)),
            inband_dtmf: true,
            idle: IdleOutput::Silence,
            jitter: JitterConfig::default(),
            dtmf_end_timeout: Duration::from_millis(500),
            digit_duration: Duration::from_millis(100),
            digit_gap: Duration::from_millis(60),
            digit_queue: 32,
            event_capacity: 64,
            command_capacity: 16,
            batch: 32,
            recording_queue: 250,
            recording: WriterOptions::default(),
        }
    }
}

/// How a received digit was signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitSource {
    /// RFC 4733 telephone-event packets.
    Rfc4733,
    /// Dual tones in the audio (Goertzel detector).
    Inband,
}

/// Something the call layer or IVR may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A digit from the caller, once per key press. RFC 4733 digits are
    /// reported at the end of the event with its duration; in-band digits as
    /// soon as the tone is recognised, without a duration.
    Digit {
        digit: char,
        source: DigitSource,
        duration_ms: Option<u32>,
    },
    /// A playlist played to its end.
    PlaybackFinished(PlaybackId),
    /// A barge-in playlist was stopped by this digit; reported right after
    /// the digit's [`SessionEvent::Digit`] (so an RFC 4733 key stops the
    /// prompt when it is released: one key press never stops two playlists).
    PlaybackInterrupted { id: PlaybackId, digit: char },
    /// A playlist was stopped by [`SessionHandle::stop_playback`] or replaced
    /// by [`SessionHandle::play`].
    PlaybackStopped(PlaybackId),
    /// No RTP from the leg for `media_timeout` (once per silence).
    MediaTimeout,
    /// The leg's media source is now this address; we send there.
    Latched(SocketAddr),
}

/// Counters and statistics of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    /// The leg as the relay would report it: receive statistics (loss,
    /// jitter), packets and bytes each way, strangers, invalid packets,
    /// unknown payload types, RTCP, latched address, digits received.
    /// `packets_forwarded` stays 0: a session forwards nothing.
    pub leg: LegSummary,
    /// The decode path's jitter buffer.
    pub jitter: JitterStats,
    /// Player frames sent.
    pub frames_played: u64,
    /// Caller frames sent back in echo mode.
    pub frames_echoed: u64,
    /// Digits sent with RFC 4733.
    pub digits_sent: u32,
    /// Ticks whose frame was not sent because the task ran late (a stall
    /// longer than a few frames; the stream's timestamp jumps over them).
    pub ticks_late: u64,
    /// Events dropped because the event channel was full.
    pub events_dropped: u64,
    /// Recorded frames dropped because the writer fell behind (written as
    /// silence), over all recordings.
    pub recording_frames_dropped: u64,
    /// Set by [`SessionHandle::stop`] when a recording was still running:
    /// it is finished then (it is also finished, unreported, when the handle
    /// is dropped).
    pub recording: Option<RecordingSummary>,
}

/// Why a session could not start or a command failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("a media session needs PCMU or PCMA at 8000 Hz, not {codec:?} at {clock_rate} Hz")]
    UnsupportedCodec { codec: AudioCodec, clock_rate: u32 },
    #[error("media session is not running")]
    Closed,
    #[error(transparent)]
    Player(#[from] PlayerError),
    #[error("the leg has no telephone-event payload type: digits cannot be sent")]
    NoTelephoneEvent,
    #[error("not a DTMF digit: {0:?}")]
    NotADigit(char),
    #[error("too many digits waiting to be sent")]
    DigitQueueFull,
    #[error(transparent)]
    Recording(#[from] WavError),
    #[error("a recording is already running")]
    AlreadyRecording,
    #[error("no recording is running")]
    NotRecording,
}

/// A command to the session task.
#[derive(Debug)]
pub(crate) enum Command {
    Play(Playlist, oneshot::Sender<Result<PlaybackId, PlayerError>>),
    StopPlayback(oneshot::Sender<bool>),
    Echo(bool),
    StartRecording(Recorder, oneshot::Sender<Result<(), Recorder>>),
    StopRecording(oneshot::Sender<Option<Recorder>>),
    SendDigit(char, oneshot::Sender<Result<(), SessionError>>),
    SetRemote {
        remote: Option<SocketAddr>,
        allowed_ips: Vec<IpAddr>,
    },
    Hold(bool),
    Snapshot(oneshot::Sender<SessionSummary>),
    Stop,
}

/// Control of one running session. Dropping it stops the session (a running
/// recording is finished).
#[derive(Debug)]
pub struct SessionHandle {
    commands: mpsc::Sender<Command>,
    events: Option<mpsc::Receiver<SessionEvent>>,
    task: JoinHandle<(SessionSummary, Option<Recorder>, MediaSockets)>,
    format: OutputFormat,
    codec: AudioCodec,
    telephone_event: bool,
    recording_queue: usize,
    recording_options: WriterOptions,
}

/// Start the session task for one leg. Must be called within a tokio runtime.
///
/// Fails, without spawning anything, unless the leg carries PCMU or PCMA at
/// 8000 Hz; the sockets are then dropped.
pub fn spawn_session(setup: LegSetup, opts: SessionOptions) -> Result<SessionHandle, SessionError> {
    let format = match (setup.codec, setup.clock_rate) {
        (AudioCodec::Pcmu, 8000) => OutputFormat::PCMU,
        (AudioCodec::Pcma, 8000) => OutputFormat::PCMA,
        (codec, clock_rate) => {
            return Err(SessionError::UnsupportedCodec { codec, clock_rate });
        }
    };
    let (cmd_tx, cmd_rx) = mpsc::channel(opts.command_capacity.max(1));
    let (ev_tx, ev_rx) = mpsc::channel(opts.event_capacity.max(1));
    let codec = setup.codec;
    let telephone_event = setup.telephone_event_pt.is_some();
    let clock_rate = setup.clock_rate;
    let session = task::Session::new(setup, format, &opts, cmd_rx, ev_tx)
        .map_err(|_| SessionError::UnsupportedCodec { codec, clock_rate })?;
    Ok(SessionHandle {
        commands: cmd_tx,
        events: Some(ev_rx),
        task: crate::media::runtime::spawn(Box::new(session).run()),
        format,
        codec,
        telephone_event,
        recording_queue: opts.recording_queue.max(1),
        recording_options: opts.recording,
    })
}

impl SessionHandle {
    async fn send(&self, cmd: Command) -> Result<(), SessionError> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| SessionError::Closed)
    }

    async fn ask<T>(
        &self,
        cmd: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SessionError> {
        let (tx, rx) = oneshot::channel();
        self.send(cmd(tx)).await?;
        rx.await.map_err(|_| SessionError::Closed)
    }

    /// What the leg sends: convert prompts for it
    /// ([`PromptCache::get`](crate::media::player::PromptCache::get)).
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Play `playlist`, replacing (and reporting
    /// [`SessionEvent::PlaybackStopped`] for) the current one. Fails if a
    /// prompt was converted for another format.
    pub async fn play(&self, playlist: Playlist) -> Result<PlaybackId, SessionError> {
        Ok(self.ask(|tx| Command::Play(playlist, tx)).await??)
    }

    /// Stop the current playlist; `false` when nothing was playing.
    pub async fn stop_playback(&self) -> Result<bool, SessionError> {
        self.ask(Command::StopPlayback).await
    }

    /// Send the caller's audio back to it (when nothing is playing).
    pub async fn set_echo(&self, on: bool) -> Result<(), SessionError> {
        self.send(Command::Echo(on)).await
    }

    /// Record what the caller says into a new mono WAV file at `path` (not
    /// overwritten if it exists, unless the options say so), at the leg's
    /// rate, from now until [`Self::stop_recording`].
    pub async fn start_recording(&self, path: impl Into<PathBuf>) -> Result<(), SessionError> {
        let path = path.into();
        let options = self.recording_options.clone();
        let create = path.clone();
        let format = PcmFormat::mono(self.format.sample_rate());
        let writer =
            tokio::task::spawn_blocking(move || WavWriter::create(&create, format, options))
                .await
                .map_err(|_| SessionError::Closed)??;
        let recorder = Recorder::spawn(
            writer,
            self.codec,
            self.format.samples_per_frame() as u64,
            self.recording_queue,
        );
        match self.ask(|tx| Command::StartRecording(recorder, tx)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(recorder)) => {
                // Refused: the file we just created is ours to remove.
                let _ = recorder.finish().await;
                let _ = tokio::fs::remove_file(&path).await;
                Err(SessionError::AlreadyRecording)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(e)
            }
        }
    }

    /// Finish the running recording and return what it holds.
    pub async fn stop_recording(&self) -> Result<RecordingSummary, SessionError> {
        match self.ask(Command::StopRecording).await? {
            Some(recorder) => recorder.finish().await,
            None => Err(SessionError::NotRecording),
        }
    }

    /// Queue `digit` (0-9, *, #, A-D) to be sent as RFC 4733 events.
    pub async fn send_digit(&self, digit: char) -> Result<(), SessionError> {
        if !self.telephone_event {
            return Err(SessionError::NoTelephoneEvent);
        }
        if digit_to_event(digit).is_none() {
            return Err(SessionError::NotADigit(digit));
        }
        self.ask(|tx| Command::SendDigit(digit, tx)).await?
    }

    /// A re-INVITE changed the leg's address: unlatch, send to `remote` until
    /// the leg latches again (from one of `allowed_ips` or `remote`'s IP).
    pub async fn set_remote(
        &self,
        remote: Option<SocketAddr>,
        allowed_ips: Vec<IpAddr>,
    ) -> Result<(), SessionError> {
        self.send(Command::SetRemote {
            remote,
            allowed_ips,
        })
        .await
    }

    /// Stop (or resume) sending to the leg. Playback and queued digits wait
    /// meanwhile; the media timeout is suspended.
    pub async fn hold(&self, on: bool) -> Result<(), SessionError> {
        self.send(Command::Hold(on)).await
    }

    /// Counters so far, without stopping (`recording` is `None`).
    pub async fn snapshot(&self) -> Result<SessionSummary, SessionError> {
        self.ask(Command::Snapshot).await
    }

    /// The event stream (once; `None` afterwards).
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<SessionEvent>> {
        self.events.take()
    }

    /// Next event, while the events have not been taken and the task runs.
    pub async fn next_event(&mut self) -> Option<SessionEvent> {
        self.events.as_mut()?.recv().await
    }

    /// Stop the session (finishing a running recording) and collect its summary.
    pub async fn stop(self) -> Result<SessionSummary, SessionError> {
        self.release().await.map(|(summary, _)| summary)
    }

    /// Stops the session like [`Self::stop`] and gives the leg's sockets
    /// back, still bound to the port the phone sends to (to bridge the leg
    /// to another one through the relay).
    pub async fn release(self) -> Result<(SessionSummary, MediaSockets), SessionError> {
        let _ = self.commands.send(Command::Stop).await;
        let (mut summary, recorder, sockets) = self.task.await.map_err(|_| SessionError::Closed)?;
        if let Some(recorder) = recorder {
            match recorder.finish().await {
                Ok(r) => summary.recording = Some(r),
                Err(e) => tracing::warn!(error = %e, "media session: recording failed"),
            }
        }
        Ok((summary, sockets))
    }
}
