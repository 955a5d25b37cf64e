//! [`TransactionLayer`]: the table of live client and server transactions,
//! the deadline heap that drives their timers, and the action queue.
//!
//! Each transaction has at most one heap entry that counts: the one whose
//! instant equals the transaction's recorded `scheduled` deadline and whose
//! id matches (keys can be reused after a transaction ends). Entries made
//! stale by a state change are skipped when they reach the top, and the heap
//! is rebuilt if stale entries pile up.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::event::{
    Action, CancelTarget, RequestOutcome, ResponseOutcome, TransactionError, TransactionId,
    Transmit, TuEvent,
};
use super::machine::{Effect, Machine};
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use super::{Config, Destination, MethodKind, Role, State, TransactionKey};

struct Entry<D> {
    /// Unique per transaction ever created, to tell reused keys apart.
    id: u64,
    dest: D,
    machine: Machine,
    /// Deadline with a live heap entry.
    scheduled: Option<Instant>,
}

struct Scheduled {
    at: Instant,
    id: u64,
    role: Role,
    key: TransactionKey,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

/// All live transactions of one SIP endpoint, sans-IO.
///
/// Feed it with `handle_request`, `handle_response`, `send_request`,
/// `send_response`, `transport_error` and `handle_timeout`; after each call
/// drain [`Self::poll_action`] and re-read [`Self::poll_timeout`].
pub struct TransactionLayer<D> {
    config: Config,
    clients: HashMap<TransactionKey, Entry<D>>,
    servers: HashMap<TransactionKey, Entry<D>>,
    heap: BinaryHeap<Reverse<Scheduled>>,
    actions: VecDeque<Action<D>>,
    next_id: u64,
    /// Reused buffer for state machine effects.
    scratch: Vec<Effect>,
}

impl<D> std::fmt::Debug for TransactionLayer<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionLayer")
            .field("clients", &self.clients.len())
            .field("servers", &self.servers.len())
            .field("heap", &self.heap.len())
            .field("actions", &self.actions.len())
            .finish_non_exhaustive()
    }
}

impl<D: Destination> TransactionLayer<D> {
    /// New empty layer.
    ///
    /// # Panics
    /// If `t1` is zero or `t2 < t1` (the retransmission timers would spin).
    pub fn new(config: Config) -> Self {
        assert!(!config.t1.is_zero(), "T1 must be positive");
        assert!(config.t2 >= config.t1, "T2 must be at least T1");
        Self {
            config,
            clients: HashMap::new(),
            servers: HashMap::new(),
            heap: BinaryHeap::new(),
            actions: VecDeque::new(),
            next_id: 0,
            scratch: Vec::new(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of live transactions (client + server).
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    /// `true` if no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// State of a live transaction.
    pub fn state(&self, role: Role, key: &TransactionKey) -> Option<State> {
        self.map(role).get(key).and_then(|e| e.machine.state())
    }

    /// A request arrived from `source` (RFC 3261 17.2.3 matching by `key`).
    ///
    /// `kind` must fit the key: ACK goes with an INVITE key. Returns
    /// [`TransactionError::Full`] when a new server transaction would exceed
    /// `max_transactions` (answer 503 statelessly).
    pub fn handle_request(
        &mut self,
        key: &TransactionKey,
        kind: MethodKind,
        source: D,
        now: Instant,
    ) -> Result<RequestOutcome, TransactionError> {
        let expected = key.method_kind();
        if kind != expected && !(kind == MethodKind::Ack && expected == MethodKind::Invite) {
            return Err(TransactionError::MethodMismatch);
        }
        if let Some(entry) = self.servers.get_mut(key) {
            let out = &mut self.scratch;
            let outcome = match &mut entry.machine {
                Machine::InviteServer(m) => m.on_request(kind, now, &self.config, out),
                Machine::NonInviteServer(m) => m.on_request(out),
                Machine::InviteClient(_) | Machine::NonInviteClient(_) => {
                    unreachable!("client machine in server table")
                }
            };
            self.finish(Role::Server, key);
            return Ok(outcome);
        }
        if kind == MethodKind::Ack {
            return Ok(RequestOutcome::UnmatchedAck);
        }
        if self.len() >= self.config.max_transactions {
            return Err(TransactionError::Full);
        }
        let reliable = source.is_reliable();
        let machine = if kind == MethodKind::Invite {
            Machine::InviteServer(ServerInvite::start(reliable, now, &self.config))
        } else {
            Machine::NonInviteServer(ServerNonInvite::start(reliable))
        };
        self.insert(Role::Server, key.clone(), source, machine);
        if kind != MethodKind::Cancel {
            return Ok(RequestOutcome::New);
        }
        let target = key.with_method("INVITE").expect("INVITE is a valid method");
        let found = match self.servers.get(&target).map(|e| &e.machine) {
            Some(Machine::InviteServer(m)) if m.is_pending() => CancelTarget::Pending(target),
            Some(Machine::InviteServer(_)) => CancelTarget::Answered(target),
            _ => CancelTarget::NotFound,
        };
        Ok(RequestOutcome::NewCancel(found))
    }

    /// A response arrived (RFC 3261 17.1.3 matching by `key`, built from the
    /// top Via and the CSeq method).
    ///
    /// `build_ack` is called at most once: for the first non-2xx final
    /// response of an INVITE, to get the bytes of the ACK this transaction
    /// sends (RFC 3261 17.1.1.3). Non-INVITE callers can pass `Bytes::new`.
    pub fn handle_response(
        &mut self,
        key: &TransactionKey,
        status: u16,
        now: Instant,
        build_ack: impl FnOnce() -> Bytes,
    ) -> ResponseOutcome {
        let Some(entry) = self.clients.get_mut(key) else {
            return ResponseOutcome::Stray;
        };
        let outcome = match &mut entry.machine {
            Machine::InviteClient(m) => {
                m.on_response(status, now, &self.config, build_ack, &mut self.scratch)
            }
            Machine::NonInviteClient(m) => m.on_response(status, now, &self.config),
            Machine::InviteServer(_) | Machine::NonInviteServer(_) => {
                unreachable!("server machine in client table")
            }
        };
        self.finish(Role::Client, key);
        outcome
    }

    /// The TU sends a request: create a client transaction, which transmits
    /// `bytes` to `dest` and retransmits them as needed.
    ///
    /// `kind` must match the key's method; ACK is refused (an ACK for a 2xx
    /// is sent by the core directly, the ACK for a non-2xx by the INVITE
    /// client transaction).
    pub fn send_request(
        &mut self,
        key: TransactionKey,
        kind: MethodKind,
        bytes: Bytes,
        dest: D,
        now: Instant,
    ) -> Result<(), TransactionError> {
        if kind == MethodKind::Ack || kind != key.method_kind() {
            return Err(TransactionError::MethodMismatch);
        }
        if self.clients.contains_key(&key) {
            return Err(TransactionError::Exists);
        }
        if self.len() >= self.config.max_transactions {
            return Err(TransactionError::Full);
        }
        let reliable = dest.is_reliable();
        let (cfg, out) = (&self.config, &mut self.scratch);
        let machine = if kind == MethodKind::Invite {
            Machine::InviteClient(ClientInvite::start(bytes, reliable, now, cfg, out))
        } else {
            Machine::NonInviteClient(ClientNonInvite::start(bytes, reliable, now, cfg, out))
        };
        self.insert(Role::Client, key, dest, machine);
        Ok(())
    }

    /// The TU sends a response through the server transaction `key`. It is
    /// transmitted to the request's source and retransmitted as needed.
    pub fn send_response(
        &mut self,
        key: &TransactionKey,
        status: u16,
        bytes: Bytes,
        now: Instant,
    ) -> Result<(), TransactionError> {
        if !(100..=699).contains(&status) {
            return Err(TransactionError::InvalidStatus(status));
        }
        let entry = self
            .servers
            .get_mut(key)
            .ok_or(TransactionError::NotFound)?;
        let out = &mut self.scratch;
        let result = match &mut entry.machine {
            Machine::InviteServer(m) => m.on_send(status, bytes, now, &self.config, out),
            Machine::NonInviteServer(m) => m.on_send(status, bytes, now, &self.config, out),
            Machine::InviteClient(_) | Machine::NonInviteClient(_) => {
                unreachable!("client machine in server table")
            }
        };
        self.finish(Role::Server, key);
        result
    }

    /// The transport failed to send something of `tx` (RFC 3261 17.1.4,
    /// 17.2.4): the transaction ends and the TU gets
    /// [`TuEvent::TransportError`]. Returns `false` if `tx` is not live.
    pub fn transport_error(&mut self, tx: &TransactionId) -> bool {
        let Some(entry) = self.map_mut(tx.role).get_mut(&tx.key) else {
            return false;
        };
        entry.machine.terminate();
        self.actions
            .push_back(Action::Event(TuEvent::TransportError { tx: tx.clone() }));
        self.finish(tx.role, &tx.key);
        true
    }

    /// The earliest instant at which `handle_timeout` has work to do.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.is_live(top) {
                return Some(top.at);
            }
            self.heap.pop();
        }
        None
    }

    /// Time advanced to `now`: fire every timer due.
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.heap.peek().is_some_and(|Reverse(top)| top.at <= now) {
            let Some(Reverse(s)) = self.heap.pop() else {
                break;
            };
            let map = match s.role {
                Role::Client => &mut self.clients,
                Role::Server => &mut self.servers,
            };
            let Some(entry) = map.get_mut(&s.key) else {
                continue;
            };
            if entry.id != s.id || entry.scheduled != Some(s.at) {
                continue;
            }
            entry.scheduled = None;
            entry
                .machine
                .on_timeout(now, &self.config, &mut self.scratch);
            self.finish(s.role, &s.key);
        }
    }

    /// Next queued action, in order.
    pub fn poll_action(&mut self) -> Option<Action<D>> {
        self.actions.pop_front()
    }

    fn map(&self, role: Role) -> &HashMap<TransactionKey, Entry<D>> {
        match role {
            Role::Client => &self.clients,
            Role::Server => &self.servers,
        }
    }

    fn map_mut(&mut self, role: Role) -> &mut HashMap<TransactionKey, Entry<D>> {
        match role {
            Role::Client => &mut self.clients,
            Role::Server => &mut self.servers,
        }
    }

    fn is_live(&self, s: &Scheduled) -> bool {
        self.map(s.role)
            .get(&s.key)
            .is_some_and(|e| e.id == s.id && e.scheduled == Some(s.at))
    }

    fn insert(&mut self, role: Role, key: TransactionKey, dest: D, machine: Machine) {
        let id = self.next_id;
        self.next_id += 1;
        let entry = Entry {
            id,
            dest,
            machine,
            scheduled: None,
        };
        self.map_mut(role).insert(key.clone(), entry);
        self.finish(role, &key);
    }

    /// Turn the machine's effects into actions, then remove the transaction
    /// if it terminated or (re)schedule its next deadline.
    fn finish(&mut self, role: Role, key: &TransactionKey) {
        let map = match role {
            Role::Client => &mut self.clients,
            Role::Server => &mut self.servers,
        };
        let Some(entry) = map.get_mut(key) else {
            self.scratch.clear();
            return;
        };
        let tx = || TransactionId {
            role,
            key: key.clone(),
        };
        for effect in self.scratch.drain(..) {
            self.actions.push_back(match effect {
                Effect::Transmit(bytes) => Action::Transmit(Transmit {
                    tx: tx(),
                    dest: entry.dest.clone(),
                    bytes,
                }),
                Effect::Timeout(timer) => Action::Event(TuEvent::Timeout { tx: tx(), timer }),
                Effect::TryingDue => Action::Event(TuEvent::TryingDue { key: key.clone() }),
            });
        }
        if entry.machine.state().is_none() {
            map.remove(key);
            self.actions
                .push_back(Action::Event(TuEvent::Terminated { tx: tx() }));
            return;
        }
        let next = entry.machine.next_deadline();
        if next == entry.scheduled {
            return;
        }
        entry.scheduled = next;
        if let Some(at) = next {
            self.heap.push(Reverse(Scheduled {
                at,
                id: entry.id,
                role,
                key: key.clone(),
            }));
            if self.heap.len() > 1024 + 4 * self.len() {
                self.rebuild_heap();
            }
        }
    }

    /// Drop stale heap entries: one entry per scheduled transaction.
    fn rebuild_heap(&mut self) {
        let clients = self.clients.iter().map(|(k, e)| (Role::Client, k, e));
        let servers = self.servers.iter().map(|(k, e)| (Role::Server, k, e));
        self.heap = clients
            .chain(servers)
            .filter_map(|(role, key, e)| {
                e.scheduled.map(|at| {
                    Reverse(Scheduled {
                        at,
                        id: e.id,
                        role,
                        key: key.clone(),
                    })
                })
            })
            .collect();
    }
}
