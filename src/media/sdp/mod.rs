//! SDP (RFC 8866, formerly RFC 4566) for the media core: the data model,
//! a strict-but-tolerant parser, serialization back to text, and RFC 3264
//! offer/answer negotiation for audio.
//!
//! This module owns the public surface and the parse error type; the work
//! is split into:
//! - `model`: the types ([`SessionDescription`], [`MediaDescription`], ...)
//!   and semantic helpers (effective address and direction, hold detection,
//!   static payload types, session-version bump);
//! - `codec`: [`Codec`] and the RFC 3551 static payload types;
//! - `parse`: text -> model ([`parse`], [`parse_bytes`], `FromStr`);
//! - `build`: model -> text (`Display`, always `\r\n`);
//! - `negotiate`: answering an offer ([`answer`]), building our offer
//!   ([`build_offer`]) and reading the answer to it ([`process_answer`]).
//!
//! # Parsing choices
//! Rejected with an [`SdpError`] naming the 1-based line and the reason: a
//! line that is not `<letter>=<value>`, an unknown type letter, `v=` not
//! first or not `0`, a missing or malformed `o=`, duplicate `v=`/`o=`/`s=`,
//! session-only lines (`o= s= t= r= z= u= e= p= v=`) inside a media section,
//! `r=` before `t=`, malformed `c=`/`b=`/`t=`/`m=` lines, a non-numeric port,
//! a non-numeric payload type on an RTP `m=` line, a malformed `rtpmap`,
//! `fmtp` or `rtcp` attribute, conflicting rtpmaps for one payload type, and
//! input that is not UTF-8.
//!
//! Tolerated (what real phones send): `\n` as well as `\r\n` line ends,
//! trailing spaces/tabs, blank lines, several spaces between fields, a
//! missing `s=` (taken as `-`) or `t=` (taken as `t=0 0`), an `m=` line with
//! no formats, and a `ptime`/`maxptime` that is not an integer (kept as an
//! untyped attribute). An `s=` with an empty value is kept as empty and
//! written back as `s= `.
//!
//! Serialization is canonical: typed attributes come first (rtpmaps each
//! followed by their fmtps, then ptime, maxptime, rtcp, rtcp-mux,
//! direction), then the others in their original order, so
//! `parse(&sdp.to_string()) == Ok(sdp)` for every parsed `sdp`.

mod build;
mod codec;
mod model;
mod negotiate;
mod parse;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_negotiate;

pub use codec::{Codec, static_codec};
pub use model::{
    Attribute, Bandwidth, Connection, Direction, Fmtp, HOLD_ADDRESS, MediaDescription, MediaType,
    Origin, Protocol, Rtcp, RtpMap, SessionDescription, Timing,
};
pub use negotiate::{
    Answer, Capabilities, CodecPreference, LocalSession, NegotiatedMedia, NegotiationError,
    PayloadFormat, answer, answer_with, build_offer, process_answer,
};
pub use parse::{parse, parse_bytes};

/// Why a session description was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SDP at line {line} ({text:?}): {kind}")]
pub struct SdpError {
    /// 1-based line number; 0 when the problem is the whole description.
    pub line: usize,
    /// The offending line (truncated to 80 characters).
    pub text: String,
    pub kind: SdpErrorKind,
}

/// The reason in an [`SdpError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpErrorKind {
    #[error("not valid UTF-8")]
    NotUtf8,
    #[error("empty session description")]
    Empty,
    #[error("not of the form <type>=<value>")]
    MissingEquals,
    #[error("unknown line type '{0}'")]
    UnknownType(char),
    #[error("the first line must be v=")]
    VersionNotFirst,
    #[error("unsupported SDP version (only v=0)")]
    BadVersion,
    #[error("duplicate {0}= line")]
    Duplicate(char),
    #[error("{0}")]
    Misplaced(&'static str),
    #[error("missing o= line")]
    MissingOrigin,
    #[error("malformed o= line: {0}")]
    BadOrigin(&'static str),
    #[error("malformed c= line: {0}")]
    BadConnection(&'static str),
    #[error("malformed b= line")]
    BadBandwidth,
    #[error("malformed t= line")]
    BadTiming,
    #[error("malformed m= line: {0}")]
    BadMedia(&'static str),
    #[error("malformed rtpmap: {0}")]
    BadRtpmap(&'static str),
    #[error("malformed fmtp: {0}")]
    BadFmtp(&'static str),
    #[error("malformed rtcp attribute")]
    BadRtcp,
    #[error("malformed attribute: empty name")]
    BadAttribute,
}
