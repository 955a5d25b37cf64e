//! Transaction matching keys (RFC 3261 17.1.3 and 17.2.3) and method kinds.
//!
//! A [`TransactionKey`] is cheap to clone (one `Arc`) and is built by the
//! caller from the top Via (branch, sent-by) and the method (request line or
//! CSeq method of a response). ACK maps to the INVITE key so that an ACK for
//! a non-2xx response finds its INVITE server transaction; CANCEL keeps its
//! own method so it forms a separate transaction.

use std::fmt;
use std::sync::Arc;

/// The RFC 3261 branch prefix ("magic cookie").
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// What a request is, as far as the transaction layer cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// INVITE: INVITE transactions.
    Invite,
    /// ACK: never a transaction of its own.
    Ack,
    /// CANCEL: a non-INVITE transaction matched to an INVITE.
    Cancel,
    /// Any other method: non-INVITE transactions.
    Other,
}

impl MethodKind {
    /// Classify a method name (case-sensitive, as RFC 3261 7.1 says).
    pub fn from_method(method: &str) -> Self {
        match method {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "CANCEL" => Self::Cancel,
            _ => Self::Other,
        }
    }
}

/// Errors building a [`TransactionKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The branch does not start with [`MAGIC_COOKIE`] (RFC 2543 peer): use
    /// [`TransactionKey::rfc2543`] instead.
    #[error("Via branch lacks the z9hG4bK magic cookie")]
    NoMagicCookie,
    /// The method token is empty.
    #[error("empty method")]
    EmptyMethod,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum KeyMethod {
    /// INVITE, and ACK (which matches its INVITE).
    Invite,
    Cancel,
    Other(Box<str>),
}

#[derive(PartialEq, Eq, Hash)]
enum KeyInner {
    Rfc3261 {
        branch: Box<str>,
        sent_by: Box<str>,
        method: KeyMethod,
    },
    Rfc2543 {
        /// Request-URI, From tag, Call-ID, CSeq number and top Via, joined.
        ident: Box<str>,
        method: KeyMethod,
    },
}

/// Identifies one transaction (RFC 3261 17.1.3 / 17.2.3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey(Arc<KeyInner>);

fn key_method(method: &str) -> Result<KeyMethod, KeyError> {
    Ok(match MethodKind::from_method(method) {
        MethodKind::Invite | MethodKind::Ack => KeyMethod::Invite,
        MethodKind::Cancel => KeyMethod::Cancel,
        MethodKind::Other if method.is_empty() => return Err(KeyError::EmptyMethod),
        MethodKind::Other => KeyMethod::Other(method.into()),
    })
}

impl TransactionKey {
    /// Key from the top Via `branch` and `sent-by` (`host[:port]`) and the
    /// method (request method, or CSeq method of a response).
    ///
    /// The branch must start with the magic cookie. Branch and sent-by are
    /// compared case-insensitively (RFC 3261 7.3.1 default for parameter
    /// values and host names); the method is case-sensitive. `ACK` yields the
    /// key of its INVITE.
    pub fn new(branch: &str, sent_by: &str, method: &str) -> Result<Self, KeyError> {
        let cookie = branch.get(..MAGIC_COOKIE.len());
        if !cookie.is_some_and(|c| c.eq_ignore_ascii_case(MAGIC_COOKIE)) {
            return Err(KeyError::NoMagicCookie);
        }
        Ok(Self(Arc::new(KeyInner::Rfc3261 {
            branch: branch.to_ascii_lowercase().into(),
            sent_by: sent_by.to_ascii_lowercase().into(),
            method: key_method(method)?,
        })))
    }

    /// Key for a request from an RFC 2543 peer (no magic cookie), matched on
    /// Request-URI, From tag, Call-ID, CSeq number, top Via and method.
    ///
    /// Approximation: the To tag is not part of the key, so an ACK matches
    /// its INVITE without checking the To tag of the response sent.
    pub fn rfc2543(
        request_uri: &str,
        from_tag: &str,
        call_id: &str,
        cseq_number: u32,
        top_via: &str,
        method: &str,
    ) -> Result<Self, KeyError> {
        let ident = format!("{request_uri}\n{from_tag}\n{call_id}\n{cseq_number}\n{top_via}");
        Ok(Self(Arc::new(KeyInner::Rfc2543 {
            ident: ident.into(),
            method: key_method(method)?,
        })))
    }

    /// The same key with another method: e.g. the INVITE a CANCEL targets
    /// (RFC 3261 9.2).
    pub fn with_method(&self, method: &str) -> Result<Self, KeyError> {
        let method = key_method(method)?;
        Ok(Self(Arc::new(match &*self.0 {
            KeyInner::Rfc3261 {
                branch, sent_by, ..
            } => KeyInner::Rfc3261 {
                branch: branch.clone(),
                sent_by: sent_by.clone(),
                method,
            },
            KeyInner::Rfc2543 { ident, .. } => KeyInner::Rfc2543 {
                ident: ident.clone(),
                method,
            },
        })))
    }

    /// The kind of transaction this key names (never [`MethodKind::Ack`]).
    pub fn method_kind(&self) -> MethodKind {
        let method = match &*self.0 {
            KeyInner::Rfc3261 { method, .. } | KeyInner::Rfc2543 { method, .. } => method,
        };
        match method {
            KeyMethod::Invite => MethodKind::Invite,
            KeyMethod::Cancel => MethodKind::Cancel,
            KeyMethod::Other(_) => MethodKind::Other,
        }
    }

    /// The (lower-cased) branch, for RFC 3261 keys.
    pub fn branch(&self) -> Option<&str> {
        match &*self.0 {
            KeyInner::Rfc3261 { branch, .. } => Some(branch),
            KeyInner::Rfc2543 { .. } => None,
        }
    }
}

impl fmt::Debug for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = |m: &KeyMethod| match m {
            KeyMethod::Invite => "INVITE".to_owned(),
            KeyMethod::Cancel => "CANCEL".to_owned(),
            KeyMethod::Other(m) => m.to_string(),
        };
        match &*self.0 {
            KeyInner::Rfc3261 {
                branch,
                sent_by,
                method: m,
            } => write!(f, "Key({branch} {sent_by} {})", method(m)),
            KeyInner::Rfc2543 { ident, method: m } => {
                write!(f, "Key2543({:?} {})", ident, method(m))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_matches_invite_cancel_does_not() {
        let inv = TransactionKey::new("z9hG4bK1", "a.example.com:5060", "INVITE").unwrap();
        let ack = TransactionKey::new("z9hG4bK1", "a.example.com:5060", "ACK").unwrap();
        let cancel = TransactionKey::new("z9hG4bK1", "a.example.com:5060", "CANCEL").unwrap();
        assert_eq!(inv, ack);
        assert_ne!(inv, cancel);
        assert_eq!(cancel.with_method("INVITE").unwrap(), inv);
        assert_eq!(cancel.method_kind(), MethodKind::Cancel);
        assert_eq!(ack.method_kind(), MethodKind::Invite);
    }

    #[test]
    fn comparison_rules() {
        let a = TransactionKey::new("z9hG4bKAbC", "Host.Example:5060", "BYE").unwrap();
        let b = TransactionKey::new("Z9HG4BKabc", "host.example:5060", "BYE").unwrap();
        assert_eq!(a, b);
        let other_port = TransactionKey::new("z9hG4bKabc", "host.example:5070", "BYE").unwrap();
        assert_ne!(a, other_port);
        let other_method = TransactionKey::new("z9hG4bKabc", "host.example:5060", "bye").unwrap();
        assert_ne!(a, other_method);
        assert_eq!(a.branch(), Some("z9hg4bkabc"));
    }

    #[test]
    fn cookie_required() {
        assert_eq!(
            TransactionKey::new("abc", "h", "INVITE"),
            Err(KeyError::NoMagicCookie)
        );
        assert_eq!(
            TransactionKey::new("z9hG4", "h", "INVITE"),
            Err(KeyError::NoMagicCookie)
        );
        assert_eq!(
            TransactionKey::new("z9hG4bK1", "h", ""),
            Err(KeyError::EmptyMethod)
        );
        let a = TransactionKey::rfc2543("sip:b@x", "t1", "c1", 1, "SIP/2.0/UDP h", "INVITE");
        let b = TransactionKey::rfc2543("sip:b@x", "t1", "c1", 1, "SIP/2.0/UDP h", "ACK");
        assert_eq!(a.unwrap(), b.unwrap());
    }
}
