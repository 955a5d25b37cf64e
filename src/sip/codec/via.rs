//! The Via header: [`Via`] (sent-protocol, sent-by, branch, received,
//! rport, maddr, ttl, other params) and [`SipMessage::via`] /
//! [`SipMessage::top_via`]. LWS (including folds) is accepted around `/`,
//! `;` and `=` as RFC 3261 25.1 allows.

use super::error::ValueError;
use super::header_name::HeaderName;
use super::message::SipMessage;
use super::params::{Host, Params, is_hostport_byte, parse_header_params, parse_hostport};
use super::scan::{Cursor, ListSplit};

/// The `rport` parameter (RFC 3581).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RPort {
    Absent,
    /// `;rport` without value (request asks for it).
    Requested,
    Value(u16),
}

/// One Via hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via<'a> {
    /// Usually `SIP`.
    pub protocol: &'a str,
    /// Usually `2.0`.
    pub version: &'a str,
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, ... as written.
    pub transport: &'a str,
    pub host: Host<'a>,
    /// The sent-by host as written.
    pub host_str: &'a str,
    pub port: Option<u16>,
    pub branch: Option<&'a str>,
    pub received: Option<&'a str>,
    pub rport: RPort,
    pub maddr: Option<&'a str>,
    pub ttl: Option<u8>,
    /// All parameters in order (including the ones above).
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one via-parm (one element of a Via list).
    pub fn parse(s: &'a str) -> Result<Via<'a>, ValueError> {
        let mut c = Cursor::new(s);
        c.skip_lws();
        let protocol = c.token().ok_or(ValueError::Invalid("Via protocol"))?;
        if !c.eat(b'/') {
            return Err(ValueError::Invalid("Via protocol"));
        }
        c.skip_lws();
        let version = c.token().ok_or(ValueError::Invalid("Via version"))?;
        if !c.eat(b'/') {
            return Err(ValueError::Invalid("Via transport"));
        }
        c.skip_lws();
        let transport = c.token().ok_or(ValueError::Invalid("Via transport"))?;
        c.skip_lws();
        let host_str_port = c.take_while(is_hostport_byte);
        let (host, port) = parse_hostport(host_str_port)?;
        let host_str = match host_str_port.rfind(':') {
            Some(i) if !host_str_port.ends_with(']') => host_str_port.get(..i).unwrap_or(""),
            _ => host_str_port,
        };
        let params = parse_header_params(&mut c)?;
        c.skip_lws();
        if !c.at_end() {
            return Err(ValueError::Invalid("Via"));
        }
        let rport = match params.find("rport") {
            None => RPort::Absent,
            Some(p) => match p.value {
                None => RPort::Requested,
                Some(v) => RPort::Value(v.parse().map_err(|_| ValueError::Invalid("rport"))?),
            },
        };
        let ttl = match params.get("ttl") {
            Some(v) => Some(v.parse().map_err(|_| ValueError::Invalid("ttl"))?),
            None => None,
        };
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            host_str,
            port,
            branch: params.get("branch"),
            received: params.get("received"),
            rport,
            maddr: params.get("maddr"),
            ttl,
            params,
        })
    }

    /// True if the branch carries the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch.is_some_and(|b| b.starts_with("z9hG4bK"))
    }
}

impl SipMessage {
    /// All Via hops in order, over all Via lines (several per line allowed).
    pub fn via(&self) -> Result<Vec<Via<'_>>, ValueError> {
        let mut out = Vec::with_capacity(self.count(HeaderName::Via));
        for v in self.headers_named(HeaderName::Via) {
            for item in ListSplit::new(v.as_str()?) {
                out.push(Via::parse(item)?);
            }
        }
        Ok(out)
    }

    /// The first Via hop.
    pub fn top_via(&self) -> Result<Via<'_>, ValueError> {
        let v = self.header(HeaderName::Via).ok_or(ValueError::Missing)?;
        let first = ListSplit::new(v.as_str()?)
            .next()
            .ok_or(ValueError::Missing)?;
        Via::parse(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_via() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport;received=10.0.0.1;maddr=224.2.0.1;ttl=16;x").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host.to_string(), "192.0.2.1");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch, Some("z9hG4bK776"));
        assert_eq!(v.rport, RPort::Requested);
        assert_eq!(v.received, Some("10.0.0.1"));
        assert_eq!(v.maddr, Some("224.2.0.1"));
        assert_eq!(v.ttl, Some(16));
        assert!(v.params.has("x"));
        assert!(v.has_rfc3261_branch());
    }

    #[test]
    fn torture_via() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.version, "2.0");
        assert_eq!(v.branch, Some("390skdjuw"));
        let v = Via::parse("SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239")
            .unwrap();
        assert_eq!(v.branch, Some("z9hG4bK30239"));
        let v = Via::parse("SIP/2.0/TCP [2001:db8::9]:5061;rport=5062").unwrap();
        assert_eq!(v.port, Some(5061));
        assert_eq!(v.rport, RPort::Value(5062));
        assert_eq!(v.host_str, "[2001:db8::9]");
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0 host").is_err());
        assert!(Via::parse("SIP/2.0/UDP h;rport=x").is_err());
        assert!(Via::parse("SIP/2.0/UDP h junk").is_err());
    }
}
