//! Transaction layer configuration: the base timer values (T1, T2, T4) and
//! the derived RFC 3261 timer durations, plus the table size bound.

use std::time::Duration;

/// Configuration of a [`super::TransactionLayer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// RTT estimate, RFC 3261 default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE
    /// responses, default 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, default 5 s.
    pub t4: Duration,
    /// Timer D on unreliable transports ("at least 32 s"), default 32 s.
    pub timer_d: Duration,
    /// When a server INVITE transaction asks the TU to send 100 Trying if
    /// nothing was sent yet (RFC 3261 17.2.1), default 200 ms. `None`
    /// disables the [`super::TuEvent::TryingDue`] event.
    pub trying_delay: Option<Duration>,
    /// Maximum number of live transactions (client + server), default 50,000
    /// (`limits.max_transactions`). New ones are refused with
    /// [`super::TransactionError::Full`] (answer 503).
    pub max_transactions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            trying_delay: Some(Duration::from_millis(200)),
            max_transactions: 50_000,
        }
    }
}

impl Config {
    /// 64*T1: timers B, F, H, L, M and J (unreliable).
    pub fn t1_x64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: `timer_d` on unreliable transports, zero on reliable ones.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timer_d
        }
    }

    /// Timer I (server INVITE) and K (client non-INVITE): T4 or zero.
    pub fn timer_i_k(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: 64*T1 on unreliable transports, zero on reliable ones.
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t1_x64()
        }
    }
}
