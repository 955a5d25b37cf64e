//! Shared value pieces: [`Params`] (`;name[=value]` lists of headers and
//! URIs, borrowed, values kept raw with quotes) and [`Host`] (domain name,
//! IPv4 or IPv6 reference) with port parsing.

use super::error::ValueError;
use super::scan::{Cursor, eq_ic, is_lws, unquote};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One `name[=value]` parameter. `value` is raw (quoted strings keep their
/// quotes; see [`Param::unquoted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
}

impl<'a> Param<'a> {
    /// The value with quotes removed and escapes resolved.
    pub fn unquoted(&self) -> Option<Cow<'a, str>> {
        self.value.map(unquote)
    }
}

/// An ordered parameter list. Names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'a>(pub SmallVec<[Param<'a>; 4]>);

impl<'a> Params<'a> {
    /// First parameter named `name`.
    pub fn find(&self, name: &str) -> Option<&Param<'a>> {
        self.0.iter().find(|p| eq_ic(p.name, name))
    }
    /// True if a parameter named `name` is present (with or without value).
    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }
    /// Raw value of `name`, if present with a value.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.find(name).and_then(|p| p.value)
    }
    /// All parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = &Param<'a>> {
        self.0.iter()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn is_param_value_byte(b: u8) -> bool {
    !matches!(b, b';' | b',' | b'<' | b'>' | b'"' | b'?' | b'=') && !is_lws(b) && b > 0x20
}

/// Parses header parameters `*( LWS ";" LWS name [ LWS "=" LWS value ] )`
/// from the cursor; stops before anything that is not a `;`. Empty names
/// are an error (RFC 4475 TC_BADINV01).
pub(crate) fn parse_header_params<'a>(c: &mut Cursor<'a>) -> Result<Params<'a>, ValueError> {
    let mut out = Params::default();
    while c.eat(b';') {
        c.skip_lws();
        let name = c.token().ok_or(ValueError::Invalid("parameter"))?;
        let value = if c.eat(b'=') {
            c.skip_lws();
            if c.peek() == Some(b'"') {
                Some(c.quoted().ok_or(ValueError::Invalid("quoted parameter"))?)
            } else {
                let v = c.take_while(is_param_value_byte);
                if v.is_empty() {
                    return Err(ValueError::Invalid("parameter value"));
                }
                Some(v)
            }
        } else {
            None
        };
        out.0.push(Param { name, value });
    }
    Ok(out)
}

/// Parses URI parameters `;a=b;c` (no whitespace allowed) from `s`, which
/// starts after the first `;`.
pub(crate) fn parse_uri_params(s: &str) -> Result<Params<'_>, ValueError> {
    let mut out = Params::default();
    if s.is_empty() {
        return Ok(out);
    }
    for part in s.split(';') {
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (part, None),
        };
        if name.is_empty() {
            return Err(ValueError::Invalid("URI parameter"));
        }
        out.0.push(Param { name, value });
    }
    Ok(out)
}

/// A host: domain name, IPv4 address or IPv6 reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    Domain(&'a str),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl<'a> Host<'a> {
    /// Parses `host` (an IPv6 reference must have brackets).
    pub fn parse(s: &'a str) -> Result<Host<'a>, ValueError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or(ValueError::Invalid("IPv6 reference"))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::V6)
                .map_err(|_| ValueError::Invalid("IPv6 reference"));
        }
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(ValueError::Invalid("host"));
        }
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return s
                .parse::<Ipv4Addr>()
                .map(Host::V4)
                .map_err(|_| ValueError::Invalid("IPv4 address"));
        }
        Ok(Host::Domain(s))
    }

    /// True for 255.255.255.255 (RFC 4475 TC_BCAST).
    pub fn is_broadcast(&self) -> bool {
        matches!(self, Host::V4(a) if a.is_broadcast())
    }
}

impl std::fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]` and parses both.
pub(crate) fn parse_hostport(s: &str) -> Result<(Host<'_>, Option<u16>), ValueError> {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(i) => {
                let (h, rest) = s.split_at(i + 1);
                match rest {
                    "" => (h, None),
                    r => (
                        h,
                        Some(r.strip_prefix(':').ok_or(ValueError::Invalid("port"))?),
                    ),
                }
            }
            None => return Err(ValueError::Invalid("IPv6 reference")),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(parse_port(p)?),
        None => None,
    };
    Ok((Host::parse(host)?, port))
}

pub(crate) fn parse_port(p: &str) -> Result<u16, ValueError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::Invalid("port"));
    }
    p.parse::<u16>().map_err(|_| ValueError::OutOfRange("port"))
}

/// True if `b` may appear in a host or port (used to find the end of a
/// Via sent-by).
pub(crate) fn is_hostport_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'[' | b']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params() {
        let mut c = Cursor::new(" ; branch  =\r\n z9hG4bK1 ;rport; x=\"a;b\" rest");
        let p = parse_header_params(&mut c).unwrap();
        assert_eq!(p.get("BRANCH"), Some("z9hG4bK1"));
        assert!(p.has("rport"));
        assert_eq!(p.get("rport"), None);
        assert_eq!(p.find("x").unwrap().unquoted().unwrap(), "a;b");
        assert_eq!(c.rest(), " rest");
        let mut c = Cursor::new(";;");
        assert!(parse_header_params(&mut c).is_err());
    }

    #[test]
    fn hosts() {
        assert_eq!(
            Host::parse("192.0.2.1").unwrap(),
            Host::V4(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert!(Host::parse("255.255.255.255").unwrap().is_broadcast());
        assert!(matches!(Host::parse("[::1]").unwrap(), Host::V6(_)));
        assert_eq!(
            Host::parse("example.com").unwrap(),
            Host::Domain("example.com")
        );
        assert!(Host::parse("999.1.1.1").is_err());
        assert!(Host::parse("a b").is_err());
        assert!(Host::parse("").is_err());
        let (h, p) = parse_hostport("[2001:db8::1]:5061").unwrap();
        assert_eq!(h.to_string(), "[2001:db8::1]");
        assert_eq!(p, Some(5061));
        assert!(parse_hostport("h:99999").is_err());
        assert!(parse_hostport("h:").is_err());
    }

    #[test]
    fn uri_params() {
        let p = parse_uri_params("lr;transport=tcp").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.get("transport"), Some("tcp"));
        assert!(parse_uri_params("a;;b").is_err());
    }
}
