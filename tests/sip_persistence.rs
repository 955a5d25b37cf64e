//! Issue 2 (SIP core), bindings survive a restart and several contacts of
//! one agent all ring: registrations are stored in the database, so a
//! switch restarted with SIGTERM still reaches the agent's phone without a
//! new REGISTER; an agent registered from two phones gets the call on
//! both, the first to answer takes it and the other is cancelled (or,
//! answering too late, hung up).

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn call(sw: &Switch, calls: u32) -> SippResult {
    SippClient::new(&sw.carrier(), "uac_call.xml", "30s")
        .media()
        .service("1001")
        .calls(calls)
        .rate(5)
        .run(T)
}

#[test]
fn registrations_survive_a_restart() {
    let mut sw = Switch::start(SwitchOpts::new());
    let uas = SippServer::start(&scenario("uas_answer.xml"), &[]);
    let r = sipp_register(&sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "register: {}", r.describe());
    sw.restart();
    assert!(
        sw.log().contains("restored=1"),
        "the binding was not restored:\n{}",
        sw.log()
    );
    let r = call(&sw, 2);
    assert!(r.ok(), "call after restart: {}", r.describe());
    assert_eq!(r.successful, 2, "{}", r.describe());
}

#[test]
fn every_contact_rings_and_the_first_answer_wins() {
    let sw = Switch::start(SwitchOpts::new());
    // One phone answers at once, the other only rings (until cancelled).
    let answers = SippServer::start(&scenario("uas_answer.xml"), &[]);
    let rings = SippServer::start(&scenario("uas_ring.xml"), &[]);
    for port in [answers.port, rings.port] {
        let r = sipp_register(&sw, "1001", "pw1001", port, 600, "u1");
        assert!(r.ok(), "register contact on {port}: {}", r.describe());
    }
    let r = call(&sw, 2);
    assert!(r.ok(), "forked calls: {}", r.describe());
    assert_eq!(r.successful, 2, "{}", r.describe());
    std::thread::sleep(Duration::from_millis(900));
    let ringing = rings.stop();
    assert_eq!(
        ringing.messages.matches("CANCEL sip:").count(),
        2,
        "the phone that only rang was cancelled for each call:\n{}",
        ringing.messages
    );
    assert_eq!(ringing.successful, 2, "{}", ringing.describe());
    let answered = answers.stop();
    assert_eq!(answered.successful, 2, "{}", answered.describe());
}
