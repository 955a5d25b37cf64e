//! Server transaction tests: INVITE (100 Trying nudge, timers G, H, I, L)
//! and non-INVITE (timer J), over UDP and TCP, with exact action times.

use super::super::{MethodKind, RequestOutcome, Role, State, Timer, TransactionError};
use super::{Harness, Out, Peer, TCP, UDP, key, sends};

fn recv(
    h: &mut Harness,
    k: &super::TransactionKey,
    kind: MethodKind,
    peer: Peer,
) -> RequestOutcome {
    h.layer.handle_request(k, kind, peer, h.now).unwrap()
}

fn end(at: u64, timer: Option<Timer>) -> Vec<(u64, Out)> {
    let mut v: Vec<_> = timer.map(|t| (at, Out::Timeout(t))).into_iter().collect();
    v.push((at, Out::Terminated));
    v
}

#[test]
fn invite_trying_due_and_provisional_retransmission() {
    let mut h = Harness::new();
    let k = key("si1", "INVITE");
    assert_eq!(
        recv(&mut h, &k, MethodKind::Invite, UDP),
        RequestOutcome::New
    );
    assert_eq!(h.drain(), []);
    assert_eq!(h.layer.state(Role::Server, &k), Some(State::Proceeding));
    assert_eq!(h.run_until(250), [(200, Out::TryingDue)]);
    assert_eq!(h.respond(&k, 100, "100"), [Out::Tx("100")]);
    h.set(500);
    assert_eq!(
        recv(&mut h, &k, MethodKind::Invite, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), [Out::Tx("100")]);
    h.set(1000);
    assert_eq!(h.respond(&k, 180, "180"), [Out::Tx("180")]);
    assert_eq!(
        recv(&mut h, &k, MethodKind::Invite, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), [Out::Tx("180")]);
    assert_eq!(h.next_ms(), None, "no timer in Proceeding once answered");
}

#[test]
fn invite_no_trying_if_tu_answers_quickly() {
    let mut h = Harness::new();
    let k = key("si2", "INVITE");
    recv(&mut h, &k, MethodKind::Invite, UDP);
    h.set(150);
    assert_eq!(h.respond(&k, 180, "180"), [Out::Tx("180")]);
    assert_eq!(h.run_until(10_000), []);
    // Retransmission before any response is absorbed silently.
    let k2 = key("si2b", "INVITE");
    recv(&mut h, &k2, MethodKind::Invite, UDP);
    assert_eq!(
        recv(&mut h, &k2, MethodKind::Invite, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), []);
}

#[test]
fn invite_non_2xx_timer_g_until_ack_then_timer_i() {
    let mut h = Harness::new();
    let k = key("si3", "INVITE");
    recv(&mut h, &k, MethodKind::Invite, UDP);
    h.set(100);
    h.respond(&k, 180, "180");
    h.set(1000);
    assert_eq!(h.respond(&k, 486, "486"), [Out::Tx("486")]);
    assert_eq!(h.layer.state(Role::Server, &k), Some(State::Completed));
    assert_eq!(h.run_until(10_000), sends("486", &[1500, 2500, 4500, 8500]));
    // A retransmitted INVITE re-sends the final response.
    assert_eq!(
        recv(&mut h, &k, MethodKind::Invite, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), [Out::Tx("486")]);
    // ACK: Confirmed, absorbed, G and H stop.
    assert_eq!(
        recv(&mut h, &k, MethodKind::Ack, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), []);
    assert_eq!(h.layer.state(Role::Server, &k), Some(State::Confirmed));
    assert_eq!(
        recv(&mut h, &k, MethodKind::Ack, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(
        recv(&mut h, &k, MethodKind::Invite, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), []);
    assert_eq!(
        h.layer.send_response(&k, 500, "x".into(), h.now),
        Err(TransactionError::InvalidState)
    );
    assert_eq!(h.run_until(100_000), end(15_000, None));
}

#[test]
fn invite_timer_h_without_ack() {
    let mut h = Harness::new();
    let k = key("si4", "INVITE");
    recv(&mut h, &k, MethodKind::Invite, UDP);
    assert_eq!(h.respond(&k, 404, "404"), [Out::Tx("404")]);
    let mut expected = sends(
        "404",
        &[
            500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
        ],
    );
    expected.extend(end(32000, Some(Timer::H)));
    assert_eq!(h.run_until(100_000), expected);
}

#[test]
fn invite_tcp_non_2xx_no_g_and_zero_timer_i() {
    let mut h = Harness::new();
    let k = key("si5", "INVITE");
    recv(&mut h, &k, MethodKind::Invite, TCP);
    assert_eq!(h.respond(&k, 486, "486"), [Out::Tx("486")]);
    assert_eq!(h.next_ms(), Some(32_000), "only Timer H");
    h.set(3000);
    assert_eq!(
        recv(&mut h, &k, MethodKind::Ack, TCP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), [Out::Terminated]);
    assert_eq!(h.next_ms(), None);

    let k = key("si5b", "INVITE");
    recv(&mut h, &k, MethodKind::Invite, TCP);
    h.respond(&k, 486, "486");
    assert_eq!(h.run_until(100_000), end(35_000, Some(Timer::H)));
}

#[test]
fn invite_2xx_accepted_until_timer_l() {
    let mut h = Harness::new();
    let k = key("si6", "INVITE");
    recv(&mut h, &k, MethodKind::Invite, UDP);
    h.set(1000);
    assert_eq!(h.respond(&k, 200, "200"), [Out::Tx("200")]);
    assert_eq!(h.layer.state(Role::Server, &k), Some(State::Accepted));
    assert_eq!(h.next_ms(), Some(33_000), "no G for 2xx, Timer L");
    h.set(1500);
    assert_eq!(
        recv(&mut h, &k, MethodKind::Invite, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(
        h.drain(),
        [],
        "INVITE absorbed, 2xx not resent by transaction"
    );
    assert_eq!(
        h.respond(&k, 200, "200"),
        [Out::Tx("200")],
        "TU 2xx retransmission"
    );
    assert_eq!(
        recv(&mut h, &k, MethodKind::Ack, UDP),
        RequestOutcome::AckToTu
    );
    assert_eq!(
        h.layer.send_response(&k, 486, "x".into(), h.now),
        Err(TransactionError::InvalidState)
    );
    assert_eq!(
        h.layer.send_response(&k, 183, "x".into(), h.now),
        Err(TransactionError::InvalidState)
    );
    assert_eq!(h.run_until(100_000), end(33_000, None));
}

#[test]
fn non_invite_udp_absorbs_and_resends_until_timer_j() {
    let mut h = Harness::new();
    let k = key("sn1", "OPTIONS");
    assert_eq!(
        recv(&mut h, &k, MethodKind::Other, UDP),
        RequestOutcome::New
    );
    assert_eq!(h.layer.state(Role::Server, &k), Some(State::Trying));
    assert_eq!(h.next_ms(), None, "no 100 Trying nudge for non-INVITE");
    assert_eq!(
        recv(&mut h, &k, MethodKind::Other, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), [], "absorbed silently in Trying");
    h.set(100);
    assert_eq!(h.respond(&k, 100, "100"), [Out::Tx("100")]);
    assert_eq!(h.layer.state(Role::Server, &k), Some(State::Proceeding));
    assert_eq!(
        recv(&mut h, &k, MethodKind::Other, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), [Out::Tx("100")]);
    h.set(300);
    assert_eq!(h.respond(&k, 200, "200"), [Out::Tx("200")]);
    assert_eq!(h.layer.state(Role::Server, &k), Some(State::Completed));
    h.set(20_000);
    assert_eq!(
        recv(&mut h, &k, MethodKind::Other, UDP),
        RequestOutcome::Absorbed
    );
    assert_eq!(h.drain(), [Out::Tx("200")]);
    assert_eq!(
        h.layer.send_response(&k, 500, "x".into(), h.now),
        Err(TransactionError::InvalidState)
    );
    assert_eq!(h.run_until(100_000), end(32_300, None));
}

#[test]
fn non_invite_tcp_zero_timer_j() {
    let mut h = Harness::new();
    let k = key("sn2", "BYE");
    recv(&mut h, &k, MethodKind::Other, TCP);
    assert_eq!(h.respond(&k, 200, "200"), [Out::Tx("200"), Out::Terminated]);
    assert!(h.layer.is_empty());
}

#[test]
fn trying_nudge_can_be_disabled() {
    let cfg = super::super::Config {
        trying_delay: None,
        ..Default::default()
    };
    let mut h = Harness::with_config(cfg);
    let k = key("si7", "INVITE");
    recv(&mut h, &k, MethodKind::Invite, UDP);
    assert_eq!(h.next_ms(), None);
    assert_eq!(h.run_until(100_000), []);
    assert_eq!(h.layer.state(Role::Server, &k), Some(State::Proceeding));
}
