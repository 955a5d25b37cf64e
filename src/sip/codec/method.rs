//! SIP request methods: the [`Method`] enum (RFC 3261 and the common
//! extension RFCs) with `Extension` for any other RFC 3261 token.

use super::scan::is_token;

/// A request method. Method names are case-sensitive (RFC 3261 7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Prack,
    Subscribe,
    Notify,
    Publish,
    Info,
    Refer,
    Message,
    Update,
    /// Any other token, e.g. `NEWMETHOD`.
    Extension(Box<str>),
}

impl Method {
    /// Parses a method token. Returns `None` if `s` is not a token.
    pub fn from_bytes(s: &[u8]) -> Option<Method> {
        Some(match s {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"PRACK" => Method::Prack,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"PUBLISH" => Method::Publish,
            b"INFO" => Method::Info,
            b"REFER" => Method::Refer,
            b"MESSAGE" => Method::Message,
            b"UPDATE" => Method::Update,
            other if is_token(other) => {
                // Token bytes are ASCII, so this cannot fail.
                Method::Extension(std::str::from_utf8(other).ok()?.into())
            }
            _ => return None,
        })
    }

    /// Parses a method from text.
    pub fn parse(s: &str) -> Option<Method> {
        Method::from_bytes(s.as_bytes())
    }

    /// Wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Extension(s) => s,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_extension() {
        assert_eq!(Method::parse("INVITE"), Some(Method::Invite));
        assert_eq!(
            Method::parse("invite"),
            Some(Method::Extension("invite".into()))
        );
        let m = Method::parse("!interesting-Method0123456789_*+`.%indeed'~").unwrap();
        assert_eq!(m.as_str(), "!interesting-Method0123456789_*+`.%indeed'~");
        assert_eq!(
            Method::parse("RE%47IST%45R").unwrap().as_str(),
            "RE%47IST%45R"
        );
        assert_eq!(Method::parse("A B"), None);
        assert_eq!(Method::parse(""), None);
    }
}
