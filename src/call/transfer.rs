//! Agents' blind transfers (RFC 3515 REFER): an agent talking to a queued
//! caller sends REFER naming a queue (`sip:complaints@switch`) or another
//! agent (`sip:1002@switch`). The switch accepts it (202, then a NOTIFY
//! saying the transfer is done), hangs the agent up (they go to wrap-up),
//! takes the caller back from the relay onto its own media session with
//! music on hold, and puts them in that queue, or offers them to that
//! agent alone (should the agent not answer, the caller waits in the queue
//! they were in). The caller keeps their call, its journal and the
//! context the flow learnt: the next agent's phone gets the same
//! `X-Switchboard-*` headers, plus who transferred the call. A REFER to
//! nothing the ACD knows gets 404, and the call goes on.

use super::Call;
use super::app::{AppRun, Phase};
use super::dialog::{self, Side};
use crate::flow::model::PromptItem;
use crate::media::session::SessionOptions;
use crate::sip::codec::{HeaderName, Method, SipMessage, Uri};
use crate::sip::transaction::TransactionKey;
use crate::sip::transport::Flow;
use crate::store::{CallEventKind, HangupBy};

/// Where an agent transfers the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    Queue(String),
    Agent(String),
}

/// The caller waits on the switch's session after a transfer (no flow runs
/// any more).
#[derive(Debug)]
pub struct HeldRun {
    /// The queue's offers ring agents for the caller.
    pub(super) handing_off: bool,
}

impl Call {
    /// A REFER from `side`; false when it is not an agent's transfer of a
    /// queued caller (it is then relayed like other requests).
    pub(super) async fn on_refer(
        &mut self,
        side: Side,
        key: &TransactionKey,
        flow: Flow,
        msg: &SipMessage,
    ) -> bool {
        let Some(w) = self.queue.as_ref() else {
            return false;
        };
        let Some(by) = w.answered_by.clone() else {
            return false;
        };
        if side != Side::Agent || self.origin.is_some() || self.ending_since.is_some() {
            return false;
        }
        let acd = w.acd.clone();
        let user = dialog::header_text(msg, HeaderName::ReferTo)
            .and_then(|t| {
                let inner = t.trim().trim_start_matches('<');
                let inner = inner.split('>').next().unwrap_or(inner).to_string();
                Uri::parse(&inner).ok().and_then(|u| {
                    u.user_unescaped()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                })
            })
            .unwrap_or_default();
        let destination = if acd.has_queue(&user) {
            Destination::Queue(user)
        } else if acd.has_agent(&user) && user != by {
            Destination::Agent(user)
        } else {
            self.respond_to(key, msg, flow, 404, None, false).await;
            self.journal_event(
                CallEventKind::Transfer,
                &format!("{by} asked for `{user}`: no such queue or agent"),
            )
            .await;
            return true;
        };
        self.respond_to(key, msg, flow, 202, None, false).await;
        self.notify_transfer_done().await;
        let what = match &destination {
            Destination::Queue(q) => format!("queue {q}"),
            Destination::Agent(a) => format!("agent {a}"),
        };
        self.journal_event(CallEventKind::Transfer, &format!("by {by} to {what}"))
            .await;
        self.transferred_by = Some(by);
        self.send_bye(Side::Agent).await;
        self.requeue(destination).await;
        true
    }

    /// RFC 3515: the implicit subscription's only NOTIFY, the transfer
    /// accepted and done (the switch carries it out itself).
    async fn notify_transfer_done(&mut self) {
        let Some(d) = self.dialog_mut(Side::Agent) else {
            return;
        };
        let mut out = d.request(
            Method::Notify,
            None,
            Some((
                "message/sipfrag;version=2.0",
                bytes::Bytes::from_static(b"SIP/2.0 200 OK\r\n"),
            )),
        );
        out.builder = out
            .builder
            .header_raw("Event", "refer")
            .header_raw("Subscription-State", "terminated;reason=noresource");
        if let Some((key, flow, msg)) = out.into_request() {
            self.send_request(key, flow, msg).await;
        }
    }

    /// The agent's side is over: the caller, back on the switch's session
    /// with music, goes to `destination`.
    async fn requeue(&mut self, destination: Destination) {
        let Some(old) = self.queue.as_ref() else {
            return;
        };
        let (acd, priority, from) = (old.acd.clone(), old.priority, old.queue.clone());
        let intent = old.intent.clone();
        if let Err(why) = self.keep_caller_without_agent().await {
            self.note_end(HangupBy::Switch, &format!("transfer failed: {why}"), None);
            return self.hang_up_both().await;
        }
        self.app = Some(AppRun {
            phase: Phase::Held(HeldRun { handing_off: false }),
            deadline: None,
        });
        let refused = match destination {
            Destination::Queue(q) => self.join_queue(acd, &q, priority, &intent, None).await,
            Destination::Agent(a) => {
                self.join_queue(acd, &from, priority, &intent, Some(&a))
                    .await
            }
        };
        if refused.is_some() {
            self.nobody_can_take_the_call().await;
        }
    }

    /// The agent's side of an ACD call is over (they hung up or
    /// transferred) but the caller stays: the agent goes to wrap-up, the
    /// recording closes, and the caller's leg goes from the relay to the
    /// switch's own session.
    pub(super) async fn keep_caller_without_agent(&mut self) -> Result<(), String> {
        self.agent = None;
        self.timers[1] = None;
        self.queue_call_ended().await;
        self.finish_recording().await;
        let opts = SessionOptions {
            media_timeout: self.ctx.media.relay.media_timeout,
            ..SessionOptions::default()
        };
        match self.media.as_mut() {
            Some(m) => m.take_back_caller(opts).await.map_err(|r| r.reason),
            None => Err("no media".to_string()),
        }
    }

    /// The caller cannot be served after a transfer (the queue refused
    /// them or gave up): they are told, then the switch hangs up.
    pub(super) async fn nobody_can_take_the_call(&mut self) {
        if let Some(s) = self.media.as_ref().and_then(|m| m.session()) {
            let _ = s.stop_playback().await;
        }
        let say = [PromptItem::Say {
            text: "Sorry, nobody can take your call now. Please call again later. Goodbye.".into(),
            voice: "en".into(),
        }];
        match self.play_flow_prompts(&say, false).await {
            Some(id) => self.hangup_after = Some(id),
            None => {
                self.note_end(HangupBy::Switch, "transfer failed", None);
                self.hang_up_both().await;
            }
        }
    }
}
