//! Client transaction tests: INVITE (timers A, B, D, M) and non-INVITE
//! (timers E, F, K), over UDP and TCP, with exact action times.

use std::cell::Cell;

use bytes::Bytes;

use super::super::{Config, MethodKind, ResponseOutcome, Role, State, Timer};
use super::{Harness, Out, TCP, UDP, key, ms, sends};

fn ack() -> Bytes {
    Bytes::from_static(b"ACK")
}

fn end(at: u64, timer: Option<Timer>) -> Vec<(u64, Out)> {
    let mut v: Vec<_> = timer.map(|t| (at, Out::Timeout(t))).into_iter().collect();
    v.push((at, Out::Terminated));
    v
}

#[test]
fn invite_udp_timer_a_doubles_then_timer_b() {
    let mut h = Harness::new();
    let k = key("ci1", "INVITE");
    assert_eq!(h.request(&k, MethodKind::Invite, UDP), [Out::Tx("INVITE")]);
    assert_eq!(h.layer.state(Role::Client, &k), Some(State::Calling));
    let mut expected = sends("INVITE", &[500, 1500, 3500, 7500, 15500, 31500]);
    expected.extend(end(32000, Some(Timer::B)));
    assert_eq!(h.run_until(100_000), expected);
    assert!(h.layer.is_empty());
    assert_eq!(h.next_ms(), None);
}

#[test]
fn invite_tcp_no_retransmissions() {
    let mut h = Harness::new();
    let k = key("ci2", "INVITE");
    assert_eq!(h.request(&k, MethodKind::Invite, TCP), [Out::Tx("INVITE")]);
    assert_eq!(h.run_until(100_000), end(32000, Some(Timer::B)));
}

#[test]
fn timers_follow_configured_t1() {
    let cfg = Config {
        t1: ms(100),
        ..Config::default()
    };
    let mut h = Harness::with_config(cfg);
    let k = key("ci3", "INVITE");
    h.request(&k, MethodKind::Invite, UDP);
    let mut expected = sends("INVITE", &[100, 300, 700, 1500, 3100, 6300]);
    expected.extend(end(6400, Some(Timer::B)));
    assert_eq!(h.run_until(100_000), expected);
}

#[test]
fn invite_provisional_stops_a_and_b() {
    let mut h = Harness::new();
    let k = key("ci4", "INVITE");
    h.request(&k, MethodKind::Invite, UDP);
    assert_eq!(h.run_until(600), sends("INVITE", &[500]));
    let out = h.layer.handle_response(&k, 180, h.now, ack);
    assert_eq!(out, ResponseOutcome::PassToTu);
    assert_eq!(h.layer.state(Role::Client, &k), Some(State::Proceeding));
    assert_eq!(h.next_ms(), None);
    assert_eq!(h.run_until(100_000), []);
    // A later 486 is ACKed and starts Timer D (32 s).
    let out = h.layer.handle_response(&k, 486, h.now, ack);
    assert_eq!(out, ResponseOutcome::PassToTu);
    assert_eq!(h.drain(), [Out::Tx("ACK")]);
    assert_eq!(h.run_until(200_000), end(132_000, None));
}

#[test]
fn invite_non_2xx_acks_and_timer_d_absorbs_retransmissions() {
    let mut h = Harness::new();
    let k = key("ci5", "INVITE");
    h.request(&k, MethodKind::Invite, UDP);
    assert_eq!(h.run_until(700), sends("INVITE", &[500]));
    let built = Cell::new(0);
    let build = || {
        built.set(built.get() + 1);
        ack()
    };
    let out = h.layer.handle_response(&k, 486, h.now, build);
    assert_eq!(out, ResponseOutcome::PassToTu);
    assert_eq!(h.drain(), [Out::Tx("ACK")]);
    assert_eq!(h.layer.state(Role::Client, &k), Some(State::Completed));
    assert_eq!(h.next_ms(), Some(32_700));

    h.set(5000);
    let build = || {
        built.set(built.get() + 1);
        ack()
    };
    let out = h.layer.handle_response(&k, 486, h.now, build);
    assert_eq!(out, ResponseOutcome::Absorbed);
    assert_eq!(
        h.drain(),
        [Out::Tx("ACK")],
        "ACK re-sent, response absorbed"
    );
    assert_eq!(built.get(), 1, "ACK built once");
    assert_eq!(
        h.layer.handle_response(&k, 180, h.now, ack),
        ResponseOutcome::Absorbed
    );
    assert_eq!(h.drain(), []);

    assert_eq!(h.run_until(100_000), end(32_700, None));
    assert_eq!(
        h.layer.handle_response(&k, 486, h.now, ack),
        ResponseOutcome::Stray
    );
}

#[test]
fn invite_non_2xx_over_tcp_terminates_at_once() {
    let mut h = Harness::new();
    let k = key("ci6", "INVITE");
    h.request(&k, MethodKind::Invite, TCP);
    h.set(300);
    let out = h.layer.handle_response(&k, 603, h.now, ack);
    assert_eq!(out, ResponseOutcome::PassToTu);
    assert_eq!(h.drain(), [Out::Tx("ACK"), Out::Terminated]);
    assert!(h.layer.is_empty());
    assert_eq!(h.next_ms(), None);
}

#[test]
fn invite_2xx_accepted_until_timer_m() {
    for peer in [UDP, TCP] {
        let mut h = Harness::new();
        let k = key("ci7", "INVITE");
        h.request(&k, MethodKind::Invite, peer);
        h.set(1000);
        let r = |h: &mut Harness, status| h.layer.handle_response(&k, status, h.now, ack);
        assert_eq!(r(&mut h, 200), ResponseOutcome::PassToTu);
        assert_eq!(h.drain(), [], "the TU ACKs a 2xx, not the transaction");
        assert_eq!(h.layer.state(Role::Client, &k), Some(State::Accepted));
        h.set(2000);
        assert_eq!(r(&mut h, 200), ResponseOutcome::PassToTu);
        assert_eq!(r(&mut h, 180), ResponseOutcome::Absorbed);
        assert_eq!(r(&mut h, 486), ResponseOutcome::Absorbed);
        assert_eq!(h.drain(), []);
        assert_eq!(h.run_until(100_000), end(33_000, None));
        assert_eq!(r(&mut h, 200), ResponseOutcome::Stray);
    }
}

#[test]
fn non_invite_udp_timer_e_caps_at_t2_then_timer_f() {
    let mut h = Harness::new();
    let k = key("cn1", "OPTIONS");
    assert_eq!(h.request(&k, MethodKind::Other, UDP), [Out::Tx("OPTIONS")]);
    assert_eq!(h.layer.state(Role::Client, &k), Some(State::Trying));
    let mut expected = sends(
        "OPTIONS",
        &[
            500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
        ],
    );
    expected.extend(end(32000, Some(Timer::F)));
    assert_eq!(h.run_until(100_000), expected);
}

#[test]
fn non_invite_tcp_no_retransmissions() {
    let mut h = Harness::new();
    let k = key("cn2", "REGISTER");
    h.request(&k, MethodKind::Other, TCP);
    assert_eq!(h.run_until(100_000), end(32000, Some(Timer::F)));
}

#[test]
fn non_invite_provisional_switches_timer_e_to_t2() {
    let mut h = Harness::new();
    let k = key("cn3", "OPTIONS");
    h.request(&k, MethodKind::Other, UDP);
    assert_eq!(h.run_until(600), sends("OPTIONS", &[500]));
    let out = h.layer.handle_response(&k, 100, h.now, Bytes::new);
    assert_eq!(out, ResponseOutcome::PassToTu);
    assert_eq!(h.layer.state(Role::Client, &k), Some(State::Proceeding));
    // Already-armed E fires at 1.5 s, then every T2.
    let mut expected = sends(
        "OPTIONS",
        &[1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500],
    );
    expected.extend(end(32000, Some(Timer::F)));
    assert_eq!(h.run_until(100_000), expected);
}

#[test]
fn non_invite_final_completed_for_timer_k() {
    let mut h = Harness::new();
    let k = key("cn4", "OPTIONS");
    h.request(&k, MethodKind::Other, UDP);
    assert_eq!(h.run_until(2000), sends("OPTIONS", &[500, 1500]));
    let out = h.layer.handle_response(&k, 200, h.now, Bytes::new);
    assert_eq!(out, ResponseOutcome::PassToTu);
    assert_eq!(h.layer.state(Role::Client, &k), Some(State::Completed));
    let out = h.layer.handle_response(&k, 200, h.now, Bytes::new);
    assert_eq!(out, ResponseOutcome::Absorbed);
    assert_eq!(h.drain(), []);
    assert_eq!(h.run_until(100_000), end(7000, None));
}

#[test]
fn non_invite_final_over_tcp_terminates_at_once() {
    let mut h = Harness::new();
    let k = key("cn5", "OPTIONS");
    h.request(&k, MethodKind::Other, TCP);
    let out = h.layer.handle_response(&k, 404, h.now, Bytes::new);
    assert_eq!(out, ResponseOutcome::PassToTu);
    assert_eq!(h.drain(), [Out::Terminated]);
    assert_eq!(h.next_ms(), None);
}

#[test]
fn late_timeout_sends_one_retransmission() {
    let mut h = Harness::new();
    let k = key("ci8", "INVITE");
    h.request(&k, MethodKind::Invite, UDP);
    h.layer.handle_timeout(h.at(10_000));
    assert_eq!(h.drain(), [Out::Tx("INVITE")]);
    assert_eq!(h.next_ms(), Some(15_500));
    h.layer.handle_timeout(h.at(40_000));
    assert_eq!(h.drain(), [Out::Timeout(Timer::B), Out::Terminated]);
}
