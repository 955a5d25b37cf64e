//! name-addr / addr-spec values: [`NameAddr`] (display name, URI, header
//! params, `tag`, `expires`, `q`) used by From, To, Contact, Route and
//! Record-Route, plus the typed accessors for those headers and the
//! `Contact: *` form ([`Contacts`]).

use super::error::ValueError;
use super::header_name::HeaderName;
use super::message::SipMessage;
use super::params::{Params, parse_header_params};
use super::scan::{Cursor, ListSplit, is_lws, trim_lws, unquote};
use super::uri::Uri;
use std::borrow::Cow;

/// A name-addr (`"Name" <uri>;params`) or addr-spec (`uri;params`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name as written (quoted strings keep quotes); see
    /// [`NameAddr::display_name`].
    pub display_raw: Option<&'a str>,
    pub uri: Uri<'a>,
    /// True if the URI was in angle brackets.
    pub bracketed: bool,
    /// Header parameters (after the URI).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// Parses one element. Per RFC 3261 20.10, an addr-spec without angle
    /// brackets ends at `;` (what follows are header parameters) and must
    /// not contain `?` or `,` (RFC 4475 TC_REGBADCT).
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, ValueError> {
        let mut c = Cursor::new(s);
        c.skip_lws();
        let mut display_raw = None;
        let uri_str;
        let bracketed;
        let save = c.pos;
        if c.peek() == Some(b'"') {
            display_raw = Some(c.quoted().ok_or(ValueError::Invalid("display name"))?);
            c.skip_lws();
        } else {
            // *(token LWS) followed by '<' is a display name.
            let start = c.pos;
            let mut end = start;
            while c.token().is_some() {
                end = c.pos;
                c.skip_lws();
            }
            if c.peek() == Some(b'<') && end > start {
                display_raw = s.get(start..end);
            } else {
                c.pos = save;
            }
        }
        if c.peek() == Some(b'<') {
            let rest = c.rest();
            let close = rest.find('>').ok_or(ValueError::Invalid("name-addr"))?;
            uri_str = rest.get(1..close).ok_or(ValueError::Invalid("name-addr"))?;
            c.pos += close + 1;
            bracketed = true;
        } else if display_raw.is_some() {
            return Err(ValueError::Invalid("name-addr"));
        } else {
            let start = c.pos;
            let len = c
                .rest()
                .bytes()
                .position(|b| b == b';' || b == b',' || is_lws(b))
                .unwrap_or(c.rest().len());
            uri_str = s.get(start..start + len).unwrap_or("");
            if uri_str.contains('?') {
                return Err(ValueError::Invalid("addr-spec with headers needs <>"));
            }
            c.pos = start + len;
            bracketed = false;
        }
        let uri = Uri::parse(uri_str)?;
        let params = parse_header_params(&mut c)?;
        c.skip_lws();
        if !c.at_end() {
            return Err(ValueError::Invalid("name-addr"));
        }
        Ok(NameAddr {
            display_raw,
            uri,
            bracketed,
            params,
        })
    }

    /// Display name without quotes/escapes.
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        self.display_raw.map(unquote)
    }
    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag")
    }
    /// The `expires` parameter (Contact); `Err` if present but not a u32.
    pub fn expires(&self) -> Result<Option<u32>, ValueError> {
        self.params
            .get("expires")
            .map(|v| {
                v.parse::<u32>()
                    .map_err(|_| ValueError::OutOfRange("expires"))
            })
            .transpose()
    }
    /// The `q` parameter (Contact), 0.0..=1.0.
    pub fn q(&self) -> Result<Option<f32>, ValueError> {
        match self.params.get("q") {
            None => Ok(None),
            Some(v) => match v.parse::<f32>() {
                Ok(q) if (0.0..=1.0).contains(&q) => Ok(Some(q)),
                _ => Err(ValueError::Invalid("q")),
            },
        }
    }
}

/// The Contact header set of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Contacts<'a> {
    /// `Contact: *` (REGISTER remove-all).
    Star,
    List(Vec<NameAddr<'a>>),
}

impl SipMessage {
    fn single_name_addr(&self, name: HeaderName) -> Result<NameAddr<'_>, ValueError> {
        let v = self.header(name).ok_or(ValueError::Missing)?;
        NameAddr::parse(v.as_str()?)
    }

    fn name_addr_list(&self, name: HeaderName) -> Result<Vec<NameAddr<'_>>, ValueError> {
        let mut out = Vec::new();
        for v in self.headers_named(name) {
            for item in ListSplit::new(v.as_str()?) {
                out.push(NameAddr::parse(item)?);
            }
        }
        Ok(out)
    }

    /// The From header.
    pub fn from(&self) -> Result<NameAddr<'_>, ValueError> {
        self.single_name_addr(HeaderName::From)
    }
    /// The To header.
    pub fn to(&self) -> Result<NameAddr<'_>, ValueError> {
        self.single_name_addr(HeaderName::To)
    }
    /// All Contact values (empty list if none); `*` gives [`Contacts::Star`].
    pub fn contacts(&self) -> Result<Contacts<'_>, ValueError> {
        let mut lines = self.headers_named(HeaderName::Contact);
        if let Some(first) = lines.next()
            && trim_lws(first.as_str()?) == "*"
        {
            return if lines.next().is_none() {
                Ok(Contacts::Star)
            } else {
                Err(ValueError::Invalid("Contact: * with other contacts"))
            };
        }
        self.name_addr_list(HeaderName::Contact).map(Contacts::List)
    }
    /// Route set in order.
    pub fn routes(&self) -> Result<Vec<NameAddr<'_>>, ValueError> {
        self.name_addr_list(HeaderName::Route)
    }
    /// Record-Route set in order.
    pub fn record_routes(&self) -> Result<Vec<NameAddr<'_>>, ValueError> {
        self.name_addr_list(HeaderName::RecordRoute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::uri::Scheme;

    #[test]
    fn forms() {
        let n = NameAddr::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(n.display_name().unwrap(), "J Rosenberg \\\"");
        assert_eq!(n.tag(), Some("98asjd8"));
        let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display_name().unwrap(), "caller");
        let n = NameAddr::parse("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=x")
            .unwrap();
        assert_eq!(n.display_raw, Some("token1~` token2'+_ token3*%!.-"));
        let n = NameAddr::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(n.params.has("unknownparam"));
        assert!(!n.uri.params.has("unknownparam"));
        let n = NameAddr::parse("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert!(n.uri.params.has("unknownparam"));
        let n = NameAddr::parse("isbn:2983792873").unwrap();
        assert_eq!(n.uri.scheme, Scheme::Other("isbn"));
        let n = NameAddr::parse("<sip:a@b>;expires=60;q=0.5").unwrap();
        assert_eq!(n.expires(), Ok(Some(60)));
        assert_eq!(n.q(), Ok(Some(0.5)));
    }

    #[test]
    fn rejects() {
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "<sip:a@b",
            "name sip:a@b",
            "",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad}");
        }
        let n = NameAddr::parse("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>").unwrap();
        assert_eq!(n.uri.headers, Some("Route=%3Csip:sip.example.com%3E"));
    }
}
