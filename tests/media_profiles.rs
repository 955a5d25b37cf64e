//! Issue 3 (SDP), codec preference per profile: each call leg keeps to the
//! codecs of its SIP profile's `[media] codecs`, and the relay transcodes
//! when the caller's and the agent's profiles share none.
//!
//! Pass/fail:
//! - agents profile limited to PCMA, a hand-made PCMU-only caller to
//!   agent 1001 (a SIPp UAS that echoes): the caller is answered with
//!   PCMU, the agent's phone is offered PCMA (and telephone-event) only, a
//!   1 kHz PCMU tone comes back as PCMU at about 1 kHz (transcoded both
//!   ways), and the CDR says PCMU/8000 on the caller leg, PCMA/8000 on the
//!   agent leg;
//! - carrier profile limited to PCMA: a PCMU-only caller to the echo
//!   number gets 488 with Warning 305; a caller offering PCMU then PCMA is
//!   answered with PCMA by the echo number and, bridged to a PCMU-only
//!   agent, is still answered with PCMA (the agent's PCMU is not allowed
//!   on the trunk) while the agent is offered PCMA first; the CDR says
//!   PCMA/8000 on the caller leg and PCMU/8000 on the agent leg.

mod common;

use common::*;
use std::time::{Duration, Instant};
use switchboard::media::g711;

/// The switch with `codecs` as the `[media] codecs` of `profile`
/// (`agents` or `carrier`).
fn switch_with_codecs(profile: &'static str, codecs: &'static str) -> Switch {
    let file = format!("sip-profiles/{profile}.toml");
    Switch::start(SwitchOpts::new().edit(move |rel, text| {
        if rel == file {
            set_toml_key(text, "media", "codecs", codecs);
        }
    }))
}

/// Agent 1001's phone: a SIPp UAS answering with `agent_pts` and echoing
/// every RTP packet, registered on `sw`.
fn echo_agent(sw: &Switch, agent_pts: &str) -> SippServer {
    let uas = SippServer::start(
        &scenario("uas_echo.xml"),
        &["-rtp_echo", "-key", "agent_pts", agent_pts],
    );
    let r = sipp_register(sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "registering the echo UAS failed:\n{}", r.describe());
    uas
}

/// The payload types of the first `m=audio` line of `msg`.
fn audio_pts(msg: &str) -> Vec<String> {
    msg.lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))
        .map(|rest| {
            rest.split_whitespace()
                .skip(2)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The INVITE agent 1001's phone received, as SIPp traced it.
fn invite_to_agent(uas: &SippServer) -> String {
    received_messages(&uas.messages())
        .into_iter()
        .find(|m| m.starts_with("INVITE "))
        .unwrap_or_else(|| panic!("the agent got no INVITE:\n{}", uas.messages()))
}

#[test]
fn an_agents_profile_limited_to_pcma_is_offered_pcma_only_and_transcoded() {
    let sw = switch_with_codecs("agents", "[\"PCMA\"]");
    let uas = echo_agent(&sw, "8");

    let mut caller = RawCaller::new(sw.carrier_addr(), "1001");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    assert_eq!(audio_pts(&ok), ["0", "101"], "answered with PCMU: {ok}");

    let invite = invite_to_agent(&uas);
    assert_eq!(
        audio_pts(&invite),
        ["8", "101"],
        "the agent is offered PCMA and telephone-event only: {invite}"
    );
    assert!(!invite.contains("PCMU"), "{invite}");

    // 1.5 s of a 1 kHz tone as PCMU, 20 ms packets on a fixed schedule.
    let start = Instant::now();
    for i in 0..75u16 {
        let pcm: Vec<i16> = (0..160)
            .map(|n| {
                let t = (usize::from(i) * 160 + n) as f64 / 8000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
            })
            .collect();
        let mut payload = [0u8; 160];
        g711::encode_ulaw_into(&pcm, &mut payload);
        let at = start + Duration::from_millis(20) * u32::from(i);
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        caller.send_rtp(0, i, u32::from(i) * 160, i == 0, &payload);
    }
    let back = caller.receive(Duration::from_millis(600), Duration::from_secs(10));
    let pcmu: Vec<&Vec<u8>> = back
        .iter()
        .filter(|(pt, _)| *pt == 0)
        .map(|(_, p)| p)
        .collect();
    assert!(
        pcmu.len() >= 60,
        "PCMU echo packets: {} of {}",
        pcmu.len(),
        back.len()
    );
    let mut pcm = Vec::new();
    for p in &pcmu {
        let mut out = vec![0i16; p.len()];
        g711::decode_ulaw_into(p, &mut out);
        pcm.extend(out);
    }
    let steady = &pcm[pcm.len() / 4..pcm.len() * 3 / 4];
    let f = crossing_frequency(steady, 8000);
    assert!((f - 1000.0).abs() < 60.0, "the echo decodes to {f} Hz");

    assert_eq!(caller.bye(), 200);
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["disposition"], "answered", "{c:#}");
    assert_eq!(c["legs"]["caller"]["codec"], "PCMU/8000", "{c:#}");
    assert_eq!(c["legs"]["agent"]["codec"], "PCMA/8000", "{c:#}");
}

#[test]
fn a_trunk_profile_limited_to_pcma_answers_and_refuses_by_its_list() {
    let sw = switch_with_codecs("carrier", "[\"PCMA\"]");

    // Nothing of the trunk's list in the offer: 488 with Warning 305.
    let (status, response) = RawCaller::new(sw.carrier_addr(), "9196").invite("0 101", None);
    assert_eq!(status, 488, "{response}");
    let warning = header_value(&response, "Warning").unwrap_or_default();
    assert!(warning.starts_with("305 "), "Warning 305: {response}");

    // The echo number answers with the trunk's codec, not the caller's
    // first choice.
    let mut echo = RawCaller::new(sw.carrier_addr(), "9196");
    let (status, ok) = echo.invite("0 8 101", None);
    assert_eq!(status, 200, "{ok}");
    assert_eq!(
        audio_pts(&ok),
        ["8", "101"],
        "echo answered with PCMA: {ok}"
    );
    assert_eq!(echo.bye(), 200);

    // Bridged to a PCMU-only phone: the caller's leg stays PCMA.
    let uas = echo_agent(&sw, "0");
    let mut caller = RawCaller::new(sw.carrier_addr(), "1001");
    let (status, ok) = caller.invite("0 8 101", None);
    assert_eq!(status, 200, "{ok}");
    assert_eq!(audio_pts(&ok), ["8", "101"], "answered with PCMA: {ok}");
    let offered = audio_pts(&invite_to_agent(&uas));
    assert_eq!(
        offered.first().map(String::as_str),
        Some("8"),
        "the caller's allowed codec comes first: {offered:?}"
    );
    assert!(
        offered.iter().any(|pt| pt == "0"),
        "the agents profile's PCMU follows: {offered:?}"
    );
    assert_eq!(caller.bye(), 200);

    let calls = sw.wait_calls_ended(3, Duration::from_secs(10));
    let bridged = calls
        .iter()
        .find(|c| c["callee"] == "1001")
        .unwrap_or_else(|| panic!("no CDR of the bridged call: {calls:#?}"));
    assert_eq!(
        bridged["legs"]["caller"]["codec"], "PCMA/8000",
        "{bridged:#}"
    );
    assert_eq!(
        bridged["legs"]["agent"]["codec"], "PCMU/8000",
        "{bridged:#}"
    );
    let mut echoed = calls
        .iter()
        .filter(|c| c["callee"] == "9196")
        .map(|c| c["disposition"].as_str().unwrap_or_default())
        .collect::<Vec<_>>();
    echoed.sort_unstable();
    assert_eq!(echoed, ["answered", "failed"], "{calls:#?}");
}
