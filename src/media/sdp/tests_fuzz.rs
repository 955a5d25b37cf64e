//! Proptests: random bytes, mutated real-world samples and SDP-shaped
//! garbage never make the parser, the helpers or the negotiation panic, and
//! whatever parses round-trips through `Display`.

use proptest::prelude::*;

use super::tests::ALL;
use super::*;

fn mutate(base: &[u8], ops: &[(u8, usize, u8)]) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(op, at, byte) in ops {
        let at = if v.is_empty() { 0 } else { at % (v.len() + 1) };
        match op % 5 {
            0 => {
                v.insert(at, byte);
            }
            1 if at < v.len() => {
                v.remove(at);
            }
            2 if at < v.len() => v[at] = byte,
            3 => v.truncate(at),
            _ => {
                let chunk: Vec<u8> = v[at..].iter().copied().take(24).collect();
                v.splice(at..at, chunk);
            }
        }
    }
    v
}

fn exercise(bytes: &[u8]) {
    if let Ok(sdp) = parse_bytes(bytes) {
        let text = sdp.to_string();
        assert_eq!(parse(&text), Ok(sdp.clone()), "round trip of {text:?}");
        for i in 0..sdp.media.len() + 1 {
            let _ = sdp.rtp_destination(i);
            let _ = sdp.rtcp_destination(i, i % 2 == 0);
            let _ = sdp.is_legacy_hold(i);
        }
        let caps = Capabilities::new(vec![Codec::pcmu(), Codec::opus(), Codec::telephone_event()]);
        let local = LocalSession::new("10.0.0.1".parse().unwrap(), 7);
        let addrs: Vec<_> = (0..sdp.media.len())
            .map(|i| ([10, 0, 0, 1], 20000 + i as u16).into())
            .collect();
        if let Ok(a) = answer(&sdp, &caps, &local, &addrs) {
            assert_eq!(a.sdp.media.len(), sdp.media.len());
            assert_eq!(parse(&a.sdp.to_string()), Ok(a.sdp.clone()));
        }
        let _ = process_answer(&sdp, &sdp);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_samples_never_panic(
        which in 0..ALL.len(),
        ops in proptest::collection::vec((any::<u8>(), any::<usize>(), prop_oneof![
            Just(b'\n'), Just(b' '), Just(b'='), Just(b':'), Just(b'/'), Just(b'0'), Just(b'9'),
            Just(b'm'), Just(b'a'), any::<u8>()
        ]), 1..6),
    ) {
        exercise(&mutate(ALL[which].as_bytes(), &ops));
    }

    #[test]
    fn sdp_like_lines_never_panic(lines in proptest::collection::vec(
        "[vosictmabkzrux]=[ -~]{0,30}", 0..20)) {
        let text = format!("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n{}", lines.join("\r\n"));
        exercise(text.as_bytes());
    }
}
