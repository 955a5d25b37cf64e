//! Issue 2 (SIP core) with a real softphone: baresip registers as agent
//! 1001 (digest auth, UDP) and auto-answers; a SIPp UAC on the carrier
//! profile calls sip:1001@.
//!
//! Pass/fail: baresip reports its registration accepted ("200 OK" for
//! its REGISTER) within 15 s; the SIPp call (`uac_call.xml`: INVITE, 200,
//! ACK, 500 ms, BYE, 200) exits 0 with 1 successful call; baresip's
//! output shows "Call established".

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
