//! Test harness for the transaction layer: a fake clock (plain `Instant`s
//! advanced by hand), a fake destination, and helpers that drain actions
//! into a compact form for exact assertions.

mod client;
mod layer;
mod server;

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{
    Action, Config, Destination, MethodKind, Role, Timer, TransactionId, TransactionKey,
    TransactionLayer, Transmit, TuEvent,
};

/// Fake destination: a name and a reliability flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Peer {
    pub name: &'static str,
    pub reliable: bool,
}

impl Destination for Peer {
    fn is_reliable(&self) -> bool {
        self.reliable
    }
}

pub(super) const UDP: Peer = Peer {
    name: "udp-peer",
    reliable: false,
};
pub(super) const TCP: Peer = Peer {
    name: "tcp-peer",
    reliable: true,
};

/// Compact view of an action (dest and tx id are checked separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Out {
    /// Transmit of these bytes (as text).
    Tx(&'static str),
    Timeout(Timer),
    TransportError,
    TryingDue,
    Terminated,
}

pub(super) fn key(branch: &str, method: &str) -> TransactionKey {
    TransactionKey::new(&format!("z9hG4bK{branch}"), "192.0.2.1:5060", method).unwrap()
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) struct Harness {
    pub layer: TransactionLayer<Peer>,
    pub t0: Instant,
    pub now: Instant,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        let t0 = Instant::now();
        Self {
            layer: TransactionLayer::new(config),
            t0,
            now: t0,
        }
    }

    /// Fake clock: the instant `ms` milliseconds after the start.
    pub fn at(&self, n: u64) -> Instant {
        self.t0 + ms(n)
    }

    /// Move the clock to `n` ms without firing timers.
    pub fn set(&mut self, n: u64) -> Instant {
        self.now = self.at(n);
        self.now
    }

    fn elapsed_ms(&self, t: Instant) -> u64 {
        u64::try_from((t - self.t0).as_millis()).unwrap()
    }

    /// Drain queued actions into their compact form.
    pub fn drain(&mut self) -> Vec<Out> {
        std::iter::from_fn(|| self.layer.poll_action())
            .map(|a| compact(&a))
            .collect()
    }

    /// Drain queued actions in full.
    pub fn drain_full(&mut self) -> Vec<Action<Peer>> {
        std::iter::from_fn(|| self.layer.poll_action()).collect()
    }

    /// Fire timers exactly at each `poll_timeout()` up to `until` ms,
    /// returning `(ms, action)` for everything that happened.
    pub fn run_until(&mut self, until: u64) -> Vec<(u64, Out)> {
        let end = self.at(until);
        let mut log = Vec::new();
        while let Some(t) = self.layer.poll_timeout() {
            if t > end {
                break;
            }
            assert!(t >= self.now, "deadline in the past");
            self.now = t;
            self.layer.handle_timeout(t);
            let when = self.elapsed_ms(t);
            log.extend(self.drain().into_iter().map(|o| (when, o)));
        }
        self.now = end;
        log
    }

    /// Next deadline in ms from the start.
    pub fn next_ms(&mut self) -> Option<u64> {
        self.layer.poll_timeout().map(|t| self.elapsed_ms(t))
    }

    pub fn request(&mut self, key: &TransactionKey, kind: MethodKind, peer: Peer) -> Vec<Out> {
        self.layer
            .send_request(key.clone(), kind, bytes(kind), peer, self.now)
            .unwrap();
        self.drain()
    }

    pub fn respond(&mut self, key: &TransactionKey, status: u16, text: &'static str) -> Vec<Out> {
        self.layer
            .send_response(key, status, Bytes::from_static(text.as_bytes()), self.now)
            .unwrap();
        self.drain()
    }
}

pub(super) fn bytes(kind: MethodKind) -> Bytes {
    Bytes::from_static(match kind {
        MethodKind::Invite => b"INVITE",
        MethodKind::Ack => b"ACK",
        MethodKind::Cancel => b"CANCEL",
        MethodKind::Other => b"OPTIONS",
    })
}

fn text(b: &Bytes) -> &'static str {
    // Test payloads are all static strings; leak a copy for comparison.
    Box::leak(String::from_utf8(b.to_vec()).unwrap().into_boxed_str())
}

pub(super) fn compact(action: &Action<Peer>) -> Out {
    match action {
        Action::Transmit(Transmit { bytes, .. }) => Out::Tx(text(bytes)),
        Action::Event(TuEvent::Timeout { timer, .. }) => Out::Timeout(*timer),
        Action::Event(TuEvent::TransportError { .. }) => Out::TransportError,
        Action::Event(TuEvent::TryingDue { .. }) => Out::TryingDue,
        Action::Event(TuEvent::Terminated { .. }) => Out::Terminated,
    }
}

pub(super) fn tx(role: Role, key: &TransactionKey) -> TransactionId {
    TransactionId {
        role,
        key: key.clone(),
    }
}

/// Expected `(ms, Tx(text))` rows at the given times.
pub(super) fn sends(text: &'static str, times: &[u64]) -> Vec<(u64, Out)> {
    times.iter().map(|&t| (t, Out::Tx(text))).collect()
}
