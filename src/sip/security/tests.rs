//! Unit tests for flood and scanner defence, all on a fake clock.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secs(n: f64) -> Duration {
    Duration::from_secs_f64(n)
}

fn cfg() -> SecurityConfig {
    SecurityConfig {
        rate_per_sec: 2.0,
        burst: 5.0,
        auth_max_failures: 3,
        auth_failure_window_secs: 60,
        ban_secs: 120,
        ..SecurityConfig::default()
    }
}

#[test]
fn burst_then_limit_then_refill() {
    let t0 = Instant::now();
    let mut rl = RateLimiter::new(2.0, 5.0, 100);
    let a = ip("192.0.2.1");
    for _ in 0..5 {
        assert_eq!(rl.check(a, t0), Decision::Allow);
    }
    assert_eq!(rl.check(a, t0), Decision::Limit);
    // 0.4 s refills 0.8 token: still limited; 0.5 s gives one.
    assert_eq!(rl.check(a, t0 + secs(0.4)), Decision::Limit);
    assert_eq!(rl.check(a, t0 + secs(0.5)), Decision::Allow);
    assert_eq!(rl.check(a, t0 + secs(0.5)), Decision::Limit);
    // Long idle refills to the burst, not beyond.
    let later = t0 + secs(100.0);
    for _ in 0..5 {
        assert_eq!(rl.check(a, later), Decision::Allow);
    }
    assert_eq!(rl.check(a, later), Decision::Limit);
}

#[test]
fn sources_are_independent() {
    let t0 = Instant::now();
    let mut rl = RateLimiter::new(1.0, 2.0, 100);
    let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
    assert_eq!(rl.check(a, t0), Decision::Allow);
    assert_eq!(rl.check(a, t0), Decision::Allow);
    assert_eq!(rl.check(a, t0), Decision::Limit);
    assert_eq!(rl.check(b, t0), Decision::Allow);
    assert_eq!(rl.check(b, t0), Decision::Allow);
}

#[test]
fn rate_map_is_bounded() {
    let t0 = Instant::now();
    let mut rl = RateLimiter::new(1.0, 10.0, 64);
    for i in 0..10_000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        rl.check(src, t0 + Duration::from_millis(u64::from(i)));
        assert!(rl.len() <= 64);
    }
    // The most recent source is still tracked (limited after its burst).
    let last = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 9_999));
    let now = t0 + Duration::from_millis(9_999);
    for _ in 0..9 {
        assert_eq!(rl.check(last, now), Decision::Allow);
    }
    assert_eq!(rl.check(last, now), Decision::Limit);
}

#[test]
fn ipv6_sources_share_their_prefix() {
    assert_eq!(
        source_key(ip("2001:db8:1:2:aaaa::1"), 64),
        ip("2001:db8:1:2::")
    );
    assert_eq!(source_key(ip("::ffff:192.0.2.9"), 64), ip("192.0.2.9"));
    assert_eq!(source_key(ip("2001:db8::1"), 128), ip("2001:db8::1"));
    let g = Guard::new(cfg()).unwrap();
    let t0 = Instant::now();
    for i in 0..5 {
        let src = ip(&format!("2001:db8:1:2::{}", i + 1));
        assert!(g.check(src, None, t0).is_allowed());
    }
    assert_eq!(
        g.check(ip("2001:db8:1:2::99"), None, t0),
        Verdict::Refuse(Refusal::RateLimited)
    );
    assert!(g.check(ip("2001:db8:1:3::1"), None, t0).is_allowed());
}

#[test]
fn guard_rate_limit_and_exempt_network() {
    let mut c = cfg();
    c.exempt_networks = vec!["10.1.0.0/16".parse().unwrap()];
    let g = Guard::new(c).unwrap();
    let t0 = Instant::now();
    let (trunk, other) = (ip("10.1.2.3"), ip("198.51.100.7"));
    for _ in 0..100 {
        assert!(g.check(trunk, Some("Carrier SBC"), t0).is_allowed());
    }
    let verdicts: Vec<_> = (0..10).map(|_| g.check(other, None, t0)).collect();
    assert_eq!(verdicts.iter().filter(|v| v.is_allowed()).count(), 5);
    assert_eq!(verdicts[9], Verdict::Refuse(Refusal::RateLimited));
    // IPv4-mapped form of an exempt address is exempt too.
    assert!(g.is_exempt(ip("::ffff:10.1.9.9")));
    // Loopback is exempt by default.
    assert!(
        Guard::new(SecurityConfig::default())
            .unwrap()
            .is_exempt(ip("127.0.0.1"))
    );
}

#[test]
fn user_agent_matching() {
    let f = UserAgentFilter::new(DEFAULT_BLOCKED_USER_AGENTS);
    assert_eq!(f.matches("friendly-scanner"), Some("friendly-scanner"));
    assert_eq!(f.matches("SIPVicious 0.3.4"), Some("sipvicious"));
    assert_eq!(f.matches("my vaxsipuseragent/3.1"), Some("VaxSIPUserAgent"));
    assert_eq!(f.matches("IWAR"), Some("iWar"));
    assert_eq!(f.matches("Yealink SIP-T46S 66.86.0.15"), None);
    assert_eq!(f.matches("Ooh Telecom Softphone"), None);
    assert_eq!(UserAgentFilter::new([""; 1]).matches("anything"), None);

    let g = Guard::new(cfg()).unwrap();
    let t0 = Instant::now();
    let s = ip("203.0.113.5");
    assert_eq!(
        g.check(s, Some("friendly-scanner"), t0),
        Verdict::Refuse(Refusal::Scanner)
    );
    // ban_scanners: the source is now banned even with a benign UA.
    assert_eq!(
        g.check(s, Some("Zoiper"), t0),
        Verdict::Refuse(Refusal::Banned)
    );
    assert!(g.check(ip("203.0.113.6"), Some("Zoiper"), t0).is_allowed());
    assert!(g.check(ip("203.0.113.6"), None, t0).is_allowed());
}

#[test]
fn ban_after_failures_and_expiry() {
    let g = Guard::new(cfg()).unwrap();
    let t0 = Instant::now();
    let s = ip("198.51.100.20");
    assert!(!g.record_auth_failure(s, t0));
    assert!(!g.record_auth_failure(s, t0 + secs(1.0)));
    assert!(g.check(s, None, t0 + secs(2.0)).is_allowed());
    assert!(g.record_auth_failure(s, t0 + secs(2.0)));
    assert_eq!(
        g.check(s, None, t0 + secs(3.0)),
        Verdict::Refuse(Refusal::Banned)
    );
    assert!(g.is_banned(s, t0 + secs(121.0)));
    // Further failures while banned do not restart the ban.
    assert!(!g.record_auth_failure(s, t0 + secs(100.0)));
    assert!(!g.is_banned(s, t0 + secs(122.0)));
    assert!(g.check(s, None, t0 + secs(122.0)).is_allowed());
}

#[test]
fn failures_outside_window_do_not_ban() {
    let mut t = BanTracker::new(3, secs(60.0), secs(120.0), 100);
    let t0 = Instant::now();
    let s = ip("198.51.100.21");
    for i in 0..10 {
        let out = t.record_failure(s, t0 + secs(f64::from(i) * 31.0));
        assert!(matches!(out, FailureOutcome::Counted { failures } if failures <= 2));
    }
    assert!(t.banned_until(s, t0 + secs(400.0)).is_none());
}

#[test]
fn exempt_sources_are_never_banned() {
    let g = Guard::new(cfg()).unwrap();
    let t0 = Instant::now();
    let lo = ip("127.0.0.1");
    for _ in 0..10 {
        assert!(!g.record_auth_failure(lo, t0));
    }
    assert!(g.check(lo, None, t0).is_allowed());
}

#[test]
fn ban_table_is_bounded_and_keeps_bans_first() {
    let t0 = Instant::now();
    let mut t = BanTracker::new(2, secs(60.0), secs(600.0), 16);
    let banned = ip("192.0.2.200");
    t.record_failure(banned, t0);
    assert!(matches!(
        t.record_failure(banned, t0),
        FailureOutcome::BanStarted { .. }
    ));
    for i in 0..1_000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        t.record_failure(src, t0 + Duration::from_millis(u64::from(i)));
        assert!(t.len() <= 16);
    }
    assert!(t.banned_until(banned, t0 + secs(2.0)).is_some());
}

#[test]
fn log_throttle_per_source_and_global() {
    let t0 = Instant::now();
    let mut lt = LogThrottle::new(secs(10.0), 3, 100);
    let a = ip("192.0.2.1");
    assert_eq!(
        lt.admit(a, "rate_limited", t0),
        Some(Admit {
            suppressed: 0,
            suppressed_global: 0
        })
    );
    for _ in 0..50 {
        assert_eq!(lt.admit(a, "rate_limited", t0 + secs(1.0)), None);
    }
    // A different kind from the same source has its own slot.
    assert!(lt.admit(a, "banned", t0 + secs(1.0)).is_some());
    // Global cap: a third line is allowed, the fourth source is not.
    assert!(
        lt.admit(ip("192.0.2.2"), "rate_limited", t0 + secs(2.0))
            .is_some()
    );
    assert_eq!(
        lt.admit(ip("192.0.2.3"), "rate_limited", t0 + secs(2.0)),
        None
    );
    // Next interval: the count of suppressed lines is reported.
    assert_eq!(
        lt.admit(a, "rate_limited", t0 + secs(10.0)),
        Some(Admit {
            suppressed: 50,
            suppressed_global: 1
        })
    );
}

#[test]
fn config_serde_and_validation() {
    let c: SecurityConfig = serde_json::from_str(
        r#"{"rate_per_sec": 10, "exempt_networks": ["10.0.0.0/8", "192.0.2.7"]}"#,
    )
    .unwrap();
    assert_eq!(c.rate_per_sec, 10.0);
    assert_eq!(c.burst, 200.0);
    assert_eq!(c.exempt_networks.len(), 2);
    assert!(in_networks(&c.exempt_networks, ip("192.0.2.7")));
    assert!(!in_networks(&c.exempt_networks, ip("192.0.2.8")));
    assert_eq!(
        c.blocked_user_agents.len(),
        DEFAULT_BLOCKED_USER_AGENTS.len()
    );
    let back: SecurityConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    assert!(serde_json::from_str::<SecurityConfig>(r#"{"exempt_networks": ["nope"]}"#).is_err());
    assert!(serde_json::from_str::<SecurityConfig>(r#"{"typo_field": 1}"#).is_err());
    let bad = SecurityConfig {
        burst: 0.5,
        ..SecurityConfig::default()
    };
    assert!(Guard::new(bad).is_err());
    // Rate limiting disabled.
    let off = Guard::new(SecurityConfig {
        rate_per_sec: 0.0,
        ..SecurityConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    assert!((0..1000).all(|_| off.check(ip("192.0.2.1"), None, t0).is_allowed()));
}
