//! Session refreshes of an established call (RFC 4028): the switch's own
//! UPDATE or re-INVITE on a leg it refreshes, what their responses mean
//! (2xx: refreshed; 408/481: the far end is gone, the call ends; 422: a
//! longer interval; 491: retry soon; 405/501 to UPDATE: fall back to
//! re-INVITE), the end of a call whose peer stopped refreshing, and the
//! `Session-Expires` header on our 2xx responses.

use std::time::Duration;

use tokio::time::Instant;

use super::dialog::Side;
use super::fork::body_of;
use super::media::SDP;
use super::session_timer::{Refresher, interval_of, session_expires};
use super::{Call, CallerState};
use crate::sip::codec::{HeaderName, MessageBuilder, Method, SipMessage};
use crate::sip::transaction::TransactionKey;
use crate::store::HangupBy;

/// How long a refresh may wait for its response before we look again.
const REFRESH_WAIT: Duration = Duration::from_secs(32);

/// The index of a side in `Call::timers`.
pub fn side_index(side: Side) -> usize {
    match side {
        Side::Caller => 0,
        Side::Agent => 1,
    }
}

impl Call {
    /// Adds `Session-Expires` (and `Require: timer` when the peer
    /// refreshes) to a 2xx we send on `side`.
    pub(super) fn with_session_timer(&self, b: MessageBuilder, side: Side) -> MessageBuilder {
        let Some(t) = &self.timers[side_index(side)] else {
            return b;
        };
        let uas = side == Side::Caller;
        let b = b.header(HeaderName::SessionExpires, &t.header(uas));
        if t.refresher == Refresher::Peer && uas {
            b.header(HeaderName::Require, "timer")
        } else {
            b
        }
    }

    /// Timers that are due: send our refreshes, end sessions nobody refreshed.
    pub(super) async fn session_timers_due(&mut self) {
        if self.caller_state != CallerState::Answered
            || (self.agent.is_none() && self.app.is_none())
            || self.ending_since.is_some()
        {
            return;
        }
        let now = Instant::now();
        for side in [Side::Caller, Side::Agent] {
            let Some(t) = self.timers[side_index(side)].as_mut() else {
                continue;
            };
            if now < t.due {
                continue;
            }
            match t.refresher {
                Refresher::Peer => {
                    let who = match side {
                        Side::Caller => "caller",
                        Side::Agent => "agent",
                    };
                    let cause = format!("session timer expired: no refresh from the {who}");
                    tracing::info!(call_id = %self.caller.call_id, "{cause}");
                    self.note_end(HangupBy::Switch, &cause, None);
                    self.hang_up_both().await;
                    return;
                }
                Refresher::Switch if t.pending => {
                    // No response at all: the transaction layer reports a
                    // timeout; look again later.
                    t.due = now + REFRESH_WAIT;
                }
                Refresher::Switch => {
                    t.pending = true;
                    t.due = now + REFRESH_WAIT;
                    let method = t.refresh_method();
                    self.send_refresh(side, method).await;
                }
            }
        }
    }

    async fn send_refresh(&mut self, side: Side, method: Method) {
        let se = self.timers[side_index(side)]
            .as_ref()
            .map(|t| t.header(false));
        let body = match method {
            Method::Invite => self
                .media
                .as_mut()
                .and_then(|m| m.refresh_offer(side))
                .map(|b| (SDP.to_string(), b)),
            _ => None,
        };
        let Some(d) = self.dialog_mut(side) else {
            return;
        };
        let mut out = d.request(
            method.clone(),
            None,
            body.as_ref().map(|(ct, b)| (ct.as_str(), b.clone())),
        );
        let seq = d.local_cseq;
        if let Some(se) = se {
            out.builder = out
                .builder
                .header(HeaderName::SessionExpires, &se)
                .header(HeaderName::Supported, "timer");
        }
        if let Some((key, flow, msg)) = out.into_request() {
            self.refreshes.insert(key.clone(), (side, method, seq));
            self.send_request(key, flow, msg).await;
        }
    }

    /// The response to one of our refreshes (`msg` is `None` when the
    /// transaction failed without one: 408 or 503).
    pub(super) async fn on_refresh_response(
        &mut self,
        key: TransactionKey,
        status: u16,
        msg: Option<&SipMessage>,
    ) {
        if status < 200 {
            return;
        }
        let Some((side, method, seq)) = self.refreshes.remove(&key) else {
            return;
        };
        if method == Method::Invite && (200..300).contains(&status) {
            self.send_ack(side, seq, None).await;
            if let (Some(media), Some((_, body))) = (self.media.as_mut(), msg.and_then(body_of)) {
                if let Err(r) = media.refresh_answered(&body).await {
                    tracing::warn!(call_id = %self.caller.call_id, "answer to our refresh refused: {}", r.reason);
                }
            }
        } else if let Some(m) = self.media.as_mut() {
            m.refresh_failed();
        }
        let Some(t) = self.timers[side_index(side)].as_mut() else {
            return;
        };
        let now = Instant::now();
        match status {
            200..=299 => {
                if let Some((secs, _)) = msg.and_then(session_expires) {
                    t.interval = interval_of(u64::from(secs));
                }
                t.restart();
            }
            408 | 481 => {
                let cause = format!("session refresh failed: {status}");
                tracing::info!(call_id = %self.caller.call_id, "{cause}");
                self.note_end(HangupBy::Switch, &cause, Some(status));
                self.hang_up_both().await;
            }
            422 => {
                let min_se = msg
                    .and_then(|m| m.header(HeaderName::MinSe))
                    .and_then(|v| v.as_str().ok()?.trim().parse::<u64>().ok());
                if let Some(min) = min_se {
                    t.interval = t.interval.max(interval_of(min));
                }
                t.pending = false;
                t.due = now;
            }
            491 => {
                t.pending = false;
                t.due = now + Duration::from_secs(2);
            }
            405 | 501 if method == Method::Update => {
                t.peer_allows_update = false;
                t.pending = false;
                t.due = now;
            }
            _ => t.restart(),
        }
    }
}
