//! Issue 5, agents' transfers (RFC 3515 blind transfer): callers of 431
//! (a VIP of the demo customers) wait in `t_first`, served by agent 1001,
//! whose phone (SIPp) answers and sends REFER. Agent 1003 (SIPp, echoing)
//! serves `t_second`.
//!
//! - to a queue: the switch accepts (202, NOTIFY), hangs 1001 up (wrap-up),
//!   and the caller, on hold, is offered in `t_second`; 1003's phone learns
//!   the caller's context and who transferred; the caller talks to 1003
//!   (audio both ways), and the journal keeps the whole journey;
//! - to an agent by extension: offered to that agent alone;
//! - to nothing the switch knows: 404, and the call goes on.

mod common;

use common::*;
use std::time::Duration;

const FLOW: &str = r#"
entry = "identify"

[nodes.identify]
type = "lookup"
source = "customers"
found = "queue"
not_found = "queue"

[nodes.queue]
type = "queue"
queue = "t_first"
no_answer = "end"

[nodes.end]
type = "hangup"
"#;

const QUEUES: &str = r#"
[queue.t_first]
skills = { orders = 5 }
wrap_up_seconds = 30

[queue.t_second]
skills = { complaints = 5 }
wrap_up_seconds = 30
"#;

fn switch() -> Switch {
    Switch::start(
        SwitchOpts::new()
            .file("ivr-flows/tr.toml", FLOW)
            .edit(|rel, text| {
                if rel == "sip-profiles/carrier.toml" {
                    set_toml_key(text, "routing.numbers", "\"431\"", "\"flow:tr\"");
                }
                if rel == "contact-center/queues.toml" {
                    text.push_str(QUEUES);
                }
            }),
    )
}

/// A VIP caller of 431, answered.
fn vip_call(sw: &Switch) -> RawCaller {
    call_from(sw, "431", Some("+15550101"))
}

#[test]
fn an_agent_transfers_the_caller_to_another_queue_with_the_journey() {
    let sw = switch();
    sw.import_demo_customers();
    let first = phone_with(
        &sw,
        "1001",
        "uas_refer.xml",
        &["-key", "refer_to", "t_second"],
    );
    let second = ready_phone(&sw, "1003", "uas_echo.xml");
    log_in(&sw, "1001");

    let mut c = vip_call(&sw);
    assert!(
        sw.wait_agent_state("1001", "wrap_up", Duration::from_secs(15)),
        "1001 transferred:\n{}\n{}",
        first.messages(),
        sw.log()
    );
    assert!(
        sw.wait_agent_state("1003", "on_call", Duration::from_secs(15)),
        "the caller reached the second queue's agent"
    );
    let (mut seq, mut ts) = (1u16, 0u32);
    let echoed = c.echoed(&mut seq, &mut ts, 50, 0x5a);
    assert!(
        echoed > 20,
        "the caller talks to 1003: {echoed} frames back"
    );
    assert_eq!(c.bye(), 200);

    let done = first.stop();
    assert!(done.ok(), "1001's transfer: {}", done.describe());
    let invites: Vec<String> = received_messages(&second.messages())
        .into_iter()
        .filter(|m| m.starts_with("INVITE "))
        .collect();
    assert_eq!(invites.len(), 1, "{invites:#?}");
    for h in [
        "X-Switchboard-Queue: t_second",
        "X-Switchboard-Transferred-By: 1001",
        "X-Switchboard-Customer-Tier: VIP",
        &format!("X-Switchboard-Call: {}", c.call_id),
    ] {
        assert!(invites[0].contains(h), "`{h}` in\n{}", invites[0]);
    }

    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    let r = record(&calls, &c.call_id);
    assert_eq!(
        journey(&r, "transfer"),
        ["by 1001 to queue t_second"],
        "{r:#}"
    );
    let queue = journey(&r, "queue");
    for step in [
        "answered by 1001",
        "t_second: joined, offered at once",
        "answered by 1003",
    ] {
        assert!(queue.iter().any(|e| e == step), "`{step}` in {queue:?}");
    }
    assert_eq!(r["agent"], "1003", "{r:#}");
    assert_eq!(
        r["recordings"].as_array().unwrap().len(),
        2,
        "one recording per agent: {r:#}"
    );
}

#[test]
fn an_agent_transfers_to_a_colleague_and_an_unknown_target_is_refused() {
    let sw = switch();
    let first = phone_with(&sw, "1001", "uas_refer.xml", &["-key", "refer_to", "1003"]);
    let second = ready_phone(&sw, "1003", "uas_echo.xml");
    log_in(&sw, "1001");
    let mut c = vip_call(&sw);
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(15)));
    assert_eq!(c.bye(), 200);
    assert!(first.stop().ok());
    drop(second);
    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    let r = record(&calls, &c.call_id);
    assert_eq!(journey(&r, "transfer"), ["by 1001 to agent 1003"], "{r:#}");
    assert_eq!(r["agent"], "1003", "{r:#}");

    // A REFER to nothing: 404, and the call goes on (1004 takes it, the
    // others wrapping up).
    assert!(sw.wait_agent_state("1003", "wrap_up", Duration::from_secs(5)));
    let refused = phone_with(
        &sw,
        "1004",
        "uas_refer_refused.xml",
        &["-key", "refer_to", "nobody"],
    );
    log_in(&sw, "1004");
    let mut c = call(&sw, "431");
    assert!(sw.wait_agent_state("1004", "on_call", Duration::from_secs(15)));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sw.agent_state("1004"), "on_call", "still talking");
    assert_eq!(c.bye(), 200);
    let done = refused.stop();
    assert!(done.ok(), "404 then the BYE: {}", done.describe());
    let calls = sw.wait_calls_ended(2, Duration::from_secs(10));
    let r = record(&calls, &c.call_id);
    assert_eq!(
        journey(&r, "transfer"),
        ["1004 asked for `nobody`: no such queue or agent"],
        "{r:#}"
    );
}
