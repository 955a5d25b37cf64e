//! RFC 4475 torture corpus: every message gets the verdict its RFC section
//! calls for, parsed messages round-trip, and bodies are byte-exact.

use bytes::Bytes;
use switchboard::sip::codec::{
    HeaderName, Method, ParseErrorKind, Policy, ResponseRole, ResponseVerdict, SipMessage,
    check_forward, check_request, check_response, error_response, parse_datagram,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/rfc4475");

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Parses and passes validation.
    Accept,
    /// Parses; request validation answers this code.
    Code(u16),
    /// Parses; response validation (as a UAC) drops it.
    Discard,
    /// Fails to parse.
    ParseErr,
}
use Expect::*;

/// file, RFC 4475 section, expected outcome (default policy: no extensions
/// supported, no body-type check, registrar rules on).
const TABLE: &[(&str, &str, Expect)] = &[
    ("TC_WSINV.dat", "3.1.1.1", Accept),
    ("TC_INTMETH.dat", "3.1.1.2", Accept),
    ("TC_ESC01_V.dat", "3.1.1.3", Accept),
    ("TC_ESCNULL_V.dat", "3.1.1.4", Accept),
    ("TC_ESC02_V.dat", "3.1.1.5", Accept),
    ("TC_LWSDISP_V.dat", "3.1.1.6", Accept),
    ("TC_LONGREQ_V.dat", "3.1.1.7", Accept),
    ("TC_DBLREQ.dat", "3.1.1.8", Accept),
    ("TC_SEMIURI_V.dat", "3.1.1.9", Accept),
    ("TC_TRANSPORTS_V.dat", "3.1.1.10", Accept),
    ("TC_MPART01.dat", "3.1.1.11", Accept),
    ("TC_UNREASON_V.dat", "3.1.1.12", Accept),
    ("TC_NOREASON_V.dat", "3.1.1.13", Accept),
    // 3.1.2: invalid messages.
    ("TC_BADINV01_I.dat", "3.1.2.1", Code(400)), // empty Via/Contact params
    ("TC_CLERR_I.dat", "3.1.2.2", ParseErr),     // Content-Length past the datagram
    ("TC_NCL_I.dat", "3.1.2.3", ParseErr),       // negative Content-Length
    ("TC_SCALAR02_V.dat", "3.1.2.4", Code(400)), // CSeq > 2^32-1
    ("TC_SCALARLG_V.dat", "3.1.2.5", Discard),   // response with CSeq overflow
    ("TC_QUOTBAL_I.dat", "3.1.2.6", Code(400)),  // unbalanced quote in To
    ("TC_LTGTRURI_I.dat", "3.1.2.7", ParseErr),  // <> around Request-URI
    ("TC_LWSRURI_I.dat", "3.1.2.8", ParseErr),   // SP inside Request-URI
    ("TC_LWSSTART_V.dat", "3.1.2.9", ParseErr),  // double SP in request line
    ("TC_TRWS_I.dat", "3.1.2.10", ParseErr),     // trailing SP after version
    ("TC_ESCRURI_V.dat", "3.1.2.11", Code(400)), // headers in Request-URI
    ("TC_BADDATE_V.dat", "3.1.2.12", Code(400)), // Date not in GMT
    ("TC_REGBADCT_I.dat", "3.1.2.13", Code(400)), // '?' in unbracketed Contact
    ("TC_BADASPEC_I.dat", "3.1.2.14", Code(400)), // spaces inside <>
    ("TC_BADDN_I.dat", "3.1.2.15", ParseErr),    // (file lacks the final CRLF) and unquoted ','
    ("TC_BADVERS_V.dat", "3.1.2.16", Code(505)),
    ("TC_MISMATCH01_V.dat", "3.1.2.17", Code(400)),
    ("TC_MISMATCH02_V.dat", "3.1.2.18", Code(400)),
    ("TC_BIGCODE_V.dat", "3.1.2.19", ParseErr),
    ("TC_BADBRANCH_V.dat", "3.2.1", Accept),
    // 3.3: well formed, answered by the rules in `validate`.
    ("TC_INSUF_I.dat", "3.3.1", Code(400)),
    ("TC_UNKSCM_V.dat", "3.3.2", Code(416)),
    ("TC_NOVELSC_V.dat", "3.3.3", Code(416)),
    ("TC_UNKSM2_V.dat", "3.3.4", Code(400)),
    ("TC_BEXT01_V.dat", "3.3.5", Code(420)),
    ("TC_INVUT_V.dat", "3.3.6", Accept), // 415 comes from Policy::accept, see below
    ("TC_REGAUT01_V.dat", "3.3.7", Accept), // auth layer answers 401
    ("TC_MULTI01_I.dat", "3.3.8", Code(400)),
    ("TC_MCL01_I.dat", "3.3.9", Code(400)),
    ("TC_BCAST_V.dat", "3.3.10", Discard),
    ("TC_ZEROMF_V.dat", "3.3.11", Accept), // UAS answers; check_forward gives 483
    ("TC_CPARAM01_V.dat", "3.3.12", Accept),
    ("TC_CPARAM02_V.dat", "3.3.13", Accept),
    ("TC_REGESCRT_V.dat", "3.3.14", Accept),
    ("TC_SDP01_V.dat", "3.3.15", Accept), // application answers 406/400
    ("TC_INV2543_I.dat", "3.4.1", Accept),
    ("TC_TEST_I.dat", "-", ParseErr),
];

fn load(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CORPUS}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse(name: &str) -> SipMessage {
    parse_datagram(Bytes::from(load(name))).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn outcome(buf: &[u8]) -> Expect {
    match parse_datagram(Bytes::copy_from_slice(buf)) {
        Err(_) => ParseErr,
        Ok(m) if m.is_request() => match check_request(&m, &Policy::default()).code() {
            None => Accept,
            Some(c) => Code(c),
        },
        Ok(m) => match check_response(&m, ResponseRole::Uac) {
            ResponseVerdict::Accept => Accept,
            ResponseVerdict::Discard(_) => Discard,
        },
    }
}

#[test]
fn table_covers_corpus_and_expected_tsv() {
    let tsv = std::fs::read_to_string(format!("{CORPUS}/expected.tsv")).unwrap();
    let mut n = 0;
    for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, section, verdict) = (cols[0], cols[1], cols[2]);
        let (_, sec, exp) = TABLE
            .iter()
            .find(|(f, _, _)| *f == file)
            .unwrap_or_else(|| panic!("{file} missing from TABLE"));
        assert_eq!(*sec, section, "{file}");
        match verdict {
            // Valid sections: must parse (3.3 cases may still be rejected).
            "valid" => assert_ne!(*exp, ParseErr, "{file}"),
            // Invalid: parse error, a 4xx/5xx, or a dropped response.
            "invalid" => assert!(
                matches!(exp, ParseErr | Discard) || matches!(exp, Code(c) if *c >= 400),
                "{file}"
            ),
            other => panic!("unknown verdict {other}"),
        }
        n += 1;
    }
    assert_eq!(n, 50);
    let files = std::fs::read_dir(CORPUS)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "dat")
        })
        .count();
    assert_eq!(files, TABLE.len());
}

#[test]
fn every_message_gets_its_verdict() {
    let mut failures = Vec::new();
    for (file, section, exp) in TABLE {
        let got = outcome(&load(file));
        if got != *exp {
            failures.push(format!("{file} ({section}): expected {exp:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn body_offset(buf: &[u8]) -> usize {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap()
}

#[test]
fn parsed_messages_round_trip_byte_exact_bodies() {
    for (file, _, exp) in TABLE {
        if *exp == ParseErr {
            continue;
        }
        let raw = load(file);
        let m = parse(file);
        // Body is byte-exact: Content-Length bytes after the header section
        // (or the rest of the datagram when absent or conflicting).
        let off = body_offset(&raw);
        let len = match m.content_length() {
            Ok(Some(n)) => n as usize,
            _ => raw.len() - off,
        };
        assert_eq!(&m.body()[..], &raw[off..off + len], "{file} body");
        let again =
            parse_datagram(m.to_bytes()).unwrap_or_else(|e| panic!("{file} reparse: {e:?}"));
        assert_eq!(again.method(), m.method(), "{file}");
        assert_eq!(again.request_uri_str(), m.request_uri_str(), "{file}");
        assert_eq!(again.status(), m.status(), "{file}");
        assert_eq!(again.reason_bytes(), m.reason_bytes(), "{file}");
        assert_eq!(again.body(), m.body(), "{file}");
        let strip = |m: &SipMessage| -> Vec<(String, Vec<u8>)> {
            m.headers()
                .filter(|h| h.name != HeaderName::ContentLength)
                .map(|h| (h.raw_name.to_owned(), h.value.as_bytes().to_vec()))
                .collect()
        };
        assert_eq!(strip(&again), strip(&m), "{file} headers");
        assert_eq!(
            again.content_length(),
            Ok(Some(m.body().len() as u32)),
            "{file}"
        );
        // Serialization is stable.
        assert_eq!(again.to_bytes(), m.to_bytes(), "{file}");
    }
}

#[test]
fn dblreq_yields_first_request_only() {
    let m = parse("TC_DBLREQ.dat");
    assert_eq!(m.method(), Some(&Method::Register));
    assert!(m.body().is_empty());
    assert_eq!(m.call_id(), Ok("dblreq.0ha0isndaksdj99sdfafnl3lk233412"));
}

#[test]
fn wsinv_typed_values() {
    let m = parse("TC_WSINV.dat");
    assert_eq!(m.max_forwards(), Ok(Some(68)));
    assert_eq!(m.cseq().unwrap().seq, 9);
    assert_eq!(m.cseq().unwrap().method, Method::Invite);
    assert_eq!(m.to().unwrap().tag(), Some("1918181833n"));
    let from = m.from().unwrap();
    assert_eq!(from.display_name().unwrap(), "J Rosenberg \\\"");
    assert_eq!(from.tag(), Some("98asjd8"));
    let vias = m.via().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].transport, "UDP");
    assert_eq!(vias[1].host_str, "spindle.example.com");
    assert_eq!(vias[2].branch, Some("z9hG4bK30239"));
    let folded = m.header_str("NewFangledHeader").unwrap();
    assert_eq!(
        folded.to_str().unwrap(),
        "newfangled value continued newfangled value"
    );
    let switchboard::sip::codec::Contacts::List(c) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].q(), Ok(Some(0.33)));
    assert_eq!(c[0].params.get("newparam"), Some("newvalue"));
    assert_eq!(
        m.routes().unwrap()[0].uri.params.get("unknownwith"),
        Some("value")
    );
    assert_eq!(m.content_type().unwrap().unwrap().subtype, "sdp");
    assert_eq!(m.header(HeaderName::Subject).unwrap().as_bytes(), b"");
}

#[test]
fn escapes_and_methods() {
    let m = parse("TC_INTMETH.dat");
    assert_eq!(
        m.method().unwrap().as_str(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );
    assert!(matches!(m.method(), Some(Method::Extension(_))));
    let u = m.request_uri().unwrap();
    assert_eq!(
        u.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    let m = parse("TC_ESC02_V.dat");
    assert_eq!(m.method().unwrap().as_str(), "RE%47IST%45R");
    assert_eq!(m.count(HeaderName::Contact), 2, "C%6Fntact is not Contact");
    let m = parse("TC_ESCNULL_V.dat");
    let to = m.to().unwrap();
    assert_eq!(&*to.uri.user_unescaped().unwrap(), b"null-\0-null");
    assert!(m.to_bytes().windows(3).any(|w| w == b"%00"));
    let m = parse("TC_ESC01_V.dat");
    assert_eq!(
        m.request_uri().unwrap().user_unescaped().unwrap().as_ref(),
        b"sips:user@example.com"
    );
    assert_eq!(m.to().unwrap().uri.as_str(), "sip:%75se%72@example.com");
}

#[test]
fn responses_and_misc() {
    let m = parse("TC_NOREASON_V.dat");
    assert_eq!((m.status(), m.reason_bytes()), (Some(100), &b""[..]));
    let m = parse("TC_UNREASON_V.dat");
    assert_eq!(m.status(), Some(200));
    assert!(m.reason().starts_with("= 2**3 * 5**2"));
    assert_eq!(parse("TC_TRANSPORTS_V.dat").via().unwrap().len(), 5);
    assert_eq!(parse("TC_LONGREQ_V.dat").via().unwrap().len(), 34);
    let m = parse("TC_MPART01.dat");
    assert_eq!(m.body().len(), 553);
    assert!(m.body().iter().any(|b| *b >= 0x80));
    let a = parse("TC_REGAUT01_V.dat");
    let auth = a.authorization().unwrap();
    assert_eq!(auth[0].scheme, "NoOneKnowsThisScheme");
    assert_eq!(auth[0].param("opaque-data"), Some("here"));
    let m = parse("TC_BCAST_V.dat");
    assert_eq!(
        check_response(&m, ResponseRole::Proxy),
        ResponseVerdict::Discard("next hop is a broadcast address")
    );
}

#[test]
fn application_level_verdicts() {
    // 3.3.6: an application that only understands SDP answers 415.
    let m = parse("TC_INVUT_V.dat");
    let p = Policy {
        accept: &["application/sdp"],
        ..Policy::default()
    };
    let v = check_request(&m, &p);
    assert_eq!(v.code(), Some(415));
    // 3.3.11: not forwardable.
    assert_eq!(check_forward(&parse("TC_ZEROMF_V.dat")).code(), Some(483));
    // 3.3.5: the 420 lists both unsupported Require tags.
    let m = parse("TC_BEXT01_V.dat");
    let switchboard::sip::codec::Verdict::Reject(r) = check_request(&m, &Policy::default()) else {
        panic!()
    };
    assert_eq!(
        r.unsupported,
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    let resp = r.response(&m, Some("x1")).build().unwrap();
    assert_eq!(resp.status(), Some(420));
    assert_eq!(resp.to().unwrap().tag(), Some("x1"));
    // 3.3.9 and 3.3.12/13.
    assert!(parse("TC_MCL01_I.dat").content_length().is_err());
    let tc_cparam01_v = parse("TC_CPARAM01_V.dat");
    let switchboard::sip::codec::Contacts::List(c) = tc_cparam01_v.contacts().unwrap() else {
        panic!()
    };
    assert!(c[0].params.has("unknownparam") && !c[0].uri.params.has("unknownparam"));
    let tc_cparam02_v = parse("TC_CPARAM02_V.dat");
    let switchboard::sip::codec::Contacts::List(c) = tc_cparam02_v.contacts().unwrap() else {
        panic!()
    };
    assert!(c[0].uri.params.has("unknownparam") && !c[0].params.has("unknownparam"));
    let tc_regescrt_v = parse("TC_REGESCRT_V.dat");
    let switchboard::sip::codec::Contacts::List(c) = tc_regescrt_v.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].uri.headers, Some("Route=%3Csip:sip.example.com%3E"));
}

#[test]
fn parse_errors_can_answer_400() {
    for file in [
        "TC_CLERR_I.dat",
        "TC_NCL_I.dat",
        "TC_LTGTRURI_I.dat",
        "TC_LWSSTART_V.dat",
    ] {
        let e = parse_datagram(Bytes::from(load(file))).unwrap_err();
        assert!(e.can_respond(), "{file}");
        let r = parse_datagram(error_response(&e).unwrap()).unwrap();
        assert_eq!(r.status(), Some(400), "{file}");
        assert_eq!(r.reason(), e.reason_phrase());
    }
    let e = parse_datagram(Bytes::from(load("TC_CLERR_I.dat"))).unwrap_err();
    assert_eq!(e.kind(), &ParseErrorKind::BodyTruncated);
    let e = parse_datagram(Bytes::from(load("TC_BIGCODE_V.dat"))).unwrap_err();
    assert!(!e.can_respond());
}
