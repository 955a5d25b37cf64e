//! Building what the core sends on its own: responses (with the Via
//! `received`/`rport` of RFC 3261 18.2.2 and RFC 3581), transaction keys
//! and reply flows for requests, and the ACK for a non-2xx final response
//! (RFC 3261 17.1.1.3).

use std::net::IpAddr;

use bytes::Bytes;

use crate::sip::codec::{
    HeaderName, Host, MessageBuilder, Method, RPort, SipMessage, Via, response_to_with_via,
};
use crate::sip::matching::transaction_key;
use crate::sip::transaction::TransactionKey;
use crate::sip::transport::Flow;

/// Methods the switch accepts, for `Allow`.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, UPDATE, REFER";

/// The server transaction key of a request, and the flow its responses
/// take (see [`reply_flow`]).
pub fn server_key(msg: &SipMessage, flow: Flow) -> Option<(TransactionKey, Flow)> {
    Some((transaction_key(msg)?, reply_flow(msg, flow)?))
}

/// Where responses to a request go: on TCP the connection it came on; on
/// UDP the source address, with the port from `rport` (RFC 3581) or else
/// from the Via sent-by (RFC 3261 18.2.2). `None` without a usable Via.
pub fn reply_flow(msg: &SipMessage, flow: Flow) -> Option<Flow> {
    let via = msg.top_via().ok()?;
    let mut reply = flow;
    if !flow.transport.is_reliable() && via.rport == RPort::Absent {
        reply.remote.set_port(via.port.unwrap_or(5060));
    }
    Some(reply)
}

/// The top Via as it goes back in responses: `received` when the sent-by
/// host is not the address the request came from, and the `rport` value
/// when the client asked for it.
pub fn top_via_for_response(msg: &SipMessage, source: IpAddr, source_port: u16) -> Option<String> {
    let raw = msg.header(HeaderName::Via)?.to_str().ok()?;
    let first = first_via_element(&raw);
    let via = Via::parse(first).ok()?;
    let host_matches = match via.host {
        Host::V4(a) => IpAddr::from(a) == source,
        Host::V6(a) => IpAddr::from(a) == source,
        Host::Domain(_) => false,
    };
    let wants_rport = via.rport == RPort::Requested;
    if host_matches && !wants_rport && via.received.is_none() {
        return None;
    }
    let mut out = String::with_capacity(first.len() + 32);
    for (i, part) in first.split(';').enumerate() {
        let name = part.split('=').next().unwrap_or("").trim();
        if i > 0 && (name.eq_ignore_ascii_case("received") || name.eq_ignore_ascii_case("rport")) {
            continue;
        }
        if i > 0 {
            out.push(';');
        }
        out.push_str(part);
    }
    if !host_matches || via.received.is_some() {
        out.push_str(";received=");
        out.push_str(&source.to_string());
    }
    if wants_rport {
        out.push_str(";rport=");
        out.push_str(&source_port.to_string());
    }
    Some(out)
}

/// The first via-parm of a Via header value (up to a comma outside quotes).
fn first_via_element(value: &str) -> &str {
    let mut quoted = false;
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return value[..i].trim(),
            _ => {}
        }
    }
    value.trim()
}

/// A response to `req` (RFC 3261 8.2.6) with the top Via completed for
/// the flow the request came on.
pub fn response(
    req: &SipMessage,
    flow: Flow,
    status: u16,
    reason: &str,
    to_tag: Option<&str>,
) -> MessageBuilder {
    let top = top_via_for_response(req, flow.remote.ip(), flow.remote.port());
    response_to_with_via(req, status, reason, to_tag, top.as_deref())
}

/// The ACK a client INVITE transaction sends for a non-2xx final response
/// (RFC 3261 17.1.1.3): same Request-URI, Call-ID, From, top Via and Route
/// as the INVITE, the To of the response, CSeq number of the INVITE.
pub fn ack_for_non_2xx(invite: &SipMessage, resp: &SipMessage) -> Bytes {
    let uri = invite.request_uri_str().unwrap_or("");
    let mut b = MessageBuilder::request(&Method::Ack, uri);
    if let Some(v) = invite.header(HeaderName::Via).and_then(|v| v.to_str().ok()) {
        b = b.header(HeaderName::Via, first_via_element(&v));
    }
    for (name, from) in [
        (HeaderName::From, invite),
        (HeaderName::To, resp),
        (HeaderName::CallId, invite),
    ] {
        if let Some(v) = from.header(name).and_then(|v| v.to_str().ok()) {
            b = b.header(name, &v);
        }
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
    b = b.header(HeaderName::CSeq, &format!("{seq} ACK"));
    for r in invite.headers_named(HeaderName::Route) {
        if let Ok(v) = r.to_str() {
            b = b.header(HeaderName::Route, &v);
        }
    }
    b.header(HeaderName::MaxForwards, "70").to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::parse_datagram;

    fn req(via: &str) -> SipMessage {
        let text = format!(
            "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: {via}\r\nFrom: <sip:b@x>;tag=1\r\nTo: <sip:a@y>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        parse_datagram(Bytes::from(text)).unwrap()
    }

    #[test]
    fn received_and_rport_are_added_as_rfc_3581_says() {
        let m = req(
            "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;rport, SIP/2.0/UDP p:5060;branch=z9hG4bK2",
        );
        let v = top_via_for_response(&m, "192.0.2.4".parse().unwrap(), 40000).unwrap();
        assert_eq!(
            v,
            "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;received=192.0.2.4;rport=40000"
        );
        // Same host, no rport: unchanged.
        let m = req("SIP/2.0/UDP 192.0.2.4:5070;branch=z9hG4bK1");
        assert_eq!(
            top_via_for_response(&m, "192.0.2.4".parse().unwrap(), 5070),
            None
        );
        // Same host with rport: only rport is filled in.
        let m = req("SIP/2.0/UDP 192.0.2.4:5070;rport;branch=z9hG4bK1");
        let v = top_via_for_response(&m, "192.0.2.4".parse().unwrap(), 5999).unwrap();
        assert_eq!(v, "SIP/2.0/UDP 192.0.2.4:5070;branch=z9hG4bK1;rport=5999");
    }
}
