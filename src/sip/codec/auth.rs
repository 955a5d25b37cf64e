//! Authentication headers (RFC 3261 22, RFC 7616): [`Credentials`] for
//! Authorization / Proxy-Authorization and [`Challenge`] for
//! WWW-Authenticate / Proxy-Authenticate: a scheme plus an auth-param list
//! with quoted values unquoted. Unknown schemes parse (RFC 4475 TC_REGAUT01);
//! a token68 form (e.g. Basic) is kept raw.

use super::error::ValueError;
use super::header_name::HeaderName;
use super::message::SipMessage;
use super::scan::{Cursor, eq_ic, is_lws, unquote};
use smallvec::SmallVec;
use std::borrow::Cow;

/// Scheme and parameters of a credentials or challenge value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthValue<'a> {
    pub scheme: &'a str,
    /// `name=value` pairs, values unquoted.
    pub params: SmallVec<[(&'a str, Cow<'a, str>); 8]>,
    /// Set when the value after the scheme is not an auth-param list.
    pub token68: Option<&'a str>,
}

/// Authorization / Proxy-Authorization value.
pub type Credentials<'a> = AuthValue<'a>;
/// WWW-Authenticate / Proxy-Authenticate value.
pub type Challenge<'a> = AuthValue<'a>;

impl<'a> AuthValue<'a> {
    /// Parses `scheme LWS auth-param *(COMMA auth-param)`.
    pub fn parse(s: &'a str) -> Result<AuthValue<'a>, ValueError> {
        let mut c = Cursor::new(s);
        c.skip_lws();
        let scheme = c.token().ok_or(ValueError::Invalid("auth scheme"))?;
        c.skip_lws();
        let rest_start = c.pos;
        let mut params = SmallVec::new();
        let parsed: Option<()> = (|| {
            while !c.at_end() {
                c.skip_lws();
                let name = c.token()?;
                if !c.eat(b'=') {
                    return None;
                }
                c.skip_lws();
                let v = if c.peek() == Some(b'"') {
                    unquote(c.quoted()?)
                } else {
                    Cow::Borrowed(c.token()?)
                };
                params.push((name, v));
                c.skip_lws();
                if !c.at_end() && !c.eat(b',') {
                    return None;
                }
            }
            Some(())
        })();
        let rest = s.get(rest_start..).unwrap_or("");
        if parsed.is_none() {
            let t = rest.trim_end_matches(|ch: char| ch.is_ascii() && is_lws(ch as u8));
            if t.is_empty() || t.bytes().any(is_lws) {
                return Err(ValueError::Invalid("auth params"));
            }
            return Ok(AuthValue {
                scheme,
                params: SmallVec::new(),
                token68: Some(t),
            });
        }
        Ok(AuthValue {
            scheme,
            params,
            token68: None,
        })
    }

    /// Value of parameter `name` (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| eq_ic(n, name))
            .map(|(_, v)| v.as_ref())
    }

    /// True for the Digest scheme.
    pub fn is_digest(&self) -> bool {
        eq_ic(self.scheme, "Digest")
    }
}

impl SipMessage {
    fn auth_values(&self, name: HeaderName) -> Result<Vec<AuthValue<'_>>, ValueError> {
        self.headers_named(name)
            .map(|v| AuthValue::parse(v.as_str()?))
            .collect()
    }
    /// All Authorization values.
    pub fn authorization(&self) -> Result<Vec<Credentials<'_>>, ValueError> {
        self.auth_values(HeaderName::Authorization)
    }
    /// All Proxy-Authorization values.
    pub fn proxy_authorization(&self) -> Result<Vec<Credentials<'_>>, ValueError> {
        self.auth_values(HeaderName::ProxyAuthorization)
    }
    /// All WWW-Authenticate challenges.
    pub fn www_authenticate(&self) -> Result<Vec<Challenge<'_>>, ValueError> {
        self.auth_values(HeaderName::WwwAuthenticate)
    }
    /// All Proxy-Authenticate challenges.
    pub fn proxy_authenticate(&self) -> Result<Vec<Challenge<'_>>, ValueError> {
        self.auth_values(HeaderName::ProxyAuthenticate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest() {
        let a = AuthValue::parse("Digest username=\"bob\", realm=\"a\\\"b\",\r\n nonce=\"n\", uri=\"sip:x\", response=\"r\", algorithm=MD5, qop=auth, nc=00000001").unwrap();
        assert!(a.is_digest());
        assert_eq!(a.param("USERNAME"), Some("bob"));
        assert_eq!(a.param("realm"), Some("a\"b"));
        assert_eq!(a.param("nc"), Some("00000001"));
        assert_eq!(a.params.len(), 8);
    }

    #[test]
    fn other_forms() {
        let a = AuthValue::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(a.scheme, "NoOneKnowsThisScheme");
        assert_eq!(a.param("opaque-data"), Some("here"));
        let a = AuthValue::parse("Basic dXNlcjpwYXNz==").unwrap();
        assert_eq!(a.token68, Some("dXNlcjpwYXNz=="));
        assert!(AuthValue::parse("").is_err());
        assert!(AuthValue::parse("Digest a b c").is_err());
    }
}
