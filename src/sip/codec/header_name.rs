//! Header names: the [`HeaderName`] enum of the headers the softswitch knows,
//! case-insensitive lookup including the compact forms of RFC 3261 7.3.3,
//! RFC 3265, RFC 3515, RFC 3841, RFC 3892, RFC 4028 and RFC 4474, and the
//! canonical spelling used when serializing.

macro_rules! header_names {
    ($( $variant:ident => $canon:literal $(, $compact:literal)? ; )*) => {
        /// A header name. Unknown names map to [`HeaderName::Other`]; their
        /// original spelling stays available from the message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( #[doc = $canon] $variant, )*
            /// Any header not in the list above (extension headers).
            Other,
        }

        impl HeaderName {
            /// Canonical spelling (`"Other"` for [`HeaderName::Other`]).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other => "Other",
                }
            }

            /// Compact form (single letter), if the header has one.
            pub fn compact(self) -> Option<char> {
                match self {
                    $( $( HeaderName::$variant => Some($compact), )? )*
                    _ => None,
                }
            }

            fn from_lower(lower: &[u8]) -> HeaderName {
                $(
                    if lower.eq_ignore_ascii_case($canon.as_bytes()) {
                        return HeaderName::$variant;
                    }
                )*
                HeaderName::Other
            }
        }
    };
}

header_names! {
    Accept => "Accept";
    AcceptContact => "Accept-Contact", 'a';
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    AlertInfo => "Alert-Info";
    Allow => "Allow";
    AllowEvents => "Allow-Events", 'u';
    AuthenticationInfo => "Authentication-Info";
    Authorization => "Authorization";
    CallId => "Call-ID", 'i';
    CallInfo => "Call-Info";
    Contact => "Contact", 'm';
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding", 'e';
    ContentLanguage => "Content-Language";
    ContentLength => "Content-Length", 'l';
    ContentType => "Content-Type", 'c';
    CSeq => "CSeq";
    Date => "Date";
    ErrorInfo => "Error-Info";
    Event => "Event", 'o';
    Expires => "Expires";
    From => "From", 'f';
    Identity => "Identity", 'y';
    IdentityInfo => "Identity-Info", 'n';
    InReplyTo => "In-Reply-To";
    MaxForwards => "Max-Forwards";
    MimeVersion => "MIME-Version";
    MinExpires => "Min-Expires";
    MinSe => "Min-SE";
    Organization => "Organization";
    PAssertedIdentity => "P-Asserted-Identity";
    PPreferredIdentity => "P-Preferred-Identity";
    Path => "Path";
    Priority => "Priority";
    Privacy => "Privacy";
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyRequire => "Proxy-Require";
    RAck => "RAck";
    Reason => "Reason";
    RecordRoute => "Record-Route";
    ReferTo => "Refer-To", 'r';
    ReferredBy => "Referred-By", 'b';
    RejectContact => "Reject-Contact", 'j';
    Replaces => "Replaces";
    ReplyTo => "Reply-To";
    RequestDisposition => "Request-Disposition", 'd';
    Require => "Require";
    RetryAfter => "Retry-After";
    Route => "Route";
    RSeq => "RSeq";
    Server => "Server";
    ServiceRoute => "Service-Route";
    SessionExpires => "Session-Expires", 'x';
    SipEtag => "SIP-ETag";
    SipIfMatch => "SIP-If-Match";
    Subject => "Subject", 's';
    SubscriptionState => "Subscription-State";
    Supported => "Supported", 'k';
    Timestamp => "Timestamp";
    To => "To", 't';
    Unsupported => "Unsupported";
    UserAgent => "User-Agent";
    Via => "Via", 'v';
    Warning => "Warning";
    WwwAuthenticate => "WWW-Authenticate";
}

impl HeaderName {
    /// Classifies a header name as written on the wire (any case, compact
    /// forms included). Never allocates.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        if name.len() == 1 {
            return match name.first().map(u8::to_ascii_lowercase) {
                Some(b'a') => HeaderName::AcceptContact,
                Some(b'b') => HeaderName::ReferredBy,
                Some(b'c') => HeaderName::ContentType,
                Some(b'd') => HeaderName::RequestDisposition,
                Some(b'e') => HeaderName::ContentEncoding,
                Some(b'f') => HeaderName::From,
                Some(b'i') => HeaderName::CallId,
                Some(b'j') => HeaderName::RejectContact,
                Some(b'k') => HeaderName::Supported,
                Some(b'l') => HeaderName::ContentLength,
                Some(b'm') => HeaderName::Contact,
                Some(b'n') => HeaderName::IdentityInfo,
                Some(b'o') => HeaderName::Event,
                Some(b'r') => HeaderName::ReferTo,
                Some(b's') => HeaderName::Subject,
                Some(b't') => HeaderName::To,
                Some(b'u') => HeaderName::AllowEvents,
                Some(b'v') => HeaderName::Via,
                Some(b'x') => HeaderName::SessionExpires,
                Some(b'y') => HeaderName::Identity,
                _ => HeaderName::Other,
            };
        }
        if name.len() > 24 {
            return HeaderName::Other;
        }
        let mut buf = [0u8; 24];
        let lower = match buf.get_mut(..name.len()) {
            Some(dst) => {
                for (d, s) in dst.iter_mut().zip(name) {
                    *d = s.to_ascii_lowercase();
                }
                &*dst
            }
            None => return HeaderName::Other,
        };
        // Fast path for the headers of nearly every message.
        match lower {
            b"via" => HeaderName::Via,
            b"from" => HeaderName::From,
            b"to" => HeaderName::To,
            b"call-id" => HeaderName::CallId,
            b"cseq" => HeaderName::CSeq,
            b"contact" => HeaderName::Contact,
            b"max-forwards" => HeaderName::MaxForwards,
            b"content-type" => HeaderName::ContentType,
            b"content-length" => HeaderName::ContentLength,
            b"route" => HeaderName::Route,
            b"record-route" => HeaderName::RecordRoute,
            _ => HeaderName::from_lower(lower),
        }
    }

    /// Classifies a header name given as text.
    pub fn parse(name: &str) -> HeaderName {
        HeaderName::from_bytes(name.trim().as_bytes())
    }

    /// Headers that may appear at most once (RFC 3261 7.3.1: not defined as
    /// comma-separated lists). Used by validation.
    pub fn is_single_valued(self) -> bool {
        matches!(
            self,
            HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::From
                | HeaderName::To
                | HeaderName::MaxForwards
                | HeaderName::ContentType
                | HeaderName::ContentLength
                | HeaderName::Expires
                | HeaderName::MinExpires
                | HeaderName::Date
                | HeaderName::Timestamp
                | HeaderName::RSeq
                | HeaderName::RAck
        )
    }
}

impl std::fmt::Display for HeaderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_case_and_compact() {
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"i"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"L"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_bytes(b"o"), HeaderName::Event);
        assert_eq!(HeaderName::from_bytes(b"r"), HeaderName::ReferTo);
        assert_eq!(
            HeaderName::from_bytes(b"www-authenticate"),
            HeaderName::WwwAuthenticate
        );
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"q"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(&[b'x'; 100]), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b""), HeaderName::Other);
    }

    #[test]
    fn canonical_and_compact() {
        assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
        assert_eq!(HeaderName::Via.compact(), Some('v'));
        assert_eq!(HeaderName::CSeq.compact(), None);
        assert!(HeaderName::CSeq.is_single_valued());
        assert!(!HeaderName::Via.is_single_valued());
    }
}
