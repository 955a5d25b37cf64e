//! Request and response validation: what a server must answer (or whether a
//! response must be dropped) for a message that parsed. The RFC 4475
//! section 3.3 verdicts this module produces:
//!
//! | case | verdict | rule |
//! |---|---|---|
//! | 3.3.1 TC_INSUF | 400 `Missing To` (etc.) | mandatory header missing |
//! | 3.3.2 TC_UNKSCM | 416 | Request-URI scheme not sip/sips/tel |
//! | 3.3.3 TC_NOVELSC | 416 | `soap.beep` is never meaningful to us (the RFC allows 416) |
//! | 3.3.4 TC_UNKSM2 | 400 | REGISTER whose To is not a SIP(S) AOR (registrar rule, [`Policy::registrar`]) |
//! | 3.3.5 TC_BEXT01 | 420 + Unsupported | Require not in [`Policy::supported`]; Proxy-Require is ignored by a UAS |
//! | 3.3.6 TC_INVUT | 415 + Accept | body type not in [`Policy::accept`] (only when the list is non-empty: the application decides) |
//! | 3.3.7 TC_REGAUT01 | accepted | unknown auth scheme: the auth layer answers 401 with a new challenge |
//! | 3.3.8 TC_MULTI01 | 400 | several values for a single-valued header |
//! | 3.3.9 TC_MCL01 | 400 | several Content-Length values |
//! | 3.3.10 TC_BCAST | response: discard | [`check_response`]: UAC sees 2 Vias; proxy sees broadcast sent-by |
//! | 3.3.11 TC_ZEROMF | accepted | a UAS answers OPTIONS itself; [`check_forward`] gives 483 only if it would be forwarded |
//! | 3.3.12/13 TC_CPARAM01/02 | accepted | Contact header param vs URI param |
//! | 3.3.14 TC_REGESCRT | accepted | escaped headers inside a bracketed Contact URI |
//! | 3.3.15 TC_SDP01 | accepted | Accept without SDP: the application answers 406 or 400 |
//! | 3.4.1 TC_INV2543 | accepted | RFC 2543 style: no Max-Forwards unless [`Policy::require_max_forwards`] |

use super::builder::{MessageBuilder, response_to};
use super::header_name::HeaderName;
use super::message::SipMessage;
use super::method::Method;
use super::name_addr::Contacts;
use super::uri::Scheme;
use super::values::is_valid_sip_date;

/// What the local element supports and how strict it is.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// Option tags we support (a Require outside this set gives 420).
    pub supported: &'a [&'a str],
    /// Answer 400 when Max-Forwards is missing (RFC 3261 says a UAC MUST
    /// send it, but RFC 2543 peers do not: RFC 4475 3.4.1).
    pub require_max_forwards: bool,
    /// Apply registrar rules to REGISTER (To must be a sip/sips AOR).
    pub registrar: bool,
    /// Accepted body types (`type/subtype`, `*` allowed); empty = do not
    /// check (the application decides, e.g. 415 for TC_INVUT).
    pub accept: &'a [&'a str],
}

impl Default for Policy<'_> {
    fn default() -> Self {
        Policy {
            supported: &[],
            require_max_forwards: false,
            registrar: true,
            accept: &[],
        }
    }
}

/// A response the server must send instead of processing the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: String,
    /// Option tags for an `Unsupported` header (420).
    pub unsupported: Vec<String>,
    /// Types for an `Accept` header (415).
    pub accept: Vec<String>,
}

impl Rejection {
    fn new(status: u16, reason: impl Into<String>) -> Self {
        Rejection {
            status,
            reason: reason.into(),
            unsupported: Vec::new(),
            accept: Vec::new(),
        }
    }

    /// The response to send (RFC 3261 8.2.6), with Unsupported / Accept
    /// headers when they apply.
    pub fn response(&self, req: &SipMessage, to_tag: Option<&str>) -> MessageBuilder {
        let mut b = response_to(req, self.status, &self.reason, to_tag);
        if !self.unsupported.is_empty() {
            b.push("Unsupported", &self.unsupported.join(", "));
        }
        if !self.accept.is_empty() {
            b.push("Accept", &self.accept.join(", "));
        }
        b
    }
}

/// The outcome of validating a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject(Rejection),
}

impl Verdict {
    /// The status code to answer, if rejected.
    pub fn code(&self) -> Option<u16> {
        match self {
            Verdict::Accept => None,
            Verdict::Reject(r) => Some(r.status),
        }
    }
}

fn reject(status: u16, reason: impl Into<String>) -> Verdict {
    Verdict::Reject(Rejection::new(status, reason))
}

/// Validates a parsed request (RFC 3261 8.2 order: version, syntax and
/// mandatory headers, URI scheme, Require, body type).
pub fn check_request(msg: &SipMessage, policy: &Policy<'_>) -> Verdict {
    let Some(method) = msg.method() else {
        return reject(400, "Not a request");
    };
    if !msg.version().eq_ignore_ascii_case("SIP/2.0") {
        return reject(505, "Version Not Supported");
    }
    let mut mandatory: &[(HeaderName, &str)] = &[
        (HeaderName::Via, "Missing Via"),
        (HeaderName::From, "Missing From"),
        (HeaderName::To, "Missing To"),
        (HeaderName::CallId, "Missing Call-ID"),
        (HeaderName::CSeq, "Missing CSeq"),
        (HeaderName::MaxForwards, "Missing Max-Forwards"),
    ];
    if !policy.require_max_forwards {
        mandatory = mandatory.get(..5).unwrap_or(mandatory);
    }
    let missing: Vec<&str> = mandatory
        .iter()
        .filter(|(h, _)| msg.header(*h).is_none())
        .map(|(h, _)| h.as_str())
        .collect();
    if !missing.is_empty() {
        return reject(400, format!("Missing {}", missing.join(", ")));
    }
    if msg.content_length().is_err() || msg.count(HeaderName::ContentLength) > 1 {
        return reject(400, "Multiple Content-Length values");
    }
    for h in [
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::MaxForwards,
        HeaderName::ContentType,
        HeaderName::Expires,
    ] {
        if msg.count(h) > 1 {
            return reject(400, format!("Multiple {} values", h.as_str()));
        }
    }
    if let Err(e) = msg.via() {
        return reject(400, format!("Bad Via: {e}"));
    }
    let to = match msg.to() {
        Ok(t) => t,
        Err(e) => return reject(400, format!("Bad To: {e}")),
    };
    if let Err(e) = msg.from() {
        return reject(400, format!("Bad From: {e}"));
    }
    if msg.call_id().is_err() {
        return reject(400, "Bad Call-ID");
    }
    let cseq = match msg.cseq() {
        Ok(c) => c,
        Err(e) => return reject(400, format!("Bad CSeq: {e}")),
    };
    if &cseq.method != method {
        return reject(400, "CSeq Method Mismatch");
    }
    if let Err(e) = msg.max_forwards() {
        return reject(400, format!("Bad Max-Forwards: {e}"));
    }
    if let Err(e) = msg.contacts() {
        return reject(400, format!("Bad Contact: {e}"));
    }
    if let Err(e) = msg.content_type() {
        return reject(400, format!("Bad Content-Type: {e}"));
    }
    if let Some(d) = msg.header(HeaderName::Date)
        && !d.as_str().is_ok_and(is_valid_sip_date)
    {
        return reject(400, "Bad Date");
    }
    let uri = match msg.request_uri() {
        Ok(u) => u,
        Err(_) => return reject(400, "Bad Request-URI"),
    };
    if matches!(uri.scheme, Scheme::Other(_)) {
        return reject(416, "Unsupported URI Scheme");
    }
    if uri.headers.is_some() {
        // RFC 3261 19.1.5: headers are not allowed in a Request-URI.
        return reject(400, "Headers in Request-URI");
    }
    if policy.registrar && *method == Method::Register && !to.uri.is_sip() {
        return reject(400, "To is not a SIP AOR");
    }
    if !matches!(method, Method::Ack | Method::Cancel) {
        let req = match msg.require() {
            Ok(r) => r,
            Err(_) => return reject(400, "Bad Require"),
        };
        let unsupported: Vec<String> = req
            .iter()
            .filter(|t| !policy.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .map(|t| (*t).to_owned())
            .collect();
        if !unsupported.is_empty() {
            let mut r = Rejection::new(420, "Bad Extension");
            r.unsupported = unsupported;
            return Verdict::Reject(r);
        }
    }
    if !policy.accept.is_empty() && !msg.body_bytes().is_empty() {
        let ok = match msg.content_type() {
            Ok(Some(ct)) => policy.accept.iter().any(|a| ct.matches(a)),
            _ => false,
        };
        if !ok {
            let mut r = Rejection::new(415, "Unsupported Media Type");
            r.accept = policy.accept.iter().map(|s| (*s).to_owned()).collect();
            return Verdict::Reject(r);
        }
    }
    if let Ok(Contacts::Star) = msg.contacts()
        && *method != Method::Register
    {
        return reject(400, "Contact * outside REGISTER");
    }
    Verdict::Accept
}

/// For a proxy about to forward: 483 when Max-Forwards is 0 (RFC 3261
/// 16.3 step 2). A proxy may answer an OPTIONS with Max-Forwards 0 itself
/// instead (RFC 4475 TC_ZEROMF), which the caller decides before this.
pub fn check_forward(msg: &SipMessage) -> Verdict {
    match msg.max_forwards() {
        Ok(Some(0)) => reject(483, "Too Many Hops"),
        Ok(_) => Verdict::Accept,
        Err(_) => reject(400, "Bad Max-Forwards"),
    }
}

/// Which element received a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseRole {
    /// A UA client: more than one Via means the response is not for us.
    Uac,
    /// A proxy: the next hop's sent-by must not be a broadcast address.
    Proxy,
}

/// The outcome of validating a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseVerdict {
    Accept,
    /// Drop silently, with why.
    Discard(&'static str),
}

/// Validates a parsed response: version, mandatory headers, CSeq syntax,
/// Via rules of RFC 3261 8.1.3.3 / 18.1.2 and RFC 4475 TC_BCAST.
pub fn check_response(msg: &SipMessage, role: ResponseRole) -> ResponseVerdict {
    if msg.status().is_none() {
        return ResponseVerdict::Discard("not a response");
    }
    if !msg.version().eq_ignore_ascii_case("SIP/2.0") {
        return ResponseVerdict::Discard("unsupported version");
    }
    if msg.from().is_err() || msg.to().is_err() || msg.call_id().is_err() {
        return ResponseVerdict::Discard("bad From/To/Call-ID");
    }
    if msg.cseq().is_err() {
        return ResponseVerdict::Discard("bad CSeq");
    }
    if msg.content_length().is_err() {
        return ResponseVerdict::Discard("several Content-Length values");
    }
    let vias = match msg.via() {
        Ok(v) if !v.is_empty() => v,
        _ => return ResponseVerdict::Discard("bad or missing Via"),
    };
    match role {
        ResponseRole::Uac if vias.len() > 1 => ResponseVerdict::Discard("more than one Via"),
        ResponseRole::Proxy if vias.get(1).is_some_and(|v| v.host.is_broadcast()) => {
            ResponseVerdict::Discard("next hop is a broadcast address")
        }
        ResponseRole::Proxy if vias.len() < 2 => ResponseVerdict::Discard("no Via to forward to"),
        _ => ResponseVerdict::Accept,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_datagram;
    use super::*;
    use bytes::Bytes;

    const BASE: &str = "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n";

    fn verdict(extra: &str, policy: &Policy<'_>) -> Option<u16> {
        let m = match extra.split_once("\r\n\r\n") {
            Some((h, body)) => format!("{BASE}{h}\r\n\r\n{body}"),
            None if extra.is_empty() => format!("{BASE}\r\n"),
            None => format!("{BASE}{extra}\r\n\r\n"),
        };
        let m = parse_datagram(Bytes::from(m)).unwrap();
        check_request(&m, policy).code()
    }

    #[test]
    fn request_rules() {
        let p = Policy::default();
        assert_eq!(verdict("", &p), None);
        assert_eq!(verdict("Require: 100rel", &p), Some(420));
        assert_eq!(
            verdict(
                "Require: 100rel",
                &Policy {
                    supported: &["100rel"],
                    ..p
                }
            ),
            None
        );
        assert_eq!(verdict("Call-ID: c2", &p), Some(400));
        assert_eq!(verdict("Max-Forwards: 300", &p), Some(400));
        assert_eq!(
            verdict("Date: Fri, 01 Jan 2010 16:00:00 EST", &p),
            Some(400)
        );
        let accept = Policy {
            accept: &["application/sdp"],
            ..p
        };
        assert_eq!(
            verdict("Content-Type: text/plain\r\nl: 1\r\n\r\nx", &accept),
            Some(415)
        );
        assert_eq!(
            verdict("Content-Type: application/sdp\r\nl: 1\r\n\r\nx", &accept),
            None
        );
    }

    #[test]
    fn forward_and_response() {
        let m = parse_datagram(Bytes::from(BASE.replace("70", "0") + "\r\n")).unwrap();
        assert_eq!(check_forward(&m).code(), Some(483));
        let r = parse_datagram(Bytes::from_static(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK2\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\r\n",
        ))
        .unwrap();
        assert!(matches!(
            check_response(&r, ResponseRole::Uac),
            ResponseVerdict::Discard(_)
        ));
        assert!(matches!(
            check_response(&r, ResponseRole::Proxy),
            ResponseVerdict::Discard(_)
        ));
    }

    #[test]
    fn rejection_response_headers() {
        let m = parse_datagram(Bytes::from(format!("{BASE}Require: foo, bar\r\n\r\n"))).unwrap();
        let Verdict::Reject(r) = check_request(&m, &Policy::default()) else {
            panic!("expected rejection")
        };
        let resp = r.response(&m, Some("t")).build().unwrap();
        assert_eq!(resp.status(), Some(420));
        let v: Vec<_> = resp.list_values(HeaderName::Unsupported).collect();
        assert_eq!(v, ["foo", "bar"]);
    }
}
