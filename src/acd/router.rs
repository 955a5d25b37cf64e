//! The routing decision: which waiting caller goes to which available
//! agent. Sans-IO and allocation-free on the hot path: agents able to take
//! a queue's calls are the available set ANDed with one bitset per
//! required skill (at the proficiency the caller's wait has relaxed to);
//! callers are scanned by priority band, and a band stops at its first
//! caller no agent can take (everyone behind has waited less, so asks at
//! least as much).
//!
//! [`Router::decide`] claims what it decides: the entry leaves its queue's
//! waiting line and the agents leave the available set. The ACD gives them
//! back ([`Router::enqueue`], [`Router::set_available`]) when the offer
//! does not end in a call.

use std::cmp::Reverse;
use std::collections::HashMap;

use smallvec::SmallVec;

use super::agent::{EntryId, Millis};
use super::bits::AgentBits;
use super::queue::{MAX_PROFICIENCY, Place, QueueSpec, SkillId, Strategy, Waiting};

/// An agent as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSkills {
    pub id: String,
    /// (skill, proficiency 1..=10).
    pub skills: Vec<(SkillId, u8)>,
}

/// What the router decided: offer `entry` (of queue `queue`) to `agents`
/// (one, or every able agent for ring-all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub entry: EntryId,
    pub queue: usize,
    /// The entry's place: its priority and when it joined.
    pub priority: u8,
    pub since: Millis,
    pub agents: SmallVec<[usize; 4]>,
}

#[derive(Debug, Clone, Default)]
struct AgentLoad {
    idle_since: Millis,
    answered: u32,
    talk_ms: Millis,
}

#[derive(Debug, Clone)]
struct QueueLine {
    spec: QueueSpec,
    waiting: Waiting,
    /// Round robin: the agent offered last.
    last: Option<usize>,
}

/// Queues, agents and who is available; see the module doc.
#[derive(Debug, Clone)]
pub struct Router {
    agents: Vec<AgentSkills>,
    load: Vec<AgentLoad>,
    /// `by_skill[skill][p - 1]`: agents with proficiency `p` or more.
    by_skill: Vec<Vec<AgentBits>>,
    available: AgentBits,
    queues: Vec<QueueLine>,
    /// Where each waiting entry sits.
    places: HashMap<EntryId, (usize, Place)>,
    scratch: AgentBits,
}

impl Router {
    /// `skills` is the number of skills (ids `0..skills`); every agent
    /// starts unavailable.
    pub fn new(skills: usize, agents: Vec<AgentSkills>, queues: Vec<QueueSpec>) -> Self {
        let n = agents.len();
        let mut by_skill = vec![vec![AgentBits::new(n); usize::from(MAX_PROFICIENCY)]; skills];
        for (i, a) in agents.iter().enumerate() {
            for &(skill, p) in &a.skills {
                let p = p.clamp(1, MAX_PROFICIENCY);
                for at_least in &mut by_skill[skill][..usize::from(p)] {
                    at_least.insert(i);
                }
            }
        }
        Router {
            load: vec![AgentLoad::default(); n],
            agents,
            by_skill,
            available: AgentBits::new(n),
            queues: queues
                .into_iter()
                .map(|spec| QueueLine {
                    spec,
                    waiting: Waiting::default(),
                    last: None,
                })
                .collect(),
            places: HashMap::new(),
            scratch: AgentBits::new(n),
        }
    }

    pub fn agents(&self) -> &[AgentSkills] {
        &self.agents
    }

    pub fn queue(&self, q: usize) -> &QueueSpec {
        &self.queues[q].spec
    }

    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    /// Callers waiting in queue `q` (not those being offered).
    pub fn waiting(&self, q: usize) -> usize {
        self.queues[q].waiting.len()
    }

    /// The 1-based position of a waiting entry in its queue.
    pub fn position(&self, entry: EntryId) -> Option<usize> {
        let (q, place) = self.places.get(&entry)?;
        Some(self.queues[*q].waiting.position(place))
    }

    /// Agent `a` is available since `since`, or (`None`) not.
    pub fn set_available(&mut self, a: usize, since: Option<Millis>) {
        match since {
            Some(t) => {
                self.available.insert(a);
                self.load[a].idle_since = t;
            }
            None => self.available.remove(a),
        }
    }

    pub fn is_available(&self, a: usize) -> bool {
        self.available.contains(a)
    }

    /// Agent `a` answered a call (fewest-calls counts these).
    pub fn note_answered(&mut self, a: usize) {
        self.load[a].answered += 1;
    }

    /// Agent `a` talked for `ms` (least-talk-time adds these up).
    pub fn note_talk(&mut self, a: usize, ms: Millis) {
        self.load[a].talk_ms += ms.max(0);
    }

    /// Puts `entry` in line in queue `q` at its place: `priority` (higher
    /// first), then `since` (earlier first). An entry put back after an
    /// offer keeps its place.
    pub fn enqueue(&mut self, entry: EntryId, q: usize, priority: u8, since: Millis) {
        let place = (Reverse(priority), since, entry);
        if let Some((old_q, old)) = self.places.insert(entry, (q, place)) {
            self.queues[old_q].waiting.remove(&old);
        }
        self.queues[q].waiting.insert(place);
    }

    /// Takes `entry` out of line (it left or was answered elsewhere).
    pub fn remove(&mut self, entry: EntryId) -> bool {
        match self.places.remove(&entry) {
            Some((q, place)) => self.queues[q].waiting.remove(&place),
            None => false,
        }
    }

    /// The next offer to make at `now`, claimed: the entry leaves its line
    /// and its agents the available set. `None` when no waiting caller can
    /// be given to an available agent.
    pub fn decide(&mut self, now: Millis) -> Option<Decision> {
        if self.available.is_empty() {
            return None;
        }
        let mut best: Option<(Place, usize, usize)> = None;
        for q in 0..self.queues.len() {
            if let Some((place, level)) = self.servable(q, now, best.map(|b| b.0)) {
                best = Some((place, q, level));
            }
        }
        let (place, q, level) = best?;
        self.eligible(q, level);
        let agents = self.pick(q);
        let entry = place.2;
        self.queues[q].waiting.remove(&place);
        self.places.remove(&entry);
        for &a in &agents {
            self.available.remove(a);
        }
        if let Some(&a) = agents.first() {
            self.queues[q].last = Some(a);
        }
        Some(Decision {
            entry,
            queue: q,
            priority: place.0.0,
            since: place.1,
            agents,
        })
    }

    /// Queue `q`'s first caller an available agent can take, with the
    /// relaxation level of their wait; only if ahead of `beat`.
    fn servable(&mut self, q: usize, now: Millis, beat: Option<Place>) -> Option<(Place, usize)> {
        let mut from: Place = (Reverse(u8::MAX), Millis::MIN, 0);
        loop {
            let place = self.queues[q].waiting.first_from(&from)?;
            if beat.is_some_and(|b| (b.0, b.1) <= (place.0, place.1)) {
                return None;
            }
            let level = self.queues[q].spec.level(now - place.1);
            self.eligible(q, level);
            if !self.scratch.is_empty() {
                return Some((place, level));
            }
            // Everyone behind in this band waited less: next band.
            let priority = place.0.0.checked_sub(1)?;
            from = (Reverse(priority), Millis::MIN, 0);
        }
    }

    /// Fills `scratch` with the available agents queue `q` accepts at
    /// relaxation `level`.
    fn eligible(&mut self, q: usize, level: usize) {
        self.scratch.copy_from(&self.available);
        let spec = &self.queues[q].spec;
        for &(skill, min) in &spec.skills {
            let p = spec.min_at(min, level).clamp(1, MAX_PROFICIENCY);
            self.scratch
                .intersect(&self.by_skill[skill][usize::from(p) - 1]);
        }
    }

    /// Picks among `scratch` by queue `q`'s strategy.
    fn pick(&self, q: usize) -> SmallVec<[usize; 4]> {
        let line = &self.queues[q];
        let idle = |a: usize| self.load[a].idle_since;
        let by = |key: &dyn Fn(usize) -> (i64, Millis)| {
            self.scratch
                .iter()
                .min_by_key(|&a| (key(a), a))
                .into_iter()
                .collect()
        };
        match line.spec.strategy {
            Strategy::RingAll => self.scratch.iter().collect(),
            Strategy::RoundRobin => self.scratch.next_after(line.last).into_iter().collect(),
            Strategy::LongestIdle => by(&|a| (0, idle(a))),
            Strategy::FewestCalls => by(&|a| (i64::from(self.load[a].answered), idle(a))),
            Strategy::LeastTalkTime => by(&|a| (self.load[a].talk_ms, idle(a))),
            Strategy::BestSkill => by(&|a| {
                let score: i64 = line
                    .spec
                    .skills
                    .iter()
                    .map(|&(s, _)| {
                        self.agents[a]
                            .skills
                            .iter()
                            .find(|(k, _)| *k == s)
                            .map_or(0, |(_, p)| i64::from(*p))
                    })
                    .sum();
                (-score, idle(a))
            }),
        }
    }
}
