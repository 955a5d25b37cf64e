//! SIP transaction layer (RFC 3261 section 17, as updated by RFC 6026), sans-IO.
//!
//! This module owns the four transaction state machines and the
//! [`TransactionLayer`] that multiplexes thousands of them. It owns no socket
//! and never reads a clock: the caller feeds it events (a request or response
//! arrived, the TU wants to send, time advanced to `now`) and drains
//! [`Action`]s with [`TransactionLayer::poll_action`]. The next deadline is
//! [`TransactionLayer::poll_timeout`]; when it passes, call
//! [`TransactionLayer::handle_timeout`].
//!
//! The layer does not parse SIP. The caller (which owns the codec) passes what
//! the state machines need: a [`TransactionKey`] built from the top Via and the
//! method, the [`MethodKind`], status codes as `u16`, and the serialized bytes
//! to send and retransmit. Destinations are an opaque caller type implementing
//! [`Destination`], which also says whether the transport is reliable (this
//! changes the timers as RFC 3261 section 17 requires).
//!
//! Incoming INVITE (UAS side):
//! 1. `handle_request(key, MethodKind::Invite, source, now)` returns
//!    [`RequestOutcome::New`]: give the request to the TU. A retransmission
//!    returns [`RequestOutcome::Absorbed`] and is dropped.
//! 2. TU answers with `send_response(&key, 180, bytes, now)` and later
//!    `send_response(&key, 200, bytes, now)` (or a 4xx-6xx).
//! 3. For a 2xx, the ACK has a new branch and comes back as
//!    [`RequestOutcome::UnmatchedAck`] (dialog layer's business).
//! 4. Drain `poll_action()` after every call and run `handle_timeout` at
//!    `poll_timeout()`.
//!
//! Outgoing INVITE (UAC side):
//! 1. `send_request(key, MethodKind::Invite, bytes, dest, now)`, then drain
//!    `poll_action()` ([`Action::Transmit`]).
//! 2. Each response: `handle_response(&key, status, now, || ack_bytes)`; the
//!    closure is called only for the first non-2xx final response, to build
//!    the ACK the transaction sends itself. [`ResponseOutcome::PassToTu`]
//!    means give the response to the TU.
//! 3. Timeouts surface as [`TuEvent::Timeout`] (Timer B: treat as 408).

mod client_invite;
mod client_non_invite;
mod config;
mod event;
mod key;
mod layer;
mod machine;
mod server_invite;
mod server_non_invite;

#[cfg(test)]
mod tests;

pub use config::Config;
pub use event::{
    Action, CancelTarget, RequestOutcome, ResponseOutcome, TransactionError, TransactionId,
    Transmit, TuEvent,
};
pub use key::{KeyError, MAGIC_COOKIE, MethodKind, TransactionKey};
pub use layer::TransactionLayer;

/// A caller-supplied destination (transport + address, connection handle...).
///
/// The layer only clones it into [`Transmit`] actions and asks whether the
/// transport is reliable (TCP, TLS, SCTP, WS) or not (UDP).
pub trait Destination: Clone {
    /// `true` for reliable transports: no retransmissions, zero wait timers.
    fn is_reliable(&self) -> bool;
}

/// Which side of the exchange a transaction is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Client transaction: we sent the request.
    Client,
    /// Server transaction: we received the request.
    Server,
}

/// Transaction state (RFC 3261 figures 5-8, RFC 6026 figures 5 and 7).
///
/// `Terminated` is not represented: a terminated transaction is removed from
/// the layer and a [`TuEvent::Terminated`] is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Client INVITE, request sent, no response yet.
    Calling,
    /// Non-INVITE (client or server), no response yet.
    Trying,
    /// A provisional response was received (client) or sent (server).
    Proceeding,
    /// A final response (non-2xx for INVITE) was received or sent.
    Completed,
    /// Server INVITE: ACK for the non-2xx final response received.
    Confirmed,
    /// INVITE (RFC 6026): a 2xx was received (client) or sent (server).
    Accepted,
}

/// The RFC 3261 / RFC 6026 timers, named as in RFC 3261 table 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Client INVITE request retransmission (unreliable only).
    A,
    /// Client INVITE transaction timeout.
    B,
    /// Client INVITE wait for response retransmissions in Completed.
    D,
    /// Client non-INVITE request retransmission (unreliable only).
    E,
    /// Client non-INVITE transaction timeout.
    F,
    /// Server INVITE final response retransmission (unreliable only).
    G,
    /// Server INVITE wait for ACK.
    H,
    /// Server INVITE wait for ACK retransmissions in Confirmed.
    I,
    /// Server non-INVITE wait for request retransmissions in Completed.
    J,
    /// Client non-INVITE wait for response retransmissions in Completed.
    K,
    /// Server INVITE wait in Accepted (RFC 6026).
    L,
    /// Client INVITE wait in Accepted (RFC 6026).
    M,
}
