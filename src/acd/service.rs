//! The ACD task: the one owner of the floor. Calls join and leave queues
//! and report what their offers did; agents' feature codes and the admin
//! change agents' states; the task performs the floor's orders (it tells
//! the waiting call which agent to ring or to stop ringing) and stores
//! every agent transition. A restarted switch starts every agent from
//! their stored state, freeing the ones a lost call held.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::agent::{AgentEvent, AgentState, EntryId, Millis};
use super::config::ContactCenter;
use super::floor::{Floor, Order};
use super::router::{AgentSkills, Router};
use crate::store::{AgentTransition, CdrWriter, Store};

/// How many messages may wait for the ACD task.
const QUEUE: usize = 1024;
/// The handle time assumed for a queue before any call ended in it.
const DEFAULT_HANDLE_MS: i64 = 180_000;
/// Weight of the newest call in a queue's moving handle time.
const HANDLE_WEIGHT: f64 = 0.2;
/// How often wrap-ups are checked.
const TICK: Duration = Duration::from_millis(250);

/// What the ACD tells a waiting call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToCaller {
    /// Ring agent `agent` (an extension) for at most `ring_timeout`.
    Offer {
        agent: String,
        ring_timeout: Duration,
    },
    /// Stop ringing `agent`.
    StopRinging { agent: String },
}

/// What an offer to an agent did, as the call reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferOutcome {
    Ringing,
    Answered,
    /// Timed out or refused.
    NoAnswer,
    /// The agent has no registered phone.
    Unreachable,
}

/// A change an agent (feature code) or an admin asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentRequest {
    Ready,
    NotReady { reason: String },
    LogOut,
    ExtendWrapUp { seconds: u32 },
}

/// Why a caller could not join.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinRefused {
    #[error("no queue `{0}`")]
    NoQueue(String),
    #[error("nobody is logged in to queue `{0}`")]
    Empty(String),
    #[error("`{0}` is not an agent")]
    NoAgent(String),
    #[error("agent {0} is not available")]
    Unavailable(String),
}

/// A caller in line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub entry: EntryId,
    /// 1-based place in line (0 when offered at once).
    pub position: usize,
    /// The queue's maximum wait.
    pub max_wait: Duration,
    /// How often the caller hears their position (zero: never).
    pub announce_every: Duration,
    /// The key that asks for a callback instead of waiting (none: not
    /// offered).
    pub callback_digit: Option<char>,
    /// The caller is asked to rate the call after the agent hangs up.
    pub survey: bool,
    /// Messages spoken in turn to the waiting caller, this often.
    pub messages: Arc<[super::config::QueueMessage]>,
    pub message_every: Duration,
}

/// A caller's place in line, as a callback request keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub queue: String,
    pub priority: u8,
    /// When they joined (unix ms).
    pub since: Millis,
}

enum Msg {
    Join {
        call_id: String,
        queue: String,
        priority: u8,
        intent: String,
        since: Option<Millis>,
        caller: mpsc::Sender<ToCaller>,
        reply: oneshot::Sender<Result<Joined, JoinRefused>>,
        /// A callback request, not a caller on the line: no queue stay is
        /// stored for it.
        callback: bool,
        /// Offered to this agent only (a transfer to them); the queue is
        /// where the caller waits should they not answer.
        agent: Option<String>,
    },
    Leave {
        entry: EntryId,
    },
    LeaveForCallback {
        entry: EntryId,
        reply: oneshot::Sender<Option<Place>>,
    },
    Offer {
        entry: EntryId,
        agent: String,
        outcome: OfferOutcome,
    },
    Ended {
        entry: EntryId,
    },
    GiveUp {
        entry: EntryId,
        reply: oneshot::Sender<Option<(String, Joined)>>,
    },
    Agent {
        agent: String,
        request: AgentRequest,
        reply: oneshot::Sender<Result<String, String>>,
    },
    States {
        reply: oneshot::Sender<Vec<(String, String)>>,
    },
    EndpointLost {
        agent: String,
    },
    Position {
        entry: EntryId,
        reply: oneshot::Sender<Option<(usize, Duration)>>,
    },
}

/// How a caller joins (see [`Acd::join`], [`Acd::join_direct`],
/// [`Acd::join_callback`]).
struct JoinHow {
    /// Why the caller waits (the queue figures' top intents).
    intent: String,
    since: Option<Millis>,
    callback: bool,
    agent: Option<String>,
}

/// A cheap handle to the ACD task.
#[derive(Clone, Debug)]
pub struct Acd {
    tx: mpsc::Sender<Msg>,
    queues: Arc<Vec<String>>,
    agents: Arc<Vec<String>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("acd message")
    }
}

impl Acd {
    /// Whether `queue` is one of the ACD's queues.
    pub fn has_queue(&self, queue: &str) -> bool {
        self.queues.iter().any(|q| q == queue)
    }

    /// Puts a caller in line in `queue`; `intent` says why they wait (for
    /// the queue figures); `since` keeps the time already waited (an
    /// overflow from another queue). The ACD sends offers to `caller`.
    pub async fn join(
        &self,
        call_id: &str,
        queue: &str,
        priority: u8,
        intent: &str,
        since: Option<Millis>,
        caller: mpsc::Sender<ToCaller>,
    ) -> Result<Joined, JoinRefused> {
        let how = JoinHow {
            intent: intent.to_string(),
            since,
            callback: false,
            agent: None,
        };
        self.send_join(call_id, queue, priority, caller, how).await
    }

    /// Puts a caller transferred to agent `agent` in line: offered to that
    /// agent at once, or refused when they are not available; should they
    /// not answer, the caller waits in `queue`.
    pub async fn join_direct(
        &self,
        call_id: &str,
        agent: &str,
        queue: &str,
        priority: u8,
        intent: &str,
        caller: mpsc::Sender<ToCaller>,
    ) -> Result<Joined, JoinRefused> {
        let how = JoinHow {
            intent: intent.to_string(),
            since: None,
            callback: false,
            agent: Some(agent.to_string()),
        };
        self.send_join(call_id, queue, priority, caller, how).await
    }

    /// Whether `id` is one of the ACD's agents.
    pub fn has_agent(&self, id: &str) -> bool {
        self.agents.iter().any(|a| a == id)
    }

    /// Puts callback request `id` in line in `queue` at its place (`since`,
    /// `priority`); its offers go to `caller`, which rings the agent.
    pub async fn join_callback(
        &self,
        id: i64,
        queue: &str,
        priority: u8,
        since: Millis,
        caller: mpsc::Sender<ToCaller>,
    ) -> Result<Joined, JoinRefused> {
        let how = JoinHow {
            intent: String::new(),
            since: Some(since),
            callback: true,
            agent: None,
        };
        let call_id = format!("callback:{id}");
        self.send_join(&call_id, queue, priority, caller, how).await
    }

    /// Sends a join and waits for its answer.
    async fn send_join(
        &self,
        call_id: &str,
        queue: &str,
        priority: u8,
        caller: mpsc::Sender<ToCaller>,
        how: JoinHow,
    ) -> Result<Joined, JoinRefused> {
        let (reply, rx) = oneshot::channel();
        let msg = Msg::Join {
            call_id: call_id.to_string(),
            queue: queue.to_string(),
            priority,
            intent: how.intent,
            since: how.since,
            caller,
            reply,
            callback: how.callback,
            agent: how.agent,
        };
        if self.tx.send(msg).await.is_err() {
            return Err(JoinRefused::NoQueue(queue.to_string()));
        }
        rx.await
            .unwrap_or_else(|_| Err(JoinRefused::NoQueue(queue.to_string())))
    }

    /// The caller of `entry` asked to be called back: they leave the line;
    /// their place (`None`: they were no longer waiting).
    pub async fn leave_for_callback(&self, entry: EntryId) -> Option<Place> {
        let (reply, rx) = oneshot::channel();
        let msg = Msg::LeaveForCallback { entry, reply };
        self.tx.send(msg).await.ok()?;
        rx.await.ok().flatten()
    }

    /// The caller left the line (hung up, gave up, overflowed).
    pub async fn leave(&self, entry: EntryId) {
        let _ = self.tx.send(Msg::Leave { entry }).await;
    }

    /// What an offer to `agent` did.
    pub async fn offer(&self, entry: EntryId, agent: &str, outcome: OfferOutcome) {
        let msg = Msg::Offer {
            entry,
            agent: agent.to_string(),
            outcome,
        };
        let _ = self.tx.send(msg).await;
    }

    /// The call of `entry` (connected to an agent) ended.
    pub async fn ended(&self, entry: EntryId) {
        let _ = self.tx.send(Msg::Ended { entry }).await;
    }

    /// The caller waited the queue's maximum: they move to its overflow
    /// queue (keeping their place in time; its name and the new line), or
    /// (`None`) leave.
    pub async fn give_up(&self, entry: EntryId) -> Option<(String, Joined)> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::GiveUp { entry, reply }).await.is_err() {
            return None;
        }
        rx.await.ok().flatten()
    }

    /// Changes an agent's state; the new state's text, or why not.
    pub async fn agent(&self, agent: &str, request: AgentRequest) -> Result<String, String> {
        let (reply, rx) = oneshot::channel();
        let msg = Msg::Agent {
            agent: agent.to_string(),
            request,
            reply,
        };
        if self.tx.send(msg).await.is_err() {
            return Err("the ACD is not running".into());
        }
        rx.await
            .unwrap_or_else(|_| Err("the ACD is not running".into()))
    }

    /// Where a waiting caller is in line (1-based) and about how long
    /// they will still wait; `None` once offered or gone.
    pub async fn position(&self, entry: EntryId) -> Option<(usize, Duration)> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Msg::Position { entry, reply }).await.ok()?;
        rx.await.ok().flatten()
    }

    /// Agent `agent`'s last phone unregistered (or its registration
    /// expired).
    pub async fn endpoint_lost(&self, agent: &str) {
        let msg = Msg::EndpointLost {
            agent: agent.to_string(),
        };
        let _ = self.tx.send(msg).await;
    }

    /// Every agent's state: (extension, state).
    pub async fn states(&self) -> Vec<(String, String)> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::States { reply }).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

/// Starts the ACD task for `cc`, restoring agents' stored states from
/// `store`; what the ACD records goes through `writer` (the database
/// writer), so the task never waits for the disk.
pub async fn start(cc: &ContactCenter, store: Option<Store>, writer: Option<CdrWriter>) -> Acd {
    let agents = cc
        .agents
        .iter()
        .map(|a| AgentSkills {
            id: a.id.clone(),
            skills: a.skills.clone(),
        })
        .collect();
    let router = Router::new(
        cc.skills.len(),
        agents,
        cc.queues.iter().map(|q| q.spec.clone()).collect(),
    );
    let wrap_up = cc.queues.iter().map(|q| q.wrap_up_ms).collect();
    let (claims_lost, lost_rx) = mpsc::channel(QUEUE);
    let mut task = Task {
        floor: Floor::new(router, cc.max_missed, wrap_up),
        ids: cc
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect(),
        queues: cc.queues.clone(),
        callers: HashMap::new(),
        next_entry: 1,
        store,
        writer,
        claims_lost,
        rows: HashMap::new(),
        next_stay: 1,
        handle_ms: vec![None; cc.queues.len()],
    };
    task.restore().await;
    let (tx, rx) = mpsc::channel(QUEUE);
    let queues = Arc::new(cc.queues.iter().map(|q| q.spec.name.clone()).collect());
    let agents = Arc::new(cc.agents.iter().map(|a| a.id.clone()).collect());
    tokio::spawn(task.run(rx, lost_rx));
    Acd { tx, queues, agents }
}

struct Task {
    floor: Floor,
    ids: HashMap<String, usize>,
    queues: Vec<super::config::QueueConfig>,
    /// Each entry's call.
    callers: HashMap<EntryId, mpsc::Sender<ToCaller>>,
    next_entry: EntryId,
    /// Read at start (agents' states); written through `writer`.
    store: Option<Store>,
    writer: Option<CdrWriter>,
    /// Where the writer reports claims another node won: (agent, entry).
    claims_lost: mpsc::Sender<(String, u64)>,
    /// Each entry's queue stay (the writer's number for its row), the
    /// caller's Call-ID and intent.
    rows: HashMap<EntryId, (u64, String, String)>,
    next_stay: u64,
    /// Each queue's recent handle time (talk plus wrap-up), ms: a moving
    /// average over its last calls.
    handle_ms: Vec<Option<i64>>,
}

fn now_ms() -> Millis {
    crate::call::unix_ms()
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>, mut lost: mpsc::Receiver<(String, u64)>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => self.handle(msg).await,
                    None => return,
                },
                Some((agent, entry)) = lost.recv() => self.claim_lost(&agent, entry).await,
                _ = tick.tick() => {
                    let orders = self.floor.tick(now_ms());
                    self.perform(orders).await;
                }
            }
        }
    }

    /// Agents start from their stored state; the ones a lost call held
    /// (reserved, ringing, on call, wrap-up) are available again.
    async fn restore(&mut self) {
        let Some(store) = &self.store else { return };
        match store.close_interrupted_queue_calls(now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(n, "queue stays open at the last stop closed as interrupted"),
            Err(e) => tracing::error!("queue stays not closed: {e}"),
        }
        let stored = match store.agent_states().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("agent states not read: {e}");
                return;
            }
        };
        let now = now_ms();
        let mut orders = Vec::new();
        for (agent, state, reason) in stored {
            let Some(&a) = self.ids.get(&agent) else {
                continue;
            };
            let events = match state.as_str() {
                "logged_out" => vec![],
                "not_ready" => vec![AgentEvent::Ready, AgentEvent::NotReady { reason }],
                _ => vec![AgentEvent::Ready],
            };
            for e in events {
                if let Ok(o) = self.floor.on_agent(a, e, now) {
                    orders.extend(o);
                }
            }
        }
        self.perform(orders).await;
    }

    async fn handle(&mut self, msg: Msg) {
        let now = now_ms();
        let orders = match msg {
            Msg::Join {
                call_id,
                queue,
                priority,
                intent,
                since,
                caller,
                reply,
                callback,
                agent,
            } => {
                let Some(q) = self.queues.iter().position(|c| c.spec.name == queue) else {
                    let _ = reply.send(Err(JoinRefused::NoQueue(queue)));
                    return;
                };
                if agent.is_none() && !self.queues[q].join_empty && !self.staffed(q) {
                    let _ = reply.send(Err(JoinRefused::Empty(queue)));
                    return;
                }
                let entry = self.next_entry;
                let since = since.unwrap_or(now).min(now);
                let direct = match agent {
                    None => None,
                    Some(id) => {
                        let Some(&a) = self.ids.get(&id) else {
                            let _ = reply.send(Err(JoinRefused::NoAgent(id)));
                            return;
                        };
                        match self.floor.join_direct(entry, q, priority, since, a, now) {
                            Some(orders) => Some(orders),
                            None => {
                                let _ = reply.send(Err(JoinRefused::Unavailable(id)));
                                return;
                            }
                        }
                    }
                };
                self.next_entry += 1;
                self.callers.insert(entry, caller);
                if !callback {
                    self.row_joined(entry, &call_id, &intent, q, priority, now)
                        .await;
                }
                let orders = match direct {
                    Some(orders) => orders,
                    None => self.floor.join(entry, q, priority, since, now),
                };
                let _ = reply.send(Ok(self.joined(entry, q)));
                orders
            }
            Msg::Leave { entry } => {
                self.row_ended(entry, "abandoned", now).await;
                let orders = self.floor.leave(entry, now);
                self.callers.remove(&entry);
                orders
            }
            Msg::LeaveForCallback { entry, reply } => {
                let place = self.floor.entry(entry).map(|e| Place {
                    queue: self.queues[e.queue].spec.name.clone(),
                    priority: e.priority,
                    since: e.since,
                });
                if place.is_some() {
                    self.row_ended(entry, "callback", now).await;
                }
                let _ = reply.send(place);
                self.callers.remove(&entry);
                self.floor.leave(entry, now)
            }
            Msg::Ended { entry } => {
                let (agent, queue, since) = match self.floor.entry(entry) {
                    Some(e) => match e.stage {
                        super::floor::Stage::Connected { agent, since } => {
                            (Some(agent), e.queue, since)
                        }
                        _ => (None, e.queue, now),
                    },
                    None => (None, 0, now),
                };
                if agent.is_some() {
                    let handle = now - since + self.queues[queue].wrap_up_ms;
                    let avg = &mut self.handle_ms[queue];
                    *avg = Some(match *avg {
                        None => handle,
                        Some(a) => {
                            (a as f64 * (1.0 - HANDLE_WEIGHT) + handle as f64 * HANDLE_WEIGHT)
                                as i64
                        }
                    });
                }
                self.callers.remove(&entry);
                self.row_ended(entry, "abandoned", now).await;
                match agent {
                    Some(a) => self
                        .floor
                        .on_agent(
                            a,
                            AgentEvent::CallEnded {
                                entry,
                                wrap_up_ms: 0,
                            },
                            now,
                        )
                        .unwrap_or_default(),
                    None => self.floor.leave(entry, now),
                }
            }
            Msg::GiveUp { entry, reply } => {
                let Some(e) = self.floor.entry(entry).cloned() else {
                    let _ = reply.send(None);
                    return;
                };
                let mut orders = self.floor.leave(entry, now);
                let overflow = match &self.queues[e.queue].on_max_wait {
                    super::config::MaxWait::Queue(name) => {
                        self.queues.iter().position(|q| &q.spec.name == name)
                    }
                    super::config::MaxWait::Exit => None,
                };
                let (call_id, intent) = self.origin_of(entry).await;
                let outcome = if overflow.is_some() {
                    "overflowed"
                } else {
                    "timed_out"
                };
                self.row_ended(entry, outcome, now).await;
                match overflow {
                    Some(q) => {
                        self.row_joined(entry, &call_id, &intent, q, e.priority, now)
                            .await;
                        orders.extend(self.floor.join(entry, q, e.priority, e.since, now));
                        let joined = self.joined(entry, q);
                        let _ = reply.send(Some((self.queues[q].spec.name.clone(), joined)));
                    }
                    None => {
                        self.callers.remove(&entry);
                        let _ = reply.send(None);
                    }
                }
                orders
            }
            Msg::Offer {
                entry,
                agent,
                outcome,
            } => {
                let Some(&a) = self.ids.get(&agent) else {
                    return;
                };
                if outcome == OfferOutcome::Answered {
                    self.row_answered(entry, &agent, now).await;
                }
                let event = match outcome {
                    OfferOutcome::Ringing => AgentEvent::Ring { entry },
                    OfferOutcome::Answered => AgentEvent::Answer { entry },
                    OfferOutcome::NoAnswer => AgentEvent::NoAnswer { entry },
                    OfferOutcome::Unreachable => AgentEvent::EndpointLost,
                };
                self.floor.on_agent(a, event, now).unwrap_or_default()
            }
            Msg::Agent {
                agent,
                request,
                reply,
            } => {
                let Some(&a) = self.ids.get(&agent) else {
                    let _ = reply.send(Err(format!("{agent} is not an agent")));
                    return;
                };
                let event = match request {
                    AgentRequest::Ready => AgentEvent::Ready,
                    AgentRequest::NotReady { reason } => AgentEvent::NotReady { reason },
                    AgentRequest::LogOut => AgentEvent::LogOut,
                    AgentRequest::ExtendWrapUp { seconds } => AgentEvent::ExtendWrapUp {
                        ms: Millis::from(seconds) * 1000,
                    },
                };
                match self.floor.on_agent(a, event, now) {
                    Ok(orders) => {
                        let _ = reply.send(Ok(self.floor.agent(a).state.to_string()));
                        orders
                    }
                    Err(refused) => {
                        let _ = reply.send(Err(refused.to_string()));
                        return;
                    }
                }
            }
            Msg::EndpointLost { agent } => match self.ids.get(&agent) {
                Some(&a) => self
                    .floor
                    .on_agent(a, AgentEvent::EndpointLost, now)
                    .unwrap_or_default(),
                None => return,
            },
            Msg::Position { entry, reply } => {
                let _ = reply.send(self.estimate(entry));
                return;
            }
            Msg::States { reply } => {
                let states = self
                    .ids
                    .iter()
                    .map(|(id, &a)| (id.clone(), self.floor.agent(a).state.to_string()))
                    .collect();
                let _ = reply.send(states);
                return;
            }
        };
        self.perform(orders).await;
    }

    async fn row_joined(
        &mut self,
        entry: EntryId,
        call_id: &str,
        intent: &str,
        q: usize,
        priority: u8,
        now: Millis,
    ) {
        let stay = self.next_stay;
        self.next_stay += 1;
        self.rows
            .insert(entry, (stay, call_id.to_string(), intent.to_string()));
        if let Some(w) = &self.writer {
            let queue = &self.queues[q].spec.name;
            w.queue_joined(stay, call_id, queue, priority, intent, now)
                .await;
        }
    }

    async fn row_answered(&self, entry: EntryId, agent: &str, now: Millis) {
        let (Some(w), Some((stay, _, _))) = (&self.writer, self.rows.get(&entry)) else {
            return;
        };
        let wrap_up = self
            .floor
            .entry(entry)
            .map_or(0, |e| self.queues[e.queue].wrap_up_ms);
        w.queue_answered(*stay, agent, now, wrap_up).await;
    }

    /// The stay of `entry` is over (`outcome` unless it was answered).
    async fn row_ended(&mut self, entry: EntryId, outcome: &str, now: Millis) {
        let Some((stay, _, _)) = self.rows.remove(&entry) else {
            return;
        };
        if let Some(w) = &self.writer {
            w.queue_ended(stay, outcome, now).await;
        }
    }

    /// The Call-ID and intent of `entry`'s stay (for its next row).
    async fn origin_of(&self, entry: EntryId) -> (String, String) {
        self.rows
            .get(&entry)
            .map(|(_, id, intent)| (id.clone(), intent.clone()))
            .unwrap_or_default()
    }

    /// Another node sharing the database holds `agent`, whom this node
    /// reserved for `entry`: not ready here, and the offer is withdrawn.
    async fn claim_lost(&mut self, agent: &str, entry: u64) {
        let Some(&a) = self.ids.get(agent) else {
            return;
        };
        if self.floor.agent(a).state.entry() != Some(entry) {
            return;
        }
        tracing::warn!(agent, entry, "agent claimed elsewhere");
        let reason = "claimed by another node".to_string();
        let orders = self
            .floor
            .on_agent(a, AgentEvent::NotReady { reason }, now_ms())
            .unwrap_or_default();
        self.perform(orders).await;
    }

    /// What a caller who just joined queue `q` as `entry` is told.
    fn joined(&self, entry: EntryId, q: usize) -> Joined {
        let ms = |v: i64| Duration::from_millis(v.max(0) as u64);
        Joined {
            entry,
            position: self.floor.router().position(entry).unwrap_or(0),
            max_wait: ms(self.queues[q].max_wait_ms),
            announce_every: ms(self.queues[q].announce_every_ms),
            callback_digit: self.queues[q].callback.digit,
            survey: self.queues[q].survey,
            messages: self.queues[q].messages.clone(),
            message_every: ms(self.queues[q].message_every_ms),
        }
    }

    /// Whether any agent able to serve queue `q` is logged in.
    fn staffed(&self, q: usize) -> bool {
        self.staffing(q) > 0
    }

    /// How many agents able to serve queue `q` are logged in.
    fn staffing(&self, q: usize) -> usize {
        let spec = &self.queues[q].spec;
        self.floor
            .router()
            .agents()
            .iter()
            .enumerate()
            .filter(|(a, skills)| {
                !matches!(self.floor.agent(*a).state, AgentState::LoggedOut)
                    && spec
                        .skills
                        .iter()
                        .all(|(s, _)| skills.skills.iter().any(|(k, _)| k == s))
            })
            .count()
    }

    /// Where `entry` waits and about how long it will still wait: its
    /// position times the queue's recent handle time, shared among the
    /// agents staffing it.
    fn estimate(&self, entry: EntryId) -> Option<(usize, Duration)> {
        let position = self.floor.router().position(entry)?;
        let q = self.floor.entry(entry)?.queue;
        let handle = self.handle_ms[q].unwrap_or(DEFAULT_HANDLE_MS);
        let staff = self.staffing(q).max(1) as i64;
        let ms = (position as i64 * handle / staff).max(0);
        Some((position, Duration::from_millis(ms as u64)))
    }

    /// Performs the floor's orders. A call that cannot take an offer is
    /// gone: it leaves the line, and the orders that follow are performed
    /// too (bounded: each round removes a caller).
    async fn perform(&mut self, orders: Vec<Order>) {
        let mut pending = std::collections::VecDeque::from(orders);
        let mut rounds = self.callers.len() + 1;
        while let Some(order) = pending.pop_front() {
            match order {
                Order::Offer { entry, agents } => {
                    let queue = self.floor.entry(entry).map(|e| e.queue);
                    let ring_timeout = queue
                        .map(|q| Duration::from_millis(self.queues[q].ring_timeout_ms as u64))
                        .unwrap_or(Duration::from_secs(15));
                    let mut delivered = true;
                    // An agent whose claim was lost meanwhile is not rung.
                    let held = |a: &usize| self.floor.agent(*a).state.entry() == Some(entry);
                    for a in agents.into_iter().filter(held) {
                        let agent = self.floor.router().agents()[a].id.clone();
                        let offer = ToCaller::Offer {
                            agent,
                            ring_timeout,
                        };
                        delivered &= self.tell(entry, offer);
                    }
                    if !delivered && rounds > 0 {
                        rounds -= 1;
                        tracing::warn!(entry, "a queued call did not take its offer: it left");
                        self.callers.remove(&entry);
                        self.row_ended(entry, "abandoned", now_ms()).await;
                        pending.extend(self.floor.leave(entry, now_ms()));
                    }
                }
                Order::StopRinging { entry, agent } => {
                    let agent = self.floor.router().agents()[agent].id.clone();
                    self.tell(entry, ToCaller::StopRinging { agent });
                }
                Order::Transition { agent, from, to } => {
                    self.store_transition(agent, from, to).await;
                }
            }
        }
    }

    /// Stores a transition; an offer's reservation is a claim, which
    /// another node sharing the database may have won (the writer then
    /// reports it: [`Self::claim_lost`]).
    async fn store_transition(&self, agent: usize, from: AgentState, to: AgentState) {
        let id = self.floor.router().agents()[agent].id.clone();
        tracing::info!(agent = %id, from = %from, to = %to, "agent state");
        let Some(w) = &self.writer else {
            return;
        };
        if let (AgentState::Available { .. }, AgentState::Reserved { entry }) = (&from, &to) {
            return w
                .claim_agent(&id, now_ms(), self.claims_lost.clone(), *entry)
                .await;
        }
        let reason = match &to {
            AgentState::NotReady { reason } => reason.clone(),
            _ => String::new(),
        };
        let t = AgentTransition {
            agent: id,
            from_state: from.name().into(),
            to_state: to.name().into(),
            reason,
            at: now_ms(),
        };
        w.agent_transition(t).await;
    }

    /// Sends to the call of `entry`; false when it cannot take it (the
    /// call is gone, or so far behind that it is as good as gone).
    fn tell(&self, entry: EntryId, msg: ToCaller) -> bool {
        self.callers
            .get(&entry)
            .is_some_and(|tx| tx.try_send(msg).is_ok())
    }
}
