//! Rate limiting of the security log itself: at most one line per
//! (source, event kind) per interval, with the number of lines suppressed
//! meanwhile, and a global cap per interval so that a flood from many
//! (possibly spoofed) sources cannot flood the log either.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Permission to write one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admit {
    /// Lines of this (source, kind) suppressed since its previous line.
    pub suppressed: u64,
    /// Lines of any kind dropped by the global cap since the previous
    /// admitted line.
    pub suppressed_global: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    last_logged: Instant,
    suppressed: u64,
}

/// Log-line throttle keyed by `(source, kind)`.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    max_per_interval: u32,
    capacity: usize,
    slots: HashMap<(IpAddr, &'static str), Slot>,
    window_start: Option<Instant>,
    in_window: u32,
    suppressed_global: u64,
}

impl LogThrottle {
    /// One line per key per `interval`, at most `max_per_interval` lines in
    /// total per interval, at most `capacity` keys remembered.
    pub fn new(interval: Duration, max_per_interval: u32, capacity: usize) -> Self {
        LogThrottle {
            interval,
            max_per_interval: max_per_interval.max(1),
            capacity: capacity.max(1),
            slots: HashMap::new(),
            window_start: None,
            in_window: 0,
            suppressed_global: 0,
        }
    }

    /// Whether a line for `(src, kind)` may be written at `now`.
    pub fn admit(&mut self, src: IpAddr, kind: &'static str, now: Instant) -> Option<Admit> {
        let interval = self.interval;
        if let Some(slot) = self.slots.get_mut(&(src, kind)) {
            if now.saturating_duration_since(slot.last_logged) < interval {
                slot.suppressed += 1;
                return None;
            }
        }
        if !self.take_global(now) {
            self.suppressed_global += 1;
            return None;
        }
        if !self.slots.contains_key(&(src, kind)) && self.slots.len() >= self.capacity {
            self.slots
                .retain(|_, s| now.saturating_duration_since(s.last_logged) < interval);
            if self.slots.len() >= self.capacity {
                // Cannot remember this key: log it anyway (the global cap
                // still bounds the volume).
                return Some(self.admitted(0));
            }
        }
        let slot = self.slots.entry((src, kind)).or_insert(Slot {
            last_logged: now,
            suppressed: 0,
        });
        let suppressed = std::mem::take(&mut slot.suppressed);
        slot.last_logged = now;
        Some(self.admitted(suppressed))
    }

    fn admitted(&mut self, suppressed: u64) -> Admit {
        Admit {
            suppressed,
            suppressed_global: std::mem::take(&mut self.suppressed_global),
        }
    }

    fn take_global(&mut self, now: Instant) -> bool {
        let start = *self.window_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= self.interval {
            self.window_start = Some(now);
            self.in_window = 0;
        }
        if self.in_window >= self.max_per_interval {
            return false;
        }
        self.in_window += 1;
        true
    }
}
