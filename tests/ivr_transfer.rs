//! Issue 4, the `transfer` node: a flow sends the caller to an agent's
//! extension, to a SIP URI, or out through a trunk's outbound proxy; the
//! target (a SIPp UAS echoing RTP) answers and the caller is bridged to
//! it. A target with no phone, or one that only rings, sends the flow down
//! the node's `failed` exit (the ringing one is cancelled).
//!
//! The test flow `ivr-flows/xfer.toml` (written into the test's copy of
//! the demo configuration) is a menu: 1 extension 1001, 2 a SIP URI, 3 a
//! number out through the carrier trunk, 4 extension 1005 (never
//! registered); a failed transfer plays goodbye and hangs up.

mod common;

use common::*;
use std::time::Duration;

const NUMBER: &str = "300";
const OUT_NUMBER: &str = "+15557770";

fn xfer_flow(uri_port: u16) -> String {
    format!(
        r#"
entry = "pick"

[nodes.pick]
type = "menu"
prompt = {{ say = "Transfers: one, two, three or four." }}
choices = {{ "1" = "to_agent", "2" = "to_uri", "3" = "out", "4" = "to_nobody" }}
timeout_ms = 10000
retries = 1
exhausted = "sorry"

[nodes.to_agent]
type = "transfer"
extension = "1001"
failed = "sorry"

[nodes.to_uri]
type = "transfer"
uri = "sip:desk@127.0.0.1:{uri_port}"
ring_seconds = 3
failed = "sorry"

[nodes.out]
type = "transfer"
number = "{OUT_NUMBER}"
trunk = "carrier"
failed = "sorry"

[nodes.to_nobody]
type = "transfer"
extension = "1005"
failed = "sorry"

[nodes.sorry]
type = "play"
prompt = "en/goodbye.wav"
next = "end"

[nodes.end]
type = "hangup"
"#
    )
}

/// A switch whose carrier number 300 runs the test flow; the carrier's
/// outbound proxy is `proxy_port` (a SIPp UAS), the flow's URI target
/// `uri_port`.
fn switch(uri_port: u16, proxy_port: u16) -> Switch {
    Switch::start(
        SwitchOpts::new()
            .file("ivr-flows/xfer.toml", &xfer_flow(uri_port))
            .edit(move |rel, text| {
                if rel == "sip-profiles/carrier.toml" {
                    set_toml_key(
                        text,
                        "routing.numbers",
                        &format!("\"{NUMBER}\""),
                        "\"flow:xfer\"",
                    );
                    set_toml_key(
                        text,
                        "outbound",
                        "proxy",
                        &format!("\"sip:127.0.0.1:{proxy_port}\""),
                    );
                }
            }),
    )
}

fn echo_uas() -> SippServer {
    SippServer::start(
        &scenario("uas_echo.xml"),
        &["-rtp_echo", "-key", "agent_pts", "0 8"],
    )
}

fn transfer_events(call: &serde_json::Value) -> Vec<String> {
    call["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "transfer")
        .filter_map(|e| e["detail"].as_str().map(str::to_string))
        .collect()
}

/// Calls 300, presses `digit` while the menu plays, and checks the caller
/// is bridged to an echoing target; returns the ended call's record.
fn bridged_by_key(sw: &Switch, digit: u8) -> serde_json::Value {
    let mut caller = RawCaller::new(sw.carrier_addr(), NUMBER);
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    caller.talk(&mut seq, &mut ts, 25, 0xff);
    caller.send_digit(digit, &mut seq, ts);
    // The target rings and answers; the relay takes over.
    std::thread::sleep(Duration::from_secs(2));
    let echoed = caller.echoed(&mut seq, &mut ts, 50, 0x33);
    assert!(echoed >= 40, "the target's echo: {echoed} of 50");
    assert_eq!(caller.bye(), 200);
    sw.wait_calls_ended(1, Duration::from_secs(15))[0].clone()
}

#[test]
fn a_transfer_to_an_extension_bridges_the_caller_to_its_phone() {
    let uas = echo_uas();
    let sw = switch(alloc_port(), alloc_port());
    let r = sipp_register(&sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "registering the echo UAS failed:\n{}", r.describe());
    let c = bridged_by_key(&sw, 1);
    assert_eq!(c["agent"], "1001", "{c:#}");
    assert_eq!(transfer_events(&c), ["extension 1001"], "{c:#}");
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
}

#[test]
fn a_transfer_to_a_sip_uri_sends_the_invite_there() {
    let uas = echo_uas();
    let sw = switch(uas.port, alloc_port());
    let c = bridged_by_key(&sw, 2);
    assert_eq!(c["agent"], "desk", "{c:#}");
    let want = format!("sip:desk@127.0.0.1:{}", uas.port);
    assert_eq!(transfer_events(&c), std::slice::from_ref(&want), "{c:#}");
    let trace = uas.messages();
    assert!(
        trace.contains(&format!("INVITE {want} SIP/2.0")),
        "the UAS got the INVITE for the URI:\n{trace}"
    );
}

#[test]
fn a_transfer_out_through_a_trunk_calls_the_number_at_its_proxy() {
    let proxy = echo_uas();
    let sw = switch(alloc_port(), proxy.port);
    let c = bridged_by_key(&sw, 3);
    assert_eq!(c["agent"], OUT_NUMBER, "{c:#}");
    assert_eq!(
        transfer_events(&c),
        [format!("{OUT_NUMBER} through trunk carrier")],
        "{c:#}"
    );
    let trace = proxy.messages();
    let want = format!("INVITE sip:{OUT_NUMBER}@127.0.0.1:{} SIP/2.0", proxy.port);
    assert!(trace.contains(&want), "the proxy got `{want}`:\n{trace}");
}

/// Extension 1005 has no phone: the journey says so and the flow takes
/// `failed` (goodbye, then the switch hangs up). A URI target that only
/// rings is cancelled after the node's `ring_seconds` and takes `failed`.
#[test]
fn a_transfer_nobody_answers_takes_the_failed_exit() {
    let ringing = SippServer::start(&scenario("uas_ring.xml"), &[]);
    let sw = switch(ringing.port, alloc_port());

    let mut caller = RawCaller::new(sw.carrier_addr(), NUMBER);
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    caller.talk(&mut seq, &mut ts, 25, 0xff);
    caller.send_digit(4, &mut seq, ts);
    assert!(
        caller.await_bye(Duration::from_secs(15)),
        "goodbye, then the switch hangs up"
    );
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(
        transfer_events(c),
        ["extension 1005", "extension 1005 has no registered phone"],
        "{c:#}"
    );
    assert_eq!(c["cause"], "the flow ended the call", "{c:#}");

    let mut caller = RawCaller::new(sw.carrier_addr(), NUMBER);
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    caller.talk(&mut seq, &mut ts, 25, 0xff);
    caller.send_digit(2, &mut seq, ts);
    assert!(
        caller.await_bye(Duration::from_secs(20)),
        "3 s of ringing, goodbye, then the switch hangs up"
    );
    let calls = sw.wait_calls_ended(2, Duration::from_secs(10));
    let c = calls
        .iter()
        .find(|c| transfer_events(c).iter().any(|e| e.starts_with("sip:desk")))
        .unwrap_or_else(|| panic!("the URI call: {calls:#?}"));
    assert_eq!(c["cause"], "the flow ended the call", "{c:#}");
    let trace = ringing.messages();
    assert!(
        trace.contains("CANCEL sip:desk@"),
        "the ringing target was cancelled:\n{trace}"
    );
}

/// The recording notice must play before anything is recorded: a notice
/// whose prompt file is gone by the time of the call (deleted after the
/// switch checked it) is journaled as not played, no disclosure time is
/// stored, and the call bridged afterwards is not recorded.
#[test]
fn a_call_whose_notice_cannot_play_is_not_recorded() {
    let uas = echo_uas();
    let flow = format!(
        r#"
entry = "notice"

[nodes.notice]
type = "disclosure"
prompt = "en/notice-test.wav"
next = "desk"

[nodes.desk]
type = "transfer"
uri = "sip:desk@127.0.0.1:{}"
"#,
        uas.port
    );
    let goodbye = std::fs::read(repo_root().join("prompts/en/goodbye.wav")).unwrap();
    let sw = Switch::start(
        SwitchOpts::new()
            .file("ivr-flows/nonotice.toml", &flow)
            .binary("prompts/en/notice-test.wav", &goodbye)
            .edit(|rel, text| {
                if rel == "sip-profiles/carrier.toml" {
                    set_toml_key(text, "routing.numbers", "\"301\"", "\"flow:nonotice\"");
                }
            }),
    );
    // Checked at start; gone by the time of the call.
    std::fs::remove_file(sw.config_dir().join("prompts/en/notice-test.wav")).unwrap();

    let mut caller = RawCaller::new(sw.carrier_addr(), "301");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    std::thread::sleep(Duration::from_secs(2));
    let echoed = caller.echoed(&mut seq, &mut ts, 50, 0x33);
    assert!(echoed >= 40, "bridged to the desk: {echoed} of 50");
    assert_eq!(caller.bye(), 200);
    let c = &sw.wait_calls_ended(1, Duration::from_secs(15))[0];
    assert_eq!(c["agent"], "desk", "{c:#}");
    assert!(c["disclosure_at"].is_null(), "{c:#}");
    let disclosure: Vec<&str> = c["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "disclosure")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(
        disclosure,
        ["the notice could not be played: the call is not recorded"],
        "{c:#}"
    );
    assert_eq!(c["recordings"], serde_json::json!([]), "{c:#}");
}
