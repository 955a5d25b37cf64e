//! The agent side of a call while it rings: one INVITE per registered
//! contact of the agent (parallel forking), each a leg of its own, and the
//! choice of the response the caller gets when none answers (RFC 3261
//! 16.7 "best response", simplified for a B2BUA).

use bytes::Bytes;

use super::dialog::Dialog;
use crate::server::routing::Target;
use crate::sip::codec::{HeaderName, MessageBuilder, Method, SipMessage};
use crate::sip::ids;
use crate::sip::matching::transaction_key;
use crate::sip::transaction::TransactionKey;

/// Where one forked INVITE stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkState {
    /// Sent, no provisional response yet.
    Calling,
    /// A provisional response came (the phone rings).
    Early,
    /// This fork answered: it is the agent leg of the call.
    Answered,
    /// It ended with this final status (or 408/503 without a response).
    Failed(u16),
}

/// One forked INVITE to one contact.
pub struct Fork {
    pub target: Target,
    pub invite_key: TransactionKey,
    pub invite: SipMessage,
    pub state: ForkState,
    /// The dialog, once the phone answered (or sent a tagged 1xx).
    pub dialog: Dialog,
    pub cancel_sent: bool,
}

impl Fork {
    pub fn is_pending(&self) -> bool {
        matches!(self.state, ForkState::Calling | ForkState::Early)
    }

    /// The CANCEL for this fork's INVITE.
    pub fn cancel(&self) -> Option<(TransactionKey, SipMessage)> {
        cancel_of(&self.invite)
    }
}

/// The CANCEL for an INVITE the switch sent (RFC 3261 9.1): same
/// Request-URI, Call-ID, From, To, top Via (so the same branch) and CSeq
/// number.
pub fn cancel_of(inv: &SipMessage) -> Option<(TransactionKey, SipMessage)> {
    let mut b = MessageBuilder::request(&Method::Cancel, inv.request_uri_str()?);
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
    ] {
        b = b.header(name, &super::dialog::header_text(inv, name)?);
    }
    for r in inv.headers_named(HeaderName::Route) {
        b = b.header(HeaderName::Route, &r.to_str().ok()?);
    }
    let seq = inv.cseq().ok()?.seq;
    let msg = b
        .header(HeaderName::CSeq, &format!("{seq} CANCEL"))
        .header(HeaderName::MaxForwards, "70")
        .build()
        .ok()?;
    Some((transaction_key(&msg)?, msg))
}

/// What the switch puts in the agent's INVITE.
pub struct InviteParts<'a> {
    /// Who the phone is shown as calling: the caller's number and display
    /// name (see [`Identity::of`]).
    pub from: &'a Identity,
    pub target: &'a Target,
    /// Our address on the agents profile for Via and Contact (`ip:port`).
    pub sent_by: &'a str,
    pub max_forwards: u8,
    /// The switch's SDP offer for the agent's phones.
    pub sdp: Option<Bytes>,
    /// Offered to the phone with the switch as refresher (RFC 4028).
    pub session_timer: super::TimerConfig,
    /// What the switch knows of the caller, for the agent's phone and
    /// desktop: `X-Switchboard-*` headers (name, value).
    pub context: &'a [(String, String)],
}

/// The number and display name an INVITE the switch sends shows in From.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// A SIP user part: only characters that need no escaping.
    pub user: String,
    pub display: Option<String>,
}

impl Identity {
    /// `user` (unsafe characters dropped; empty: anonymous) shown as
    /// `display`.
    pub fn new(user: &str, display: Option<&str>) -> Self {
        let user: String = user
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+-_.!~*'()".contains(*c))
            .collect();
        Identity {
            user: if user.is_empty() {
                "anonymous".into()
            } else {
                user
            },
            display: display.map(|d| d.replace(['"', '\\'], "")),
        }
    }

    /// The caller's identity from their INVITE's From.
    pub fn of(invite: &SipMessage) -> Self {
        let Ok(from) = invite.from() else {
            return Identity::new("", None);
        };
        let user = from
            .uri
            .user_unescaped()
            .map(|u| String::from_utf8_lossy(&u).into_owned())
            .unwrap_or_default();
        Identity::new(&user, from.display_name().as_deref())
    }
}

/// Builds the agent leg's INVITE and its dialog. The caller's number and
/// display name go in From so the agent's phone shows who calls; the body
/// is the switch's own offer (the media is anchored, see `media.rs`).
pub fn build_invite(p: &InviteParts<'_>) -> Option<(TransactionKey, SipMessage, Dialog)> {
    let user = &p.from.user;
    let host = p.sent_by.rsplit_once(':').map_or(p.sent_by, |(h, _)| h);
    let display = p
        .from
        .display
        .as_ref()
        .map(|d| format!("\"{d}\" "))
        .unwrap_or_default();
    let tag = ids::tag();
    let local = format!("{display}<sip:{user}@{host}>;tag={tag}");
    let remote = format!("<sip:{}@{host}>", p.target.extension);
    let call_id = ids::call_id();
    let branch = ids::branch();
    let transport = p.target.flow.transport;
    let contact = match transport {
        crate::config::Transport::Tcp => {
            format!("<sip:{}@{};transport=tcp>", "switchboard", p.sent_by)
        }
        crate::config::Transport::Udp => format!("<sip:{}@{}>", "switchboard", p.sent_by),
    };
    let mut b = MessageBuilder::request(&Method::Invite, &p.target.contact)
        .header(
            HeaderName::Via,
            &format!(
                "SIP/2.0/{} {};branch={branch};rport",
                transport.via_token(),
                p.sent_by
            ),
        )
        .header(HeaderName::MaxForwards, &p.max_forwards.to_string())
        .header(HeaderName::From, &local)
        .header(HeaderName::To, &remote)
        .header(HeaderName::CallId, &call_id)
        .header(HeaderName::CSeq, "1 INVITE")
        .header(HeaderName::Contact, &contact)
        .header_raw("Allow", crate::server::respond::ALLOW)
        .header(HeaderName::Supported, "timer")
        .header(
            HeaderName::SessionExpires,
            &format!("{};refresher=uac", p.session_timer.session_expires),
        )
        .header(HeaderName::MinSe, &p.session_timer.min_se.to_string());
    for (name, value) in p.context {
        b = b.header_raw(name, value);
    }
    if let Some(sdp) = &p.sdp {
        b = b
            .header(HeaderName::ContentType, super::media::SDP)
            .body(sdp.clone());
    }
    let msg = b.build().ok()?;
    let key = transaction_key(&msg)?;
    let dialog = Dialog {
        call_id,
        local,
        remote,
        remote_target: p.target.contact.clone(),
        route_set: Vec::new(),
        local_cseq: 1,
        flow: p.target.flow,
        contact,
        sent_by: p.sent_by.to_string(),
    };
    Some((key, msg, dialog))
}

/// The status the caller gets when every fork failed: a 6xx wins, then
/// busy (486), then the lowest class; a timeout is "temporarily
/// unavailable" to the caller.
pub fn best_failure(statuses: &[u16]) -> (u16, &'static str) {
    let pick = statuses
        .iter()
        .copied()
        .find(|s| (600..700).contains(s))
        .or_else(|| statuses.iter().copied().find(|&s| s == 486))
        .or_else(|| {
            statuses
                .iter()
                .copied()
                .filter(|&s| s != 408 && s != 503 && s != 487)
                .min()
        })
        .unwrap_or(480);
    (pick, reason_of(pick))
}

/// A reason phrase for the statuses the switch relays or invents.
pub fn reason_of(status: u16) -> &'static str {
    match status {
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Call Failed",
    }
}

/// The body and its Content-Type, if the message has a body.
pub fn body_of(msg: &SipMessage) -> Option<(String, Bytes)> {
    let body = msg.body();
    if body.is_empty() {
        return None;
    }
    let ct = super::dialog::header_text(msg, HeaderName::ContentType)?;
    Some((ct, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_failure_prefers_6xx_then_busy_then_lowest() {
        assert_eq!(best_failure(&[404, 603, 486]).0, 603);
        assert_eq!(best_failure(&[404, 486]).0, 486);
        assert_eq!(best_failure(&[480, 404]).0, 404);
        assert_eq!(best_failure(&[408, 503]).0, 480);
        assert_eq!(best_failure(&[]).0, 480);
    }
}
