//! The location service (RFC 3261 section 10): bindings of each address of
//! record to its contacts, with expiry, kept in memory by the registrar's
//! owner and mirrored to the database by [`crate::registrar::persist`].

use std::collections::HashMap;

use crate::sip::transport::Flow;

/// One contact of an address of record.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The Contact URI exactly as registered.
    pub contact: String,
    /// Where the REGISTER came from (the flow back to the phone).
    pub source: Flow,
    pub call_id: String,
    pub cseq: u32,
    pub q: Option<f32>,
    pub user_agent: Option<String>,
    /// Unix seconds.
    pub expires_at: u64,
    /// Unix seconds of the last refresh (for "oldest" eviction).
    pub updated_at: u64,
}

/// What a REGISTER did to one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Upsert(String),
    Remove(String),
    RemoveAll,
}

/// All bindings of one profile, by address of record (the user part).
#[derive(Debug, Default)]
pub struct Location {
    by_aor: HashMap<String, Vec<Binding>>,
}

impl Location {
    /// Live contacts of `aor` at `now`, best q first.
    pub fn lookup(&self, aor: &str, now: u64) -> Vec<Binding> {
        let mut live: Vec<Binding> = self
            .by_aor
            .get(aor)
            .map(|v| v.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default();
        live.sort_by(|a, b| {
            b.q.unwrap_or(1.0)
                .partial_cmp(&a.q.unwrap_or(1.0))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        live
    }

    /// The stored binding for one contact, if any (live or not).
    pub fn get(&self, aor: &str, contact: &str) -> Option<&Binding> {
        self.by_aor.get(aor)?.iter().find(|b| b.contact == contact)
    }

    /// Adds or refreshes a binding; when `max_contacts` is reached the
    /// least recently refreshed one is replaced. Returns what changed.
    pub fn upsert(&mut self, aor: &str, binding: Binding, max_contacts: usize) -> Vec<Change> {
        let list = self.by_aor.entry(aor.to_string()).or_default();
        let mut changes = Vec::new();
        if let Some(existing) = list.iter_mut().find(|b| b.contact == binding.contact) {
            *existing = binding.clone();
        } else {
            while list.len() >= max_contacts.max(1) {
                let oldest = list
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, b)| b.updated_at)
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                changes.push(Change::Remove(list.remove(oldest).contact));
            }
            list.push(binding.clone());
        }
        changes.push(Change::Upsert(binding.contact));
        changes
    }

    pub fn remove(&mut self, aor: &str, contact: &str) -> bool {
        let Some(list) = self.by_aor.get_mut(aor) else {
            return false;
        };
        let before = list.len();
        list.retain(|b| b.contact != contact);
        let removed = list.len() != before;
        if list.is_empty() {
            self.by_aor.remove(aor);
        }
        removed
    }

    pub fn remove_all(&mut self, aor: &str) {
        self.by_aor.remove(aor);
    }

    /// Drops expired bindings; returns (aor, contact) of each.
    pub fn purge(&mut self, now: u64) -> Vec<(String, String)> {
        let mut gone = Vec::new();
        self.by_aor.retain(|aor, list| {
            list.retain(|b| {
                let live = b.expires_at > now;
                if !live {
                    gone.push((aor.clone(), b.contact.clone()));
                }
                live
            });
            !list.is_empty()
        });
        gone
    }

    /// Number of live bindings (all AORs).
    pub fn len(&self) -> usize {
        self.by_aor.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_aor.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Transport;

    fn flow() -> Flow {
        Flow {
            profile: 0,
            transport: Transport::Udp,
            local: "127.0.0.1:5060".parse().unwrap(),
            remote: "127.0.0.1:7000".parse().unwrap(),
            conn: None,
        }
    }

    fn b(contact: &str, expires_at: u64, updated_at: u64, q: Option<f32>) -> Binding {
        Binding {
            contact: contact.into(),
            source: flow(),
            call_id: "c".into(),
            cseq: 1,
            q,
            user_agent: None,
            expires_at,
            updated_at,
        }
    }

    #[test]
    fn lookup_returns_live_contacts_best_q_first() {
        let mut loc = Location::default();
        loc.upsert("1001", b("sip:a", 100, 1, Some(0.5)), 5);
        loc.upsert("1001", b("sip:b", 100, 2, Some(0.9)), 5);
        loc.upsert("1001", b("sip:c", 10, 3, None), 5);
        let found: Vec<_> = loc
            .lookup("1001", 50)
            .into_iter()
            .map(|b| b.contact)
            .collect();
        assert_eq!(found, ["sip:b", "sip:a"]);
        assert!(loc.lookup("1002", 0).is_empty());
    }

    #[test]
    fn max_contacts_replaces_the_oldest() {
        let mut loc = Location::default();
        loc.upsert("1001", b("sip:a", 100, 5, None), 2);
        loc.upsert("1001", b("sip:b", 100, 1, None), 2);
        let changes = loc.upsert("1001", b("sip:c", 100, 9, None), 2);
        assert_eq!(
            changes,
            [
                Change::Remove("sip:b".into()),
                Change::Upsert("sip:c".into())
            ]
        );
        assert_eq!(loc.len(), 2);
        // Refreshing an existing contact never evicts.
        let changes = loc.upsert("1001", b("sip:a", 200, 10, None), 2);
        assert_eq!(changes, [Change::Upsert("sip:a".into())]);
    }

    #[test]
    fn purge_and_remove() {
        let mut loc = Location::default();
        loc.upsert("1001", b("sip:a", 100, 1, None), 5);
        loc.upsert("1002", b("sip:b", 10, 1, None), 5);
        assert_eq!(loc.purge(50), [("1002".to_string(), "sip:b".to_string())]);
        assert!(loc.remove("1001", "sip:a"));
        assert!(!loc.remove("1001", "sip:a"));
        assert!(loc.is_empty());
    }
}
