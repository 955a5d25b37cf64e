//! Plumbing shared by the four state machines: the effects they emit, the
//! doubling retransmission timer, status classification, and the [`Machine`]
//! enum the layer stores and dispatches on.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use super::{Config, State, Timer};

/// What a state machine asks the layer to do; the layer adds the
/// destination and transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Effect {
    /// Send these bytes to the transaction's destination.
    Transmit(Bytes),
    /// A timeout ended the transaction.
    Timeout(Timer),
    /// Server INVITE: the TU should send 100 Trying now.
    TryingDue,
}

/// Status code class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// 1xx.
    Provisional,
    /// 2xx.
    Success,
    /// 3xx-6xx.
    Failure,
}

pub(super) fn class(status: u16) -> Class {
    match status {
        0..=199 => Class::Provisional,
        200..=299 => Class::Success,
        _ => Class::Failure,
    }
}

/// A retransmission timer (A, E, G): fires at `at`, then is re-armed with
/// the next interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Backoff {
    pub at: Instant,
    pub interval: Duration,
}

impl Backoff {
    pub fn start(now: Instant, interval: Duration) -> Self {
        Self {
            at: now + interval,
            interval,
        }
    }

    /// Re-arm after firing: `next` maps the previous interval to the next
    /// one. If the caller was late, skip missed firings so the new deadline
    /// is after `now` (one retransmission per `handle_timeout`, no burst).
    pub fn rearm(&mut self, now: Instant, next: impl Fn(Duration) -> Duration) {
        loop {
            self.interval = next(self.interval);
            self.at += self.interval;
            if self.at > now || self.interval.is_zero() {
                break;
            }
        }
    }
}

/// Earliest of optional deadlines.
pub(super) fn earliest(deadlines: &[Option<Instant>]) -> Option<Instant> {
    deadlines.iter().flatten().min().copied()
}

/// One transaction's state machine.
#[derive(Debug)]
pub(super) enum Machine {
    InviteClient(ClientInvite),
    NonInviteClient(ClientNonInvite),
    InviteServer(ServerInvite),
    NonInviteServer(ServerNonInvite),
}

impl Machine {
    /// Current state; `None` once terminated.
    pub fn state(&self) -> Option<State> {
        match self {
            Self::InviteClient(m) => m.state(),
            Self::NonInviteClient(m) => m.state(),
            Self::InviteServer(m) => m.state(),
            Self::NonInviteServer(m) => m.state(),
        }
    }

    /// Earliest armed timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self {
            Self::InviteClient(m) => m.next_deadline(),
            Self::NonInviteClient(m) => m.next_deadline(),
            Self::InviteServer(m) => m.next_deadline(),
            Self::NonInviteServer(m) => m.next_deadline(),
        }
    }

    /// Fire every timer due at `now`.
    pub fn on_timeout(&mut self, now: Instant, cfg: &Config, out: &mut Vec<Effect>) {
        match self {
            Self::InviteClient(m) => m.on_timeout(now, out),
            Self::NonInviteClient(m) => m.on_timeout(now, cfg, out),
            Self::InviteServer(m) => m.on_timeout(now, cfg, out),
            Self::NonInviteServer(m) => m.on_timeout(now),
        }
    }

    /// Abort after a transport error.
    pub fn terminate(&mut self) {
        match self {
            Self::InviteClient(m) => m.terminate(),
            Self::NonInviteClient(m) => m.terminate(),
            Self::InviteServer(m) => m.terminate(),
            Self::NonInviteServer(m) => m.terminate(),
        }
    }
}
