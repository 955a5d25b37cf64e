//! In-dialog traffic across the B2BUA: a request from one side (BYE,
//! re-INVITE, UPDATE, INFO...) becomes a request on the other side's
//! dialog, and its response is relayed back; an SDP offer in it is
//! replaced by the switch's own (the media stays anchored) and an
//! offer-less re-INVITE or UPDATE is answered by the switch itself. 2xx
//! responses we send over UDP are retransmitted until their ACK (RFC 3261
//! 13.3.1.4).

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::dialog::Side;
use super::fork::{body_of, reason_of};
use super::media::SDP;
use super::refresh::side_index;
use super::{Call, CallerState};
use crate::server::respond;
use crate::sip::codec::{HeaderName, Method, SipMessage};
use crate::sip::endpoint::ToCore;
use crate::sip::transaction::TransactionKey;
use crate::sip::transport::Flow;
use crate::store::HangupBy;

/// RFC 3261 T1 and T2 for 2xx retransmission.
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);

/// A request relayed to the other side, waiting for its response.
pub struct Relay {
    /// Where the request came from.
    pub origin: Side,
    pub origin_key: TransactionKey,
    pub origin_msg: SipMessage,
    pub origin_flow: Flow,
    pub method: Method,
    /// Our CSeq on the other side (for its ACK).
    pub our_seq: u32,
    /// It carried an SDP offer (ours on the other side).
    pub offer: bool,
    /// The call was on hold before it.
    pub was_on_hold: bool,
}

/// A 2xx we keep re-sending until its ACK comes.
pub struct Retransmit {
    pub side: Side,
    pub cseq: u32,
    pub flow: Flow,
    pub bytes: Bytes,
    pub next: Instant,
    interval: Duration,
    pub give_up: Instant,
}

impl Retransmit {
    pub fn new(side: Side, cseq: u32, flow: Flow, bytes: Bytes) -> Self {
        let now = Instant::now();
        Self {
            side,
            cseq,
            flow,
            bytes,
            next: now + T1,
            interval: T1,
            give_up: now + T1 * 64,
        }
    }

    /// Doubles the interval up to T2 (RFC 3261 13.3.1.4).
    pub fn backoff(&mut self, now: Instant) {
        self.interval = (self.interval * 2).min(T2);
        self.next = now + self.interval;
    }
}

impl Call {
    /// A new in-dialog request from one side.
    pub(super) async fn on_request(&mut self, key: TransactionKey, flow: Flow, msg: SipMessage) {
        let Some(method) = msg.method().cloned() else {
            return;
        };
        let Some(side) = self.side_of(&msg) else {
            // A dialog of a fork that lost, or an unknown one.
            let status = if method == Method::Bye { 200 } else { 481 };
            self.respond_to(&key, &msg, flow, status, None, false).await;
            return;
        };
        let established = (self.agent.is_some() || self.app.is_some())
            && self.caller_state == CallerState::Answered;
        if method == Method::Bye {
            // In a callback the switch placed, the agent is on the
            // caller's side and the customer on the agent's.
            let by = match (side, self.origin.is_some()) {
                (Side::Caller, false) | (Side::Agent, true) => HangupBy::Caller,
                _ => HangupBy::Agent,
            };
            self.note_end(by, "BYE", None);
            self.respond_to(&key, &msg, flow, 200, None, false).await;
            if self.agent.is_none() {
                // Agents still ringing (a flow's queue) are cancelled.
                self.cancel_forks().await;
            }
            if side == Side::Agent && established && self.survey_due() {
                // The caller stays to rate the call.
                return self.start_survey().await;
            }
            if established && self.ending_since.is_none() {
                self.send_bye(side.other()).await;
            }
            self.retransmits.clear();
            self.end();
            return;
        }
        if !established || self.ending_since.is_some() {
            self.respond_to(&key, &msg, flow, 491, None, false).await;
            return;
        }
        if method == Method::Refer && self.on_refer(side, &key, flow, &msg).await {
            return;
        }
        let is_offer_method = matches!(method, Method::Invite | Method::Update);
        if is_offer_method {
            // Any re-INVITE or UPDATE from that side refreshes its session.
            if let Some(t) = self.timers[side_index(side)].as_mut() {
                t.restart();
            }
        }
        let mut body = body_of(&msg);
        let mut offer = false;
        let was_on_hold = self.media.as_ref().is_some_and(|m| m.on_hold());
        if is_offer_method
            && self.app.is_some()
            && let Some(media) = self.media.as_mut()
        {
            // The switch is the far end: it answers the offer itself.
            let answer = match body.take() {
                Some((_, sdp)) => media.reanswer_locally(&sdp).await.map(Some),
                None if method == Method::Invite => Ok(media.local_offer(side)),
                None => Ok(None),
            };
            match answer {
                Ok(sdp) => {
                    let body = sdp.map(|b| (SDP.to_string(), b));
                    let retransmit = method == Method::Invite;
                    self.respond_to(&key, &msg, flow, 200, body, retransmit)
                        .await;
                    self.journal_hold(was_on_hold).await;
                }
                Err(reject) => {
                    self.respond_to(&key, &msg, flow, reject.status, None, false)
                        .await;
                }
            }
            return;
        }
        if is_offer_method && let Some(media) = self.media.as_mut() {
            match body.take() {
                Some((_, sdp)) => match media.reoffer(side, &sdp) {
                    Ok(ours) => {
                        body = Some((SDP.to_string(), ours));
                        offer = true;
                    }
                    Err(reject) => {
                        tracing::info!(call_id = %self.caller.call_id, status = reject.status, "re-offer refused: {}", reject.reason);
                        self.respond_to(&key, &msg, flow, reject.status, None, false)
                            .await;
                        return;
                    }
                },
                None => {
                    // Offer-less: the switch offers, the ACK answers (for
                    // UPDATE, a session refresh, nothing to negotiate).
                    let ours = if method == Method::Invite {
                        media.local_offer(side)
                    } else {
                        None
                    };
                    let body = ours.map(|b| (SDP.to_string(), b));
                    let retransmit = method == Method::Invite;
                    self.respond_to(&key, &msg, flow, 200, body, retransmit)
                        .await;
                    return;
                }
            }
        }
        if method == Method::Info {
            self.on_info_digit(side, &msg).await;
        }
        let Some(d) = self.dialog_mut(side.other()) else {
            return;
        };
        let out = d.request(
            method.clone(),
            None,
            body.as_ref().map(|(ct, b)| (ct.as_str(), b.clone())),
        );
        let our_seq = d.local_cseq;
        let Some((out_key, out_flow, out_msg)) = out.into_request() else {
            self.respond_to(&key, &msg, flow, 500, None, false).await;
            return;
        };
        self.relays.insert(
            out_key.clone(),
            Relay {
                origin: side,
                origin_key: key,
                origin_msg: msg,
                origin_flow: flow,
                method,
                our_seq,
                offer,
                was_on_hold,
            },
        );
        self.send_request(out_key, out_flow, out_msg).await;
    }

    /// The other side answered a relayed request (or it failed: `msg` is
    /// `None` and `status` is 408/503).
    pub(super) async fn on_relay_response(
        &mut self,
        key: TransactionKey,
        status: u16,
        msg: Option<&SipMessage>,
    ) {
        if status < 101 {
            return;
        }
        let final_response = status >= 200;
        let relay = if final_response {
            self.relays.remove(&key)
        } else {
            None
        };
        let Some(relay) = relay.as_ref().or_else(|| self.relays.get(&key)) else {
            return;
        };
        let mut body = msg.and_then(body_of);
        let is_invite = relay.method == Method::Invite;
        let (origin, origin_key, origin_msg, origin_flow, our_seq, offer, was_on_hold) = (
            relay.origin,
            relay.origin_key.clone(),
            relay.origin_msg.clone(),
            relay.origin_flow,
            relay.our_seq,
            relay.offer,
            relay.was_on_hold,
        );
        let success = (200..300).contains(&status);
        let mut status = status;
        if is_invite && success {
            self.send_ack(origin.other(), our_seq, None).await;
        }
        if offer && let Some(media) = self.media.as_mut() {
            if !final_response {
                // Early SDP of a re-offer stays on that leg.
                body = None;
            } else if success {
                let answer = body.take().map(|(_, b)| b).unwrap_or_default();
                match media.reoffer_answered(&answer).await {
                    Ok(ours) => body = Some((SDP.to_string(), ours)),
                    Err(reject) => {
                        tracing::warn!(call_id = %self.caller.call_id, "answer to our re-offer refused: {}", reject.reason);
                        status = 488;
                    }
                }
            } else {
                media.reoffer_failed();
            }
        }
        let retransmit = is_invite && (200..300).contains(&status);
        self.respond_to(
            &origin_key,
            &origin_msg,
            origin_flow,
            status,
            body,
            retransmit,
        )
        .await;
        if offer && final_response {
            self.journal_hold(was_on_hold).await;
        }
    }

    /// Answers a server transaction of this call.
    pub(super) async fn respond_to(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        flow: Flow,
        status: u16,
        body: Option<(String, Bytes)>,
        retransmit_2xx: bool,
    ) {
        let mut b = respond::response(req, flow, status, reason_of(status), None);
        let side = self.side_of(req);
        if (200..300).contains(&status)
            && matches!(req.method(), Some(Method::Invite | Method::Update))
            && let Some(side) = side
        {
            let contact = match side {
                Side::Caller => self.caller.contact.clone(),
                Side::Agent => self
                    .dialog_mut(Side::Agent)
                    .map(|d| d.contact.clone())
                    .unwrap_or_default(),
            };
            b = b.header(HeaderName::Contact, &contact);
            b = self.with_session_timer(b, side);
        }
        if let Some((ct, body)) = body {
            b = b.header(HeaderName::ContentType, &ct).body(body);
        }
        let bytes = b.to_bytes();
        if retransmit_2xx
            && !flow.transport.is_reliable()
            && let (Some(side), Ok(c)) = (side, req.cseq())
        {
            self.retransmits
                .push(Retransmit::new(side, c.seq, flow, bytes.clone()));
        }
        self.ep
            .send(ToCore::SendResponse {
                key: key.clone(),
                status,
                bytes,
            })
            .await;
    }
}
