//! Issue 3 (media core), calls with anchored media between real peers: a
//! SIPp UAC plays the carrier's caller (SIPp's `g711a.pcap` speech, then an
//! RFC 4733 digit), a SIPp UAS with `-rtp_echo` plays agent 1001's phone.
//!
//! Pass/fail:
//! - PCMA caller and PCMA/PCMU agent: the call succeeds; the CDR says
//!   answered, hung up by the caller with BYE, PCMA on both legs, and the
//!   switch received the caller's speech and the agent's echo of it
//!   (hundreds of packets on each leg); the digit `5` from the caller is in
//!   the call's events; the recording is a complete stereo WAV that sox
//!   reads, with speech on the left (caller) and its echo on the right
//!   (agent) over the same span within 0.5 s;
//! - PCMA caller and PCMU-only agent: the same, with PCMU on the agent leg
//!   (the switch transcodes);
//! - after such a call the switch has one `media` thread per core at least,
//!   every other thread runs 5 nice levels below them (or lower), and the
//!   media threads used more CPU for the call than all the others;
//! - with `[media] realtime_priority = 7` the media threads, and only
//!   they, run SCHED_RR at 7, or, when the switch may not (no
//!   CAP_SYS_NICE), run at normal priority and the log says why;
//! - the switch killed with SIGKILL 4 s into a talking call: after a
//!   restart the CDR is closed as interrupted by the switch, and the
//!   recording is repaired, readable by sox, with at least 2 s of the
//!   caller's speech;
//! - a call where nobody sends RTP ends about 2 s after the answer with
//!   media_timeout_seconds = 2: both sides get BYE, the CDR says hung up by
//!   the switch for a media timeout, the journal has the event;
//! - a caller offering only a codec the switch cannot relay gets 488 with a
//!   Warning, a malformed SDP gets 400; both CDRs are closed as failed.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

/// The switch and agent 1001's phone: a SIPp UAS answering with
/// `agent_pts` and echoing every RTP packet.
fn switch_with_echo_agent(agent_pts: &str) -> (Switch, SippServer) {
    assert!(
        std::path::Path::new(SPEECH_PCAP).exists(),
        "{SPEECH_PCAP} is missing: install the sip-tester package (scripts/install-deps.sh)"
    );
    let sw = Switch::start(SwitchOpts::new());
    let uas = SippServer::start(
        &scenario("uas_echo.xml"),
        &["-rtp_echo", "-key", "agent_pts", agent_pts],
    );
    let r = sipp_register(&sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "registering the echo UAS failed:\n{}", r.describe());
    (sw, uas)
}

/// One call from a caller offering `caller_pts` that talks, sends `5`,
/// and hangs up a second later.
fn talking_call(sw: &Switch, caller_pts: &str) -> SippResult {
    talking_call_to(&sw.carrier(), caller_pts, Duration::from_secs(60))
}

fn the_call(sw: &Switch) -> Value {
    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1, "one CDR: {calls:#?}");
    calls[0].clone()
}

fn packets(call: &Value, leg: &str) -> i64 {
    call["legs"][leg]["packets_received"].as_i64().unwrap_or(-1)
}

fn assert_bridged(call: &Value, agent_codec: &str) {
    assert_eq!(call["disposition"], "answered", "{call:#}");
    assert_eq!(call["hangup_by"], "caller", "{call:#}");
    assert_eq!(call["cause"], "BYE", "{call:#}");
    assert_eq!(call["agent"], "1001", "{call:#}");
    assert_eq!(call["caller"], "+15550123", "{call:#}");
    assert_eq!(call["callee"], "1001", "{call:#}");
    assert!(call["answered_at"].as_i64().is_some(), "{call:#}");
    assert_eq!(call["legs"]["caller"]["codec"], "PCMA/8000", "{call:#}");
    assert_eq!(call["legs"]["agent"]["codec"], agent_codec, "{call:#}");
    // g711a.pcap is 236 packets of 30 ms; the echo returns them all.
    assert!(
        packets(call, "caller") >= 230,
        "caller's speech reached the switch: {call:#}"
    );
    assert!(
        packets(call, "agent") >= 230,
        "the agent's echo reached the switch: {call:#}"
    );
    let digits: Vec<&str> = call["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["kind"] == "dtmf")
                .filter_map(|e| e["detail"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        digits.iter().any(|d| d.starts_with("5 from caller")),
        "the caller's digit 5 is in the events: {digits:?}"
    );
    assert_recording(call);
}

/// The call's recording: complete, stereo 8 kHz, readable by sox, with the
/// caller's speech on the left and the agent's echo of it on the right over
/// the same span (within 0.5 s).
fn assert_recording(call: &Value) {
    let recs = call["recordings"].as_array().expect("recordings");
    assert_eq!(recs.len(), 1, "one recording: {call:#}");
    let rec = &recs[0];
    assert_eq!(rec["state"], "complete", "{rec:#}");
    assert_eq!(rec["channels"], 2, "{rec:#}");
    assert_eq!(rec["sample_rate"], 8000, "{rec:#}");
    let path = rec["path"].as_str().expect("path");
    let sox = std::process::Command::new("sox")
        .args(["--i", "-D", path])
        .output()
        .expect("sox is installed (scripts/install-deps.sh)");
    assert!(sox.status.success(), "sox reads {path}: {sox:?}");
    let seconds: f64 = String::from_utf8_lossy(&sox.stdout).trim().parse().unwrap();
    assert!(seconds > 7.5, "the recording lasts the call: {seconds} s");
    let spans = speech_spans(path, 300.0);
    let caller = spans[0].expect("speech on the left");
    let agent = spans[1].expect("speech on the right");
    assert!(
        caller.1 - caller.0 > 6.0,
        "the caller talks about 7 s: {caller:?}"
    );
    assert!(
        (caller.0 - agent.0).abs() <= 0.5 && (caller.1 - agent.1).abs() <= 0.5,
        "the agent's echo covers the caller's speech: caller {caller:?}, agent {agent:?}"
    );
}

#[test]
fn pcma_caller_to_echoing_agent_is_bridged_with_anchored_media() {
    let (sw, _uas) = switch_with_echo_agent("8 0");
    let r = talking_call(&sw, "8");
    assert!(r.ok(), "the call failed:\n{}", r.describe());
    assert_bridged(&the_call(&sw), "PCMA/8000");
}

#[test]
fn media_runs_on_its_own_threads_above_signalling() {
    let (sw, _uas) = switch_with_echo_agent("8 0");
    // QA's workers may start on the call's recording: left out.
    let cpu = |ts: &[ThreadInfo], media: bool| -> u64 {
        ts.iter()
            .filter(|t| (t.name == "media") == media && !t.name.starts_with("qa-worker"))
            .map(|t| t.cpu_ns)
            .sum()
    };
    let before = sw.threads();
    let r = talking_call(&sw, "8");
    assert!(r.ok(), "the call failed:\n{}", r.describe());
    assert_bridged(&the_call(&sw), "PCMA/8000");
    let threads = sw.threads();
    let media: Vec<_> = threads.iter().filter(|t| t.name == "media").collect();
    let others: Vec<_> = threads.iter().filter(|t| t.name != "media").collect();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(
        media.len() >= cores,
        "one media worker per core ({cores}) at least: {threads:?}"
    );
    let media_nice = media[0].nice;
    assert!(
        media.iter().all(|t| t.nice == media_nice),
        "media threads share a priority: {media:?}"
    );
    // Signalling, the database's threads and the main thread; QA workers
    // run lower still (nice 19).
    let below = (media_nice + 5).min(19);
    assert!(
        others.iter().any(|t| t.name == "tokio-rt-worker"),
        "signalling workers: {threads:?}"
    );
    assert!(
        others.iter().all(|t| t.nice >= below),
        "every other thread runs 5 nice levels below media ({below}) or lower: {others:?}"
    );
    // The call's relay and recorder ran on the media threads.
    // Threads may come and go between the two readings (an idle blocking
    // thread exits): a sum that shrank counts as nothing.
    let media_cpu = cpu(&threads, true).saturating_sub(cpu(&before, true));
    let others_cpu = cpu(&threads, false).saturating_sub(cpu(&before, false));
    assert!(
        media_cpu > others_cpu,
        "the call used the media threads ({media_cpu} ns) more than all others ({others_cpu} ns): {threads:?}"
    );
}

#[test]
fn media_threads_take_the_configured_realtime_priority() {
    let sw = Switch::start(SwitchOpts::new().edit(|file, text| {
        if file == "switchboard.toml" {
            set_toml_key(text, "media", "realtime_priority", "7");
        }
    }));
    let threads = sw.threads();
    let media: Vec<_> = threads.iter().filter(|t| t.name == "media").collect();
    assert!(!media.is_empty(), "media threads: {threads:?}");
    let others: Vec<_> = threads.iter().filter(|t| t.name != "media").collect();
    assert!(
        others.iter().all(|t| t.policy == 0),
        "only media threads are real-time: {others:?}"
    );
    // Root in a container may lack CAP_SYS_NICE, and a user may have an
    // RLIMIT_RTPRIO: what counts is whether the switch says it was refused.
    let refused = sw.log().contains("media threads left at normal priority");
    if refused {
        assert!(media.iter().all(|t| t.policy == 0), "{media:?}");
    } else {
        assert!(
            media.iter().all(|t| t.policy == 2 && t.rt_priority == 7),
            "media threads run SCHED_RR at 7: {media:?}"
        );
    }
}

#[test]
fn pcma_caller_to_pcmu_only_agent_is_transcoded() {
    let (sw, _uas) = switch_with_echo_agent("0");
    let r = talking_call(&sw, "8");
    assert!(r.ok(), "the call failed:\n{}", r.describe());
    assert_bridged(&the_call(&sw), "PCMU/8000");
}

/// A raw INVITE with `sdp` as its body, answered by the switch.
fn invite_with_sdp(sw: &Switch, sdp: &str) -> (u16, String) {
    RawCaller::new(sw.carrier_addr(), "1001").invite_sdp(sdp)
}

#[test]
fn offers_the_switch_cannot_take_are_refused_and_recorded() {
    let (sw, _uas) = switch_with_echo_agent("0 8");
    let g729_only = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                     m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    let (status, response) = invite_with_sdp(&sw, g729_only);
    assert_eq!(status, 488, "{response}");
    assert!(
        has_header(&response, "Warning") && response.contains("305"),
        "488 carries Warning 305: {response}"
    );
    let (status, response) = invite_with_sdp(&sw, "v=0\r\nthis is not SDP\r\n");
    assert_eq!(status, 400, "{response}");
    let calls = sw.wait_calls_ended(2, Duration::from_secs(10));
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for c in &calls {
        assert_eq!(c["disposition"], "failed", "{c:#}");
        assert_eq!(c["hangup_by"], "switch", "{c:#}");
        assert!(c["answered_at"].is_null(), "{c:#}");
    }
}

#[test]
fn a_switch_killed_mid_call_leaves_a_playable_recording_and_a_closed_cdr() {
    let (mut sw, _uas) = switch_with_echo_agent("8 0");
    let target = sw.carrier();
    let caller = std::thread::spawn(move || talking_call_to(&target, "8", Duration::from_secs(12)));
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !sw.calls().iter().any(|c| !c["answered_at"].is_null()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the call was never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Well into the speech (SIPp starts it at the ACK), with margin for a
    // loaded machine.
    std::thread::sleep(Duration::from_secs(4));
    sw.kill();
    sw.restart();
    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    let c = &calls[0];
    assert_eq!(c["disposition"], "interrupted", "{c:#}");
    assert_eq!(c["hangup_by"], "switch", "{c:#}");
    let rec = &c["recordings"][0];
    assert_eq!(rec["state"], "repaired", "{c:#}");
    assert!(rec["duration_ms"].as_i64().unwrap_or(0) >= 2000, "{c:#}");
    let path = rec["path"].as_str().expect("path");
    let sox = std::process::Command::new("sox")
        .args(["--i", "-D", path])
        .output()
        .expect("sox");
    assert!(
        sox.status.success(),
        "sox reads the repaired {path}: {sox:?}"
    );
    let (from, to) = speech_spans(path, 300.0)[0].expect("the caller's speech survived the crash");
    assert!(
        to - from >= 2.0,
        "at least 2 s of speech kept: {from}..{to}"
    );
    let _ = caller.join();
}

#[test]
fn a_call_without_rtp_ends_at_the_media_timeout() {
    let sw = Switch::start(SwitchOpts::new().edit(|file, text| {
        if file == "switchboard.toml" {
            set_toml_key(text, "media", "media_timeout_seconds", "2");
        }
    }));
    let uas = SippServer::play("uas_answer.xml", false);
    let r = sipp_register(&sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "{}", r.describe());
    // Neither side sends RTP; the caller waits for the switch's BYE.
    let started = std::time::Instant::now();
    let r = SippClient::new(&sw.carrier(), "uac_wait_bye.xml", "20s")
        .media()
        .service("1001")
        .run(Duration::from_secs(30));
    assert!(r.ok(), "the switch hung up with BYE:\n{}", r.describe());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(8),
        "BYE after about 2 s of silence, not {took:?}"
    );
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["hangup_by"], "switch", "{c:#}");
    assert!(
        c["cause"]
            .as_str()
            .unwrap_or("")
            .starts_with("media timeout"),
        "{c:#}"
    );
    assert!(
        c["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "media_timeout")),
        "{c:#}"
    );
}

/// A late offer (INVITE without SDP, the answer in the ACK): the switch
/// offers the caller the agent's codec in its 200, the relay starts with
/// the ACK, and the call is recorded from then on.
///
/// Pass/fail: 200 with an offer; 2 s of a 1 kHz PCMU tone from the caller
/// come back from the echoing agent (at least 80 of 100 packets); the CDR
/// has both legs and one complete stereo recording of at least 1.5 s with
/// the tone on the caller's channel.
#[test]
fn a_late_offer_call_is_bridged_and_recorded() {
    let (sw, _uas) = switch_with_echo_agent("0 8");
    let mut caller = RawCaller::new(sw.carrier_addr(), "1001");
    let (status, response) = caller.invite_late();
    assert_eq!(status, 200, "{response}");
    assert!(
        response.contains("m=audio "),
        "an offer in the 200:\n{response}"
    );
    let tone: Vec<u8> = (0..160)
        .map(|i| {
            let x = (2.0 * std::f64::consts::PI * 1000.0 * f64::from(i) / 8000.0).sin();
            let mut out = [0u8; 1];
            switchboard::media::g711::encode_ulaw_into(&[(x * 12000.0) as i16], &mut out);
            out[0]
        })
        .collect();
    for k in 0..100u16 {
        caller.send_rtp(0, k, u32::from(k) * 160, k == 0, &tone);
        std::thread::sleep(Duration::from_millis(20));
    }
    let echoed = caller.receive(Duration::from_millis(300), Duration::from_secs(2));
    assert_eq!(caller.bye(), 200);
    // Echoes that arrived while the caller was still sending were queued on
    // its socket: they are all read here.
    assert!(echoed.len() >= 80, "{} packets came back", echoed.len());

    let call = the_call(&sw);
    assert_eq!(call["disposition"], "answered", "{call:#}");
    assert!(packets(&call, "caller") >= 100, "{call:#}");
    assert!(packets(&call, "agent") >= 80, "{call:#}");
    let recs = call["recordings"].as_array().expect("recordings");
    assert_eq!(recs.len(), 1, "one recording: {call:#}");
    assert_eq!(recs[0]["state"], "complete", "{call:#}");
    let path = recs[0]["path"].as_str().expect("path");
    let spans = speech_spans(path, 300.0);
    let tone = spans[0].expect("the caller's tone on the left");
    assert!(tone.1 - tone.0 >= 1.5, "tone recorded over {tone:?}");
}
