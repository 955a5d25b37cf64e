//! Client non-INVITE transaction (RFC 3261 17.1.2, figure 6):
//! Trying -> Proceeding -> Completed -> Terminated, with timers E
//! (retransmit, unreliable only, doubling to T2, T2 in Proceeding), F
//! (timeout) and K (absorb response retransmissions).

use std::time::Instant;

use bytes::Bytes;

use super::event::ResponseOutcome;
use super::machine::{Backoff, Class, Effect, class, earliest};
use super::{Config, State, Timer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// State of one client non-INVITE transaction.
#[derive(Debug)]
pub(super) struct ClientNonInvite {
    st: St,
    reliable: bool,
    request: Bytes,
    timer_e: Option<Backoff>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl ClientNonInvite {
    /// Enter Trying: send the request, start E (unreliable) and F.
    pub fn start(
        request: Bytes,
        reliable: bool,
        now: Instant,
        cfg: &Config,
        out: &mut Vec<Effect>,
    ) -> Self {
        out.push(Effect::Transmit(request.clone()));
        Self {
            st: St::Trying,
            reliable,
            request,
            timer_e: (!reliable).then(|| Backoff::start(now, cfg.t1)),
            timer_f: Some(now + cfg.t1_x64()),
            timer_k: None,
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
        earliest(&[self.timer_e.map(|e| e.at), self.timer_f, self.timer_k])
    }

    pub fn terminate(&mut self) {
        self.st = St::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
    }

    pub fn on_response(&mut self, status: u16, now: Instant, cfg: &Config) -> ResponseOutcome {
        match (self.st, class(status)) {
            (St::Trying | St::Proceeding, Class::Provisional) => {
                // Timer E keeps running; its next interval becomes T2.
                self.st = St::Proceeding;
                ResponseOutcome::PassToTu
            }
            (St::Trying | St::Proceeding, Class::Success | Class::Failure) => {
                self.timer_e = None;
                self.timer_f = None;
                let k = cfg.timer_i_k(self.reliable);
                if k.is_zero() {
                    self.terminate();
                } else {
                    self.st = St::Completed;
                    self.timer_k = Some(now + k);
                }
                ResponseOutcome::PassToTu
            }
            (St::Completed, _) => ResponseOutcome::Absorbed,
            (St::Terminated, _) => ResponseOutcome::Stray,
        }
    }

    pub fn on_timeout(&mut self, now: Instant, cfg: &Config, out: &mut Vec<Effect>) {
        if self.timer_f.is_some_and(|f| f <= now) {
            out.push(Effect::Timeout(Timer::F));
            self.terminate();
            return;
        }
        if self.timer_k.is_some_and(|k| k <= now) {
            self.terminate();
            return;
        }
        let proceeding = self.st == St::Proceeding;
        if let Some(e) = &mut self.timer_e {
            if e.at <= now {
                out.push(Effect::Transmit(self.request.clone()));
                let t2 = cfg.t2;
                if proceeding {
                    e.rearm(now, |_| t2);
                } else {
                    e.rearm(now, |i| (i * 2).min(t2));
                }
            }
        }
    }
}
