//! Layer-level tests: full action contents, matching (ACK, CANCEL, strays),
//! the table bound, transport errors, API errors, stale timers and scale.

use bytes::Bytes;

use super::super::{
    Action, CancelTarget, Config, MethodKind, RequestOutcome, ResponseOutcome, Role,
    TransactionError, Transmit, TuEvent,
};
use super::{Harness, Out, TCP, UDP, bytes, key, sends, tx};

#[test]
fn actions_carry_destination_and_transaction() {
    let mut h = Harness::new();
    let c = key("l1", "INVITE");
    h.layer
        .send_request(
            c.clone(),
            MethodKind::Invite,
            bytes(MethodKind::Invite),
            UDP,
            h.now,
        )
        .unwrap();
    let s = key("l1", "INVITE");
    h.layer
        .handle_request(&s, MethodKind::Invite, TCP, h.now)
        .unwrap();
    h.layer
        .send_response(&s, 180, Bytes::from_static(b"180"), h.now)
        .unwrap();
    assert_eq!(
        h.drain_full(),
        [
            Action::Transmit(Transmit {
                tx: tx(Role::Client, &c),
                dest: UDP,
                bytes: Bytes::from_static(b"INVITE"),
            }),
            Action::Transmit(Transmit {
                tx: tx(Role::Server, &s),
                dest: TCP,
                bytes: Bytes::from_static(b"180"),
            }),
        ]
    );
    assert_eq!(
        h.layer.len(),
        2,
        "same key, separate client and server tables"
    );
    let t = h.layer.poll_timeout().unwrap();
    h.layer.handle_timeout(t);
    assert_eq!(
        h.drain_full(),
        [Action::Transmit(Transmit {
            tx: tx(Role::Client, &c),
            dest: UDP,
            bytes: Bytes::from_static(b"INVITE"),
        })]
    );
}

#[test]
fn cancel_matching() {
    let mut h = Harness::new();
    let inv = key("c1", "INVITE");
    let cancel = key("c1", "CANCEL");
    h.layer
        .handle_request(&inv, MethodKind::Invite, UDP, h.now)
        .unwrap();
    let out = h
        .layer
        .handle_request(&cancel, MethodKind::Cancel, UDP, h.now);
    assert_eq!(
        out,
        Ok(RequestOutcome::NewCancel(CancelTarget::Pending(
            inv.clone()
        )))
    );
    h.respond(&cancel, 200, "200-cancel");
    h.respond(&inv, 487, "487");

    let inv2 = key("c2", "INVITE");
    h.layer
        .handle_request(&inv2, MethodKind::Invite, UDP, h.now)
        .unwrap();
    h.respond(&inv2, 200, "200");
    let out = h
        .layer
        .handle_request(&key("c2", "CANCEL"), MethodKind::Cancel, UDP, h.now);
    assert_eq!(
        out,
        Ok(RequestOutcome::NewCancel(CancelTarget::Answered(inv2)))
    );

    let out = h
        .layer
        .handle_request(&key("c3", "CANCEL"), MethodKind::Cancel, UDP, h.now);
    assert_eq!(out, Ok(RequestOutcome::NewCancel(CancelTarget::NotFound)));
}

#[test]
fn unmatched_ack_and_stray_response() {
    let mut h = Harness::new();
    let k = key("u1", "ACK");
    let out = h.layer.handle_request(&k, MethodKind::Ack, UDP, h.now);
    assert_eq!(out, Ok(RequestOutcome::UnmatchedAck));
    assert!(h.layer.is_empty(), "ACK never creates a transaction");
    let out = h
        .layer
        .handle_response(&key("u2", "INVITE"), 200, h.now, Bytes::new);
    assert_eq!(out, ResponseOutcome::Stray);
    assert_eq!(h.drain(), []);
}

#[test]
fn table_bound_rejects_new_transactions() {
    let cfg = Config {
        max_transactions: 2,
        ..Config::default()
    };
    let mut h = Harness::with_config(cfg);
    let (a, b, c) = (
        key("m1", "OPTIONS"),
        key("m2", "OPTIONS"),
        key("m3", "OPTIONS"),
    );
    assert_eq!(
        h.layer.handle_request(&a, MethodKind::Other, TCP, h.now),
        Ok(RequestOutcome::New)
    );
    assert_eq!(
        h.layer.handle_request(&b, MethodKind::Other, UDP, h.now),
        Ok(RequestOutcome::New)
    );
    assert_eq!(
        h.layer.handle_request(&c, MethodKind::Other, UDP, h.now),
        Err(TransactionError::Full)
    );
    let req = bytes(MethodKind::Other);
    assert_eq!(
        h.layer
            .send_request(c.clone(), MethodKind::Other, req.clone(), UDP, h.now),
        Err(TransactionError::Full)
    );
    // Existing transactions and stray ACKs still work at the limit.
    assert_eq!(
        h.layer.handle_request(&b, MethodKind::Other, UDP, h.now),
        Ok(RequestOutcome::Absorbed)
    );
    assert_eq!(
        h.layer
            .handle_request(&key("m4", "ACK"), MethodKind::Ack, UDP, h.now),
        Ok(RequestOutcome::UnmatchedAck)
    );
    // Freeing a slot (TCP: Timer J is zero) admits a new one.
    assert_eq!(h.respond(&a, 200, "200"), [Out::Tx("200"), Out::Terminated]);
    assert_eq!(
        h.layer.handle_request(&c, MethodKind::Other, UDP, h.now),
        Ok(RequestOutcome::New)
    );
}

#[test]
fn transport_errors_end_transactions() {
    let mut h = Harness::new();
    let c = key("t1", "INVITE");
    h.request(&c, MethodKind::Invite, UDP);
    assert!(h.layer.transport_error(&tx(Role::Client, &c)));
    assert_eq!(
        h.drain_full(),
        [
            Action::Event(TuEvent::TransportError {
                tx: tx(Role::Client, &c)
            }),
            Action::Event(TuEvent::Terminated {
                tx: tx(Role::Client, &c)
            }),
        ]
    );
    assert!(!h.layer.transport_error(&tx(Role::Client, &c)));
    assert_eq!(h.next_ms(), None, "stale timers pruned");

    let s = key("t2", "INVITE");
    h.layer
        .handle_request(&s, MethodKind::Invite, UDP, h.now)
        .unwrap();
    h.respond(&s, 486, "486");
    assert!(h.layer.transport_error(&tx(Role::Server, &s)));
    assert_eq!(h.drain(), [Out::TransportError, Out::Terminated]);
    assert!(h.layer.is_empty());
    assert_eq!(h.run_until(100_000), []);
}

#[test]
fn api_errors() {
    let mut h = Harness::new();
    let k = key("e1", "INVITE");
    let req = bytes(MethodKind::Invite);
    assert_eq!(
        h.layer
            .send_request(k.clone(), MethodKind::Ack, req.clone(), UDP, h.now),
        Err(TransactionError::MethodMismatch)
    );
    assert_eq!(
        h.layer
            .send_request(k.clone(), MethodKind::Other, req.clone(), UDP, h.now),
        Err(TransactionError::MethodMismatch)
    );
    h.layer
        .send_request(k.clone(), MethodKind::Invite, req.clone(), UDP, h.now)
        .unwrap();
    assert_eq!(
        h.layer
            .send_request(k.clone(), MethodKind::Invite, req, UDP, h.now),
        Err(TransactionError::Exists)
    );
    assert_eq!(
        h.layer.handle_request(&k, MethodKind::Cancel, UDP, h.now),
        Err(TransactionError::MethodMismatch)
    );
    assert_eq!(
        h.layer.send_response(&k, 200, Bytes::new(), h.now),
        Err(TransactionError::NotFound),
        "client transaction is not a server transaction"
    );
    h.layer
        .handle_request(&k, MethodKind::Invite, UDP, h.now)
        .unwrap();
    assert_eq!(
        h.layer.send_response(&k, 99, Bytes::new(), h.now),
        Err(TransactionError::InvalidStatus(99))
    );
    assert_eq!(
        h.layer.send_response(&k, 700, Bytes::new(), h.now),
        Err(TransactionError::InvalidStatus(700))
    );
}

#[test]
fn reused_key_ignores_stale_timer() {
    let mut h = Harness::new();
    let k = key("r1", "OPTIONS");
    h.request(&k, MethodKind::Other, TCP);
    h.layer.handle_response(&k, 200, h.now, Bytes::new);
    assert_eq!(h.drain(), [Out::Terminated]);
    h.set(10_000);
    h.request(&k, MethodKind::Other, UDP);
    let mut expected = sends("OPTIONS", &[10_500, 11_500, 13_500, 17_500, 21_500, 25_500]);
    expected.extend(sends("OPTIONS", &[29_500, 33_500, 37_500, 41_500]));
    expected.push((42_000, Out::Timeout(super::super::Timer::F)));
    expected.push((42_000, Out::Terminated));
    assert_eq!(h.run_until(100_000), expected);
}

#[test]
fn thousands_of_transactions() {
    let mut h = Harness::new();
    let n = 5000u64;
    let a_times = [500, 1500, 3500, 7500, 15500, 31500];
    let keys: Vec<_> = (0..n).map(|i| key(&format!("bulk{i}"), "INVITE")).collect();
    let mut log = Vec::new();
    for (i, k) in (0u64..).zip(&keys) {
        log.extend(h.run_until(i));
        h.request(k, MethodKind::Invite, UDP);
    }
    // At n ms, even ones get a 180 (their timers go stale); odd ones time out.
    log.extend(h.run_until(n));
    for k in keys.iter().step_by(2) {
        let out = h.layer.handle_response(k, 180, h.now, Bytes::new);
        assert_eq!(out, ResponseOutcome::PassToTu);
    }
    log.extend(h.run_until(200_000));
    let timeouts = log
        .iter()
        .filter(|(_, o)| matches!(o, Out::Timeout(_)))
        .count();
    let sends = log.iter().filter(|(_, o)| matches!(o, Out::Tx(_))).count();
    assert_eq!(timeouts as u64, n / 2);
    let even_sends: usize = (0..n)
        .step_by(2)
        .map(|i| a_times.iter().filter(|&&t| i + t <= n).count())
        .sum();
    assert_eq!(sends, even_sends + (n as usize / 2) * 6);
    assert_eq!(
        h.layer.len() as u64,
        n / 2,
        "Proceeding INVITEs stay (no timer)"
    );
    assert!(
        log.windows(2).all(|w| w[0].0 <= w[1].0),
        "fired in time order"
    );
}
