//! Stateless server nonces and the bounded replay table.
//!
//! A nonce is `base64url(timestamp_be64 || random16 || tag16)` where `tag` is
//! the first 16 bytes of HMAC-SHA256(key, timestamp || random || realm). The
//! server needs no state to check that it issued a nonce (for this realm) and
//! how old it is. Replay protection needs state: the [`ReplayTable`] remembers,
//! for every nonce that has been *successfully* used, the highest `nc`
//! accepted. It is bounded; when an unexpired entry has to be evicted, a
//! watermark makes every nonce issued up to that time "stale", so that
//! forgetting an entry can never re-open a replay window.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const TS_LEN: usize = 8;
const RAND_LEN: usize = 16;
const TAG_LEN: usize = 16;
const RAW_LEN: usize = TS_LEN + RAND_LEN + TAG_LEN;
/// Clock skew tolerated for a nonce stamped slightly in the future.
const FUTURE_SKEW_SECS: u64 = 5;

/// Result of the stateless nonce check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Issued by us for this realm, not expired; carries the issue time.
    Fresh {
        /// Issue timestamp (seconds, same clock as `now`).
        issued: u64,
    },
    /// Issued by us for this realm but older than the lifetime.
    Expired,
    /// Not a nonce we issued (forged, truncated, other realm or other key).
    Invalid,
}

/// Issues and checks stateless nonces.
#[derive(Clone)]
pub struct NonceIssuer {
    key: [u8; 32],
    lifetime_secs: u64,
}

impl std::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("key", &"<redacted>")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish()
    }
}

impl NonceIssuer {
    /// A new issuer with the given HMAC key and nonce lifetime.
    pub fn new(key: [u8; 32], lifetime_secs: u64) -> Self {
        NonceIssuer { key, lifetime_secs }
    }

    /// Nonce lifetime in seconds.
    pub fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    fn mac(&self, head: &[u8], realm: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(head);
        mac.update(realm.as_bytes());
        mac
    }

    /// Issues a nonce stamped with `now` (seconds) for `realm`.
    pub fn issue(&self, realm: &str, now: u64) -> String {
        let mut raw = [0u8; RAW_LEN];
        raw[..TS_LEN].copy_from_slice(&now.to_be_bytes());
        raw[TS_LEN..TS_LEN + RAND_LEN].copy_from_slice(&rand::random::<[u8; RAND_LEN]>());
        let tag = self
            .mac(&raw[..TS_LEN + RAND_LEN], realm)
            .finalize()
            .into_bytes();
        raw[TS_LEN + RAND_LEN..].copy_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks authenticity (constant-time tag comparison) and age.
    pub fn check(&self, nonce: &str, realm: &str, now: u64) -> NonceStatus {
        let mut raw = [0u8; RAW_LEN];
        match URL_SAFE_NO_PAD.decode_slice(nonce.as_bytes(), &mut raw) {
            Ok(RAW_LEN) => {}
            _ => return NonceStatus::Invalid,
        }
        let (head, tag) = raw.split_at(TS_LEN + RAND_LEN);
        if self.mac(head, realm).verify_truncated_left(tag).is_err() {
            return NonceStatus::Invalid;
        }
        let mut ts = [0u8; TS_LEN];
        ts.copy_from_slice(&head[..TS_LEN]);
        let issued = u64::from_be_bytes(ts);
        if issued > now.saturating_add(FUTURE_SKEW_SECS)
            || now.saturating_sub(issued) >= self.lifetime_secs
        {
            return NonceStatus::Expired;
        }
        NonceStatus::Fresh { issued }
    }
}

/// Why a nonce use was refused by the replay table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseError {
    /// `nc` not greater than the last accepted one, or a legacy (no-qop)
    /// nonce used a second time.
    Replay,
    /// The nonce may have been forgotten (table overflow); treat as stale.
    Forgotten,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    issued: u64,
    /// Highest nc accepted; `u32::MAX` once a legacy (no-qop) use happened.
    last_nc: u32,
}

/// Bounded table of nonces in use with the highest `nc` seen.
#[derive(Debug)]
pub struct ReplayTable {
    entries: HashMap<String, Entry>,
    /// Insertion order, for oldest-first eviction. May hold keys already
    /// purged from `entries`; those are skipped.
    order: VecDeque<String>,
    capacity: usize,
    lifetime_secs: u64,
    /// Nonces issued at or before this time that are not in the table are
    /// treated as stale: an unexpired entry of that age was evicted.
    watermark: Option<u64>,
    next_purge: u64,
}

impl ReplayTable {
    /// A table holding at most `capacity` nonces (at least 1).
    pub fn new(capacity: usize, lifetime_secs: u64) -> Self {
        ReplayTable {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            lifetime_secs,
            watermark: None,
            next_purge: 0,
        }
    }

    /// Number of nonces tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no nonce is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a use of `nonce` (issued at `issued`) with `nc` (`None` for a
    /// legacy no-qop use). Call only after the response was verified.
    pub fn accept(
        &mut self,
        nonce: &str,
        issued: u64,
        nc: Option<u32>,
        now: u64,
    ) -> Result<(), UseError> {
        if now >= self.next_purge {
            self.purge(now);
        }
        if let Some(e) = self.entries.get_mut(nonce) {
            return match nc {
                Some(nc) if nc > e.last_nc => {
                    e.last_nc = nc;
                    Ok(())
                }
                _ => Err(UseError::Replay),
            };
        }
        if self.watermark.is_some_and(|w| issued <= w) {
            return Err(UseError::Forgotten);
        }
        // Full: evict oldest first (O(1) each). Expired entries go at the
        // periodic purge above, never in a full scan per request.
        while self.entries.len() >= self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(e) = self.entries.remove(&old) {
                if !self.expired(e.issued, now) {
                    self.watermark = Some(self.watermark.map_or(e.issued, |w| w.max(e.issued)));
                }
            }
        }
        if self.watermark.is_some_and(|w| issued <= w) {
            return Err(UseError::Forgotten);
        }
        let last_nc = nc.unwrap_or(u32::MAX);
        self.entries
            .insert(nonce.to_owned(), Entry { issued, last_nc });
        self.order.push_back(nonce.to_owned());
        Ok(())
    }

    fn expired(&self, issued: u64, now: u64) -> bool {
        now.saturating_sub(issued) >= self.lifetime_secs
    }

    /// Drops expired nonces (they are refused as stale by the issuer anyway).
    pub fn purge(&mut self, now: u64) {
        let lifetime = self.lifetime_secs;
        self.entries
            .retain(|_, e| now.saturating_sub(e.issued) < lifetime);
        let entries = &self.entries;
        self.order.retain(|k| entries.contains_key(k));
        if self
            .watermark
            .is_some_and(|w| now.saturating_sub(w) >= lifetime)
        {
            self.watermark = None;
        }
        self.next_purge = now + (lifetime / 4).clamp(1, 60);
    }
}
