//! Which transaction a message belongs to: the key of RFC 3261 17.1.3 and
//! 17.2.3 (top Via branch and sent-by, and the method), computed the same
//! way for requests we receive, requests we send and responses.
//!
//! The key also carries the Call-ID and CSeq number. Every message of one
//! transaction (retransmissions, the ACK for a non-2xx, the CANCEL, the
//! responses) has the same ones, so matching is unchanged for correct
//! peers; a broken peer that reuses a branch for another request (RFC 4475
//! does so across its examples) gets a new transaction instead of another
//! request's answer.

use super::codec::{HeaderName, SipMessage, Via};
use super::transaction::TransactionKey;

/// `host[:port]` of a Via, as written.
pub fn sent_by(via: &Via<'_>) -> String {
    match via.port {
        Some(p) => format!("{}:{p}", via.host_str),
        None => via.host_str.to_string(),
    }
}

/// The transaction key of a request (its own method) or of a response
/// (the CSeq method). RFC 2543 requests without the magic cookie are keyed
/// on Request-URI, From tag, Call-ID, CSeq and top Via (RFC 3261 17.2.3).
pub fn transaction_key(msg: &SipMessage) -> Option<TransactionKey> {
    let via = msg.top_via().ok()?;
    let cseq = msg.cseq().ok()?;
    let call_id = msg.call_id().ok()?;
    let method = match msg.method() {
        Some(m) => m.as_str(),
        None => cseq.method.as_str(),
    };
    match via.branch {
        Some(b) if via.has_rfc3261_branch() => {
            let scope = format!("{}|{}|{}", sent_by(&via), cseq.seq, call_id);
            TransactionKey::new(b, &scope, method).ok()
        }
        _ => {
            let from_tag = msg.from().ok().and_then(|f| f.tag()).unwrap_or("");
            let top_via = msg.header(HeaderName::Via)?.as_str().ok()?;
            TransactionKey::rfc2543(
                msg.request_uri_str().unwrap_or(""),
                from_tag,
                call_id,
                cseq.seq,
                top_via,
                method,
            )
            .ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::parse_datagram;
    use bytes::Bytes;

    fn msg(start: &str, branch: &str, call_id: &str, cseq: &str) -> SipMessage {
        parse_datagram(Bytes::from(format!(
            "{start}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )))
        .unwrap()
    }

    #[test]
    fn one_transaction_one_key() {
        let invite = transaction_key(&msg("INVITE sip:x@y SIP/2.0", "z9hG4bK1", "c1", "5 INVITE"));
        let ack = transaction_key(&msg("ACK sip:x@y SIP/2.0", "z9hG4bK1", "c1", "5 ACK"));
        let resp = transaction_key(&msg("SIP/2.0 486 Busy Here", "z9hG4bK1", "c1", "5 INVITE"));
        assert!(invite.is_some());
        assert_eq!(invite, ack);
        assert_eq!(invite, resp);
        let cancel =
            transaction_key(&msg("CANCEL sip:x@y SIP/2.0", "z9hG4bK1", "c1", "5 CANCEL")).unwrap();
        assert_ne!(invite.as_ref(), Some(&cancel));
        assert_eq!(cancel.with_method("INVITE").ok(), invite);
    }

    #[test]
    fn a_reused_branch_on_another_request_is_another_transaction() {
        let a = transaction_key(&msg(
            "REGISTER sip:x SIP/2.0",
            "z9hG4bKkdjuw",
            "c1",
            "3 REGISTER",
        ));
        let b = transaction_key(&msg(
            "REGISTER sip:x SIP/2.0",
            "z9hG4bKkdjuw",
            "c2",
            "3 REGISTER",
        ));
        assert_ne!(a, b);
    }
}
