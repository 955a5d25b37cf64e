//! Small typed header values: [`CSeq`], [`ContentType`], option-tag lists
//! (Supported, Require, Proxy-Require, Unsupported), Max-Forwards, Expires,
//! Call-ID, User-Agent, and an RFC 1123 Date syntax check.

use super::error::ValueError;
use super::header_name::HeaderName;
use super::message::SipMessage;
use super::method::Method;
use super::params::{Params, parse_header_params};
use super::scan::{Cursor, is_token, parse_u64, trim_lws};
use smallvec::SmallVec;

/// CSeq: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`; the number must fit 32 bits
    /// (RFC 4475 TC_SCALAR02).
    pub fn parse(s: &str) -> Result<CSeq, ValueError> {
        let mut c = Cursor::new(s);
        c.skip_lws();
        let digits = c.take_while(|b| b.is_ascii_digit());
        let seq = parse_u64(digits.as_bytes()).ok_or(ValueError::Invalid("CSeq number"))?;
        let seq = u32::try_from(seq).map_err(|_| ValueError::OutOfRange("CSeq number"))?;
        let before = c.pos;
        c.skip_lws();
        if c.pos == before {
            return Err(ValueError::Invalid("CSeq"));
        }
        let m = c.token().ok_or(ValueError::Invalid("CSeq method"))?;
        c.skip_lws();
        if !c.at_end() {
            return Err(ValueError::Invalid("CSeq"));
        }
        Ok(CSeq {
            seq,
            method: Method::parse(m).ok_or(ValueError::Invalid("CSeq method"))?,
        })
    }
}

/// A media type `type/subtype;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType<'a> {
    pub mtype: &'a str,
    pub subtype: &'a str,
    pub params: Params<'a>,
}

impl<'a> ContentType<'a> {
    pub fn parse(s: &'a str) -> Result<ContentType<'a>, ValueError> {
        let mut c = Cursor::new(s);
        c.skip_lws();
        let mtype = c.token().ok_or(ValueError::Invalid("media type"))?;
        if !c.eat(b'/') {
            return Err(ValueError::Invalid("media type"));
        }
        c.skip_lws();
        let subtype = c.token().ok_or(ValueError::Invalid("media subtype"))?;
        let params = parse_header_params(&mut c)?;
        c.skip_lws();
        if !c.at_end() {
            return Err(ValueError::Invalid("media type"));
        }
        Ok(ContentType {
            mtype,
            subtype,
            params,
        })
    }

    /// Case-insensitive match against `"type/subtype"` (`*` wildcards allowed
    /// in `pattern`).
    pub fn matches(&self, pattern: &str) -> bool {
        let (t, s) = pattern.split_once('/').unwrap_or((pattern, "*"));
        (t == "*" || t.eq_ignore_ascii_case(self.mtype))
            && (s == "*" || s.eq_ignore_ascii_case(self.subtype))
    }
}

/// Light syntax check of an RFC 1123 date as SIP requires
/// (`Sat, 13 Nov 2010 23:29:00 GMT`; RFC 4475 TC_BADDATE uses `EST`).
pub fn is_valid_sip_date(s: &str) -> bool {
    let b = trim_lws(s).as_bytes();
    if b.len() != 29 {
        return false;
    }
    let day_ok = matches!(
        b.get(..5),
        Some(b"Mon, " | b"Tue, " | b"Wed, " | b"Thu, " | b"Fri, " | b"Sat, " | b"Sun, ")
    );
    let month_ok = matches!(
        b.get(7..12),
        Some(
            b" Jan "
                | b" Feb "
                | b" Mar "
                | b" Apr "
                | b" May "
                | b" Jun "
                | b" Jul "
                | b" Aug "
                | b" Sep "
                | b" Oct "
                | b" Nov "
                | b" Dec "
        )
    );
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    day_ok
        && month_ok
        && digits(5..7)
        && digits(12..16)
        && b.get(16) == Some(&b' ')
        && digits(17..19)
        && b.get(19) == Some(&b':')
        && digits(20..22)
        && b.get(22) == Some(&b':')
        && digits(23..25)
        && b.get(25..) == Some(b" GMT")
}

impl SipMessage {
    /// The CSeq header.
    pub fn cseq(&self) -> Result<CSeq, ValueError> {
        CSeq::parse(
            self.header(HeaderName::CSeq)
                .ok_or(ValueError::Missing)?
                .as_str()?,
        )
    }

    /// The Call-ID (trimmed; folds kept raw, which Call-ID never has).
    pub fn call_id(&self) -> Result<&str, ValueError> {
        let v = trim_lws(
            self.header(HeaderName::CallId)
                .ok_or(ValueError::Missing)?
                .as_str()?,
        );
        if v.is_empty() || v.bytes().any(|b| b <= 0x20) {
            return Err(ValueError::Invalid("Call-ID"));
        }
        Ok(v)
    }

    /// Max-Forwards (0..=255). `Ok(None)` when absent.
    pub fn max_forwards(&self) -> Result<Option<u8>, ValueError> {
        let Some(v) = self.header(HeaderName::MaxForwards) else {
            return Ok(None);
        };
        let n = parse_u64(trim_lws(v.as_str()?).as_bytes())
            .ok_or(ValueError::Invalid("Max-Forwards"))?;
        u8::try_from(n)
            .map(Some)
            .map_err(|_| ValueError::OutOfRange("Max-Forwards"))
    }

    /// Expires header in seconds. `Ok(None)` when absent; values above
    /// 2^32-1 are `OutOfRange` (callers may substitute a default, as
    /// RFC 4475 TC_SCALAR02 suggests).
    pub fn expires(&self) -> Result<Option<u32>, ValueError> {
        let Some(v) = self.header(HeaderName::Expires) else {
            return Ok(None);
        };
        let t = trim_lws(v.as_str()?).as_bytes();
        if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
            return Err(ValueError::Invalid("Expires"));
        }
        parse_u64(t)
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or(ValueError::OutOfRange("Expires"))
    }

    /// Content-Type.
    pub fn content_type(&self) -> Result<Option<ContentType<'_>>, ValueError> {
        match self.header(HeaderName::ContentType) {
            None => Ok(None),
            Some(v) => ContentType::parse(v.as_str()?).map(Some),
        }
    }

    fn option_tags(&self, name: HeaderName) -> Result<SmallVec<[&str; 4]>, ValueError> {
        let mut out = SmallVec::new();
        for t in self.list_values(name) {
            if !is_token(t.as_bytes()) {
                return Err(ValueError::Invalid("option-tag"));
            }
            out.push(t);
        }
        Ok(out)
    }
    /// Supported option tags over all lines.
    pub fn supported(&self) -> Result<SmallVec<[&str; 4]>, ValueError> {
        self.option_tags(HeaderName::Supported)
    }
    /// Require option tags over all lines.
    pub fn require(&self) -> Result<SmallVec<[&str; 4]>, ValueError> {
        self.option_tags(HeaderName::Require)
    }
    /// Proxy-Require option tags over all lines.
    pub fn proxy_require(&self) -> Result<SmallVec<[&str; 4]>, ValueError> {
        self.option_tags(HeaderName::ProxyRequire)
    }
    /// Unsupported option tags over all lines.
    pub fn unsupported(&self) -> Result<SmallVec<[&str; 4]>, ValueError> {
        self.option_tags(HeaderName::Unsupported)
    }

    /// User-Agent text (unfolded if needed).
    pub fn user_agent(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.header(HeaderName::UserAgent)
            .and_then(|v| v.to_str().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq() {
        assert_eq!(
            CSeq::parse("0009\r\n  INVITE").unwrap(),
            CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("1INVITE").is_err());
        assert!(CSeq::parse("1 INVITE x").is_err());
        assert!(CSeq::parse("INVITE").is_err());
        assert_eq!(
            CSeq::parse("8 RE%47IST%45R").unwrap().method.as_str(),
            "RE%47IST%45R"
        );
    }

    #[test]
    fn content_type() {
        let c = ContentType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert_eq!(c.mtype, "multipart");
        assert_eq!(c.params.get("boundary"), Some("7a9cbec02ceef655"));
        assert!(c.matches("MULTIPART/*"));
        assert!(!c.matches("application/sdp"));
        assert!(ContentType::parse("text").is_err());
    }

    #[test]
    fn dates() {
        assert!(is_valid_sip_date("Sat, 15 Oct 2005 04:44:56 GMT"));
        assert!(!is_valid_sip_date("Fri, 01 Jan 2010 16:00:00 EST"));
        assert!(!is_valid_sip_date("yesterday"));
    }
}
