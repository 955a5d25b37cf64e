//! Callbacks, the call's side. For a callback request that reached the
//! front of its queue the switch places a call itself: it rings one of
//! the offered agent's phones (the caller's side of this call is that
//! phone); the agent answers and hears who is called back, then the switch
//! dials the customer through the trunk the request came in on, the agent
//! hearing music meanwhile. The customer answering bridges the two; no
//! answer within the queue's callback ring time, a refusal, or a trunk that
//! cannot reach the number ends the call after the agent is told.
//!
//! What happens is reported to the dialer (`dialer.rs`), which keeps the
//! ACD and the request's stored state. The customer heard no recording
//! notice, so a callback is not recorded.
//!
//! Requests are taken here too: by a flow's callback node, and from a
//! caller waiting in a queue (who keeps their place in line).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::app::{AppRun, Phase};
use super::fork::{Identity, InviteParts, body_of, build_invite, cancel_of};
use super::media::CallMedia;
use super::record::unix_ms;
use super::{Call, CallContext, CallerState, END_TIMEOUT, Side, dialog, session_timer};
use crate::flow::model::{PromptItem, TransferTarget};
use crate::media::player::PlaybackId;
use crate::media::session::SessionOptions;
use crate::server::routing::Target;
use crate::sip::codec::{HeaderName, SipMessage};
use crate::sip::endpoint::{Endpoint, TU_QUEUE, ToCore};
use crate::store::{CallEventKind, HangupBy, NewCallback};

/// A callback to place: who to ring, who to call back, and where to
/// report.
#[derive(Debug)]
pub struct CallbackOrder {
    /// The request's id (`callbacks` table).
    pub id: i64,
    /// The customer's number.
    pub number: String,
    /// The number the customer sees calling (the one they had called).
    pub present_as: String,
    /// The trunk profile the customer is reached through.
    pub trunk: String,
    /// The agent's extension and the phone rung, on the agents profile.
    pub agent: String,
    pub phone: Target,
    pub agents_profile: String,
    /// How long the agent's phone rings.
    pub ring_timeout: Duration,
    /// How long the customer's phone rings.
    pub customer_ring: Duration,
    /// `X-Switchboard-*` headers for the agent's phone: what the flow had
    /// learnt about the customer.
    pub context: Vec<(String, String)>,
    /// Where the call reports (with the agent's extension).
    pub reports: mpsc::Sender<(String, CallbackReport)>,
    /// Fired when the offer is withdrawn (another agent took it).
    pub withdraw: oneshot::Receiver<()>,
}

/// What a callback call reports to its dialer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackReport {
    /// The agent's phone rings.
    Ringing,
    /// The agent answered; the customer is dialled next.
    AgentAnswered,
    /// The agent's phone did not take the call (its status; 408: no
    /// answer in time).
    AgentMissed(u16),
    /// The customer answered: agent and customer are talking.
    Connected,
    /// The call is over: whether the customer was reached, and how.
    Ended { reached: bool, why: String },
}

/// A call the switch placed for a callback (see the module doc).
#[derive(Debug)]
pub(super) struct Origin {
    id: i64,
    number: String,
    trunk: String,
    agent: String,
    customer_ring: Duration,
    reports: mpsc::Sender<(String, CallbackReport)>,
    withdraw: Option<oneshot::Receiver<()>>,
    told_ringing: bool,
    /// The agent's answer or miss was reported.
    settled: bool,
    /// A CANCEL went to the agent's phone.
    cancelled: bool,
    reached: bool,
}

impl Origin {
    /// The agent whose phone this call rang.
    pub(super) fn agent(&self) -> &str {
        &self.agent
    }
}

/// The agent's side of an answered callback.
#[derive(Debug)]
pub struct CallbackRun {
    stage: Stage,
    /// The customer's phone rings.
    pub(super) dialing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Telling the agent who is called back.
    Intro(PlaybackId),
    /// The customer rings (or is bridged).
    Dialing,
    /// Telling the agent the customer was not reached; then goodbye.
    NotReached(PlaybackId),
}

/// Places the call of `order`: rings the agent's phone from the switch.
/// The reason when it cannot be placed (nothing is reported then).
pub fn originate_callback(
    ctx: Arc<CallContext>,
    ep: Endpoint,
    order: CallbackOrder,
) -> Result<(), String> {
    let flow = order.phone.flow;
    let local = ep
        .local_addr(flow.profile, flow.transport)
        .ok_or("the agents profile has no local address")?;
    let (media, sdp) =
        CallMedia::originate(ctx.media.clone(), &order.agents_profile, flow.remote.ip())
            .map_err(|r| r.reason)?;
    let from = Identity::new(&order.number, Some("Callback"));
    let mut context = order.context.clone();
    context.push(("X-Switchboard-Callback".into(), order.id.to_string()));
    let sent_by = local.to_string();
    let parts = InviteParts {
        from: &from,
        target: &order.phone,
        sent_by: &sent_by,
        max_forwards: 70,
        sdp: Some(sdp),
        session_timer: ctx.session_timer,
        context: &context,
    };
    let (key, invite, caller) = build_invite(&parts).ok_or("the INVITE could not be built")?;
    let (tx, rx) = mpsc::channel(TU_QUEUE);
    let mut call = Call::with_caller(ctx, (ep, tx), key, invite, caller, 1);
    call.media = Some(media);
    call.ring_deadline = Instant::now() + order.ring_timeout;
    call.present_as = Some(Identity::new(&order.present_as, None));
    call.context_headers = order.context;
    call.origin = Some(Box::new(Origin {
        id: order.id,
        number: order.number,
        trunk: order.trunk,
        agent: order.agent,
        customer_ring: order.customer_ring,
        reports: order.reports,
        withdraw: Some(order.withdraw),
        told_ringing: false,
        settled: false,
        cancelled: false,
        reached: false,
    }));
    tokio::spawn(Box::new(call).run_originated(rx));
    Ok(())
}

/// Resolves when the callback's offer is withdrawn (never for other
/// calls, nor once the dialer can no longer withdraw it).
pub(super) async fn withdrawn(origin: &mut Option<Box<Origin>>) {
    let Some(rx) = origin.as_mut().and_then(|o| o.withdraw.as_mut()) else {
        return std::future::pending().await;
    };
    let fired = rx.await.is_ok();
    if let Some(o) = origin.as_mut() {
        o.withdraw = None;
    }
    if !fired {
        std::future::pending::<()>().await;
    }
}

/// A callback request a call takes.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub number: String,
    /// The queue whose agents call back ('': the first queue).
    pub queue: String,
    /// Dialled while this calendar is open ('': any time).
    pub calendar: String,
    /// The caller's place in line (`None`: now).
    pub place_since: Option<i64>,
    pub priority: u8,
}

impl Call {
    /// Stores a callback request with what the call knows (its trunk, the
    /// number called, the flow's context for the agent) and wakes the
    /// dialer; false when it could not be stored.
    pub(super) async fn store_callback(&mut self, r: Request) -> bool {
        let mut context = self.flow_context_headers();
        context.retain(|(name, _)| name != "X-Switchboard-Queue");
        if !r.queue.is_empty() {
            context.push(("X-Switchboard-Queue".into(), r.queue.clone()));
        }
        let present_as = self.called_number();
        let Some(store) = self.store() else {
            return false;
        };
        let request = NewCallback {
            call_id: &self.caller.call_id,
            number: &r.number,
            requested_at: unix_ms(),
            not_before: None,
            queue: &r.queue,
            place_since: r.place_since,
            priority: r.priority,
            trunk: &self.profile,
            present_as: &present_as,
            calendar: &r.calendar,
            context: &context,
        };
        match store.insert_callback(&request).await {
            Ok(id) => {
                tracing::info!(call_id = %self.caller.call_id, id, queue = %r.queue, "callback request stored");
                self.ctx.callbacks_due.notify_one();
                true
            }
            Err(e) => {
                tracing::error!(call_id = %self.caller.call_id, "callback request not stored: {e}");
                false
            }
        }
    }

    /// The task of a call the switch placed: the INVITE, the call, its
    /// end reported.
    async fn run_originated(
        mut self: Box<Self>,
        mut rx: mpsc::Receiver<crate::sip::endpoint::TuEvent>,
    ) {
        Box::pin(self.send_origin_invite()).await;
        self.event_loop(&mut rx).await;
        self.close().await;
        let why = self
            .end_info
            .as_ref()
            .map_or_else(|| "ended".to_string(), |e| e.cause.clone());
        let reached = self.origin.as_ref().is_some_and(|o| o.reached);
        self.report_callback(CallbackReport::Ended { reached, why })
            .await;
    }

    async fn send_origin_invite(&mut self) {
        self.ep
            .send(ToCore::Bind {
                call_id: self.caller.call_id.clone(),
                owner: self.me.clone(),
            })
            .await;
        let Some((id, trunk, agent)) = self
            .origin
            .as_ref()
            .map(|o| (o.id, o.trunk.clone(), o.agent.clone()))
        else {
            return;
        };
        self.profile = trunk.clone();
        self.insert_cdr(&trunk).await;
        self.journal_event(
            CallEventKind::Callback,
            &format!("callback {id}: ringing agent {agent}"),
        )
        .await;
        let (key, flow) = (self.caller_key.clone(), self.caller.flow);
        let invite = self.caller_invite.clone();
        self.send_request(key, flow, invite).await;
    }

    /// A response to the switch's INVITE to the agent's phone (`None`: the
    /// transaction failed with `status`, no response came).
    pub(super) async fn on_origin_response(&mut self, status: u16, msg: Option<&SipMessage>) {
        match (status, msg) {
            (100, _) => {}
            (101..=199, _) => {
                if let Some(o) = self.origin.as_mut()
                    && !o.told_ringing
                {
                    o.told_ringing = true;
                    self.report_callback(CallbackReport::Ringing).await;
                }
            }
            (200..=299, Some(msg)) => self.origin_answered(msg).await,
            _ => {
                if self.caller_state != CallerState::Proceeding {
                    return;
                }
                self.caller_state = CallerState::Failed;
                self.note_end(
                    HangupBy::Agent,
                    "the agent's phone did not answer",
                    Some(status),
                );
                self.agent_missed(status).await;
                self.end();
            }
        }
    }

    /// The agent's phone answered (or repeated its 2xx).
    async fn origin_answered(&mut self, msg: &SipMessage) {
        let seq = self.caller_cseq;
        if self.caller_state == CallerState::Answered {
            // A retransmitted 2xx: our ACK was lost.
            if let Some((flow, bytes)) = self.acks.get(&(Side::Caller, seq)).cloned() {
                self.ep.send(ToCore::SendStateless { flow, bytes }).await;
            }
            return;
        }
        if let Some(to) = dialog::header_text(msg, HeaderName::To) {
            self.caller.remote = to;
        }
        if let Some(target) = dialog::contact_uri(msg) {
            self.caller.remote_target = target;
        }
        let mut routes = dialog::record_route(msg);
        routes.reverse();
        self.caller.route_set = routes;
        let withdrawn = self.origin.as_ref().is_some_and(|o| o.cancelled);
        if withdrawn || self.ending_since.is_some() {
            // The answer crossed our CANCEL: confirm the dialog, end it.
            self.caller_state = CallerState::Failed;
            let d = self.caller.clone();
            self.end_answered_fork(d, seq).await;
            self.end();
            return;
        }
        let opts = SessionOptions {
            media_timeout: self.ctx.media.relay.media_timeout,
            ..SessionOptions::default()
        };
        let answered = match (self.media.as_mut(), body_of(msg)) {
            (Some(media), Some((_, body))) => media.originated_answer(&body, opts),
            _ => Err(super::media::Reject {
                status: 488,
                warning: None,
                reason: "the agent's phone answered without SDP".into(),
            }),
        };
        if let Err(reject) = answered {
            tracing::warn!(call_id = %self.caller.call_id, "callback: agent answer refused: {}", reject.reason);
            self.caller_state = CallerState::Failed;
            self.note_end(HangupBy::Switch, &reject.reason, None);
            let d = self.caller.clone();
            self.end_answered_fork(d, seq).await;
            self.agent_missed(reject.status).await;
            self.end();
            return;
        }
        self.send_ack(Side::Caller, seq, None).await;
        self.caller_state = CallerState::Answered;
        self.timers[0] = Some(session_timer::for_agent(msg, &self.ctx.session_timer));
        if let Some(o) = self.origin.as_mut() {
            o.settled = true;
        }
        self.report_callback(CallbackReport::AgentAnswered).await;
        let Some(number) = self.origin.as_ref().map(|o| o.number.clone()) else {
            return;
        };
        self.journal_event(CallEventKind::Callback, "the agent answered")
            .await;
        let say = [PromptItem::Say {
            text: format!("Callback to {}. Connecting.", spoken_digits(&number)),
            voice: "en".into(),
        }];
        self.app = Some(AppRun {
            phase: Phase::Done,
            deadline: None,
        });
        match self.play_flow_prompts(&say, false).await {
            Some(id) => {
                if let Some(a) = self.app.as_mut() {
                    a.phase = Phase::Callback(CallbackRun {
                        stage: Stage::Intro(id),
                        dialing: false,
                    });
                }
            }
            None => {
                if let Some(a) = self.app.as_mut() {
                    a.phase = Phase::Callback(CallbackRun {
                        stage: Stage::Dialing,
                        dialing: false,
                    });
                }
                self.dial_customer().await;
            }
        }
    }

    /// The agent's phone did not take the call.
    async fn agent_missed(&mut self, status: u16) {
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        if o.settled {
            return;
        }
        o.settled = true;
        self.report_callback(CallbackReport::AgentMissed(status))
            .await;
    }

    /// The offer is withdrawn (another agent took it) or rang too long:
    /// the agent's phone is cancelled; a callback already answered by this
    /// agent goes on.
    pub(super) async fn origin_withdrawn(&mut self) {
        let reached = self.origin.as_ref().is_some_and(|o| o.reached);
        if self.caller_state == CallerState::Answered && !reached && self.ending_since.is_none() {
            // Two agents answered at once: the other one calls back.
            self.note_end(HangupBy::Switch, "another agent took the callback", None);
            self.cancel_forks().await;
            return self.hang_up_both().await;
        }
        if self.caller_state != CallerState::Proceeding {
            return;
        }
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        if o.cancelled {
            // No final response to our CANCEL in time.
            self.caller_state = CallerState::Failed;
            self.end();
            return;
        }
        o.cancelled = true;
        self.ring_deadline = Instant::now() + END_TIMEOUT;
        self.note_end(
            HangupBy::Switch,
            "the agent's phone did not answer",
            Some(487),
        );
        self.agent_missed(408).await;
        if let Some((key, msg)) = cancel_of(&self.caller_invite) {
            let flow = self.caller.flow;
            self.send_request(key, flow, msg).await;
        }
    }

    /// Rings the customer through the trunk; the agent hears music.
    async fn dial_customer(&mut self) {
        let Some((number, trunk, ring)) = self
            .origin
            .as_ref()
            .map(|o| (o.number.clone(), o.trunk.clone(), o.customer_ring))
        else {
            return;
        };
        self.set_handing_off(true);
        self.journal_event(CallEventKind::Callback, "dialling the customer")
            .await;
        if self
            .transfer(TransferTarget::Trunk { trunk, number }, ring)
            .await
            .is_some()
        {
            self.set_handing_off(false);
            self.customer_not_reached().await;
        }
    }

    /// A playlist of the agent's session ended.
    pub(super) async fn callback_playback_done(&mut self, id: PlaybackId) {
        let stage = match self.app.as_ref().map(|a| &a.phase) {
            Some(Phase::Callback(run)) => run.stage,
            _ => return,
        };
        match stage {
            Stage::Intro(p) if p == id => {
                self.set_callback_stage(Stage::Dialing);
                self.dial_customer().await;
            }
            Stage::NotReached(p) if p == id => {
                self.note_end(HangupBy::Switch, "the customer was not reached", None);
                self.hang_up_both().await;
            }
            _ => {}
        }
    }

    fn set_callback_stage(&mut self, stage: Stage) {
        if let Some(Phase::Callback(run)) = self.app.as_mut().map(|a| &mut a.phase) {
            run.stage = stage;
        }
    }

    /// The customer answered and is bridged to the agent.
    pub(super) async fn callback_connected(&mut self) {
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        o.reached = true;
        self.journal_event(CallEventKind::Callback, "the customer answered")
            .await;
        self.report_callback(CallbackReport::Connected).await;
    }

    /// The customer did not answer (or could not be rung): the agent is
    /// told, then the switch hangs up.
    pub(super) async fn customer_not_reached(&mut self) {
        self.journal_event(CallEventKind::Callback, "the customer was not reached")
            .await;
        if let Some(media) = self.media.as_mut() {
            // The music stops; the session tells the agent.
            if let Some(s) = media.session() {
                let _ = s.stop_playback().await;
            }
        }
        let say = [PromptItem::Say {
            text: "The customer did not answer.".into(),
            voice: "en".into(),
        }];
        match self.play_flow_prompts(&say, false).await {
            Some(id) => self.set_callback_stage(Stage::NotReached(id)),
            None => {
                self.note_end(HangupBy::Switch, "the customer was not reached", None);
                self.hang_up_both().await;
            }
        }
    }

    async fn report_callback(&self, report: CallbackReport) {
        if let Some(o) = self.origin.as_ref() {
            let _ = o.reports.send((o.agent.clone(), report)).await;
        }
    }
}

/// A number read out digit by digit ("+1 555" as "plus 1 5 5 5").
fn spoken_digits(number: &str) -> String {
    number
        .chars()
        .filter_map(|c| match c {
            '+' => Some("plus".to_string()),
            c if c.is_ascii_digit() => Some(c.to_string()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::spoken_digits;

    #[test]
    fn numbers_are_read_digit_by_digit() {
        assert_eq!(spoken_digits("+1555-01"), "plus 1 5 5 5 0 1");
        assert_eq!(spoken_digits(""), "");
    }
}
