//! Issue 4 (IVR flows): the paths through the demo flow
//! (`ivr-flows/demo.toml`) that real callers take, and what bad input and
//! early hang-ups leave behind.
//!
//! - SIPp callers keying SIPp's own RFC 4733 digits
//!   (`/usr/share/sip-tester/dtmf_2833_N.pcap`) reach each menu choice's
//!   queue, then voicemail when no agent is registered, or a registered
//!   SIPp agent who is bridged (and recorded only after the notice); no
//!   key then wrong keys replay the prompts and exhaust the menu.
//! - A baresip caller keys its choice through its `ctrl_tcp` interface.
//! - Keys during the notice do not cut it; keys barge into prompts that
//!   allow it; a flood of keys and malformed events does not upset the
//!   switch.
//! - A caller hanging up in each node leaves an ended call row, no open
//!   media socket, no late timer, and no agent phone ringing.
//!
//! Prompt lengths come from the switch's own TTS cache (`prompts/tts`,
//! espeak-ng's WAV of each text, named by `media::tts`), so the checks
//! follow the demo's texts.

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use switchboard::media::tts::{Tts, Voice};

/// Debian's SIPp's RFC 4733 digit `digit` (0-9).
fn key_pcap(digit: u8) -> String {
    format!("/usr/share/sip-tester/dtmf_2833_{digit}.pcap")
}

/// A SIPp caller (`uac_ivr_key.xml`) to `number` on the trunk: `pre_ms`
/// after the answer it keys `digit`, `hold_ms` later it hangs up.
fn sipp_key_call(sw: &Switch, number: &str, pre_ms: u32, digit: u8, hold_ms: u32) -> SippResult {
    let (pre, hold, pcap) = (pre_ms.to_string(), hold_ms.to_string(), key_pcap(digit));
    SippClient::new(&sw.carrier(), "uac_ivr_key.xml", "60s")
        .media()
        .service(number)
        .args(&[
            "-key", "pre_ms", &pre, "-key", "hold_ms", &hold, "-key", "key_pcap", &pcap,
        ])
        .run(Duration::from_secs(70))
}

// ---------------------------------------------------------------------
// The demo's prompts
// ---------------------------------------------------------------------

/// The English text of `prompt` (`prompt`, `timeout_prompt`...) of the
/// demo flow's node `node`, as the switch under test has it.
fn demo_text(sw: &Switch, node: &str, prompt: &str) -> String {
    let path = sw.config_dir().join("ivr-flows/demo.toml");
    let flow: toml::Value = std::fs::read_to_string(&path)
        .unwrap()
        .parse()
        .expect("the demo flow is TOML");
    flow.get("nodes")
        .and_then(|n| n.get(node))
        .and_then(|n| n.get(prompt))
        .and_then(|p| p.get("en"))
        .and_then(|p| p.get("say"))
        .and_then(|s| s.as_str())
        .unwrap_or_else(|| panic!("no English text for {node}.{prompt} in {}", path.display()))
        .to_string()
}

/// The WAV the switch spoke `text` into, if it did: prompts are spoken
/// (and cached) when a call plays them.
fn spoken(sw: &Switch, text: &str) -> Option<PathBuf> {
    let path = Tts::new(sw.config_dir().join("prompts/tts")).cached_path(Voice::English, text);
    path.is_file().then_some(path)
}

/// The length of a WAV file, in milliseconds.
fn wav_ms(path: &Path) -> i64 {
    let r = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("{} does not open as WAV: {e}", path.display()));
    i64::from(r.duration()) * 1000 / i64::from(r.spec().sample_rate)
}

/// How long the demo's `node`.`prompt` plays, from the WAV the switch
/// spoke it into for a call.
fn prompt_ms(sw: &Switch, node: &str, prompt: &str) -> i64 {
    let text = demo_text(sw, node, prompt);
    let path = spoken(sw, &text)
        .unwrap_or_else(|| panic!("{node}.{prompt} was never spoken (played): {text:?}"));
    let ms = wav_ms(&path);
    assert!(ms > 500, "{node}.{prompt} is {ms} ms long");
    ms
}

// ---------------------------------------------------------------------
// Call rows and journeys
// ---------------------------------------------------------------------

fn has_node(call: &Value, detail: &str) -> bool {
    journey(call, "node").iter().any(|n| n == detail)
}

/// When the call's first journal entry `kind` / `detail` was written.
fn event_at(call: &Value, kind: &str, detail: &str) -> i64 {
    call["events"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .find(|e| e["kind"] == kind && e["detail"] == detail)
        })
        .and_then(|e| e["at"].as_i64())
        .unwrap_or_else(|| panic!("no {kind} entry {detail:?} in {call:#}"))
}

/// `wanted` are among the call's node entries, in this order.
fn assert_nodes_in_order(call: &Value, wanted: &[&str]) {
    let nodes = journey(call, "node");
    let mut from = 0;
    for w in wanted {
        match nodes[from..].iter().position(|n| n == w) {
            Some(i) => from += i + 1,
            None => panic!("{w:?} (in the order {wanted:?}) in {nodes:#?}\n{call:#}"),
        }
    }
}

fn ms(call: &Value, field: &str) -> i64 {
    call[field]
        .as_i64()
        .unwrap_or_else(|| panic!("no {field} in {call:#}"))
}

fn find_call<'a>(calls: &'a [Value], call_id: &str) -> &'a Value {
    calls
        .iter()
        .find(|c| c["call_id"] == call_id)
        .unwrap_or_else(|| panic!("no call {call_id} in {calls:#?}"))
}

/// The call `call_id`'s row as `switchboard calls --json` prints it
/// (`null` while it has none).
fn call_row(sw: &Switch, call_id: &str) -> Value {
    sw.calls()
        .into_iter()
        .find(|c| c["call_id"] == call_id)
        .unwrap_or(Value::Null)
}

/// The caller listens (sending silence) in slices of 600 ms until its
/// call's row satisfies `done`, at most `limit`; the loud frames heard
/// meanwhile and the row's last state.
fn listen_until(
    sw: &Switch,
    caller: &RawCaller,
    rtp: &mut (u16, u32),
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> (usize, Value) {
    let deadline = Instant::now() + limit;
    let mut heard = 0;
    loop {
        let call = call_row(sw, &caller.call_id);
        if done(&call) || Instant::now() >= deadline {
            return (heard, call);
        }
        heard += caller.listen(&mut rtp.0, &mut rtp.1, 60_000, Duration::from_millis(600));
    }
}

/// Listens until the call has entered `node`; its row then.
fn reach(sw: &Switch, caller: &RawCaller, rtp: &mut (u16, u32), node: &str) -> Value {
    let (_, call) = listen_until(sw, caller, rtp, Duration::from_secs(40), |c| {
        has_node(c, node)
    });
    assert!(
        has_node(&call, node),
        "the call never reached {node}: {call:#}"
    );
    call
}

/// Listens for `d` (sending silence); the loud frames heard.
fn hear(caller: &RawCaller, rtp: &mut (u16, u32), d: Duration) -> usize {
    caller.listen(&mut rtp.0, &mut rtp.1, 60_000, d)
}

/// Keys `event` (RFC 4733 code: 0-9, 10 `*`, 11 `#`).
fn key(caller: &RawCaller, rtp: &mut (u16, u32), event: u8) {
    caller.send_digit(event, &mut rtp.0, rtp.1);
    // The next audio (and key) comes later on the stream's clock.
    rtp.1 = rtp.1.wrapping_add(960);
}

/// A caller of the trunk number `number`, answered.
fn answered_caller(sw: &Switch, number: &str) -> RawCaller {
    let mut caller = RawCaller::new(sw.carrier_addr(), number);
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    caller
}

// ---------------------------------------------------------------------
// The switch's sockets
// ---------------------------------------------------------------------

fn switch_pid(sw: &Switch) -> u32 {
    let path = sw.config_dir().join("switchboard.pid");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .expect("a pid")
}

/// How many UDP sockets process `pid` holds: its descriptors that are
/// sockets of the UDP tables (`/proc/PID/net/udp`, `udp6`).
fn udp_sockets(pid: u32) -> usize {
    let mut udp = HashSet::new();
    for table in ["udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            if let Some(inode) = line.split_whitespace().nth(9) {
                udp.insert(inode.to_string());
            }
        }
    }
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the switch's descriptors")
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|link| {
            link.to_string_lossy()
                .strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .map(str::to_string)
        })
        .filter(|inode| udp.contains(inode))
        .count()
}

/// Waits (at most `timeout`) until the switch holds `want` UDP sockets;
/// how many it holds then.
fn wait_udp_sockets(pid: u32, want: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let n = udp_sockets(pid);
        if n == want || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------
// SIPp callers through the menu
// ---------------------------------------------------------------------

/// Four SIPp callers at once key 1, 2, 3 and 0 (SIPp's RFC 4733 pcaps)
/// while the menu plays; each heard the notice whole (the disclosure came
/// its spoken length after the answer). No agent is registered: each call's journey shows
/// its key, its queue node and queue (with the node's priority), nobody
/// answering, then the voicemail node, whose message is being recorded when
/// the caller hangs up (its row complete, mono).
#[test]
fn sipp_callers_key_each_menu_choice_into_its_queue_then_voicemail() {
    let sw = Switch::start(SwitchOpts::new());
    let choices = [
        (1u8, "orders", 0),
        (2, "after_sales", 0),
        (3, "complaints", 10),
        (0, "any_agent", 0),
    ];
    // The notice lasts about 7 s and the menu 11 s: 11 s after the answer
    // the menu plays; 9 s later the voicemail records (its prompt is 5 s).
    let results: Vec<SippResult> = std::thread::scope(|s| {
        let sw = &sw;
        let calls: Vec<_> = choices
            .iter()
            .map(|&(digit, ..)| s.spawn(move || sipp_key_call(sw, "100", 11_000, digit, 9_000)))
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    for (r, (digit, ..)) in results.iter().zip(&choices) {
        assert!(r.ok(), "the caller keying {digit}:\n{}", r.describe());
    }

    let calls = sw.wait_calls_ended(4, Duration::from_secs(15));
    assert_eq!(calls.len(), 4, "{calls:#?}");
    let notice_ms = prompt_ms(&sw, "notice", "prompt");
    for (digit, queue, priority) in choices {
        let keyed = format!("{digit} from caller (RFC 4733)");
        let c = calls
            .iter()
            .find(|c| journey(c, "dtmf").contains(&keyed))
            .unwrap_or_else(|| panic!("no call keyed {digit}: {calls:#?}"));
        assert_eq!(journey(c, "dtmf"), [keyed.as_str()], "{c:#}");
        assert_eq!(journey(c, "disclosure"), ["played"], "{c:#}");
        // Every caller heard the whole notice, spoken for all at once.
        let took = ms(c, "disclosure_at") - event_at(c, "node", "demo.notice (disclosure)");
        assert!(
            took >= notice_ms - 300,
            "the notice took {took} ms of {notice_ms}"
        );
        assert_nodes_in_order(
            c,
            &[
                "demo.notice (disclosure)",
                "demo.identify (lookup)",
                "demo.menu (menu)",
                &format!("key {digit} -> {queue}"),
                &format!("demo.{queue} (queue)"),
                "nobody answered",
                "demo.voicemail (voicemail)",
            ],
        );
        assert_eq!(
            journey(c, "queue"),
            [
                format!("{queue} (priority {priority})"),
                format!("nobody is logged in to queue `{queue}`")
            ],
            "{c:#}"
        );
        assert_eq!(c["hangup_by"], "caller", "{c:#}");
        assert_eq!(c["cause"], "BYE", "{c:#}");
        let recordings = c["recordings"].as_array().unwrap();
        assert_eq!(recordings.len(), 1, "the message only: {c:#}");
        let message = &recordings[0];
        assert!(
            message["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("-voicemail.wav")),
            "{c:#}"
        );
        assert_eq!(message["state"], "complete", "{c:#}");
        assert_eq!(message["channels"], 1, "{c:#}");
    }
}

/// A SIPp caller keys 3 (complaints) and agent 1003 (the complaints
/// expert, logged in with `*21`), a registered SIPp echo phone, answers: the caller is bridged to it (the CDR's agent, its
/// leg's codec, no voicemail). The call is recorded, and only from after
/// the notice: the notice took (node entered to `disclosure_at`) at least
/// its spoken length, the agent answered after it, and the recording (its
/// file and its row) lasts no longer than the call after the notice; a
/// recording from the answer would be longer by the notice's 7 s.
#[test]
fn a_registered_sipp_agent_is_bridged_and_the_recording_starts_after_the_notice() {
    let sw = Switch::start(SwitchOpts::new());
    let uas = SippServer::start(
        &scenario("uas_echo.xml"),
        &["-rtp_echo", "-key", "agent_pts", "0 8"],
    );
    let r = sipp_register(&sw, "1003", "pw1003", uas.port, 600, "u1");
    assert!(r.ok(), "registering the echo UAS failed:\n{}", r.describe());
    log_in(&sw, "1003");
    let r = sipp_key_call(&sw, "100", 11_000, 3, 6_000);
    assert!(r.ok(), "the caller keying 3:\n{}", r.describe());

    let calls = sw.wait_calls_ended(2, Duration::from_secs(15));
    let c = calls
        .iter()
        .find(|c| c["agent"] != "app:feature:*21")
        .unwrap();
    assert_eq!(c["agent"], "1003", "{c:#}");
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
    assert_eq!(c["legs"]["agent"]["codec"], "PCMU/8000", "{c:#}");
    assert_nodes_in_order(
        c,
        &[
            "demo.notice (disclosure)",
            "demo.menu (menu)",
            "key 3 -> complaints",
            "demo.complaints (queue)",
        ],
    );
    assert_eq!(
        journey(c, "queue"),
        [
            "complaints (priority 10)",
            "complaints: joined, offered at once",
            "offered to 1003",
            "answered by 1003"
        ],
        "{c:#}"
    );
    assert!(!has_node(c, "nobody answered"), "{c:#}");
    assert!(!has_node(c, "demo.voicemail (voicemail)"), "{c:#}");
    assert!(
        received_messages(&uas.messages())
            .iter()
            .any(|m| m.starts_with("INVITE sip:1003@")),
        "the agent's phone was rung"
    );

    // The notice, then the recording.
    let notice_ms = prompt_ms(&sw, "notice", "prompt");
    let notice_at = event_at(c, "node", "demo.notice (disclosure)");
    let disclosure_at = ms(c, "disclosure_at");
    let (bridged_at, ended_at) = (ms(c, "answered_at"), ms(c, "ended_at"));
    assert_eq!(journey(c, "disclosure"), ["played"], "{c:#}");
    assert_eq!(c["recording_opt_out"], false, "{c:#}");
    let took = disclosure_at - notice_at;
    assert!(
        (notice_ms - 300..=notice_ms + 5000).contains(&took),
        "the notice ({notice_ms} ms spoken) took {took} ms: {c:#}"
    );
    assert!(
        bridged_at >= disclosure_at,
        "the agent answered at {bridged_at}, the notice ended at {disclosure_at}"
    );
    let recordings = c["recordings"].as_array().unwrap();
    assert_eq!(recordings.len(), 1, "{c:#}");
    let rec = &recordings[0];
    assert_eq!(rec["channels"], 2, "caller and agent: {c:#}");
    assert_eq!(rec["state"], "complete", "{c:#}");
    assert_eq!(rec["consent"], true, "{c:#}");
    let row_ms = ms(rec, "duration_ms");
    let file_ms = wav_ms(Path::new(rec["path"].as_str().unwrap()));
    assert!(
        (row_ms - file_ms).abs() <= 250,
        "row {row_ms} ms, file {file_ms} ms"
    );
    let after_notice = ended_at - disclosure_at;
    assert!(
        file_ms <= after_notice + 300,
        "the recording ({file_ms} ms) is longer than the call after the notice \
         ({after_notice} ms; the whole call: {} ms)",
        ended_at - notice_at
    );
    assert!(
        file_ms >= 2000,
        "the bridged part is recorded: {file_ms} ms"
    );
}

/// A SIPp caller keys 5 during the notice (no barge-in: ignored, the
/// notice plays to its end), then nothing while the menu plays and its 5 s
/// timeout runs out, then 7 and 8 (no choices) while the menu is replayed:
/// the journey shows `no key`, both misses, the retries exhausted and the
/// `any_agent` queue, then voicemail (nobody registered). The timeout and
/// invalid prompts were spoken for the call (the switch speaks a prompt
/// when it plays it), and the timeout came a full menu prompt plus 5 s
/// after the menu began.
#[test]
fn sipp_caller_keying_nothing_then_wrong_keys_hears_the_menu_again_and_reaches_any_agent() {
    let sw = Switch::start(SwitchOpts::new());
    let r = SippClient::new(&sw.carrier(), "uac_ivr_retries.xml", "60s")
        .media()
        .service("100")
        .args(&[
            "-key",
            "early_pcap",
            &key_pcap(5),
            "-key",
            "miss1_pcap",
            &key_pcap(7),
            "-key",
            "miss2_pcap",
            &key_pcap(8),
        ])
        .run(Duration::from_secs(70));
    assert!(r.ok(), "{}", r.describe());

    let c = &sw.wait_calls_ended(1, Duration::from_secs(15))[0];
    assert_eq!(
        journey(c, "dtmf"),
        [
            "5 from caller (RFC 4733)",
            "7 from caller (RFC 4733)",
            "8 from caller (RFC 4733)"
        ],
        "{c:#}"
    );
    assert_nodes_in_order(
        c,
        &[
            "demo.notice (disclosure)",
            "demo.menu (menu)",
            "no key",
            "key 7: not a choice",
            "key 8: not a choice",
            "retries exhausted -> any_agent",
            "demo.any_agent (queue)",
            "nobody answered",
            "demo.voicemail (voicemail)",
        ],
    );
    assert_eq!(
        journey(c, "queue"),
        [
            "any_agent (priority 0)",
            "nobody is logged in to queue `any_agent`"
        ],
        "{c:#}"
    );

    // The 5 came during the notice and did not cut it short.
    let notice_ms = prompt_ms(&sw, "notice", "prompt");
    let disclosure_at = ms(c, "disclosure_at");
    assert!(event_at(c, "dtmf", "5 from caller (RFC 4733)") < disclosure_at);
    assert_eq!(journey(c, "disclosure"), ["played"], "{c:#}");
    let took = disclosure_at - event_at(c, "node", "demo.notice (disclosure)");
    assert!(
        took >= notice_ms - 300,
        "the notice took {took} ms of {notice_ms}"
    );
    // The menu played whole, then its 5 s ran out.
    let menu_ms = prompt_ms(&sw, "menu", "prompt");
    let waited = event_at(c, "node", "no key") - event_at(c, "node", "demo.menu (menu)");
    assert!(
        waited >= menu_ms + 5000 - 300,
        "no key {waited} ms after the menu began ({menu_ms} ms prompt + 5 s)"
    );
    for prompt in ["timeout_prompt", "invalid_prompt"] {
        let text = demo_text(&sw, "menu", prompt);
        assert!(
            spoken(&sw, &text).is_some(),
            "{prompt} never played: {text:?}"
        );
    }
    let recordings = c["recordings"].as_array().unwrap();
    assert_eq!(recordings.len(), 1, "the message: {c:#}");
    assert_eq!(recordings[0]["state"], "complete", "{c:#}");
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
}

// ---------------------------------------------------------------------
// A baresip caller
// ---------------------------------------------------------------------

/// baresip (no registration) dials the trunk number 100 through its
/// `ctrl_tcp` interface, and once the menu plays sends 2 with `sndcode`:
/// the switch takes it as an RFC 4733 key and the call reaches the
/// after-sales queue (then voicemail); baresip hangs up.
#[test]
fn a_baresip_caller_keys_its_choice_through_ctrl_tcp() {
    let sw = Switch::start(SwitchOpts::new());
    let phone = Baresip::start_caller("alice", 60);
    assert!(
        phone.wait_for_any(&["baresip is ready"], Duration::from_secs(15)),
        "baresip did not start:\n{}",
        phone.output()
    );
    phone.command_with("dial", &format!("sip:100@127.0.0.1:{}", sw.carrier_port));
    assert!(
        phone.wait_for_any(&["Call established"], Duration::from_secs(15)),
        "baresip's call to 100 was not answered:\n{}",
        phone.output()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let call_id = loop {
        if let Some(c) = sw.calls().first() {
            break c["call_id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no call row");
        std::thread::sleep(Duration::from_millis(200));
    };
    let wait_for = |node: &str| {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let c = call_row(&sw, &call_id);
            if has_node(&c, node) {
                return c;
            }
            assert!(Instant::now() < deadline, "never reached {node}: {c:#}");
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    wait_for("demo.menu (menu)");
    // One second into the menu.
    std::thread::sleep(Duration::from_secs(1));
    let reply = phone.command_with("sndcode", "2");
    assert!(reply.contains(r#""ok":true"#), "sndcode: {reply}");
    wait_for("demo.after_sales (queue)");
    let reply = phone.command("hangup");
    assert!(reply.contains(r#""ok":true"#), "hangup: {reply}");

    let c = &sw.wait_calls_ended(1, Duration::from_secs(15))[0];
    assert_eq!(journey(c, "dtmf"), ["2 from caller (RFC 4733)"], "{c:#}");
    assert_nodes_in_order(
        c,
        &[
            "demo.notice (disclosure)",
            "demo.menu (menu)",
            "key 2 -> after_sales",
            "demo.after_sales (queue)",
        ],
    );
    assert_eq!(journey(c, "disclosure"), ["played"], "{c:#}");
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
    assert_eq!(c["caller"], "alice", "{c:#}");
    assert!(
        c["legs"]["caller"]["packets_received"]
            .as_i64()
            .is_some_and(|n| n > 100),
        "baresip's audio reached the switch: {c:#}"
    );
}

// ---------------------------------------------------------------------
// Keys while prompts play
// ---------------------------------------------------------------------

/// Keys 1, 3, # and 0 during the notice (none is its opt-out key 9) do not
/// cut it: the disclosure comes after the notice's whole length, the keys
/// are journaled before it, no key reaches a node, and the recording is
/// not declined. In the menu, 9 is no opt-out but a wrong key (the prompts
/// again), and 2 barges in: taken at once, mid-prompt, to the after-sales
/// queue.
#[test]
fn keys_during_the_notice_do_not_cut_it_and_menu_keys_barge_in() {
    let sw = Switch::start(SwitchOpts::new());
    let mut caller = answered_caller(&sw, "100");
    let mut rtp = (1u16, 0u32);
    for event in [1u8, 3, 11, 0] {
        hear(&caller, &mut rtp, Duration::from_millis(800));
        key(&caller, &mut rtp, event);
    }
    reach(&sw, &caller, &mut rtp, "demo.menu (menu)");
    let menu_heard = hear(&caller, &mut rtp, Duration::from_secs(2));
    assert!(menu_heard >= 25, "the menu plays: {menu_heard} loud frames");
    key(&caller, &mut rtp, 9);
    hear(&caller, &mut rtp, Duration::from_millis(1500));
    key(&caller, &mut rtp, 2);
    reach(&sw, &caller, &mut rtp, "demo.voicemail (voicemail)");
    assert_eq!(caller.bye(), 200);

    let c = &sw.wait_calls_ended(1, Duration::from_secs(15))[0];
    let keys: Vec<String> = ["1", "3", "#", "0", "9", "2"]
        .iter()
        .map(|k| format!("{k} from caller (RFC 4733)"))
        .collect();
    assert_eq!(journey(c, "dtmf"), keys, "{c:#}");
    let disclosure_at = ms(c, "disclosure_at");
    for k in &keys[..4] {
        assert!(
            event_at(c, "dtmf", k) < disclosure_at,
            "{k} during the notice"
        );
    }
    assert_eq!(journey(c, "disclosure"), ["played"], "{c:#}");
    assert_eq!(c["recording_opt_out"], false, "{c:#}");
    let notice_ms = prompt_ms(&sw, "notice", "prompt");
    let took = disclosure_at - event_at(c, "node", "demo.notice (disclosure)");
    assert!(
        took >= notice_ms - 300,
        "the notice took {took} ms of {notice_ms}"
    );
    let nodes = journey(c, "node");
    assert_eq!(
        nodes[..4],
        [
            "demo.notice (disclosure)",
            "demo.identify (lookup)",
            "demo.hours (branch)",
            "demo.menu (menu)"
        ],
        "no key acted before the menu: {nodes:#?}"
    );
    assert_nodes_in_order(
        c,
        &[
            "demo.menu (menu)",
            "key 9: not a choice",
            "key 2 -> after_sales",
            "demo.after_sales (queue)",
            "demo.voicemail (voicemail)",
        ],
    );
    // Each menu key acted when it came, while the prompts still played.
    let replay_ms = prompt_ms(&sw, "menu", "invalid_prompt") + prompt_ms(&sw, "menu", "prompt");
    let nine = event_at(c, "node", "key 9: not a choice");
    let two = event_at(c, "node", "key 2 -> after_sales");
    assert!(nine - event_at(c, "dtmf", &keys[4]) <= 500);
    assert!(two - event_at(c, "dtmf", &keys[5]) <= 500);
    assert!(
        two - nine < replay_ms - 3000,
        "2 was taken {} ms into the replayed prompts ({replay_ms} ms)",
        two - nine
    );
}

/// At night (199) the callback prompt allows barge-in: 2 (another number)
/// stops it at once, and the caller hears silence while keying the
/// number; the number and # take the callback, goodbye plays and the
/// switch hangs up.
#[test]
fn keying_another_number_at_night_stops_the_prompt_and_takes_the_callback() {
    let sw = Switch::start(SwitchOpts::new());
    let caller = answered_caller(&sw, "199");
    let mut rtp = (1u16, 0u32);
    reach(&sw, &caller, &mut rtp, "demo.night (callback)");
    let before = hear(&caller, &mut rtp, Duration::from_millis(2000));
    assert!(before >= 25, "the night prompt plays: {before} loud frames");
    key(&caller, &mut rtp, 2);
    hear(&caller, &mut rtp, Duration::from_millis(300));
    let after = hear(&caller, &mut rtp, Duration::from_millis(2000));
    assert!(
        after <= 3,
        "the prompt went on after the key: {after} loud frames"
    );
    for d in "15551234567".bytes() {
        key(&caller, &mut rtp, d - b'0');
        hear(&caller, &mut rtp, Duration::from_millis(100));
    }
    key(&caller, &mut rtp, 11);
    assert!(
        caller.await_bye(Duration::from_secs(15)),
        "goodbye, then the switch hangs up"
    );

    let c = &sw.wait_calls_ended(1, Duration::from_secs(15))[0];
    assert_eq!(
        journey(c, "callback"),
        ["on a number keyed by the caller"],
        "{c:#}"
    );
    assert_nodes_in_order(
        c,
        &[
            "demo.night (callback)",
            "demo.goodbye (play)",
            "demo.end (hangup)",
        ],
    );
    assert_eq!(c["hangup_by"], "switch", "{c:#}");
    assert_eq!(c["cause"], "the flow ended the call", "{c:#}");
}

// ---------------------------------------------------------------------
// Floods and malformed events
// ---------------------------------------------------------------------

/// Telephone events that are no key and datagrams that are no event, on
/// the caller's RTP socket; returns how many were sent.
fn send_garbage(caller: &RawCaller, rtp: &mut (u16, u32)) -> usize {
    let leg = caller.leg.expect("answered");
    let mut sent = 0usize;
    let mut send = |bytes: &[u8]| {
        caller.rtp.send_to(bytes, leg).unwrap();
        sent += 1;
        if sent % 16 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let (seq, ts) = rtp;
    let mut packet = |pt: u8, marker: bool, ts: u32, payload: &[u8]| {
        let p = rtp_packet(pt, *seq, ts, marker, payload);
        *seq = seq.wrapping_add(1);
        p
    };
    // Event codes past the 16 DTMF keys: start, update, end (twice).
    for event in 16u8..=255 {
        *ts = ts.wrapping_add(320);
        for (n, flags) in [0x0au8, 0x0a, 0x8a, 0x8a].into_iter().enumerate() {
            let duration = 160 * (n as u16 + 1);
            let mut payload = vec![event, flags];
            payload.extend_from_slice(&duration.to_be_bytes());
            send(&packet(101, n == 0, *ts, &payload));
        }
    }
    // Telephone-event payloads too short to be one (they start like a 1).
    for len in 0..4 {
        for _ in 0..10 {
            *ts = ts.wrapping_add(320);
            send(&packet(101, true, *ts, &[1, 0x8a, 0x01][..len.min(3)]));
        }
    }
    // A key's event in payload types the call never agreed on.
    for pt in [96u8, 100, 102, 126, 127] {
        *ts = ts.wrapping_add(320);
        for _ in 0..3 {
            send(&packet(pt, true, *ts, &[2, 0x8a, 0x01, 0x40]));
        }
    }
    // Datagrams that are no RTP packet: too short for a header, versions
    // 0, 1 and 3, fifteen CSRCs that are not there, an extension longer
    // than the packet, more padding than payload.
    let event_3 = [3u8, 0x8a, 0x01, 0x40];
    for n in 0..12 {
        send(&[0x80, 101, 0, 1, 0, 0, 0, 0, 0, 0, 0][..n]);
    }
    for first in [0x00u8, 0x40, 0xc0, 0x8f, 0x90, 0xa0] {
        let mut p = vec![first, 101, 0, 9, 0, 0, 1, 0, 0x12, 0x34, 0x56, 0x78];
        if first == 0x90 {
            p.extend_from_slice(&[0xbe, 0xde, 0xff, 0xff]);
        }
        p.extend_from_slice(&event_3);
        if first == 0xa0 {
            p.push(200);
        }
        for _ in 0..5 {
            send(&p);
        }
    }
    // A huge datagram of an event.
    let mut big = packet(101, true, ts.wrapping_add(320), &event_3);
    big.resize(9000, 0xaa);
    send(&big);
    sent
}

/// Keys the demo menu has no choice for (4 to 8, `*`, A to D; no `#`,
/// which would end a voicemail): `count` of them, each a start and two
/// ends, with a short payload every tenth, as fast as the socket takes
/// them. Returns the datagrams sent.
fn flood_keys(caller: &RawCaller, rtp: &mut (u16, u32), count: usize) -> usize {
    const NO_CHOICE: [u8; 10] = [4, 5, 6, 7, 8, 10, 12, 13, 14, 15];
    let leg = caller.leg.expect("answered");
    let mut sent = 0usize;
    for i in 0..count {
        rtp.1 = rtp.1.wrapping_add(320);
        let event = NO_CHOICE[i % NO_CHOICE.len()];
        for (n, flags) in [0x0au8, 0x8a, 0x8a].into_iter().enumerate() {
            let duration = 160u16 * (n as u16 + 1);
            let mut payload = vec![event, flags];
            payload.extend_from_slice(&duration.to_be_bytes());
            if i % 10 == 9 && n == 0 {
                payload.truncate(2);
            }
            let p = rtp_packet(101, rtp.0, rtp.1, n == 0, &payload);
            rtp.0 = rtp.0.wrapping_add(1);
            caller.rtp.send_to(&p, leg).unwrap();
            sent += 1;
            if sent % 32 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    sent
}

/// During the notice, events past the DTMF keys, short payloads, unknown
/// payload types and datagrams that are no RTP make no key (the notice
/// plays on, the recording is not declined); in the menu, 400 wrong keys
/// as fast as the socket takes them (with malformed ones among them):
/// the switch answers another caller meanwhile, the menu is exhausted
/// after exactly three misses, the flow goes on to voicemail and records
/// the message, only keys that were sent are journaled, and both calls
/// end cleanly on the callers' BYE.
#[test]
fn a_dtmf_flood_and_malformed_events_leave_the_switch_answering() {
    let mut sw = Switch::start(SwitchOpts::new());
    let mut caller = answered_caller(&sw, "100");
    let mut rtp = (1u16, 0u32);
    hear(&caller, &mut rtp, Duration::from_secs(1));
    let garbage = send_garbage(&caller, &mut rtp);
    assert!(garbage > 1000, "{garbage}");
    let c = reach(&sw, &caller, &mut rtp, "demo.menu (menu)");
    assert_eq!(journey(&c, "dtmf"), Vec::<String>::new(), "{c:#}");
    assert_eq!(journey(&c, "disclosure"), ["played"], "{c:#}");

    hear(&caller, &mut rtp, Duration::from_secs(1));
    let flood = flood_keys(&caller, &mut rtp, 400);
    assert_eq!(flood, 1200);
    let mut other = answered_caller(&sw, "100");
    let (_, c) = listen_until(&sw, &caller, &mut rtp, Duration::from_secs(30), |c| {
        c["recordings"].as_array().is_some_and(|r| !r.is_empty())
    });
    assert!(
        has_node(&c, "demo.voicemail (voicemail)"),
        "the flow went on to voicemail and records: {c:#}"
    );
    caller.talk(&mut rtp.0, &mut rtp.1, 25, 0x20);
    assert_eq!(caller.bye(), 200);
    assert_eq!(other.bye(), 200);
    sw.assert_running("after the flood");

    let calls = sw.wait_calls_ended(2, Duration::from_secs(15));
    let c = find_call(&calls, &caller.call_id);
    let misses = journey(c, "node")
        .iter()
        .filter(|n| n.ends_with(": not a choice"))
        .count();
    assert_eq!(misses, 3, "{c:#}");
    assert_nodes_in_order(
        c,
        &[
            "demo.menu (menu)",
            "retries exhausted -> any_agent",
            "demo.any_agent (queue)",
            "demo.voicemail (voicemail)",
        ],
    );
    let keys = journey(c, "dtmf");
    assert!(
        (3..=400).contains(&keys.len()),
        "{} keys journaled",
        keys.len()
    );
    for k in &keys {
        let digit = k.split(' ').next().unwrap_or("");
        assert!(
            ["4", "5", "6", "7", "8", "*", "A", "B", "C", "D"].contains(&digit),
            "a key that was never sent: {k}"
        );
        assert!(k.ends_with("(RFC 4733)"), "{k}");
    }
    assert_eq!(c["recording_opt_out"], false, "{c:#}");
    assert_eq!(c["recordings"][0]["state"], "complete", "{c:#}");
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
    let o = find_call(&calls, &other.call_id);
    assert_eq!(o["agent"], "app:flow:demo", "{o:#}");
    assert_eq!(o["hangup_by"], "caller", "{o:#}");
}

// ---------------------------------------------------------------------
// Hanging up anywhere
// ---------------------------------------------------------------------

/// Where a caller hangs up.
#[derive(Debug, Clone, Copy)]
enum Leave {
    /// 2 s into the notice.
    Notice,
    /// 1 s into the menu (the customer lookup is done by then: a local
    /// query the caller cannot catch).
    Menu,
    /// While the voicemail records the message (no agent registered).
    Voicemail,
    /// 1 s into the night callback prompt (199).
    Night,
    /// During goodbye, after 1 at night (199).
    Goodbye,
}

impl Leave {
    fn number(self) -> &'static str {
        match self {
            Leave::Night | Leave::Goodbye => "199",
            _ => "100",
        }
    }

    /// The last node the call entered.
    fn node(self) -> &'static str {
        match self {
            Leave::Notice => "demo.notice (disclosure)",
            Leave::Menu => "demo.menu (menu)",
            Leave::Voicemail => "demo.voicemail (voicemail)",
            Leave::Night => "demo.night (callback)",
            Leave::Goodbye => "demo.goodbye (play)",
        }
    }
}

/// A caller of `leave.number()` walks to where it leaves and hangs up
/// (BYE, answered 200); returns the caller, its RTP drained.
fn hang_up_in(sw: &Switch, pid: u32, baseline: usize, leave: Leave) -> RawCaller {
    let mut caller = answered_caller(sw, leave.number());
    let mut rtp = (1u16, 0u32);
    match leave {
        Leave::Notice => {
            hear(&caller, &mut rtp, Duration::from_secs(2));
        }
        Leave::Menu => {
            reach(sw, &caller, &mut rtp, "demo.menu (menu)");
            // The call's media sockets are the switch's.
            let open = udp_sockets(pid);
            assert!(open > baseline, "{open} UDP sockets, {baseline} at rest");
            hear(&caller, &mut rtp, Duration::from_secs(1));
        }
        Leave::Voicemail => {
            reach(sw, &caller, &mut rtp, "demo.menu (menu)");
            hear(&caller, &mut rtp, Duration::from_secs(1));
            key(&caller, &mut rtp, 1);
            let (_, c) = listen_until(sw, &caller, &mut rtp, Duration::from_secs(30), |c| {
                c["recordings"].as_array().is_some_and(|r| !r.is_empty())
            });
            assert!(has_node(&c, leave.node()), "{c:#}");
            caller.talk(&mut rtp.0, &mut rtp.1, 50, 0x20);
        }
        Leave::Night => {
            reach(sw, &caller, &mut rtp, "demo.night (callback)");
            hear(&caller, &mut rtp, Duration::from_secs(1));
        }
        Leave::Goodbye => {
            reach(sw, &caller, &mut rtp, "demo.night (callback)");
            hear(&caller, &mut rtp, Duration::from_millis(1500));
            // 1 stops the night prompt; goodbye (about 1 s) starts.
            key(&caller, &mut rtp, 1);
            hear(&caller, &mut rtp, Duration::from_millis(300));
        }
    }
    assert_eq!(caller.bye(), 200, "{leave:?}");
    // What the switch sent before it took the BYE.
    caller.receive(Duration::from_millis(300), Duration::from_secs(3));
    caller
}

/// A caller hangs up in each node of the demo flow: during the notice, the
/// menu (after the lookup), the voicemail's recording, the night callback
/// prompt and goodbye. Each call's row is ended by the caller's BYE with
/// the journey stopping in that node (a message being recorded completed,
/// goodbye's callback taken); the switch's UDP sockets go back to their
/// number before the calls (media ports released); and for 11 s after
/// (longer than the menu's 5 s and the callback's 10 s timers) no caller
/// gets a packet, SIP or RTP, and no row changes.
#[test]
fn a_caller_hanging_up_in_any_node_leaves_nothing_behind() {
    let sw = Switch::start(SwitchOpts::new());
    let pid = switch_pid(&sw);
    let baseline = udp_sockets(pid);
    assert!(baseline >= 2, "the SIP sockets: {baseline}");
    let leaves = [
        Leave::Notice,
        Leave::Menu,
        Leave::Voicemail,
        Leave::Night,
        Leave::Goodbye,
    ];
    let callers: Vec<RawCaller> = std::thread::scope(|s| {
        let sw = &sw;
        let runs: Vec<_> = leaves
            .iter()
            .map(|&leave| s.spawn(move || hang_up_in(sw, pid, baseline, leave)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });

    let calls = sw.wait_calls_ended(leaves.len(), Duration::from_secs(15));
    for (caller, leave) in callers.iter().zip(leaves) {
        let c = find_call(&calls, &caller.call_id);
        assert_eq!(c["hangup_by"], "caller", "{leave:?}: {c:#}");
        assert_eq!(c["cause"], "BYE", "{leave:?}: {c:#}");
        let ended_at = ms(c, "ended_at");
        for e in c["events"].as_array().unwrap() {
            assert!(
                e["at"].as_i64().is_some_and(|at| at <= ended_at),
                "{leave:?}: an entry after the end: {e}"
            );
        }
        let nodes = journey(c, "node");
        assert_eq!(
            nodes.iter().rev().find(|n| n.starts_with("demo.")),
            Some(&leave.node().to_string()),
            "{leave:?}: {c:#}"
        );
        match leave {
            Leave::Notice => {
                assert!(c["disclosure_at"].is_null(), "{c:#}");
                assert_eq!(journey(c, "disclosure"), Vec::<String>::new());
            }
            Leave::Menu => {
                assert_eq!(journey(c, "lookup"), ["not found"], "{c:#}");
                assert!(!has_node(c, "no key"), "{c:#}");
            }
            Leave::Voicemail => {
                let rec = &c["recordings"][0];
                assert_eq!(rec["state"], "complete", "{c:#}");
                assert!(ms(rec, "duration_ms") >= 500, "{c:#}");
            }
            Leave::Night => {
                assert_eq!(journey(c, "callback"), Vec::<String>::new(), "{c:#}");
            }
            Leave::Goodbye => {
                assert_eq!(journey(c, "callback"), ["on the caller's number"], "{c:#}");
                assert!(!has_node(c, "demo.end (hangup)"), "{c:#}");
            }
        }
    }
    let open = wait_udp_sockets(pid, baseline, Duration::from_secs(10));
    assert_eq!(open, baseline, "UDP sockets left open by ended calls");

    // Nothing comes to any caller, and no row changes, for 11 s.
    let deadline = Instant::now() + Duration::from_secs(11);
    while Instant::now() < deadline {
        for (caller, leave) in callers.iter().zip(leaves) {
            if let Some(msg) = caller.sip.recv(Duration::from_millis(50)) {
                panic!("{leave:?}: the switch sent after the call ended:\n{msg}");
            }
            let late = caller.receive(Duration::from_millis(10), Duration::from_millis(20));
            assert!(late.is_empty(), "{leave:?}: RTP after the end");
        }
    }
    let later = sw.calls();
    for (caller, leave) in callers.iter().zip(leaves) {
        let (before, after) = (
            find_call(&calls, &caller.call_id),
            find_call(&later, &caller.call_id),
        );
        assert_eq!(before["events"], after["events"], "{leave:?}");
        assert_eq!(before["ended_at"], after["ended_at"], "{leave:?}");
    }
    assert_eq!(udp_sockets(pid), baseline);
}

/// The caller keys 1 and agent 1001 (a registered SIPp phone that rings
/// and never answers) rings while the caller hears music on hold; the
/// caller hangs up: the agent's phone gets a CANCEL (answers 487, gets its
/// ACK), the row is ended by the caller with the journey stopped in the
/// queue node (no voicemail after the hang-up), and the switch's UDP
/// sockets (both legs' media) go back to their number before the call.
#[test]
fn a_caller_leaving_while_an_agent_rings_cancels_the_agent() {
    let sw = Switch::start(SwitchOpts::new());
    let pid = switch_pid(&sw);
    let baseline = udp_sockets(pid);
    let uas = SippServer::start(&scenario("uas_ring.xml"), &[]);
    let r = sipp_register(&sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(
        r.ok(),
        "registering the ringing UAS failed:\n{}",
        r.describe()
    );
    log_in(&sw, "1001");

    let mut caller = answered_caller(&sw, "100");
    let mut rtp = (1u16, 0u32);
    reach(&sw, &caller, &mut rtp, "demo.menu (menu)");
    hear(&caller, &mut rtp, Duration::from_secs(1));
    key(&caller, &mut rtp, 1);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !received_messages(&uas.messages())
        .iter()
        .any(|m| m.starts_with("INVITE sip:1001@"))
    {
        assert!(Instant::now() < deadline, "agent 1001 was never rung");
        hear(&caller, &mut rtp, Duration::from_millis(200));
    }
    let moh = hear(&caller, &mut rtp, Duration::from_secs(2));
    assert!(moh >= 25, "music on hold while the agent rings: {moh}");
    assert_eq!(caller.bye(), 200);

    let deadline = Instant::now() + Duration::from_secs(15);
    while !received_messages(&uas.messages())
        .iter()
        .any(|m| m.starts_with("ACK "))
    {
        assert!(
            Instant::now() < deadline,
            "the agent's phone was not cancelled:\n{}",
            uas.messages()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = uas.stop();
    let got = received_messages(&r.messages);
    assert!(
        got.iter().any(|m| m.starts_with("CANCEL sip:1001@")),
        "{}",
        r.messages
    );

    let calls = sw.wait_calls_ended(2, Duration::from_secs(15));
    let c = calls
        .iter()
        .find(|c| c["agent"] != "app:feature:*21")
        .unwrap();
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
    assert_eq!(c["cause"], "BYE", "{c:#}");
    assert_nodes_in_order(c, &["key 1 -> orders", "demo.orders (queue)"]);
    assert_eq!(
        journey(c, "queue"),
        [
            "orders (priority 0)",
            "orders: joined, offered at once",
            "offered to 1001"
        ],
        "{c:#}"
    );
    assert_eq!(
        sw.agent_state("1001"),
        "available",
        "the offer was withdrawn, not missed"
    );
    assert!(!has_node(c, "nobody answered"), "{c:#}");
    assert!(!has_node(c, "demo.voicemail (voicemail)"), "{c:#}");
    assert_eq!(c["agent"], "app:flow:demo", "nobody answered: {c:#}");
    let open = wait_udp_sockets(pid, baseline, Duration::from_secs(10));
    assert_eq!(open, baseline, "UDP sockets left open by the ended call");
}
