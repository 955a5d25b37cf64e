//! Issue 5, queues end to end: raw SIP callers on the carrier trunk enter
//! a test flow that puts them straight into a queue (401 t_orders, 402
//! t_complaints, 403 t_complaints as a VIP); agents are SIPp phones registered
//! on `agents` that logged in with `*21`. The demo's agents and skills;
//! test queues (added to the demo's) with short timers.
//!
//! - skills: an orders caller goes to the orders agent, a complaint to the
//!   complaints expert; a VIP who joined later is served before a standard
//!   caller waiting longer; wrap-up holds the agent between calls;
//! - an agent who does not answer is cancelled after the ring timeout, the
//!   call goes to the next agent, and (one miss allowed) the agent is made
//!   not ready.

mod common;

use common::*;
use std::time::Duration;

const FLOW: &str = r#"
entry = "identify"

[nodes.identify]
type = "lookup"
source = "customers"
found = "pick"
not_found = "pick"

[nodes.pick]
type = "branch"
cases = [
  { when = "called.number == '403'", next = "vip" },
  { when = "called.number == '402'", next = "complaints" },
]
default = "orders"

[nodes.orders]
type = "queue"
queue = "t_orders"
no_answer = "end"

[nodes.complaints]
type = "queue"
queue = "t_complaints"
no_answer = "end"

[nodes.vip]
type = "queue"
queue = "t_complaints"
priority = 100
no_answer = "end"

[nodes.end]
type = "hangup"
"#;

const QUEUES: &str = r#"
[queue.t_orders]
skills = { orders = 5 }
ring_timeout_seconds = 5
wrap_up_seconds = 3
max_wait_seconds = 10
overflow = "t_complaints"

[queue.t_complaints]
skills = { complaints = 5 }
ring_timeout_seconds = 5
wrap_up_seconds = 3
max_wait_seconds = 60
announce_every_seconds = 5
"#;

fn switch(max_missed: u32) -> Switch {
    Switch::start(
        SwitchOpts::new()
            .file("ivr-flows/q.toml", FLOW)
            .edit(move |rel, text| {
                if rel == "sip-profiles/carrier.toml" {
                    for n in ["401", "402", "403"] {
                        set_toml_key(text, "routing.numbers", &format!("\"{n}\""), "\"flow:q\"");
                    }
                }
                if rel == "contact-center/queues.toml" {
                    text.push_str(QUEUES);
                }
                if rel == "contact-center/agents.toml" {
                    *text = text.replace(
                        "max_missed_offers = 3",
                        &format!("max_missed_offers = {max_missed}"),
                    );
                }
            }),
    )
}

#[test]
fn callers_reach_agents_by_skill_vips_first_and_wrap_up_holds_the_agent() {
    let sw = switch(3);
    sw.import_demo_customers();
    let _orders = phone(&sw, "1001", "uas_echo.xml");
    let complaints = phone(&sw, "1003", "uas_echo.xml");
    log_in(&sw, "1001");
    log_in(&sw, "1003");

    let mut a = call(&sw, "402");
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    let mut o = call(&sw, "401");
    assert!(sw.wait_agent_state("1001", "on_call", Duration::from_secs(10)));
    // 1003 is busy: a standard complaint waits, then a VIP one.
    let mut b = call(&sw, "402");
    std::thread::sleep(Duration::from_secs(1));
    let mut v = RawCaller::new(sw.carrier_addr(), "403");
    v.from = "+15550101".into(); // a VIP of the demo customers
    let (status, ok) = v.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    std::thread::sleep(Duration::from_millis(500));

    assert_eq!(a.bye(), 200);
    assert!(
        sw.wait_agent_state("1003", "wrap_up", Duration::from_secs(5)),
        "the agent wraps up after the call"
    );
    // After 3 s of wrap-up the VIP goes first.
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(v.bye(), 200);
    assert!(sw.wait_agent_state("1003", "wrap_up", Duration::from_secs(5)));
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(b.bye(), 200);
    assert_eq!(o.bye(), 200);

    let calls = sw.wait_calls_ended(6, Duration::from_secs(15));
    let (a, o, b, v) = (
        record(&calls, &a.call_id),
        record(&calls, &o.call_id),
        record(&calls, &b.call_id),
        record(&calls, &v.call_id),
    );
    assert_eq!(a["agent"], "1003", "the complaint to the expert: {a:#}");
    assert_eq!(o["agent"], "1001", "orders to the orders agent: {o:#}");
    assert_eq!(
        journey(&b, "queue")[1],
        "t_complaints: joined at position 1"
    );
    assert_eq!(
        journey(&v, "queue")[1],
        "t_complaints: joined at position 1",
        "the VIP goes ahead of the caller waiting longer"
    );
    let v_answered = queue_event_at(&v, "answered by 1003");
    let b_answered = queue_event_at(&b, "answered by 1003");
    assert!(
        v_answered < b_answered,
        "the VIP was answered first ({v_answered} < {b_answered})"
    );
    // The agent's phone learnt who calls and why, without asking.
    let invites: Vec<String> = received_messages(&complaints.messages())
        .into_iter()
        .filter(|m| m.starts_with("INVITE "))
        .collect();
    assert_eq!(invites.len(), 3, "three calls offered to 1003");
    let vip = invites
        .iter()
        .find(|m| m.contains("X-Switchboard-Customer-Tier: VIP"))
        .unwrap_or_else(|| panic!("the VIP's context: {invites:#?}"));
    for h in [
        "X-Switchboard-Queue: t_complaints",
        "X-Switchboard-Customer-Name: ",
        "X-Switchboard-Language: en",
        &format!("X-Switchboard-Call: {}", v["call_id"].as_str().unwrap()),
    ] {
        assert!(vip.contains(h), "`{h}` in\n{vip}");
    }
    let a_ended = a["ended_at"].as_i64().unwrap();
    assert!(
        v_answered - a_ended >= 2_500,
        "the wrap-up (3 s) held the agent: {} ms",
        v_answered - a_ended
    );
}

#[test]
fn an_agent_who_does_not_answer_is_skipped_and_made_not_ready() {
    let sw = switch(1);
    let ringing = phone(&sw, "1004", "uas_ring.xml");
    let _answering = phone(&sw, "1003", "uas_echo.xml");
    // 1004 is idle the longest: offered first.
    log_in(&sw, "1004");
    std::thread::sleep(Duration::from_millis(300));
    log_in(&sw, "1003");

    let mut c = call(&sw, "402");
    assert!(
        sw.wait_agent_state("1003", "on_call", Duration::from_secs(20)),
        "the next agent answers after the first rang out"
    );
    assert_eq!(c.bye(), 200);
    let calls = sw.wait_calls_ended(3, Duration::from_secs(15));
    let r = record(&calls, &c.call_id);
    assert_eq!(
        journey(&r, "queue"),
        [
            "t_complaints (priority 0)",
            "t_complaints: joined, offered at once",
            "offered to 1004",
            "1004 did not answer",
            "offered to 1003",
            "answered by 1003"
        ],
        "{r:#}"
    );
    let rang = queue_event_at(&r, "1004 did not answer") - queue_event_at(&r, "offered to 1004");
    assert!(
        (4_500..8_000).contains(&rang),
        "the ring timeout is 5 s: {rang} ms"
    );
    let agents = sw.agent_states();
    let a = agents.iter().find(|a| a["agent"] == "1004").unwrap();
    assert_eq!(a["state"], "not_ready", "{a:#}");
    assert_eq!(a["reason"], "missed 1 offers", "{a:#}");
    let trace = ringing.messages();
    assert!(trace.contains("CANCEL sip:1004@"), "cancelled:\n{trace}");
}

/// The switch is killed (SIGKILL) while one caller talks to agent 1003 and
/// another waits in line. After the restart no agent is left on a call:
/// 1003 is available again and 1001 (on a break before) still on it; both
/// calls are closed in the CDR as interrupted.
#[test]
fn a_switch_killed_mid_queue_leaves_no_agent_stuck() {
    let mut sw = switch(3);
    let _complaints = ready_phone(&sw, "1003", "uas_echo.xml");
    log_in(&sw, "1001");
    let r = dial_feature(&sw, "1001", "pw1001", "*22");
    assert!(r.ok(), "*22:\n{}", r.describe());

    let _talking = call(&sw, "402");
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    let _waiting = call(&sw, "402");
    std::thread::sleep(Duration::from_millis(500));
    sw.kill();
    assert_eq!(sw.agent_state("1003"), "on_call", "as stored at the crash");

    sw.restart();
    assert!(
        sw.wait_agent_state("1003", "available", Duration::from_secs(10)),
        "1003 is free after the restart"
    );
    assert_eq!(sw.agent_state("1001"), "not_ready", "the break is kept");
    let calls = sw.wait_calls_ended(5, Duration::from_secs(10));
    let queued: Vec<_> = calls.iter().filter(|c| c["callee"] == "402").collect();
    assert_eq!(queued.len(), 2, "{calls:#?}");
    for c in queued {
        assert!(!c["ended_at"].is_null(), "closed in the CDR: {c:#}");
    }
}

/// `switchboard queues --json` for t_complaints.
fn queue_stats(sw: &Switch) -> serde_json::Value {
    let out = sw.command(&["queues", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    all.into_iter()
        .find(|q| q["queue"] == "t_complaints")
        .expect("t_complaints in the figures")
}

/// A scripted run: A is answered at once and talks; B waits and hangs up;
/// C joins during A's wrap-up and is answered when it ends. The queue's
/// figures equal those computed by hand from the calls' journeys.
#[test]
fn queue_figures_equal_those_computed_by_hand() {
    let sw = switch(3);
    let _phone = ready_phone(&sw, "1003", "uas_echo.xml");

    let mut a = call(&sw, "402");
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    let mut b = call(&sw, "402");
    std::thread::sleep(Duration::from_millis(1500));
    let live = queue_stats(&sw);
    assert_eq!(live["waiting"], 1, "B waits: {live:#}");
    assert!(
        live["longest_wait_ms"].as_i64().unwrap() >= 1_000,
        "{live:#}"
    );
    assert_eq!(b.bye(), 200);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(a.bye(), 200);
    assert!(sw.wait_agent_state("1003", "wrap_up", Duration::from_secs(5)));
    let mut c = call(&sw, "402");
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(c.bye(), 200);

    let calls = sw.wait_calls_ended(5, Duration::from_secs(15));
    let (a, b, c) = (
        record(&calls, &a.call_id),
        record(&calls, &b.call_id),
        record(&calls, &c.call_id),
    );
    assert!(
        journey(&b, "queue")
            .iter()
            .all(|e| !e.starts_with("answered"))
    );
    let joined = |r: &serde_json::Value| {
        r["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "queue" && e["detail"].as_str().unwrap().contains("joined"))
            .and_then(|e| e["at"].as_i64())
            .unwrap()
    };
    let answered = |r: &serde_json::Value| queue_event_at(r, "answered by 1003");
    let ended = |r: &serde_json::Value| r["ended_at"].as_i64().unwrap();
    let asa = ((answered(&a) - joined(&a)) + (answered(&c) - joined(&c))) as f64 / 2.0;
    let wrap = 3_000;
    let aht = ((ended(&a) - answered(&a) + wrap) + (ended(&c) - answered(&c) + wrap)) as f64 / 2.0;

    let s = queue_stats(&sw);
    assert_eq!(s["waiting"], 0, "{s:#}");
    assert_eq!(s["offered"], 3, "{s:#}");
    assert_eq!(s["answered"], 2, "{s:#}");
    assert_eq!(s["abandoned"], 1, "{s:#}");
    let near = |key: &str, want: f64, tol: f64| {
        let got = s[key].as_f64().unwrap();
        assert!((got - want).abs() <= tol, "{key}: {got} vs {want} by hand");
    };
    near("abandon_rate", 100.0 / 3.0, 0.01);
    near("service_level", 200.0 / 3.0, 0.01);
    near("asa_ms", asa, 300.0);
    near("aht_ms", aht, 300.0);
    assert!(asa >= 1_000.0, "C waited through the wrap-up: ASA {asa}");
}

/// A caller waiting behind a busy agent hears their place in line and the
/// expected wait (no call ended yet: 3 minutes assumed per call, one agent)
/// one second after joining, then every `announce_every_seconds` (5), with
/// the music on hold between.
#[test]
fn waiting_callers_hear_their_position_and_expected_wait() {
    let sw = switch(3);
    let _phone = ready_phone(&sw, "1003", "uas_echo.xml");
    let mut a = call(&sw, "402");
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    let mut b = call(&sw, "402");
    let (mut seq, mut ts) = (1u16, 0u32);
    let heard = b.listen(&mut seq, &mut ts, 60_000, Duration::from_millis(7_500));
    assert!(heard > 150, "speech and music: {heard} loud frames");
    assert_eq!(b.bye(), 200);
    assert_eq!(a.bye(), 200);
    let calls = sw.wait_calls_ended(3, Duration::from_secs(15));
    let b = record(&calls, &b.call_id);
    let said: Vec<String> = journey(&b, "queue")
        .into_iter()
        .filter(|e| e.starts_with("position"))
        .collect();
    assert_eq!(
        said,
        [
            "position 1, expected wait 180 s",
            "position 1, expected wait 180 s"
        ],
        "{b:#}"
    );
    let first = queue_event_at(&b, "t_complaints: joined at position 1");
    let at: Vec<i64> = b["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"].as_str().unwrap_or("").starts_with("position"))
        .map(|e| e["at"].as_i64().unwrap())
        .collect();
    assert!(
        (800..2_500).contains(&(at[0] - first)),
        "{at:?} from {first}"
    );
    assert!((4_500..6_500).contains(&(at[1] - at[0])), "{at:?}");
}

/// The agent hangs up first (their phone sends BYE after 500 ms): the
/// caller gets a BYE, the agent wraps up (3 s) and is available again;
/// the stay counts as answered.
#[test]
fn the_agent_hanging_up_first_leaves_them_in_wrap_up_then_available() {
    let sw = switch(3);
    let _phone = ready_phone(&sw, "1003", "uas_bye.xml");
    let c = call(&sw, "402");
    assert!(
        c.await_bye(Duration::from_secs(10)),
        "the agent's BYE reaches the caller"
    );
    assert!(sw.wait_agent_state("1003", "wrap_up", Duration::from_secs(5)));
    assert!(sw.wait_agent_state("1003", "available", Duration::from_secs(6)));
    let calls = sw.wait_calls_ended(2, Duration::from_secs(10));
    let r = record(&calls, &c.call_id);
    assert_eq!(r["hangup_by"], "agent", "{r:#}");
    assert_eq!(r["agent"], "1003", "{r:#}");
    let s = queue_stats(&sw);
    assert_eq!(
        (s["answered"].as_i64(), s["abandoned"].as_i64()),
        (Some(1), Some(0)),
        "{s:#}"
    );
}

/// Nobody who takes orders is logged in: after t_orders' maximum wait
/// (10 s) the caller overflows to t_complaints, whose agent answers.
#[test]
fn a_caller_waiting_too_long_overflows_to_the_next_queue() {
    let sw = switch(3);
    let _phone = ready_phone(&sw, "1003", "uas_echo.xml");
    let mut c = call(&sw, "401");
    assert!(
        sw.wait_agent_state("1003", "on_call", Duration::from_secs(20)),
        "answered after the overflow"
    );
    assert_eq!(c.bye(), 200);
    let calls = sw.wait_calls_ended(2, Duration::from_secs(10));
    let r = record(&calls, &c.call_id);
    let q = journey(&r, "queue");
    assert_eq!(q[1], "t_orders: joined at position 1", "{q:?}");
    assert!(
        q.contains(&"t_orders: waited too long, overflow to t_complaints".to_string()),
        "{q:?}"
    );
    assert_eq!(q.last().unwrap(), "answered by 1003", "{q:?}");
    let waited = queue_event_at(&r, "t_orders: waited too long, overflow to t_complaints")
        - queue_event_at(&r, "t_orders: joined at position 1");
    assert!(
        (9_500..12_000).contains(&waited),
        "max wait 10 s: {waited} ms"
    );
    assert_eq!(r["agent"], "1003", "{r:#}");
}
