//! Listening sockets of a profile: `transport:ip:port` strings such as
//! `udp:127.0.0.1:5080`, parsed and checked.

use std::fmt;
use std::net::SocketAddr;

/// The SIP transports a profile may listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// The Via transport token (RFC 3261 20.42).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    /// Reliable transports carry no SIP retransmissions (RFC 3261 17).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        })
    }
}

/// One socket a profile listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenAddr {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}

/// Parses `udp:127.0.0.1:5080` or `tcp:[::1]:5060`; the error says what
/// would be valid.
pub fn parse_listen(text: &str) -> Result<ListenAddr, String> {
    let Some((proto, addr)) = text.split_once(':') else {
        return Err(format!(
            "`{text}` is not a listen address; write transport:ip:port, e.g. \"udp:127.0.0.1:5060\""
        ));
    };
    let transport = match proto.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" | "ws" | "wss" => {
            return Err(format!(
                "transport `{proto}` is not available yet; valid transports: udp, tcp"
            ));
        }
        _ => {
            return Err(format!(
                "unknown transport `{proto}`; valid transports: udp, tcp"
            ));
        }
    };
    let addr: SocketAddr = addr.parse().map_err(|_| {
        format!("`{addr}` is not an ip:port; write e.g. 127.0.0.1:5060 or [::1]:5060")
    })?;
    if addr.port() == 0 {
        return Err("port 0 is not allowed; give the port to listen on".into());
    }
    Ok(ListenAddr { transport, addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_udp_and_tcp() {
        let l = parse_listen("udp:127.0.0.1:5080").unwrap();
        assert_eq!(l.transport, Transport::Udp);
        assert_eq!(l.addr, "127.0.0.1:5080".parse().unwrap());
        assert_eq!(l.to_string(), "udp:127.0.0.1:5080");
        let l = parse_listen("TCP:[::1]:5060").unwrap();
        assert_eq!(l.transport, Transport::Tcp);
    }

    #[test]
    fn rejects_with_what_is_valid() {
        assert!(
            parse_listen("sctp:1.2.3.4:5")
                .unwrap_err()
                .contains("udp, tcp")
        );
        assert!(
            parse_listen("udp:localhost")
                .unwrap_err()
                .contains("ip:port")
        );
        assert!(
            parse_listen("127.0.0.1")
                .unwrap_err()
                .contains("transport:ip:port")
        );
        assert!(
            parse_listen("udp:127.0.0.1:0")
                .unwrap_err()
                .contains("port 0")
        );
    }
}
