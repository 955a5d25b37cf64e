//! Server non-INVITE transaction (RFC 3261 17.2.2, figure 8):
//! Trying -> Proceeding -> Completed -> Terminated, with timer J (absorb
//! request retransmissions; 64*T1 on unreliable transports, zero on
//! reliable ones).

use std::time::Instant;

use bytes::Bytes;

use super::event::{RequestOutcome, TransactionError};
use super::machine::{Class, Effect, class};
use super::{Config, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// State of one server non-INVITE transaction.
#[derive(Debug)]
pub(super) struct ServerNonInvite {
    st: St,
    reliable: bool,
    /// Last response sent, repeated on request retransmissions.
    last: Option<Bytes>,
    timer_j: Option<Instant>,
}

impl ServerNonInvite {
    /// Enter Trying on a new request.
    pub fn start(reliable: bool) -> Self {
        Self {
            st: St::Trying,
            reliable,
            last: None,
            timer_j: None,
        }
    }

    pub fn state(&self) -> Option<State> {
        match self.st {
            St::Trying => Some(State::Trying),
            St::Proceeding => Some(State::Proceeding),
            St::Completed => Some(State::Completed),
            St::Terminated => None,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.timer_j
    }

    pub fn terminate(&mut self) {
        self.st = St::Terminated;
        self.timer_j = None;
    }

    /// A retransmission of the request: absorbed; in Proceeding and Completed
    /// the last response is sent again.
    pub fn on_request(&mut self, out: &mut Vec<Effect>) -> RequestOutcome {
        if let Some(last) = &self.last {
            out.push(Effect::Transmit(last.clone()));
        }
        RequestOutcome::Absorbed
    }

    /// The TU sends a response through this transaction.
    pub fn on_send(
        &mut self,
        status: u16,
        bytes: Bytes,
        now: Instant,
        cfg: &Config,
        out: &mut Vec<Effect>,
    ) -> Result<(), TransactionError> {
        if !matches!(self.st, St::Trying | St::Proceeding) {
            return Err(TransactionError::InvalidState);
        }
        out.push(Effect::Transmit(bytes.clone()));
        self.last = Some(bytes);
        if class(status) == Class::Provisional {
            self.st = St::Proceeding;
            return Ok(());
        }
        let j = cfg.timer_j(self.reliable);
        if j.is_zero() {
            self.terminate();
        } else {
            self.st = St::Completed;
            self.timer_j = Some(now + j);
        }
        Ok(())
    }

    pub fn on_timeout(&mut self, now: Instant) {
        if self.timer_j.is_some_and(|j| j <= now) {
            self.terminate();
        }
    }
}
