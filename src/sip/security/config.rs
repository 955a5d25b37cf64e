//! `SecurityConfig`: the one configuration struct for flood and scanner
//! defence (serde-friendly, with defaults), its validation, and the
//! source-address helpers (IPv6 prefix keying, exempt networks).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// User-Agent substrings of well-known SIP scanners (case-insensitive).
pub const DEFAULT_BLOCKED_USER_AGENTS: [&str; 9] = [
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sundayddr",
    "VaxSIPUserAgent",
    "iWar",
    "smap",
    "pplsip",
];

/// Flood and scanner defence settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Sustained requests per second allowed per source; 0 disables rate
    /// limiting. Default 50.
    pub rate_per_sec: f64,
    /// Bucket size (requests accepted at once after idling). Default 200.
    pub burst: f64,
    /// Bound of the per-source rate-limit map. Default 65536.
    pub max_tracked_sources: usize,
    /// IPv6 sources are keyed by this prefix length (one host usually owns
    /// a whole /64). Default 64.
    pub ipv6_prefix_len: u8,
    /// Sources never rate limited nor banned (trunks, load balancers, the
    /// host itself), as CIDR or bare addresses. Default loopback.
    #[serde(with = "ipnet_list")]
    pub exempt_networks: Vec<IpNet>,
    /// Case-insensitive User-Agent substrings refused as scanners.
    /// Default [`DEFAULT_BLOCKED_USER_AGENTS`].
    pub blocked_user_agents: Vec<String>,
    /// Also ban (for `ban_secs`) a source seen with a scanner User-Agent,
    /// so its next packets are dropped before parsing. Default true.
    pub ban_scanners: bool,
    /// Authentication failures within `auth_failure_window_secs` that start
    /// a ban; 0 disables failure bans. Default 10.
    pub auth_max_failures: u32,
    /// Sliding window for counting failures. Default 60 s.
    pub auth_failure_window_secs: u64,
    /// Ban duration. Default 600 s.
    pub ban_secs: u64,
    /// Bound of the failure/ban table. Default 16384.
    pub max_tracked_failures: usize,
    /// A refusal of one kind from one source is logged at most once per
    /// this interval, with a count of suppressed lines. Default 10 s.
    pub log_interval_secs: u64,
    /// Global cap on security log lines per interval. Default 100.
    pub log_max_lines_per_interval: u32,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            rate_per_sec: 50.0,
            burst: 200.0,
            max_tracked_sources: 65_536,
            ipv6_prefix_len: 64,
            exempt_networks: vec![
                "127.0.0.0/8".parse().expect("valid network"),
                "::1/128".parse().expect("valid network"),
            ],
            blocked_user_agents: DEFAULT_BLOCKED_USER_AGENTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ban_scanners: true,
            auth_max_failures: 10,
            auth_failure_window_secs: 60,
            ban_secs: 600,
            max_tracked_failures: 16_384,
            log_interval_secs: 10,
            log_max_lines_per_interval: 100,
        }
    }
}

/// An invalid [`SecurityConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A field has an unusable value.
    #[error("invalid security setting `{field}`: {reason}")]
    Invalid {
        /// Field name.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl SecurityConfig {
    /// Checks the values that would make the guard misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, reason| Err(ConfigError::Invalid { field, reason });
        if !self.rate_per_sec.is_finite() || self.rate_per_sec < 0.0 {
            return bad("rate_per_sec", "must be a finite number >= 0");
        }
        if self.rate_per_sec > 0.0 && !(self.burst.is_finite() && self.burst >= 1.0) {
            return bad("burst", "must be a finite number >= 1");
        }
        if self.max_tracked_sources == 0 || self.max_tracked_failures == 0 {
            return bad("max_tracked_*", "must be > 0");
        }
        if self.ipv6_prefix_len > 128 {
            return bad("ipv6_prefix_len", "must be <= 128");
        }
        if self.auth_max_failures > 0 && self.auth_failure_window_secs == 0 {
            return bad("auth_failure_window_secs", "must be > 0");
        }
        Ok(())
    }
}

/// The key a source is tracked under: IPv4 (also IPv4-mapped IPv6) as is,
/// IPv6 truncated to `v6_prefix` bits.
pub fn source_key(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let prefix = u32::from(v6_prefix.min(128));
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6((bits & mask).into())
        }
        v4 => v4,
    }
}

/// Maps IPv4-mapped IPv6 addresses (dual-stack sockets) to IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` falls in one of `nets`.
pub fn in_networks(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    nets.iter().any(|n| n.contains(&ip))
}

/// Serde for `Vec<IpNet>` as strings ("10.0.0.0/8", "192.0.2.7", "::1/128").
mod ipnet_list {
    use std::net::IpAddr;

    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(|n| n.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| D::Error::custom(format!("invalid network `{s}`")))
            })
            .collect()
    }
}
