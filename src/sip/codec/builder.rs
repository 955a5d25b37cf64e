//! Building messages from parts: [`MessageBuilder`] (requests and
//! responses written straight into one buffer, Content-Length computed),
//! [`response_to`] (RFC 3261 8.2.6: copies Via, From, To, Call-ID, CSeq and
//! adds the To tag) and [`error_response`] (a 400 built from a
//! [`ParseError`]'s captured headers).

use super::error::ParseError;
use super::header_name::HeaderName;
use super::message::SipMessage;
use super::method::Method;
use super::parse::parse_stream_message;
use super::serialize::{put_sanitized, put_u32};
use bytes::{BufMut, Bytes, BytesMut};

/// Writes a message into one buffer. Header values are written as given
/// (CR/LF replaced by spaces); `Content-Length` is always computed from the
/// body and any given one is ignored.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    buf: BytesMut,
    body: Bytes,
}

impl MessageBuilder {
    /// Starts a request `METHOD uri SIP/2.0`.
    pub fn request(method: &Method, uri: &str) -> Self {
        let mut buf = BytesMut::with_capacity(512);
        buf.put_slice(method.as_str().as_bytes());
        buf.put_u8(b' ');
        put_sanitized(&mut buf, uri.trim().as_bytes());
        buf.put_slice(b" SIP/2.0\r\n");
        MessageBuilder {
            buf,
            body: Bytes::new(),
        }
    }

    /// Starts a response `SIP/2.0 status reason`. Status outside 100..=699
    /// is clamped to 500.
    pub fn response(status: u16, reason: &str) -> Self {
        let status = if (100..=699).contains(&status) {
            status
        } else {
            500
        };
        let mut buf = BytesMut::with_capacity(512);
        buf.put_slice(b"SIP/2.0 ");
        put_u32(&mut buf, u32::from(status));
        buf.put_u8(b' ');
        put_sanitized(&mut buf, reason.as_bytes());
        buf.put_slice(b"\r\n");
        MessageBuilder {
            buf,
            body: Bytes::new(),
        }
    }

    /// Adds a known header with its canonical name.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        self.push(name.as_str(), value);
        self
    }

    /// Adds a header by name (extension headers).
    pub fn header_raw(mut self, name: &str, value: &str) -> Self {
        self.push(name, value);
        self
    }

    /// Adds a header in place (for loops).
    pub fn push(&mut self, name: &str, value: &str) {
        self.push_bytes(name.trim().as_bytes(), value.trim().as_bytes());
    }

    pub(crate) fn push_bytes(&mut self, name: &[u8], value: &[u8]) {
        if HeaderName::from_bytes(name) == HeaderName::ContentLength {
            return;
        }
        put_sanitized(&mut self.buf, name);
        self.buf.put_slice(b": ");
        put_sanitized(&mut self.buf, value);
        self.buf.put_slice(b"\r\n");
    }

    /// Sets the body (binary-safe).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Finishes into wire bytes.
    pub fn to_bytes(mut self) -> Bytes {
        self.buf.reserve(24 + self.body.len());
        self.buf.put_slice(b"Content-Length: ");
        put_u32(
            &mut self.buf,
            u32::try_from(self.body.len()).unwrap_or(u32::MAX),
        );
        self.buf.put_slice(b"\r\n\r\n");
        self.buf.put_slice(&self.body);
        self.buf.freeze()
    }

    /// Finishes into a parsed message (fails only if given parts were
    /// malformed, e.g. a bad URI or header name).
    pub fn build(self) -> Result<SipMessage, ParseError> {
        parse_stream_message(self.to_bytes())
    }
}

/// Starts a response to `req` per RFC 3261 8.2.6.2: all Via lines in
/// order, From, To (with `to_tag` added when the To has no tag yet),
/// Call-ID, CSeq, and Timestamp for 100. Add headers and a body, then
/// `to_bytes()` or `build()`.
pub fn response_to(
    req: &SipMessage,
    status: u16,
    reason: &str,
    to_tag: Option<&str>,
) -> MessageBuilder {
    response_to_with_via(req, status, reason, to_tag, None)
}

/// [`response_to`] with the top Via replaced by `top_via` when given (a
/// server adds `received` and `rport` there: RFC 3261 18.2.1, RFC 3581).
pub fn response_to_with_via(
    req: &SipMessage,
    status: u16,
    reason: &str,
    to_tag: Option<&str>,
    top_via: Option<&str>,
) -> MessageBuilder {
    let mut b = MessageBuilder::response(status, reason);
    let mut top_via = top_via;
    let has_tag = req.to().map(|t| t.tag().is_some()).unwrap_or(true);
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Timestamp,
    ] {
        if name == HeaderName::Timestamp && status != 100 {
            continue;
        }
        for v in req.headers_named(name) {
            if name == HeaderName::Via
                && let Some(top) = top_via.take()
            {
                // Only the first Via line's first element is replaced; any
                // further elements of that line follow it unchanged.
                let line = v.unfolded();
                let rest = split_after_first_element(&line);
                let mut with = top.as_bytes().to_vec();
                if !rest.is_empty() {
                    with.extend_from_slice(b", ");
                    with.extend_from_slice(rest);
                }
                b.push_bytes(name.as_str().as_bytes(), &with);
                continue;
            }
            let value = v.unfolded();
            if name == HeaderName::To
                && !has_tag
                && let Some(tag) = to_tag
            {
                let mut with = value.into_owned();
                with.extend_from_slice(b";tag=");
                with.extend_from_slice(tag.as_bytes());
                b.push_bytes(name.as_str().as_bytes(), &with);
                continue;
            }
            b.push_bytes(name.as_str().as_bytes(), &value);
            if name != HeaderName::Via {
                break;
            }
        }
    }
    b
}

/// What follows the first element of a comma-separated header line
/// (outside quotes), without the comma and leading white space.
fn split_after_first_element(line: &[u8]) -> &[u8] {
    let mut quoted = false;
    for (i, &c) in line.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                let rest = line.get(i + 1..).unwrap_or(&[]);
                let start = rest
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                return rest.get(start..).unwrap_or(&[]);
            }
            _ => {}
        }
    }
    &[]
}

/// A `400` response for a request that failed to parse, when
/// [`ParseError::can_respond`] holds; the reason phrase says what was wrong.
pub fn error_response(err: &ParseError) -> Option<Bytes> {
    if !err.can_respond() {
        return None;
    }
    let ctx = err.context()?;
    let mut b = MessageBuilder::response(400, err.reason_phrase());
    for v in &ctx.via {
        b.push_bytes(b"Via", v);
    }
    for (n, v) in [
        ("From", &ctx.from),
        ("To", &ctx.to),
        ("Call-ID", &ctx.call_id),
        ("CSeq", &ctx.cseq),
    ] {
        if let Some(v) = v {
            b.push_bytes(n.as_bytes(), v);
        }
    }
    Some(b.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::parse_datagram;
    use super::*;

    #[test]
    fn build_request() {
        let m = MessageBuilder::request(&Method::Options, "sip:a@b")
            .header(HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bK1")
            .header(HeaderName::ContentLength, "999")
            .header_raw("X-A", "1\r\n2")
            .body(&b"hi"[..])
            .build()
            .unwrap();
        assert_eq!(m.method(), Some(&Method::Options));
        assert_eq!(m.content_length(), Ok(Some(2)));
        assert_eq!(m.header_str("x-a").unwrap().as_str().unwrap(), "1  2");
        assert_eq!(&m.body()[..], b"hi");
    }

    #[test]
    fn respond() {
        let req = parse_datagram(Bytes::from_static(
            b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP p2;branch=z9hG4bK2\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nl: 0\r\n\r\n",
        ))
        .unwrap();
        let r = response_to(&req, 180, "Ringing", Some("abc"))
            .build()
            .unwrap();
        assert_eq!(r.status(), Some(180));
        let v = r.via().unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].host_str, "p2");
        assert_eq!(r.to().unwrap().tag(), Some("abc"));
        assert_eq!(r.from().unwrap().tag(), Some("1"));
        assert_eq!(r.call_id(), Ok("c1"));
        assert_eq!(r.cseq().unwrap().seq, 1);
        assert!(r.header(HeaderName::MaxForwards).is_none());
        assert_eq!(
            MessageBuilder::response(1000, "x")
                .build()
                .unwrap()
                .status(),
            Some(500)
        );
    }

    #[test]
    fn bad_request_from_parse_error() {
        let e = parse_datagram(Bytes::from_static(
            b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP p1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nl: 50\r\n\r\n",
        ))
        .unwrap_err();
        let r = parse_datagram(error_response(&e).unwrap()).unwrap();
        assert_eq!(r.status(), Some(400));
        assert_eq!(r.reason(), "Bad Content-Length");
        assert_eq!(r.call_id(), Ok("c1"));
    }
}
