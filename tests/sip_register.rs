//! Issue 2 (SIP core), registrar: real SIPp clients register against a
//! running `switchboard serve` over UDP and TCP.
//!
//! Pass/fail:
//! - right password: SIPp's `register_auth.xml` (401/407 challenge, then
//!   200) exits 0;
//! - wrong password and unknown user: `register_wrong.xml` exits 0 in both
//!   cases (second REGISTER refused with 401/403/407), and the refusals
//!   (and the first challenges) look the same: status line and the set of
//!   header names, WWW-Authenticate present or not in both;
//! - Expires: 0 (`unregister.xml`) answered 200 after authentication, the
//!   200 no longer lists that contact, and a carrier call to the agent
//!   then gets 480;
//! - OPTIONS answered 200 with an Allow header (`options.xml`).

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn register_right_password(tcp: bool) {
    let sw = Switch::start(SwitchOpts::new());
    let contact = alloc_port();
    let r = sipp_register(&sw, "1001", "pw1001", contact, 300, sipp_transport(tcp));
    assert!(
        r.ok(),
        "REGISTER 1001/pw1001 should get 200:\n{}",
        r.describe()
    );
    let codes = r.received_status_codes();
    assert!(
        codes.iter().any(|c| *c == 401 || *c == 407),
        "expected a digest challenge first, got {codes:?}"
    );
    assert_eq!(codes.last(), Some(&200), "last response: {codes:?}");
}

#[test]
fn register_udp_right_password() {
    register_right_password(false);
}

#[test]
fn register_tcp_right_password() {
    register_right_password(true);
}

/// (status line, sorted header names, WWW-Authenticate present).
type Shape = (String, Vec<String>, bool);

fn shape(msg: &str) -> Shape {
    let status = msg.lines().next().unwrap_or("").trim().to_string();
    let mut names: Vec<String> = msg
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(h, _)| h.trim().to_ascii_lowercase())
        })
        .collect();
    names.sort();
    names.dedup();
    let www = has_header(msg, "WWW-Authenticate") || has_header(msg, "Proxy-Authenticate");
    (status, names, www)
}

/// Runs register_wrong.xml; returns the shapes of the first challenge and
/// of the final refusal.
fn wrong_register(sw: &Switch, user: &str, pass: &str, tcp: bool) -> (Shape, Shape) {
    let r = SippClient::new(&sw.agents(), "register_wrong.xml", "15s")
        .transport(sipp_transport(tcp))
        .agent(user, pass, alloc_port())
        .run(T);
    assert!(
        r.ok(),
        "REGISTER {user} with a bad password must be challenged then refused (401/403/407):\n{}",
        r.describe()
    );
    let finals: Vec<String> = received_messages(&r.messages)
        .into_iter()
        .filter(|m| status_code(m).is_some_and(|c| c >= 200))
        .collect();
    assert!(
        finals.len() >= 2,
        "expected two final responses:\n{}",
        r.describe()
    );
    (shape(&finals[0]), shape(finals.last().unwrap()))
}

fn wrong_and_unknown_look_the_same(tcp: bool) {
    let sw = Switch::start(SwitchOpts::new());
    let (wrong_challenge, wrong_final) = wrong_register(&sw, "1001", "not-pw1001", tcp);
    let (unknown_challenge, unknown_final) = wrong_register(&sw, "4999", "whatever", tcp);
    let code: u16 = wrong_final
        .0
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        [401, 403, 407].contains(&code),
        "wrong password answered {}",
        wrong_final.0
    );
    assert_eq!(
        wrong_challenge, unknown_challenge,
        "the first challenge must not reveal whether the user exists"
    );
    assert_eq!(
        wrong_final, unknown_final,
        "wrong password and unknown user must be answered identically \
         (status line, header names, WWW-Authenticate presence)"
    );
}

#[test]
fn register_udp_wrong_password_and_unknown_user_identical() {
    wrong_and_unknown_look_the_same(false);
}

#[test]
fn register_tcp_wrong_password_and_unknown_user_identical() {
    wrong_and_unknown_look_the_same(true);
}

fn unregister(tcp: bool) {
    let sw = Switch::start(SwitchOpts::new());
    let contact = alloc_port();
    let r = sipp_register(&sw, "1002", "pw1002", contact, 300, sipp_transport(tcp));
    assert!(r.ok(), "register 1002:\n{}", r.describe());

    let r = SippClient::new(&sw.agents(), "unregister.xml", "15s")
        .transport(sipp_transport(tcp))
        .agent("1002", "pw1002", contact)
        .run(T);
    assert!(
        r.ok(),
        "REGISTER Expires: 0 should get 200:\n{}",
        r.describe()
    );
    // The 200 of a removal lists no binding for that contact any more
    // (RFC 3261 10.3 step 8: the remaining bindings).
    let last = received_messages(&r.messages)
        .into_iter()
        .rfind(|m| status_code(m) == Some(200))
        .expect("a 200");
    let still_bound = last.lines().any(|l| {
        let lower = l.to_ascii_lowercase();
        (lower.starts_with("contact:") || lower.starts_with("m:"))
            && l.contains(&format!(":{contact}"))
    });
    assert!(
        !still_bound,
        "the 200 still lists the removed contact:\n{last}"
    );
    // And the switch no longer rings it: a carrier call to 1002 gets 480.
    assert_eq!(
        raw_invite(sw.carrier_addr(), "1002"),
        Some(480),
        "after unregistering, a call to 1002 should get 480"
    );
}

#[test]
fn unregister_udp_expires_zero() {
    unregister(false);
}

#[test]
fn unregister_tcp_expires_zero() {
    unregister(true);
}

fn options(tcp: bool, agents: bool) {
    let sw = Switch::start(SwitchOpts::new());
    let target = if agents { sw.agents() } else { sw.carrier() };
    let r = SippClient::new(&target, "options.xml", "10s")
        .transport(sipp_transport(tcp))
        .service("1001")
        .run(T);
    assert!(
        r.ok(),
        "OPTIONS should get 200 with Allow:\n{}",
        r.describe()
    );
}

#[test]
fn options_udp_agents_200_with_allow() {
    options(false, true);
}

#[test]
fn options_tcp_agents_200_with_allow() {
    options(true, true);
}

#[test]
fn options_udp_carrier_200_with_allow() {
    options(false, false);
}

/// Registers over raw UDP answering the challenge of `algorithm` with our
/// own digest client; returns the final status.
fn register_with(sw: &Switch, algorithm: &str, password: &str) -> (Vec<String>, u16) {
    let sock = RawUdp::bind(LOCALHOST);
    let to = sw.agents_addr();
    let call_id = token();
    let first = register_request(sock.local(), to, "1001", &call_id, 1, None);
    let (status, challenge) = sock
        .request(to, &first, Duration::from_secs(3))
        .expect("no answer to REGISTER");
    assert_eq!(status, 401, "{challenge}");
    let offered: Vec<String> = challenges(&challenge)
        .into_iter()
        .map(|c| c.algorithm)
        .collect();
    let header = challenge
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(h, _)| h.trim().eq_ignore_ascii_case("WWW-Authenticate"))
        .map(|(_, v)| v.trim().to_string())
        .find(|v| v.contains(&format!("algorithm={algorithm}")))
        .unwrap_or_else(|| panic!("no {algorithm} challenge in {challenge}"));
    let parsed = switchboard::sip::auth::client::Challenge::parse(&header).unwrap();
    let uri = format!("sip:{to}");
    let auth = switchboard::sip::auth::client::respond_to_challenge(
        &parsed, "1001", password, "REGISTER", &uri, "c0ffee", 1,
    )
    .unwrap();
    let second = register_request(sock.local(), to, "1001", &call_id, 2, Some(&auth));
    let (status, resp) = sock
        .request(to, &second, Duration::from_secs(3))
        .expect("no answer to the authenticated REGISTER");
    if status == 200 {
        assert!(
            has_header(&resp, "Contact"),
            "200 without the bindings: {resp}"
        );
    }
    (offered, status)
}

/// A profile that offers SHA-256 first (RFC 8760) and MD5 second: a
/// SHA-256 answer registers, a wrong password with SHA-256 does not, and
/// MD5 still works for older phones.
#[test]
fn register_with_sha256_and_md5_challenges() {
    let sw = Switch::start(SwitchOpts::new().edit(|file, text| {
        if file.ends_with("agents.toml") {
            *text = text
                .lines()
                .map(|l| {
                    if l.starts_with("digest_algorithms") {
                        "digest_algorithms = [\"SHA-256\", \"MD5\"]".to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
    }));
    let (offered, status) = register_with(&sw, "SHA-256", "pw1001");
    assert_eq!(
        offered,
        ["SHA-256", "MD5"],
        "challenge order follows the profile"
    );
    assert_eq!(status, 200);
    assert_eq!(register_with(&sw, "SHA-256", "wrong").1, 401);
    assert_eq!(register_with(&sw, "MD5", "pw1001").1, 200);
}
