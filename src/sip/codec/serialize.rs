//! Serialization and relay editing: [`SipMessage::to_bytes`] (start line,
//! headers in order with their original spelling, one correct
//! Content-Length, body) and the batch [`Editor`] (remove / replace /
//! prepend headers, change the Request-URI or body) that writes one new
//! buffer and re-indexes it.

use super::error::ParseError;
use super::header_name::HeaderName;
use super::message::{SipMessage, StartLine};
use super::parse::parse_stream_message;
use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

/// Appends the decimal form of `n`.
pub(crate) fn put_u32(out: &mut BytesMut, mut n: u32) {
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    loop {
        i -= 1;
        if let Some(slot) = tmp.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.put_slice(tmp.get(i..).unwrap_or(&[]));
}

/// Appends `value` with CR and LF replaced by spaces (no header injection).
pub(crate) fn put_sanitized(out: &mut BytesMut, value: &[u8]) {
    if !value.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.put_slice(value);
        return;
    }
    out.extend(
        value
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}

impl SipMessage {
    fn write_start_line(&self, out: &mut BytesMut, uri_override: Option<&str>) {
        match &self.start {
            StartLine::Request {
                method,
                uri,
                version,
            } => {
                out.put_slice(method.as_str().as_bytes());
                out.put_u8(b' ');
                match uri_override {
                    Some(u) => put_sanitized(out, u.as_bytes()),
                    None => out.put_slice(uri.get(&self.buf)),
                }
                out.put_u8(b' ');
                out.put_slice(version.get(&self.buf));
            }
            StartLine::Response {
                version,
                status,
                reason,
            } => {
                out.put_slice(version.get(&self.buf));
                out.put_u8(b' ');
                put_u32(out, u32::from(*status));
                out.put_u8(b' ');
                out.put_slice(reason.get(&self.buf));
            }
        }
        out.put_slice(b"\r\n");
    }

    /// Serializes the message: start line, headers in order (original
    /// spelling, folds kept), exactly one Content-Length equal to the body
    /// length (at the position of the first one, else last), CRLF, body.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.buf.len() + 24);
        self.write_to(&mut out);
        out.freeze()
    }

    /// Appends the serialized message to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        self.write_start_line(out, None);
        let body = self.body_bytes();
        let mut cl_done = false;
        for h in &self.headers {
            if h.name == HeaderName::ContentLength {
                if !cl_done {
                    write_content_length(out, h.name_span.get(&self.buf), body.len());
                    cl_done = true;
                }
                continue;
            }
            put_line(out, h.name_span.get(&self.buf), h.value.get(&self.buf));
        }
        if !cl_done {
            write_content_length(out, b"Content-Length", body.len());
        }
        out.put_slice(b"\r\n");
        out.put_slice(body);
    }

    /// Starts a batch of edits (for relaying); see [`Editor`].
    pub fn edit(&self) -> Editor<'_> {
        Editor {
            msg: self,
            removed: SmallVec::from_elem(false, self.headers.len()),
            replaced: SmallVec::new(),
            prepend: SmallVec::new(),
            append: SmallVec::new(),
            uri: None,
            body: None,
        }
    }
}

#[inline]
fn put_line(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

fn write_content_length(out: &mut BytesMut, name: &[u8], len: usize) {
    out.put_slice(name);
    out.put_slice(b": ");
    put_u32(out, u32::try_from(len).unwrap_or(u32::MAX));
    out.put_slice(b"\r\n");
}

/// A batch of edits on a parsed message; [`Editor::finish`] writes one
/// buffer and re-indexes it. Values are sanitized (CR/LF become spaces).
pub struct Editor<'m> {
    msg: &'m SipMessage,
    removed: SmallVec<[bool; 16]>,
    replaced: SmallVec<[(usize, String); 2]>,
    prepend: SmallVec<[(String, String); 2]>,
    append: SmallVec<[(String, String); 2]>,
    uri: Option<String>,
    body: Option<Bytes>,
}

impl Editor<'_> {
    fn index_of(&self, name: HeaderName, nth_live: usize) -> Option<usize> {
        self.msg
            .headers
            .iter()
            .enumerate()
            .filter(|(i, h)| h.name == name && !self.removed.get(*i).copied().unwrap_or(true))
            .nth(nth_live)
            .map(|(i, _)| i)
    }

    /// Removes the first remaining line of `name`; false if none.
    pub fn remove_first(&mut self, name: HeaderName) -> bool {
        match self.index_of(name, 0) {
            Some(i) => {
                if let Some(r) = self.removed.get_mut(i) {
                    *r = true;
                }
                true
            }
            None => false,
        }
    }

    /// Removes every line of `name`.
    pub fn remove_all(&mut self, name: HeaderName) -> &mut Self {
        while self.remove_first(name) {}
        self
    }

    /// Replaces the value of the first line of `name` (appends the header
    /// if absent).
    pub fn replace(&mut self, name: HeaderName, value: &str) -> &mut Self {
        match self.index_of(name, 0) {
            Some(i) => {
                self.replaced.retain(|(j, _)| *j != i);
                self.replaced.push((i, value.to_owned()));
            }
            None => self
                .append
                .push((name.as_str().to_owned(), value.to_owned())),
        }
        self
    }

    /// Inserts a header line before the first line of the same name (or
    /// first of all), e.g. a proxy's Via.
    pub fn prepend(&mut self, name: &str, value: &str) -> &mut Self {
        self.prepend.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Appends a header line after all others.
    pub fn append(&mut self, name: &str, value: &str) -> &mut Self {
        self.append.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the Request-URI (requests only).
    pub fn set_request_uri(&mut self, uri: &str) -> &mut Self {
        self.uri = Some(uri.to_owned());
        self
    }

    /// Replaces the body (Content-Length follows).
    pub fn set_body(&mut self, body: Bytes) -> &mut Self {
        self.body = Some(body);
        self
    }

    /// Writes the edited message and re-indexes it.
    pub fn finish(&self) -> Result<SipMessage, ParseError> {
        let m = self.msg;
        let body: &[u8] = match &self.body {
            Some(b) => b,
            None => m.body_bytes(),
        };
        let mut out = BytesMut::with_capacity(m.buf.len() + 128 + body.len());
        m.write_start_line(&mut out, self.uri.as_deref());
        let mut pending: SmallVec<[bool; 2]> = SmallVec::from_elem(true, self.prepend.len());
        let mut cl_done = false;
        for (i, h) in m.headers.iter().enumerate() {
            for (k, (n, v)) in self.prepend.iter().enumerate() {
                let due = pending.get(k).copied().unwrap_or(false)
                    && (i == 0 && m.index_of_name(n).is_none()
                        || HeaderName::parse(n) == h.name && h.name != HeaderName::Other);
                if due {
                    put_edit_line(&mut out, n, v);
                    if let Some(p) = pending.get_mut(k) {
                        *p = false;
                    }
                }
            }
            if self.removed.get(i).copied().unwrap_or(false) {
                continue;
            }
            if h.name == HeaderName::ContentLength {
                if !cl_done {
                    write_content_length(&mut out, h.name_span.get(&m.buf), body.len());
                    cl_done = true;
                }
                continue;
            }
            match self.replaced.iter().find(|(j, _)| *j == i) {
                Some((_, v)) => put_edit_line_raw(&mut out, h.name_span.get(&m.buf), v),
                None => put_line(&mut out, h.name_span.get(&m.buf), h.value.get(&m.buf)),
            }
        }
        for (k, (n, v)) in self.prepend.iter().enumerate() {
            if pending.get(k).copied().unwrap_or(false) {
                put_edit_line(&mut out, n, v);
            }
        }
        for (n, v) in &self.append {
            put_edit_line(&mut out, n, v);
        }
        if !cl_done {
            write_content_length(&mut out, b"Content-Length", body.len());
        }
        out.put_slice(b"\r\n");
        out.put_slice(body);
        parse_stream_message(out.freeze())
    }
}

impl SipMessage {
    fn index_of_name(&self, name: &str) -> Option<usize> {
        let hn = HeaderName::parse(name);
        if hn == HeaderName::Other {
            return None;
        }
        self.headers.iter().position(|h| h.name == hn)
    }
}

fn put_edit_line(out: &mut BytesMut, name: &str, value: &str) {
    put_edit_line_raw(out, name.trim().as_bytes(), value);
}

fn put_edit_line_raw(out: &mut BytesMut, name: &[u8], value: &str) {
    put_sanitized(out, name);
    out.put_slice(b": ");
    put_sanitized(out, value.trim().as_bytes());
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::super::parse_datagram;
    use super::*;

    const REQ: &[u8] = b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nRoute: <sip:p1.example.com;lr>\r\nl: 99\r\nContent-Length: 99\r\n\r\nhello";

    #[test]
    fn put_u32_digits() {
        for n in [0u32, 7, 10, 890, u32::MAX] {
            let mut b = BytesMut::new();
            put_u32(&mut b, n);
            assert_eq!(&b[..], n.to_string().as_bytes());
        }
    }

    #[test]
    fn serialize_fixes_content_length() {
        let m = parse_datagram(Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\nL: 2\r\nX: 1\r\n\r\nabcd",
        ))
        .unwrap();
        assert_eq!(
            &m.to_bytes()[..],
            b"OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\nX: 1\r\n\r\nab"
        );
        let m = parse_datagram(Bytes::from_static(b"SIP/2.0 200 OK\r\nX: 1\r\n\r\nxyz")).unwrap();
        assert_eq!(
            &m.to_bytes()[..],
            b"SIP/2.0 200 OK\r\nX: 1\r\nContent-Length: 3\r\n\r\nxyz"
        );
    }

    #[test]
    fn relay_edits() {
        let mut raw = REQ.to_vec();
        // Make the declared lengths match the body.
        let s = String::from_utf8(raw.clone()).unwrap().replace("99", "5");
        raw = s.into_bytes();
        let m = parse_datagram(Bytes::from(raw)).unwrap();
        let e = m
            .edit()
            .prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK2")
            .replace(HeaderName::MaxForwards, "69")
            .remove_all(HeaderName::Route)
            .set_request_uri("sip:b@10.0.0.2")
            .append("X-Evil", "a\r\nInjected: 1")
            .finish()
            .unwrap();
        let vias = e.via().unwrap();
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[0].host_str, "proxy.example.com");
        assert_eq!(e.max_forwards(), Ok(Some(69)));
        assert_eq!(e.count(HeaderName::Route), 0);
        assert_eq!(e.request_uri_str(), Some("sip:b@10.0.0.2"));
        assert!(e.header_str("Injected").is_none());
        assert_eq!(&e.body()[..], b"hello");
        assert_eq!(e.count(HeaderName::ContentLength), 1);
        let b = m
            .edit()
            .set_body(Bytes::from_static(b"x"))
            .finish()
            .unwrap();
        assert_eq!(b.content_length(), Ok(Some(1)));
    }
}
