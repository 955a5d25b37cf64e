//! The SIPp scenarios of tests/sipp checked against SIPp itself, with no
//! switch involved: each client scenario against its server counterpart
//! (or a stand-in `selftest_*.xml`), over UDP and TCP. When a switch test
//! fails, this tells whether the scenario or the switch is at fault.
//!
//! Pass/fail: the client SIPp exits 0 with every call successful.

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(40);

fn client(
    server: &SippServer,
    scenario_file: &str,
    extra: &[&str],
    calls: u32,
    tcp: bool,
) -> SippResult {
    let target = format!("127.0.0.1:{}", server.port);
    let mut uac = SippClient::new(&target, scenario_file, "30s")
        .media()
        .calls(calls)
        .rate(10);
    if tcp {
        uac = uac.args(&["-t", "t1"]);
    }
    uac.args(extra).run(T)
}

fn pair(uac: &str, uas: &str, extra: &[&str], calls: u32, tcp: bool) {
    let srv = SippServer::play(uas, tcp);
    let r = client(&srv, uac, extra, calls, tcp);
    assert!(
        r.ok() && r.successful == u64::from(calls),
        "{uac} against {uas} (tcp={tcp}):\n{}",
        r.describe()
    );
}

#[test]
fn selftest_call_answer_bye() {
    pair("uac_call.xml", "uas_answer.xml", &["-s", "1001"], 10, false);
    pair("uac_call.xml", "uas_answer.xml", &["-s", "1001"], 5, true);
}

#[test]
fn selftest_cancel_while_ringing() {
    pair("uac_cancel.xml", "uas_ring.xml", &["-s", "1001"], 3, false);
    pair("uac_cancel.xml", "uas_ring.xml", &["-s", "1001"], 3, true);
}

#[test]
fn selftest_bye_from_callee() {
    pair("uac_wait_bye.xml", "uas_bye.xml", &["-s", "1001"], 3, false);
    pair("uac_wait_bye.xml", "uas_bye.xml", &["-s", "1001"], 3, true);
}

#[test]
fn selftest_options() {
    pair("options.xml", "selftest_options_server.xml", &[], 1, false);
    pair("options.xml", "selftest_options_server.xml", &[], 1, true);
}

#[test]
fn selftest_register_unregister_wrong() {
    let auth = [
        "-s",
        "1001",
        "-au",
        "1001",
        "-ap",
        "pw1001",
        "-key",
        "contact_port",
        "15999",
        "-key",
        "expires",
        "300",
    ];
    for tcp in [false, true] {
        pair(
            "register_auth.xml",
            "selftest_registrar_ok.xml",
            &auth,
            1,
            tcp,
        );
        pair("unregister.xml", "selftest_registrar_ok.xml", &auth, 1, tcp);
        pair(
            "register_wrong.xml",
            "selftest_registrar_refuse.xml",
            &auth,
            1,
            tcp,
        );
    }
    // register_wrong.xml must fail when the registrar accepts.
    let srv = SippServer::play("selftest_registrar_ok.xml", false);
    let r = client(&srv, "register_wrong.xml", &auth, 1, false);
    assert!(
        !r.ok(),
        "register_wrong.xml accepted a 200:\n{}",
        r.describe()
    );
    // register_auth.xml carries the Contact port and Expires it was given.
    let srv = SippServer::play("selftest_registrar_ok.xml", false);
    let r = client(&srv, "register_auth.xml", &auth, 1, false);
    assert!(r.ok(), "{}", r.describe());
    assert!(
        r.messages.contains(":15999;transport=UDP>"),
        "Contact port not used"
    );
    assert!(r.messages.contains("Expires: 300"), "Expires not used");
}
