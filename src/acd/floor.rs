//! The contact-center floor, sans-IO: every agent's state machine, the
//! waiting callers and the router, kept consistent with each other. The
//! ACD task feeds it what happened (a caller joined or left, an agent's
//! phone rang or was answered, an agent dialled a feature code, a timer
//! passed) and performs the [`Order`]s it returns (ring these agents,
//! stop ringing those, connect, record the transition).
//!
//! Its promise, checked by a property test: no agent is ever reserved,
//! ringing or on a call for a caller who is not there, and a caller
//! offered to nobody and talking to nobody is back in line.

use std::collections::HashMap;

use smallvec::SmallVec;

use super::agent::{AgentEvent, AgentState, AgentStatus, Effect, EntryId, Millis, Refused};
use super::router::Router;

/// A caller in a queue (waiting, being offered, or talking to an agent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub queue: usize,
    pub priority: u8,
    /// When the caller joined (their place in line).
    pub since: Millis,
    pub stage: Stage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Waiting,
    /// Offered to these agents (several for ring-all).
    Offered(SmallVec<[usize; 4]>),
    /// Talking to `agent` since `since`.
    Connected {
        agent: usize,
        since: Millis,
    },
}

/// What the ACD task must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// Ring `agents` for `entry`.
    Offer {
        entry: EntryId,
        agents: SmallVec<[usize; 4]>,
    },
    /// Stop ringing `agent` for `entry`.
    StopRinging { entry: EntryId, agent: usize },
    /// Agent `agent` changed state (store it with the time).
    Transition {
        agent: usize,
        from: AgentState,
        to: AgentState,
    },
}

/// Agents, callers and the router; see the module doc.
#[derive(Debug, Clone)]
pub struct Floor {
    router: Router,
    agents: Vec<AgentStatus>,
    entries: HashMap<EntryId, Entry>,
    /// Wrap-up per queue, in ms.
    wrap_up: Vec<Millis>,
}

impl Floor {
    /// Every agent starts logged out; `max_missed` offers missed in a row
    /// make an agent not ready; `wrap_up[q]` is queue `q`'s wrap-up.
    pub fn new(router: Router, max_missed: u32, wrap_up: Vec<Millis>) -> Self {
        let n = router.agents().len();
        Floor {
            router,
            agents: vec![AgentStatus::new(max_missed); n],
            entries: HashMap::new(),
            wrap_up,
        }
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn agent(&self, a: usize) -> &AgentStatus {
        &self.agents[a]
    }

    pub fn entry(&self, e: EntryId) -> Option<&Entry> {
        self.entries.get(&e)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&EntryId, &Entry)> {
        self.entries.iter()
    }

    /// A caller joins queue `q` at `now`, in line as if since `since` (an
    /// overflow keeps the time already waited); the offers that can be
    /// made now.
    pub fn join(
        &mut self,
        entry: EntryId,
        q: usize,
        priority: u8,
        since: Millis,
        now: Millis,
    ) -> Vec<Order> {
        if self.entries.contains_key(&entry) {
            return Vec::new();
        }
        self.entries.insert(
            entry,
            Entry {
                queue: q,
                priority,
                since,
                stage: Stage::Waiting,
            },
        );
        self.router.enqueue(entry, q, priority, since);
        let mut out = Vec::new();
        self.route(now, &mut out);
        out
    }

    /// A caller transferred to agent `a` in particular: offered to them at
    /// once if they are available (else `None`, nothing changes). Should
    /// the agent not answer, the caller waits in queue `q` like any other
    /// caller who joined at `since`.
    pub fn join_direct(
        &mut self,
        entry: EntryId,
        q: usize,
        priority: u8,
        since: Millis,
        a: usize,
        now: Millis,
    ) -> Option<Vec<Order>> {
        if self.entries.contains_key(&entry)
            || !matches!(self.agents.get(a)?.state, AgentState::Available { .. })
        {
            return None;
        }
        let agents: SmallVec<[usize; 4]> = SmallVec::from_slice(&[a]);
        self.entries.insert(
            entry,
            Entry {
                queue: q,
                priority,
                since,
                stage: Stage::Offered(agents.clone()),
            },
        );
        let mut out = Vec::new();
        self.agent_event(a, AgentEvent::Offer { entry }, now, &mut out);
        out.push(Order::Offer { entry, agents });
        Some(out)
    }

    /// The caller of `entry` is gone (hung up, overflowed, a callback
    /// taken instead): offers are withdrawn, a call in progress ends.
    pub fn leave(&mut self, entry: EntryId, now: Millis) -> Vec<Order> {
        let mut out = Vec::new();
        let Some(e) = self.entries.remove(&entry) else {
            return out;
        };
        self.router.remove(entry);
        match e.stage {
            Stage::Waiting => {}
            Stage::Offered(agents) => {
                for a in agents {
                    out.push(Order::StopRinging { entry, agent: a });
                    self.agent_event(a, AgentEvent::Withdraw { entry }, now, &mut out);
                }
            }
            Stage::Connected { agent, since } => {
                self.router.note_talk(agent, now - since);
                let wrap_up_ms = self.wrap_up.get(e.queue).copied().unwrap_or(0);
                let ended = AgentEvent::CallEnded { entry, wrap_up_ms };
                self.agent_event(agent, ended, now, &mut out);
            }
        }
        self.route(now, &mut out);
        out
    }

    /// Something happened to agent `a`: a feature code, their phone (ring,
    /// answer, no answer), the end of their call, a timer.
    pub fn on_agent(
        &mut self,
        a: usize,
        event: AgentEvent,
        now: Millis,
    ) -> Result<Vec<Order>, Refused> {
        let mut out = Vec::new();
        // Check first: a refused event changes nothing.
        let mut probe = self.agents[a].clone();
        probe.apply(event.clone(), now)?;
        match &event {
            AgentEvent::Answer { entry } => self.answered(a, *entry, now, &mut out),
            AgentEvent::NoAnswer { entry } | AgentEvent::Withdraw { entry } => {
                self.offer_over(a, *entry);
                self.agent_event(a, event.clone(), now, &mut out);
            }
            AgentEvent::CallEnded { entry, .. } => {
                if let Some(e) = self.entries.remove(entry) {
                    self.router.remove(*entry);
                    if let Stage::Connected { since, .. } = e.stage {
                        self.router.note_talk(a, now - since);
                    }
                    let wrap_up_ms = self.wrap_up.get(e.queue).copied().unwrap_or(0);
                    let ended = AgentEvent::CallEnded {
                        entry: *entry,
                        wrap_up_ms,
                    };
                    self.agent_event(a, ended, now, &mut out);
                }
            }
            _ => self.agent_event(a, event, now, &mut out),
        }
        self.route(now, &mut out);
        Ok(out)
    }

    /// Wrap-ups that ran out by `now` end; the offers that follow.
    pub fn tick(&mut self, now: Millis) -> Vec<Order> {
        let mut out = Vec::new();
        for a in 0..self.agents.len() {
            if matches!(self.agents[a].state, AgentState::WrapUp { until } if until <= now) {
                self.agent_event(a, AgentEvent::WrapUpEnded, now, &mut out);
            }
        }
        self.route(now, &mut out);
        out
    }

    /// The switch restarted: no call or offer survived; waiting callers
    /// are gone (their calls were closed); agents held for them are free.
    pub fn restarted(&mut self, now: Millis) -> Vec<Order> {
        let mut out = Vec::new();
        for e in std::mem::take(&mut self.entries).into_keys() {
            self.router.remove(e);
        }
        for a in 0..self.agents.len() {
            self.agent_event(a, AgentEvent::Restarted, now, &mut out);
        }
        out
    }

    /// Agent `a` answered `entry`: connected; other agents rung for it
    /// (ring-all) stop ringing.
    fn answered(&mut self, a: usize, entry: EntryId, now: Millis, out: &mut Vec<Order>) {
        let Some(e) = self.entries.get_mut(&entry) else {
            return;
        };
        let others: SmallVec<[usize; 4]> = match &e.stage {
            Stage::Offered(agents) => agents.iter().copied().filter(|&o| o != a).collect(),
            _ => SmallVec::new(),
        };
        e.stage = Stage::Connected {
            agent: a,
            since: now,
        };
        self.agent_event(a, AgentEvent::Answer { entry }, now, out);
        self.router.note_answered(a);
        for o in others {
            out.push(Order::StopRinging { entry, agent: o });
            self.agent_event(o, AgentEvent::Withdraw { entry }, now, out);
        }
    }

    /// Agent `a`'s offer of `entry` is over without an answer: when no
    /// agent is left ringing for it, the caller is back in line, in place.
    fn offer_over(&mut self, a: usize, entry: EntryId) {
        let Some(e) = self.entries.get_mut(&entry) else {
            return;
        };
        if let Stage::Offered(agents) = &mut e.stage {
            agents.retain(|o| *o != a);
            if agents.is_empty() {
                e.stage = Stage::Waiting;
                self.router.enqueue(entry, e.queue, e.priority, e.since);
            }
        }
    }

    /// Applies an event to agent `a`'s state machine (ignoring a refusal:
    /// the callers checked), keeps the router's available set in step and
    /// performs the machine's effects.
    fn agent_event(&mut self, a: usize, event: AgentEvent, now: Millis, out: &mut Vec<Order>) {
        let from = self.agents[a].state.clone();
        let Ok(effects) = self.agents[a].apply(event, now) else {
            return;
        };
        let to = self.agents[a].state.clone();
        match &to {
            AgentState::Available { since } => self.router.set_available(a, Some(*since)),
            _ => self.router.set_available(a, None),
        }
        if from != to {
            out.push(Order::Transition { agent: a, from, to });
        }
        for Effect::WithdrawOffer { entry } in effects {
            out.push(Order::StopRinging { entry, agent: a });
            self.offer_over(a, entry);
        }
    }

    /// Makes every offer the router can decide now.
    fn route(&mut self, now: Millis, out: &mut Vec<Order>) {
        // Each decision takes at least one available agent: bounded.
        for _ in 0..=self.agents.len() {
            let Some(d) = self.router.decide(now) else {
                return;
            };
            if let Some(e) = self.entries.get_mut(&d.entry) {
                e.stage = Stage::Offered(d.agents.clone());
            }
            for &a in &d.agents {
                self.agent_event(a, AgentEvent::Offer { entry: d.entry }, now, out);
            }
            out.push(Order::Offer {
                entry: d.entry,
                agents: d.agents,
            });
        }
    }
}
