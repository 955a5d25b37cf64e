//! The one-pass message parser: start line, header lines (with folded
//! continuation lines attached to their header), header-name
//! classification, Content-Length handling and body delimitation, for
//! datagram ([`parse_datagram`]) and stream ([`parse_stream_message`])
//! semantics. On failure it still scans the header section so the error can
//! carry what a 400 response needs.

use super::error::{ParseError, ParseErrorKind, RespondContext};
use super::header_name::HeaderName;
use super::message::{ClState, HeaderEntry, SipMessage, Span, StartLine};
use super::method::Method;
use super::scan::{is_token, parse_u64, trim_lws_bytes};
use bytes::Bytes;
use memchr::memchr;
use smallvec::SmallVec;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Datagram,
    Stream,
}

/// Parses one UDP datagram. A missing Content-Length means the body is the
/// rest of the datagram; a smaller one truncates the body (RFC 3261 18.3,
/// RFC 4475 TC_DBLREQ); a larger one is an error. Several different
/// Content-Length values do not fail the parse (RFC 4475 TC_MCL01 is
/// answered with 400 by validation): the body is then the rest of the
/// datagram and [`SipMessage::content_length`] returns an error.
pub fn parse_datagram(buf: Bytes) -> Result<SipMessage, ParseError> {
    parse(buf, Mode::Datagram)
}

/// Parses a message already delimited by [`crate::sip::codec::frame_stream`].
/// Content-Length is required and must not exceed the bytes present.
pub fn parse_stream_message(buf: Bytes) -> Result<SipMessage, ParseError> {
    parse(buf, Mode::Stream)
}

#[inline]
fn span(start: usize, end: usize) -> Span {
    // Callers guarantee both are <= buf.len() <= u32::MAX.
    Span {
        start: start as u32,
        end: end as u32,
    }
}

pub(crate) fn check_version(v: &[u8]) -> bool {
    let Some(rest) = v
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case(b"SIP/"))
        .and_then(|_| v.get(4..))
    else {
        return false;
    };
    let Some(dot) = memchr(b'.', rest) else {
        return false;
    };
    let (maj, min) = (&rest[..dot], rest.get(dot + 1..).unwrap_or(&[]));
    !maj.is_empty()
        && !min.is_empty()
        && maj.iter().all(u8::is_ascii_digit)
        && min.iter().all(u8::is_ascii_digit)
}

/// Cheap syntax check of a Request-URI: `scheme ":" 1*char` without
/// whitespace, controls, `<`, `>` or `"`. Full parsing is lazy.
fn plausible_uri(u: &[u8]) -> bool {
    let Some(colon) = memchr(b':', u) else {
        return false;
    };
    let scheme = &u[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && colon + 1 < u.len()
        && u.iter()
            .all(|&b| b > 0x20 && b != 0x7f && !matches!(b, b'<' | b'>' | b'"'))
}

fn parse_start_line(b: &[u8], start: usize, end: usize) -> Result<StartLine, ParseErrorKind> {
    let line = b.get(start..end).ok_or(ParseErrorKind::BadStartLine)?;
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        let sp = memchr(b' ', line).ok_or(ParseErrorKind::BadStartLine)?;
        if !check_version(&line[..sp]) {
            return Err(ParseErrorKind::BadVersion);
        }
        let code = line
            .get(sp + 1..sp + 4)
            .ok_or(ParseErrorKind::BadStatusCode)?;
        if !code.iter().all(u8::is_ascii_digit) {
            return Err(ParseErrorKind::BadStatusCode);
        }
        let status = code.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&status) {
            return Err(ParseErrorKind::BadStatusCode);
        }
        let reason = match line.get(sp + 4) {
            None => span(end, end),
            Some(b' ') => span(start + sp + 5, end),
            Some(_) => return Err(ParseErrorKind::BadStatusCode),
        };
        return Ok(StartLine::Response {
            version: span(start, start + sp),
            status,
            reason,
        });
    }
    let sp1 = memchr(b' ', line).ok_or(ParseErrorKind::BadStartLine)?;
    let sp2 = memchr::memrchr(b' ', line).ok_or(ParseErrorKind::BadStartLine)?;
    if sp2 <= sp1 {
        return Err(ParseErrorKind::BadStartLine);
    }
    let method = Method::from_bytes(&line[..sp1]).ok_or(ParseErrorKind::BadStartLine)?;
    if !plausible_uri(&line[sp1 + 1..sp2]) {
        return Err(ParseErrorKind::BadRequestUri);
    }
    if !check_version(line.get(sp2 + 1..).unwrap_or(&[])) {
        return Err(ParseErrorKind::BadVersion);
    }
    Ok(StartLine::Request {
        method,
        uri: span(start + sp1 + 1, start + sp2),
        version: span(start + sp2 + 1, end),
    })
}

#[inline]
fn trim_end_ws(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && matches!(b.get(end - 1), Some(b' ' | b'\t')) {
        end -= 1;
    }
    end
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

pub(crate) struct Scanned {
    pub(crate) start: Result<StartLine, ParseErrorKind>,
    pub(crate) looks_like_request: bool,
    pub(crate) headers: SmallVec<[HeaderEntry; 16]>,
    /// Index of the first body byte, `None` if the header section is open.
    pub(crate) body_start: Option<usize>,
    pub(crate) first_error: Option<ParseErrorKind>,
}

/// Scans start line and header lines. Never fails; errors are recorded.
pub(crate) fn scan(b: &[u8]) -> Scanned {
    let len = b.len();
    let mut pos = 0;
    // RFC 3261 7.5: ignore CRLFs before the start line.
    while let Some(c) = b.get(pos) {
        if *c == b'\r' || *c == b'\n' {
            pos += 1;
        } else {
            break;
        }
    }
    let mut out = Scanned {
        start: Err(ParseErrorKind::Empty),
        looks_like_request: false,
        headers: SmallVec::new(),
        body_start: None,
        first_error: None,
    };
    if pos >= len {
        out.first_error = Some(ParseErrorKind::Empty);
        return out;
    }
    let rest = &b[pos..];
    out.looks_like_request = !(rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"SIP/"));
    let Some(nl) = memchr(b'\n', rest).map(|i| pos + i) else {
        out.start = parse_start_line(b, pos, len);
        out.first_error = Some(
            out.start
                .as_ref()
                .err()
                .cloned()
                .unwrap_or(ParseErrorKind::UnterminatedHeaders),
        );
        return out;
    };
    let line_end = if nl > pos && b.get(nl - 1) == Some(&b'\r') {
        nl - 1
    } else {
        nl
    };
    out.start = parse_start_line(b, pos, line_end);
    if let Err(e) = &out.start {
        out.first_error = Some(e.clone());
    }
    pos = nl + 1;
    loop {
        let Some(nl) = b.get(pos..).and_then(|r| memchr(b'\n', r)).map(|i| pos + i) else {
            out.first_error
                .get_or_insert(ParseErrorKind::UnterminatedHeaders);
            return out;
        };
        let end = if nl > pos && b.get(nl - 1) == Some(&b'\r') {
            nl - 1
        } else {
            nl
        };
        if end == pos {
            out.body_start = Some(nl + 1);
            return out;
        }
        let first = b.get(pos).copied().unwrap_or(0);
        if first == b' ' || first == b'\t' {
            // Continuation of the previous header (RFC 3261 7.3.1).
            match out.headers.last_mut() {
                Some(h) => {
                    let vend = trim_end_ws(b, pos, end);
                    let vstart = skip_ws(b, pos, vend);
                    if vstart < vend {
                        if h.value.start == h.value.end {
                            h.value = span(vstart, vend);
                        } else {
                            h.value.end = vend as u32;
                            h.folded = true;
                        }
                    }
                }
                None => {
                    out.first_error
                        .get_or_insert(ParseErrorKind::OrphanContinuation);
                }
            }
        } else {
            let line = &b[pos..end];
            match memchr(b':', line) {
                Some(c) => {
                    let name_end = trim_end_ws(b, pos, pos + c);
                    let name = &b[pos..name_end];
                    if is_token(name) {
                        let vend = trim_end_ws(b, pos + c + 1, end);
                        let vstart = skip_ws(b, pos + c + 1, vend);
                        out.headers.push(HeaderEntry {
                            name: HeaderName::from_bytes(name),
                            folded: false,
                            name_span: span(pos, name_end),
                            value: span(vstart, vend),
                        });
                    } else {
                        out.first_error.get_or_insert(ParseErrorKind::BadHeaderLine);
                    }
                }
                None => {
                    out.first_error.get_or_insert(ParseErrorKind::BadHeaderLine);
                }
            }
        }
        pos = nl + 1;
    }
}

/// Content-Length verdict over all Content-Length headers.
pub(crate) fn content_length_of(
    b: &[u8],
    headers: &[HeaderEntry],
) -> Result<ClState, ParseErrorKind> {
    let mut state = ClState::Absent;
    for h in headers
        .iter()
        .filter(|h| h.name == HeaderName::ContentLength)
    {
        let raw = b
            .get(h.value.start as usize..h.value.end as usize)
            .unwrap_or(&[]);
        let v = parse_u64(trim_lws_bytes(raw))
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(ParseErrorKind::BadContentLength)?;
        state = match state {
            ClState::Absent => ClState::One(v),
            ClState::One(p) if p == v => ClState::One(v),
            _ => ClState::Conflict,
        };
    }
    Ok(state)
}

pub(crate) fn context_of(buf: &Bytes, s: &Scanned) -> RespondContext {
    let mut ctx = RespondContext {
        is_request: s.looks_like_request,
        ..Default::default()
    };
    for h in &s.headers {
        let (a, e) = (h.value.start as usize, h.value.end as usize);
        if a > e || e > buf.len() {
            continue;
        }
        let v = buf.slice(a..e);
        match h.name {
            HeaderName::Via => ctx.via.push(v),
            HeaderName::From => {
                ctx.from.get_or_insert(v);
            }
            HeaderName::To => {
                ctx.to.get_or_insert(v);
            }
            HeaderName::CallId => {
                ctx.call_id.get_or_insert(v);
            }
            HeaderName::CSeq => {
                ctx.cseq.get_or_insert(v);
            }
            _ => {}
        }
    }
    ctx
}

pub(crate) fn parse(buf: Bytes, mode: Mode) -> Result<SipMessage, ParseError> {
    if buf.len() >= u32::MAX as usize {
        return Err(ParseError::new(ParseErrorKind::TooLarge));
    }
    let s = scan(&buf);
    let fail = |kind: ParseErrorKind, s: &Scanned| {
        if kind == ParseErrorKind::Empty {
            ParseError::new(kind)
        } else {
            ParseError::with_context(kind, context_of(&buf, s))
        }
    };
    if let Some(e) = s.first_error.clone() {
        return Err(fail(e, &s));
    }
    let Some(body_start) = s.body_start else {
        return Err(fail(ParseErrorKind::UnterminatedHeaders, &s));
    };
    let cl = match content_length_of(&buf, &s.headers) {
        Ok(cl) => cl,
        Err(e) => return Err(fail(e, &s)),
    };
    let remaining = buf.len().saturating_sub(body_start);
    let body_len = match (cl, mode) {
        (ClState::One(n), _) => {
            let n = n as usize;
            if n > remaining {
                return Err(fail(ParseErrorKind::BodyTruncated, &s));
            }
            n
        }
        (ClState::Absent | ClState::Conflict, Mode::Datagram) => remaining,
        (ClState::Absent, Mode::Stream) => {
            return Err(fail(ParseErrorKind::MissingContentLength, &s));
        }
        (ClState::Conflict, Mode::Stream) => {
            return Err(fail(ParseErrorKind::ConflictingContentLength, &s));
        }
    };
    let Ok(start) = s.start else {
        return Err(fail(ParseErrorKind::BadStartLine, &s));
    };
    Ok(SipMessage {
        body: span(body_start, body_start + body_len),
        buf,
        start,
        headers: s.headers,
        cl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<SipMessage, ParseError> {
        parse_datagram(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn request_basics() {
        let m = p("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nl: 3\r\n\r\nabcdef").unwrap();
        assert!(m.is_request());
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(m.request_uri_str(), Some("sip:a@b"));
        assert_eq!(&m.body()[..], b"abc");
    }

    #[test]
    fn response_reasons() {
        let m = p("SIP/2.0 100 \r\n\r\n").unwrap();
        assert_eq!(m.status(), Some(100));
        assert_eq!(m.reason(), "");
        let m = p("SIP/2.0 180\r\n\r\n").unwrap();
        assert_eq!(m.status(), Some(180));
        assert!(p("SIP/2.0 4294967301 big\r\n\r\n").is_err());
        assert!(p("SIP/2.0 099 low\r\n\r\n").is_err());
        assert!(p("SIP/2.0 700 high\r\n\r\n").is_err());
    }

    #[test]
    fn start_line_errors() {
        for bad in [
            "INVITE  sip:a@b  SIP/2.0\r\n\r\n",
            "INVITE sip:a@b SIP/2.0  \r\n\r\n",
            "INVITE <sip:a@b> SIP/2.0\r\n\r\n",
            "INVITE sip:a@b; lr SIP/2.0\r\n\r\n",
            "INVITE sip:a@b\r\n\r\n",
            "INVITE sip:a@b SIP/2\r\n\r\n",
            "",
            "\r\n\r\n",
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn folding_and_empty_first_line() {
        let m = p("OPTIONS sip:a@b SIP/2.0\r\nTO :\r\n sip:x@y ;tag = 1\r\nX: a\r\n  b\r\n\r\n")
            .unwrap();
        assert_eq!(
            m.header(HeaderName::To).unwrap().as_str().unwrap(),
            "sip:x@y ;tag = 1"
        );
        assert_eq!(&*m.header_str("x").unwrap().unfolded(), b"a b");
    }

    #[test]
    fn content_length_rules() {
        assert!(p("OPTIONS sip:a@b SIP/2.0\r\nl: 10\r\n\r\nabc").is_err());
        assert!(p("OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n").is_err());
        assert!(p("OPTIONS sip:a@b SIP/2.0\r\nl: 99999999999\r\n\r\n").is_err());
        let m = p("OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nabc").unwrap();
        assert!(m.content_length().is_err());
        assert_eq!(&m.body()[..], b"abc");
        let e = parse_stream_message(Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n"))
            .unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::MissingContentLength);
    }

    #[test]
    fn error_context() {
        let e = p("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\nTo: <sip:c@d>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nl: 99\r\n\r\n").unwrap_err();
        assert!(e.can_respond());
        assert_eq!(&e.context().unwrap().call_id.as_ref().unwrap()[..], b"1");
        let e = p("SIP/2.0 200 OK\r\nl: 99\r\n\r\n").unwrap_err();
        assert!(!e.can_respond());
        let e = p("INVITE sip:a@b SIP/2.0\r\nbad line\r\n\r\n").unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::BadHeaderLine);
    }
}
