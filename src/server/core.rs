//! The SIP core task: the one owner of the transaction layer and of the
//! registrars. It matches every inbound message to its transaction,
//! answers what it can itself (OPTIONS, REGISTER, CANCEL, stray requests),
//! starts a call task for each new call and routes in-dialog traffic to
//! the call that owns the Call-ID.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::respond::{self, ALLOW};
use super::routing::{Route, route_trunk_invite};
use super::runtime::ProfileRuntime;
use crate::acd::feature::FeatureCode;
use crate::call::{CallContext, Destination};
use crate::config::{Application, ProfileKind};
use crate::registrar::Registrar;
use crate::sip::auth::unix_now;
use crate::sip::codec::{Method, SipMessage};
use crate::sip::endpoint::{Endpoint, ToCore, TuEvent, TuSender};
use crate::sip::matching::transaction_key;
use crate::sip::transaction::{
    Action, CancelTarget, MethodKind, RequestOutcome, ResponseOutcome, Role, Timer, TransactionKey,
    TransactionLayer, TuEvent as TxEvent,
};
use crate::sip::transport::{Flow, ProfileId};

/// Messages handled per wake-up before timers get a look in.
const BATCH: usize = 256;

/// State owned by the core task.
pub struct Core {
    layer: TransactionLayer<Flow>,
    endpoint: Endpoint,
    profiles: Arc<Vec<ProfileRuntime>>,
    registrars: HashMap<ProfileId, Registrar>,
    /// Transaction users of client transactions.
    client_owners: HashMap<TransactionKey, TuSender>,
    /// INVITEs of client transactions, to build the ACK for a non-2xx.
    client_invites: HashMap<TransactionKey, SipMessage>,
    /// Calls by Call-ID (both legs of a B2BUA call are bound).
    dialogs: HashMap<String, TuSender>,
    /// What new calls share (media ports, CDR writer).
    calls: Arc<CallContext>,
}

impl Core {
    pub fn new(
        layer: TransactionLayer<Flow>,
        endpoint: Endpoint,
        profiles: Arc<Vec<ProfileRuntime>>,
        registrars: HashMap<ProfileId, Registrar>,
        calls: Arc<CallContext>,
    ) -> Self {
        Self {
            layer,
            endpoint,
            profiles,
            registrars,
            client_owners: HashMap::new(),
            client_invites: HashMap::new(),
            dialogs: HashMap::new(),
            calls,
        }
    }

    /// Runs until every sender of `rx` is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<ToCore>) {
        let mut purge = tokio::time::interval(Duration::from_secs(10));
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let deadline = self
                .layer
                .poll_timeout()
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                n = rx.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        break;
                    }
                    for msg in batch.drain(..) {
                        self.handle(msg);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.layer.handle_timeout(Instant::now());
                }
                _ = purge.tick() => {
                    let now = unix_now();
                    let mut lost = Vec::new();
                    for r in self.registrars.values_mut() {
                        lost.extend(r.purge(now));
                    }
                    self.endpoints_lost(lost);
                }
            }
            self.drain_actions();
        }
    }

    fn handle(&mut self, msg: ToCore) {
        match msg {
            ToCore::Inbound { flow, msg } => {
                if msg.is_request() {
                    self.on_request(flow, msg);
                } else {
                    self.on_response(flow, msg);
                }
            }
            ToCore::SendRequest {
                owner,
                key,
                flow,
                msg,
            } => self.send_request(owner, key, flow, msg),
            ToCore::SendResponse { key, status, bytes } => {
                if let Err(e) = self
                    .layer
                    .send_response(&key, status, bytes, Instant::now())
                {
                    tracing::debug!(status, "response not sent: {e}");
                }
            }
            ToCore::SendStateless { flow, bytes } => self.transmit(&flow, bytes),
            ToCore::Bind { call_id, owner } => {
                self.dialogs.insert(call_id, owner);
            }
            ToCore::Unbind { call_ids } => {
                for id in call_ids {
                    self.dialogs.remove(&id);
                }
            }
            ToCore::FindAgents {
                trunk,
                extensions,
                reply,
            } => {
                let found = super::routing::find_agents(
                    &trunk,
                    &extensions,
                    &self.profiles,
                    &self.registrars,
                    unix_now(),
                );
                let _ = reply.send(found);
            }
            ToCore::FindTransfer {
                trunk,
                target,
                reply,
            } => {
                let route = super::routing::find_transfer(
                    &trunk,
                    &target,
                    &self.profiles,
                    &self.registrars,
                    unix_now(),
                );
                let _ = reply.send(route);
            }
        }
    }

    fn send_request(&mut self, owner: TuSender, key: TransactionKey, flow: Flow, msg: SipMessage) {
        let kind = key.method_kind();
        let bytes = msg.to_bytes();
        match self
            .layer
            .send_request(key.clone(), kind, bytes, flow, Instant::now())
        {
            Ok(()) => {
                if kind == MethodKind::Invite {
                    self.client_invites.insert(key.clone(), msg);
                }
                self.client_owners.insert(key, owner);
            }
            Err(e) => {
                tracing::debug!("request not sent: {e}");
                let _ = owner.try_send(TuEvent::Failed { key, status: 503 });
            }
        }
    }

    fn on_request(&mut self, flow: Flow, msg: SipMessage) {
        let Some(method) = msg.method().cloned() else {
            return;
        };
        let Some((key, reply_flow)) = respond::server_key(&msg, flow) else {
            // No usable Via: nothing can be answered (RFC 3261 18.2.2).
            return;
        };
        let kind = MethodKind::from_method(method.as_str());
        let now = Instant::now();
        match self.layer.handle_request(&key, kind, reply_flow, now) {
            Err(e) => {
                tracing::warn!("refusing a request: {e}");
                if kind != MethodKind::Ack {
                    let bytes =
                        respond::response(&msg, reply_flow, 503, "Service Unavailable", None)
                            .header_raw("Retry-After", "5")
                            .to_bytes();
                    self.transmit(&reply_flow, bytes);
                }
            }
            Ok(RequestOutcome::Absorbed) => {}
            Ok(RequestOutcome::AckToTu) | Ok(RequestOutcome::UnmatchedAck) => {
                if let Some(owner) = msg.call_id().ok().and_then(|id| self.dialogs.get(id)) {
                    let _ = owner.try_send(TuEvent::Ack {
                        flow,
                        msg: Box::new(msg),
                    });
                }
            }
            Ok(RequestOutcome::NewCancel(target)) => self.on_cancel(&key, target, &msg, reply_flow),
            Ok(RequestOutcome::New) => self.on_new_request(key, method, flow, reply_flow, msg),
        }
    }

    fn on_cancel(
        &mut self,
        key: &TransactionKey,
        target: CancelTarget,
        msg: &SipMessage,
        flow: Flow,
    ) {
        let (status, reason) = match &target {
            CancelTarget::NotFound => (481, "Call/Transaction Does Not Exist"),
            _ => (200, "OK"),
        };
        self.answer(key, msg, flow, status, reason, &[]);
        if let CancelTarget::Pending(invite) = target
            && let Some(owner) = msg.call_id().ok().and_then(|id| self.dialogs.get(id))
        {
            let _ = owner.try_send(TuEvent::Cancelled { invite });
        }
    }

    fn on_new_request(
        &mut self,
        key: TransactionKey,
        method: Method,
        flow: Flow,
        reply_flow: Flow,
        msg: SipMessage,
    ) {
        let in_dialog = msg.to().ok().and_then(|t| t.tag().map(|_| ())).is_some();
        let profile = usize::from(flow.profile);
        match method {
            Method::Options if !in_dialog || !self.owns_dialog(&msg) => {
                let extra = [
                    ("Allow", ALLOW),
                    ("Accept", "application/sdp"),
                    ("Accept-Encoding", "identity"),
                    ("Accept-Language", "en"),
                    ("Supported", "timer"),
                ];
                self.answer(&key, &msg, reply_flow, 200, "OK", &extra);
            }
            _ if in_dialog => {
                let owner = msg
                    .call_id()
                    .ok()
                    .and_then(|id| self.dialogs.get(id))
                    .cloned();
                match owner {
                    Some(owner) => {
                        if owner
                            .try_send(TuEvent::Request {
                                key: key.clone(),
                                flow: reply_flow,
                                msg: Box::new(msg.clone()),
                            })
                            .is_err()
                        {
                            self.answer(
                                &key,
                                &msg,
                                reply_flow,
                                500,
                                "Server Internal Error",
                                &[("Retry-After", "1")],
                            );
                        }
                    }
                    None => self.answer(
                        &key,
                        &msg,
                        reply_flow,
                        481,
                        "Call/Transaction Does Not Exist",
                        &[],
                    ),
                }
            }
            Method::Register => match self.registrars.get_mut(&flow.profile) {
                Some(registrar) => {
                    let now = unix_now();
                    let reply = registrar.handle(flow, &msg, now, Instant::now());
                    let aor = msg.to().ok().and_then(|t| {
                        t.uri
                            .user_unescaped()
                            .map(|u| String::from_utf8_lossy(&u).into_owned())
                    });
                    let gone = reply.status == 200
                        && aor.as_ref().is_some_and(|a| {
                            matches!(
                                registrar.lookup(a, now),
                                crate::registrar::Lookup::NotRegistered
                            )
                        });
                    let headers: Vec<(&str, &str)> = reply
                        .headers
                        .iter()
                        .map(|(n, v)| (*n, v.as_str()))
                        .collect();
                    self.answer(&key, &msg, reply_flow, reply.status, reply.reason, &headers);
                    if gone {
                        self.endpoints_lost(aor.into_iter().collect());
                    }
                }
                None => self.answer(
                    &key,
                    &msg,
                    reply_flow,
                    405,
                    "Method Not Allowed",
                    &[("Allow", ALLOW)],
                ),
            },
            Method::Invite => {
                let Some(p) = self.profiles.get(profile) else {
                    return;
                };
                let route = match &p.profile.kind {
                    ProfileKind::Trunk(t) => {
                        route_trunk_invite(&msg, t, &self.profiles, &self.registrars, unix_now())
                    }
                    ProfileKind::Internal(_) => {
                        let code = msg.request_uri().ok().and_then(|u| {
                            u.user_unescaped()
                                .and_then(|u| FeatureCode::parse(&String::from_utf8_lossy(&u)))
                        });
                        let Some(code) = code else {
                            self.answer(
                                &key,
                                &msg,
                                reply_flow,
                                403,
                                "Calls From Agents Are Not Enabled",
                                &[],
                            );
                            return;
                        };
                        let auth = self.registrars.get_mut(&flow.profile).map(|r| {
                            r.authenticate_request(&msg, "INVITE", flow, unix_now(), Instant::now())
                        });
                        match auth {
                            Some(Ok(agent)) => {
                                Route::Application(Application::AgentFeature { agent, code })
                            }
                            Some(Err(reply)) => {
                                let headers: Vec<(&str, &str)> = reply
                                    .headers
                                    .iter()
                                    .map(|(n, v)| (*n, v.as_str()))
                                    .collect();
                                self.answer(
                                    &key,
                                    &msg,
                                    reply_flow,
                                    reply.status,
                                    reply.reason,
                                    &headers,
                                );
                                return;
                            }
                            None => Route::Reject(403, "Calls From Agents Are Not Enabled"),
                        }
                    }
                };
                let dest = match route {
                    Route::Reject(status, reason) => {
                        self.answer(&key, &msg, reply_flow, status, reason, &[]);
                        return;
                    }
                    Route::Agents { profile, targets } => Destination::Agents { profile, targets },
                    Route::Application(app) => Destination::Application(app),
                };
                // Stop the caller's retransmissions at once.
                self.answer(&key, &msg, reply_flow, 100, "Trying", &[]);
                let Ok(call_id) = msg.call_id().map(str::to_string) else {
                    return;
                };
                let profile_name = self
                    .profiles
                    .get(profile)
                    .map(|p| p.profile.name.clone())
                    .unwrap_or_default();
                let owner = crate::call::spawn(
                    self.calls.clone(),
                    self.endpoint.clone(),
                    key,
                    reply_flow,
                    msg,
                    profile_name,
                    dest,
                );
                self.dialogs.insert(call_id, owner);
            }
            Method::Bye
            | Method::Cancel
            | Method::Ack
            | Method::Info
            | Method::Update
            | Method::Prack => {
                self.answer(
                    &key,
                    &msg,
                    reply_flow,
                    481,
                    "Call/Transaction Does Not Exist",
                    &[],
                );
            }
            Method::Extension(_) => self.answer(
                &key,
                &msg,
                reply_flow,
                501,
                "Not Implemented",
                &[("Allow", ALLOW)],
            ),
            _ => self.answer(
                &key,
                &msg,
                reply_flow,
                405,
                "Method Not Allowed",
                &[("Allow", ALLOW)],
            ),
        }
    }

    /// Agents whose last phone unregistered or expired: the ACD stops
    /// offering them calls (not ready, "no phone registered").
    fn endpoints_lost(&self, agents: Vec<String>) {
        let Some(acd) = self.calls.acd.clone() else {
            return;
        };
        if agents.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for agent in agents {
                acd.endpoint_lost(&agent).await;
            }
        });
    }

    fn owns_dialog(&self, msg: &SipMessage) -> bool {
        msg.call_id()
            .ok()
            .is_some_and(|id| self.dialogs.contains_key(id))
    }

    /// Answers a server transaction from the core itself.
    fn answer(
        &mut self,
        key: &TransactionKey,
        req: &SipMessage,
        flow: Flow,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
    ) {
        let tag = (status > 100).then(crate::sip::ids::tag);
        let mut b = respond::response(req, flow, status, reason, tag.as_deref());
        for (n, v) in extra {
            b = b.header_raw(n, v);
        }
        let bytes = b.to_bytes();
        if let Err(e) = self.layer.send_response(key, status, bytes, Instant::now()) {
            tracing::debug!(status, "response not sent: {e}");
        }
    }

    fn on_response(&mut self, flow: Flow, msg: SipMessage) {
        let (Some(status), Some(key)) = (msg.status(), transaction_key(&msg)) else {
            return;
        };
        let invite = self.client_invites.get(&key);
        let outcome = self
            .layer
            .handle_response(&key, status, Instant::now(), || match invite {
                Some(inv) => respond::ack_for_non_2xx(inv, &msg),
                None => Bytes::new(),
            });
        match outcome {
            ResponseOutcome::PassToTu => {
                if let Some(owner) = self.client_owners.get(&key) {
                    let _ = owner.try_send(TuEvent::Response {
                        key,
                        msg: Box::new(msg),
                    });
                }
            }
            ResponseOutcome::Absorbed => {}
            ResponseOutcome::Stray => {
                // A 2xx retransmitted after its transaction ended: the
                // dialog's owner re-sends its ACK.
                if (200..300).contains(&status)
                    && let Some(owner) = msg.call_id().ok().and_then(|id| self.dialogs.get(id))
                {
                    let _ = owner.try_send(TuEvent::Response {
                        key,
                        msg: Box::new(msg),
                    });
                } else {
                    tracing::debug!(status, from = %flow.remote, "stray response dropped");
                }
            }
        }
    }

    /// Performs what the transaction layer asked for.
    fn drain_actions(&mut self) {
        while let Some(action) = self.layer.poll_action() {
            match action {
                Action::Transmit(t) => {
                    self.trace(&t.dest, &t.bytes, "sent");
                    if let Err(e) = self.endpoint.transports.send(&t.dest, t.bytes) {
                        tracing::debug!(to = %t.dest.remote, "send failed: {e}");
                        self.layer.transport_error(&t.tx);
                    }
                }
                Action::Event(ev) => self.on_transaction_event(ev),
            }
        }
    }

    fn on_transaction_event(&mut self, ev: TxEvent) {
        match ev {
            TxEvent::Timeout { tx, timer } => match tx.role {
                Role::Client => {
                    if let Some(owner) = self.client_owners.get(&tx.key) {
                        let _ = owner.try_send(TuEvent::Failed {
                            key: tx.key,
                            status: 408,
                        });
                    }
                }
                Role::Server if timer == Timer::H => {
                    tracing::debug!("no ACK for a final response (Timer H)");
                }
                Role::Server => {}
            },
            TxEvent::TransportError { tx } => {
                if tx.role == Role::Client
                    && let Some(owner) = self.client_owners.get(&tx.key)
                {
                    let _ = owner.try_send(TuEvent::Failed {
                        key: tx.key,
                        status: 503,
                    });
                }
            }
            TxEvent::TryingDue { .. } => {}
            TxEvent::Terminated { tx } => {
                if tx.role == Role::Client {
                    self.client_owners.remove(&tx.key);
                    self.client_invites.remove(&tx.key);
                }
            }
        }
    }

    fn transmit(&self, flow: &Flow, bytes: Bytes) {
        self.trace(flow, &bytes, "sent");
        if let Err(e) = self.endpoint.transports.send(flow, bytes) {
            tracing::debug!(to = %flow.remote, "send failed: {e}");
        }
    }

    fn trace(&self, flow: &Flow, bytes: &[u8], dir: &str) {
        if self
            .profiles
            .get(usize::from(flow.profile))
            .is_some_and(|p| p.profile.sip_trace)
        {
            super::ingress::trace_message(flow, bytes, dir);
        }
    }
}
