//! Ingress of one profile: everything a message meets between its socket
//! and the core. It parses, then polices requests (ban, scanner User-Agent,
//! per-source rate, allowed networks), validates them (RFC 3261 8.2 and
//! the RFC 4475 verdicts), and hands what survives to the core. Refusals
//! are answered here, statelessly, so a flood never reaches the core.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::respond;
use crate::config::{AccessPolicy, DenyAction, Transport};
use crate::sip::codec::validate::{Policy, Verdict, check_request};
use crate::sip::codec::{Method, SipMessage, error_response, parse_datagram, parse_stream_message};
use crate::sip::endpoint::ToCore;
use crate::sip::security::Guard;
use crate::sip::transport::{Flow, Ingress, ProfileId, Transports};

/// Option tags we support (a Require outside them gets 420).
const SUPPORTED: &[&str] = &["timer"];

pub struct ProfileIngress {
    pub profile: ProfileId,
    pub name: String,
    pub access: AccessPolicy,
    pub guard: Arc<Guard>,
    pub sip_trace: bool,
    pub registrar: bool,
    pub core: mpsc::Sender<ToCore>,
    pub transports: Transports,
}

impl Ingress for ProfileIngress {
    fn on_message(&self, flow: Flow, data: Bytes) {
        if self.sip_trace {
            trace_message(&flow, &data, "received");
        }
        let parsed = match flow.transport {
            Transport::Udp => parse_datagram(data),
            Transport::Tcp => parse_stream_message(data),
        };
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(profile = %self.name, from = %flow.remote, "unparsable message: {e}");
                // A request we can answer gets 400; anything else is dropped.
                if self
                    .guard
                    .check(flow.remote.ip(), None, Instant::now())
                    .is_allowed()
                    && let Some(bytes) = error_response(&e)
                {
                    self.send(&flow, bytes);
                }
                return;
            }
        };
        if msg.is_response() {
            self.to_core(flow, msg);
            return;
        }
        self.on_request(flow, msg);
    }
}

impl ProfileIngress {
    fn on_request(&self, flow: Flow, msg: SipMessage) {
        let ip = flow.remote.ip();
        let ua = msg.user_agent();
        if !self
            .guard
            .check(ip, ua.as_deref(), Instant::now())
            .is_allowed()
        {
            // Banned, scanner or over its rate: silence (logged by the guard).
            return;
        }
        let is_ack = msg.method() == Some(&Method::Ack);
        if !self.access.allows(ip) {
            tracing::info!(target: "security", event = "source_denied", profile = %self.name, src = %ip, "request from a source outside access.allow");
            if self.access.deny_action == DenyAction::Reject && !is_ack {
                self.reply(&flow, &msg, 403, "Forbidden", &[]);
            }
            return;
        }
        let policy = Policy {
            supported: SUPPORTED,
            registrar: self.registrar,
            ..Policy::default()
        };
        if let Verdict::Reject(r) = check_request(&msg, &policy) {
            if !is_ack {
                let mut extra = Vec::new();
                let unsupported = r.unsupported.join(", ");
                let accept = r.accept.join(", ");
                if !unsupported.is_empty() {
                    extra.push(("Unsupported", unsupported.as_str()));
                }
                if !accept.is_empty() {
                    extra.push(("Accept", accept.as_str()));
                }
                self.reply(&flow, &msg, r.status, &r.reason, &extra);
            }
            return;
        }
        self.to_core(flow, msg);
    }

    fn to_core(&self, flow: Flow, msg: SipMessage) {
        match self.core.try_send(ToCore::Inbound { flow, msg }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(ToCore::Inbound { flow, msg })) => {
                // Overload: shed new work with a clean 503.
                if msg.is_request() && msg.method() != Some(&Method::Ack) {
                    self.reply(
                        &flow,
                        &msg,
                        503,
                        "Service Unavailable",
                        &[("Retry-After", "5")],
                    );
                }
            }
            Err(_) => {}
        }
    }

    /// A stateless response straight from the ingress.
    fn reply(
        &self,
        flow: &Flow,
        msg: &SipMessage,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
    ) {
        let Some(reply_flow) = respond::reply_flow(msg, *flow) else {
            return;
        };
        let tag = crate::sip::ids::tag();
        let mut b = respond::response(msg, reply_flow, status, reason, Some(&tag));
        for (n, v) in extra {
            b = b.header_raw(n, v);
        }
        self.send(&reply_flow, b.to_bytes());
    }

    fn send(&self, flow: &Flow, bytes: Bytes) {
        if self.sip_trace {
            trace_message(flow, &bytes, "sent");
        }
        if let Err(e) = self.transports.send(flow, bytes) {
            tracing::debug!(to = %flow.remote, "send failed: {e}");
        }
    }
}

/// One SIP message in the trace log (target `sip_trace`).
pub fn trace_message(flow: &Flow, bytes: &[u8], direction: &str) {
    tracing::info!(
        target: "sip_trace",
        direction,
        peer = %flow.remote_label(),
        local = %flow.local,
        "\n{}",
        String::from_utf8_lossy(bytes)
    );
}
