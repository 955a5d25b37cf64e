//! What a queue asks of its agents, and in what order its callers wait:
//! required skills with a minimum proficiency, relaxed as a caller waits
//! longer; the strategy that picks among the agents able to take a call;
//! and the waiting entries, highest priority first, then longest waiting.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::agent::{EntryId, Millis};

/// Index of a skill in the router's skill table.
pub type SkillId = usize;

/// Proficiencies run from 1 (beginner) to 10 (expert).
pub const MAX_PROFICIENCY: u8 = 10;

/// How a queue picks among the agents able to take its next caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The agent idle the longest.
    LongestIdle,
    /// The highest proficiency in the queue's skills (then longest idle).
    BestSkill,
    /// The next agent after the one offered last, in a fixed order.
    RoundRobin,
    /// The agent who answered the fewest calls (then longest idle).
    FewestCalls,
    /// The agent with the least talk time (then longest idle).
    LeastTalkTime,
    /// Every able agent at once; the first to answer takes the call.
    RingAll,
}

impl Strategy {
    pub const NAMES: [(&'static str, Strategy); 6] = [
        ("longest-idle", Strategy::LongestIdle),
        ("best-skill", Strategy::BestSkill),
        ("round-robin", Strategy::RoundRobin),
        ("fewest-calls", Strategy::FewestCalls),
        ("least-talk-time", Strategy::LeastTalkTime),
        ("ring-all", Strategy::RingAll),
    ];

    pub fn from_name(name: &str) -> Option<Strategy> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }
}

/// One relaxation step: after `after_ms` of waiting, agents with at least
/// `min_proficiency` in each required skill are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relaxation {
    pub after_ms: Millis,
    pub min_proficiency: u8,
}

/// A queue's routing rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    /// Required skills, each with its minimum proficiency (1..=10).
    pub skills: Vec<(SkillId, u8)>,
    pub strategy: Strategy,
    /// Relaxation steps, by increasing `after_ms`.
    pub relax: Vec<Relaxation>,
}

impl QueueSpec {
    /// The relaxation level for a caller who has waited `waited`: 0 is
    /// the skills as written, `i + 1` is step `i`.
    pub fn level(&self, waited: Millis) -> usize {
        self.relax
            .iter()
            .take_while(|r| waited >= r.after_ms)
            .count()
    }

    /// The minimum proficiency of `skill` (required at `min`) at `level`.
    pub fn min_at(&self, min: u8, level: usize) -> u8 {
        match level {
            0 => min,
            l => min.min(self.relax[l - 1].min_proficiency).max(1),
        }
    }
}

/// Where an entry sits in its queue: higher priority first, then earlier.
pub type Place = (Reverse<u8>, Millis, EntryId);

/// A queue's waiting entries (not those being offered), in order.
#[derive(Debug, Default, Clone)]
pub struct Waiting {
    order: BTreeMap<Place, ()>,
}

impl Waiting {
    pub fn insert(&mut self, place: Place) {
        self.order.insert(place, ());
    }

    pub fn remove(&mut self, place: &Place) -> bool {
        self.order.remove(place).is_some()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The first entry of each priority band at or after `from`.
    pub fn first_from(&self, from: &Place) -> Option<Place> {
        self.order.range(from..).next().map(|(p, _)| *p)
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &Place> {
        self.order.keys()
    }

    /// The 1-based position of `place` (for announcements).
    pub fn position(&self, place: &Place) -> usize {
        self.order.range(..place).count() + 1
    }
}
