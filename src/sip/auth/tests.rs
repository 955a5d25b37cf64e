//! Unit tests for digest verification: client/server round trips, stale,
//! forged and replayed nonces, bounded replay table.

use super::client::{Challenge, compute_credentials, respond_to_challenge, select_challenge};
use super::*;

const T0: u64 = 1_700_000_000;

fn auth() -> Authenticator {
    Authenticator::with_key(AuthConfig::new("sip.example.com"), [7u8; 32])
}

fn login(a: &Authenticator, alg: Algorithm, now: u64, pw: &str, nc: u32) -> DigestCredentials {
    let headers = a.challenge(now, false);
    let ch = headers
        .iter()
        .map(|h| Challenge::parse(h).unwrap())
        .find(|c| c.algorithm == alg)
        .expect("algorithm offered");
    compute_credentials(
        &ch,
        "alice",
        pw,
        "REGISTER",
        "sip:sip.example.com",
        "cn",
        nc,
    )
    .unwrap()
}

#[test]
fn challenge_order_and_content() {
    let a = auth();
    let h = a.challenge(T0, false);
    assert_eq!(h.len(), 2);
    assert!(h[0].contains("algorithm=SHA-256"), "{}", h[0]);
    assert!(h[1].contains("algorithm=MD5"), "{}", h[1]);
    let c0 = Challenge::parse(&h[0]).unwrap();
    let c1 = Challenge::parse(&h[1]).unwrap();
    assert_eq!(c0.realm, "sip.example.com");
    assert_eq!(c0.qop, vec![Qop::Auth]);
    assert_eq!(c0.opaque.as_deref(), Some(a.opaque()));
    assert_eq!(c0.nonce, c1.nonce);
    assert!(!c0.stale);
    assert!(
        a.challenge(T0, true)
            .iter()
            .all(|h| h.ends_with("stale=true"))
    );
    assert_eq!(
        select_challenge(h.iter().map(String::as_str))
            .unwrap()
            .algorithm,
        Algorithm::Sha256
    );
    // The configured order is the challenge order.
    let mut cfg = AuthConfig::new("sip.example.com");
    cfg.algorithms = vec![Algorithm::Md5, Algorithm::Sha256, Algorithm::Md5];
    let h = Authenticator::new(cfg).challenge(T0, false);
    assert_eq!(h.len(), 2);
    assert!(h[0].contains("algorithm=MD5") && h[1].contains("algorithm=SHA-256"));
}

#[test]
fn round_trip_all_algorithms_password_and_ha1() {
    let mut cfg = AuthConfig::new("sip.example.com");
    cfg.algorithms = Algorithm::ALL.to_vec();
    let a = Authenticator::new(cfg);
    for alg in Algorithm::ALL {
        let c = login(&a, alg, T0, "s3cret", 1);
        assert_eq!(c.algorithm, alg);
        let out = a.verify(&c, "REGISTER", Secret::Password("s3cret"), T0 + 1);
        assert_eq!(out, AuthOutcome::Ok, "{alg}");
        let ha1 = compute_ha1(alg, "alice", "sip.example.com", "s3cret").to_uppercase();
        let c2 = login(&a, alg, T0, "s3cret", 1);
        assert_eq!(
            a.verify(&c2, "REGISTER", Secret::Ha1(&ha1), T0),
            AuthOutcome::Ok
        );
    }
}

#[test]
fn header_round_trip() {
    let a = auth();
    let ch = Challenge::parse(&a.challenge(T0, false)[0]).unwrap();
    let h = respond_to_challenge(&ch, "alice", "pw", "INVITE", "sip:1000@x", "abc", 1).unwrap();
    let c = DigestCredentials::parse(&h).unwrap();
    assert_eq!(
        a.verify(&c, "INVITE", Secret::Password("pw"), T0),
        AuthOutcome::Ok
    );
}

#[test]
fn wrong_password_and_unknown_user_look_alike() {
    let a = auth();
    let c = login(&a, Algorithm::Sha256, T0, "guess", 1);
    assert_eq!(
        a.verify(&c, "REGISTER", Secret::Password("right"), T0),
        AuthOutcome::Fail(FailReason::WrongResponse)
    );
    assert_eq!(
        a.verify_unknown_user(&c, "REGISTER", T0),
        AuthOutcome::Fail(FailReason::UnknownUser)
    );
    // Even with an expired nonce neither says "stale".
    assert!(matches!(
        a.verify_unknown_user(&c, "REGISTER", T0 + 10_000),
        AuthOutcome::Fail(_)
    ));
    assert!(matches!(
        a.verify(&c, "REGISTER", Secret::Password("right"), T0 + 10_000),
        AuthOutcome::Fail(_)
    ));
}

#[test]
fn replay_detection_with_qop() {
    let a = auth();
    let c1 = login(&a, Algorithm::Sha256, T0, "pw", 1);
    assert_eq!(
        a.verify(&c1, "REGISTER", Secret::Password("pw"), T0),
        AuthOutcome::Ok
    );
    assert_eq!(
        a.verify(&c1, "REGISTER", Secret::Password("pw"), T0 + 1),
        AuthOutcome::Fail(FailReason::Replay)
    );
    // Next nc with the same nonce is fine, going back is not.
    let ch = Challenge {
        realm: c1.realm.clone(),
        nonce: c1.nonce.clone(),
        opaque: c1.opaque.clone(),
        algorithm: c1.algorithm,
        qop: vec![Qop::Auth],
        stale: false,
    };
    let at = |nc| compute_credentials(&ch, "alice", "pw", "REGISTER", &c1.uri, "x", nc).unwrap();
    assert_eq!(
        a.verify(&at(3), "REGISTER", Secret::Password("pw"), T0 + 2),
        AuthOutcome::Ok
    );
    assert_eq!(
        a.verify(&at(2), "REGISTER", Secret::Password("pw"), T0 + 3),
        AuthOutcome::Fail(FailReason::Replay)
    );
    assert_eq!(a.tracked_nonces(), 1);
}

#[test]
fn legacy_no_qop_nonce_is_single_use() {
    let a = auth();
    let nonce = a.new_nonce(T0);
    let ch = Challenge {
        realm: "sip.example.com".into(),
        nonce,
        opaque: None,
        algorithm: Algorithm::Md5,
        qop: vec![],
        stale: false,
    };
    let c = compute_credentials(&ch, "alice", "pw", "REGISTER", "sip:x", "", 1).unwrap();
    assert_eq!(c.qop, None);
    assert_eq!(c.cnonce, None);
    assert_eq!(
        a.verify(&c, "REGISTER", Secret::Password("pw"), T0),
        AuthOutcome::Ok
    );
    assert_eq!(
        a.verify(&c, "REGISTER", Secret::Password("pw"), T0),
        AuthOutcome::Fail(FailReason::Replay)
    );
    // Legacy mode can be switched off.
    let mut cfg = AuthConfig::new("sip.example.com");
    cfg.allow_legacy_no_qop = false;
    let strict = Authenticator::with_key(cfg, [7u8; 32]);
    assert_eq!(
        strict.verify(&c, "REGISTER", Secret::Password("pw"), T0),
        AuthOutcome::Fail(FailReason::QopRequired)
    );
}

#[test]
fn stale_nonce() {
    let a = auth();
    let c = login(&a, Algorithm::Md5, T0, "pw", 1);
    assert_eq!(
        a.verify(&c, "REGISTER", Secret::Password("pw"), T0 + 300),
        AuthOutcome::Stale
    );
    assert_eq!(
        a.verify(&c, "REGISTER", Secret::Password("pw"), T0 + 299),
        AuthOutcome::Ok
    );
}

#[test]
fn forged_and_foreign_nonces_fail() {
    let a = auth();
    let mut c = login(&a, Algorithm::Sha256, T0, "pw", 1);
    // Flip one character of the nonce and re-sign the response as a client
    // would: the nonce tag no longer verifies.
    let mut forged = c.nonce.clone().into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    let ch = Challenge {
        realm: c.realm.clone(),
        nonce: String::from_utf8(forged).unwrap(),
        opaque: c.opaque.clone(),
        algorithm: c.algorithm,
        qop: vec![Qop::Auth],
        stale: false,
    };
    c = compute_credentials(&ch, "alice", "pw", "REGISTER", &c.uri, "x", 1).unwrap();
    assert_eq!(
        a.verify(&c, "REGISTER", Secret::Password("pw"), T0),
        AuthOutcome::Fail(FailReason::BadNonce)
    );
    // A nonce from another process key is rejected too.
    let other = Authenticator::with_key(AuthConfig::new("sip.example.com"), [8u8; 32]);
    let mut c = login(&other, Algorithm::Sha256, T0, "pw", 1);
    c.opaque = None;
    assert_eq!(
        a.verify(&c, "REGISTER", Secret::Password("pw"), T0),
        AuthOutcome::Fail(FailReason::BadNonce)
    );
}

#[test]
fn wrong_realm_uri_method_algorithm() {
    let a = auth();
    let base = login(&a, Algorithm::Sha256, T0, "pw", 1);
    let pw = Secret::Password("pw");

    let mut c = base.clone();
    c.realm = "evil.example.com".into();
    assert_eq!(
        a.verify(&c, "REGISTER", pw, T0),
        AuthOutcome::Fail(FailReason::WrongRealm)
    );

    let mut c = base.clone();
    c.uri = "sip:other.example.com".into();
    assert_eq!(
        a.verify(&c, "REGISTER", pw, T0),
        AuthOutcome::Fail(FailReason::WrongResponse)
    );

    assert_eq!(
        a.verify(&base, "INVITE", pw, T0),
        AuthOutcome::Fail(FailReason::WrongResponse)
    );

    // Claims SHA-256 but the response was computed with MD5.
    let mut c = login(&a, Algorithm::Md5, T0, "pw", 1);
    c.algorithm = Algorithm::Sha256;
    assert_eq!(
        a.verify(&c, "REGISTER", pw, T0),
        AuthOutcome::Fail(FailReason::WrongResponse)
    );

    // Algorithm not enabled on this server.
    let mut c = base.clone();
    c.algorithm = Algorithm::Sha512_256;
    assert_eq!(
        a.verify(&c, "REGISTER", pw, T0),
        AuthOutcome::Fail(FailReason::AlgorithmNotOffered)
    );

    // Stored HA1 of the wrong hash function.
    let md5_ha1 = compute_ha1(Algorithm::Md5, "alice", "sip.example.com", "pw");
    assert_eq!(
        a.verify(&base, "REGISTER", Secret::Ha1(&md5_ha1), T0),
        AuthOutcome::Fail(FailReason::Ha1AlgorithmMismatch)
    );

    let mut c = base.clone();
    c.opaque = Some("nope".into());
    assert_eq!(
        a.verify(&c, "REGISTER", pw, T0),
        AuthOutcome::Fail(FailReason::OpaqueMismatch)
    );

    let mut c = base.clone();
    c.nc = Some("00000000".into());
    assert_eq!(
        a.verify(&c, "REGISTER", pw, T0),
        AuthOutcome::Fail(FailReason::BadNonceCount)
    );

    // The untouched credentials still pass, and only once.
    assert_eq!(a.verify(&base, "REGISTER", pw, T0), AuthOutcome::Ok);
}

#[test]
fn auth_int_when_enabled() {
    let mut cfg = AuthConfig::new("r");
    cfg.allow_auth_int = true;
    let a = Authenticator::new(cfg);
    assert!(a.challenge(T0, false)[0].contains("qop=\"auth,auth-int\""));
    let nonce = a.new_nonce(T0);
    let input = ResponseInput {
        algorithm: Algorithm::Sha256,
        nonce: &nonce,
        method: "INVITE",
        uri: "sip:r",
        qop: Some(Qop::AuthInt),
        cnonce: "c",
        nc: "00000001",
        body: Some(b"v=0\r\n"),
    };
    let ha1 = compute_ha1(Algorithm::Sha256, "u", "r", "pw");
    let c = DigestCredentials {
        username: "u".into(),
        realm: "r".into(),
        nonce: nonce.clone(),
        uri: "sip:r".into(),
        response: compute_response_from_ha1(&ha1, &input),
        algorithm: Algorithm::Sha256,
        cnonce: Some("c".into()),
        nc: Some("00000001".into()),
        qop: Some(Qop::AuthInt),
        opaque: None,
    };
    let pw = Secret::Password("pw");
    assert_eq!(
        a.verify_with_body(&c, "INVITE", Some(b"v=1\r\n"), pw, T0),
        AuthOutcome::Fail(FailReason::WrongResponse)
    );
    assert_eq!(
        a.verify_with_body(&c, "INVITE", Some(b"v=0\r\n"), pw, T0),
        AuthOutcome::Ok
    );
    // Disabled by default.
    let default = Authenticator::new(AuthConfig::new("r"));
    assert_eq!(
        default.verify(&c, "INVITE", pw, T0),
        AuthOutcome::Fail(FailReason::QopNotOffered)
    );
}

#[test]
fn replay_table_is_bounded_and_eviction_makes_stale() {
    let mut cfg = AuthConfig::new("sip.example.com");
    cfg.max_tracked_nonces = 4;
    let a = Authenticator::with_key(cfg, [1u8; 32]);
    let first = login(&a, Algorithm::Sha256, T0, "pw", 1);
    assert_eq!(
        a.verify(&first, "REGISTER", Secret::Password("pw"), T0),
        AuthOutcome::Ok
    );
    for i in 0..10 {
        let c = login(&a, Algorithm::Sha256, T0 + 1 + i, "pw", 1);
        assert_eq!(
            a.verify(&c, "REGISTER", Secret::Password("pw"), T0 + 1 + i),
            AuthOutcome::Ok
        );
        assert!(a.tracked_nonces() <= 4);
    }
    // `first` was evicted while still valid: replaying it is not accepted.
    assert_eq!(
        a.verify(&first, "REGISTER", Secret::Password("pw"), T0 + 20),
        AuthOutcome::Stale
    );
    // Once everything expired the table is purged.
    let c = login(&a, Algorithm::Sha256, T0 + 1000, "pw", 1);
    assert_eq!(
        a.verify(&c, "REGISTER", Secret::Password("pw"), T0 + 1000),
        AuthOutcome::Ok
    );
    assert_eq!(a.tracked_nonces(), 1);
}

#[test]
fn nonce_issuer_rejects_garbage_and_other_realm() {
    let n = NonceIssuer::new([3u8; 32], 60);
    let nonce = n.issue("a", T0);
    assert_eq!(
        n.check(&nonce, "a", T0 + 10),
        NonceStatus::Fresh { issued: T0 }
    );
    assert_eq!(n.check(&nonce, "b", T0), NonceStatus::Invalid);
    assert_eq!(n.check(&nonce, "a", T0 + 60), NonceStatus::Expired);
    assert_eq!(n.check("", "a", T0), NonceStatus::Invalid);
    assert_eq!(n.check("not base64 !!", "a", T0), NonceStatus::Invalid);
    assert_eq!(
        n.check(&nonce[..nonce.len() - 2], "a", T0),
        NonceStatus::Invalid
    );
    assert_ne!(n.issue("a", T0), nonce, "nonces carry randomness");
}

#[test]
fn constant_time_eq_basics() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}
