//! The switch's own applications on a trunk number (`[routing.numbers]`):
//! the call is answered by the switch, whose media session is the far end
//! of the caller's leg.
//!
//! - `echo` (demo number 9196): the caller's audio is sent back to it.
//! - `record-playback` (9197): a prompt and a beep, then the caller is
//!   recorded (a mono WAV under `recordings/`, with its row) until `#` or
//!   30 s, then the recording is played back and the switch hangs up.
//! - `flow:NAME`: refused with 503 for now; the flow is loaded and checked
//!   (`crate::flow`) but its interpreter is the next step.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Call;
use super::media::SDP;
use super::record::unix_ms;
use crate::config::Application;
use crate::media::player::{EncodedPrompt, PlaybackId, Playlist};
use crate::media::session::{DigitSource, SessionEvent, SessionOptions};
use crate::media::wav::{RecordingDate, create_recording_path};
use crate::store::{AgentLeg, CallEventKind, HangupBy, RecordingRow, RecordingState};

/// Longest message `record-playback` takes.
const MAX_RECORDING: Duration = Duration::from_secs(30);

/// Where an application stands.
#[derive(Debug)]
pub(super) enum Phase {
    Echo,
    /// Playing the invitation to speak (and the beep).
    Prompt(PlaybackId),
    /// Recording the caller into this file.
    Recording(PathBuf),
    /// Playing the message back; the switch hangs up after it.
    Playback(PlaybackId),
    /// Telling an agent what their feature code did; then the switch
    /// hangs up.
    Confirm(PlaybackId),
    Done,
    /// An IVR flow (`ivr.rs`).
    Flow(Box<super::ivr::FlowRun>),
    /// A callback the agent answered (`callback.rs`).
    Callback(super::callback::CallbackRun),
    /// The caller rates the call after the agent hung up (`survey.rs`).
    Survey(super::survey::SurveyRun),
    /// The caller waits on the switch's session after a transfer
    /// (`transfer.rs`).
    Held(super::transfer::HeldRun),
}

/// A running application of one call.
#[derive(Debug)]
pub struct AppRun {
    pub(super) phase: Phase,
    /// When the current phase times out (the 30 s recording limit).
    pub deadline: Option<Instant>,
}

impl Call {
    /// Answers the call from the switch and starts `app`.
    pub(super) async fn start_app(&mut self, app: Application) {
        let name = match &app {
            Application::Echo => "echo",
            Application::RecordPlayback => "record-playback",
            Application::Flow { flow, calendar } => {
                return self.start_flow(flow, calendar.clone()).await;
            }
            Application::AgentFeature { agent, code } => {
                return self.start_feature(agent, code).await;
            }
        };
        if !self.answer_for_app(name).await {
            return;
        }
        self.app = Some(AppRun {
            phase: Phase::Done,
            deadline: None,
        });
        let phase = match app {
            Application::Echo => {
                if let Some(s) = self.media.as_ref().and_then(|m| m.session()) {
                    let _ = s.set_echo(true).await;
                }
                Phase::Echo
            }
            Application::RecordPlayback => {
                let prompts = ["en/record-after-tone.wav", "beep.wav"];
                match self.play_prompts(&prompts, None).await {
                    Some(id) => Phase::Prompt(id),
                    None => self.begin_recording().await,
                }
            }
            Application::Flow { .. } | Application::AgentFeature { .. } => Phase::Done,
        };
        if let Some(a) = self.app.as_mut() {
            a.phase = phase;
        }
    }

    /// Answers the caller from the switch (its media session on the
    /// caller's leg) for the application `name`, and marks the call
    /// answered; false when the caller was refused instead.
    pub(super) async fn answer_for_app(&mut self, name: &str) -> bool {
        let opts = SessionOptions {
            media_timeout: self.ctx.media.relay.media_timeout,
            ..SessionOptions::default()
        };
        let Some(media) = self.media.as_mut() else {
            return false;
        };
        let sdp = match media.answer_locally(opts) {
            Ok(sdp) => sdp,
            Err(reject) => {
                self.reject_caller(reject).await;
                return false;
            }
        };
        self.answer_caller(Some((SDP.to_string(), sdp))).await;
        let at = unix_ms();
        self.answered_at = Some(at);
        if let Some(cdr) = &self.ctx.cdr {
            let leg = AgentLeg {
                agent: format!("app:{name}"),
                call_id: self.caller.call_id.clone(),
            };
            cdr.mark_answered(&self.caller.call_id, at, leg).await;
        }
        tracing::info!(call_id = %self.caller.call_id, app = name, "answered by the switch");
        true
    }

    /// Plays prompt files of the prompts folder, then `extra` (a file
    /// elsewhere, read as it is); `None` when nothing could be played.
    async fn play_prompts(&self, names: &[&str], extra: Option<&Path>) -> Option<PlaybackId> {
        let session = self.media.as_ref()?.session()?;
        let format = session.format();
        let mut playlist = Playlist::new();
        let mut items = 0;
        for name in names {
            let path = self.ctx.prompts.dir.join(name);
            match self.ctx.prompts.cache.get(&path, format) {
                Ok(p) => {
                    playlist = playlist.prompt(p);
                    items += 1;
                }
                Err(e) => tracing::error!(call_id = %self.caller.call_id, "prompt not played: {e}"),
            }
        }
        if let Some(path) = extra {
            match EncodedPrompt::load(path, format) {
                Ok(p) => {
                    playlist = playlist.prompt(Arc::new(p));
                    items += 1;
                }
                Err(e) => {
                    tracing::error!(call_id = %self.caller.call_id, "recording not played: {e}")
                }
            }
        }
        if items == 0 {
            return None;
        }
        session.play(playlist).await.ok()
    }

    /// Starts recording the caller (record-playback).
    async fn begin_recording(&mut self) -> Phase {
        let Some(path) = self.start_message("message").await else {
            return Phase::Done;
        };
        if let Some(a) = self.app.as_mut() {
            a.deadline = Some(Instant::now() + MAX_RECORDING);
        }
        Phase::Recording(path)
    }

    /// Starts recording the caller's message on the switch's session, as
    /// `<call-id>-<what>.wav` under the recordings, with its row (the
    /// call's row written first: the message's refers to it). The file's
    /// path, or `None` (logged) when it cannot be recorded.
    pub(super) async fn start_message(&self, what: &str) -> Option<PathBuf> {
        let rec = self.ctx.recordings.as_ref()?;
        let name = format!("{}-{what}", self.caller.call_id);
        let path = match create_recording_path(&rec.root, RecordingDate::today(), &name) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(call_id = %self.caller.call_id, "cannot record the {what}: {e}");
                return None;
            }
        };
        let session = self.media.as_ref()?.session()?;
        if let Err(e) = session.start_recording(&path).await {
            tracing::error!(call_id = %self.caller.call_id, "cannot record the {what}: {e}");
            return None;
        }
        if let (Some(store), Some(cdr)) = (&rec.store, &self.ctx.cdr) {
            cdr.flush().await;
            let row = RecordingRow::new(
                self.caller.call_id.clone(),
                path.to_string_lossy(),
                1,
                session.format().sample_rate(),
                unix_ms(),
            );
            if let Err(e) = store.insert_recording(&row).await {
                tracing::error!(call_id = %self.caller.call_id, "{what} row not written: {e}");
            }
        }
        Some(path)
    }

    /// Stops the recording and plays it back.
    async fn end_recording(&mut self, path: PathBuf) -> Phase {
        if !self.close_message(&path).await {
            return Phase::Done;
        }
        match self.play_prompts(&["en/playback.wav"], Some(&path)).await {
            Some(id) => Phase::Playback(id),
            None => Phase::Done,
        }
    }

    /// Stops recording the message at `path` and completes its row; false
    /// when the recording failed.
    pub(super) async fn close_message(&mut self, path: &Path) -> bool {
        if let Some(a) = self.app.as_mut() {
            a.deadline = None;
        }
        let Some(session) = self.media.as_ref().and_then(|m| m.session()) else {
            return false;
        };
        match session.stop_recording().await {
            Ok(summary) => {
                if let Some(store) = self.ctx.recordings.as_ref().and_then(|r| r.store.as_ref()) {
                    let ms = i64::try_from(summary.duration.as_millis()).unwrap_or(i64::MAX);
                    let path_text = path.to_string_lossy();
                    if let Err(e) = store
                        .complete_recording(&path_text, ms, RecordingState::Complete)
                        .await
                    {
                        tracing::error!(call_id = %self.caller.call_id, "recording row not completed: {e}");
                    }
                }
                true
            }
            Err(e) => {
                tracing::error!(call_id = %self.caller.call_id, "message recording failed: {e}");
                false
            }
        }
    }

    /// The call ends: a message still being recorded (the caller hung up
    /// before `#`) is closed and its row completed.
    pub(super) async fn end_app(&mut self) {
        let path = match self.app.as_mut().map(|a| &mut a.phase) {
            Some(Phase::Recording(path)) => std::mem::take(path),
            Some(Phase::Flow(_)) => {
                self.end_voicemail().await;
                return;
            }
            _ => return,
        };
        self.close_message(&path).await;
        if let Some(a) = self.app.as_mut() {
            a.phase = Phase::Done;
        }
    }

    /// Something the call's media session saw.
    pub(super) async fn on_session_event(&mut self, ev: SessionEvent) {
        let phase = match ev {
            SessionEvent::Digit { digit, source, .. } => {
                let how = match source {
                    DigitSource::Rfc4733 => "RFC 4733",
                    DigitSource::Inband => "in-band",
                };
                self.journal_event(CallEventKind::Dtmf, &format!("{digit} from caller ({how})"))
                    .await;
                match self.app.as_mut().map(|a| &mut a.phase) {
                    Some(Phase::Flow(_)) => {
                        self.flow_digit(digit).await;
                        None
                    }
                    Some(Phase::Survey(_)) => {
                        self.survey_digit(digit).await;
                        None
                    }
                    Some(Phase::Held(_)) => {
                        // The queue's callback key, after a transfer.
                        self.queue_digit(digit).await;
                        None
                    }
                    Some(Phase::Recording(path)) if digit == '#' => {
                        let path = std::mem::take(path);
                        Some(self.end_recording(path).await)
                    }
                    _ => None,
                }
            }
            SessionEvent::PlaybackFinished(id)
            | SessionEvent::PlaybackStopped(id)
            | SessionEvent::PlaybackInterrupted { id, .. } => {
                if self.hangup_after == Some(id) {
                    self.note_end(HangupBy::Switch, "goodbye played", None);
                    self.hang_up_both().await;
                    return;
                }
                match self.app.as_ref().map(|a| &a.phase) {
                    Some(Phase::Flow(_)) => {
                        self.flow_playback_done(id).await;
                        None
                    }
                    Some(Phase::Callback(_)) => {
                        self.callback_playback_done(id).await;
                        None
                    }
                    Some(Phase::Survey(_)) => {
                        self.survey_playback_done(id).await;
                        None
                    }
                    Some(Phase::Held(_)) => {
                        self.queue_announcement_done(id).await;
                        None
                    }
                    Some(Phase::Prompt(p)) if *p == id => Some(self.begin_recording().await),
                    Some(Phase::Playback(p)) if *p == id => {
                        self.note_end(HangupBy::Switch, "message played back", None);
                        self.hang_up_both().await;
                        Some(Phase::Done)
                    }
                    Some(Phase::Confirm(p)) if *p == id => {
                        self.note_end(HangupBy::Switch, "feature code confirmed", None);
                        self.hang_up_both().await;
                        Some(Phase::Done)
                    }
                    _ => None,
                }
            }
            SessionEvent::MediaTimeout => {
                self.journal_event(CallEventKind::MediaTimeout, "caller")
                    .await;
                if self.ending_since.is_none() {
                    self.note_end(
                        HangupBy::Switch,
                        "media timeout: no RTP from the caller",
                        None,
                    );
                    self.hang_up_both().await;
                }
                None
            }
            SessionEvent::Latched(addr) => {
                tracing::debug!(call_id = %self.caller.call_id, %addr, "media latched");
                None
            }
        };
        if let (Some(phase), Some(a)) = (phase, self.app.as_mut()) {
            a.phase = phase;
        }
    }

    /// The application's deadline passed (the recording limit).
    pub(super) async fn app_timer(&mut self) {
        let due = self
            .app
            .as_ref()
            .and_then(|a| a.deadline)
            .is_some_and(|t| Instant::now() >= t);
        if !due || self.ending_since.is_some() {
            return;
        }
        let path = match self.app.as_mut().map(|a| &mut a.phase) {
            Some(Phase::Recording(path)) => std::mem::take(path),
            Some(Phase::Flow(_) | Phase::Callback(_)) => {
                if let Some(a) = self.app.as_mut() {
                    a.deadline = None;
                }
                return self.flow_timer().await;
            }
            Some(Phase::Survey(_)) => {
                if let Some(a) = self.app.as_mut() {
                    a.deadline = None;
                }
                return self.survey_timeout().await;
            }
            _ => return,
        };
        let phase = self.end_recording(path).await;
        if let Some(a) = self.app.as_mut() {
            a.phase = phase;
        }
    }
}
