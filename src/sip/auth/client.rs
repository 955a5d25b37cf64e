//! The client side: parse a `WWW-Authenticate` / `Proxy-Authenticate`
//! challenge and compute the matching `Authorization` header value (used for
//! outbound trunk registration and by the tests).

use super::AuthError;
use super::algorithm::{Algorithm, Qop, ResponseInput, compute_ha1, compute_response_from_ha1};
use super::credentials::DigestCredentials;
use super::params::{find, parse_digest_params};

/// A parsed digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, to be echoed back.
    pub opaque: Option<String>,
    /// `algorithm` (MD5 when absent).
    pub algorithm: Algorithm,
    /// Offered qop values we understand; empty when the challenge has no
    /// `qop` (legacy RFC 2069 server).
    pub qop: Vec<Qop>,
    /// `stale=true`: the password was right, only the nonce was old.
    pub stale: bool,
}

impl Challenge {
    /// Builds a challenge from unquoted `(name, value)` auth-params.
    pub fn from_params<I, N, V>(params: I) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let params: Vec<(String, String)> = params
            .into_iter()
            .map(|(n, v)| (n.as_ref().to_ascii_lowercase(), v.as_ref().to_owned()))
            .collect();
        let realm = find(&params, "realm").ok_or(AuthError::MissingParam("realm"))?;
        let nonce = find(&params, "nonce").ok_or(AuthError::MissingParam("nonce"))?;
        let algorithm = Algorithm::from_param(find(&params, "algorithm"))?;
        let qop = find(&params, "qop")
            .map(|q| q.split(',').filter_map(Qop::parse).collect())
            .unwrap_or_default();
        let stale = find(&params, "stale").is_some_and(|s| s.trim().eq_ignore_ascii_case("true"));
        Ok(Challenge {
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            opaque: find(&params, "opaque").map(str::to_owned),
            algorithm,
            qop,
            stale,
        })
    }

    /// Parses a raw `WWW-Authenticate` header value.
    pub fn parse(header_value: &str) -> Result<Self, AuthError> {
        Self::from_params(parse_digest_params(header_value)?)
    }
}

/// Picks the challenge with the strongest algorithm we support among
/// several `WWW-Authenticate` header values (unparseable ones are skipped).
pub fn select_challenge<'a, I>(header_values: I) -> Option<Challenge>
where
    I: IntoIterator<Item = &'a str>,
{
    header_values
        .into_iter()
        .filter_map(|h| Challenge::parse(h).ok())
        .min_by_key(|c| c.algorithm.rank())
}

/// A random client nonce (32 hex digits).
pub fn generate_cnonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Computes the credentials answering `challenge`. Uses `qop=auth` when
/// offered, the legacy form when the challenge has no qop, and fails with
/// [`AuthError::UnsupportedQop`] when only `auth-int` is offered.
/// `nc` is the nonce count (1 for the first use of a nonce).
#[allow(clippy::too_many_arguments)]
pub fn compute_credentials(
    challenge: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> Result<DigestCredentials, AuthError> {
    let qop = if challenge.qop.contains(&Qop::Auth) {
        Some(Qop::Auth)
    } else if challenge.qop.is_empty() {
        None
    } else {
        return Err(AuthError::UnsupportedQop("auth-int".to_owned()));
    };
    let nc_str = format!("{nc:08x}");
    let ha1 = compute_ha1(challenge.algorithm, username, &challenge.realm, password);
    let response = compute_response_from_ha1(
        &ha1,
        &ResponseInput {
            algorithm: challenge.algorithm,
            nonce: &challenge.nonce,
            method,
            uri,
            qop,
            cnonce,
            nc: &nc_str,
            body: None,
        },
    );
    let with_cnonce = qop.is_some() || challenge.algorithm.is_session();
    Ok(DigestCredentials {
        username: username.to_owned(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_owned(),
        response,
        algorithm: challenge.algorithm,
        cnonce: with_cnonce.then(|| cnonce.to_owned()),
        nc: qop.is_some().then_some(nc_str),
        qop,
        opaque: challenge.opaque.clone(),
    })
}

/// Same as [`compute_credentials`], rendered as an `Authorization` header
/// value.
#[allow(clippy::too_many_arguments)]
pub fn respond_to_challenge(
    challenge: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, AuthError> {
    compute_credentials(challenge, username, password, method, uri, cnonce, nc)
        .map(|c| c.to_header_value())
}
