//! Issue 4 (IVR flows) end to end: a raw SIP caller on the carrier trunk
//! walks the demo flow (`ivr-flows/demo.toml`), hearing its prompts (spoken
//! by espeak-ng) and sending RFC 4733 digits.
//!
//! - `199` (calendar always closed): the notice, the night branch, `1` for
//!   a callback on the caller's number, goodbye, and the switch hangs up;
//!   the journey, the disclosure time and the callback are in the CDR.
//! - `9` during the notice opts out of recording: the CDR says so.
//! - A VIP caller (demo customer +15550101) skips the menu to the VIP
//!   queue; no agent is bridged from flows yet, so the flow goes on to
//!   voicemail: a message is recorded until `#`.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn at_night_the_flow_takes_a_callback_and_hangs_up() {
    let sw = Switch::start(SwitchOpts::new());
    let mut caller = RawCaller::new(sw.carrier_addr(), "199");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    // The notice (about 7 s of speech) and the night prompt (about 6 s;
    // the pause between them is how long speaking it takes, if it is not
    // cached yet), then 1: a callback on this number.
    let heard = caller.listen(&mut seq, &mut ts, 2500, Duration::from_secs(40));
    assert!(heard >= 150, "the prompts were heard: {heard} loud frames");
    caller.send_digit(1, &mut seq, ts);
    assert!(
        caller.await_bye(Duration::from_secs(15)),
        "goodbye, then the switch hangs up"
    );

    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["agent"], "app:flow:demo", "{c:#}");
    assert_eq!(c["cause"], "the flow ended the call", "{c:#}");
    assert!(c["disclosure_at"].as_i64().is_some(), "{c:#}");
    assert_eq!(c["recording_opt_out"], false, "{c:#}");
    let nodes = journey(c, "node");
    for want in [
        "demo.notice (disclosure)",
        "demo.identify (lookup)",
        "demo.night (callback)",
        "demo.end (hangup)",
    ] {
        assert!(nodes.iter().any(|n| n == want), "{want} in {nodes:?}");
    }
    assert!(
        journey(c, "branch")
            .iter()
            .any(|b| b.contains("always-closed closed")),
        "{c:#}"
    );
    assert_eq!(journey(c, "callback"), ["on the caller's number"], "{c:#}");
    assert_eq!(journey(c, "lookup"), ["not found"], "{c:#}");
}

#[test]
fn the_opt_out_key_during_the_notice_is_recorded_with_the_call() {
    let sw = Switch::start(SwitchOpts::new());
    let mut caller = RawCaller::new(sw.carrier_addr(), "100");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    // Two seconds into the notice, 9.
    caller.listen(&mut seq, &mut ts, 60_000, Duration::from_secs(2));
    caller.send_digit(9, &mut seq, ts);
    // The menu follows (the caller is not a customer; always open).
    let menu = caller.listen(&mut seq, &mut ts, 1500, Duration::from_secs(25));
    assert!(menu >= 100, "the menu was heard: {menu}");
    assert_eq!(caller.bye(), 200);
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["recording_opt_out"], true, "{c:#}");
    assert_eq!(
        journey(c, "disclosure"),
        ["opted out of recording"],
        "{c:#}"
    );
    assert!(
        journey(c, "node").iter().any(|n| n == "demo.menu (menu)"),
        "{c:#}"
    );
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
}

#[test]
fn a_vip_skips_the_menu_and_leaves_a_voicemail() {
    let sw = Switch::start(SwitchOpts::new());
    sw.import_demo_customers();
    let mut caller = RawCaller::new(sw.carrier_addr(), "+15550100");
    caller.from = "+15550101".into();
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    // The notice, then at once (no menu) the voicemail prompt and its
    // beep: about 11 s of sound with short pauses.
    let heard = caller.listen(&mut seq, &mut ts, 2500, Duration::from_secs(40));
    assert!(
        heard >= 400,
        "the notice and the voicemail prompt were heard: {heard}"
    );
    // A message of 1 s, then #.
    caller.talk(&mut seq, &mut ts, 50, 0x20);
    caller.send_digit(11, &mut seq, ts);
    assert!(
        caller.await_bye(Duration::from_secs(15)),
        "goodbye, then the switch hangs up"
    );

    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    let nodes = journey(c, "node");
    assert!(
        !nodes.iter().any(|n| n == "demo.menu (menu)"),
        "no menu for a VIP: {nodes:?}"
    );
    assert!(nodes.iter().any(|n| n == "demo.vip (queue)"), "{nodes:?}");
    assert!(
        nodes.iter().any(|n| n == "demo.voicemail (voicemail)"),
        "{nodes:?}"
    );
    assert_eq!(journey(c, "lookup"), ["found (tier VIP)"], "{c:#}");
    assert_eq!(journey(c, "voicemail"), ["message recorded"], "{c:#}");
    let rec = &c["recordings"][0];
    assert_eq!(rec["state"], "complete", "{c:#}");
    let ms = rec["duration_ms"].as_i64().unwrap_or(0);
    assert!((700..8000).contains(&ms), "message of {ms} ms: {c:#}");
}

/// The menu's `1` hands the caller to the orders queue: agent 1001 (a
/// SIPp UAS echoing RTP, registered) is rung and answers; the caller is
/// bridged on the port it was answered with, hears its own audio echoed by
/// the agent, and the call is recorded (the notice played, no opt-out).
#[test]
fn menu_key_1_bridges_the_caller_to_a_registered_agent() {
    let sw = Switch::start(SwitchOpts::new());
    let uas = SippServer::start(
        &scenario("uas_echo.xml"),
        &["-rtp_echo", "-key", "agent_pts", "0 8"],
    );
    let r = sipp_register(&sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "registering the echo UAS failed:\n{}", r.describe());
    log_in(&sw, "1001");
    let mut caller = RawCaller::new(sw.carrier_addr(), "100");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    // The notice, then the menu: 1 while it plays.
    caller.listen(&mut seq, &mut ts, 1200, Duration::from_secs(20));
    caller.listen(&mut seq, &mut ts, 60_000, Duration::from_secs(2));
    caller.send_digit(1, &mut seq, ts);
    // Bridged: the agent echoes what the caller says.
    std::thread::sleep(Duration::from_secs(2));
    let echoed = caller.echoed(&mut seq, &mut ts, 50, 0x33);
    assert!(echoed >= 40, "the agent's echo: {echoed} of 50");
    assert_eq!(caller.bye(), 200);

    let c = &sw.wait_calls_ended(1, Duration::from_secs(15))[0];
    assert_eq!(c["agent"], "1001", "{c:#}");
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
    let nodes = journey(c, "node");
    assert!(
        nodes.iter().any(|n| n == "demo.orders (queue)"),
        "{nodes:?}"
    );
    assert!(nodes.iter().any(|n| n == "key 1 -> orders"), "{nodes:?}");
    assert_eq!(c["legs"]["agent"]["codec"], "PCMU/8000", "{c:#}");
    let rec = &c["recordings"][0];
    assert_eq!(rec["channels"], 2, "the bridged call is recorded: {c:#}");
    assert_eq!(rec["state"], "complete", "{c:#}");
}

fn reload(sw: &Switch) -> std::process::Output {
    sw.command(&["reload"])
}

fn wait_for_log(sw: &Switch, needle: &str, times: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if sw.log().matches(needle).count() >= times {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Hears the notice, then some of the menu, and hangs up.
fn call_to_the_menu(sw: &Switch, caller: &mut RawCaller) {
    let (mut seq, mut ts) = (1u16, 0u32);
    let heard = caller.listen(&mut seq, &mut ts, 1200, Duration::from_secs(20));
    assert!(heard >= 150, "the notice: {heard}");
    caller.listen(&mut seq, &mut ts, 60_000, Duration::from_secs(2));
    assert_eq!(caller.bye(), 200);
    let _ = sw;
}

/// Hot reload: a flow edited and reloaded (`switchboard reload`) while a
/// call is in it does not change that call; new calls take the new
/// version; a broken edit is refused (by the command, and by the switch on
/// SIGHUP) and the last good version keeps serving.
#[test]
fn a_flow_reloaded_during_a_call_leaves_that_call_alone() {
    let sw = Switch::start(SwitchOpts::new());
    let file = sw.config_dir().join("ivr-flows/demo.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut first = RawCaller::new(sw.carrier_addr(), "100");
    let (status, ok) = first.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    first.listen(&mut seq, &mut ts, 60_000, Duration::from_secs(2));
    // The menu node is renamed while the first caller hears the notice.
    let renamed = text
        .replace("[nodes.menu]", "[nodes.main_menu]")
        .replace("open = \"menu\"", "open = \"main_menu\"");
    assert_ne!(renamed, text);
    std::fs::write(&file, &renamed).unwrap();
    let out = reload(&sw);
    assert!(out.status.success(), "{out:?}");
    assert!(wait_for_log(&sw, "flows reloaded", 1), "{}", sw.log());
    let heard = first.listen(&mut seq, &mut ts, 1200, Duration::from_secs(20));
    assert!(heard >= 50, "the rest of the notice: {heard}");
    first.listen(&mut seq, &mut ts, 60_000, Duration::from_secs(2));
    assert_eq!(first.bye(), 200);

    let mut second = RawCaller::new(sw.carrier_addr(), "100");
    second.call_id.push_str("-2");
    let (status, ok) = second.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    call_to_the_menu(&sw, &mut second);

    // A broken edit: the command refuses it; SIGHUP leaves the old version.
    std::fs::write(
        &file,
        renamed.replace("type = \"lookup\"", "type = \"lookup"),
    )
    .unwrap();
    let out = reload(&sw);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ivr-flows/demo.toml:"),
        "{out:?}"
    );
    let pid = std::fs::read_to_string(sw.config_dir().join("switchboard.pid")).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", pid.trim()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert!(wait_for_log(&sw, "flows not reloaded", 1), "{}", sw.log());
    let mut third = RawCaller::new(sw.carrier_addr(), "100");
    third.call_id.push_str("-3");
    let (status, ok) = third.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    call_to_the_menu(&sw, &mut third);

    // `switchboard calls` checks the configuration too: the good file back.
    std::fs::write(&file, &renamed).unwrap();
    let calls = sw.wait_calls_ended(3, Duration::from_secs(10));
    let by_id = |suffix: &str| {
        calls
            .iter()
            .find(|c| c["call_id"].as_str().is_some_and(|id| id.ends_with(suffix)))
            .unwrap_or_else(|| panic!("call {suffix} in {calls:#?}"))
    };
    let menu_of = |c: &serde_json::Value| {
        journey(c, "node")
            .into_iter()
            .find(|n| n.ends_with("(menu)"))
            .unwrap_or_default()
    };
    assert_eq!(
        menu_of(by_id("-100")),
        "demo.menu (menu)",
        "the first call kept its version"
    );
    assert_eq!(
        menu_of(by_id("-2")),
        "demo.main_menu (menu)",
        "new calls use the new one"
    );
    assert_eq!(
        menu_of(by_id("-3")),
        "demo.main_menu (menu)",
        "the last good one serves"
    );
}

/// An admin forces the demo's always-open calendar closed (an emergency
/// closure) with `switchboard calendar`: the running switch applies it at
/// once and a call to 100 gets the night branch; an unknown calendar or
/// state is refused; `auto` gives the calendar its hours back.
#[test]
fn an_admin_closes_a_calendar_in_an_emergency() {
    let sw = Switch::start(SwitchOpts::new());
    let out = sw.command(&["calendar", "always-open", "closed"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("forced closed") && text.contains("applies it now"),
        "{text}"
    );
    assert!(
        wait_for_log(&sw, "calendar forced by an admin", 1),
        "{}",
        sw.log()
    );

    let mut caller = RawCaller::new(sw.carrier_addr(), "100");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let (mut seq, mut ts) = (1u16, 0u32);
    let heard = caller.listen(&mut seq, &mut ts, 2500, Duration::from_secs(40));
    assert!(heard >= 150, "the prompts were heard: {heard}");
    assert_eq!(caller.bye(), 200);
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert!(
        journey(c, "branch")
            .iter()
            .any(|b| b == "calendar always-open closed -> night"),
        "{c:#}"
    );

    let out = sw.command(&["calendar", "nope", "closed"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no calendar `nope`"),
        "{out:?}"
    );
    let out = sw.command(&["calendar", "always-open", "ajar"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = sw.command(&["calendar", "always-open", "auto"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("back to its hours"),
        "{out:?}"
    );
}

/// The flows' text prompts are spoken into the TTS cache at start and
/// after a reload, before any call reaches them.
#[test]
fn text_prompts_are_spoken_ahead_of_calls_at_start_and_reload() {
    use switchboard::media::tts::{Tts, Voice};
    let sw = Switch::start(SwitchOpts::new());
    let tts = Tts::new(sw.config_dir().join("prompts/tts"));
    let invalid = "Sorry, that is not an option.";
    assert!(
        wait_for_log(&sw, "spoken ahead of calls", 1),
        "no line about prompts spoken ahead in the log:\n{}",
        sw.log()
    );
    assert!(
        tts.cached_path(Voice::English, invalid).is_file(),
        "the menu's invalid prompt is not in the cache"
    );
    assert!(
        tts.cached_path(Voice::Mandarin, "对不起，没有这个选项。")
            .is_file(),
        "the Mandarin invalid prompt is not in the cache"
    );
    assert!(sw.calls().is_empty(), "no call was made");

    // A new text, reloaded: spoken without a call.
    let changed = "Sorry, that key does nothing here.";
    let flow = sw.config_dir().join("ivr-flows/demo.toml");
    let text = std::fs::read_to_string(&flow).unwrap();
    assert!(
        text.contains(invalid),
        "the demo flow's invalid prompt changed"
    );
    std::fs::write(&flow, text.replace(invalid, changed)).unwrap();
    assert!(reload(&sw).status.success());
    assert!(
        wait_for_log(&sw, "spoken ahead of calls", 2),
        "no second line about prompts spoken ahead:\n{}",
        sw.log()
    );
    assert!(
        tts.cached_path(Voice::English, changed).is_file(),
        "the reloaded flow's new prompt is not in the cache"
    );
}
