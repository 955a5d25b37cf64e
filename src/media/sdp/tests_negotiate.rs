//! Offer/answer tests: answers to the real-world samples of `tests.rs`
//! checked field by field, rejection errors with their SIP warning, our own
//! offers, and processing the answer to our offer.

use std::net::SocketAddr;

use super::tests::{BARESIP, HOLD_SENDONLY, HOLD_ZERO, LINPHONE, SIPP, VIDEO_AUDIO, WEBRTC};
use super::*;

fn p(text: &str) -> SessionDescription {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn local() -> LocalSession {
    LocalSession::new("198.51.100.1".parse().unwrap(), 4242)
}

fn caps() -> Capabilities {
    Capabilities::new(vec![
        Codec::pcmu(),
        Codec::pcma(),
        Codec::g722(),
        Codec::opus(),
        Codec::telephone_event(),
    ])
}

fn addrs(n: usize) -> Vec<SocketAddr> {
    (0..n)
        .map(|i| SocketAddr::from(([198, 51, 100, 1], 30000 + 2 * i as u16)))
        .collect()
}

fn ans(offer: &str, caps: &Capabilities) -> Answer {
    let offer = p(offer);
    let a =
        answer(&offer, caps, &local(), &addrs(offer.media.len())).unwrap_or_else(|e| panic!("{e}"));
    // Whatever we answer must itself parse back identically.
    assert_eq!(parse(&a.sdp.to_string()), Ok(a.sdp.clone()));
    assert_eq!(a.sdp.media.len(), offer.media.len());
    a
}

fn pts(f: &[PayloadFormat]) -> Vec<u8> {
    f.iter().map(|f| f.payload_type).collect()
}

#[test]
fn sipp_minimal() {
    let a = ans(SIPP, &caps());
    let m = &a.sdp.media[0];
    assert_eq!((m.port, &m.protocol), (30000, &Protocol::RtpAvp));
    assert_eq!(m.formats, vec!["0"]);
    assert_eq!(m.rtpmaps[0].encoding, "PCMU");
    assert_eq!(m.direction, Some(Direction::SendRecv));
    assert!(!m.rtcp_mux, "not offered");
    assert_eq!(m.ptime, Some(20));
    assert!(m.connections.is_empty(), "session c= covers it");
    assert_eq!(a.sdp.connection.as_ref().unwrap().address, "198.51.100.1");
    assert_eq!(a.sdp.origin.session_id, "4242");
    let s = &a.streams[0];
    assert_eq!((s.index, pts(&s.codecs)), (0, vec![0]));
    assert_eq!(s.telephone_event, None);
    assert_eq!(s.remote, Some(sa("127.0.0.1:6000")));
    assert_eq!(s.remote_rtcp, Some(sa("127.0.0.1:6001")));
    assert!(!s.legacy_hold);
}

#[test]
fn baresip_ours_first_theirs_first_single_and_mux() {
    let mut c = Capabilities::new(vec![Codec::pcma(), Codec::pcmu(), Codec::telephone_event()]);
    let a = ans(BARESIP, &c);
    let m = &a.sdp.media[0];
    assert_eq!(m.formats, vec!["8", "0", "101"]);
    assert_eq!(
        m.fmtp(101),
        Some("0-15"),
        "offer's telephone-event fmtp kept"
    );
    assert!(m.rtcp_mux);
    let s = &a.streams[0];
    assert_eq!(pts(&s.codecs), vec![8, 0]);
    assert_eq!(
        s.telephone_event.as_ref().map(|t| t.payload_type),
        Some(101)
    );
    assert_eq!(s.remote_rtcp, Some(sa("192.168.1.20:10298")), "muxed");
    assert_eq!(s.remote_ptime, Some(20));

    c.preference = CodecPreference::Theirs;
    assert_eq!(ans(BARESIP, &c).sdp.media[0].formats, vec!["0", "8", "101"]);

    c.single_codec = true;
    c.preference = CodecPreference::Ours;
    c.rtcp_mux = false;
    let a = ans(BARESIP, &c);
    assert_eq!(a.sdp.media[0].formats, vec!["8", "101"]);
    assert!(!a.sdp.media[0].rtcp_mux);
    assert!(!a.streams[0].rtcp_mux);
    assert_eq!(a.streams[0].remote_rtcp, Some(sa("192.168.1.20:10299")));
}

#[test]
fn linphone_opus_keeps_dynamic_numbers() {
    let a = ans(
        LINPHONE,
        &Capabilities::new(vec![Codec::opus(), Codec::pcmu(), Codec::telephone_event()]),
    );
    let m = &a.sdp.media[0];
    assert_eq!(m.formats, vec!["96", "0", "101"]);
    assert_eq!(
        m.rtpmap(96)
            .map(|r| (r.encoding.as_str(), r.clock_rate, r.channels)),
        Some(("opus", 48000, Some(2)))
    );
    assert_eq!(
        m.fmtp(96),
        Some("useinbandfec=1"),
        "no fmtp of ours: echo theirs"
    );
    assert_eq!(
        m.rtpmap(101).unwrap().clock_rate,
        48000,
        "telephone-event at opus's rate"
    );
    let s = &a.streams[0];
    assert_eq!(s.remote_rtcp, Some(sa("10.0.0.5:7079")));
    assert!(!s.rtcp_mux);

    // Our own fmtp replaces theirs; with PCMU first we pick telephone-event/8000.
    let c = Capabilities::new(vec![
        Codec::pcmu(),
        Codec::opus().with_fmtp("useinbandfec=0"),
        Codec::telephone_event(),
    ]);
    let m = ans(LINPHONE, &c).sdp.media[0].clone();
    assert_eq!(m.formats, vec!["0", "96", "100"]);
    assert_eq!(m.fmtp(96), Some("useinbandfec=0"));
}

#[test]
fn webrtc_needs_its_transport() {
    let offer = p(WEBRTC);
    let e = answer(&offer, &caps(), &local(), &addrs(1)).unwrap_err();
    assert_eq!(e, NegotiationError::IncompatibleTransport);
    assert_eq!((e.status_code(), e.warning_code()), (488, 302));

    let mut c = caps();
    c.protocols.push(Protocol::UdpTlsRtpSavpf);
    c.preference = CodecPreference::Theirs;
    c.codecs.push(Codec::new("CN", 8000, None));
    let a = ans(WEBRTC, &c);
    let m = &a.sdp.media[0];
    assert_eq!(m.protocol, Protocol::UdpTlsRtpSavpf);
    // red (63) and CN/8000 (rate differs from opus) are left out.
    assert_eq!(m.formats, vec!["111", "9", "0", "8", "110"]);
    let s = &a.streams[0];
    assert_eq!(s.comfort_noise, None);
    assert!(!s.legacy_hold, "0.0.0.0 with ICE is not hold");
    assert_eq!(s.direction, Direction::SendRecv);
    assert!(s.rtcp_mux);
}

#[test]
fn video_and_image_rejected_audio_accepted() {
    let a = ans(VIDEO_AUDIO, &caps());
    let [v, au, img] = &a.sdp.media[..] else {
        panic!()
    };
    assert_eq!(
        (v.media.clone(), v.port, v.formats.clone()),
        (MediaType::Video, 0, vec!["96".to_string()])
    );
    assert!(v.rtpmaps.is_empty());
    assert_eq!(
        (img.media.clone(), img.port, &img.protocol),
        (MediaType::Image, 0, &Protocol::Udptl)
    );
    assert_eq!(img.formats, vec!["t38"]);
    assert_eq!(au.port, 30002, "the address given for m-line 1");
    assert_eq!(au.formats, vec!["0", "8", "101"]);
    assert_eq!(au.fmtp(101), Some("0-16"));
    assert_eq!(a.streams.len(), 1);
    assert_eq!(a.streams[0].index, 1);
    assert_eq!(a.streams[0].remote, Some(sa("203.0.113.8:49170")));
}

#[test]
fn directions_per_rfc3264() {
    let a = ans(HOLD_SENDONLY, &caps());
    assert_eq!(a.sdp.media[0].direction, Some(Direction::RecvOnly));
    assert_eq!(a.streams[0].remote_direction, Direction::SendOnly);
    assert_eq!(a.sdp.media[0].formats, vec!["8", "101"]);

    let mut holding = caps();
    holding.direction = Direction::SendOnly;
    assert_eq!(
        ans(HOLD_SENDONLY, &holding).sdp.media[0].direction,
        Some(Direction::Inactive)
    );
    assert_eq!(
        ans(SIPP, &holding).sdp.media[0].direction,
        Some(Direction::SendOnly)
    );

    for (offered, expect) in [
        ("recvonly", Direction::SendOnly),
        ("inactive", Direction::Inactive),
        ("sendrecv", Direction::SendRecv),
    ] {
        let text = format!("{SIPP}a={offered}\r\n");
        assert_eq!(
            ans(&text, &caps()).streams[0].direction,
            expect,
            "{offered}"
        );
    }
}

#[test]
fn legacy_zero_address_hold() {
    let a = ans(HOLD_ZERO, &caps());
    let s = &a.streams[0];
    assert!(s.legacy_hold);
    assert_eq!(s.remote, None);
    assert_eq!(s.remote_rtcp, None);
    assert_eq!(s.remote_direction, Direction::SendOnly);
    assert_eq!(a.sdp.media[0].direction, Some(Direction::RecvOnly));
    assert_eq!(a.sdp.media[0].formats, vec!["0", "101"]);
}

#[test]
fn no_common_codec_is_488_305() {
    let offer = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n\
                 m=audio 4000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    let e = answer(&p(offer), &caps(), &local(), &addrs(1)).unwrap_err();
    assert_eq!(e, NegotiationError::NoCommonCodec);
    assert_eq!(
        (e.status_code(), e.warning_code(), e.warning_text()),
        (488, 305, "Incompatible media format")
    );
    assert_eq!(
        e.warning_header("switchboard"),
        "305 switchboard \"Incompatible media format\""
    );
}

#[test]
fn no_audio_is_304() {
    let video = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n\
                 m=video 4000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
    let e = answer(&p(video), &caps(), &local(), &addrs(1)).unwrap_err();
    assert_eq!(
        (e.clone(), e.warning_code(), e.warning_text()),
        (NegotiationError::NoAudio, 304, "Media type not available")
    );
    let disabled = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
    assert_eq!(
        answer(&p(disabled), &caps(), &local(), &addrs(1)),
        Err(NegotiationError::NoAudio)
    );
    // A stream we have no local address for is rejected, not answered.
    assert_eq!(
        answer(&p(SIPP), &caps(), &local(), &[]),
        Err(NegotiationError::NoAudio)
    );
}

#[test]
fn our_offer_payload_types_and_text() {
    let mut c = caps();
    c.codecs
        .insert(0, Codec::new("iLBC", 8000, None).with_fmtp("mode=30"));
    let offer = build_offer(&c, &local(), sa("198.51.100.1:40000"));
    let m = &offer.media[0];
    assert_eq!(m.formats, vec!["96", "0", "8", "9", "97", "101"]);
    assert_eq!(m.codec(97), Some(Codec::opus()));
    assert_eq!(
        m.codec(96),
        Some(Codec::new("iLBC", 8000, None).with_fmtp("mode=30"))
    );
    assert_eq!(m.codec(101), Some(Codec::telephone_event()));
    assert_eq!(
        (m.port, m.rtcp_mux, m.ptime, m.direction),
        (40000, true, Some(20), Some(Direction::SendRecv))
    );
    let text = offer.to_string();
    assert!(text.starts_with("v=0\r\no=switchboard 4242 4242 IN IP4 198.51.100.1\r\ns=switchboard\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 96 0 8 9 97 101\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"));
    assert_eq!(parse(&text), Ok(offer.clone()));
    // A different media address goes into c=, the origin keeps ours.
    let o2 = build_offer(&c, &local(), sa("203.0.113.9:40000"));
    assert_eq!(o2.connection.as_ref().unwrap().address, "203.0.113.9");
    assert_eq!(o2.origin.address, "198.51.100.1");
}

const PHONE_ANSWER: &str = "v=0\r\no=- 99 100 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\n\
    m=audio 10400 RTP/AVP 8 100\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:100 telephone-event/8000\r\n\
    a=fmtp:100 0-15\r\na=ptime:30\r\na=rtcp-mux\r\na=recvonly\r\n";

#[test]
fn processing_the_answer_to_our_offer() {
    let offer = build_offer(&caps(), &local(), sa("198.51.100.1:40000"));
    let got = process_answer(&offer, &p(PHONE_ANSWER)).unwrap();
    let s = &got[0];
    assert_eq!(pts(&s.codecs), vec![8]);
    assert_eq!(s.codecs[0].codec.name, "PCMA");
    assert_eq!(
        s.telephone_event.as_ref().map(|t| t.payload_type),
        Some(100),
        "their number"
    );
    assert_eq!(s.remote, Some(sa("192.168.1.20:10400")));
    assert_eq!(s.remote_rtcp, Some(sa("192.168.1.20:10400")));
    assert_eq!(
        (s.remote_direction, s.direction),
        (Direction::RecvOnly, Direction::SendOnly)
    );
    assert_eq!(s.remote_ptime, Some(30));
    assert!(s.rtcp_mux);

    // Our own answerer against our own offer agrees with process_answer.
    let a = answer(&offer, &caps(), &local(), &addrs(1)).unwrap();
    let back = process_answer(&offer, &a.sdp).unwrap();
    assert_eq!(pts(&back[0].codecs), vec![0, 8, 9, 96]);
    assert_eq!(
        back[0].telephone_event.as_ref().map(|t| t.payload_type),
        Some(101)
    );
}

#[test]
fn bad_answers() {
    let offer = build_offer(&caps(), &local(), sa("198.51.100.1:40000"));
    let g729 = PHONE_ANSWER.replace("RTP/AVP 8 100", "RTP/AVP 18");
    assert_eq!(
        process_answer(&offer, &p(&g729)),
        Err(NegotiationError::UnofferedCodec { index: 0 })
    );
    let rejected = PHONE_ANSWER.replace("m=audio 10400", "m=audio 0");
    let e = process_answer(&offer, &p(&rejected)).unwrap_err();
    assert_eq!(
        (e.clone(), e.warning_code()),
        (NegotiationError::AllRejected, 304)
    );
    let two = format!("{PHONE_ANSWER}m=video 0 RTP/AVP 96\r\n");
    assert_eq!(
        process_answer(&offer, &p(&two)),
        Err(NegotiationError::MediaCountMismatch {
            offered: 1,
            answered: 2
        })
    );
    let video = PHONE_ANSWER.replace("m=audio", "m=video");
    assert_eq!(
        process_answer(&offer, &p(&video)),
        Err(NegotiationError::MediaMismatch { index: 0 })
    );
}

#[test]
fn hold_reoffer_round() {
    let mut offer = build_offer(&caps(), &local(), sa("198.51.100.1:40000"));
    offer.set_direction(Direction::SendOnly);
    assert_eq!(offer.origin.session_version, 4243);
    let reply = PHONE_ANSWER.replace("a=recvonly", "a=sendrecv");
    let s = &process_answer(&offer, &p(&reply)).unwrap()[0];
    assert_eq!(s.direction, Direction::SendOnly);
    offer.set_direction(Direction::SendRecv);
    assert_eq!(offer.origin.session_version, 4244);
    let inactive = PHONE_ANSWER.replace("a=recvonly", "a=inactive");
    assert_eq!(
        process_answer(&offer, &p(&inactive)).unwrap()[0].direction,
        Direction::Inactive
    );
}
