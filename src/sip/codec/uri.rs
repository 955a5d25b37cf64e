//! URIs: [`Uri`] for sip, sips and tel, with any other scheme kept opaque
//! (RFC 3261 absoluteURI). The original text is kept and is what Display
//! writes, so escapes like `%41` or `%00` round-trip unchanged.

use super::error::ValueError;
use super::params::{Host, Params, parse_hostport, parse_uri_params};
use std::borrow::Cow;

/// URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme<'a> {
    Sip,
    Sips,
    Tel,
    /// Any other scheme, kept as written.
    Other(&'a str),
}

impl Scheme<'_> {
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => "tel",
            Scheme::Other(s) => s,
        }
    }
}

/// A parsed URI borrowing its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri<'a> {
    raw: &'a str,
    pub scheme: Scheme<'a>,
    /// sip/sips userinfo user part (escaped, as written).
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    /// sip/sips host; `None` for tel and opaque URIs.
    pub host: Option<Host<'a>>,
    pub port: Option<u16>,
    /// sip/sips/tel parameters.
    pub params: Params<'a>,
    /// Raw `?`-headers part (without the `?`), sip/sips only.
    pub headers: Option<&'a str>,
    /// tel: the number; other schemes: everything after `scheme:`.
    pub opaque: Option<&'a str>,
}

fn valid_uri_byte(b: u8) -> bool {
    b > 0x20 && b != 0x7f && !matches!(b, b'<' | b'>' | b'"')
}

impl<'a> Uri<'a> {
    /// Parses a URI. No whitespace is allowed anywhere.
    pub fn parse(raw: &'a str) -> Result<Uri<'a>, ValueError> {
        if !raw.bytes().all(|b| valid_uri_byte(b) || b >= 0x80) {
            return Err(ValueError::Invalid("URI"));
        }
        let (scheme_s, rest) = raw
            .split_once(':')
            .ok_or(ValueError::Invalid("URI scheme"))?;
        if !valid_scheme(scheme_s) || rest.is_empty() {
            return Err(ValueError::Invalid("URI scheme"));
        }
        let scheme = if scheme_s.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_s.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme_s.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            Scheme::Other(scheme_s)
        };
        let mut uri = Uri {
            raw,
            scheme,
            user: None,
            password: None,
            host: None,
            port: None,
            params: Params::default(),
            headers: None,
            opaque: None,
        };
        match scheme {
            Scheme::Sip | Scheme::Sips => {
                // The user part may hold '?', ';' and ':' but never an
                // unescaped '@', which also cannot occur after the host.
                let after = match rest.split_once('@') {
                    Some((userinfo, after)) => {
                        let (user, pw) = match userinfo.split_once(':') {
                            Some((u, p)) => (u, Some(p)),
                            None => (userinfo, None),
                        };
                        if user.is_empty() {
                            return Err(ValueError::Invalid("URI user"));
                        }
                        uri.user = Some(user);
                        uri.password = pw;
                        after
                    }
                    None => rest,
                };
                let (before_q, headers) = match after.split_once('?') {
                    Some((b, h)) => (b, Some(h)),
                    None => (after, None),
                };
                let (hostport, params) = match before_q.split_once(';') {
                    Some((h, p)) => (h, p),
                    None => (before_q, ""),
                };
                let (host, port) = parse_hostport(hostport)?;
                uri.host = Some(host);
                uri.port = port;
                uri.params = parse_uri_params(params)?;
                uri.headers = headers;
            }
            Scheme::Tel => {
                let (num, params) = match rest.split_once(';') {
                    Some((n, p)) => (n, p),
                    None => (rest, ""),
                };
                if num.is_empty() {
                    return Err(ValueError::Invalid("tel number"));
                }
                uri.opaque = Some(num);
                uri.params = parse_uri_params(params)?;
            }
            Scheme::Other(_) => uri.opaque = Some(rest),
        }
        Ok(uri)
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// True for sip and sips.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// The user part with `%HH` escapes decoded (bytes; may contain NUL).
    /// Borrows when there is nothing to decode.
    pub fn user_unescaped(&self) -> Option<Cow<'a, [u8]>> {
        self.user.map(percent_decode)
    }
}

fn valid_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// Decodes `%HH` escapes; malformed escapes are kept literally.
pub fn percent_decode(s: &str) -> Cow<'_, [u8]> {
    let b = s.as_bytes();
    if !b.contains(&b'%') {
        return Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let h = b.get(i + 1).and_then(|x| (*x as char).to_digit(16));
            let l = b.get(i + 2).and_then(|x| (*x as char).to_digit(16));
            if let (Some(h), Some(l)) = (h, l) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    Cow::Owned(out)
}

impl std::fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u = Uri::parse("sip:alice:pw@example.com:5060;transport=tcp;lr?subject=x").unwrap();
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("pw"));
        assert_eq!(u.host, Some(Host::Domain("example.com")));
        assert_eq!(u.port, Some(5060));
        assert_eq!(u.params.get("transport"), Some("tcp"));
        assert!(u.params.has("lr"));
        assert_eq!(u.headers, Some("subject=x"));
        assert_eq!(
            u.to_string(),
            "sip:alice:pw@example.com:5060;transport=tcp;lr?subject=x"
        );
    }

    #[test]
    fn torture_uris() {
        let u = Uri::parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password,
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        let u = Uri::parse("sip:sips%3Auser%40example.com@example.net").unwrap();
        assert_eq!(&*u.user_unescaped().unwrap(), b"sips:user@example.com");
        let u = Uri::parse("sip:null-%00-null@example.com").unwrap();
        assert_eq!(&*u.user_unescaped().unwrap(), b"null-\0-null");
        assert_eq!(u.as_str(), "sip:null-%00-null@example.com");
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        let u = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme, Scheme::Other("soap.beep"));
        let u = Uri::parse("tel:+1-201-555-0123;phone-context=x").unwrap();
        assert_eq!(u.opaque, Some("+1-201-555-0123"));
        assert!(Uri::parse("<sip:a@b>").is_err());
        assert!(Uri::parse(" sip:a@b").is_err());
        assert!(Uri::parse("sip:a@b c").is_err());
        assert!(Uri::parse("sip:@b").is_err());
        assert!(Uri::parse("sip:").is_err());
        assert!(Uri::parse("1ab:x").is_err());
        let u = Uri::parse("sip:[2001:db8::1]:5070").unwrap();
        assert_eq!(u.port, Some(5070));
    }
}
