//! Calls: the B2BUA. A call is one task that owns both sides of a call:
//! the caller's dialog on the trunk and the agent legs it forks to the
//! agent's registered phones. It relays provisional and final responses,
//! ACKs, BYE from either side, CANCEL before answer, and in-dialog
//! requests (re-INVITE, UPDATE, INFO). Its media is anchored in the switch
//! (`media.rs`) and its detail record written as it goes (`record.rs`).

mod app;
mod callback;
pub mod dialer;
mod dialog;
mod feature;
mod fork;
mod ivr;
mod media;
mod queue;
mod record;
mod refresh;
mod relay;
mod session_timer;
mod survey;
#[cfg(test)]
mod tests_handover;
mod transfer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::server::respond;
use crate::server::routing::Target;
use crate::sip::codec::{HeaderName, Method, SipMessage};
use crate::sip::endpoint::{Endpoint, TU_QUEUE, ToCore, TuEvent, TuSender};
use crate::sip::ids;
use crate::sip::transaction::TransactionKey;
use crate::sip::transport::Flow;

pub use callback::{CallbackOrder, CallbackReport, originate_callback};
pub use dialog::{Dialog, Side};
use fork::{
    Fork, ForkState, Identity, InviteParts, best_failure, body_of, build_invite, reason_of,
};
use media::{CallMedia, MediaEvent, Reject, SDP};
pub use media::{MediaContext, MusicOnHold};
use record::EndInfo;
pub use record::unix_ms;
use relay::{Relay, Retransmit};
use session_timer::SessionTimer;
pub use session_timer::TimerConfig;

use crate::store::{CdrWriter, HangupBy};

/// What every call shares: media resources, the CDR writer and where
/// recordings go.
pub struct CallContext {
    pub media: Arc<MediaContext>,
    /// `None` runs calls without detail records (tests of the SIP layer).
    pub cdr: Option<CdrWriter>,
    /// Answered calls are recorded here; `None` records nothing.
    pub recordings: Option<Recordings>,
    pub session_timer: TimerConfig,
    /// The switch's own prompts (demo numbers, IVR flows).
    pub prompts: Prompts,
    /// The IVR flows; a call keeps the version it started with.
    pub flows: Arc<crate::flow::Flows>,
    /// The HTTP client of CRM lookups.
    pub crm: reqwest::Client,
    /// The ACD (queues and agents), when `contact-center/` defines any.
    pub acd: Option<crate::acd::service::Acd>,
    /// Told when a callback request is stored (the dialer looks at once).
    pub callbacks_due: Arc<tokio::sync::Notify>,
}

/// Where the switch's prompts are and their converted, cached copies.
pub struct Prompts {
    pub dir: std::path::PathBuf,
    pub cache: crate::media::player::PromptCache,
}

/// Where a new call goes.
#[derive(Debug)]
pub enum Destination {
    /// Ring these contacts of an agent, registered on the internal
    /// profile `profile`.
    Agents {
        profile: String,
        targets: Vec<Target>,
    },
    /// The switch answers it itself.
    Application(crate::config::Application),
}

/// Where and how answered calls are recorded.
pub struct Recordings {
    pub root: std::path::PathBuf,
    /// The database the recordings' rows go to.
    pub store: Option<crate::store::Store>,
}

/// How long agents' phones may ring before the caller gets 480.
const RING_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a call may take to finish once it is ending.
const END_TIMEOUT: Duration = Duration::from_secs(32);

/// Starts a call for an INVITE that routing sent to `targets`; returns the
/// call's event channel (the core binds the caller's Call-ID to it).
pub fn spawn(
    ctx: Arc<CallContext>,
    ep: Endpoint,
    key: TransactionKey,
    flow: Flow,
    invite: SipMessage,
    profile: String,
    dest: Destination,
) -> TuSender {
    let (tx, rx) = mpsc::channel(TU_QUEUE);
    match Call::new(ctx, ep.clone(), tx.clone(), key.clone(), flow, invite) {
        // The task is the call's `run` alone: no wrapper future keeping a
        // second slot for the call.
        Ok(call) => {
            tokio::spawn(Box::new(call).run(rx, profile, dest));
        }
        Err(invite) => {
            // Validation lets no such INVITE through; should one come, the
            // caller still gets an answer and nothing stays bound.
            tokio::spawn(async move {
                let response = respond::response(&invite, flow, 500, "Server Internal Error", None);
                ep.send(ToCore::SendResponse {
                    key,
                    status: 500,
                    bytes: response.to_bytes(),
                })
                .await;
                let call_ids = invite
                    .call_id()
                    .map(|id| vec![id.to_string()])
                    .unwrap_or_default();
                ep.send(ToCore::Unbind { call_ids }).await;
            });
        }
    }
    tx
}

/// One boxed phase or handler of the call's task (see `Call::run`).
type BoxedStep<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// What woke the call's task.
enum Wake {
    Event(TuEvent),
    Timer,
    Media(MediaEvent),
    Lookup(ivr::LookupDone),
    Queue(Option<crate::acd::service::ToCaller>),
    /// A callback's agent leg is no longer wanted.
    Withdrawn,
}

/// Where the caller's side stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallerState {
    /// The INVITE is pending.
    Proceeding,
    /// We sent 2xx.
    Answered,
    /// We sent a failure (or the caller cancelled).
    Failed,
}

struct Call {
    ctx: Arc<CallContext>,
    ep: Endpoint,
    me: TuSender,
    caller_key: TransactionKey,
    caller_invite: SipMessage,
    caller: Dialog,
    caller_state: CallerState,
    caller_cseq: u32,
    forks: Vec<Fork>,
    agent: Option<usize>,
    relays: HashMap<TransactionKey, Relay>,
    retransmits: Vec<Retransmit>,
    /// ACKs sent, by (side, CSeq), to re-send on a retransmitted 2xx.
    acks: HashMap<(Side, u32), (Flow, Bytes)>,
    media: Option<CallMedia>,
    recorder: Option<crate::media::recorder::RecorderHandle>,
    /// The switch's own application, when it answered the call itself.
    app: Option<app::AppRun>,
    /// The caller's place in an ACD queue (kept once an agent answered,
    /// until the call ends).
    queue: Option<Box<queue::QueueWait>>,
    /// `X-Switchboard-*` headers for agents' INVITEs (a flow's context).
    context_headers: Vec<(String, String)>,
    /// RFC 4028 timers: [caller leg, agent leg], running once answered.
    timers: [Option<SessionTimer>; 2],
    /// Our session refreshes awaiting their response: side, method, CSeq.
    refreshes: HashMap<TransactionKey, (Side, Method, u32)>,
    /// Why and by whom the call ended (the first reason wins).
    end_info: Option<EndInfo>,
    /// Unix milliseconds.
    started_at: i64,
    answered_at: Option<i64>,
    bye_pending: Option<TransactionKey>,
    ending_since: Option<Instant>,
    ring_deadline: Instant,
    /// The trunk profile the call came in on.
    profile: String,
    sent_ringing: bool,
    /// A call the switch placed itself (a callback): the caller's side is
    /// the agent's phone, which the switch called.
    origin: Option<Box<callback::Origin>>,
    /// Who the forks' INVITEs show as calling (default: the caller).
    present_as: Option<Identity>,
    /// When this playlist ends the switch hangs up (a goodbye).
    hangup_after: Option<crate::media::player::PlaybackId>,
    /// What the flow learnt about the caller, kept for the agents' phones
    /// once the flow is over (a transfer to another queue or agent).
    journey: Vec<(String, String)>,
    /// The caller declined recording (or heard no notice) in the flow.
    declined_recording: bool,
    /// The agent who last transferred the call.
    transferred_by: Option<String>,
}

impl Call {
    /// A call for `invite`; gives the INVITE back when it lacks what a
    /// dialog needs (Call-ID, From, To, CSeq).
    fn new(
        ctx: Arc<CallContext>,
        ep: Endpoint,
        me: TuSender,
        key: TransactionKey,
        flow: Flow,
        invite: SipMessage,
    ) -> Result<Self, Box<SipMessage>> {
        let parts = (|| {
            Some((
                invite.call_id().ok()?.to_string(),
                dialog::header_text(&invite, HeaderName::To)?,
                dialog::header_text(&invite, HeaderName::From)?,
                invite.cseq().ok()?.seq,
            ))
        })();
        let Some((call_id, to, from, caller_cseq)) = parts else {
            return Err(Box::new(invite));
        };
        let local_tag = ids::tag();
        let transport = flow.transport;
        let contact = match transport {
            crate::config::Transport::Tcp => {
                format!("<sip:switchboard@{};transport=tcp>", flow.local)
            }
            crate::config::Transport::Udp => format!("<sip:switchboard@{}>", flow.local),
        };
        let caller = Dialog {
            call_id,
            local: format!("{to};tag={local_tag}"),
            remote: from,
            remote_target: dialog::contact_uri(&invite).unwrap_or_default(),
            route_set: dialog::record_route(&invite),
            local_cseq: 0,
            flow,
            contact,
            sent_by: flow.local.to_string(),
        };
        Ok(Self::with_caller(
            ctx,
            (ep, me),
            key,
            invite,
            caller,
            caller_cseq,
        ))
    }

    /// A call whose caller's side is `caller` (the dialog of `invite`,
    /// whose transaction is `key` and CSeq `caller_cseq`).
    fn with_caller(
        ctx: Arc<CallContext>,
        (ep, me): (Endpoint, TuSender),
        key: TransactionKey,
        invite: SipMessage,
        caller: Dialog,
        caller_cseq: u32,
    ) -> Self {
        Self {
            ctx,
            ep,
            me,
            caller_key: key,
            caller_invite: invite,
            caller,
            caller_state: CallerState::Proceeding,
            caller_cseq,
            forks: Vec::new(),
            agent: None,
            relays: HashMap::new(),
            retransmits: Vec::new(),
            acks: HashMap::new(),
            media: None,
            recorder: None,
            app: None,
            queue: None,
            context_headers: Vec::new(),
            timers: [None, None],
            refreshes: HashMap::new(),
            end_info: None,
            started_at: record::unix_ms(),
            answered_at: None,
            bye_pending: None,
            ending_since: None,
            ring_deadline: Instant::now() + RING_TIMEOUT,
            profile: String::new(),
            sent_ringing: false,
            origin: None,
            present_as: None,
            hangup_after: None,
            journey: Vec::new(),
            declined_recording: false,
            transferred_by: None,
        }
    }

    fn local_tag(&self) -> Option<String> {
        self.caller
            .local
            .rsplit_once(";tag=")
            .map(|(_, t)| t.to_string())
    }

    /// The call's task. Its phases run boxed, and so does every handler:
    /// the state of a handler's deepest chain of awaits lives only while
    /// it runs, so the task itself stays small (the call and a few
    /// pointers) for as long as the call lasts.
    /// The call is boxed: an `async fn` keeps its arguments beside its
    /// locals, and a call by value would sit in the task twice.
    async fn run(
        mut self: Box<Self>,
        mut rx: mpsc::Receiver<TuEvent>,
        profile: String,
        dest: Destination,
    ) {
        self.start(profile, dest).await;
        self.event_loop(&mut rx).await;
        self.close().await;
    }

    /// The CDR row, the caller's session timer and media, then the forks
    /// (or the switch's own application, or the caller's rejection).
    fn start(&mut self, profile: String, dest: Destination) -> BoxedStep<'_> {
        Box::pin(async move {
            self.profile = profile.clone();
            self.insert_cdr(&profile).await;
            let caller_timer =
                session_timer::for_caller(&self.caller_invite, &self.ctx.session_timer);
            let setup = match caller_timer {
                Ok(t) => {
                    self.timers[0] = Some(t);
                    match &dest {
                        Destination::Agents {
                            profile: agents,
                            targets,
                        } => self.setup_media(&profile, Some((agents, targets))),
                        Destination::Application(_) => self.setup_media(&profile, None),
                    }
                }
                Err(min_se) => Err(Reject {
                    status: 422,
                    warning: None,
                    reason: format!("session interval below our Min-SE {min_se}"),
                }),
            };
            match (setup, dest) {
                (Ok(sdp), Destination::Agents { targets, .. }) => {
                    self.start_forks(targets, sdp).await
                }
                (Ok(_), Destination::Application(app)) => self.start_app(app).await,
                (Err(reject), _) => self.reject_caller(reject).await,
            }
        })
    }

    /// Unbinds the call's Call-IDs and closes its CDR.
    fn close(&mut self) -> BoxedStep<'_> {
        Box::pin(async move {
            let mut call_ids = vec![self.caller.call_id.clone()];
            call_ids.extend(self.forks.iter().map(|f| f.dialog.call_id.clone()));
            self.ep.send(ToCore::Unbind { call_ids }).await;
            self.queue_call_ended().await;
            self.end_app().await;
            self.finish_cdr().await;
        })
    }

    async fn event_loop(&mut self, rx: &mut mpsc::Receiver<TuEvent>) {
        loop {
            if self.finished() {
                break;
            }
            let deadline = self.next_deadline();
            let wake = tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => Wake::Event(ev),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => Wake::Timer,
                ev = media_event(&mut self.media) => Wake::Media(ev),
                done = ivr::lookup_done(&mut self.app) => Wake::Lookup(done),
                order = queue::next_order(&mut self.queue) => Wake::Queue(order),
                _ = callback::withdrawn(&mut self.origin) => Wake::Withdrawn,
            };
            match wake {
                Wake::Event(ev) => Box::pin(self.on_event(ev)).await,
                Wake::Timer => Box::pin(self.on_timer()).await,
                Wake::Media(ev) => Box::pin(self.on_media_event(ev)).await,
                Wake::Lookup(done) => Box::pin(self.flow_lookup_done(done)).await,
                Wake::Queue(order) => Box::pin(self.on_queue_order(order)).await,
                Wake::Withdrawn => Box::pin(self.origin_withdrawn()).await,
            }
        }
    }

    /// Anchors the call's media: checks the caller's offer (it came in on
    /// `profile`) and builds the offer for the agent's phones (`agents`:
    /// their internal profile and contacts; `None` when the switch answers
    /// the call itself). Each leg keeps to its profile's codecs.
    fn setup_media(
        &mut self,
        profile: &str,
        agents: Option<(&str, &[Target])>,
    ) -> Result<Option<Bytes>, Reject> {
        let body = self.caller_invite.body();
        let body = (!body.is_empty()).then_some(body);
        if let Some(ct) = dialog::header_text(&self.caller_invite, HeaderName::ContentType)
            && body.is_some()
            && !ct.trim().to_ascii_lowercase().starts_with(SDP)
        {
            return Err(Reject {
                status: 415,
                warning: None,
                reason: format!("body of type {ct}"),
            });
        }
        let agents = agents.map(|(name, targets)| {
            let ips = targets.iter().map(|t| t.flow.remote.ip()).collect();
            (name, ips)
        });
        let (media, offer) = CallMedia::new(
            self.ctx.media.clone(),
            body.as_deref(),
            (profile, self.caller.flow.remote.ip()),
            agents,
        )?;
        self.media = Some(media);
        Ok(Some(offer))
    }

    /// Refuses the call before any phone rings.
    async fn reject_caller(&mut self, reject: Reject) {
        tracing::info!(call_id = %self.caller.call_id, status = reject.status, "call refused: {}", reject.reason);
        self.note_end(HangupBy::Switch, &reject.reason, Some(reject.status));
        let tag = self.local_tag();
        let mut b = respond::response(
            &self.caller_invite,
            self.caller.flow,
            reject.status,
            reason_of(reject.status),
            tag.as_deref(),
        );
        if let Some(w) = &reject.warning {
            b = b.header_raw("Warning", w);
        }
        if reject.status == 415 {
            b = b.header_raw("Accept", SDP);
        }
        if reject.status == 422 {
            b = b.header(
                HeaderName::MinSe,
                &self.ctx.session_timer.min_se.to_string(),
            );
        }
        self.ep
            .send(ToCore::SendResponse {
                key: self.caller_key.clone(),
                status: reject.status,
                bytes: b.to_bytes(),
            })
            .await;
        self.caller_state = CallerState::Failed;
        self.end();
    }

    fn finished(&self) -> bool {
        if self.forks.is_empty() && self.app.is_none() {
            return self.caller_state != CallerState::Proceeding;
        }
        match self.ending_since {
            Some(t) => {
                // A cancelled fork stays until its final response: a 200
                // that crossed our CANCEL must still get its ACK and BYE,
                // or the agent's phone would be left in a call.
                let forks_done = self.forks.iter().all(|f| !f.is_pending());
                (self.bye_pending.is_none() && forks_done && self.retransmits.is_empty())
                    || t.elapsed() > END_TIMEOUT
            }
            None => false,
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut next = Instant::now() + Duration::from_secs(3600);
        if self.caller_state == CallerState::Proceeding {
            next = next.min(self.ring_deadline);
        }
        if let Some(t) = self.ending_since {
            next = next.min(t + END_TIMEOUT);
        }
        for r in &self.retransmits {
            next = next.min(r.next);
        }
        if self.caller_state == CallerState::Answered && self.ending_since.is_none() {
            for t in self.timers.iter().flatten() {
                next = next.min(t.due);
            }
            if let Some(t) = self.app.as_ref().and_then(|a| a.deadline) {
                next = next.min(t);
            }
            if let Some(t) = self.queue_deadline() {
                next = next.min(t);
            }
        }
        next
    }

    fn end(&mut self) {
        if self.ending_since.is_none() {
            self.ending_since = Some(Instant::now());
        }
    }

    async fn start_forks(&mut self, targets: Vec<Target>, sdp: Option<Bytes>) {
        let max_forwards = self
            .caller_invite
            .max_forwards()
            .ok()
            .flatten()
            .unwrap_or(70)
            .saturating_sub(1);
        for target in targets {
            let Some(local) = self
                .ep
                .local_addr(target.flow.profile, target.flow.transport)
            else {
                continue;
            };
            let sent_by = local.to_string();
            let from = self
                .present_as
                .clone()
                .unwrap_or_else(|| Identity::of(&self.caller_invite));
            let parts = InviteParts {
                from: &from,
                target: &target,
                sent_by: &sent_by,
                max_forwards,
                sdp: sdp.clone(),
                session_timer: self.ctx.session_timer,
                context: &self.context_headers,
            };
            let Some((key, msg, dialog)) = build_invite(&parts) else {
                continue;
            };
            self.ep
                .send(ToCore::Bind {
                    call_id: dialog.call_id.clone(),
                    owner: self.me.clone(),
                })
                .await;
            let flow = target.flow;
            self.forks.push(Fork {
                target,
                invite_key: key.clone(),
                invite: msg.clone(),
                state: ForkState::Calling,
                dialog,
                cancel_sent: false,
            });
            self.send_request(key, flow, msg).await;
        }
        if self.forks.is_empty() && !self.flow_handing_off() {
            self.note_end(HangupBy::Switch, "no agent phone reachable", Some(480));
            self.fail_caller(480).await;
        }
    }

    async fn on_event(&mut self, ev: TuEvent) {
        match ev {
            TuEvent::Response { key, msg } => {
                let status = msg.status().unwrap_or(500);
                if self.origin.is_some() && key == self.caller_key {
                    self.on_origin_response(status, Some(&msg)).await;
                } else if let Some(i) = self.forks.iter().position(|f| f.invite_key == key) {
                    self.on_fork_response(i, status, &msg).await;
                } else if self.refreshes.contains_key(&key) {
                    self.on_refresh_response(key, status, Some(&msg)).await;
                } else if self.relays.contains_key(&key) {
                    self.on_relay_response(key, status, Some(&msg)).await;
                } else if self.bye_pending.as_ref() == Some(&key) && status >= 200 {
                    self.bye_pending = None;
                }
            }
            TuEvent::Failed { key, status } => {
                if self.origin.is_some() && key == self.caller_key {
                    self.on_origin_response(status, None).await;
                } else if let Some(i) = self.forks.iter().position(|f| f.invite_key == key) {
                    self.on_fork_failure(i, status).await;
                } else if self.refreshes.contains_key(&key) {
                    self.on_refresh_response(key, status, None).await;
                } else if self.relays.contains_key(&key) {
                    self.on_relay_response(key, status, None).await;
                } else if self.bye_pending.as_ref() == Some(&key) {
                    self.bye_pending = None;
                }
            }
            TuEvent::Cancelled { invite } => {
                if invite == self.caller_key && self.caller_state == CallerState::Proceeding {
                    self.note_end(HangupBy::Caller, "CANCEL", Some(487));
                    self.respond_caller(487, None).await;
                    self.caller_state = CallerState::Failed;
                    self.cancel_forks().await;
                    self.end();
                }
            }
            TuEvent::Request { key, flow, msg } => self.on_request(key, flow, *msg).await,
            TuEvent::Ack { msg, .. } => self.on_ack(&msg).await,
            TuEvent::AckTimeout { .. } => {}
        }
    }

    /// Which side a message's Call-ID belongs to.
    fn side_of(&self, msg: &SipMessage) -> Option<Side> {
        let id = msg.call_id().ok()?;
        if id == self.caller.call_id {
            Some(Side::Caller)
        } else if self
            .agent
            .and_then(|i| self.forks.get(i))
            .is_some_and(|f| f.dialog.call_id == id)
        {
            Some(Side::Agent)
        } else {
            None
        }
    }

    fn dialog_mut(&mut self, side: Side) -> Option<&mut Dialog> {
        match side {
            Side::Caller => Some(&mut self.caller),
            Side::Agent => {
                let i = self.agent?;
                self.forks.get_mut(i).map(|f| &mut f.dialog)
            }
        }
    }

    async fn on_fork_response(&mut self, i: usize, status: u16, msg: &SipMessage) {
        // A flow handing its (answered) caller to agents waits for their
        // answer like a ringing caller does.
        let handing_off = self.flow_handing_off();
        let Some(fork) = self.forks.get_mut(i) else {
            return;
        };
        match status {
            100 => {}
            101..=199 => {
                if fork.state == ForkState::Calling {
                    fork.state = ForkState::Early;
                }
                if handing_off {
                    self.queue_fork_ringing(i).await;
                }
                if self.caller_state == CallerState::Proceeding && self.ending_since.is_none() {
                    let body = self.early_media(msg).await;
                    if body.is_some() || !self.sent_ringing {
                        let code = if body.is_some() { 183 } else { 180 };
                        self.sent_ringing = true;
                        self.respond_caller(code, body).await;
                    }
                }
            }
            200..=299 => {
                if let Some(to) = dialog::header_text(msg, HeaderName::To) {
                    fork.dialog.remote = to;
                }
                if let Some(target) = dialog::contact_uri(msg) {
                    fork.dialog.remote_target = target;
                }
                let mut routes = dialog::record_route(msg);
                routes.reverse();
                fork.dialog.route_set = routes;
                let seq = fork.invite.cseq().map(|c| c.seq).unwrap_or(1);
                if fork.state == ForkState::Answered {
                    // A retransmitted 2xx: our ACK was lost.
                    if let Some((flow, bytes)) = self.acks.get(&(Side::Agent, seq)).cloned() {
                        self.ep.send(ToCore::SendStateless { flow, bytes }).await;
                    }
                    return;
                }
                let late = self.agent.is_some()
                    || (self.caller_state != CallerState::Proceeding && !handing_off);
                fork.state = ForkState::Answered;
                if late {
                    // Another phone answered first, or the caller is gone:
                    // confirm this dialog and end it at once.
                    let d = fork.dialog.clone();
                    self.end_answered_fork(d, seq).await;
                    return;
                }
                if handing_off && let Some(media) = self.media.as_mut() {
                    // The flow's session gives the caller's sockets to the relay.
                    media.release_session().await;
                }
                let sdp = match (self.media.as_mut(), body_of(msg)) {
                    (Some(media), Some((_, body))) => media.agent_answered(&body).await,
                    _ => Err(Reject {
                        status: 488,
                        warning: None,
                        reason: "agent answered without SDP".into(),
                    }),
                };
                let sdp = match sdp {
                    Ok(sdp) => sdp,
                    Err(reject) => {
                        // The phone's answer is unusable: end its leg and
                        // let the other phones go on ringing.
                        tracing::warn!(call_id = %self.caller.call_id, "agent answer refused: {}", reject.reason);
                        let d = fork.dialog.clone();
                        fork.state = ForkState::Failed(reject.status);
                        self.end_answered_fork(d, seq).await;
                        if handing_off {
                            // The flow's session is gone: the call cannot go on.
                            self.note_end(HangupBy::Switch, &reject.reason, None);
                            self.hang_up_both().await;
                            return;
                        }
                        self.check_all_failed().await;
                        return;
                    }
                };
                self.agent = Some(i);
                self.timers[1] = Some(session_timer::for_agent(msg, &self.ctx.session_timer));
                self.send_ack(Side::Agent, seq, None).await;
                self.cancel_forks().await;
                if !handing_off {
                    self.answer_caller(Some((SDP.to_string(), sdp))).await;
                }
                self.on_answered(i).await;
                if handing_off {
                    self.queue_fork_answered(i).await;
                    self.flow_handed_off().await;
                }
            }
            _ => {
                fork.state = ForkState::Failed(status);
                self.check_all_failed().await;
            }
        }
    }

    /// ACKs a fork's 2xx (CSeq `seq`) and hangs that dialog up at once.
    async fn end_answered_fork(&mut self, mut d: Dialog, seq: u32) {
        let ack = d.request(Method::Ack, Some(seq), None);
        let bye = d.request(Method::Bye, None, None);
        self.ep
            .send(ToCore::SendStateless {
                flow: ack.flow,
                bytes: ack.builder.to_bytes(),
            })
            .await;
        if let Some((key, flow, bye_msg)) = bye.into_request() {
            self.send_request(key, flow, bye_msg).await;
        }
    }

    async fn on_fork_failure(&mut self, i: usize, status: u16) {
        if let Some(fork) = self.forks.get_mut(i)
            && fork.is_pending()
        {
            fork.state = ForkState::Failed(status);
            self.check_all_failed().await;
        }
    }

    async fn check_all_failed(&mut self) {
        if self.flow_handing_off() && self.queue_forks_failed().await {
            return;
        }
        if self.flow_handing_off() {
            if self.agent.is_none() && !self.forks.iter().any(|f| f.is_pending()) {
                self.flow_handoff_failed().await;
            }
            return;
        }
        if self.caller_state != CallerState::Proceeding || self.forks.iter().any(|f| f.is_pending())
        {
            return;
        }
        if self.agent.is_some() {
            return;
        }
        let statuses: Vec<u16> = self
            .forks
            .iter()
            .filter_map(|f| match f.state {
                ForkState::Failed(s) => Some(s),
                _ => None,
            })
            .collect();
        let (status, _) = best_failure(&statuses);
        self.note_end(
            HangupBy::Switch,
            &format!("agent phones answered {statuses:?}"),
            Some(status),
        );
        self.fail_caller(status).await;
    }

    async fn fail_caller(&mut self, status: u16) {
        if self.caller_state == CallerState::Proceeding {
            self.respond_caller(status, None).await;
            self.caller_state = CallerState::Failed;
        }
        self.end();
    }

    async fn cancel_forks(&mut self) {
        let all: Vec<usize> = (0..self.forks.len()).collect();
        self.cancel_these_forks(&all).await;
    }

    /// A response on the caller's INVITE transaction (none when the
    /// switch placed the call: it sent the INVITE).
    async fn respond_caller(&mut self, status: u16, body: Option<(String, Bytes)>) {
        if self.origin.is_some() {
            return;
        }
        let tag = self.local_tag();
        let mut b = respond::response(
            &self.caller_invite,
            self.caller.flow,
            status,
            reason_of(status),
            tag.as_deref(),
        );
        if status < 300 {
            b = b.header(HeaderName::Contact, &self.caller.contact);
        }
        if (200..300).contains(&status) {
            b = self.with_session_timer(b, Side::Caller);
        }
        if let Some((ct, body)) = body {
            b = b.header(HeaderName::ContentType, &ct).body(body);
        }
        let bytes = b.to_bytes();
        if (200..300).contains(&status) && !self.caller.flow.transport.is_reliable() {
            self.retransmits.push(Retransmit::new(
                Side::Caller,
                self.caller_cseq,
                self.caller.flow,
                bytes.clone(),
            ));
        }
        self.ep
            .send(ToCore::SendResponse {
                key: self.caller_key.clone(),
                status,
                bytes,
            })
            .await;
    }

    async fn answer_caller(&mut self, body: Option<(String, Bytes)>) {
        self.caller_state = CallerState::Answered;
        self.respond_caller(200, body).await;
        for t in self.timers.iter_mut().flatten() {
            t.restart();
        }
    }

    /// Sends (and remembers) the ACK for a 2xx on `side`'s dialog.
    async fn send_ack(&mut self, side: Side, seq: u32, body: Option<(String, Bytes)>) {
        let Some(d) = self.dialog_mut(side) else {
            return;
        };
        let out = d.request(
            Method::Ack,
            Some(seq),
            body.as_ref().map(|(ct, b)| (ct.as_str(), b.clone())),
        );
        let bytes = out.builder.to_bytes();
        self.acks.insert((side, seq), (out.flow, bytes.clone()));
        self.ep
            .send(ToCore::SendStateless {
                flow: out.flow,
                bytes,
            })
            .await;
    }

    async fn send_request(&mut self, key: TransactionKey, flow: Flow, msg: SipMessage) {
        self.ep
            .send(ToCore::SendRequest {
                owner: self.me.clone(),
                key,
                flow,
                msg,
            })
            .await;
    }

    async fn on_ack(&mut self, msg: &SipMessage) {
        let Some(side) = self.side_of(msg) else {
            return;
        };
        let Ok(seq) = msg.cseq().map(|c| c.seq) else {
            return;
        };
        self.retransmits
            .retain(|r| !(r.side == side && r.cseq == seq));
        let Some(media) = self.media.as_mut() else {
            return;
        };
        if !media.awaits_ack_answer(side) {
            return;
        }
        let result = match body_of(msg) {
            Some((_, body)) => media.ack_answered(&body).await,
            None => Err(Reject {
                status: 488,
                warning: None,
                reason: "ACK without the SDP answer".into(),
            }),
        };
        if let Err(reject) = result {
            tracing::warn!(call_id = %self.caller.call_id, "answer in ACK refused: {}", reject.reason);
            self.note_end(HangupBy::Switch, &reject.reason, None);
            self.hang_up_both().await;
            return;
        }
        // A late offer: the relay starts with the caller's answer, so the
        // recording (which found no relay at the 200) starts now.
        if self.recorder.is_none() && self.answered_at.is_some() && self.app.is_none() {
            self.start_recording().await;
        }
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        if self.caller_state == CallerState::Proceeding
            && now >= self.ring_deadline
            && self.origin.is_some()
        {
            self.origin_withdrawn().await;
        } else if self.caller_state == CallerState::Proceeding && now >= self.ring_deadline {
            self.note_end(HangupBy::Switch, "no answer", Some(480));
            self.cancel_forks().await;
            self.fail_caller(480).await;
        }
        let mut gave_up = false;
        let mut resend = Vec::new();
        self.retransmits.retain_mut(|r| {
            if now < r.next {
                return true;
            }
            if now >= r.give_up {
                gave_up = true;
                return false;
            }
            resend.push((r.flow, r.bytes.clone()));
            r.backoff(now);
            true
        });
        for (flow, bytes) in resend {
            self.ep.send(ToCore::SendStateless { flow, bytes }).await;
        }
        self.session_timers_due().await;
        if self.ending_since.is_none() {
            self.queue_timer().await;
        }
        self.app_timer().await;
        if gave_up {
            // RFC 3261 13.3.1.4: no ACK for our 2xx: end the session.
            self.note_end(HangupBy::Switch, "no ACK for the 200", None);
            self.hang_up_both().await;
        }
    }

    /// Ends an established call from the switch's side: BYE to both.
    async fn hang_up_both(&mut self) {
        for side in [Side::Caller, Side::Agent] {
            if side == Side::Agent && self.agent.is_none() {
                continue;
            }
            self.send_bye(side).await;
        }
        self.end();
    }

    async fn send_bye(&mut self, side: Side) {
        let Some(d) = self.dialog_mut(side) else {
            return;
        };
        let out = d.request(Method::Bye, None, None);
        if let Some((key, flow, msg)) = out.into_request() {
            self.bye_pending = Some(key.clone());
            self.send_request(key, flow, msg).await;
        }
    }
}

/// The next event of the call's media; never resolves without media.
async fn media_event(media: &mut Option<CallMedia>) -> MediaEvent {
    match media {
        Some(m) => m.next_event().await,
        None => std::future::pending().await,
    }
}
