//! `Guard`: one entry point combining bans, the User-Agent block list and
//! per-source rate limiting, and the throttled `security` log events.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::bans::{BanTracker, FailureOutcome};
use super::config::{ConfigError, SecurityConfig, canonical, in_networks, source_key};
use super::log_throttle::LogThrottle;
use super::rate_limit::{Decision, RateLimiter};
use super::user_agent::UserAgentFilter;

/// Why a request is refused. The core drops such packets silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The source is serving a temporary ban.
    Banned,
    /// The User-Agent matches the scanner block list.
    Scanner,
    /// The source exceeded its rate.
    RateLimited,
}

impl Refusal {
    /// The `event` field value logged for this refusal.
    pub fn event(self) -> &'static str {
        match self {
            Refusal::Banned => "banned",
            Refusal::Scanner => "scanner_blocked",
            Refusal::RateLimited => "rate_limited",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.event())
    }
}

/// Verdict for an incoming request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Process it.
    Allow,
    /// Drop it.
    Refuse(Refusal),
}

impl Verdict {
    /// Whether the request may be processed.
    pub fn is_allowed(self) -> bool {
        self == Verdict::Allow
    }
}

#[derive(Debug)]
struct State {
    rate: RateLimiter,
    bans: BanTracker,
    logs: LogThrottle,
}

/// Flood and scanner defence. Share it behind an `Arc`; each call takes an
/// internal lock briefly.
#[derive(Debug)]
pub struct Guard {
    config: SecurityConfig,
    user_agents: UserAgentFilter,
    state: Mutex<State>,
}

impl Guard {
    /// Validates `config` and builds the guard.
    pub fn new(config: SecurityConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let state = State {
            rate: RateLimiter::new(
                config.rate_per_sec,
                config.burst,
                config.max_tracked_sources,
            ),
            bans: BanTracker::new(
                config.auth_max_failures,
                Duration::from_secs(config.auth_failure_window_secs),
                Duration::from_secs(config.ban_secs),
                config.max_tracked_failures,
            ),
            logs: LogThrottle::new(
                Duration::from_secs(config.log_interval_secs),
                config.log_max_lines_per_interval,
                config.max_tracked_sources.min(16_384),
            ),
        };
        Ok(Guard {
            user_agents: UserAgentFilter::new(&config.blocked_user_agents),
            config,
            state: Mutex::new(state),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &SecurityConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(&self, src: IpAddr) -> IpAddr {
        source_key(src, self.config.ipv6_prefix_len)
    }

    /// Whether `src` belongs to an exempt network.
    pub fn is_exempt(&self, src: IpAddr) -> bool {
        in_networks(&self.config.exempt_networks, src)
    }

    /// Whether `src` is banned at `now`.
    pub fn is_banned(&self, src: IpAddr, now: Instant) -> bool {
        !self.is_exempt(src) && self.lock().bans.banned_until(self.key(src), now).is_some()
    }

    /// Verdict for a request from `src` carrying `user_agent`. Order: ban
    /// (cheapest), scanner User-Agent (applies to exempt sources too), rate.
    pub fn check(&self, src: IpAddr, user_agent: Option<&str>, now: Instant) -> Verdict {
        let exempt = self.is_exempt(src);
        let key = self.key(src);
        let mut st = self.lock();
        if !exempt && st.bans.banned_until(key, now).is_some() {
            log(
                &mut st,
                src,
                user_agent,
                Refusal::Banned.event(),
                "ban in force",
                now,
            );
            return Verdict::Refuse(Refusal::Banned);
        }
        if let Some(pattern) = user_agent.and_then(|ua| self.user_agents.matches(ua)) {
            let detail = format!("user agent matches \"{pattern}\"");
            log(
                &mut st,
                src,
                user_agent,
                Refusal::Scanner.event(),
                &detail,
                now,
            );
            if self.config.ban_scanners && !exempt {
                if let FailureOutcome::BanStarted { .. } = st.bans.ban(key, now) {
                    let detail = format!("scanner, banned for {}s", self.config.ban_secs);
                    log(&mut st, src, user_agent, "ban_started", &detail, now);
                }
            }
            return Verdict::Refuse(Refusal::Scanner);
        }
        if !exempt && st.rate.check(key, now) == Decision::Limit {
            let detail = format!(
                "over {} req/s (burst {})",
                self.config.rate_per_sec, self.config.burst
            );
            log(
                &mut st,
                src,
                user_agent,
                Refusal::RateLimited.event(),
                &detail,
                now,
            );
            return Verdict::Refuse(Refusal::RateLimited);
        }
        Verdict::Allow
    }

    /// Records an authentication failure from `src`; returns true when it
    /// started a ban.
    pub fn record_auth_failure(&self, src: IpAddr, now: Instant) -> bool {
        self.record_auth_failure_detail(src, None, "", now)
    }

    /// Same as [`record_auth_failure`](Self::record_auth_failure) with a
    /// User-Agent and a free-form detail (e.g. user name, reason) for the log.
    pub fn record_auth_failure_detail(
        &self,
        src: IpAddr,
        user_agent: Option<&str>,
        detail: &str,
        now: Instant,
    ) -> bool {
        let exempt = self.is_exempt(src);
        let key = self.key(src);
        let mut st = self.lock();
        log(&mut st, src, user_agent, "auth_failed", detail, now);
        if exempt {
            return false;
        }
        match st.bans.record_failure(key, now) {
            FailureOutcome::BanStarted { .. } => {
                let detail = format!(
                    "{} auth failures within {}s, banned for {}s",
                    self.config.auth_max_failures,
                    self.config.auth_failure_window_secs,
                    self.config.ban_secs
                );
                log(&mut st, src, user_agent, "ban_started", &detail, now);
                true
            }
            FailureOutcome::Counted { .. } | FailureOutcome::AlreadyBanned => false,
        }
    }

    /// Sizes of the internal tables: (rate-limit sources, failure/ban entries).
    pub fn tracked(&self) -> (usize, usize) {
        let st = self.lock();
        (st.rate.len(), st.bans.len())
    }
}

/// Emits one throttled `security` event.
fn log(
    st: &mut State,
    src: IpAddr,
    user_agent: Option<&str>,
    event: &'static str,
    detail: &str,
    now: Instant,
) {
    let Some(admit) = st.logs.admit(canonical(src), event, now) else {
        return;
    };
    let ua = user_agent.unwrap_or("");
    let (suppressed, suppressed_global) = (admit.suppressed, admit.suppressed_global);
    if event == "ban_started" {
        tracing::warn!(
            target: "security",
            event, src = %src, user_agent = ua, detail, suppressed, suppressed_global,
            "source banned"
        );
    } else {
        tracing::info!(
            target: "security",
            event, src = %src, user_agent = ua, detail, suppressed, suppressed_global,
            "request refused"
        );
    }
}
