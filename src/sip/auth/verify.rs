//! The server side: [`Authenticator`] issues `WWW-Authenticate` challenges
//! and verifies `Authorization` credentials against a password or stored
//! HA1, with stale-nonce and replay handling.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::algorithm::{
    Algorithm, Qop, ResponseInput, compute_ha1, compute_response_from_ha1, constant_time_eq,
};
use super::credentials::DigestCredentials;
use super::nonce::{NonceIssuer, NonceStatus, ReplayTable, UseError};
use super::params::quote;

/// Server-side digest configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Realm announced in challenges and required in credentials.
    pub realm: String,
    /// Algorithms offered and accepted, in challenge order (a client that
    /// reads only the first challenge gets the first one listed).
    /// Default: `[SHA-256, MD5]`.
    pub algorithms: Vec<Algorithm>,
    /// Nonce lifetime; older nonces are answered with `stale=true`.
    /// Default 300 s.
    pub nonce_lifetime_secs: u64,
    /// Accept RFC 2069 style responses without qop (MD5 only, a nonce is
    /// then single-use). Default true.
    pub allow_legacy_no_qop: bool,
    /// Offer and accept `qop=auth-int` (needs the body at verify time).
    /// Default false.
    pub allow_auth_int: bool,
    /// Bound of the replay table. Default 32768.
    pub max_tracked_nonces: usize,
}

impl AuthConfig {
    /// Defaults with the given realm.
    pub fn new(realm: impl Into<String>) -> Self {
        AuthConfig {
            realm: realm.into(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_lifetime_secs: 300,
            allow_legacy_no_qop: true,
            allow_auth_int: false,
            max_tracked_nonces: 32_768,
        }
    }
}

/// The secret to verify against.
#[derive(Clone, Copy)]
pub enum Secret<'a> {
    /// Plaintext password.
    Password(&'a str),
    /// Stored HA1 = H(username:realm:password) in hex, computed with the hash
    /// function of the credentials' algorithm (see
    /// [`compute_ha1`](super::compute_ha1); `X-sess` uses the HA1 of `X`).
    Ha1(&'a str),
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Secret::Password(_) => "Password(<redacted>)",
            Secret::Ha1(_) => "Ha1(<redacted>)",
        })
    }
}

/// Why verification failed (for logs; never tell the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// `realm` is not ours.
    WrongRealm,
    /// The algorithm is not enabled.
    AlgorithmNotOffered,
    /// No qop but legacy mode is disabled or the algorithm is not plain MD5.
    QopRequired,
    /// `auth-int` used but not enabled.
    QopNotOffered,
    /// `nc` is not 1-8 hex digits or is zero.
    BadNonceCount,
    /// `opaque` differs from the one we issue.
    OpaqueMismatch,
    /// The nonce was not issued by us for this realm.
    BadNonce,
    /// The stored HA1 does not have the length of the algorithm's hash.
    Ha1AlgorithmMismatch,
    /// Digest does not match: wrong password or tampered parameters.
    WrongResponse,
    /// The user does not exist (see [`Authenticator::verify_unknown_user`]).
    UnknownUser,
    /// The nonce/nc pair was already used.
    Replay,
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailReason::WrongRealm => "wrong realm",
            FailReason::AlgorithmNotOffered => "algorithm not offered",
            FailReason::QopRequired => "qop required",
            FailReason::QopNotOffered => "qop not offered",
            FailReason::BadNonceCount => "malformed nonce count",
            FailReason::OpaqueMismatch => "opaque mismatch",
            FailReason::BadNonce => "nonce not issued by this server",
            FailReason::Ha1AlgorithmMismatch => "stored HA1 does not match algorithm",
            FailReason::WrongResponse => "wrong response",
            FailReason::UnknownUser => "unknown user",
            FailReason::Replay => "replayed nonce count",
        })
    }
}

/// Result of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Authenticated.
    Ok,
    /// Correct digest but the nonce expired (or was forgotten): answer with a
    /// new challenge carrying `stale=true`.
    Stale,
    /// Refused; the reason is for logs only. Answer an unknown user, a wrong
    /// password and every other failure identically.
    Fail(FailReason),
}

/// Issues challenges and verifies credentials. Cheap to share behind an
/// `Arc`: the replay table has its own lock, held only briefly.
pub struct Authenticator {
    config: AuthConfig,
    issuer: NonceIssuer,
    opaque: String,
    dummy_password: String,
    replay: Mutex<ReplayTable>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// A new authenticator with a random per-process nonce key.
    pub fn new(config: AuthConfig) -> Self {
        Self::with_key(config, rand::random())
    }

    /// A new authenticator with an explicit nonce key (e.g. shared between
    /// restarts or cluster nodes so that outstanding nonces stay valid).
    pub fn with_key(mut config: AuthConfig, key: [u8; 32]) -> Self {
        // Keep the configured order (it is the challenge order: many phones
        // and SIPp read only the first challenge), dropping repeats.
        let mut seen = Vec::with_capacity(config.algorithms.len());
        config.algorithms.retain(|a| {
            let new = !seen.contains(a);
            seen.push(*a);
            new
        });
        if config.algorithms.is_empty() {
            config.algorithms = vec![Algorithm::Sha256, Algorithm::Md5];
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC accepts any key length");
        mac.update(b"opaque\0");
        mac.update(config.realm.as_bytes());
        let opaque = hex::encode(&mac.finalize().into_bytes()[..16]);
        let issuer = NonceIssuer::new(key, config.nonce_lifetime_secs);
        let replay = ReplayTable::new(config.max_tracked_nonces, config.nonce_lifetime_secs);
        Authenticator {
            config,
            issuer,
            opaque,
            dummy_password: hex::encode(rand::random::<[u8; 16]>()),
            replay: Mutex::new(replay),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// The `opaque` value this server sends.
    pub fn opaque(&self) -> &str {
        &self.opaque
    }

    /// Issues a fresh nonce.
    pub fn new_nonce(&self, now: u64) -> String {
        self.issuer.issue(&self.config.realm, now)
    }

    /// `WWW-Authenticate` (or `Proxy-Authenticate`) header values, one per
    /// enabled algorithm, in the configured order, sharing one fresh nonce.
    /// `stale` is set when the previous attempt returned [`AuthOutcome::Stale`].
    pub fn challenge(&self, now: u64, stale: bool) -> Vec<String> {
        let nonce = self.new_nonce(now);
        let qop = if self.config.allow_auth_int {
            "auth,auth-int"
        } else {
            "auth"
        };
        self.config
            .algorithms
            .iter()
            .map(|alg| {
                let mut s = String::from("Digest ");
                let _ = write!(
                    s,
                    "realm={}, nonce={}, opaque={}, algorithm={}, qop={}",
                    quote(&self.config.realm),
                    quote(&nonce),
                    quote(&self.opaque),
                    alg,
                    quote(qop)
                );
                if stale {
                    s.push_str(", stale=true");
                }
                s
            })
            .collect()
    }

    /// Verifies `creds` for a request with `method` (no body; see
    /// [`verify_with_body`](Self::verify_with_body) for `auth-int`).
    /// `now` is in seconds on the same clock used for [`challenge`](Self::challenge)
    /// (normally [`unix_now`](super::unix_now)).
    ///
    /// The caller should also check that `creds.uri` designates the
    /// Request-URI (a SIP URI comparison, left to the codec).
    pub fn verify(
        &self,
        creds: &DigestCredentials,
        method: &str,
        secret: Secret<'_>,
        now: u64,
    ) -> AuthOutcome {
        self.verify_with_body(creds, method, None, secret, now)
    }

    /// Same as [`verify`](Self::verify) but with the message body, needed
    /// when the client used `qop=auth-int`.
    pub fn verify_with_body(
        &self,
        creds: &DigestCredentials,
        method: &str,
        body: Option<&[u8]>,
        secret: Secret<'_>,
        now: u64,
    ) -> AuthOutcome {
        self.verify_inner(creds, method, body, secret, now, true)
    }

    /// Runs the same computation as [`verify`](Self::verify) against a
    /// random dummy password and always fails with
    /// [`FailReason::UnknownUser`]: call it when the username is unknown so
    /// that response and timing match a wrong password. Registrars storing
    /// HA1 pay one extra hash here, far below network jitter.
    pub fn verify_unknown_user(
        &self,
        creds: &DigestCredentials,
        method: &str,
        now: u64,
    ) -> AuthOutcome {
        let secret = Secret::Password(&self.dummy_password);
        match self.verify_inner(creds, method, None, secret, now, false) {
            AuthOutcome::Fail(r) if r != FailReason::WrongResponse => AuthOutcome::Fail(r),
            _ => AuthOutcome::Fail(FailReason::UnknownUser),
        }
    }

    fn verify_inner(
        &self,
        creds: &DigestCredentials,
        method: &str,
        body: Option<&[u8]>,
        secret: Secret<'_>,
        now: u64,
        commit: bool,
    ) -> AuthOutcome {
        use AuthOutcome::Fail;
        let cfg = &self.config;
        if creds.realm != cfg.realm {
            return Fail(FailReason::WrongRealm);
        }
        if !cfg.algorithms.contains(&creds.algorithm) {
            return Fail(FailReason::AlgorithmNotOffered);
        }
        let nc = match creds.qop {
            None => {
                if !cfg.allow_legacy_no_qop || creds.algorithm != Algorithm::Md5 {
                    return Fail(FailReason::QopRequired);
                }
                None
            }
            Some(qop) => {
                if qop == Qop::AuthInt && !cfg.allow_auth_int {
                    return Fail(FailReason::QopNotOffered);
                }
                match creds.nc.as_deref().and_then(parse_nc) {
                    Some(nc) => Some(nc),
                    None => return Fail(FailReason::BadNonceCount),
                }
            }
        };
        if creds.opaque.as_deref().is_some_and(|o| o != self.opaque) {
            return Fail(FailReason::OpaqueMismatch);
        }
        let issued = match self.issuer.check(&creds.nonce, &cfg.realm, now) {
            NonceStatus::Fresh { issued } => Some(issued),
            NonceStatus::Expired => None,
            NonceStatus::Invalid => return Fail(FailReason::BadNonce),
        };
        let computed_ha1;
        let ha1 = match secret {
            Secret::Password(pw) => {
                computed_ha1 = compute_ha1(creds.algorithm, &creds.username, &cfg.realm, pw);
                computed_ha1.as_str()
            }
            Secret::Ha1(h) => {
                if h.len() != creds.algorithm.hash().hex_len() {
                    return Fail(FailReason::Ha1AlgorithmMismatch);
                }
                computed_ha1 = h.to_ascii_lowercase();
                computed_ha1.as_str()
            }
        };
        let expected = compute_response_from_ha1(
            ha1,
            &ResponseInput {
                algorithm: creds.algorithm,
                nonce: &creds.nonce,
                method,
                uri: &creds.uri,
                qop: creds.qop,
                cnonce: creds.cnonce.as_deref().unwrap_or(""),
                nc: creds.nc.as_deref().unwrap_or(""),
                body,
            },
        );
        let given = creds.response.to_ascii_lowercase();
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Fail(FailReason::WrongResponse);
        }
        // Only a correct digest may learn that the nonce is stale (RFC 7616
        // 3.3) or consume a nonce count.
        let Some(issued) = issued else {
            return AuthOutcome::Stale;
        };
        if !commit {
            return Fail(FailReason::UnknownUser);
        }
        let mut table = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        match table.accept(&creds.nonce, issued, nc, now) {
            Ok(()) => AuthOutcome::Ok,
            Err(UseError::Replay) => Fail(FailReason::Replay),
            Err(UseError::Forgotten) => AuthOutcome::Stale,
        }
    }

    /// Number of nonces currently tracked for replay protection.
    pub fn tracked_nonces(&self) -> usize {
        self.replay.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Parses `nc` (1 to 8 hex digits, non-zero).
fn parse_nc(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok().filter(|n| *n > 0)
}
