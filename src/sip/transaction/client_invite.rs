//! Client INVITE transaction (RFC 3261 17.1.1, RFC 6026 figure 5):
//! Calling -> Proceeding -> Completed | Accepted -> Terminated, with timers
//! A (retransmit, unreliable only), B (timeout), D (absorb final response
//! retransmissions) and M (absorb/forward 2xx retransmissions).

use std::time::Instant;

use bytes::Bytes;

use super::event::ResponseOutcome;
use super::machine::{Backoff, Class, Effect, class, earliest};
use super::{Config, State, Timer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// State of one client INVITE transaction.
#[derive(Debug)]
pub(super) struct ClientInvite {
    st: St,
    reliable: bool,
    request: Bytes,
    /// ACK for the non-2xx final response, re-sent on retransmissions.
    ack: Option<Bytes>,
    timer_a: Option<Backoff>,
    /// Timer B in Calling, D in Completed, M in Accepted.
    end: Option<Instant>,
}

impl ClientInvite {
    /// Enter Calling: send the request, start A (unreliable) and B.
    pub fn start(
        request: Bytes,
        reliable: bool,
        now: Instant,
        cfg: &Config,
        out: &mut Vec<Effect>,
    ) -> Self {
        out.push(Effect::Transmit(request.clone()));
        Self {
            st: St::Calling,
            reliable,
            request,
            ack: None,
            timer_a: (!reliable).then(|| Backoff::start(now, cfg.t1)),
            end: Some(now + cfg.t1_x64()),
        }
    }

    pub fn state(&self) -> Option<State> {
        match self.st {
            St::Calling => Some(State::Calling),
            St::Proceeding => Some(State::Proceeding),
            St::Completed => Some(State::Completed),
            St::Accepted => Some(State::Accepted),
            St::Terminated => None,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        earliest(&[self.timer_a.map(|a| a.at), self.end])
    }

    pub fn terminate(&mut self) {
        self.st = St::Terminated;
        self.timer_a = None;
        self.end = None;
    }

    /// A response matched this transaction. `build_ack` is called once, for
    /// the first non-2xx final response.
    pub fn on_response(
        &mut self,
        status: u16,
        now: Instant,
        cfg: &Config,
        build_ack: impl FnOnce() -> Bytes,
        out: &mut Vec<Effect>,
    ) -> ResponseOutcome {
        match (self.st, class(status)) {
            (St::Calling | St::Proceeding, Class::Provisional) => {
                self.st = St::Proceeding;
                self.timer_a = None;
                self.end = None;
                ResponseOutcome::PassToTu
            }
            (St::Calling | St::Proceeding, Class::Success) => {
                self.st = St::Accepted;
                self.timer_a = None;
                self.end = Some(now + cfg.t1_x64());
                ResponseOutcome::PassToTu
            }
            (St::Calling | St::Proceeding, Class::Failure) => {
                let ack = build_ack();
                out.push(Effect::Transmit(ack.clone()));
                self.ack = Some(ack);
                self.timer_a = None;
                let d = cfg.timer_d(self.reliable);
                if d.is_zero() {
                    self.terminate();
                } else {
                    self.st = St::Completed;
                    self.end = Some(now + d);
                }
                ResponseOutcome::PassToTu
            }
            (St::Completed, Class::Failure) => {
                if let Some(ack) = &self.ack {
                    out.push(Effect::Transmit(ack.clone()));
                }
                ResponseOutcome::Absorbed
            }
            (St::Accepted, Class::Success) => ResponseOutcome::PassToTu,
            (St::Completed | St::Accepted, _) => ResponseOutcome::Absorbed,
            (St::Terminated, _) => ResponseOutcome::Stray,
        }
    }

    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if self.end.is_some_and(|end| end <= now) {
            if self.st == St::Calling {
                out.push(Effect::Timeout(Timer::B));
            }
            self.terminate();
            return;
        }
        if let Some(a) = &mut self.timer_a {
            if a.at <= now {
                out.push(Effect::Transmit(self.request.clone()));
                a.rearm(now, |i| i * 2);
            }
        }
    }
}
