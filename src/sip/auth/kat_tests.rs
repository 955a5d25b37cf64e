//! Unit tests for digest parsing and RFC 7616 section 3.9.1 known answers.

use super::client::{Challenge, compute_credentials};
use super::*;

// RFC 7616 section 3.9.1 example.
const RFC_USER: &str = "Mufasa";
const RFC_PASS: &str = "Circle of Life";
const RFC_REALM: &str = "http-auth@example.org";
const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const RFC_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

fn rfc_response(alg: Algorithm) -> String {
    let ha1 = compute_ha1(alg, RFC_USER, RFC_REALM, RFC_PASS);
    compute_response_from_ha1(
        &ha1,
        &ResponseInput {
            algorithm: alg,
            nonce: RFC_NONCE,
            method: "GET",
            uri: "/dir/index.html",
            qop: Some(Qop::Auth),
            cnonce: RFC_CNONCE,
            nc: "00000001",
            body: None,
        },
    )
}

#[test]
fn rfc7616_known_answer_md5() {
    assert_eq!(
        rfc_response(Algorithm::Md5),
        "8ca523f5e9506fed4657c9700eebdbec"
    );
}

#[test]
fn rfc7616_known_answer_sha256() {
    assert_eq!(
        rfc_response(Algorithm::Sha256),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
}

#[test]
fn client_reproduces_rfc_example() {
    let ch = Challenge::parse(&format!(
        "Digest realm=\"{RFC_REALM}\", qop=\"auth, auth-int\", algorithm=SHA-256, \
         nonce=\"{RFC_NONCE}\", opaque=\"{RFC_OPAQUE}\""
    ))
    .unwrap();
    let creds = compute_credentials(
        &ch,
        RFC_USER,
        RFC_PASS,
        "GET",
        "/dir/index.html",
        RFC_CNONCE,
        1,
    )
    .unwrap();
    assert_eq!(
        creds.response,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    assert_eq!(creds.nc.as_deref(), Some("00000001"));
    assert_eq!(creds.opaque.as_deref(), Some(RFC_OPAQUE));
}

#[test]
fn parse_authorization_header() {
    let h = r#"digest USERNAME="al\"ice", realm="sip.example.com",nonce="abc",
        uri="sip:sip.example.com", response="00ff", algorithm="sha-256",
        cnonce="c1", nc=0000000a, qop=auth, opaque="op", extra=token"#;
    let c = DigestCredentials::parse(h).unwrap();
    assert_eq!(c.username, "al\"ice");
    assert_eq!(c.realm, "sip.example.com");
    assert_eq!(c.uri, "sip:sip.example.com");
    assert_eq!(c.algorithm, Algorithm::Sha256);
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(c.nc.as_deref(), Some("0000000a"));
    assert_eq!(c.opaque.as_deref(), Some("op"));
    // Round trip through rendering.
    assert_eq!(DigestCredentials::parse(&c.to_header_value()).unwrap(), c);
}

#[test]
fn parse_errors() {
    assert_eq!(
        DigestCredentials::parse("Basic dXNlcjpwYXNz"),
        Err(AuthError::NotDigest)
    );
    assert_eq!(
        DigestCredentials::parse(r#"Digest username="a", realm="r""#),
        Err(AuthError::MissingParam("nonce"))
    );
    assert!(matches!(
        DigestCredentials::parse(r#"Digest username="a"#),
        Err(AuthError::Malformed(_))
    ));
    assert_eq!(
        DigestCredentials::parse(
            r#"Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x""#
        ),
        Err(AuthError::DuplicateParam("username"))
    );
    assert!(matches!(
        DigestCredentials::parse(
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", algorithm=SHA-1"#
        ),
        Err(AuthError::UnsupportedAlgorithm(_))
    ));
    assert_eq!(
        DigestCredentials::parse(
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth, nc=00000001"#
        ),
        Err(AuthError::MissingParam("cnonce"))
    );
}

#[test]
fn from_params_is_case_insensitive() {
    let c = DigestCredentials::from_params([
        ("Username", "bob"),
        ("REALM", "r"),
        ("nonce", "n"),
        ("uri", "sip:r"),
        ("Response", "aa"),
    ])
    .unwrap();
    assert_eq!(c.username, "bob");
    assert_eq!(c.algorithm, Algorithm::Md5);
    assert_eq!(c.qop, None);
}
