//! Switchboard's SIP message codec.
//!
//! Owned, zero-copy, lazily-typed messages: [`SipMessage`] keeps the input
//! [`bytes::Bytes`] plus byte ranges for the start line, each header and the
//! body; header names are classified once ([`HeaderName`]) and values are
//! parsed into typed forms only when asked for (`via()`, `from()`,
//! `cseq()`, ...), borrowing from the message.
//!
//! - Parsing: [`parse_datagram`] (UDP), [`frame_stream`] +
//!   [`parse_stream_message`] (TCP/TLS).
//! - Errors: [`ParseError`] (with [`ParseError::can_respond`] and
//!   [`error_response`]) and [`ValueError`] for typed access.
//! - Building: [`MessageBuilder`], [`response_to`],
//!   [`SipMessage::to_bytes`], [`SipMessage::edit`].
//! - Validation: [`validate`] (RFC 3261 8.2 / RFC 4475 verdicts).
//!
//! No input can make this module panic.

mod auth;
mod builder;
mod error;
mod frame;
mod header_name;
mod message;
mod method;
mod name_addr;
mod params;
mod parse;
mod scan;
mod serialize;
mod uri;
pub mod validate;
mod values;
mod via;

pub use auth::{AuthValue, Challenge, Credentials};
pub use builder::{MessageBuilder, error_response, response_to, response_to_with_via};
pub use error::{ParseError, ParseErrorKind, RespondContext, ValueError};
pub use frame::{Frame, frame_stream};
pub use header_name::HeaderName;
pub use message::{Header, HeaderValue, SipMessage};
pub use method::Method;
pub use name_addr::{Contacts, NameAddr};
pub use params::{Host, Param, Params};
pub use parse::{parse_datagram, parse_stream_message};
pub use scan::unquote;
pub use serialize::Editor;
pub use uri::{Scheme, Uri, percent_decode};
pub use validate::{
    Policy, Rejection, ResponseRole, ResponseVerdict, Verdict, check_forward, check_request,
    check_response,
};
pub use values::{CSeq, ContentType, is_valid_sip_date};
pub use via::{RPort, Via};
