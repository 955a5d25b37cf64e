//! Issue 5, agents' states from their phones: an agent (a SIPp UAC
//! authenticating as 1001) dials `*21`, `*22` and `*23`; the switch
//! challenges the INVITE, answers, says what it did and hangs up; the
//! state and every transition are stored (`switchboard agents`). A wrong
//! password changes nothing; a restart keeps the state.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn feature_codes_change_the_agents_state_and_are_stored() {
    let mut sw = Switch::start(SwitchOpts::new());
    assert_eq!(
        sw.agent_state("1001"),
        "logged_out",
        "agents start logged out"
    );

    let r = dial_feature(&sw, "1001", "pw1001", "*21");
    assert!(r.ok(), "*21:\n{}", r.describe());
    assert_eq!(sw.agent_state("1001"), "available");
    assert_eq!(sw.agent_state("1002"), "logged_out");

    let r = dial_feature(&sw, "1001", "pw1001", "*2207");
    assert!(r.ok(), "*2207:\n{}", r.describe());
    let agents = sw.agent_states();
    let a = agents.iter().find(|a| a["agent"] == "1001").unwrap();
    assert_eq!(a["state"], "not_ready", "{a:#}");
    assert_eq!(a["reason"], "break code 07", "{a:#}");
    let hops: Vec<(String, String)> = a["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["from"].as_str().unwrap().to_string(),
                t["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        hops,
        [
            ("available".to_string(), "not_ready".to_string()),
            ("logged_out".to_string(), "available".to_string())
        ],
        "newest first"
    );

    // A wrong password is challenged again and changes nothing.
    let r = dial_feature(&sw, "1001", "wrong", "*23");
    assert!(!r.ok(), "a wrong password must not be let in");
    assert_eq!(sw.agent_state("1001"), "not_ready");

    // The state survives a restart.
    sw.restart();
    assert_eq!(sw.agent_state("1001"), "not_ready");
    let r = dial_feature(&sw, "1001", "pw1001", "*23");
    assert!(r.ok(), "*23:\n{}", r.describe());
    assert_eq!(sw.agent_state("1001"), "logged_out");

    let calls = sw.wait_calls_ended(3, Duration::from_secs(10));
    let codes: Vec<&str> = calls.iter().filter_map(|c| c["agent"].as_str()).collect();
    assert!(codes.contains(&"app:feature:*21"), "{codes:?}");
}

/// A ready agent whose phone unregisters is no longer offered calls: not
/// ready, "no phone registered".
#[test]
fn an_agent_whose_phone_unregisters_is_made_not_ready() {
    let sw = Switch::start(SwitchOpts::new());
    let contact_port = alloc_port();
    let r = sipp_register(&sw, "1002", "pw1002", contact_port, 600, "u1");
    assert!(r.ok(), "{}", r.describe());
    log_in(&sw, "1002");
    assert_eq!(sw.agent_state("1002"), "available");
    let r = SippClient::new(&sw.agents(), "unregister.xml", "15s")
        .agent("1002", "pw1002", contact_port)
        .run(Duration::from_secs(20));
    assert!(r.ok(), "unregistering: {}", r.describe());
    sw.wait_agent_state("1002", "not_ready", Duration::from_secs(5));
    let agents = sw.agent_states();
    let a = agents.iter().find(|a| a["agent"] == "1002").unwrap();
    assert_eq!(a["state"], "not_ready", "{a:#}");
    assert_eq!(a["reason"], "no phone registered", "{a:#}");
}

fn admin_agent(sw: &Switch, args: &[&str]) -> std::process::Output {
    sw.command(&[&["agent"], args].concat())
}

/// An admin changes agents' states from the command line; the running
/// switch applies it at once (SIGHUP). Unknown agents and states are
/// refused with what is valid.
#[test]
fn an_admin_changes_an_agents_state() {
    let sw = Switch::start(SwitchOpts::new());
    let wait = |id: &str, state: &str| {
        sw.wait_agent_state(id, state, Duration::from_secs(5));
        sw.agent_state(id)
    };
    let out = admin_agent(&sw, &["1004", "ready"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("applies it now"));
    assert_eq!(wait("1004", "available"), "available");
    let out = admin_agent(&sw, &["1004", "break", "training"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(wait("1004", "not_ready"), "not_ready");
    let agents = sw.agent_states();
    let a = agents.iter().find(|a| a["agent"] == "1004").unwrap();
    assert_eq!(a["reason"], "training", "{a:#}");
    assert!(admin_agent(&sw, &["1004", "logout"]).status.success());
    assert_eq!(wait("1004", "logged_out"), "logged_out");

    let out = admin_agent(&sw, &["1009", "ready"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no agent `1009`; agents are: 1001, 1002, 1003, 1004, 1005"),
        "{err}"
    );
    let out = admin_agent(&sw, &["1004", "nap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("say ready, break [REASON] or logout"));
}
