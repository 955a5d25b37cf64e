//! The caller's leg handed from the switch's own session (a flow playing
//! prompts) to the relay bridging an agent: the same sockets, so the
//! caller keeps sending to the port it was answered with. Real sockets on
//! 127.0.0.1, ports 41800-41809.

use super::media::{CallMedia, MediaContext};
use crate::media::ports::PortPool;
use crate::media::relay::RelayOptions;
use crate::media::session::SessionOptions;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn context() -> Arc<MediaContext> {
    Arc::new(MediaContext {
        ports: PortPool::new(LO, 41800..=41809),
        codecs: MediaContext::default_codecs(),
        profile_codecs: HashMap::new(),
        relay: RelayOptions::default(),
        music_on_hold: None,
    })
}

fn sdp(port: u16, pts: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {pts} 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )
}

fn port_of(sdp: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(sdp);
    text.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .expect("m=audio")
}

fn packet(pt: u8, seq: u16, payload: u8) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    p.extend(std::iter::repeat_n(payload, 160));
    p
}

async fn recv(sock: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(buf[..n].to_vec())
}

#[tokio::test]
async fn a_flow_hands_its_caller_to_an_agent_on_the_same_port() {
    let caller = UdpSocket::bind((LO, 0)).await.unwrap();
    let agent = UdpSocket::bind((LO, 0)).await.unwrap();
    let offer = sdp(caller.local_addr().unwrap().port(), "9 0 8");
    let (mut media, _) =
        CallMedia::new(context(), Some(offer.as_bytes()), ("carrier", LO), None).unwrap();
    // The switch answers the caller itself, in G.711 (its session plays
    // G.711 only; the caller offered G.722 first).
    let answer = media.answer_locally(SessionOptions::default()).unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    assert!(text.contains("RTP/AVP 0 101"), "{text}");
    let port = port_of(&answer);
    let switch = SocketAddr::new(LO, port);

    // The flow ends with a queue: the session stops, its sockets stay.
    assert!(media.release_session().await.is_some());
    let agent_offer = media.offer_to_agents("agents", vec![LO]).unwrap();
    let agent_text = String::from_utf8_lossy(&agent_offer).to_string();
    assert!(
        agent_text.contains("RTP/AVP 0 "),
        "the caller's codec first: {agent_text}"
    );
    let to_agent = SocketAddr::new(LO, port_of(&agent_offer));
    assert_ne!(to_agent, switch);
    // The agent answers PCMA: the relay transcodes.
    let agent_answer = sdp(agent.local_addr().unwrap().port(), "8");
    media.agent_answered(agent_answer.as_bytes()).await.unwrap();
    assert!(media.relaying());

    // The caller sends to the port it was answered with, as before.
    caller.send_to(&packet(0, 1, 0x11), switch).await.unwrap();
    let got = recv(&agent).await.expect("the caller reaches the agent");
    assert_eq!(got[1] & 0x7f, 8, "PCMA to the agent");
    agent.send_to(&packet(8, 1, 0x22), to_agent).await.unwrap();
    let back = recv(&caller).await.expect("the agent reaches the caller");
    assert_eq!(back[1] & 0x7f, 0, "PCMU to the caller");
    let from = {
        let mut buf = [0u8; 2048];
        caller.send_to(&packet(0, 2, 0x11), switch).await.unwrap();
        recv(&agent).await.unwrap();
        agent.send_to(&packet(8, 2, 0x22), to_agent).await.unwrap();
        let (_, from) = tokio::time::timeout(Duration::from_secs(2), caller.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        from
    };
    assert_eq!(
        from, switch,
        "the caller hears the switch from the same port"
    );
    // Bridged once: a second hand-over is refused.
    assert_eq!(
        media
            .offer_to_agents("agents", vec![LO])
            .unwrap_err()
            .status,
        491
    );
}
