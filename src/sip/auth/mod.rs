//! SIP digest authentication (RFC 3261 22.4 over RFC 7616 / RFC 2617, with the
//! SHA-2 algorithms of RFC 8760).
//!
//! This module owns the pure logic only — no I/O, no global clock inside:
//! - [`Authenticator`]: challenge generation (`WWW-Authenticate` values) and
//!   verification of [`DigestCredentials`] against a password or stored HA1,
//!   with stateless HMAC-authenticated nonces, stale detection and a bounded
//!   replay table;
//! - [`client`]: answering a challenge (outbound registration, tests);
//! - helpers: [`compute_ha1`], header-value parsing and quoting.
//!
//! Time is a `u64` count of seconds passed by the caller (use [`unix_now`] at
//! the edge); tests drive it with a fake clock.
//!
//! Registrar rule: an unknown user must be answered exactly like a wrong
//! password. Call [`Authenticator::verify_unknown_user`] in that case; it does
//! the same work as a real verification and always fails.

mod algorithm;
pub mod client;
mod credentials;
mod nonce;
mod params;
mod verify;

#[cfg(test)]
mod kat_tests;
#[cfg(test)]
mod tests;

pub use algorithm::{
    Algorithm, HashFn, Qop, ResponseInput, compute_ha1, compute_response_from_ha1, constant_time_eq,
};
pub use credentials::DigestCredentials;
pub use nonce::{NonceIssuer, NonceStatus, ReplayTable, UseError};
pub use params::{parse_digest_params, parse_param_list, quote};
pub use verify::{AuthConfig, AuthOutcome, Authenticator, FailReason, Secret};

/// Errors while parsing digest header values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The auth-scheme is not `Digest`.
    #[error("authentication scheme is not Digest")]
    NotDigest,
    /// Syntax error in the parameter list.
    #[error("malformed digest header: {0}")]
    Malformed(&'static str),
    /// A required parameter is missing.
    #[error("missing digest parameter `{0}`")]
    MissingParam(&'static str),
    /// A parameter appears twice.
    #[error("duplicate digest parameter `{0}`")]
    DuplicateParam(&'static str),
    /// Unknown `algorithm` value.
    #[error("unsupported digest algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// Unknown or unusable `qop` value.
    #[error("unsupported qop `{0}`")]
    UnsupportedQop(String),
}

/// Seconds since the Unix epoch from the system clock: the `now` to pass to
/// [`Authenticator`] outside tests.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
