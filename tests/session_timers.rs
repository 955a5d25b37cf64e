//! Issue 3 (media core), RFC 4028 session timers so dead calls end.
//!
//! Pass/fail:
//! - a caller that supports timers and asks for 4 s with itself as
//!   refresher (`uac_timer_expires.xml`, min_se_seconds = 2) gets a 200
//!   confirming `Session-Expires: 4;refresher=uac` with `Require: timer`;
//!   it never refreshes, so the switch sends BYE about 2.7 s later (4 s
//!   minus a third) and the CDR says "session timer expired";
//! - with session_expires_seconds = 4, the switch refreshes both legs
//!   itself with UPDATE (both peers allow it, neither supports timers):
//!   the caller (`uac_refreshed.xml`) and the agent (`uas_refreshed.xml`)
//!   each receive the UPDATE and the call ends normally by the caller's BYE;
//! - a caller asking for less than Min-SE gets 422 with `Min-SE`.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn switch(expires: u32, min_se: u32) -> Switch {
    Switch::start(SwitchOpts::new().edit(move |file, text| {
        if file == "switchboard.toml" {
            set_toml_key(
                text,
                "session_timer",
                "session_expires_seconds",
                &expires.to_string(),
            );
            set_toml_key(text, "session_timer", "min_se_seconds", &min_se.to_string());
        }
    }))
}

fn agent(sw: &Switch, scenario_file: &str) -> SippServer {
    let uas = SippServer::play(scenario_file, false);
    let r = sipp_register(sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "{}", r.describe());
    uas
}

#[test]
fn a_caller_that_stops_refreshing_is_hung_up() {
    let sw = switch(1800, 2);
    let _uas = agent(&sw, "uas_answer.xml");
    let started = Instant::now();
    let r = SippClient::new(&sw.carrier(), "uac_timer_expires.xml", "20s")
        .media()
        .service("1001")
        .run(Duration::from_secs(30));
    assert!(r.ok(), "200 with the timer, then BYE:\n{}", r.describe());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(6),
        "BYE about 2.7 s after the answer, not {took:?}"
    );
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["hangup_by"], "switch", "{c:#}");
    assert_eq!(
        c["cause"], "session timer expired: no refresh from the caller",
        "{c:#}"
    );
}

#[test]
fn the_switch_refreshes_both_legs_with_update() {
    let sw = switch(4, 2);
    let uas = agent(&sw, "uas_refreshed.xml");
    let r = SippClient::new(&sw.carrier(), "uac_refreshed.xml", "20s")
        .media()
        .service("1001")
        .run(Duration::from_secs(30));
    assert!(r.ok(), "the caller got the refresh:\n{}", r.describe());
    std::thread::sleep(Duration::from_millis(700));
    let agent = uas.stop();
    assert_eq!(
        agent.successful,
        1,
        "the agent got the refresh: {}",
        agent.describe()
    );
    assert_eq!(agent.failed, 0, "{}", agent.describe());
    let c = &sw.wait_calls_ended(1, Duration::from_secs(10))[0];
    assert_eq!(c["hangup_by"], "caller", "{c:#}");
}

#[test]
fn an_interval_below_min_se_gets_422() {
    let sw = switch(1800, 90);
    let _uas = agent(&sw, "uas_answer.xml");
    let sock = RawUdp::bind(LOCALHOST);
    let local = sock.local();
    let to = sw.carrier_addr();
    let msg = format!(
        "INVITE sip:1001@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-se;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+15550444@{local}>;tag=t1\r\n\
         To: <sip:1001@{to}>\r\n\
         Call-ID: se-{}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:carrier@{local}>\r\n\
         Supported: timer\r\n\
         Session-Expires: 30\r\n\
         Content-Length: 0\r\n\r\n",
        local.port()
    );
    let (status, response) = sock
        .request(to, &msg, Duration::from_secs(5))
        .expect("an answer");
    assert_eq!(status, 422, "{response}");
    assert_eq!(header_value(&response, "Min-SE").as_deref(), Some("90"));
}
