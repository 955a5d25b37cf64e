//! Digest algorithms (RFC 7616 / RFC 8760): names, hash functions, and the
//! HA1 / HA2 / response computations shared by the server verifier and the
//! client-side responder.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Sha256, Sha512_256};

use super::AuthError;

/// A digest algorithm as named in the `algorithm` auth-param.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (also the default when the parameter is absent).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 8760).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256`.
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

/// The hash function underlying an [`Algorithm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashFn {
    /// MD5, 32 hex digits.
    Md5,
    /// SHA-256, 64 hex digits.
    Sha256,
    /// SHA-512/256, 64 hex digits.
    Sha512_256,
}

impl HashFn {
    /// Lower-case hex digest of the concatenation of `parts`.
    pub fn hex(self, parts: &[&[u8]]) -> String {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            hex::encode(d.finalize())
        }
        match self {
            HashFn::Md5 => run::<Md5>(parts),
            HashFn::Sha256 => run::<Sha256>(parts),
            HashFn::Sha512_256 => run::<Sha512_256>(parts),
        }
    }

    /// Length of the hex digest this function produces.
    pub fn hex_len(self) -> usize {
        match self {
            HashFn::Md5 => 32,
            HashFn::Sha256 | HashFn::Sha512_256 => 64,
        }
    }
}

impl Algorithm {
    /// Every supported algorithm, strongest first (the challenge order
    /// recommended by RFC 8760: preferred algorithm first, MD5 last).
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// The token used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// The hash function used by this algorithm.
    pub fn hash(self) -> HashFn {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => HashFn::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => HashFn::Sha256,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => HashFn::Sha512_256,
        }
    }

    /// Whether this is a `-sess` variant (HA1 mixes in nonce and cnonce).
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// The value of an `algorithm` auth-param, MD5 when the parameter is
    /// absent (RFC 7616 3.3, 3.4).
    pub(crate) fn from_param(value: Option<&str>) -> Result<Self, AuthError> {
        value.map_or(Ok(Algorithm::Md5), str::parse)
    }

    /// Preference rank used to order challenges (lower = offered first).
    pub(crate) fn rank(self) -> usize {
        Self::ALL
            .iter()
            .position(|a| *a == self)
            .unwrap_or(usize::MAX)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = AuthError;

    /// Case-insensitive parse of an algorithm token.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| AuthError::UnsupportedAlgorithm(s.to_owned()))
    }
}

/// The stored secret of a user: H(username ":" realm ":" password), lower-case
/// hex, for the hash function of `algorithm` (the `-sess` variants share the
/// HA1 of their base algorithm; the session mixing happens at verify time).
pub fn compute_ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash().hex(&[
        username.as_bytes(),
        b":",
        realm.as_bytes(),
        b":",
        password.as_bytes(),
    ])
}

/// The quality of protection used in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// `qop=auth`.
    Auth,
    /// `qop=auth-int` (the body is hashed into HA2).
    AuthInt,
}

impl Qop {
    /// Wire token.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    /// Case-insensitive parse; `None` for unknown values.
    pub fn parse(s: &str) -> Option<Qop> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }
}

/// Everything that enters the `response` computation besides HA1.
#[derive(Debug, Clone, Copy)]
pub struct ResponseInput<'a> {
    /// Algorithm in use.
    pub algorithm: Algorithm,
    /// Server nonce.
    pub nonce: &'a str,
    /// Request method (e.g. `REGISTER`).
    pub method: &'a str,
    /// The `uri` auth-param (digest-uri), exactly as sent.
    pub uri: &'a str,
    /// qop, `None` for the legacy RFC 2069 form.
    pub qop: Option<Qop>,
    /// Client nonce (required with qop or a `-sess` algorithm).
    pub cnonce: &'a str,
    /// Nonce count as the 8 hex digits sent on the wire.
    pub nc: &'a str,
    /// Message body, only used with `auth-int` (absent = empty body).
    pub body: Option<&'a [u8]>,
}

/// Computes the expected `response` value from a base HA1 (see
/// [`compute_ha1`]). Lower-case hex.
pub fn compute_response_from_ha1(ha1: &str, input: &ResponseInput<'_>) -> String {
    let h = input.algorithm.hash();
    let session_ha1;
    let ha1 = if input.algorithm.is_session() {
        session_ha1 = h.hex(&[
            ha1.as_bytes(),
            b":",
            input.nonce.as_bytes(),
            b":",
            input.cnonce.as_bytes(),
        ]);
        session_ha1.as_str()
    } else {
        ha1
    };
    let ha2 = match input.qop {
        Some(Qop::AuthInt) => {
            let body_hash = h.hex(&[input.body.unwrap_or_default()]);
            h.hex(&[
                input.method.as_bytes(),
                b":",
                input.uri.as_bytes(),
                b":",
                body_hash.as_bytes(),
            ])
        }
        _ => h.hex(&[input.method.as_bytes(), b":", input.uri.as_bytes()]),
    };
    match input.qop {
        Some(qop) => h.hex(&[
            ha1.as_bytes(),
            b":",
            input.nonce.as_bytes(),
            b":",
            input.nc.as_bytes(),
            b":",
            input.cnonce.as_bytes(),
            b":",
            qop.as_str().as_bytes(),
            b":",
            ha2.as_bytes(),
        ]),
        None => h.hex(&[
            ha1.as_bytes(),
            b":",
            input.nonce.as_bytes(),
            b":",
            ha2.as_bytes(),
        ]),
    }
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // Keep the optimiser from short-circuiting the loop above.
    std::hint::black_box(diff) == 0
}
