//! [`SipMessage`]: the owned, zero-copy parsed message (input `Bytes` plus
//! byte ranges) and its untyped accessors: start line, header iteration and
//! lookup, folded-value handling, body. Typed accessors live next to their
//! value types (via.rs, name_addr.rs, auth.rs, values.rs).

use super::error::ValueError;
use super::header_name::HeaderName;
use super::method::Method;
use super::scan::{ListSplit, eq_ic};
use super::uri::Uri;
use bytes::Bytes;
use smallvec::SmallVec;
use std::borrow::Cow;

/// A byte range into the message buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    #[inline]
    pub(crate) fn get(self, b: &[u8]) -> &[u8] {
        b.get(self.start as usize..self.end as usize).unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderEntry {
    pub(crate) name: HeaderName,
    pub(crate) folded: bool,
    pub(crate) name_span: Span,
    pub(crate) value: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum StartLine {
    Request {
        method: Method,
        uri: Span,
        version: Span,
    },
    Response {
        version: Span,
        status: u16,
        reason: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClState {
    Absent,
    One(u32),
    Conflict,
}

/// A parsed SIP message. Cheap to clone (a reference-counted buffer plus a
/// small inline table of ranges); `Send + Sync`.
#[derive(Debug, Clone)]
pub struct SipMessage {
    pub(crate) buf: Bytes,
    pub(crate) start: StartLine,
    pub(crate) headers: SmallVec<[HeaderEntry; 16]>,
    pub(crate) body: Span,
    pub(crate) cl: ClState,
}

/// A header value as found on the wire. Folded values keep their line
/// breaks in [`HeaderValue::as_str`]; [`HeaderValue::unfolded`] turns each
/// fold into one space (allocating only when a fold is present).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderValue<'a> {
    raw: &'a [u8],
    folded: bool,
}

impl<'a> HeaderValue<'a> {
    pub(crate) fn new(raw: &'a [u8], folded: bool) -> Self {
        HeaderValue { raw, folded }
    }
    /// Raw bytes (folds included).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
    /// Raw text (folds included); typed parsers accept folds as whitespace.
    pub fn as_str(&self) -> Result<&'a str, ValueError> {
        std::str::from_utf8(self.raw).map_err(|_| ValueError::NotUtf8)
    }
    /// True if the value spans several lines.
    pub fn is_folded(&self) -> bool {
        self.folded
    }
    /// The value with every `CRLF 1*WSP` fold replaced by a single space.
    pub fn unfolded(&self) -> Cow<'a, [u8]> {
        if !self.folded {
            return Cow::Borrowed(self.raw);
        }
        let mut out = Vec::with_capacity(self.raw.len());
        let mut i = 0;
        while let Some(&b) = self.raw.get(i) {
            if b == b'\r' || b == b'\n' {
                while out.last().is_some_and(|c| *c == b' ' || *c == b'\t') {
                    out.pop();
                }
                while self
                    .raw
                    .get(i)
                    .is_some_and(|c| matches!(c, b'\r' | b'\n' | b' ' | b'\t'))
                {
                    i += 1;
                }
                out.push(b' ');
            } else {
                out.push(b);
                i += 1;
            }
        }
        Cow::Owned(out)
    }
    /// Unfolded text.
    pub fn to_str(&self) -> Result<Cow<'a, str>, ValueError> {
        match self.unfolded() {
            Cow::Borrowed(b) => std::str::from_utf8(b)
                .map(Cow::Borrowed)
                .map_err(|_| ValueError::NotUtf8),
            Cow::Owned(v) => String::from_utf8(v)
                .map(Cow::Owned)
                .map_err(|_| ValueError::NotUtf8),
        }
    }
}

impl std::fmt::Display for HeaderValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.unfolded()))
    }
}

/// One header line: classified name, name as written, value.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub name: HeaderName,
    /// The name as written (e.g. `"v"`, `"MaX-fOrWaRdS"`).
    pub raw_name: &'a str,
    pub value: HeaderValue<'a>,
}

impl SipMessage {
    #[inline]
    fn slice(&self, s: Span) -> &[u8] {
        s.get(&self.buf)
    }

    #[inline]
    fn str_of(&self, s: Span) -> &str {
        std::str::from_utf8(self.slice(s)).unwrap_or("")
    }

    fn entry(&self, h: &HeaderEntry) -> Header<'_> {
        Header {
            name: h.name,
            raw_name: self.str_of(h.name_span),
            value: HeaderValue::new(self.slice(h.value), h.folded),
        }
    }

    /// The buffer the message was parsed from (may extend past the body).
    pub fn raw(&self) -> &Bytes {
        &self.buf
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    pub fn is_response(&self) -> bool {
        !self.is_request()
    }

    /// Request method (`None` for responses).
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// Request-URI text exactly as written.
    pub fn request_uri_str(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => std::str::from_utf8(self.slice(*uri)).ok(),
            StartLine::Response { .. } => None,
        }
    }

    /// Typed Request-URI.
    pub fn request_uri(&self) -> Result<Uri<'_>, ValueError> {
        match &self.start {
            StartLine::Request { uri, .. } => {
                let s = std::str::from_utf8(self.slice(*uri)).map_err(|_| ValueError::NotUtf8)?;
                Uri::parse(s)
            }
            StartLine::Response { .. } => Err(ValueError::Missing),
        }
    }

    /// SIP version text, e.g. `"SIP/2.0"`.
    pub fn version(&self) -> &str {
        match &self.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => {
                self.str_of(*version)
            }
        }
    }

    /// Status code (`None` for requests).
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// Reason phrase bytes (may be empty or hold any bytes).
    pub fn reason_bytes(&self) -> &[u8] {
        match self.start {
            StartLine::Response { reason, .. } => self.slice(reason),
            StartLine::Request { .. } => &[],
        }
    }

    /// Reason phrase as text (invalid UTF-8 replaced).
    pub fn reason(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.reason_bytes())
    }

    /// All header lines in order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> + '_ {
        self.headers.iter().map(|h| self.entry(h))
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// First value of a known header.
    pub fn header(&self, name: HeaderName) -> Option<HeaderValue<'_>> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| HeaderValue::new(self.slice(h.value), h.folded))
    }

    /// Every line of a known header, in order.
    pub fn headers_named(&self, name: HeaderName) -> impl Iterator<Item = HeaderValue<'_>> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| HeaderValue::new(self.slice(h.value), h.folded))
    }

    /// Every line of the header spelled `name` (any case; compact forms and
    /// extension headers work).
    pub fn headers_by_str<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = HeaderValue<'s>> + 's {
        let hn = HeaderName::parse(name);
        self.headers
            .iter()
            .filter(move |h| {
                h.name == hn
                    && (hn != HeaderName::Other || eq_ic(self.str_of(h.name_span), name.trim()))
            })
            .map(|h| HeaderValue::new(self.slice(h.value), h.folded))
    }

    /// First line of the header spelled `name`.
    pub fn header_str(&self, name: &str) -> Option<HeaderValue<'_>> {
        let hn = HeaderName::parse(name);
        self.headers
            .iter()
            .find(|h| {
                h.name == hn
                    && (hn != HeaderName::Other || eq_ic(self.str_of(h.name_span), name.trim()))
            })
            .map(|h| HeaderValue::new(self.slice(h.value), h.folded))
    }

    /// Comma-separated elements of a list header over all its lines
    /// (e.g. `Supported: a, b` and `Supported: c` give `a`, `b`, `c`).
    /// Lines that are not UTF-8 are skipped; empty elements are dropped.
    pub fn list_values(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.headers_named(name)
            .filter_map(|v| v.as_str().ok())
            .flat_map(ListSplit::new)
            .filter(|s| !s.is_empty())
    }

    /// Number of lines of a known header.
    pub fn count(&self, name: HeaderName) -> usize {
        self.headers.iter().filter(|h| h.name == name).count()
    }

    /// The body (zero-copy slice of the input; binary-safe).
    pub fn body(&self) -> Bytes {
        let (a, e) = (self.body.start as usize, self.body.end as usize);
        if a <= e && e <= self.buf.len() {
            self.buf.slice(a..e)
        } else {
            Bytes::new()
        }
    }

    /// The body as a borrowed slice.
    pub fn body_bytes(&self) -> &[u8] {
        self.slice(self.body)
    }

    /// The Content-Length value. `Ok(None)` when absent; an error when
    /// several different values were present (RFC 4475 TC_MCL01).
    pub fn content_length(&self) -> Result<Option<u32>, ValueError> {
        match self.cl {
            ClState::Absent => Ok(None),
            ClState::One(n) => Ok(Some(n)),
            ClState::Conflict => Err(ValueError::Invalid("Content-Length")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_datagram;
    use super::*;

    #[test]
    fn send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<SipMessage>();
    }

    #[test]
    fn lookup_and_lists() {
        let m = parse_datagram(Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nk: a, b\r\nSupported: c\r\nX-Foo: 1\r\nx-foo: 2\r\nl: 0\r\n\r\n",
        ))
        .unwrap();
        let v: Vec<_> = m.list_values(HeaderName::Supported).collect();
        assert_eq!(v, ["a", "b", "c"]);
        let v: Vec<_> = m
            .headers_by_str("X-FOO")
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(v, ["1", "2"]);
        assert_eq!(m.header_str("k").unwrap().as_str().unwrap(), "a, b");
        assert_eq!(m.header_count(), 5);
        assert_eq!(m.headers().nth(2).unwrap().raw_name, "X-Foo");
        assert_eq!(m.content_length(), Ok(Some(0)));
        assert!(m.header(HeaderName::Via).is_none());
    }

    #[test]
    fn unfold() {
        let v = HeaderValue::new(b"a  \r\n   b\r\n\tc", true);
        assert_eq!(&*v.unfolded(), b"a b c");
        assert_eq!(v.to_str().unwrap(), "a b c");
    }
}
