//! Per-source token-bucket rate limiting in a bounded map.
//!
//! Buckets that have refilled completely carry no information and are the
//! first to go when the map is full; after that the least recently seen
//! eighth is evicted in one sweep, so a full map costs amortised O(1).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Within budget.
    Allow,
    /// Over budget: drop.
    Limit,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by source (callers pass the key, see
/// [`source_key`](super::source_key)).
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    capacity: usize,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    /// `rate` tokens per second, at most `burst` tokens, at most `capacity`
    /// sources tracked. A `rate` of 0 allows everything.
    pub fn new(rate: f64, burst: f64, capacity: usize) -> Self {
        RateLimiter {
            rate: rate.max(0.0),
            burst: burst.max(1.0),
            capacity: capacity.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Number of sources tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Takes one token for `key` at `now`.
    pub fn check(&mut self, key: IpAddr, now: Instant) -> Decision {
        if self.rate <= 0.0 {
            return Decision::Allow;
        }
        if let Some(b) = self.buckets.get_mut(&key) {
            let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
            if now > b.last {
                b.last = now;
            }
            return if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Decision::Allow
            } else {
                Decision::Limit
            };
        }
        if self.buckets.len() >= self.capacity {
            self.evict(now);
        }
        self.buckets.insert(
            key,
            Bucket {
                tokens: self.burst - 1.0,
                last: now,
            },
        );
        Decision::Allow
    }

    fn evict(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens + elapsed * rate < burst
        });
        if self.buckets.len() < self.capacity {
            return;
        }
        let mut by_age: Vec<(Instant, IpAddr)> =
            self.buckets.iter().map(|(k, b)| (b.last, *k)).collect();
        let n = (self.capacity / 8).max(1).min(by_age.len());
        by_age.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        for (_, k) in &by_age[..n] {
            self.buckets.remove(k);
        }
    }
}
