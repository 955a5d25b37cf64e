//! `DigestCredentials`: the parsed content of an `Authorization` /
//! `Proxy-Authorization` header (RFC 3261 22.4, RFC 7616 3.4), built from
//! already-unquoted auth-params or parsed from the raw header value.

use std::fmt::Write as _;

use super::AuthError;
use super::algorithm::{Algorithm, Qop};
use super::params::{parse_digest_params, quote};

/// Digest credentials sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce` (as issued by the server).
    pub nonce: String,
    /// `uri` (digest-uri, exactly as the client sent it).
    pub uri: String,
    /// `response`, hex.
    pub response: String,
    /// `algorithm`, MD5 when absent.
    pub algorithm: Algorithm,
    /// `cnonce`, required with qop.
    pub cnonce: Option<String>,
    /// `nc`, 8 hex digits as sent, required with qop.
    pub nc: Option<String>,
    /// `qop`, `None` for legacy RFC 2069 clients.
    pub qop: Option<Qop>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<String>,
}

impl DigestCredentials {
    /// Builds credentials from `(name, value)` auth-params whose values are
    /// already unquoted. Names are case-insensitive; unknown parameters are
    /// ignored; a repeated known parameter is an error.
    ///
    /// Errors: missing `username`/`realm`/`nonce`/`uri`/`response`, unknown
    /// `algorithm` or `qop`, `qop` without `cnonce`/`nc`.
    pub fn from_params<I, N, V>(params: I) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        const KNOWN: [&str; 10] = [
            "username",
            "realm",
            "nonce",
            "uri",
            "response",
            "algorithm",
            "cnonce",
            "nc",
            "qop",
            "opaque",
        ];
        let mut slots: [Option<String>; 10] = Default::default();
        for (name, value) in params {
            let name = name.as_ref().trim();
            if let Some(i) = KNOWN.iter().position(|k| k.eq_ignore_ascii_case(name)) {
                if slots[i].is_some() {
                    return Err(AuthError::DuplicateParam(KNOWN[i]));
                }
                slots[i] = Some(value.as_ref().to_owned());
            }
        }
        let [
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            cnonce,
            nc,
            qop,
            opaque,
        ] = slots;
        let algorithm = Algorithm::from_param(algorithm.as_deref())?;
        let qop = match qop {
            Some(q) => Some(Qop::parse(&q).ok_or(AuthError::UnsupportedQop(q))?),
            None => None,
        };
        if qop.is_some() {
            if cnonce.is_none() {
                return Err(AuthError::MissingParam("cnonce"));
            }
            if nc.is_none() {
                return Err(AuthError::MissingParam("nc"));
            }
        }
        Ok(DigestCredentials {
            username: username.ok_or(AuthError::MissingParam("username"))?,
            realm: realm.ok_or(AuthError::MissingParam("realm"))?,
            nonce: nonce.ok_or(AuthError::MissingParam("nonce"))?,
            uri: uri.ok_or(AuthError::MissingParam("uri"))?,
            response: response.ok_or(AuthError::MissingParam("response"))?,
            algorithm,
            cnonce,
            nc,
            qop,
            opaque,
        })
    }

    /// Parses a raw `Authorization` header value
    /// (`Digest username="alice", realm="...", ...`).
    pub fn parse(header_value: &str) -> Result<Self, AuthError> {
        Self::from_params(parse_digest_params(header_value)?)
    }

    /// Renders the credentials as an `Authorization` header value.
    pub fn to_header_value(&self) -> String {
        let mut s = String::from("Digest ");
        let _ = write!(
            s,
            "username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(&self.uri),
            quote(&self.response),
            self.algorithm
        );
        if let Some(cnonce) = &self.cnonce {
            let _ = write!(s, ", cnonce={}", quote(cnonce));
        }
        if let Some(opaque) = &self.opaque {
            let _ = write!(s, ", opaque={}", quote(opaque));
        }
        if let Some(qop) = self.qop {
            let _ = write!(s, ", qop={}", qop.as_str());
        }
        if let Some(nc) = &self.nc {
            let _ = write!(s, ", nc={nc}");
        }
        s
    }
}

impl std::str::FromStr for DigestCredentials {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
