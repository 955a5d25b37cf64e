//! Issue 5, periodic messages: callers of 441 wait in `t_msg` behind a
//! busy agent and hear the queue's two messages in turn, every 5 s, with
//! the music on hold between them.

mod common;

use common::*;
use std::time::Duration;

const FLOW: &str = r#"
entry = "queue"

[nodes.queue]
type = "queue"
queue = "t_msg"
no_answer = "end"

[nodes.end]
type = "hangup"
"#;

const QUEUES: &str = r#"
[queue.t_msg]
skills = { complaints = 5 }
message_every_seconds = 5
messages = [
  { en = "Did you know? You can track your order online.", zh = "您知道吗？您可以在网上查询订单。" },
  { en = "Thank you for waiting. An agent will be with you soon." },
]
"#;

#[test]
fn waiting_callers_hear_the_queue_messages_in_turn() {
    let sw = Switch::start(
        SwitchOpts::new()
            .file("ivr-flows/msg.toml", FLOW)
            .edit(|rel, text| {
                if rel == "sip-profiles/carrier.toml" {
                    set_toml_key(text, "routing.numbers", "\"441\"", "\"flow:msg\"");
                }
                if rel == "contact-center/queues.toml" {
                    text.push_str(QUEUES);
                }
            }),
    );
    let _agent = ready_phone(&sw, "1003", "uas_echo.xml");
    let mut busy = call(&sw, "441");
    assert!(sw.wait_agent_state("1003", "on_call", Duration::from_secs(10)));
    let mut c = call(&sw, "441");
    let (mut seq, mut ts) = (1u16, 0u32);
    let heard = c.listen(&mut seq, &mut ts, 60_000, Duration::from_millis(18_000));
    assert!(heard > 200, "messages and music: {heard} loud frames");
    assert_eq!(c.bye(), 200);
    assert_eq!(busy.bye(), 200);

    let calls = sw.wait_calls_ended(3, Duration::from_secs(15));
    let r = record(&calls, &c.call_id);
    let said: Vec<String> = journey(&r, "queue")
        .into_iter()
        .filter(|e| e.starts_with("message"))
        .collect();
    assert!(said.len() >= 3, "{r:#}");
    assert_eq!(said[..3], ["message 1", "message 2", "message 1"], "{r:#}");
    let at = |n: usize| {
        r["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["kind"] == "queue" && e["detail"].as_str().unwrap().starts_with("message")
            })
            .nth(n)
            .and_then(|e| e["at"].as_i64())
            .unwrap()
    };
    let gap = at(1) - at(0);
    assert!((4_500..6_500).contains(&gap), "every 5 s: {gap} ms");
}
