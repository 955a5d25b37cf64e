//! Contact-center test helpers: agents' phones (SIPp UASes registered on
//! `agents`, logged in with `*21`), callers on the carrier trunk, and
//! reading the journal of ended calls.

use super::*;

/// A phone for agent `ext`: a SIPp UAS (`scenario`) registered as it.
pub fn phone(sw: &Switch, ext: &str, scenario_file: &str) -> SippServer {
    phone_with(sw, ext, scenario_file, &[])
}

/// [`phone`] with more SIPp arguments (`-key NAME VALUE`...).
pub fn phone_with(sw: &Switch, ext: &str, scenario_file: &str, extra: &[&str]) -> SippServer {
    let mut args = vec!["-rtp_echo", "-key", "agent_pts", "0 8"];
    args.extend_from_slice(extra);
    let uas = SippServer::start(&scenario(scenario_file), &args);
    let r = sipp_register(sw, ext, &format!("pw{ext}"), uas.port, 600, "u1");
    assert!(r.ok(), "registering {ext}:\n{}", r.describe());
    uas
}

/// A phone for agent `ext` who then logs in (`*21`).
pub fn ready_phone(sw: &Switch, ext: &str, scenario_file: &str) -> SippServer {
    let uas = phone(sw, ext, scenario_file);
    log_in(sw, ext);
    uas
}

/// A caller on the carrier trunk to `number` (PCMU and telephone-event),
/// answered.
pub fn call(sw: &Switch, number: &str) -> RawCaller {
    call_from(sw, number, None)
}

/// [`call`] from the caller's number `from` (the default one when `None`),
/// e.g. a demo customer's.
pub fn call_from(sw: &Switch, number: &str, from: Option<&str>) -> RawCaller {
    let mut c = RawCaller::new(sw.carrier_addr(), number);
    if let Some(from) = from {
        c.from = from.to_string();
    }
    let (status, ok) = c.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    c
}

/// The ended call with Call-ID `id`.
pub fn record(calls: &[serde_json::Value], id: &str) -> serde_json::Value {
    calls
        .iter()
        .find(|c| c["call_id"] == id)
        .unwrap_or_else(|| panic!("no call {id}: {calls:#?}"))
        .clone()
}

/// When the call's queue event `detail` was journaled (Unix ms).
pub fn queue_event_at(call: &serde_json::Value, detail: &str) -> i64 {
    call["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "queue" && e["detail"] == detail)
        .and_then(|e| e["at"].as_i64())
        .unwrap_or_else(|| panic!("no queue event `{detail}`: {call:#}"))
}
