//! Issue 5, the post-call survey: callers of 421 wait in queue `t_sv`
//! (`survey = true`); the agent (a SIPp phone registered as 1003, logged in
//! with `*21`) answers and hangs up half a second later. The caller stays on
//! the line, is asked to rate the call, and the key is stored with the
//! call; without a key the question is asked twice, then nothing is stored.
//! Either way the agent is in wrap-up as soon as they hung up.

mod common;

use common::*;
use std::time::{Duration, Instant};

const FLOW: &str = r#"
entry = "queue"

[nodes.queue]
type = "queue"
queue = "t_sv"
no_answer = "end"

[nodes.end]
type = "hangup"
"#;

const QUEUES: &str = r#"
[queue.t_sv]
skills = { complaints = 5 }
wrap_up_seconds = 30
survey = true
"#;

fn switch() -> Switch {
    Switch::start(
        SwitchOpts::new()
            .file("ivr-flows/sv.toml", FLOW)
            .edit(|rel, text| {
                if rel == "sip-profiles/carrier.toml" {
                    set_toml_key(text, "routing.numbers", "\"421\"", "\"flow:sv\"");
                }
                if rel == "contact-center/queues.toml" {
                    text.push_str(QUEUES);
                }
            }),
    )
}

/// The caller is answered by the agent, who hangs up at once: the caller
/// is not hung up on, and hears the question. The caller's RTP state.
fn through_the_call_to_the_question(sw: &Switch, c: &mut RawCaller) -> (u16, u32) {
    let (status, ok) = c.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    assert!(
        sw.wait_agent_state("1003", "wrap_up", Duration::from_secs(15)),
        "the agent hung up and wraps up"
    );
    let (mut seq, mut ts) = (1u16, 0u32);
    let heard = c.listen(&mut seq, &mut ts, 1_000, Duration::from_secs(15));
    assert!(heard > 100, "the question was spoken: {heard} loud frames");
    (seq, ts)
}

#[test]
fn the_caller_rates_the_call_after_the_agent_hangs_up() {
    let sw = switch();
    let _agent = ready_phone(&sw, "1003", "uas_bye.xml");
    let mut c = RawCaller::new(sw.carrier_addr(), "421");
    let (mut seq, ts) = through_the_call_to_the_question(&sw, &mut c);
    c.send_digit(4, &mut seq, ts);
    assert!(
        c.await_bye(Duration::from_secs(15)),
        "thanked, then hung up on"
    );

    let calls = sw.wait_calls_ended(2, Duration::from_secs(10));
    let r = record(&calls, &c.call_id);
    assert_eq!(r["csat"], 4, "{r:#}");
    assert_eq!(journey(&r, "survey"), ["rated 4"], "{r:#}");
    assert_eq!(r["agent"], "1003", "{r:#}");
    assert_eq!(r["hangup_by"], "agent", "the agent ended the talk: {r:#}");
    assert_eq!(sw.agent_state("1003"), "wrap_up", "wrap-up goes on");
    // The queue's figures average the ratings.
    let out = sw.command(&["queues", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let q = all.iter().find(|q| q["queue"] == "t_sv").unwrap();
    assert_eq!(
        (q["csat"].as_f64(), q["csat_ratings"].as_i64()),
        (Some(4.0), Some(1)),
        "{q:#}"
    );
}

#[test]
fn a_caller_who_keys_nothing_is_asked_twice_and_nothing_is_stored() {
    let sw = switch();
    let _agent = ready_phone(&sw, "1003", "uas_bye.xml");
    let mut c = RawCaller::new(sw.carrier_addr(), "421");
    let (mut seq, mut ts) = through_the_call_to_the_question(&sw, &mut c);
    // 8 s to answer, then the question again.
    let asked_again = Instant::now();
    let heard = c.listen(&mut seq, &mut ts, 1_000, Duration::from_secs(20));
    assert!(heard > 100, "asked again: {heard} loud frames");
    assert!(
        asked_again.elapsed() >= Duration::from_secs(8),
        "after the answer time: {:?}",
        asked_again.elapsed()
    );
    assert!(c.await_bye(Duration::from_secs(20)), "then goodbye");

    let calls = sw.wait_calls_ended(2, Duration::from_secs(10));
    let r = record(&calls, &c.call_id);
    assert!(r["csat"].is_null(), "{r:#}");
    assert_eq!(journey(&r, "survey"), ["no rating"], "{r:#}");
}
