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
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn rtp(seq: u16, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend(std::iter::repeat_n(fill, 160));
    p
}

/// Payloads of the RTP packets arriving on `sock` within `quiet` of each other.
fn received_payloads(sock: &UdpSocket, quiet: Duration) -> Vec<Vec<u8>> {
    sock.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match sock.recv_from(&mut buf) {
            Ok((n, _)) if n > 12 => out.push(buf[12..n].to_vec()),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    out
}

/// The value of `m=audio <port>` in an SDP body.
fn sdp_audio_port(msg: &str) -> u16 {
    msg.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no m=audio in {msg}"))
}

fn to_tag(msg: &str) -> String {
    header_value(msg, "To")
        .and_then(|to| to.split(";tag=").nth(1).map(|t| t.trim().to_string()))
        .unwrap_or_else(|| panic!("no To tag in {msg}"))
}

#[test]
fn latching_and_strangers() {
    let sw = Switch::start(SwitchOpts::new());
    let uas = SippServer::start(
        &scenario("uas_echo.xml"),
        &["-rtp_echo", "-key", "agent_pts", "0 8"],
    );
    let r = sipp_register(&sw, "1001", "pw1001", uas.port, 600, "u1");
    assert!(r.ok(), "registering the echo UAS failed:\n{}", r.describe());

    let sip = RawUdp::bind(LOCALHOST);
    let announced = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    let actual = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    let stranger = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 9), 0)).unwrap();
    let local = sip.local();
    let to = sw.carrier_addr();
    let call_id = format!("latch-{}", local.port());
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=sendrecv\r\n",
        announced.local_addr().unwrap().port()
    );
    let headers = |method: &str, cseq: u32, tag: &str, branch: &str| {
        format!(
            "{method} sip:1001@{to} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:+15550777@{local}>;tag=caller\r\n\
             To: <sip:1001@{to}>{tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:carrier@{local}>\r\n"
        )
    };
    let invite = format!(
        "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        headers("INVITE", 1, "", "inv"),
        sdp.len()
    );
    let (status, ok) = sip
        .request(to, &invite, Duration::from_secs(10))
        .expect("an answer to the INVITE");
    assert_eq!(status, 200, "{ok}");
    let tag = format!(";tag={}", to_tag(&ok));
    let leg = SocketAddr::from((LOCALHOST, sdp_audio_port(&ok)));
    sip.send(
        to,
        format!(
            "{}Content-Length: 0\r\n\r\n",
            headers("ACK", 1, &tag, "ack")
        )
        .as_bytes(),
    );

    // Hostile input first: a stranger's RTP, truncated and garbage datagrams.
    for seq in 0..20u16 {
        stranger.send_to(&rtp(seq, 0x55), leg).unwrap();
    }
    for junk in [
        &[0x80u8, 0x00, 0x01][..],
        &[0u8; 11][..],
        b"hello there, switch",
    ] {
        actual.send_to(junk, leg).unwrap();
    }
    // The caller talks from a port its SDP never mentioned.
    for seq in 0..50u16 {
        actual.send_to(&rtp(seq, 0xd5), leg).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let echoed = received_payloads(&actual, Duration::from_millis(800));
    assert!(
        echoed.len() >= 45,
        "the agent's echo reaches the port the caller sends from: {} packets",
        echoed.len()
    );
    assert!(
        echoed.iter().all(|p| p.iter().all(|&b| b == 0xd5)),
        "only the caller's own audio comes back, never the stranger's"
    );
    assert!(
        received_payloads(&stranger, Duration::from_millis(200)).is_empty(),
        "nothing is sent to the stranger"
    );

    let (status, bye_ok) = sip
        .request(
            to,
            &format!(
                "{}Content-Length: 0\r\n\r\n",
                headers("BYE", 2, &tag, "bye")
            ),
            Duration::from_secs(5),
        )
        .expect("an answer to the BYE");
    assert_eq!(status, 200, "{bye_ok}");
    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    let c = &calls[0];
    assert_eq!(c["disposition"], "answered", "{c:#}");
    assert_eq!(
        c["legs"]["caller"]["packets_received"], 50,
        "only the caller's packets count: {c:#}"
    );
    drop(announced);
}
