//! Everything the transaction layer hands back to its caller: queued
//! [`Action`]s (transmissions and TU events), the immediate outcomes of
//! `handle_request` / `handle_response`, and API errors.

use bytes::Bytes;

use super::{Role, Timer, TransactionKey};

/// Names one transaction: client and server transactions live in separate
/// tables, so the key alone is ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionId {
    /// Client or server side.
    pub role: Role,
    /// Matching key.
    pub key: TransactionKey,
}

/// Send these bytes to `dest`. If the transport fails, report it with
/// [`super::TransactionLayer::transport_error`] using `tx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit<D> {
    /// The transaction that sends.
    pub tx: TransactionId,
    /// Where to send (as given by the caller).
    pub dest: D,
    /// The serialized message.
    pub bytes: Bytes,
}

/// Asynchronous notifications for the transaction user (core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TuEvent {
    /// A timeout ended the transaction: Timer B or F (client: treat as a 408
    /// response) or Timer H (server: the ACK never came).
    Timeout {
        /// The transaction that timed out.
        tx: TransactionId,
        /// Which timer fired.
        timer: Timer,
    },
    /// The caller reported a transport error; the transaction is ended.
    /// (Client: treat as a 503 response, RFC 3261 8.1.3.1.)
    TransportError {
        /// The failed transaction.
        tx: TransactionId,
    },
    /// A server INVITE transaction has sent nothing for `trying_delay`
    /// (200 ms): send a 100 Trying now with `send_response` (RFC 3261
    /// 17.2.1).
    TryingDue {
        /// The server INVITE transaction.
        key: TransactionKey,
    },
    /// The transaction reached Terminated and was removed. Always the last
    /// event for a transaction.
    Terminated {
        /// The removed transaction.
        tx: TransactionId,
    },
}

/// An output of the layer, drained with `poll_action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<D> {
    /// Put bytes on the wire.
    Transmit(Transmit<D>),
    /// Tell the TU something.
    Event(TuEvent),
}

/// What the matching INVITE server transaction of a CANCEL is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelTarget {
    /// No INVITE server transaction matches: answer the CANCEL with 481.
    NotFound,
    /// Matching INVITE still in Proceeding: answer the CANCEL 200 and the
    /// INVITE 487 (RFC 3261 9.2).
    Pending(TransactionKey),
    /// Matching INVITE already has a final response: answer the CANCEL 200
    /// only.
    Answered(TransactionKey),
}

/// What the caller must do with a request it just gave to `handle_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A new server transaction was created: pass the request to the TU.
    New,
    /// A new server transaction for a CANCEL was created: pass it to the TU
    /// together with what it cancels.
    NewCancel(CancelTarget),
    /// A retransmission, or the ACK for a non-2xx final response: absorbed
    /// (any response retransmission is queued as an action). Drop it.
    Absorbed,
    /// An ACK matched an INVITE server transaction in Accepted (RFC 6026):
    /// pass it to the TU.
    AckToTu,
    /// An ACK matching no transaction (normally the ACK for a 2xx, which has
    /// its own branch): pass it to the TU / dialog layer.
    UnmatchedAck,
}

/// What the caller must do with a response it just gave to `handle_response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseOutcome {
    /// Pass the response to the TU.
    PassToTu,
    /// A retransmission, absorbed (an ACK may have been re-sent). Drop it.
    Absorbed,
    /// No client transaction matches (RFC 3261 18.1.2): pass to the core,
    /// which may e.g. ACK a stray 2xx or drop it.
    Stray,
}

/// Errors from the TU-facing calls.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The table is at `max_transactions`: refuse the request (503).
    #[error("transaction table full")]
    Full,
    /// A transaction with this key and role already exists.
    #[error("transaction already exists")]
    Exists,
    /// No live transaction with this key and role.
    #[error("no such transaction")]
    NotFound,
    /// The method kind does not fit the key, or ACK was given to
    /// `send_request` (ACK is never a client transaction).
    #[error("method does not fit the transaction key")]
    MethodMismatch,
    /// Status code outside 100..=699.
    #[error("invalid status code {0}")]
    InvalidStatus(u16),
    /// The response is not allowed in the transaction's current state (e.g.
    /// a second final response).
    #[error("response not allowed in the current transaction state")]
    InvalidState,
}
