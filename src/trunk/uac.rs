//! A small user agent client for the switch's own out-of-dialog requests
//! on a trunk (OPTIONS keep-alives, REGISTER to a carrier): builds the
//! request, resolves where it goes, and waits for its final response
//! through the core's transaction layer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::Transport;
use crate::sip::codec::{Host, MessageBuilder, Method, SipMessage, Uri};
use crate::sip::endpoint::{Endpoint, TU_QUEUE, ToCore, TuEvent, TuSender};
use crate::sip::ids;
use crate::sip::matching::transaction_key;
use crate::sip::transport::{Flow, ProfileId};

/// How a request ended.
#[derive(Debug)]
pub enum Outcome {
    /// A final response.
    Response(Box<SipMessage>),
    /// No response: 408 (timeout) or 503 (transport), RFC 3261 8.1.3.1.
    Failed(u16),
}

/// One transaction user owned by a trunk task.
pub struct Uac {
    ep: Endpoint,
    profile: ProfileId,
    me: TuSender,
    rx: mpsc::Receiver<TuEvent>,
}

/// Where a request to a URI goes, and what we put in Via and Contact.
#[derive(Debug, Clone, Copy)]
pub struct Destination {
    pub flow: Flow,
    /// Our address on that transport.
    pub local: SocketAddr,
}

impl Uac {
    pub fn new(ep: Endpoint, profile: ProfileId) -> Self {
        let (me, rx) = mpsc::channel(TU_QUEUE);
        Self {
            ep,
            profile,
            me,
            rx,
        }
    }

    /// Resolves a SIP URI (an IP address, or a host name through DNS) to
    /// a flow from this profile. `None` when it cannot be reached.
    pub async fn destination(&self, uri: &str) -> Option<Destination> {
        let u = Uri::parse(uri).ok()?;
        let transport = match u.params.get("transport") {
            Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
            Some(t) if !t.eq_ignore_ascii_case("udp") => return None,
            _ => Transport::Udp,
        };
        let port = u.port.unwrap_or(5060);
        let remote = match u.host? {
            Host::V4(a) => SocketAddr::new(a.into(), port),
            Host::V6(a) => SocketAddr::new(a.into(), port),
            Host::Domain(name) => tokio::net::lookup_host((name, port)).await.ok()?.next()?,
        };
        let local = self.ep.local_addr(self.profile, transport)?;
        Some(Destination {
            flow: Flow {
                profile: self.profile,
                transport,
                local,
                remote,
                conn: None,
            },
            local,
        })
    }

    /// Starts an out-of-dialog request: Request-URI, Via, Max-Forwards,
    /// From (with a new tag), To, Call-ID, CSeq. Add headers, then `send`.
    pub fn request(
        method: &Method,
        uri: &str,
        dest: &Destination,
        from: &str,
        to: &str,
        call_id: &str,
        cseq: u32,
    ) -> MessageBuilder {
        MessageBuilder::request(method, uri)
            .header_raw(
                "Via",
                &format!(
                    "SIP/2.0/{} {};branch={};rport",
                    dest.flow.transport.via_token(),
                    dest.local,
                    ids::branch()
                ),
            )
            .header_raw("Max-Forwards", "70")
            .header_raw("From", &format!("{from};tag={}", ids::tag()))
            .header_raw("To", to)
            .header_raw("Call-ID", call_id)
            .header_raw("CSeq", &format!("{cseq} {}", method.as_str()))
            .header_raw(
                "User-Agent",
                concat!("Switchboard/", env!("CARGO_PKG_VERSION")),
            )
    }

    /// Sends a request and waits (at most `limit`) for its final response.
    pub async fn send(&mut self, builder: MessageBuilder, flow: Flow, limit: Duration) -> Outcome {
        let Ok(msg) = builder.build() else {
            return Outcome::Failed(500);
        };
        let Some(key) = transaction_key(&msg) else {
            return Outcome::Failed(500);
        };
        // Drop anything left over from an earlier transaction.
        while self.rx.try_recv().is_ok() {}
        self.ep
            .send(ToCore::SendRequest {
                owner: self.me.clone(),
                key: key.clone(),
                flow,
                msg,
            })
            .await;
        let wait = async {
            while let Some(ev) = self.rx.recv().await {
                match ev {
                    TuEvent::Response { key: k, msg }
                        if k == key && msg.status().is_some_and(|s| s >= 200) =>
                    {
                        return Outcome::Response(msg);
                    }
                    TuEvent::Failed { key: k, status } if k == key => {
                        return Outcome::Failed(status);
                    }
                    _ => {}
                }
            }
            Outcome::Failed(503)
        };
        tokio::time::timeout(limit, wait)
            .await
            .unwrap_or(Outcome::Failed(408))
    }
}
