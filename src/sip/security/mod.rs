//! Flood and scanner defence for the SIP front door (pure logic, no I/O).
//!
//! - [`RateLimiter`]: per-source token buckets in a bounded map;
//! - [`UserAgentFilter`]: scanner User-Agent block list;
//! - [`BanTracker`]: authentication-failure counting and temporary bans;
//! - [`LogThrottle`]: keeps refusal logging itself bounded;
//! - [`Guard`]: the three combined under one [`SecurityConfig`], returning a
//!   [`Verdict`] per request and emitting `tracing` events at target
//!   `"security"` with fields `event` (`rate_limited`, `scanner_blocked`,
//!   `banned`, `ban_started`, `auth_failed`), `src`, `user_agent`, `detail`,
//!   `suppressed` and `suppressed_global`.
//!
//! Time is an `Instant` passed by the caller so tests can use a fake clock.

mod bans;
mod config;
mod guard;
mod log_throttle;
mod rate_limit;
mod user_agent;

#[cfg(test)]
mod tests;

pub use bans::{BanTracker, FailureOutcome};
pub use config::{
    ConfigError, DEFAULT_BLOCKED_USER_AGENTS, SecurityConfig, canonical, in_networks, source_key,
};
pub use guard::{Guard, Refusal, Verdict};
pub use log_throttle::{Admit, LogThrottle};
pub use rate_limit::{Decision, RateLimiter};
pub use user_agent::UserAgentFilter;
