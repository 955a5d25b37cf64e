//! Running an IVR flow on a call the switch answered itself: the call's
//! side of `flow::engine`. The engine decides; this module performs its
//! actions on the call's media session (prompts, spoken text made by
//! `media::tts`, the timer, voicemail recording), in the database (customer
//! lookups, the disclosure, callback requests) and over HTTP (CRM lookups),
//! and feeds it back what happened (playback ends, keys, timeouts, lookup
//! outcomes).
//!
//! Lookups run in their own task, bounded by their timeouts (the
//! customer table is local; a CRM lookup waits at most its node's
//! `timeout_ms`), so the call keeps hearing its caller meanwhile: a hang-up
//! during a slow CRM ends the call at once and aborts the lookup. A queue node rings its agents' registered phones (found
//! by the core) while the caller hears music on hold; the first to answer
//! gets the caller, through the relay on the caller's same sockets, and the
//! flow is over; nobody answering within the node's wait (or every phone
//! refusing) sends the flow down its `no_answer` exit. A transfer rings
//! its target the same way (an extension's phones, a SIP URI, or a number
//! at a trunk's outbound proxy) for its `ring_seconds`, then takes its
//! `failed` exit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use super::Call;
use super::app::{AppRun, Phase};
use super::record::unix_ms;
use crate::flow::engine::{Action, Engine, Input, LookupOutcome, LookupRequest};
use crate::flow::model::{PromptItem, TransferTarget};
use crate::media::player::{PlaybackId, Playlist};
use crate::media::tts::{Tts, Voice};
use crate::server::routing::Target;
use crate::sip::endpoint::{ToCore, TransferRoute};
use crate::sip::transport::Flow;
use crate::store::{CallEventKind, HangupBy};

/// Most actions performed for one input (lookups feed inputs back).
const MAX_ROUNDS: usize = 16;
/// How long a transfer waits for a DNS name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a queue node rings when it names no wait.
const DEFAULT_QUEUE_WAIT: Duration = Duration::from_secs(60);

/// A flow running on the call.
#[derive(Debug)]
pub struct FlowRun {
    engine: Engine,
    /// The playlist whose end the engine waits for.
    playing: Option<PlaybackId>,
    /// The voicemail message being recorded.
    voicemail: Option<PathBuf>,
    /// The caller opted out of recording during the notice.
    pub opted_out: bool,
    /// The notice could not be played: the call must not be recorded.
    notice_missing: bool,
    /// A queue node rings agents for the caller.
    handing_off: bool,
    /// The lookup being made.
    lookup: Option<LookupTask>,
}

/// A lookup's outcome, and how long the CRM took (CRM lookups only).
pub type LookupDone = (LookupOutcome, Option<Duration>);

/// A lookup running in its own task; aborted when the flow (or the call)
/// is dropped first.
#[derive(Debug)]
pub struct LookupTask(tokio::task::JoinHandle<LookupDone>);

impl Drop for LookupTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits for the running flow's lookup, if any (forever otherwise).
pub(super) async fn lookup_done(app: &mut Option<AppRun>) -> LookupDone {
    let task = match app.as_mut().map(|a| &mut a.phase) {
        Some(Phase::Flow(run)) => run.lookup.as_mut(),
        _ => None,
    };
    match task {
        Some(t) => (&mut t.0)
            .await
            .unwrap_or_else(|e| (LookupOutcome::Failed(format!("lookup task: {e}")), None)),
        None => std::future::pending().await,
    }
}

impl Call {
    /// Answers the call from the switch and starts flow `name` (with the
    /// trunk number's `calendar`, if any).
    pub(super) async fn start_flow(&mut self, name: &str, calendar: Option<String>) {
        let set = self.ctx.flows.current();
        let Some(flow) = set.get(name) else {
            let reason = format!("IVR flow `{name}` is not loaded");
            return self
                .reject_caller(super::media::Reject {
                    status: 503,
                    warning: None,
                    reason,
                })
                .await;
        };
        let caller = self.caller_number();
        let called = self.called_number();
        let engine = Engine::new(set, flow, &caller, &called, calendar);
        if !self.answer_for_app(&format!("flow:{name}")).await {
            return;
        }
        self.app = Some(AppRun {
            phase: Phase::Flow(Box::new(FlowRun {
                engine,
                playing: None,
                voicemail: None,
                opted_out: false,
                notice_missing: false,
                handing_off: false,
                lookup: None,
            })),
            deadline: None,
        });
        self.flow_input(Input::Start).await;
    }

    fn flow_run(&mut self) -> Option<&mut FlowRun> {
        match self.app.as_mut().map(|a| &mut a.phase) {
            Some(Phase::Flow(run)) => Some(run),
            _ => None,
        }
    }

    /// Gives the engine `input` and performs what it asks, feeding the
    /// outcomes of lookups back in.
    pub(super) async fn flow_input(&mut self, input: Input) {
        let mut next = Some(input);
        for _ in 0..MAX_ROUNDS {
            let Some(input) = next.take() else { return };
            if self.ending_since.is_some() {
                return;
            }
            let now = jiff::Timestamp::now();
            let Some(run) = self.flow_run() else { return };
            let actions = run.engine.handle(input, now);
            for action in actions {
                if let Some(input) = self.flow_action(action).await {
                    next = Some(input);
                }
            }
        }
    }

    /// Performs one action; an input it produced at once (a lookup's
    /// outcome, a hand-off that cannot be made), if any.
    async fn flow_action(&mut self, action: Action) -> Option<Input> {
        match action {
            Action::Play { items, barge_in } => {
                let id = self.play_flow_prompts(&items, barge_in).await;
                let run = self.flow_run()?;
                run.playing = id;
                if id.is_none() && run.engine.at_disclosure() && !run.notice_missing {
                    run.notice_missing = true;
                    self.journal_event(
                        CallEventKind::Disclosure,
                        "the notice could not be played: the call is not recorded",
                    )
                    .await;
                }
                // Nothing could be played: as if it had ended.
                id.is_none().then_some(Input::PlaybackDone)
            }
            Action::StopPlayback => {
                if let Some(run) = self.flow_run() {
                    run.playing = None;
                }
                if let Some(s) = self.media.as_ref().and_then(|m| m.session()) {
                    let _ = s.stop_playback().await;
                }
                None
            }
            Action::SetTimer(d) => {
                if let Some(a) = self.app.as_mut() {
                    a.deadline = Some(Instant::now() + d);
                }
                None
            }
            Action::CancelTimer => {
                if let Some(a) = self.app.as_mut() {
                    a.deadline = None;
                }
                None
            }
            Action::Journal { kind, detail } => {
                let missing = self.flow_run().is_some_and(|r| r.notice_missing);
                if missing && kind == CallEventKind::Disclosure && detail == "played" {
                    // It was not: journaled as such when it failed.
                    return None;
                }
                self.journal_event(kind, &detail).await;
                None
            }
            Action::Lookup(request) => {
                let task = self.spawn_lookup(request);
                self.flow_run()?.lookup = Some(task);
                None
            }
            Action::DisclosureDone { opted_out } => {
                let run = self.flow_run()?;
                run.opted_out = opted_out;
                if run.notice_missing {
                    // Not played: no time to store, and no recording.
                    return None;
                }
                if let Some(store) = self.store() {
                    let _ = store
                        .mark_disclosure(&self.caller.call_id, unix_ms(), opted_out)
                        .await;
                }
                None
            }
            Action::Queue {
                queue,
                agents,
                max_wait,
                priority,
                ..
            } => match self.ctx.acd.clone().filter(|a| a.has_queue(&queue)) {
                Some(acd) => {
                    let priority = u8::try_from(priority.clamp(0, 255)).unwrap_or(0);
                    let intent = self.flow_run().map(|r| r.engine.intent());
                    let intent = intent.unwrap_or_default();
                    self.join_queue(acd, &queue, priority, &intent, None).await
                }
                None => self.queue_to_agents(&queue, agents, max_wait).await,
            },
            Action::Transfer { target, ring } => self.transfer(target, ring).await,
            Action::RecordVoicemail { max, beep } => self.record_voicemail(max, beep).await,
            Action::StoreCallback {
                number,
                queue,
                calendar,
            } => {
                let request = super::callback::Request {
                    number,
                    queue,
                    calendar: calendar.unwrap_or_default(),
                    place_since: None,
                    priority: 0,
                };
                self.store_callback(request).await;
                None
            }
            Action::Hangup => {
                self.note_end(HangupBy::Switch, "the flow ended the call", None);
                self.hang_up_both().await;
                None
            }
        }
    }

    /// Plays flow prompts: files of the prompts folder, and texts spoken
    /// (once, cached) by the TTS engine.
    pub(super) async fn play_flow_prompts(
        &self,
        items: &[PromptItem],
        barge_in: bool,
    ) -> Option<PlaybackId> {
        let session = self.media.as_ref()?.session()?;
        let format = session.format();
        let dir = self.ctx.prompts.dir.clone();
        let items = items.to_vec();
        let ctx = self.ctx.clone();
        // Speaking and converting read and write files: off the runtime.
        let prompts = tokio::task::spawn_blocking(move || {
            let tts = Tts::new(dir.join("tts"));
            items
                .iter()
                .filter_map(|item| {
                    let path = match item {
                        PromptItem::File(f) => dir.join(f),
                        PromptItem::Say { text, voice } => {
                            let voice = Voice::from_name(voice)?;
                            match tts.speak(voice, text) {
                                Ok(p) => p,
                                Err(e) => {
                                    tracing::error!("prompt not spoken: {e}");
                                    return None;
                                }
                            }
                        }
                    };
                    match ctx.prompts.cache.get(&path, format) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            tracing::error!("prompt not played: {e}");
                            None
                        }
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .ok()?;
        if prompts.is_empty() {
            return None;
        }
        let mut playlist = Playlist::new().barge_in(barge_in);
        for p in prompts {
            playlist = playlist.prompt(p);
        }
        session.play(playlist).await.ok()
    }

    /// Starts a lookup in its own task: the call goes on hearing its
    /// caller (a hang-up during a slow CRM ends the call at once).
    fn spawn_lookup(&self, request: LookupRequest) -> LookupTask {
        let store = self.store().cloned();
        let client = self.ctx.crm.clone();
        LookupTask(tokio::spawn(async move {
            match request {
                LookupRequest::Customers { number } => {
                    let Some(store) = store else {
                        return (LookupOutcome::Failed("no database".into()), None);
                    };
                    let outcome = match store.customer_by_number(&number).await {
                        Ok(Some(c)) => LookupOutcome::Found(
                            [
                                ("name", c.name),
                                ("tier", c.tier),
                                ("segment", c.segment),
                                ("language", c.language),
                                ("agent", c.agent),
                            ]
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                        ),
                        Ok(None) => LookupOutcome::NotFound,
                        Err(e) => LookupOutcome::Failed(e.to_string()),
                    };
                    (outcome, None)
                }
                LookupRequest::Crm { url, timeout } => {
                    let l = crate::crm::lookup(&client, &url, timeout).await;
                    let outcome = match l.outcome {
                        crate::crm::Outcome::Found(fields) => LookupOutcome::Found(fields),
                        crate::crm::Outcome::NotFound => LookupOutcome::NotFound,
                        crate::crm::Outcome::Failed(why) => LookupOutcome::Failed(why),
                    };
                    (outcome, Some(l.took))
                }
            }
        }))
    }

    /// A lookup's task ended: the engine gets its outcome.
    pub(super) async fn flow_lookup_done(&mut self, done: LookupDone) {
        if let Some(run) = self.flow_run() {
            run.lookup = None;
        }
        let (outcome, took) = done;
        if let Some(took) = took {
            let detail = format!("CRM answered in {} ms", took.as_millis());
            self.journal_event(CallEventKind::Lookup, &detail).await;
        }
        self.flow_input(Input::LookupDone(outcome)).await;
    }

    /// Records the caller's message (after a beep) for at most `max`.
    async fn record_voicemail(&mut self, max: Duration, beep: bool) -> Option<Input> {
        if beep {
            let beep = vec![PromptItem::File("beep.wav".into())];
            let _ = self.play_flow_prompts(&beep, false).await;
        }
        let Some(path) = self.start_message("voicemail").await else {
            return Some(Input::VoicemailDone);
        };
        if let Some(a) = self.app.as_mut() {
            a.deadline = Some(Instant::now() + max);
        }
        if let Some(run) = self.flow_run() {
            run.voicemail = Some(path);
        }
        None
    }

    /// Ends a voicemail being recorded (`#`, the time limit or the call's
    /// end) and completes its row; true if one was.
    pub(super) async fn end_voicemail(&mut self) -> bool {
        let Some(path) = self.flow_run().and_then(|r| r.voicemail.take()) else {
            return false;
        };
        self.close_message(&path).await;
        true
    }

    /// Rings `agents` for the caller (a queue node, until queues exist);
    /// `None` while they ring, else the hand-off's failure at once.
    async fn queue_to_agents(
        &mut self,
        queue: &str,
        agents: Vec<String>,
        max_wait: Duration,
    ) -> Option<Input> {
        let failed = Some(Input::HandOffDone { answered: false });
        let Some(found) = self.find_agents(agents).await else {
            self.journal_event(CallEventKind::Queue, "no agents profile")
                .await;
            return failed;
        };
        if found.contacts.is_empty() {
            self.journal_event(CallEventKind::Queue, "no agent phone registered")
                .await;
            return failed;
        }
        let wait = if max_wait.is_zero() {
            DEFAULT_QUEUE_WAIT
        } else {
            max_wait
        };
        let targets = found.contacts.into_iter().map(Target::from).collect();
        self.ring_for_flow(&format!("queue {queue}"), &found.profile, targets, wait)
            .await
    }

    /// The registered phones of `extensions` on this trunk's agents
    /// profile (`None`: the trunk has none).
    pub(super) async fn find_agents(
        &self,
        extensions: Vec<String>,
    ) -> Option<crate::sip::endpoint::AgentContacts> {
        let (reply, found) = tokio::sync::oneshot::channel();
        self.ep
            .send(ToCore::FindAgents {
                trunk: self.profile.clone(),
                extensions,
                reply,
            })
            .await;
        found.await.ok().flatten()
    }

    /// Rings a transfer's target for at most `ring`; `None` while it
    /// rings, else the hand-off's failure at once (journaled).
    pub(super) async fn transfer(
        &mut self,
        target: TransferTarget,
        ring: Duration,
    ) -> Option<Input> {
        let failed = Some(Input::HandOffDone { answered: false });
        let (reply, route) = tokio::sync::oneshot::channel();
        self.ep
            .send(ToCore::FindTransfer {
                trunk: self.profile.clone(),
                target,
                reply,
            })
            .await;
        let route = match route.await {
            Ok(Ok(route)) => route,
            Ok(Err(why)) => {
                self.journal_event(CallEventKind::Transfer, &why).await;
                return failed;
            }
            Err(_) => return failed,
        };
        let (profile, targets) = match route {
            TransferRoute::Agents(found) => (
                found.profile,
                found.contacts.into_iter().map(Target::from).collect(),
            ),
            TransferRoute::Out {
                profile,
                id,
                transport,
                host,
                port,
                uri,
                user,
            } => {
                let Some(remote) = resolve(&host, port).await else {
                    let why = format!("cannot resolve `{host}`");
                    self.journal_event(CallEventKind::Transfer, &why).await;
                    return failed;
                };
                let Some(local) = self.ep.local_addr(id, transport) else {
                    let why = format!("profile `{profile}` does not listen on {transport:?}");
                    self.journal_event(CallEventKind::Transfer, &why).await;
                    return failed;
                };
                let user: String = user
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "+-_.".contains(*c))
                    .collect();
                let flow = Flow {
                    profile: id,
                    transport,
                    local,
                    remote,
                    conn: None,
                };
                let extension = if user.is_empty() {
                    "transfer".into()
                } else {
                    user
                };
                let target = Target {
                    contact: uri,
                    flow,
                    extension,
                };
                (profile, vec![target])
            }
        };
        self.ring_for_flow("transfer", &profile, targets, ring)
            .await
    }

    /// Rings `targets` (reached through profile `profile`) for the caller,
    /// who hears music on hold meanwhile, for at most `wait`; `None` while
    /// they ring, else the hand-off's failure at once.
    async fn ring_for_flow(
        &mut self,
        what: &str,
        profile: &str,
        targets: Vec<Target>,
        wait: Duration,
    ) -> Option<Input> {
        let failed = Some(Input::HandOffDone { answered: false });
        let ips = targets.iter().map(|t| t.flow.remote.ip()).collect();
        let sdp = match self.media.as_mut()?.offer_to_agents(profile, ips) {
            Ok(sdp) => sdp,
            Err(reject) => {
                tracing::warn!(call_id = %self.caller.call_id, "{what}: {}", reject.reason);
                return failed;
            }
        };
        self.set_handing_off(true);
        if let Some(a) = self.app.as_mut() {
            a.deadline = Some(Instant::now() + wait);
        }
        self.play_music_on_hold().await;
        self.start_forks(targets, Some(sdp)).await;
        if !self.forks.iter().any(|f| f.is_pending()) {
            self.set_handing_off(false);
            return failed;
        }
        None
    }

    /// What the running flow learnt about the caller (see
    /// `Engine::context`).
    pub(super) fn flow_context(&mut self) -> Option<Vec<(String, String)>> {
        self.flow_run().map(|r| r.engine.context())
    }

    /// Marks the flow (or a callback) as handing its caller to agents
    /// (or to the customer called back), or not.
    pub(super) fn set_handing_off(&mut self, on: bool) {
        match self.app.as_mut().map(|a| &mut a.phase) {
            Some(Phase::Flow(run)) => run.handing_off = on,
            Some(Phase::Callback(run)) => run.dialing = on,
            Some(Phase::Held(run)) => run.handing_off = on,
            _ => {}
        }
    }

    /// The caller hears the music on hold (if any) while agents ring.
    pub(super) async fn play_music_on_hold(&mut self) {
        let Some(moh) = self.ctx.media.music_on_hold.as_ref() else {
            return;
        };
        let Some(session) = self.media.as_ref().and_then(|m| m.session()) else {
            return;
        };
        let format = session.format();
        let path = moh.path.clone();
        let ctx = self.ctx.clone();
        let prompt = tokio::task::spawn_blocking(move || {
            ctx.media
                .music_on_hold
                .as_ref()
                .map(|m| m.cache.get(&path, format))
        })
        .await;
        if let Ok(Some(Ok(prompt))) = prompt {
            let id = session
                .play(Playlist::new().prompt(prompt).looping(true))
                .await
                .ok();
            if let Some(run) = self.flow_run() {
                // The engine waits for no playback while agents ring.
                run.playing = None;
            }
            let _ = id;
        }
    }

    /// Whether a queue node is ringing agents for the caller.
    pub(super) fn flow_handing_off(&self) -> bool {
        match self.app.as_ref().map(|a| &a.phase) {
            Some(Phase::Flow(run)) => run.handing_off,
            Some(Phase::Callback(run)) => run.dialing,
            Some(Phase::Held(run)) => run.handing_off,
            _ => false,
        }
    }

    /// An agent answered the queue: the caller is bridged, the flow is
    /// over, and the call goes on as a bridged call (re-INVITEs relayed).
    pub(super) async fn flow_handed_off(&mut self) {
        self.set_handing_off(false);
        if self.origin.is_some() {
            self.callback_connected().await;
        }
        self.flow_input(Input::HandOffDone { answered: true }).await;
        self.app = None;
    }

    /// No agent answered (or every phone refused): the flow goes on.
    pub(super) async fn flow_handoff_failed(&mut self) {
        if self.flow_handing_off() && self.origin.is_some() {
            self.set_handing_off(false);
            if let Some(a) = self.app.as_mut() {
                a.deadline = None;
            }
            return self.customer_not_reached().await;
        }
        let Some(run) = self.flow_run() else { return };
        if !run.handing_off {
            return;
        }
        run.handing_off = false;
        if let Some(a) = self.app.as_mut() {
            a.deadline = None;
        }
        self.flow_input(Input::HandOffDone { answered: false })
            .await;
    }

    /// A key from the caller during a flow.
    pub(super) async fn flow_digit(&mut self, digit: char) {
        if self.queue_digit(digit).await {
            return;
        }
        if self.flow_handing_off() {
            // Keys while agents ring are only journaled.
            return;
        }
        if digit == '#' && self.flow_run().is_some_and(|r| r.voicemail.is_some()) {
            self.end_voicemail().await;
            return self.flow_input(Input::VoicemailDone).await;
        }
        self.flow_input(Input::Digit(digit)).await;
    }

    /// A playlist of the session ended.
    pub(super) async fn flow_playback_done(&mut self, id: PlaybackId) {
        if self.queue_announcement_done(id).await {
            return;
        }
        let Some(run) = self.flow_run() else { return };
        if run.playing != Some(id) {
            return;
        }
        run.playing = None;
        self.flow_input(Input::PlaybackDone).await;
    }

    /// The flow's timer fired (a key timeout, the voicemail's limit, the
    /// queue's wait).
    pub(super) async fn flow_timer(&mut self) {
        if self.flow_handing_off() {
            self.cancel_forks().await;
            return self.flow_handoff_failed().await;
        }
        if self.end_voicemail().await {
            return self.flow_input(Input::VoicemailDone).await;
        }
        self.flow_input(Input::Timeout).await;
    }

    pub(super) fn store(&self) -> Option<&crate::store::Store> {
        self.ctx.recordings.as_ref().and_then(|r| r.store.as_ref())
    }

    /// Whether the caller declined recording during a flow's notice.
    pub(super) fn recording_declined(&self) -> bool {
        // A customer called back heard no notice.
        self.origin.is_some()
            || self.declined_recording
            || matches!(
                self.app.as_ref().map(|a| &a.phase),
                Some(Phase::Flow(run)) if run.opted_out || run.notice_missing
            )
    }
}

/// The address of `host` (an IP address, or a DNS name resolved within a
/// few seconds: a slow resolver must not hold the caller).
async fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .ok()?
        .ok()?
        .collect::<Vec<_>>();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
}
