//! Parse + serialize of an 890-byte INVITE with SDP: ours vs rsip 0.4.
//! Prints "speedup vs rsip: N.Nx" from a separate timing loop at the end.

use bytes::Bytes;
use criterion::{Criterion, black_box};
use std::time::Instant;
use switchboard::sip::codec::parse_datagram;

const SDP: &str = "v=0\r\n\
o=- 3914551247 3914551247 IN IP4 198.51.100.17\r\n\
s=Switchboard\r\n\
c=IN IP4 198.51.100.17\r\n\
t=0 0\r\n\
m=audio 40002 RTP/AVP 0 8 9 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

fn invite() -> Vec<u8> {
    let head = format!(
        "INVITE sip:+15551230000@pbx.example.com;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.17:5060;branch=z9hG4bK-524287-1---77ba7c1b1ae3d3f1;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:agent042@198.51.100.17:5060;transport=udp>\r\n\
To: <sip:+15551230000@pbx.example.com;user=phone>\r\n\
From: \"Agent 042\" <sip:agent042@pbx.example.com>;tag=8a1b2c3d\r\n\
Call-ID: ZDk3NzQ5YjE0YTZmMzU1ZWM0NjU5MjJmOWZhNTc2ZjM.\r\n\
CSeq: 2 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Content-Type: application/sdp\r\n\
Supported: replaces, norefersub, timer\r\n\
User-Agent: SB-Softphone/1.4.2\r\n\
Content-Length: {}\r\n\r\n",
        SDP.len()
    );
    let mut v = head.into_bytes();
    v.extend_from_slice(SDP.as_bytes());
    v
}

fn ours_round(buf: &Bytes) -> usize {
    let m = parse_datagram(buf.clone()).expect("valid");
    m.to_bytes().len()
}

fn rsip_round(buf: &[u8]) -> usize {
    let m = rsip::SipMessage::try_from(buf).expect("valid");
    m.to_string().len()
}

fn time_per_iter(mut f: impl FnMut() -> usize) -> f64 {
    let mut sink = 0usize;
    for _ in 0..2_000 {
        sink = sink.wrapping_add(f());
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let n = 20_000;
        let t = Instant::now();
        for _ in 0..n {
            sink = sink.wrapping_add(f());
        }
        best = best.min(t.elapsed().as_secs_f64() / n as f64);
    }
    black_box(sink);
    best
}

fn main() {
    let raw = invite();
    assert_eq!(
        raw.len(),
        890,
        "the benchmark message is the 890-byte INVITE the issue names"
    );
    let bytes = Bytes::from(raw.clone());
    assert_eq!(ours_round(&bytes), raw.len());
    let mut c = Criterion::default()
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1))
        .configure_from_args();
    c.bench_function("ours/parse", |b| {
        b.iter(|| parse_datagram(black_box(bytes.clone())).expect("valid"))
    });
    c.bench_function("ours/parse+serialize", |b| {
        b.iter(|| ours_round(black_box(&bytes)))
    });
    c.bench_function("rsip/parse+serialize", |b| {
        b.iter(|| rsip_round(black_box(&raw)))
    });
    c.final_summary();
    let ours = time_per_iter(|| ours_round(black_box(&bytes)));
    let theirs = time_per_iter(|| rsip_round(black_box(&raw)));
    println!(
        "message: {} bytes; ours/parse+serialize: {:.0} ns; rsip/parse+serialize: {:.0} ns",
        raw.len(),
        ours * 1e9,
        theirs * 1e9
    );
    println!("speedup vs rsip: {:.1}x", theirs / ours);
}
