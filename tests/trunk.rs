//! Issue 2 (SIP core), trunks facing a carrier: outbound registration with
//! digest credentials and its refresh (SIPp plays the carrier's
//! registrar and checks the digest), and OPTIONS keep-alive to a peer with
//! its up/down status shown by `switchboard status`.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn status(sw: &Switch) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("status")
        .arg("--config")
        .arg(sw.config_dir())
        .output()
        .expect("run switchboard status");
    assert!(
        out.status.success(),
        "status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `switchboard status` until a line holds every needle.
fn wait_for_status(sw: &Switch, needles: &[&str], limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let text = status(sw);
        if text.lines().any(|l| needles.iter().all(|n| l.contains(n))) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "status never showed {needles:?}; last status:\n{text}\nlog:\n{}",
            sw.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn trunk_registers_refreshes_and_qualifies_its_peer() {
    let registrar = SippServer::start(&scenario("carrier_registrar.xml"), &["-m", "1"]);
    let peer = SippServer::start(&scenario("options_peer.xml"), &[]);
    let (reg_port, peer_port) = (registrar.port, peer.port);
    let sw = Switch::start(SwitchOpts::new().edit(move |file, text| {
        if file.ends_with("carrier.toml") {
            text.push_str(&format!(
                "\n[qualify]\npeers = [\"sip:127.0.0.1:{peer_port}\"]\ninterval_seconds = 1\n\n\
                 [registration]\nregistrar = \"sip:127.0.0.1:{reg_port}\"\nusername = \"trunkuser\"\n\
                 password = \"trunkpass\"\nexpires = 120\n"
            ));
        }
    }));

    // Registration: challenged, answered, granted 2 s, refreshed (the
    // scenario's second round), which SIPp counts as one successful call.
    let reg_target = format!("sip:127.0.0.1:{reg_port}");
    wait_for_status(
        &sw,
        &["registration", &reg_target, "registered"],
        Duration::from_secs(10),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let result = loop {
        let r = SippServer::messages(&registrar);
        if r.matches("SIP/2.0 200 OK").count() >= 2 || Instant::now() > deadline {
            break registrar.stop();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        result.successful,
        1,
        "registration and refresh: {}",
        result.describe()
    );
    assert_eq!(result.failed, 0, "{}", result.describe());
    assert!(
        result.messages.matches("Authorization: Digest").count() >= 2,
        "both rounds answered the challenge:\n{}",
        result.messages
    );

    // Qualify: up while the peer answers, down once it is gone.
    let peer_target = format!("sip:127.0.0.1:{peer_port}");
    wait_for_status(
        &sw,
        &["qualify", &peer_target, " up "],
        Duration::from_secs(10),
    );
    drop(peer);
    wait_for_status(
        &sw,
        &["qualify", &peer_target, "down"],
        Duration::from_secs(20),
    );
}
