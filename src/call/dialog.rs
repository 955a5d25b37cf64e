//! One side of a B2BUA call as a SIP dialog (RFC 3261 section 12): the
//! identifiers, route set and remote target, and the in-dialog requests
//! the switch sends on it (BYE, relayed re-INVITE/INFO/UPDATE, ACK).

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

use crate::config::Transport;
use crate::sip::codec::{HeaderName, Host, MessageBuilder, Method, SipMessage, Uri};
use crate::sip::ids;
use crate::sip::matching::transaction_key;
use crate::sip::transaction::TransactionKey;
use crate::sip::transport::Flow;

/// Which side of the call a dialog faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The caller, on the trunk.
    Caller,
    /// The agent's phone.
    Agent,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Caller => Side::Agent,
            Side::Agent => Side::Caller,
        }
    }
}

/// The state of one dialog, enough to send requests in it.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    /// Our From (for requests we send) with our tag.
    pub local: String,
    /// Their To (for requests we send) with their tag.
    pub remote: String,
    /// Where requests go: the peer's Contact URI.
    pub remote_target: String,
    /// Route set, in the order Route headers are written.
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    /// The flow the dialog was set up on (the fallback destination, and on
    /// TCP the connection to reuse).
    pub flow: Flow,
    /// Our Contact header value.
    pub contact: String,
    /// Our Via sent-by (`ip:port`).
    pub sent_by: String,
}

impl Dialog {
    /// Builds an in-dialog request (RFC 3261 12.2.1.1) with a new CSeq
    /// (ACK reuses the given INVITE CSeq number instead).
    pub fn request(
        &mut self,
        method: Method,
        ack_of: Option<u32>,
        body: Option<(&str, Bytes)>,
    ) -> Outgoing {
        let seq = match ack_of {
            Some(seq) => seq,
            None => {
                self.local_cseq = self.local_cseq.wrapping_add(1);
                self.local_cseq
            }
        };
        let branch = ids::branch();
        let transport = self.flow.transport;
        let mut b = MessageBuilder::request(&method, &self.remote_target)
            .header(
                HeaderName::Via,
                &format!(
                    "SIP/2.0/{} {};branch={branch};rport",
                    transport.via_token(),
                    self.sent_by
                ),
            )
            .header(HeaderName::MaxForwards, "70")
            .header(HeaderName::From, &self.local)
            .header(HeaderName::To, &self.remote)
            .header(HeaderName::CallId, &self.call_id)
            .header(HeaderName::CSeq, &format!("{seq} {}", method.as_str()));
        for r in &self.route_set {
            b = b.header(HeaderName::Route, r);
        }
        if matches!(method, Method::Invite | Method::Update) {
            b = b.header(HeaderName::Contact, &self.contact);
        }
        if let Some((ct, body)) = body {
            b = b.header(HeaderName::ContentType, ct).body(body);
        }
        Outgoing {
            flow: self.destination(),
            builder: b,
        }
    }

    /// Where in-dialog requests go: on TCP the dialog's connection; on UDP
    /// the first loose route or the remote target when it names an IP
    /// address, else the flow the dialog was set up on.
    pub fn destination(&self) -> Flow {
        if self.flow.transport.is_reliable() {
            return self.flow;
        }
        let next = self
            .route_set
            .first()
            .map(String::as_str)
            .unwrap_or(&self.remote_target);
        let uri_text = next.trim().trim_start_matches('<');
        let uri_text = uri_text.split('>').next().unwrap_or(uri_text);
        match resolve(uri_text) {
            Some((addr, Transport::Udp)) => Flow {
                remote: addr,
                conn: None,
                ..self.flow
            },
            _ => self.flow,
        }
    }
}

/// A request ready to hand to the core.
pub struct Outgoing {
    pub flow: Flow,
    pub builder: MessageBuilder,
}

impl Outgoing {
    /// The message and its client transaction key (not for ACK, which
    /// has no transaction).
    pub fn into_request(self) -> Option<(TransactionKey, Flow, SipMessage)> {
        let msg = self.builder.build().ok()?;
        Some((transaction_key(&msg)?, self.flow, msg))
    }
}

/// The address and transport a SIP URI names, when its host is an IP
/// address (no DNS here: a name falls back to the dialog's flow).
pub fn resolve(uri: &str) -> Option<(SocketAddr, Transport)> {
    let u = Uri::parse(uri).ok()?;
    let ip: IpAddr = match u.host? {
        Host::V4(a) => a.into(),
        Host::V6(a) => a.into(),
        Host::Domain(_) => return None,
    };
    let transport = match u.params.get("transport") {
        Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        Some(t) if !t.eq_ignore_ascii_case("udp") => return None,
        _ => Transport::Udp,
    };
    Some((SocketAddr::new(ip, u.port.unwrap_or(5060)), transport))
}

/// The Contact URI of a message (its remote target), without brackets.
pub fn contact_uri(msg: &SipMessage) -> Option<String> {
    match msg.contacts().ok()? {
        crate::sip::codec::Contacts::List(list) => list.first().map(|c| c.uri.as_str().to_string()),
        crate::sip::codec::Contacts::Star => None,
    }
}

/// Every Record-Route value of a message, in order, one entry per URI.
pub fn record_route(msg: &SipMessage) -> Vec<String> {
    msg.record_routes()
        .map(|list| {
            list.iter()
                .map(|r| format!("<{}>", r.uri.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// A header's value as text (folds turned into spaces).
pub fn header_text(msg: &SipMessage, name: HeaderName) -> Option<String> {
    msg.header(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(t: Transport) -> Flow {
        Flow {
            profile: 0,
            transport: t,
            local: "127.0.0.1:5080".parse().unwrap(),
            remote: "127.0.0.1:7000".parse().unwrap(),
            conn: None,
        }
    }

    fn dialog(t: Transport, route_set: Vec<String>) -> Dialog {
        Dialog {
            call_id: "abc".into(),
            local: "<sip:1001@127.0.0.1>;tag=ours".into(),
            remote: "<sip:caller@127.0.0.1>;tag=theirs".into(),
            remote_target: "sip:caller@127.0.0.1:7002".into(),
            route_set,
            local_cseq: 10,
            flow: flow(t),
            contact: "<sip:127.0.0.1:5080>".into(),
            sent_by: "127.0.0.1:5080".into(),
        }
    }

    #[test]
    fn bye_follows_rfc_3261_12_2_1_1() {
        let mut d = dialog(Transport::Udp, vec!["<sip:p1@127.0.0.9:5099;lr>".into()]);
        let out = d.request(Method::Bye, None, None);
        let (_, flow, msg) = out.into_request().unwrap();
        assert_eq!(msg.request_uri_str(), Some("sip:caller@127.0.0.1:7002"));
        assert_eq!(msg.cseq().unwrap().seq, 11);
        assert_eq!(msg.call_id().unwrap(), "abc");
        assert_eq!(msg.from().unwrap().tag(), Some("ours"));
        assert_eq!(msg.to().unwrap().tag(), Some("theirs"));
        assert_eq!(msg.routes().unwrap().len(), 1);
        // The first loose route is the next hop.
        assert_eq!(flow.remote, "127.0.0.9:5099".parse().unwrap());
    }

    #[test]
    fn ack_reuses_the_invite_cseq_and_tcp_reuses_the_connection() {
        let mut d = dialog(Transport::Tcp, vec![]);
        let out = d.request(Method::Ack, Some(3), None);
        let msg = out.builder.build().unwrap();
        assert_eq!(msg.cseq().unwrap().seq, 3);
        assert_eq!(d.local_cseq, 10);
        assert_eq!(out.flow, flow(Transport::Tcp));
    }

    #[test]
    fn resolve_needs_an_ip_address() {
        assert_eq!(
            resolve("sip:a@127.0.0.1:5062;transport=tcp"),
            Some(("127.0.0.1:5062".parse().unwrap(), Transport::Tcp))
        );
        assert_eq!(resolve("sip:a@example.com"), None);
        assert_eq!(resolve("sip:[::1]").unwrap().0.port(), 5060);
    }
}
