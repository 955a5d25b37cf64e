//! Server INVITE transaction (RFC 3261 17.2.1, RFC 6026 figure 7):
//! Proceeding -> Completed -> Confirmed, or Proceeding -> Accepted, then
//! Terminated; timers G (retransmit the non-2xx final, unreliable only), H
//! (wait for ACK), I (absorb ACK retransmissions), L (absorb INVITE
//! retransmissions after a 2xx), and the 200 ms "send 100 Trying" nudge.

use std::time::Instant;

use bytes::Bytes;

use super::event::{RequestOutcome, TransactionError};
use super::machine::{Backoff, Class, Effect, class, earliest};
use super::{Config, MethodKind, State, Timer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// State of one server INVITE transaction.
#[derive(Debug)]
pub(super) struct ServerInvite {
    st: St,
    reliable: bool,
    /// Last provisional (Proceeding) or the non-2xx final (Completed).
    last: Option<Bytes>,
    trying_at: Option<Instant>,
    timer_g: Option<Backoff>,
    /// Timer H in Completed, I in Confirmed, L in Accepted.
    end: Option<Instant>,
}

impl ServerInvite {
    /// Enter Proceeding on a new INVITE.
    pub fn start(reliable: bool, now: Instant, cfg: &Config) -> Self {
        Self {
            st: St::Proceeding,
            reliable,
            last: None,
            trying_at: cfg.trying_delay.map(|d| now + d),
            timer_g: None,
            end: None,
        }
    }

    pub fn state(&self) -> Option<State> {
        match self.st {
            St::Proceeding => Some(State::Proceeding),
            St::Completed => Some(State::Completed),
            St::Confirmed => Some(State::Confirmed),
            St::Accepted => Some(State::Accepted),
            St::Terminated => None,
        }
    }

    /// `true` until a final response was sent (for CANCEL handling).
    pub fn is_pending(&self) -> bool {
        self.st == St::Proceeding
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        earliest(&[self.trying_at, self.timer_g.map(|g| g.at), self.end])
    }

    pub fn terminate(&mut self) {
        self.st = St::Terminated;
        self.trying_at = None;
        self.timer_g = None;
        self.end = None;
    }

    /// A retransmitted INVITE or an ACK matched this transaction.
    pub fn on_request(
        &mut self,
        kind: MethodKind,
        now: Instant,
        cfg: &Config,
        out: &mut Vec<Effect>,
    ) -> RequestOutcome {
        let ack = kind == MethodKind::Ack;
        match (self.st, ack) {
            (St::Proceeding | St::Completed, false) => {
                if let Some(last) = &self.last {
                    out.push(Effect::Transmit(last.clone()));
                }
                RequestOutcome::Absorbed
            }
            (St::Completed, true) => {
                self.timer_g = None;
                let i = cfg.timer_i_k(self.reliable);
                if i.is_zero() {
                    self.terminate();
                } else {
                    self.st = St::Confirmed;
                    self.end = Some(now + i);
                }
                RequestOutcome::Absorbed
            }
            (St::Accepted, true) => RequestOutcome::AckToTu,
            // ACK before any final response, ACK/INVITE in Confirmed, INVITE
            // in Accepted (RFC 6026 7.1): absorbed silently.
            _ => RequestOutcome::Absorbed,
        }
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
        match (self.st, class(status)) {
            (St::Proceeding, Class::Provisional) => {
                self.trying_at = None;
                out.push(Effect::Transmit(bytes.clone()));
                self.last = Some(bytes);
            }
            (St::Proceeding, Class::Success) => {
                self.trying_at = None;
                out.push(Effect::Transmit(bytes));
                self.last = None;
                self.st = St::Accepted;
                self.end = Some(now + cfg.t1_x64());
            }
            (St::Proceeding, Class::Failure) => {
                self.trying_at = None;
                out.push(Effect::Transmit(bytes.clone()));
                self.last = Some(bytes);
                self.st = St::Completed;
                self.timer_g = (!self.reliable).then(|| Backoff::start(now, cfg.t1));
                self.end = Some(now + cfg.t1_x64());
            }
            // RFC 6026: 2xx retransmissions from the TU pass through.
            (St::Accepted, Class::Success) => out.push(Effect::Transmit(bytes)),
            _ => return Err(TransactionError::InvalidState),
        }
        Ok(())
    }

    pub fn on_timeout(&mut self, now: Instant, cfg: &Config, out: &mut Vec<Effect>) {
        if self.end.is_some_and(|end| end <= now) {
            if self.st == St::Completed {
                out.push(Effect::Timeout(Timer::H));
            }
            self.terminate();
            return;
        }
        if self.trying_at.is_some_and(|t| t <= now) {
            self.trying_at = None;
            out.push(Effect::TryingDue);
        }
        if let (Some(g), Some(last)) = (&mut self.timer_g, &self.last) {
            if g.at <= now {
                out.push(Effect::Transmit(last.clone()));
                let t2 = cfg.t2;
                g.rearm(now, |i| (i * 2).min(t2));
            }
        }
    }
}
