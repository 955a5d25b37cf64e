//! Stream (TCP/TLS) framing: [`frame_stream`] finds where the next message
//! ends using Content-Length (required, RFC 3261 18.3) and reports CRLF
//! keep-alives (RFC 5626 4.4.1) and oversized messages.

use super::error::{ParseError, ParseErrorKind};
use super::message::ClState;
use super::parse::{content_length_of, scan};
use memchr::memchr;

/// Result of framing a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A whole message occupies the first `n` bytes.
    Complete(usize),
    /// More bytes are needed.
    Incomplete,
    /// The first `n` bytes are CRLF keep-alives (ping `CRLFCRLF` or pong
    /// `CRLF`); consume them (and answer a ping with CRLF).
    KeepAlive(usize),
}

/// Frames the next message at the start of `buf`. A header section or
/// message longer than `max_message` is [`ParseErrorKind::TooLarge`];
/// a missing, invalid or conflicting Content-Length is an error since the
/// stream cannot be delimited (the connection should be closed).
pub fn frame_stream(buf: &[u8], max_message: usize) -> Result<Frame, ParseError> {
    let mut ka = 0;
    while let Some(c) = buf.get(ka) {
        match c {
            b'\r' if buf.get(ka + 1) == Some(&b'\n') => ka += 2,
            b'\r' if ka + 1 == buf.len() => return Ok(Frame::Incomplete),
            b'\n' => ka += 1,
            _ => break,
        }
    }
    if ka > 0 {
        return Ok(Frame::KeepAlive(ka));
    }
    // Find the empty line ending the header section.
    let limit = buf.len().min(max_message);
    let window = buf.get(..limit).unwrap_or(buf);
    let mut pos = 0;
    let header_end = loop {
        let Some(nl) = window
            .get(pos..)
            .and_then(|r| memchr(b'\n', r))
            .map(|i| pos + i)
        else {
            return if buf.len() >= max_message {
                Err(ParseError::new(ParseErrorKind::TooLarge))
            } else {
                Ok(Frame::Incomplete)
            };
        };
        let line = window.get(pos..nl).unwrap_or(&[]);
        if pos > 0 && (line.is_empty() || line == b"\r") {
            break nl + 1;
        }
        pos = nl + 1;
    };
    let head = buf.get(..header_end).unwrap_or(&[]);
    let s = scan(head);
    let cl = content_length_of(head, &s.headers).map_err(ParseError::new)?;
    let n = match cl {
        ClState::One(n) => n as usize,
        ClState::Absent => return Err(ParseError::new(ParseErrorKind::MissingContentLength)),
        ClState::Conflict => {
            return Err(ParseError::new(ParseErrorKind::ConflictingContentLength));
        }
    };
    let total = header_end
        .checked_add(n)
        .ok_or(ParseError::new(ParseErrorKind::TooLarge))?;
    if total > max_message {
        return Err(ParseError::new(ParseErrorKind::TooLarge));
    }
    Ok(if buf.len() >= total {
        Frame::Complete(total)
    } else {
        Frame::Incomplete
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";

    #[test]
    fn frames() {
        assert_eq!(frame_stream(MSG, 1000).unwrap(), Frame::Complete(MSG.len()));
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(
            frame_stream(&two, 1000).unwrap(),
            Frame::Complete(MSG.len())
        );
        for cut in 0..MSG.len() {
            assert_eq!(
                frame_stream(&MSG[..cut], 1000).unwrap(),
                Frame::Incomplete,
                "{cut}"
            );
        }
        assert_eq!(
            frame_stream(b"\r\n\r\nOPT", 1000).unwrap(),
            Frame::KeepAlive(4)
        );
        assert_eq!(frame_stream(b"\r\n", 1000).unwrap(), Frame::KeepAlive(2));
        assert_eq!(frame_stream(b"\r", 1000).unwrap(), Frame::Incomplete);
    }

    #[test]
    fn frame_errors() {
        let k = |r: Result<Frame, ParseError>| r.unwrap_err().kind().clone();
        assert_eq!(k(frame_stream(MSG, 20)), ParseErrorKind::TooLarge);
        assert_eq!(k(frame_stream(&[b'a'; 100], 50)), ParseErrorKind::TooLarge);
        assert_eq!(k(frame_stream(MSG, 35)), ParseErrorKind::TooLarge);
        assert_eq!(frame_stream(MSG, 36).unwrap(), Frame::Complete(36));
        assert_eq!(
            k(frame_stream(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n", 100)),
            ParseErrorKind::MissingContentLength
        );
        assert_eq!(
            k(frame_stream(
                b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\n",
                100
            )),
            ParseErrorKind::ConflictingContentLength
        );
        assert_eq!(
            k(frame_stream(
                b"OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n",
                100
            )),
            ParseErrorKind::BadContentLength
        );
    }
}
