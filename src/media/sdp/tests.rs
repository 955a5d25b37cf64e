//! Parser and serializer tests: real-world sample descriptions (shared with
//! `tests_negotiate.rs` and `tests_fuzz.rs`), round trips, and malformed
//! input naming the line.

use super::*;

pub(super) const SIPP: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

pub(super) const BARESIP: &str = "v=0\r\n\
o=- 1318462394 2127811853 IN IP4 192.168.1.20\r\n\
s=-\r\n\
c=IN IP4 192.168.1.20\r\n\
t=0 0\r\n\
m=audio 10298 RTP/AVP 0 8 101\r\n\
b=AS:80\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=rtcp-mux\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=ssrc:3061219577 cname:baresip@host\r\n\
a=ptime:20\r\n";

pub(super) const LINPHONE: &str = "v=0\r\n\
o=alice 2275 1016 IN IP4 10.0.0.5\r\n\
s=Talk\r\n\
c=IN IP4 10.0.0.5\r\n\
t=0 0\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
a=record:off\r\n\
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:97 speex/16000\r\n\
a=fmtp:97 vbr=on\r\n\
a=rtpmap:98 speex/8000\r\n\
a=fmtp:98 vbr=on\r\n\
a=fmtp:18 annexb=yes\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:99 telephone-event/16000\r\n\
a=rtpmap:100 telephone-event/8000\r\n\
a=rtcp:7079\r\n\
a=rtcp-fb:* trr-int 1000\r\n\
a=rtcp-fb:* ccm tmmbr\r\n";

pub(super) const WEBRTC: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS stream1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2122260223 192.168.1.7 54321 typ host generation 0\r\n\
a=ice-ufrag:EsAw\r\n\
a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=sendrecv\r\n\
a=msid:stream1 track1\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:1001 cname:abcd\r\n";

pub(super) const VIDEO_AUDIO: &str = "v=0\r\n\
o=bob 2808844564 2808844564 IN IP4 203.0.113.7\r\n\
s=Call\r\n\
c=IN IP4 203.0.113.7\r\n\
t=0 0\r\n\
m=video 51372 RTP/AVP 96\r\n\
b=TIAS:512000\r\n\
a=rtpmap:96 H264/90000\r\n\
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n\
m=audio 49170 RTP/AVP 8 0 101\r\n\
c=IN IP4 203.0.113.8\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
m=image 49172 udptl t38\r\n\
a=T38FaxVersion:0\r\n\
a=T38FaxRateManagement:transferredTCF\r\n";

pub(super) const HOLD_SENDONLY: &str = "v=0\r\n\
o=user1 53655765 2353687638 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 8 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendonly\r\n";

/// RFC 2543 hold, sloppy phone style: `\n` only, trailing spaces, no `s=`.
pub(super) const HOLD_ZERO: &str = "v=0\n\
o=Cisco-SIPUA 7465 7466 IN IP4 192.0.2.33  \n\
c=IN IP4 0.0.0.0\n\
t=0 0\n\
m=audio 22362 RTP/AVP 0 101\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-15\n\
\n";

pub(super) const ALL: [&str; 8] = [
    SIPP,
    BARESIP,
    LINPHONE,
    WEBRTC,
    VIDEO_AUDIO,
    HOLD_SENDONLY,
    HOLD_ZERO,
    MISSING_LINES,
];

const MISSING_LINES: &str = "v=0\no=- 1 1 IN IP6 2001:db8::1\nm=audio 4000 RTP/AVP 9\n";

fn p(text: &str) -> SessionDescription {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn round_trips_every_sample() {
    for text in ALL {
        let sdp = p(text);
        let out = sdp.to_string();
        assert!(out.ends_with("\r\n"), "{out}");
        assert!(!out.replace("\r\n", "").contains('\n'), "bare LF in {out}");
        assert_eq!(parse(&out), Ok(sdp.clone()), "{out}");
        assert_eq!(p(&out).to_string(), out);
    }
    // Already-canonical samples are reproduced byte for byte.
    assert_eq!(p(SIPP).to_string(), SIPP);
    assert_eq!(p(HOLD_SENDONLY).to_string(), HOLD_SENDONLY);
}

#[test]
fn sipp_fields() {
    let sdp = p(SIPP);
    assert_eq!(sdp.version, 0);
    let o = &sdp.origin;
    assert_eq!(
        (
            o.username.as_str(),
            o.session_id.as_str(),
            o.session_version
        ),
        ("user1", "53655765", 2353687637)
    );
    assert_eq!(
        (
            o.net_type.as_str(),
            o.addr_type.as_str(),
            o.address.as_str()
        ),
        ("IN", "IP4", "127.0.0.1")
    );
    assert_eq!(sdp.session_name, "-");
    assert_eq!(
        sdp.timing,
        vec![Timing {
            start: 0,
            stop: 0,
            repeats: vec![]
        }]
    );
    let m = &sdp.media[0];
    assert_eq!(
        (m.media.clone(), m.port, m.protocol.clone()),
        (MediaType::Audio, 6000, Protocol::RtpAvp)
    );
    assert_eq!(m.formats, vec!["0"]);
    assert_eq!(m.codecs(), vec![(0, Codec::pcmu())]);
    assert_eq!(
        sdp.rtp_destination(0),
        Some("127.0.0.1:6000".parse().unwrap())
    );
    assert_eq!(
        sdp.rtcp_destination(0, false),
        Some("127.0.0.1:6001".parse().unwrap())
    );
    assert_eq!(sdp.direction_of(m), Direction::SendRecv);
}

#[test]
fn baresip_typed_and_kept_attributes() {
    let sdp = p(BARESIP);
    let m = &sdp.media[0];
    assert_eq!(m.rtpmaps.len(), 3);
    assert_eq!(m.fmtp(101), Some("0-15"));
    assert!(m.rtcp_mux);
    assert_eq!(m.ptime, Some(20));
    assert_eq!(m.direction, Some(Direction::SendRecv));
    assert_eq!(
        m.bandwidths,
        vec![Bandwidth {
            bw_type: "AS".into(),
            bandwidth: 80
        }]
    );
    assert_eq!(
        m.attributes,
        vec![
            Attribute::new("label", "1"),
            Attribute::new("ssrc", "3061219577 cname:baresip@host")
        ]
    );
}

#[test]
fn linphone_static_and_orphan_fmtp() {
    let sdp = p(LINPHONE);
    assert_eq!(sdp.session_name, "Talk");
    assert_eq!(sdp.attributes.len(), 2);
    assert_eq!(sdp.attributes[1], Attribute::new("record", "off"));
    let m = &sdp.media[0];
    assert_eq!(m.codec(96), Some(Codec::opus().with_fmtp("useinbandfec=1")));
    assert_eq!(m.codec(18), Some(Codec::g729().with_fmtp("annexb=yes")));
    assert_eq!(m.codec(8), Some(Codec::pcma()));
    assert_eq!(m.codecs().len(), 9);
    assert_eq!(
        m.rtcp,
        Some(Rtcp {
            port: 7079,
            connection: None
        })
    );
    assert_eq!(
        sdp.rtcp_destination(0, false),
        Some("10.0.0.5:7079".parse().unwrap())
    );
    assert_eq!(
        sdp.rtcp_destination(0, true),
        Some("10.0.0.5:7078".parse().unwrap())
    );
    // The orphan fmtp (no rtpmap for 18) is written after the rtpmap'd ones.
    let out = sdp.to_string();
    assert!(out.find("a=fmtp:18").unwrap() > out.find("a=rtpmap:100").unwrap());
}

#[test]
fn webrtc_ice_placeholder_is_not_hold() {
    let sdp = p(WEBRTC);
    let m = &sdp.media[0];
    assert_eq!(m.protocol, Protocol::UdpTlsRtpSavpf);
    assert!(sdp.connection.is_none());
    assert_eq!(sdp.connection_for(m).unwrap().address, "0.0.0.0");
    assert!(!sdp.is_legacy_hold(0));
    assert_eq!(sdp.rtp_destination(0), None);
    let rtcp = m.rtcp.as_ref().unwrap();
    assert_eq!(rtcp.port, 9);
    assert_eq!(rtcp.connection.as_ref().unwrap().address, "0.0.0.0");
    assert_eq!(
        m.attribute("ice-ufrag").unwrap().value.as_deref(),
        Some("EsAw")
    );
    assert_eq!(
        sdp.attributes[2],
        Attribute::new("msid-semantic", " WMS stream1")
    );
    assert_eq!(m.fmtp(63), Some("111/111"));
}

#[test]
fn video_audio_image() {
    let sdp = p(VIDEO_AUDIO);
    assert_eq!(sdp.media.len(), 3);
    assert_eq!(sdp.media[0].media, MediaType::Video);
    assert_eq!(sdp.media[2].media, MediaType::Image);
    assert_eq!(sdp.media[2].protocol, Protocol::Udptl);
    assert_eq!(sdp.media[2].formats, vec!["t38"]);
    assert_eq!(sdp.media[2].attributes.len(), 2);
    // Media-level c= wins over the session-level one.
    assert_eq!(
        sdp.rtp_destination(1),
        Some("203.0.113.8:49170".parse().unwrap())
    );
    assert_eq!(
        sdp.rtp_destination(0),
        Some("203.0.113.7:51372".parse().unwrap())
    );
}

#[test]
fn hold_forms() {
    let sdp = p(HOLD_SENDONLY);
    assert_eq!(sdp.direction_of(&sdp.media[0]), Direction::SendOnly);
    assert!(!sdp.is_legacy_hold(0));

    let sdp = p(HOLD_ZERO);
    assert_eq!(sdp.session_name, "-", "missing s= tolerated");
    assert_eq!(
        sdp.origin.address, "192.0.2.33",
        "trailing spaces tolerated"
    );
    assert!(sdp.is_legacy_hold(0));
    assert_eq!(sdp.rtp_destination(0), None);
    assert_eq!(sdp.media[0].codec(0), Some(Codec::pcmu()));

    let sdp = p(MISSING_LINES);
    assert_eq!(
        sdp.timing,
        vec![Timing {
            start: 0,
            stop: 0,
            repeats: vec![]
        }]
    );
    assert_eq!(sdp.rtp_destination(0), None, "no c= anywhere");
    assert_eq!(sdp.media[0].codec(9), Some(Codec::g722()));
}

#[test]
fn session_direction_and_media_override() {
    let text = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\na=recvonly\r\n\
                m=audio 1000 RTP/AVP 0\r\nm=audio 1002 RTP/AVP 0\r\na=inactive\r\n";
    let sdp = p(text);
    assert_eq!(sdp.direction, Some(Direction::RecvOnly));
    assert_eq!(sdp.direction_of(&sdp.media[0]), Direction::RecvOnly);
    assert_eq!(sdp.direction_of(&sdp.media[1]), Direction::Inactive);
    assert_eq!(parse(&sdp.to_string()), Ok(sdp));
}

#[test]
fn version_bump_and_hold_helper() {
    let mut sdp = p(BARESIP);
    let v = sdp.origin.session_version;
    sdp.set_direction(Direction::SendOnly);
    assert_eq!(sdp.origin.session_version, v + 1);
    assert_eq!(sdp.media[0].direction, Some(Direction::SendOnly));
    sdp.bump_version();
    assert!(
        sdp.to_string()
            .contains(&format!("o=- 1318462394 {} IN IP4", v + 2))
    );
    sdp.origin.session_version = u64::MAX;
    sdp.bump_version();
    assert_eq!(sdp.origin.session_version, 0);
}

fn err(text: &str) -> SdpError {
    match parse(text) {
        Ok(sdp) => panic!("accepted: {sdp:?}"),
        Err(e) => e,
    }
}

const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n";

#[test]
fn malformed_lines_are_named() {
    let cases: [(&str, usize, SdpErrorKind); 16] = [
        ("garbage", 6, SdpErrorKind::MissingEquals),
        (
            "m=audio abc RTP/AVP 0",
            6,
            SdpErrorKind::BadMedia("port is not a number in 0..65535"),
        ),
        (
            "m=audio 70000 RTP/AVP 0",
            6,
            SdpErrorKind::BadMedia("port is not a number in 0..65535"),
        ),
        (
            "m=audio 4000 RTP/AVP x",
            6,
            SdpErrorKind::BadMedia("RTP payload type is not a number in 0..127"),
        ),
        (
            "m=audio 4000",
            6,
            SdpErrorKind::BadMedia("expected <media> <port> <proto> <fmt>..."),
        ),
        (
            "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0",
            7,
            SdpErrorKind::BadRtpmap("expected <payload type> <encoding>/<clock rate>"),
        ),
        (
            "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000x",
            7,
            SdpErrorKind::BadRtpmap("clock rate is not a positive number"),
        ),
        (
            "m=audio 4000 RTP/AVP 0\r\na=rtpmap:200 foo/8000",
            7,
            SdpErrorKind::BadRtpmap("payload type not in 0..127"),
        ),
        (
            "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 a/8000\r\na=rtpmap:96 b/8000",
            8,
            SdpErrorKind::BadRtpmap("payload type mapped twice"),
        ),
        (
            "m=audio 4000 RTP/AVP 0\r\na=fmtp:x y",
            7,
            SdpErrorKind::BadFmtp("payload type not in 0..127"),
        ),
        (
            "m=audio 4000 RTP/AVP 0\r\na=rtcp:abc",
            7,
            SdpErrorKind::BadRtcp,
        ),
        (
            "m=audio 4000 RTP/AVP 0\r\nt=0 0",
            7,
            SdpErrorKind::Misplaced("session-level line inside a media section"),
        ),
        ("x=unknown", 6, SdpErrorKind::UnknownType('x')),
        ("c=IN IP4 5.6.7.8", 6, SdpErrorKind::Duplicate('c')),
        ("b=AS", 6, SdpErrorKind::BadBandwidth),
        ("a=", 6, SdpErrorKind::BadAttribute),
    ];
    for (tail, line, kind) in cases {
        let e = err(&format!("{HEAD}{tail}\r\n"));
        assert_eq!((e.line, &e.kind), (line, &kind), "{tail}: {e}");
        assert!(e.to_string().contains(&format!("line {line}")), "{e}");
    }
}

#[test]
fn malformed_session_structure() {
    assert_eq!(err("").kind, SdpErrorKind::Empty);
    assert_eq!(err("\r\n\r\n").kind, SdpErrorKind::Empty);
    let e = err("o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n");
    assert_eq!((e.line, e.kind), (1, SdpErrorKind::VersionNotFirst));
    assert_eq!(err("v=1\r\n").kind, SdpErrorKind::BadVersion);
    assert_eq!(err("v=0\r\nv=0\r\n").kind, SdpErrorKind::Duplicate('v'));
    let e = err("v=0\r\ns=-\r\nt=0 0\r\n");
    assert_eq!((e.line, e.kind), (0, SdpErrorKind::MissingOrigin));
    let e = err("v=0\r\no=- 1 IN IP4 1.2.3.4\r\n");
    assert_eq!(
        (e.line, e.kind),
        (2, SdpErrorKind::BadOrigin("expected 6 fields"))
    );
    let e = err("v=0\r\no=- 1 x IN IP4 1.2.3.4\r\n");
    assert_eq!(
        e.kind,
        SdpErrorKind::BadOrigin("sess-version is not a number")
    );
    let e = err("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nr=7d 1h 0 25h\r\n");
    assert_eq!(
        (e.line, e.kind),
        (3, SdpErrorKind::Misplaced("r= line before any t= line"))
    );
    let e = err("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4\r\n");
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, SdpErrorKind::BadConnection(_)));
    assert_eq!(
        err("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nt=now 0\r\n").kind,
        SdpErrorKind::BadTiming
    );
    let e = parse_bytes(b"v=0\r\ns=\xff\r\n").unwrap_err();
    assert_eq!(e.kind, SdpErrorKind::NotUtf8);
}

#[test]
fn tolerated_oddities() {
    // Non-integer ptime is kept as an untyped attribute; empty s= kept.
    let sdp = p(
        "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=\nt=0 0\nm=audio 4000  RTP/AVP  0\na=ptime:20.5\na=fmtp:0\n",
    );
    let m = &sdp.media[0];
    assert_eq!(m.ptime, None);
    assert_eq!(m.attributes, vec![Attribute::new("ptime", "20.5")]);
    assert_eq!(
        m.fmtps,
        vec![Fmtp {
            payload_type: 0,
            params: String::new()
        }]
    );
    assert_eq!(sdp.session_name, "");
    assert!(sdp.to_string().contains("s= \r\n"));
    assert_eq!(parse(&sdp.to_string()), Ok(sdp));
    // Repeats attach to their t= line; r= and port counts round-trip.
    let sdp = p(
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\nt=1 2\r\nr=7d 1h 0 25h\r\nm=audio 4000/2 RTP/AVP\r\n",
    );
    assert_eq!(sdp.timing[0].repeats, vec!["7d 1h 0 25h"]);
    assert_eq!(sdp.media[0].port_count, Some(2));
    assert!(sdp.media[0].formats.is_empty());
    assert_eq!(parse(&sdp.to_string()), Ok(sdp));
}
