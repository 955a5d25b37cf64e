//! Property tests: no input makes the codec panic (parse, framing,
//! validation, every typed accessor, serialization, editing), and valid
//! generated messages are a fixed point of parse(serialize(parse(m))).
//! Case count: PROPTEST_CASES (default 256 here).

use bytes::Bytes;
use proptest::prelude::*;
use switchboard::sip::codec::{
    HeaderName, MessageBuilder, Method, Policy, ResponseRole, SipMessage, check_forward,
    check_request, check_response, error_response, frame_stream, parse_datagram,
    parse_stream_message, response_to,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/rfc4475");

fn seeds() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(CORPUS)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "dat").then(|| std::fs::read(p).ok())?
        })
        .collect();
    v.sort();
    v
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Touches every accessor; results are ignored, panics are not.
fn exercise(m: &SipMessage) {
    let _ = (
        m.method(),
        m.request_uri(),
        m.status(),
        m.reason(),
        m.version(),
    );
    for h in m.headers() {
        let _ = (h.value.to_str(), h.value.unfolded());
    }
    let _ = (
        m.via(),
        m.top_via(),
        m.from(),
        m.to(),
        m.call_id(),
        m.cseq(),
    );
    let _ = (
        m.contacts(),
        m.max_forwards(),
        m.routes(),
        m.record_routes(),
    );
    let _ = (
        m.authorization(),
        m.proxy_authorization(),
        m.www_authenticate(),
    );
    let _ = (
        m.expires(),
        m.content_type(),
        m.supported(),
        m.require(),
        m.content_length(),
    );
    let _ = (
        m.user_agent(),
        m.body(),
        m.list_values(HeaderName::Accept).count(),
    );
    if let Ok(to) = m.to() {
        let _ = (
            to.display_name(),
            to.tag(),
            to.expires(),
            to.q(),
            to.uri.user_unescaped(),
        );
    }
    let _ = check_request(
        m,
        &Policy {
            accept: &["application/sdp"],
            ..Policy::default()
        },
    );
    let _ = (
        check_forward(m),
        check_response(m, ResponseRole::Uac),
        check_response(m, ResponseRole::Proxy),
    );
    let out = m.to_bytes();
    let _ = parse_datagram(out);
    let _ = m
        .edit()
        .prepend("Via", "SIP/2.0/UDP x;branch=z9hG4bK1")
        .remove_all(HeaderName::Route)
        .finish();
    if m.is_request() {
        let _ = response_to(m, 400, "Bad", Some("t")).build();
    }
}

fn run_all(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    match parse_datagram(buf.clone()) {
        Ok(m) => exercise(&m),
        Err(e) => {
            let _ = (e.can_respond(), error_response(&e), e.reason_phrase());
        }
    }
    if let Ok(switchboard::sip::codec::Frame::Complete(n)) = frame_stream(data, 4096)
        && let Ok(m) = parse_stream_message(buf.slice(..n.min(buf.len())))
    {
        exercise(&m);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b"\r\n".to_vec(),
        b"\r\n ".to_vec(),
        b":".to_vec(),
        b";".to_vec(),
        b",".to_vec(),
        b"\"".to_vec(),
        b"<".to_vec(),
        b">".to_vec(),
        b"%".to_vec(),
        b"\0".to_vec(),
        b"Content-Length: 99999999999\r\n".to_vec(),
        b"l: 5\r\n".to_vec(),
        b"\xff\xfe".to_vec(),
        b"[".to_vec(),
        b"@".to_vec(),
        b" ".to_vec(),
        b"=".to_vec(),
        b"\\".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![interesting, prop::collection::vec(any::<u8>(), 1..8)]
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn apply(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = v.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if let Some(x) = v.get_mut(i % len) {
                    *x = *b;
                }
            }
            Mutation::Truncate(i) => v.truncate(i % len),
            Mutation::Insert(i, bytes) => {
                let at = (i % len).min(v.len());
                v.splice(at..at, bytes.iter().copied());
            }
            Mutation::Duplicate(i, n) => {
                let at = (i % len).min(v.len());
                let end = (at + n).min(v.len());
                let chunk = v[at..end].to_vec();
                v.splice(end..end, chunk);
            }
            Mutation::Delete(i, n) => {
                let at = (i % len).min(v.len());
                let end = (at + n).min(v.len());
                v.drain(at..end);
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        run_all(&data);
    }

    #[test]
    fn mutated_corpus_never_panics(idx in 0usize..50, muts in prop::collection::vec(mutation(), 1..6)) {
        let seeds = seeds();
        let seed = seeds[idx % seeds.len()].clone();
        run_all(&apply(seed, &muts));
    }

    #[test]
    fn generated_messages_round_trip(
        method in prop::sample::select(vec!["INVITE", "OPTIONS", "BYE", "REGISTER", "NEWMETHOD", "MESSAGE"]),
        user in "[a-z0-9%._-]{1,12}",
        host in "[a-z]{1,10}\\.example\\.(com|net)",
        port in prop::option::of(1u16..65535),
        vias in prop::collection::vec(("[a-z]{1,8}", "[A-Za-z0-9]{1,10}"), 1..4),
        tag in "[A-Za-z0-9]{1,10}",
        cseq in any::<u32>(),
        extra in prop::collection::vec(("X-[A-Za-z]{1,8}", "[ -~&&[^\\r\\n]]{0,20}"), 0..4),
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let uri = match port { Some(p) => format!("sip:{user}@{host}:{p}"), None => format!("sip:{user}@{host}") };
        let m = Method::parse(method).unwrap();
        let mut b = MessageBuilder::request(&m, &uri);
        for (h, br) in &vias {
            b.push("Via", &format!("SIP/2.0/UDP {h}.example.org;branch=z9hG4bK{br}"));
        }
        b.push("From", &format!("<sip:a@{host}>;tag={tag}"));
        b.push("To", &format!("\"Bob\" <{uri}>"));
        b.push("Call-ID", &format!("{tag}@{host}"));
        b.push("CSeq", &format!("{cseq} {method}"));
        b.push("Max-Forwards", "70");
        for (n, v) in &extra {
            b.push(n, v);
        }
        let first = b.body(body.clone()).build().unwrap();
        let again = parse_datagram(first.to_bytes()).unwrap();
        prop_assert_eq!(again.to_bytes(), first.to_bytes());
        prop_assert_eq!(again.method(), Some(&m));
        prop_assert_eq!(again.request_uri_str(), Some(uri.as_str()));
        prop_assert_eq!(&again.body()[..], &body[..]);
        prop_assert_eq!(again.via().unwrap().len(), vias.len());
        prop_assert_eq!(again.cseq().unwrap().seq, cseq);
        prop_assert_eq!(again.from().unwrap().tag(), Some(tag.as_str()));
        prop_assert_eq!(check_request(&again, &Policy::default()).code(), None);
        let framed = frame_stream(&first.to_bytes(), 1 << 16).unwrap();
        prop_assert_eq!(framed, switchboard::sip::codec::Frame::Complete(first.to_bytes().len()));
    }
}
