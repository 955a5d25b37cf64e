//! Issue 2 (SIP core): the RFC 4475 torture messages (tests/corpus/rfc4475,
//! byte-exact, never modified) sent to a running switch's agents profile.
//!
//! Two tests, each with its own switch:
//!
//! `rfc4475_over_udp`: every message is sent in one datagram from
//! 127.0.0.1:5060 (when that port is free). After each one an OPTIONS of
//! ours (with `rport`) must still get 200, and the process must still run.
//! Responses are observed where RFC 3261 18.2.2 sends them to us: the top
//! Via's sent-by host (example.com names, 192.0.2.x) is never our source
//! address, so the server adds `received=127.0.0.1` and answers to
//! 127.0.0.1 at the sent-by port, 5060 when absent; with `rport`
//! (RFC 3581) it answers to our source port, which is 5060 too. So
//! sending *from* 127.0.0.1:5060 lets us see the responses to every
//! message whose top Via is UDP with no port or port 5060, or has rport.
//! Not observable over UDP, and why:
//! - top Via with TCP/TLS/SCTP transport (TC_BEXT01_V, TC_ESC02_V,
//!   TC_INTMETH, TC_LONGREQ_V, TC_NOVELSC_V, TC_REGAUT01_V,
//!   TC_SCALAR02_V, TC_TRWS_I, TC_UNKSCM_V, and TC_WSINV whose first Via
//!   is folded): a server may answer on the arrival transport or not at
//!   all; what arrives is still checked, nothing is required;
//! - a sent-by port other than 5060 without rport (TC_QUOTBAL_I: 5050):
//!   the answer goes to 127.0.0.1:5050;
//! - no Via (TC_TEST_I) or no Call-ID to match (TC_INSUF_I): no response
//!   can be routed or recognised;
//! - responses (TC_BCAST_V, TC_BIGCODE_V, TC_NOREASON_V, TC_SCALARLG_V,
//!   TC_UNREASON_V): a server never answers a response; we check that
//!   nothing comes back with their Call-ID.
//!
//! When 5060 is taken (e.g. a demo running), only rport messages are
//! observable; the test says so and still checks liveness.
//!
//! `rfc4475_over_tcp`: every message on a fresh TCP connection from
//! 127.0.0.1. Over a connection the response goes back on it whatever the
//! Via says (RFC 3261 18.2.2), so every answer is observable. Messages
//! whose framing is broken (TC_CLERR_I: Content-Length longer than the
//! body; TC_NCL_I: no Content-Length, required over TCP) may be waited
//! on or dropped: "no answer" is fine for them.
//!
//! Verdicts (from expected.tsv, refined per RFC 4475 section 3.3):
//! - valid requests: answered, and not with 400;
//! - invalid requests: 400 or no answer (TC_BADVERS_V may also get 505);
//! - responses: nothing sent back;
//! - 3.3: TC_INSUF_I 400, TC_UNKSCM_V 416, TC_NOVELSC_V 416 or 404,
//!   TC_BEXT01_V 420, TC_INVUT_V 415 (or an auth challenge/refusal, as
//!   RFC 3261 8.2 authenticates before content checks), TC_MULTI01_I 400,
//!   TC_MCL01_I 400, TC_REGAUT01_V 401/403/404/407, TC_ZEROMF_V 483 or
//!   200, TC_UNKSM2_V and TC_SDP01_V any answer.
//!
//! The switch's agents profile is given a huge `ban_after_failures` so
//! that the REGISTERs of the corpus do not get 127.0.0.1 banned.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Must be answered; any final code but 400.
    NotBadRequest,
    /// Must be answered with one of these codes.
    OneOf(&'static [u16]),
    /// Must be answered, any code.
    AnyAnswer,
    /// 400, one of these extra codes, or nothing.
    BadOrDrop(&'static [u16]),
    /// A response: nothing may come back.
    NoResponse,
}

fn corpus_dir() -> PathBuf {
    repo_root().join("tests").join("corpus").join("rfc4475")
}

/// (file, bytes, expectation), for every line of expected.tsv.
fn corpus() -> Vec<(String, Vec<u8>, Expect)> {
    let dir = corpus_dir();
    let table = fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    let mut out = Vec::new();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 3 {
            continue;
        }
        let (file, verdict) = (cols[0], cols[2]);
        let bytes = fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let is_response = bytes.starts_with(b"SIP/");
        let name = file.trim_end_matches(".dat");
        let expect = if is_response {
            Expect::NoResponse
        } else {
            match name {
                "TC_INSUF_I" | "TC_MULTI01_I" | "TC_MCL01_I" => Expect::OneOf(&[400]),
                "TC_UNKSCM_V" => Expect::OneOf(&[416]),
                "TC_NOVELSC_V" => Expect::OneOf(&[416, 404]),
                "TC_BEXT01_V" => Expect::OneOf(&[420]),
                "TC_INVUT_V" => Expect::OneOf(&[415, 401, 403, 404, 407, 480]),
                "TC_REGAUT01_V" => Expect::OneOf(&[401, 403, 404, 407]),
                "TC_ZEROMF_V" => Expect::OneOf(&[483, 200]),
                "TC_UNKSM2_V" | "TC_SDP01_V" => Expect::AnyAnswer,
                "TC_BADVERS_V" => Expect::BadOrDrop(&[505]),
                _ if verdict == "valid" => Expect::NotBadRequest,
                _ if verdict == "invalid" => Expect::BadOrDrop(&[]),
                other => panic!("{other}: unknown verdict {verdict}"),
            }
        };
        out.push((file.to_string(), bytes, expect));
    }
    assert!(out.len() >= 50, "expected.tsv lists {} files", out.len());
    out
}

/// Judges what was observed (None = nothing). `must_answer` is false
/// where the message cannot be observed (see the module doc).
fn judge(expect: Expect, got: Option<u16>, must_answer: bool) -> Result<(), String> {
    match (expect, got) {
        (Expect::NoResponse, None) => Ok(()),
        (Expect::NoResponse, Some(c)) => Err(format!("a response was answered ({c})")),
        (Expect::BadOrDrop(_), None) => Ok(()),
        (Expect::BadOrDrop(extra), Some(c)) if c == 400 || extra.contains(&c) => Ok(()),
        (Expect::BadOrDrop(_), Some(c)) => Err(format!("invalid message accepted with {c}")),
        (_, None) if !must_answer => Ok(()),
        (_, None) => Err("no answer".into()),
        (Expect::NotBadRequest, Some(400)) => Err("valid message rejected with 400".into()),
        (Expect::NotBadRequest, Some(_)) | (Expect::AnyAnswer, Some(_)) => Ok(()),
        (Expect::OneOf(codes), Some(c)) if codes.contains(&c) => Ok(()),
        (Expect::OneOf(codes), Some(c)) => Err(format!("answered {c}, expected one of {codes:?}")),
    }
}

fn start_switch() -> Switch {
    Switch::start(SwitchOpts::new().edit(|file, text| {
        if file.starts_with("sip-profiles/") {
            set_toml_key(text, "security", "ban_after_failures", "1000000");
        }
    }))
}

/// The final code among `msgs` (else the last provisional one).
fn best_code(msgs: &[String]) -> Option<u16> {
    let codes: Vec<u16> = msgs.iter().filter_map(|m| status_code(m)).collect();
    codes
        .iter()
        .copied()
        .find(|c| *c >= 200)
        .or_else(|| codes.last().copied())
}

struct TopVia {
    transport: String,
    port: Option<u16>,
    rport: bool,
}

/// The top Via of a raw message, unfolded and with the LWS RFC 4475 plays
/// with removed. None when there is none or it cannot be read.
fn top_via(text: &str) -> Option<TopVia> {
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut unfolded: Vec<String> = Vec::new();
    for line in head.split("\r\n").skip(1) {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = unfolded.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else {
            unfolded.push(line.to_string());
        }
    }
    let value = unfolded.iter().find_map(|l| {
        let (h, v) = l.split_once(':')?;
        let h = h.trim();
        (h.eq_ignore_ascii_case("via") || h.eq_ignore_ascii_case("v")).then(|| v.trim().to_string())
    })?;
    let first = value.split(',').next()?.to_string();
    let mut s = first.clone();
    loop {
        let t = s
            .replace(" /", "/")
            .replace("/ ", "/")
            .replace("\t/", "/")
            .replace("/\t", "/");
        if t == s {
            break;
        }
        s = t;
    }
    let mut parts = s.split_whitespace();
    let proto = parts.next()?;
    let transport = proto.rsplit('/').next()?.to_ascii_uppercase();
    let rest: String = parts.collect::<Vec<_>>().join("");
    let (sent_by, params) = rest.split_once(';').unwrap_or((rest.as_str(), ""));
    let port = sent_by.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
    let rport = params.split(';').any(|p| {
        p.trim().eq_ignore_ascii_case("rport")
            || p.trim().to_ascii_lowercase().starts_with("rport=")
    });
    Some(TopVia {
        transport,
        port,
        rport,
    })
}

fn probe_alive(sw: &mut Switch, after: &str) -> Result<(), String> {
    let probe = RawUdp::bind(LOCALHOST);
    let req = options_request(probe.local(), sw.agents_addr(), None);
    let got = probe.request(sw.agents_addr(), &req, Duration::from_secs(3));
    if !sw.is_running() {
        return Err(format!("switchboard died after {after}"));
    }
    match got {
        Some((200, _)) => Ok(()),
        other => Err(format!(
            "OPTIONS (with rport) after {after} got {:?} instead of 200",
            other.map(|(c, _)| c)
        )),
    }
}

/// The table and the failures of one pass over the corpus.
#[derive(Default)]
struct CorpusRun {
    /// (file, what was observed, verdict), for the report.
    rows: Vec<(String, String, String)>,
    failures: Vec<String>,
}

impl CorpusRun {
    /// Records the verdict on `file`, then checks that the switch still
    /// answers; false when it does not (the run stops there).
    fn record(
        &mut self,
        sw: &mut Switch,
        file: &str,
        observed: String,
        expect: Expect,
        verdict: Result<(), String>,
    ) -> bool {
        self.rows.push((
            file.to_string(),
            observed,
            match &verdict {
                Ok(()) => format!("ok ({expect:?})"),
                Err(e) => format!("FAIL: {e} ({expect:?})"),
            },
        ));
        if let Err(e) = verdict {
            self.failures.push(format!("{file}: {e}"));
        }
        if let Err(e) = probe_alive(sw, file) {
            self.failures.push(e);
            return false;
        }
        true
    }

    /// Prints the table and fails the test on any failure, or when the
    /// switch no longer runs.
    fn finish(self, sw: &mut Switch, transport: &str) {
        sw.assert_running(&format!("after the RFC 4475 corpus over {transport}"));
        eprintln!("RFC 4475 over {transport}:\n{}", self.report());
        assert!(
            self.failures.is_empty(),
            "RFC 4475 over {transport} (full table above):\n{}",
            self.failures.join("\n")
        );
    }

    fn report(&self) -> String {
        let mut s = String::new();
        for (f, obs, verdict) in &self.rows {
            s.push_str(&format!("{f:<22} {obs:<34} {verdict}\n"));
        }
        s
    }
}

#[test]
fn rfc4475_over_udp() {
    let mut sw = start_switch();
    let target = sw.agents_addr();
    let (obs, on_5060) = match UdpSocket::bind((LOCALHOST, 5060)) {
        Ok(s) => (RawUdp { sock: s }, true),
        Err(_) => {
            eprintln!("127.0.0.1:5060 is taken: only rport messages are observable over UDP");
            (RawUdp::bind(LOCALHOST), false)
        }
    };
    let mut run = CorpusRun::default();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();

    for (file, bytes, expect) in corpus() {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let call_id = header_value(&text, "Call-ID");
        let via = top_via(&text);
        let observable = call_id.is_some()
            && via.as_ref().is_some_and(|v| {
                v.transport == "UDP" && (v.rport || (on_5060 && v.port.unwrap_or(5060) == 5060))
            });
        obs.send(target, &bytes);

        // Collect what comes back for this Call-ID (responses to earlier
        // messages, e.g. retransmitted INVITE answers, are kept aside).
        let window = match expect {
            Expect::NoResponse | Expect::BadOrDrop(_) => Duration::from_millis(800),
            _ if observable => Duration::from_secs(3),
            _ => Duration::from_millis(800),
        };
        let deadline = Instant::now() + window;
        let mut mine: Vec<String> = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(m) = obs.recv(left) else { break };
            let cid = header_value(&m, "Call-ID").unwrap_or_default();
            if call_id.as_deref() == Some(cid.as_str()) {
                let is_final = status_code(&m).is_some_and(|c| c >= 200);
                mine.push(m);
                if is_final {
                    break;
                }
            } else {
                seen.entry(cid).or_default().push(m);
            }
        }
        let got = best_code(&mine);
        let verdict = judge(expect, got, observable);
        let seen_as = if observable {
            "observable"
        } else {
            "unobservable"
        };
        let observed = format!("{seen_as} got={got:?}");
        if !run.record(&mut sw, &file, observed, expect, verdict) {
            break;
        }
    }
    if let Err(e) = probe_alive(&mut sw, "the whole corpus") {
        run.failures.push(e);
    }
    run.finish(&mut sw, "UDP");
}

#[test]
fn rfc4475_over_tcp() {
    let mut sw = start_switch();
    let target: SocketAddr = sw.agents_addr();
    let mut run = CorpusRun::default();
    for (file, bytes, expect) in corpus() {
        let name = file.trim_end_matches(".dat");
        // Broken framing: the server may legitimately wait for the rest.
        let framing_broken = matches!(name, "TC_CLERR_I" | "TC_NCL_I");
        let wait = match expect {
            Expect::NoResponse | Expect::BadOrDrop(_) => Duration::from_secs(1),
            _ => Duration::from_secs(4),
        };
        // RFC 3261 18.3 / 20.14: on a stream, Content-Length is mandatory.
        // TC_INV2543 (an RFC 2543-style request) has none, so over TCP it
        // cannot be delimited: a 400 (or closing) is the right answer
        // there, while over UDP it must be accepted.
        let expect = if name == "TC_INV2543_I" {
            Expect::BadOrDrop(&[])
        } else {
            expect
        };
        let got = match tcp_exchange(target, &bytes, false, wait) {
            Ok(back) => {
                let text = String::from_utf8_lossy(&back).into_owned();
                let msgs = split_messages(&text);
                Ok(best_code(&msgs))
            }
            Err(e) => Err(e.to_string()),
        };
        let verdict = match &got {
            Ok(code) => judge(expect, *code, !framing_broken),
            Err(e) => Err(format!("TCP error: {e}")),
        };
        if !run.record(&mut sw, &file, format!("got={got:?}"), expect, verdict) {
            break;
        }
    }
    run.finish(&mut sw, "TCP");
}

/// The Via reader itself, on the corpus: every file but TC_TEST_I has a
/// top Via, and the observability rule picks what the module doc says.
#[test]
fn rfc4475_udp_observability_table() {
    let mut observable = Vec::new();
    for (file, bytes, expect) in corpus() {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let via = top_via(&text);
        if file != "TC_TEST_I.dat" {
            assert!(via.is_some(), "{file}: no top Via found");
        }
        let ok = header_value(&text, "Call-ID").is_some()
            && via.is_some_and(|v| {
                v.transport == "UDP" && (v.rport || v.port.unwrap_or(5060) == 5060)
            });
        if ok && !matches!(expect, Expect::NoResponse) {
            observable.push(file.trim_end_matches(".dat").to_string());
        }
    }
    for f in [
        "TC_BEXT01_V",
        "TC_UNKSCM_V",
        "TC_QUOTBAL_I",
        "TC_TEST_I",
        "TC_INSUF_I",
    ] {
        assert!(
            !observable.contains(&f.to_string()),
            "{f} should not be observable over UDP"
        );
    }
    for f in [
        "TC_MPART01",
        "TC_ZEROMF_V",
        "TC_MULTI01_I",
        "TC_MCL01_I",
        "TC_INVUT_V",
        "TC_DBLREQ",
    ] {
        assert!(
            observable.contains(&f.to_string()),
            "{f} should be observable over UDP: {observable:?}"
        );
    }
}
