//! Issue 4, CRM lookups end to end: a flow's `lookup` node asks a small
//! real HTTP server (a thread of this test) about the caller.
//!
//! - A CRM that answers in time: the customer's fields steer the flow.
//! - A CRM that answers too late, or never: the flow takes `failed` within
//!   the node's `timeout_ms`.
//! - A caller hanging up while the CRM is slow: the call ends at once (the
//!   lookup runs in its own task), not when the lookup gives up.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const NUMBER: &str = "310";

/// How the test's CRM behaves.
#[derive(Clone, Copy)]
enum Crm {
    /// Answers a VIP customer at once.
    Vip,
    /// Answers after this long.
    Slow(Duration),
    /// Reads the request and never answers.
    Silent,
}

/// Serves `behaviour` on a loopback port for at most 60 s; returns the
/// port. Each request is handled on its own thread.
fn crm_server(behaviour: Crm) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            std::thread::spawn(move || {
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let body = r#"{"name":"Ada Example","tier":"VIP","language":"en"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                match behaviour {
                    Crm::Vip => {}
                    Crm::Slow(d) => std::thread::sleep(d),
                    Crm::Silent => {
                        std::thread::sleep(Duration::from_secs(30));
                        return;
                    }
                }
                let _ = conn.write_all(answer.as_bytes());
            });
        }
    });
    port
}

/// A flow: ask the CRM (`timeout_ms`), then hang up from a node that says
/// which way the call went.
fn crm_flow(port: u16, timeout_ms: u32) -> String {
    format!(
        r#"
entry = "ask"

[nodes.ask]
type = "lookup"
source = "crm"
url = "http://127.0.0.1:{port}/customers?number={{caller.number}}"
timeout_ms = {timeout_ms}
found = "tier"
not_found = "fallback"
failed = "fallback"

[nodes.tier]
type = "branch"
cases = [{{ when = "customer.tier == 'VIP'", next = "vip" }}]
default = "fallback"

[nodes.vip]
type = "set"
vars = {{ route = "'vip'" }}
next = "end"

[nodes.fallback]
type = "set"
vars = {{ route = "'fallback'" }}
next = "end"

[nodes.end]
type = "hangup"
"#
    )
}

fn switch(port: u16, timeout_ms: u32) -> Switch {
    Switch::start(
        SwitchOpts::new()
            .file("ivr-flows/crm.toml", &crm_flow(port, timeout_ms))
            .edit(|rel, text| {
                if rel == "sip-profiles/carrier.toml" {
                    set_toml_key(
                        text,
                        "routing.numbers",
                        &format!("\"{NUMBER}\""),
                        "\"flow:crm\"",
                    );
                }
            }),
    )
}

fn events(call: &serde_json::Value, kind: &str) -> Vec<String> {
    call["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .filter_map(|e| e["detail"].as_str().map(str::to_string))
        .collect()
}

/// Calls the flow and waits for the switch to hang up; returns the call's
/// record and how long the call lasted from the 200.
fn call_until_hung_up(sw: &Switch) -> (serde_json::Value, Duration) {
    let mut caller = RawCaller::new(sw.carrier_addr(), NUMBER);
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let answered = Instant::now();
    assert!(
        caller.await_bye(Duration::from_secs(20)),
        "the flow hangs up"
    );
    let lasted = answered.elapsed();
    let c = sw.wait_calls_ended(1, Duration::from_secs(10))[0].clone();
    (c, lasted)
}

#[test]
fn a_crm_answering_in_time_steers_the_flow() {
    let sw = switch(crm_server(Crm::Vip), 2000);
    let (c, _) = call_until_hung_up(&sw);
    assert_eq!(events(&c, "set"), ["vars.route = vip"], "{c:#}");
    let lookups = events(&c, "lookup");
    assert!(
        lookups.iter().any(|l| l.starts_with("CRM answered in")),
        "{lookups:?}"
    );
    assert!(
        lookups.iter().any(|l| l == "found (tier VIP)"),
        "{lookups:?}"
    );
}

#[test]
fn a_slow_or_silent_crm_takes_the_fallback_within_its_timeout() {
    for crm in [Crm::Slow(Duration::from_secs(4)), Crm::Silent] {
        let sw = switch(crm_server(crm), 1000);
        let (c, lasted) = call_until_hung_up(&sw);
        assert_eq!(events(&c, "set"), ["vars.route = fallback"], "{c:#}");
        let lookups = events(&c, "lookup");
        assert!(
            lookups.iter().any(|l| l.starts_with("failed:")),
            "{lookups:?}"
        );
        assert!(
            lasted < Duration::from_millis(3500),
            "the 1 s timeout bounds the call: it lasted {lasted:?}"
        );
    }
}

#[test]
fn hanging_up_during_a_slow_crm_lookup_ends_the_call_at_once() {
    let sw = switch(crm_server(Crm::Silent), 20_000);
    let mut caller = RawCaller::new(sw.carrier_addr(), NUMBER);
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    std::thread::sleep(Duration::from_secs(1));
    let asked = Instant::now();
    assert_eq!(caller.bye(), 200, "the BYE is answered during the lookup");
    let c = &sw.wait_calls_ended(1, Duration::from_secs(5))[0];
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the call ended before its 20 s lookup gave up"
    );
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
    assert!(
        events(c, "set").is_empty(),
        "the flow went no further: {c:#}"
    );
}
