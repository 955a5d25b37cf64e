//! Authentication-failure tracking and temporary bans, bounded in size.
//!
//! N failures from one source within a sliding window start a ban of fixed
//! length. A success never lifts a ban. When the table is full, idle entries
//! go first, then non-banned entries by age, then the bans ending soonest.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Counted; `failures` within the window so far.
    Counted {
        /// Failures in the current window.
        failures: u32,
    },
    /// This failure started a ban lasting until `until`.
    BanStarted {
        /// End of the ban.
        until: Instant,
    },
    /// The source was already banned.
    AlreadyBanned,
}

#[derive(Debug, Clone)]
struct Entry {
    failures: VecDeque<Instant>,
    banned_until: Option<Instant>,
    last: Instant,
}

/// Failure counters and bans keyed by source.
#[derive(Debug)]
pub struct BanTracker {
    max_failures: u32,
    window: Duration,
    ban: Duration,
    capacity: usize,
    entries: HashMap<IpAddr, Entry>,
}

impl BanTracker {
    /// `max_failures` (0 = never ban on failures) within `window` start a
    /// ban of `ban`; at most `capacity` sources tracked.
    pub fn new(max_failures: u32, window: Duration, ban: Duration, capacity: usize) -> Self {
        BanTracker {
            max_failures,
            window,
            ban,
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// Number of sources tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// When the ban of `key` ends, if it is banned at `now`.
    pub fn banned_until(&self, key: IpAddr, now: Instant) -> Option<Instant> {
        self.entries
            .get(&key)
            .and_then(|e| e.banned_until)
            .filter(|until| *until > now)
    }

    /// Records one failure.
    pub fn record_failure(&mut self, key: IpAddr, now: Instant) -> FailureOutcome {
        if self.banned_until(key, now).is_some() {
            return FailureOutcome::AlreadyBanned;
        }
        if self.max_failures == 0 {
            return FailureOutcome::Counted { failures: 0 };
        }
        let (window, max) = (self.window, self.max_failures as usize);
        let e = self.entry(key, now);
        e.banned_until = None;
        e.last = now;
        while e
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            e.failures.pop_front();
        }
        e.failures.push_back(now);
        if e.failures.len() >= max {
            self.start_ban(key, now)
        } else {
            FailureOutcome::Counted {
                failures: e.failures.len() as u32,
            }
        }
    }

    /// Bans `key` now (e.g. a scanner). Returns `AlreadyBanned` if it was.
    pub fn ban(&mut self, key: IpAddr, now: Instant) -> FailureOutcome {
        if self.banned_until(key, now).is_some() {
            return FailureOutcome::AlreadyBanned;
        }
        self.start_ban(key, now)
    }

    fn start_ban(&mut self, key: IpAddr, now: Instant) -> FailureOutcome {
        let until = now + self.ban;
        let e = self.entry(key, now);
        e.failures.clear();
        e.banned_until = Some(until);
        e.last = now;
        FailureOutcome::BanStarted { until }
    }

    fn entry(&mut self, key: IpAddr, now: Instant) -> &mut Entry {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.evict(now);
        }
        self.entries.entry(key).or_insert_with(|| Entry {
            failures: VecDeque::new(),
            banned_until: None,
            last: now,
        })
    }

    fn evict(&mut self, now: Instant) {
        let window = self.window;
        self.entries.retain(|_, e| {
            e.banned_until.is_some_and(|u| u > now)
                || e.failures
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < window)
        });
        if self.entries.len() < self.capacity {
            return;
        }
        // Non-banned entries (oldest first) before bans (ending soonest first).
        let mut order: Vec<((bool, Instant), IpAddr)> = self
            .entries
            .iter()
            .map(|(k, e)| match e.banned_until {
                Some(u) if u > now => ((true, u), *k),
                _ => ((false, e.last), *k),
            })
            .collect();
        let n = (self.capacity / 8).max(1).min(order.len());
        order.select_nth_unstable_by_key(n - 1, |(rank, _)| *rank);
        for (_, k) in &order[..n] {
            self.entries.remove(k);
        }
    }
}
