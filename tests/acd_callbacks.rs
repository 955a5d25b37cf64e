//! Issue 5, callbacks end to end. Raw SIP callers on the carrier trunk;
//! agents are SIPp phones registered on `agents` who logged in with `*21`;
//! the customer called back is a SIPp UAS at the carrier trunk's outbound
//! proxy. A test flow puts callers of 411 into queue `t_cb`, whose callback
//! key is 1; callers of 412 leave a callback request for `t_cb` at night
//! (calendar always-closed).
//!
//! - a waiting caller who presses 1 leaves the line and keeps their place:
//!   when the agent is free the callback is offered before the caller who
//!   joined after them; the agent answers, hears who is called back, and
//!   the switch calls the customer through the trunk and bridges them;
//! - a night request waits for its calendar to open; a customer who does
//!   not answer is tried again after the retry time, then the request
//!   fails, and the agent is free after each attempt;
//! - a switch killed while a request waits loses neither the request nor
//!   the agent: after the restart the customer is called back.

mod common;

use common::*;
use std::time::{Duration, Instant};

const FLOW: &str = r#"
entry = "identify"

[nodes.identify]
type = "lookup"
source = "customers"
found = "pick"
not_found = "pick"

[nodes.pick]
type = "branch"
cases = [{ when = "called.number == '412'", next = "night" }]
default = "queue"

[nodes.queue]
type = "queue"
queue = "t_cb"
no_answer = "end"

[nodes.night]
type = "callback"
prompt = "beep.wav"
confirm_digit = "1"
queue = "t_cb"
next = "end"

[nodes.end]
type = "hangup"
"#;

const QUEUES: &str = r#"
[queue.t_cb]
skills = { complaints = 5 }
ring_timeout_seconds = 5
wrap_up_seconds = 1
max_wait_seconds = 120
callback_digit = "1"
callback_attempts = 2
callback_retry_seconds = 10
callback_ring_seconds = 5
"#;

/// The switch with the test flow and queue; calls out through the carrier
/// trunk go to `proxy_port` (the customer's phone; none: no proxy).
fn switch(proxy_port: Option<u16>) -> Switch {
    Switch::start(
        SwitchOpts::new()
            .file("ivr-flows/cb.toml", FLOW)
            .edit(move |rel, text| {
                if rel == "sip-profiles/carrier.toml" {
                    set_toml_key(text, "routing.numbers", "\"411\"", "\"flow:cb\"");
                    set_toml_key(
                        text,
                        "routing.numbers",
                        "\"412\"",
                        "{ flow = \"cb\", calendar = \"always-closed\" }",
                    );
                    if let Some(port) = proxy_port {
                        set_toml_key(
                            text,
                            "outbound",
                            "proxy",
                            &format!("\"sip:127.0.0.1:{port}\""),
                        );
                    }
                }
                if rel == "contact-center/queues.toml" {
                    text.push_str(QUEUES);
                }
            }),
    )
}

/// `switchboard callbacks --json`.
fn callbacks(sw: &Switch) -> Vec<serde_json::Value> {
    let out = sw.command(&["callbacks", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits (at most `limit`) until request `id`'s row satisfies `want`;
/// the row.
fn wait_callback_where(
    sw: &Switch,
    id: i64,
    limit: Duration,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let all = callbacks(sw);
        let row = all.iter().find(|c| c["id"] == id).cloned();
        match row {
            Some(c) if want(&c) => return c,
            _ if start.elapsed() > limit => panic!("callback {id} as wanted: {all:#?}"),
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Waits until request `id` is in `state`; its row.
fn wait_callback(sw: &Switch, id: i64, state: &str, limit: Duration) -> serde_json::Value {
    wait_callback_where(sw, id, limit, |c| c["state"] == state)
}

/// Waits until `uas` received `n` INVITEs.
fn wait_invites(uas: &SippServer, n: usize, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let got = invites(uas);
        if got.len() >= n || start.elapsed() > limit {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The caller presses 1 (the callback key) and is thanked and hung up on
/// within `limit`.
fn ask_for_callback(c: &RawCaller, limit: Duration) {
    let (mut seq, ts) = (1u16, 8_000u32);
    c.send_digit(1, &mut seq, ts);
    assert!(c.await_bye(limit), "the switch hangs up after the goodbye");
}

/// The INVITEs a SIPp UAS received.
fn invites(uas: &SippServer) -> Vec<String> {
    received_messages(&uas.messages())
        .into_iter()
        .filter(|m| m.starts_with("INVITE "))
        .collect()
}

#[test]
fn a_waiting_caller_who_presses_1_keeps_their_place_and_is_called_back() {
    let customer = SippServer::start(&scenario("uas_bye.xml"), &["-rtp_echo"]);
    let sw = switch(Some(customer.port));
    sw.import_demo_customers();
    let agent = ready_phone(&sw, "1003", "uas_echo.xml");

    // The agent is busy: A (a demo customer) waits first, then B.
    let mut busy = call(&sw, "411");
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    let a = call_from(&sw, "411", Some("+15550101"));
    std::thread::sleep(Duration::from_millis(500));
    let mut b = call(&sw, "411");
    std::thread::sleep(Duration::from_millis(500));

    // A presses 1: thanked, hung up on, a request at A's place.
    ask_for_callback(&a, Duration::from_secs(20));
    let all = callbacks(&sw);
    assert_eq!(all.len(), 1, "{all:#?}");
    let id = all[0]["id"].as_i64().unwrap();
    assert_eq!(all[0]["number"], "+15550101", "{all:#?}");
    assert_eq!(all[0]["queue"], "t_cb", "{all:#?}");
    assert_eq!(all[0]["state"], "pending", "{all:#?}");

    // The agent is free: the callback (A's place) before B.
    assert_eq!(busy.bye(), 200);
    let done = wait_callback(&sw, id, "done", Duration::from_secs(30));
    assert_eq!(done["attempts"], 1, "{done:#}");
    assert_eq!(done["agent"], "1003", "{done:#}");
    assert_eq!(done["outcome"], "connected to agent 1003", "{done:#}");
    // The customer hangs up (500 ms after answering): B is next.
    let offered = wait_invites(&agent, 3, Duration::from_secs(20));
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(b.bye(), 200);

    // The agent's phone: the busy call, the callback, then B.
    assert_eq!(offered.len(), 3, "{offered:#?}");
    let cb = &offered[1];
    assert!(
        cb.contains("From: \"Callback\" <sip:+15550101@"),
        "the agent sees who is called back:\n{cb}"
    );
    for h in [
        &format!("X-Switchboard-Callback: {id}"),
        "X-Switchboard-Customer-Tier: VIP",
        "X-Switchboard-Queue: t_cb",
    ] {
        assert!(cb.contains(h), "`{h}` in\n{cb}");
    }
    assert!(
        !offered[2].contains("X-Switchboard-Callback"),
        "then B:\n{}",
        offered[2]
    );
    // The customer's phone got the call through the trunk, from the
    // number they had called.
    let out = invites(&customer);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert!(
        out[0].starts_with(&format!(
            "INVITE sip:+15550101@127.0.0.1:{} SIP/2.0",
            customer.port
        )),
        "{}",
        out[0]
    );
    assert!(out[0].contains("From: <sip:411@"), "{}", out[0]);

    let calls = sw.wait_calls_ended(4, Duration::from_secs(15));
    let a = record(&calls, &a.call_id);
    assert!(
        journey(&a, "queue").contains(&"t_cb: left for a callback, keeping the place".to_string()),
        "{a:#}"
    );
    let callback = calls
        .iter()
        .find(|c| c["caller"] == "+15550101" && c["call_id"] != a["call_id"])
        .unwrap_or_else(|| panic!("the callback's record: {calls:#?}"));
    assert_eq!(callback["agent"], "1003", "{callback:#}");
    assert_eq!(
        journey(callback, "callback"),
        [
            format!("callback {id}: ringing agent 1003"),
            "the agent answered".to_string(),
            "dialling the customer".to_string(),
            "the customer answered".to_string(),
        ],
        "{callback:#}"
    );
    assert!(
        callback["recordings"].as_array().unwrap().is_empty(),
        "the customer heard no notice: not recorded: {callback:#}"
    );
    let b = record(&calls, &b.call_id);
    let b_answered = queue_event_at(&b, "answered by 1003");
    assert!(
        b_answered >= callback["ended_at"].as_i64().unwrap(),
        "B after the callback: {b:#}"
    );
}

#[test]
fn a_night_request_waits_for_opening_hours_and_fails_after_its_attempts() {
    let customer = SippServer::start(&scenario("uas_ring.xml"), &[]);
    let sw = switch(Some(customer.port));
    let agent = ready_phone(&sw, "1003", "uas_echo.xml");

    let night = call_from(&sw, "412", Some("+15550177"));
    std::thread::sleep(Duration::from_millis(1500));
    ask_for_callback(&night, Duration::from_secs(10));
    let all = callbacks(&sw);
    assert_eq!(all.len(), 1, "{all:#?}");
    let id = all[0]["id"].as_i64().unwrap();
    assert_eq!(all[0]["calendar"], "always-closed", "{all:#?}");

    // Closed: the request waits; nobody is rung.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(callbacks(&sw)[0]["state"], "pending");
    assert!(invites(&agent).is_empty(), "no agent rung while closed");

    // Opening hours: the agent takes it; the customer does not answer.
    let out = sw.command(&["calendar", "always-closed", "open"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(wait_invites(&customer, 1, Duration::from_secs(20)).len(), 1);
    let first = wait_callback_where(&sw, id, Duration::from_secs(30), |c| {
        c["state"] == "pending" && c["attempts"] == 1
    });
    let retry = Instant::now();
    assert!(
        first["outcome"]
            .as_str()
            .unwrap()
            .starts_with("not reached"),
        "{first:#}"
    );
    assert_eq!(first["agent"], "1003", "{first:#}");
    assert!(sw.wait_agent_state("1003", "available", Duration::from_secs(10)));
    // The second attempt, after the 10 s retry time, is the last.
    assert_eq!(wait_invites(&customer, 2, Duration::from_secs(30)).len(), 2);
    assert!(
        retry.elapsed() >= Duration::from_secs(9),
        "the retry waited its time: {:?}",
        retry.elapsed()
    );
    let failed = wait_callback(&sw, id, "failed", Duration::from_secs(30));
    assert_eq!(failed["attempts"], 2, "{failed:#}");
    assert!(sw.wait_agent_state("1003", "available", Duration::from_secs(10)));
    let trace = customer.messages();
    assert!(
        trace.contains("CANCEL sip:+15550177@"),
        "rang out:\n{trace}"
    );
}

#[test]
fn a_switch_killed_while_a_request_waits_calls_back_after_the_restart() {
    let customer = SippServer::start(&scenario("uas_bye.xml"), &["-rtp_echo"]);
    let mut sw = switch(Some(customer.port));
    let _agent = ready_phone(&sw, "1003", "uas_echo.xml");
    let _busy = call(&sw, "411");
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    let a = call_from(&sw, "411", Some("+15550188"));
    std::thread::sleep(Duration::from_millis(500));
    ask_for_callback(&a, Duration::from_secs(20));
    let id = callbacks(&sw)[0]["id"].as_i64().unwrap();

    sw.kill();
    sw.restart();
    // The agent held by the lost call is free; the request is called back.
    let done = wait_callback(&sw, id, "done", Duration::from_secs(30));
    assert_eq!(done["agent"], "1003", "{done:#}");
    assert!(sw.wait_agent_state("1003", "wrap_up", Duration::from_secs(15)));
    assert!(sw.wait_agent_state("1003", "available", Duration::from_secs(10)));
}

/// Without an outbound proxy the trunk cannot call back: the request
/// waits, saying why, and no agent is rung for it.
#[test]
fn a_trunk_that_cannot_call_out_rings_no_agent() {
    let sw = switch(None);
    let agent = ready_phone(&sw, "1003", "uas_echo.xml");
    let mut busy = call(&sw, "411");
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    let a = call_from(&sw, "411", Some("+15550199"));
    std::thread::sleep(Duration::from_millis(500));
    ask_for_callback(&a, Duration::from_secs(20));
    let id = callbacks(&sw)[0]["id"].as_i64().unwrap();
    let waiting = wait_callback_where(&sw, id, Duration::from_secs(10), |c| {
        c["outcome"] == "trunk `carrier` has no [outbound] proxy"
    });
    assert_eq!(waiting["state"], "pending", "{waiting:#}");
    assert_eq!(waiting["attempts"], 0, "{waiting:#}");
    // The agent is free, and stays so over the dialer's next looks.
    assert_eq!(busy.bye(), 200);
    assert!(sw.wait_agent_state("1003", "available", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(sw.agent_state("1003"), "available");
    assert_eq!(
        invites(&agent).len(),
        1,
        "only the busy call rang the agent"
    );
}
