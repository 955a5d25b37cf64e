//! Error types: [`ParseError`] for whole-message parsing and framing (with
//! the raw Via/From/To/Call-ID/CSeq values when they were found, so a server
//! can still answer 400), and [`ValueError`] for typed header access.

use bytes::Bytes;
use smallvec::SmallVec;

/// What is wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    #[error("empty message")]
    Empty,
    #[error("malformed start line")]
    BadStartLine,
    #[error("malformed Request-URI")]
    BadRequestUri,
    #[error("malformed SIP version")]
    BadVersion,
    #[error("malformed status code")]
    BadStatusCode,
    #[error("malformed header line")]
    BadHeaderLine,
    #[error("continuation line without a header")]
    OrphanContinuation,
    #[error("header section not terminated by an empty line")]
    UnterminatedHeaders,
    #[error("missing Content-Length")]
    MissingContentLength,
    #[error("invalid Content-Length")]
    BadContentLength,
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    #[error("body shorter than Content-Length")]
    BodyTruncated,
    #[error("message larger than allowed")]
    TooLarge,
}

/// Raw values of the headers a response needs, captured from a message that
/// failed to parse (RFC 3261 8.2.6.2 needs Via, From, To, Call-ID, CSeq).
#[derive(Debug, Clone, Default)]
pub struct RespondContext {
    /// True if the start line looked like a request (not a response).
    pub is_request: bool,
    /// Each Via header line's value, in order.
    pub via: SmallVec<[Bytes; 2]>,
    pub from: Option<Bytes>,
    pub to: Option<Bytes>,
    pub call_id: Option<Bytes>,
    pub cseq: Option<Bytes>,
}

/// A message-level parse or framing error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    kind: ParseErrorKind,
    context: Option<Box<RespondContext>>,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind) -> Self {
        ParseError {
            kind,
            context: None,
        }
    }
    pub(crate) fn with_context(kind: ParseErrorKind, ctx: RespondContext) -> Self {
        ParseError {
            kind,
            context: Some(Box::new(ctx)),
        }
    }
    /// What went wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }
    /// The captured header values, if the header section could be scanned.
    pub fn context(&self) -> Option<&RespondContext> {
        self.context.as_deref()
    }
    /// True when the message was a request and Via, From, To, Call-ID and
    /// CSeq were all found, so a 400 can be sent (see
    /// [`crate::sip::codec::error_response`]). Responses are never answered.
    pub fn can_respond(&self) -> bool {
        self.context.as_deref().is_some_and(|c| {
            c.is_request
                && !c.via.is_empty()
                && c.from.is_some()
                && c.to.is_some()
                && c.call_id.is_some()
                && c.cseq.is_some()
        })
    }
    /// A reason phrase suitable for the 400 response.
    pub fn reason_phrase(&self) -> &'static str {
        match self.kind {
            ParseErrorKind::BadRequestUri => "Bad Request-URI",
            ParseErrorKind::BadVersion => "Bad SIP Version",
            ParseErrorKind::BadStartLine => "Bad Request Line",
            ParseErrorKind::BadHeaderLine | ParseErrorKind::OrphanContinuation => {
                "Malformed Header"
            }
            ParseErrorKind::MissingContentLength => "Missing Content-Length",
            ParseErrorKind::BadContentLength
            | ParseErrorKind::ConflictingContentLength
            | ParseErrorKind::BodyTruncated => "Bad Content-Length",
            ParseErrorKind::TooLarge => "Message Too Large",
            _ => "Bad Request",
        }
    }
}

/// Error from a typed header accessor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("header missing")]
    Missing,
    #[error("header value is not UTF-8")]
    NotUtf8,
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("{0} out of range")]
    OutOfRange(&'static str),
}
