//! Issue 3 (media core), symmetric RTP and hostile media input, with a
//! hand-made caller (raw SIP and RTP over UDP) and a SIPp UAS with
//! `-rtp_echo` as agent 1001's phone.
//!
//! Pass/fail, in one call:
//! - before the caller talks, a stranger on 127.0.0.9 sends RTP to the
//!   caller leg's port, plus truncated and garbage datagrams: none of it
//!   is bridged (no echo of the stranger's payload comes back to anyone)
//!   and the switch keeps working;
//! - the caller announces one port in its SDP and sends from another (as
//!   linphone does): the agent's echo still reaches the port it really
//!   sends from (latching), at least 45 of 50 packets;
//! - the CDR counts exactly the caller's 50 packets on the caller leg.

mod common;

use common::*;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

#[test]
fn latching_and_strangers() {
    let sw = Switch::start(SwitchOpts::new());
    let uas = SippServer::start(
        &scenario("uas_echo.xml"),
        &["-rtp_echo", "-key", "agent_pts", "0 8"],
    );
    let r = sipp_register(&sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "registering the echo UAS failed:\n{}", r.describe());

    let announced = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    let stranger = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 9), 0)).unwrap();
    let mut caller = RawCaller::new(sw.carrier_addr(), "1001");
    let (status, ok) = caller.invite("0", Some(announced.local_addr().unwrap().port()));
    assert_eq!(status, 200, "{ok}");
    let leg = caller.leg.expect("the switch's media address");

    // Hostile input first: a stranger's RTP, truncated and garbage datagrams.
    for seq in 0..20u16 {
        stranger
            .send_to(
                &rtp_packet(0, seq, u32::from(seq) * 160, false, &[0x55; 160]),
                leg,
            )
            .unwrap();
    }
    for junk in [
        &[0x80u8, 0x00, 0x01][..],
        &[0u8; 11][..],
        b"hello there, switch",
    ] {
        caller.rtp.send_to(junk, leg).unwrap();
    }
    // The caller talks from a port its SDP never mentioned.
    for seq in 0..50u16 {
        caller.send_rtp(0, seq, u32::from(seq) * 160, seq == 0, &[0xd5; 160]);
        std::thread::sleep(Duration::from_millis(20));
    }
    let echoed = caller.receive(Duration::from_millis(800), Duration::from_secs(10));
    assert!(
        echoed.len() >= 45,
        "the agent's echo reaches the port the caller sends from: {} packets",
        echoed.len()
    );
    assert!(
        echoed.iter().all(|(_, p)| p.iter().all(|&b| b == 0xd5)),
        "only the caller's own audio comes back, never the stranger's"
    );
    assert!(
        receive_rtp(
            &stranger,
            Duration::from_millis(200),
            Duration::from_secs(1)
        )
        .is_empty(),
        "nothing is sent to the stranger"
    );

    assert_eq!(caller.bye(), 200);
    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    let c = &calls[0];
    assert_eq!(c["disposition"], "answered", "{c:#}");
    assert_eq!(
        c["legs"]["caller"]["packets_received"], 50,
        "only the caller's packets count: {c:#}"
    );
    drop(announced);
}
