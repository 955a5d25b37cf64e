//! The per-call recording task. It owns one call's stereo WAV file (caller on
//! the left, agent on the right) and that file's row in the `recordings`
//! table, from creation to completion.
//!
//! [`start_recording`] names and creates the file
//! (`<root>/YYYY/MM/DD/<call-id>.wav`, then `<call-id>-2.wav`, ... when the
//! call is recorded again), inserts the row in state `recording` when given a
//! [`Store`], and spawns the task. The relay feeds it through
//! [`RecorderHandle::tap_sender`] (see [`RelayHandle::tap`]); that channel is
//! bounded and the relay drops frames rather than wait for the recorder.
//!
//! # Timeline
//!
//! Position 0 is the moment the recording started. The first frame of a leg
//! is placed by its arrival time; every later frame by its RTP timestamp
//! relative to that first frame (wrap-around aware), so jitter and reordering
//! do not move audio. When a leg's timestamps stray more than
//! [`RecorderConfig::reanchor_after`] from where arrival time says the leg
//! should be (a new source that was not rewritten, a clock gone wrong), the
//! leg is anchored again on arrival time. [`StereoRecorder`] lines the two
//! legs up and pads silence where a leg has none; a pause silences both
//! channels over its span, so the file keeps the call's real duration.
//!
//! # Codecs
//!
//! A [`TapDecoder`] turns each leg's payloads into linear audio at the leg's
//! own rate (8 kHz G.711, 16 kHz G.722, 48 kHz Opus); a leg slower than
//! the file's [`RecorderConfig::sample_rate`] is resampled up to it, so a
//! wideband call recorded at its widest leg's rate is never thrown down.
//! Frames of codecs the media core cannot decode are counted and skipped.
//!
//! # Ending
//!
//! [`RecorderHandle::finish`] drains the frames already queued, pads both
//! channels with silence up to that moment (the file lasts as long as the
//! call), closes the file and completes the row (`complete`, with its duration). Dropping the
//! handle does the same once every tap sender is gone (the relay stopped or
//! was untapped). A write error (disk full...) ends the recording early
//! without disturbing the call: it is logged, the file is repaired so it plays
//! up to its last byte, the row is completed as `repaired`, and the error is
//! reported in the [`RecordingResult`].
//!
//! Creating, closing and repairing the file (which may sync it to disk) run on
//! the blocking pool; per-frame writes go to the writer's buffer on the task.
//!
//! [`RelayHandle::tap`]: super::relay::RelayHandle::tap

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::relay::{LegId, TapDecoder, TapFrame};
use super::resample::Resampler;
use super::wav::{
    Leg, RecordingDate, StereoOptions, StereoRecorder, WavError, WriterOptions,
    create_recording_path, repair,
};
use crate::store::{RecordingRow, RecordingState, Store};

/// How often queued frames are written (the tap holds 256 frames, over
/// 1.9 s of a call).
const DRAIN_INTERVAL: Duration = Duration::from_millis(100);

/// Most files one call may have in one day directory (`<call-id>-N.wav`).
const MAX_FILES_PER_CALL: u32 = 100;

/// How one call is recorded.
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    /// Root of the recordings tree (`recordings/`).
    pub root: PathBuf,
    /// Sample rate of the file: 8000 for G.711 calls.
    pub sample_rate: u32,
    /// The caller consented (the disclosure played); stored in the row.
    pub consent: bool,
    /// A leg whose timestamps put it further than this from its arrival time
    /// is anchored again on arrival time (default 10 s).
    pub reanchor_after: Duration,
    /// Capacity of the tap channel in frames (default 256, about 2.5 s of
    /// both legs at 20 ms).
    pub tap_capacity: usize,
    /// Alignment and writer tuning. `writer.overwrite` is ignored: a
    /// recording never replaces an existing file.
    pub wav: StereoOptions,
}

impl RecorderConfig {
    /// A G.711 recording (8 kHz) under `root`, consent given, defaults
    /// otherwise.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            sample_rate: 8000,
            consent: true,
            reanchor_after: Duration::from_secs(10),
            tap_capacity: 256,
            wav: StereoOptions {
                writer: WriterOptions {
                    buffer_capacity: WRITE_BUFFER,
                    ..WriterOptions::default()
                },
                ..StereoOptions::default()
            },
        }
    }
}

/// The file's write buffer: 4 KiB is 128 ms of stereo 8 kHz audio, so a
/// call costs about eight small writes a second and 12 KiB less memory than
/// the writer's default (thousands of calls are recorded at once).
const WRITE_BUFFER: usize = 4 * 1024;

/// Why a recording could not start, or is gone.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// Creating the file failed.
    #[error("recording file: {0}")]
    File(#[from] WavError),
    /// Inserting the `recordings` row failed (e.g. the call has no CDR yet).
    #[error("recordings table: {0}")]
    Store(#[from] sqlx::Error),
    /// The recording task has ended (after a write error, or it failed).
    #[error("the recording task has ended")]
    Ended,
}

/// What happened on one leg.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegCounters {
    /// Audio frames decoded and placed on the timeline.
    pub frames: u64,
    /// Samples dropped because their place was already written to the file
    /// (more than `wav.max_skew` late) or before the recording started.
    pub late_samples: u64,
    /// Frames skipped: a codec the recorder cannot decode, or another rate.
    pub unsupported_frames: u64,
    /// Times the leg was anchored again on arrival time.
    pub reanchors: u64,
}

/// What a finished recording holds. Frames the relay dropped because the tap
/// channel was full are counted by the relay (`RelaySummary::tap_dropped`).
#[derive(Debug)]
pub struct RecordingResult {
    pub path: PathBuf,
    /// Audio in the file, from the recording's start to the last sample of
    /// either leg. Zero if the file could not be closed or repaired.
    pub duration: Duration,
    /// Part of `duration` silenced by pauses (zero after a write error).
    pub paused: Duration,
    /// Leg A, the left channel.
    pub caller: LegCounters,
    /// Leg B, the right channel.
    pub agent: LegCounters,
    /// The write error that ended the recording early. The file then holds
    /// the audio written before it, and the row is `repaired`.
    pub write_error: Option<WavError>,
    /// Completing the row failed; it is left for the start-up repair.
    pub store_error: Option<sqlx::Error>,
}

impl RecordingResult {
    pub fn leg(&self, leg: LegId) -> &LegCounters {
        match leg {
            LegId::A => &self.caller,
            LegId::B => &self.agent,
        }
    }
}

/// A request from the handle to the task.
#[derive(Debug)]
enum Control {
    Pause(Instant),
    Resume(Instant),
    Finish,
}

/// Control of one running recording. Dropping it lets the recording run on
/// until every tap sender is dropped, then finishes it.
#[derive(Debug)]
pub struct RecorderHandle {
    path: PathBuf,
    started_at: Instant,
    frames: mpsc::Sender<TapFrame>,
    control: mpsc::Sender<Control>,
    task: JoinHandle<RecordingResult>,
}

impl RecorderHandle {
    /// A sender for [`RelayHandle::tap`](super::relay::RelayHandle::tap).
    pub fn tap_sender(&self) -> mpsc::Sender<TapFrame> {
        self.frames.clone()
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The instant of timeline position 0.
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// Silences both channels from now on (e.g. while the caller reads out a
    /// card number).
    pub async fn pause(&self) -> Result<(), RecorderError> {
        self.pause_at(Instant::now()).await
    }

    /// Silences both channels from the timeline position of `at`.
    pub async fn pause_at(&self, at: Instant) -> Result<(), RecorderError> {
        self.send(Control::Pause(at)).await
    }

    /// Ends a pause now.
    pub async fn resume(&self) -> Result<(), RecorderError> {
        self.resume_at(Instant::now()).await
    }

    /// Ends a pause at the timeline position of `at`.
    pub async fn resume_at(&self, at: Instant) -> Result<(), RecorderError> {
        self.send(Control::Resume(at)).await
    }

    async fn send(&self, c: Control) -> Result<(), RecorderError> {
        self.control.send(c).await.map_err(|_| RecorderError::Ended)
    }

    /// Writes the frames already queued, closes the file and completes the
    /// row. Frames sent afterwards are refused (the relay then untaps).
    pub async fn finish(self) -> Result<RecordingResult, RecorderError> {
        let Self {
            control,
            frames,
            task,
            ..
        } = self;
        // The task may already have ended after a write error.
        let _ = control.send(Control::Finish).await;
        drop(frames);
        task.await.map_err(|_| RecorderError::Ended)
    }
}

/// Creates the file and the row and starts recording `call_id`.
///
/// With a store, the call's CDR must exist; if the row cannot be inserted the
/// new file is removed again.
pub async fn start_recording(
    store: Option<Store>,
    call_id: &str,
    cfg: RecorderConfig,
) -> Result<RecorderHandle, RecorderError> {
    let created_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (root, id, rate, opts) = (
        cfg.root.clone(),
        call_id.to_owned(),
        cfg.sample_rate,
        cfg.wav.clone(),
    );
    let wav = tokio::task::spawn_blocking(move || {
        create_file(&root, RecordingDate::today(), &id, rate, opts)
    })
    .await
    .map_err(|_| RecorderError::Ended)??;
    let path = wav.path().to_path_buf();
    if let Some(store) = &store {
        let mut row = RecordingRow::new(
            call_id,
            path.to_string_lossy(),
            2,
            cfg.sample_rate,
            created_at,
        );
        row.consent = cfg.consent;
        if let Err(e) = store.insert_recording(&row).await {
            drop(wav);
            if let Err(rm) = std::fs::remove_file(&path) {
                tracing::warn!(call_id, path = %path.display(), "cannot remove unused recording file: {rm}");
            }
            return Err(e.into());
        }
    }
    tracing::info!(call_id, path = %path.display(), "recording started");

    let (frames_tx, frames_rx) = mpsc::channel(cfg.tap_capacity.max(1));
    let (control_tx, control_rx) = mpsc::channel(8);
    let started_at = Instant::now();
    let task = Recording {
        call_id: call_id.to_owned(),
        path: path.clone(),
        store,
        home: tokio::runtime::Handle::current(),
        started_at,
        sample_rate: cfg.sample_rate,
        reanchor_after: samples_in(cfg.reanchor_after, cfg.sample_rate) as i64,
        wav: Some(wav),
        legs: Default::default(),
        decoder: TapDecoder::new(),
        rate_match: Default::default(),
        decoded: Vec::new(),
        scratch: Vec::new(),
        write_error: None,
    };
    Ok(RecorderHandle {
        path,
        started_at,
        frames: frames_tx,
        control: control_tx,
        task: crate::media::runtime::spawn(Box::new(task).run(frames_rx, control_rx)),
    })
}

/// Creates `<call-id>.wav`, or `<call-id>-N.wav` if the call already has
/// recordings that day.
fn create_file(
    root: &Path,
    date: RecordingDate,
    call_id: &str,
    sample_rate: u32,
    mut opts: StereoOptions,
) -> Result<StereoRecorder, WavError> {
    opts.writer.overwrite = false;
    let mut n = 1;
    loop {
        let name = match n {
            1 => call_id.to_owned(),
            _ => format!("{call_id}-{n}"),
        };
        let path = create_recording_path(root, date, &name)?;
        match StereoRecorder::create(&path, sample_rate, opts.clone()) {
            Err(WavError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists && n < MAX_FILES_PER_CALL =>
            {
                n += 1;
            }
            other => return other,
        }
    }
}

/// Samples at `rate` in `d`.
fn samples_in(d: Duration, rate: u32) -> u64 {
    (d.as_nanos() * u128::from(rate) / 1_000_000_000) as u64
}

/// The rates placing one frame: the file's samples per second and the RTP
/// clock of the frame's codec (8000 for G.711 and G.722, 48000 for Opus).
#[derive(Clone, Copy, Debug)]
struct Rates {
    file: u32,
    rtp_clock: u32,
}

/// Brings a leg's decoded audio to the file's rate (a G.711 leg in a
/// wideband call's file is upsampled; nothing is ever thrown down).
#[derive(Default)]
struct RateMatch {
    resampler: Option<Resampler>,
}

impl RateMatch {
    /// `input` at `from` Hz into `out` at `to` Hz.
    fn convert(&mut self, input: &[i16], from: u32, to: u32, out: &mut Vec<i16>) -> bool {
        out.clear();
        if from == to {
            out.extend_from_slice(input);
            return true;
        }
        if self
            .resampler
            .as_ref()
            .is_none_or(|r| r.from_rate() != from || r.to_rate() != to)
        {
            match Resampler::new(from, to) {
                Ok(r) => self.resampler = Some(r),
                Err(_) => return false,
            }
        }
        if let Some(r) = self.resampler.as_mut() {
            r.process(input, out);
        }
        true
    }
}

/// Where a leg's timestamps sit on the timeline.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    /// Timeline position of the anchoring timestamp.
    position: i64,
    /// The newest timestamp seen...
    newest_ts: u32,
    /// ... and how far it is past the anchoring one, in RTP units.
    newest_offset: i64,
}

/// Placement state of one leg.
#[derive(Debug, Default)]
struct LegTimeline {
    anchor: Option<Anchor>,
    counters: LegCounters,
}

impl LegTimeline {
    /// Timeline position of a frame with timestamp `ts` that arrived at
    /// position `arrived`. The first frame, and any frame further than
    /// `max_drift` samples from `arrived`, anchors the leg at `arrived`.
    fn place(&mut self, ts: u32, arrived: i64, rate: Rates, max_drift: i64) -> i64 {
        if let Some(a) = &mut self.anchor {
            let offset = a.newest_offset + i64::from(ts.wrapping_sub(a.newest_ts) as i32);
            let position = a.position + offset * i64::from(rate.file) / i64::from(rate.rtp_clock);
            if (position - arrived).abs() <= max_drift {
                if offset > a.newest_offset {
                    a.newest_ts = ts;
                    a.newest_offset = offset;
                }
                return position;
            }
            self.counters.reanchors += 1;
        }
        self.anchor = Some(Anchor {
            position: arrived,
            newest_ts: ts,
            newest_offset: 0,
        });
        arrived
    }
}

/// The channel of a leg: A is the caller, B the agent.
fn channel(leg: LegId) -> Leg {
    match leg {
        LegId::A => Leg::Caller,
        LegId::B => Leg::Agent,
    }
}

/// How the file was closed.
#[derive(Debug)]
struct Closed {
    frames: u64,
    paused_frames: u64,
    state: RecordingState,
}

/// The task's state.
struct Recording {
    call_id: String,
    path: PathBuf,
    store: Option<Store>,
    /// The runtime that started the recording (signalling, in the switch):
    /// closing the file and completing the row run there, so neither a
    /// blocking thread nor a database connection is started from a media
    /// thread (a new thread takes its creator's priority).
    home: tokio::runtime::Handle,
    started_at: Instant,
    sample_rate: u32,
    /// [`RecorderConfig::reanchor_after`] in samples.
    reanchor_after: i64,
    /// `None` once a write failed.
    wav: Option<StereoRecorder>,
    legs: [LegTimeline; 2],
    /// One decoder per leg (G.711, G.722, Opus keep state between frames).
    decoder: TapDecoder,
    rate_match: [RateMatch; 2],
    /// A frame decoded at its leg's rate...
    decoded: Vec<i16>,
    /// ... and at the file's.
    scratch: Vec<i16>,
    write_error: Option<WavError>,
}

impl Recording {
    /// Takes the recording boxed (see the relay's `run`: an argument by
    /// value would sit in the task twice).
    async fn run(
        mut self: Box<Self>,
        mut frames: mpsc::Receiver<TapFrame>,
        mut control: mpsc::Receiver<Control>,
    ) -> RecordingResult {
        let mut control_open = true;
        // Frames are taken in batches on a tick rather than one wake-up per
        // packet: a call's recorder wakes 10 times a second, not 67.
        let mut tick = tokio::time::interval(DRAIN_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        'run: loop {
            tokio::select! {
                biased;
                c = control.recv(), if control_open => match c {
                    Some(Control::Pause(at)) => self.pause(at, true),
                    Some(Control::Resume(at)) => self.pause(at, false),
                    Some(Control::Finish) => {
                        while let Ok(f) = frames.try_recv() {
                            if !self.on_frame(&f) {
                                break;
                            }
                        }
                        self.pad_to(Instant::now());
                        break;
                    }
                    None => control_open = false,
                },
                _ = tick.tick() => loop {
                    match frames.try_recv() {
                        Ok(f) if self.on_frame(&f) => {}
                        Ok(_) | Err(mpsc::error::TryRecvError::Disconnected) => break 'run,
                        Err(mpsc::error::TryRecvError::Empty) => break,
                    }
                },
            }
        }
        // Senders still held (the relay's) see the channel closed.
        drop(frames);
        self.close().await
    }

    fn position(&self, at: Instant) -> i64 {
        samples_in(
            at.saturating_duration_since(self.started_at),
            self.sample_rate,
        ) as i64
    }

    fn pause(&mut self, at: Instant, on: bool) {
        let position = self.position(at) as u64;
        if let Some(wav) = &mut self.wav {
            match on {
                true => wav.pause_at(position),
                false => wav.resume_at(position),
            }
        }
    }

    /// Silence on both channels up to `at`: the file lasts as long as the
    /// call, even when nobody spoke at its end.
    fn pad_to(&mut self, at: Instant) {
        let end = self.position(at);
        let Some(wav) = &mut self.wav else { return };
        if end <= 0 || wav.position() >= end as u64 {
            return;
        }
        for leg in [Leg::Caller, Leg::Agent] {
            if let Err(e) = wav.write(leg, end as u64 - 1, &[0]) {
                tracing::warn!(call_id = %self.call_id, "padding the recording failed: {e}");
                self.write_error = Some(e);
                self.wav = None;
                return;
            }
        }
    }

    /// Places one frame; false once the file can no longer be written.
    fn on_frame(&mut self, f: &TapFrame) -> bool {
        let arrived = self.position(f.arrival);
        let Some(wav) = &mut self.wav else {
            return false;
        };
        let leg = &mut self.legs[f.leg.index()];
        let Some(rtp_clock) = f.codec.rtp_clock_rate() else {
            leg.counters.unsupported_frames += 1;
            return true;
        };
        self.decoded.clear();
        let decoded = match self.decoder.decode(f, &mut self.decoded) {
            Ok(d) => d,
            Err(_) => {
                leg.counters.unsupported_frames += 1;
                return true;
            }
        };
        let matched = self.rate_match[f.leg.index()].convert(
            &self.decoded,
            decoded.sample_rate,
            self.sample_rate,
            &mut self.scratch,
        );
        if !matched {
            leg.counters.unsupported_frames += 1;
            return true;
        }
        let rates = Rates {
            file: self.sample_rate,
            rtp_clock,
        };
        let position = leg.place(f.rtp_timestamp, arrived, rates, self.reanchor_after);
        leg.counters.frames += 1;
        let mut samples = &self.scratch[..];
        if position < 0 {
            let before_start = samples.len().min(position.unsigned_abs() as usize);
            leg.counters.late_samples += before_start as u64;
            samples = &samples[before_start..];
        }
        let late_before = wav.late_samples_dropped();
        let written = wav.write(channel(f.leg), position.max(0) as u64, samples);
        leg.counters.late_samples += wav.late_samples_dropped() - late_before;
        match written {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, path = %self.path.display(),
                    "recording stopped by a write error, the call goes on: {e}");
                self.write_error = Some(e);
                self.wav = None;
                false
            }
        }
    }

    /// Closes the file, completes the row, and reports.
    async fn close(self) -> RecordingResult {
        let Recording {
            call_id,
            path,
            store,
            home,
            sample_rate,
            wav,
            legs: [caller, agent],
            write_error,
            ..
        } = self;
        let file = path.clone();
        let (closed, write_error) = home
            .spawn_blocking(move || close_file(wav, &file, write_error))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(call_id, "closing the recording failed: {e}");
                (None, None)
            });
        let duration_of = |frames: u64| {
            Duration::from_nanos(
                (u128::from(frames) * 1_000_000_000 / u128::from(sample_rate)) as u64,
            )
        };
        let duration = closed
            .as_ref()
            .map_or(Duration::ZERO, |c| duration_of(c.frames));
        let mut store_error = None;
        if let (Some(store), Some(c)) = (store, &closed) {
            let path_text = path.to_string_lossy().into_owned();
            let (row, ms, state) = (path_text.clone(), duration.as_millis() as i64, c.state);
            let completed = home
                .spawn(async move { store.complete_recording(&row, ms, state).await })
                .await
                .unwrap_or_else(|e| {
                    Err(sqlx::Error::Io(std::io::Error::other(format!(
                        "completing the row was cancelled: {e}"
                    ))))
                });
            match completed {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(call_id, path = %path_text, "recording row was not open")
                }
                Err(e) => {
                    tracing::error!(call_id, path = %path_text, "completing the recording row failed: {e}");
                    store_error = Some(e);
                }
            }
        }
        tracing::info!(call_id, path = %path.display(), duration_ms = duration.as_millis() as u64,
            "recording finished");
        RecordingResult {
            path,
            duration,
            paused: closed
                .as_ref()
                .map_or(Duration::ZERO, |c| duration_of(c.paused_frames)),
            caller: caller.counters,
            agent: agent.counters,
            write_error,
            store_error,
        }
    }
}

/// Finishes the file; after a write error (earlier, or while finishing)
/// repairs it so it plays to its last byte. `None` if even that failed: the
/// row then stays `recording` for the start-up repair. Blocking.
fn close_file(
    wav: Option<StereoRecorder>,
    path: &Path,
    mut error: Option<WavError>,
) -> (Option<Closed>, Option<WavError>) {
    if let Some(wav) = wav {
        match wav.finish() {
            Ok(s) => {
                let closed = Closed {
                    frames: s.frames,
                    paused_frames: s.paused_frames,
                    state: RecordingState::Complete,
                };
                return (Some(closed), error);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "finishing the recording failed: {e}");
                error.get_or_insert(e);
            }
        }
    }
    let repaired = repair(path).map_err(|e| e.to_string()).and_then(|_| {
        hound::WavReader::open(path)
            .map(|r| r.duration())
            .map_err(|e| e.to_string())
    });
    match repaired {
        Ok(frames) => {
            let closed = Closed {
                frames: u64::from(frames),
                paused_frames: 0,
                state: RecordingState::Repaired,
            };
            (Some(closed), error)
        }
        Err(e) => {
            tracing::error!(path = %path.display(), "repairing the recording failed: {e}");
            (None, error)
        }
    }
}

#[cfg(test)]
#[path = "recorder_tests.rs"]
mod tests;
