//! Issue 2 (SIP core) with a real softphone: baresip registers as agent
//! 1001 (digest auth, UDP) and auto-answers; a SIPp UAC on the carrier
//! profile calls sip:1001@.
//!
//! Pass/fail: baresip reports its registration accepted ("200 OK" for
//! its REGISTER) within 15 s; the SIPp call (`uac_call.xml`: INVITE, 200,
//! ACK, 500 ms, BYE, 200) exits 0 with 1 successful call; baresip's
//! output shows "Call established". With media (issue 3): see
//! `baresip_agent_hears_the_caller_through_the_switch`.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn baresip_agent_registers_and_answers_a_carrier_call() {
    let sw = Switch::start(SwitchOpts::new());
    let phone = Baresip::start_agent("1001", "pw1001", sw.agents_port, 60);

    let registered = phone.wait_for_any(&["} 200 OK", "binding]"], Duration::from_secs(15));
    assert!(
        registered,
        "baresip did not register as 1001 within 15 s; its output:\n{}",
        phone.output()
    );

    let r = SippClient::new(&sw.carrier(), "uac_call.xml", "20s")
        .media()
        .service("1001")
        .run(Duration::from_secs(30));
    assert!(
        r.ok() && r.successful == 1,
        "carrier call to baresip agent 1001:\n{}\n--- baresip ---\n{}",
        r.describe(),
        phone.output()
    );
    assert!(
        phone.wait_for_any(&["Call established"], Duration::from_secs(5)),
        "baresip never reported the call established:\n{}",
        phone.output()
    );
}

/// Issue 3 (media core) with a real softphone: a talking SIPp caller
/// (g711a.pcap speech) reaches baresip as agent 1001 through the anchored
/// media; baresip plays a 440 Hz tone.
///
/// Pass/fail: the call succeeds; baresip's `sndfile` recording of what it
/// received has the caller's speech (at least 5 s above the speech
/// threshold); the switch's recording has the caller on the left and
/// baresip's tone on the right, both for at least 5 s.
#[test]
fn baresip_agent_hears_the_caller_through_the_switch() {
    let sw = Switch::start(SwitchOpts::new());
    let phone = Baresip::start_agent("1001", "pw1001", sw.agents_port, 60);
    assert!(
        phone.wait_for_any(&["} 200 OK", "binding]"], Duration::from_secs(15)),
        "baresip did not register:\n{}",
        phone.output()
    );
    let r = talking_call_to(&sw.carrier(), "8", Duration::from_secs(40));
    assert!(
        r.ok(),
        "talking call to baresip:\n{}\n--- baresip ---\n{}",
        r.describe(),
        phone.output()
    );
    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    let call = &calls[0];
    assert_eq!(call["disposition"], "answered", "{call:#}");

    // What baresip heard: sndfile closes its file when the call ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let heard = loop {
        let spans = phone
            .received_audio_files()
            .last()
            .map(|f| speech_spans(&f.to_string_lossy(), 300.0));
        match spans {
            Some(s) if s[0].is_some() => break s[0],
            _ if std::time::Instant::now() >= deadline => break None,
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let (from, to) = heard.unwrap_or_else(|| {
        panic!(
            "baresip's received audio has no speech; files {:?}\n{}",
            phone.received_audio_files(),
            phone.output()
        )
    });
    assert!(
        to - from >= 5.0,
        "baresip heard the caller for {from}..{to} s"
    );

    let path = call["recordings"][0]["path"].as_str().expect("a recording");
    let spans = speech_spans(path, 300.0);
    let caller = spans[0].expect("caller on the left");
    let agent = spans[1].expect("baresip's tone on the right");
    assert!(caller.1 - caller.0 >= 5.0, "caller {caller:?}");
    assert!(agent.1 - agent.0 >= 5.0, "agent {agent:?}");
}
