//! Issue 2 (SIP core), abuse protection, driven with raw UDP from several
//! loopback addresses (Linux routes all of 127/8 to `lo`, so 127.0.0.2,
//! 127.0.0.3... are distinct sources).
//!
//! Pass/fail:
//! - flood: with the carrier's `[security] rate_limit = 20, burst = 40`,
//!   500 OPTIONS sent as fast as possible from 127.0.0.2 get fewer than
//!   150 answers, while OPTIONS from 127.0.0.3 (during and after the
//!   flood) are all answered 200;
//! - scanner: an OPTIONS with `User-Agent: friendly-scanner` (blocklisted
//!   in the profile) gets no answer or 403, on both profiles;
//! - ban: with the agents' `ban_after_failures = 5`, six REGISTERs with a
//!   wrong digest from 127.0.0.5 get it banned: afterwards its OPTIONS and
//!   REGISTER are unanswered, while SIPp from 127.0.0.6 still registers
//!   1001 with the right password.

mod common;

use common::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

fn options_answered(
    from_ip: &str,
    to: SocketAddr,
    ua: Option<&str>,
    wait: Duration,
) -> Option<u16> {
    let sock = RawUdp::bind(ip(from_ip));
    let req = options_request(sock.local(), to, ua);
    sock.request(to, &req, wait).map(|(code, _)| code)
}

#[test]
fn flood_from_one_source_is_limited_others_still_served() {
    let sw = Switch::start(SwitchOpts::new().edit(|file, text| {
        if file == "sip-profiles/carrier.toml" {
            set_toml_key(text, "security", "rate_limit", "20");
            set_toml_key(text, "security", "burst", "40");
        }
    }));
    let target = sw.carrier_addr();

    let flooder = RawUdp::bind(ip("127.0.0.2"));
    let from = flooder.local();
    let answers = Arc::new(AtomicUsize::new(0));
    let done_sending = Arc::new(AtomicBool::new(false));

    // Count answers while sending, so no socket buffer overflows.
    let rx = flooder.sock.try_clone().unwrap();
    let (answers_rx, done_rx) = (answers.clone(), done_sending.clone());
    let receiver = thread::spawn(move || {
        let r = RawUdp { sock: rx };
        let mut quiet_since = Instant::now();
        loop {
            match r.recv(Duration::from_millis(200)) {
                Some(m) => {
                    if status_code(&m).is_some() {
                        answers_rx.fetch_add(1, Ordering::SeqCst);
                    }
                    quiet_since = Instant::now();
                }
                None => {
                    if done_rx.load(Ordering::SeqCst)
                        && quiet_since.elapsed() > Duration::from_secs(2)
                    {
                        break;
                    }
                }
            }
        }
    });

    let sender = thread::spawn(move || {
        for _ in 0..500 {
            let req = options_request(from, target, None);
            flooder.send(target, req.as_bytes());
        }
        done_sending.store(true, Ordering::SeqCst);
    });

    // Another source keeps being served during the flood...
    let mut during = Vec::new();
    for _ in 0..5 {
        during.push(options_answered(
            "127.0.0.3",
            target,
            None,
            Duration::from_secs(3),
        ));
        thread::sleep(Duration::from_millis(50));
    }
    sender.join().unwrap();
    receiver.join().unwrap();
    // ...and after it.
    let after = options_answered("127.0.0.3", target, None, Duration::from_secs(3));

    let n = answers.load(Ordering::SeqCst);
    assert!(
        n < 150,
        "500 OPTIONS from 127.0.0.2 at full speed got {n} answers; the per-source limit (20/s, burst 40) should cap it"
    );
    assert!(
        during.iter().all(|c| *c == Some(200)),
        "OPTIONS from 127.0.0.3 during the flood: {during:?}"
    );
    assert_eq!(after, Some(200), "OPTIONS from 127.0.0.3 after the flood");
    sw_alive(sw);
}

fn sw_alive(mut sw: Switch) {
    sw.assert_running("after the test traffic");
}

#[test]
fn friendly_scanner_is_not_answered_or_forbidden() {
    let sw = Switch::start(SwitchOpts::new().edit(|file, text| {
        if file.starts_with("sip-profiles/") {
            set_toml_key(
                text,
                "security",
                "user_agent_blocklist",
                "[\"friendly-scanner\", \"sipvicious\", \"sipcli\"]",
            );
        }
    }));
    for (name, to) in [("carrier", sw.carrier_addr()), ("agents", sw.agents_addr())] {
        let got = options_answered(
            "127.0.0.4",
            to,
            Some("friendly-scanner"),
            Duration::from_secs(2),
        );
        assert!(
            got.is_none() || got == Some(403),
            "{name}: OPTIONS from User-Agent friendly-scanner answered {got:?}"
        );
    }
    // A normal client elsewhere is unaffected.
    assert_eq!(
        options_answered("127.0.0.7", sw.agents_addr(), None, Duration::from_secs(3)),
        Some(200)
    );
    sw_alive(sw);
}

/// One REGISTER round with a wrong digest from `sock`: unauthenticated
/// REGISTER, then REGISTER with a wrong response to the challenge.
/// Returns the final codes of both (None = no answer).
fn wrong_auth_round(sock: &RawUdp, to: SocketAddr) -> (Option<u16>, Option<u16>) {
    let call_id = format!("{}@127.0.0.5", token());
    let req = register_request(sock.local(), to, "1001", &call_id, 1, None);
    let Some((c1, resp)) = sock.request(to, &req, Duration::from_secs(2)) else {
        return (None, None);
    };
    let ch = challenges(&resp).into_iter().next().unwrap_or_default();
    let mut auth = format!(
        "Digest username=\"1001\", realm=\"{}\", nonce=\"{}\", uri=\"sip:{to}\", \
         response=\"0123456789abcdef0123456789abcdef\", algorithm={}",
        ch.realm, ch.nonce, ch.algorithm
    );
    if ch.qop.is_some() {
        auth.push_str(", qop=auth, nc=00000001, cnonce=\"deadbeef\"");
    }
    if let Some(o) = &ch.opaque {
        auth.push_str(&format!(", opaque=\"{o}\""));
    }
    let req = register_request(sock.local(), to, "1001", &call_id, 2, Some(&auth));
    let c2 = sock
        .request(to, &req, Duration::from_secs(2))
        .map(|(c, _)| c);
    (Some(c1), c2)
}

#[test]
fn repeated_auth_failures_ban_the_source_only() {
    let sw = Switch::start(SwitchOpts::new().edit(|file, text| {
        if file == "sip-profiles/agents.toml" {
            set_toml_key(text, "security", "ban_after_failures", "5");
            set_toml_key(text, "security", "ban_seconds", "120");
        }
    }));
    let to = sw.agents_addr();
    let bad = RawUdp::bind(ip("127.0.0.5"));
    let mut rounds = Vec::new();
    for _ in 0..6 {
        rounds.push(wrong_auth_round(&bad, to));
    }
    let (first_challenge, first_refusal) = rounds[0];
    assert!(
        matches!(first_challenge, Some(401) | Some(407)),
        "first REGISTER should be challenged, rounds: {rounds:?}"
    );
    assert!(
        matches!(first_refusal, Some(401) | Some(403) | Some(407)),
        "a wrong digest should be refused, rounds: {rounds:?}"
    );

    // Banned now: nothing from 127.0.0.5 is answered.
    let opt = options_request(bad.local(), to, None);
    let got = bad.request(to, &opt, Duration::from_secs(2));
    assert!(
        got.is_none(),
        "banned source still answered: {got:?} (rounds: {rounds:?})"
    );
    let call_id = format!("{}@127.0.0.5", token());
    let reg = register_request(bad.local(), to, "1001", &call_id, 1, None);
    let got = bad.request(to, &reg, Duration::from_secs(2));
    assert!(got.is_none(), "banned source's REGISTER answered: {got:?}");

    // Another source registers fine.
    let r = SippClient::new(&sw.agents(), "register_auth.xml", "15s")
        .source_ip("127.0.0.6")
        .agent("1001", "pw1001", alloc_port())
        .expires(300)
        .run(Duration::from_secs(20));
    assert!(r.ok(), "127.0.0.6 should still register:\n{}", r.describe());
    sw_alive(sw);
}

/// The harness's TOML edit used above: replaces a key inside its section,
/// adds a missing key to an existing section, adds a missing section.
#[test]
fn set_toml_key_edits_the_right_section() {
    let mut t = String::from(
        "kind = \"internal\"\n[security]\nrate_limit = 2000\n# note\n\n[[users]]\nextension = \"1001\"\n",
    );
    set_toml_key(&mut t, "security", "rate_limit", "20");
    set_toml_key(&mut t, "security", "burst", "40");
    set_toml_key(&mut t, "limits", "x", "1");
    assert_eq!(
        t,
        "kind = \"internal\"\n[security]\nrate_limit = 20\n# note\n\nburst = 40\n[[users]]\nextension = \"1001\"\n\n[limits]\nx = 1\n"
    );
}
