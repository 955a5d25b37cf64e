//! The registrar of an internal profile (RFC 3261 section 10): digest
//! authentication of REGISTER, contact bindings with expiry, and lookups
//! for calls to agents. Owned by the SIP core task (no locks); bindings are
//! written behind to the database.

mod location;
pub mod persist;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{InternalSettings, SipUser};
use crate::sip::auth::{AuthConfig, AuthOutcome, Authenticator, DigestCredentials, Secret};
use crate::sip::codec::{Contacts, SipMessage};
use crate::sip::security::Guard;
use crate::sip::transport::{Flow, ProfileId};
use crate::store::{self, BindingOp};

pub use location::{Binding, Change, Location};
pub use persist::Persister;

/// What the core should answer to a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub reason: &'static str,
    /// Extra headers: (name, value).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn new(status: u16, reason: &'static str) -> Self {
        Self {
            status,
            reason,
            headers: Vec::new(),
        }
    }
}

/// Result of looking up an extension for a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// No such extension on this profile (404).
    Unknown,
    /// A known extension with no live registration (480).
    NotRegistered,
    /// Live contacts, best first.
    Contacts(Vec<Binding>),
}

/// One internal profile's registrar.
pub struct Registrar {
    profile: ProfileId,
    name: String,
    settings: InternalSettings,
    users: HashMap<String, SipUser>,
    auth: Authenticator,
    location: Location,
    persister: Persister,
    guard: Arc<Guard>,
}

impl Registrar {
    pub fn new(
        profile: ProfileId,
        name: &str,
        settings: InternalSettings,
        persister: Persister,
        guard: Arc<Guard>,
    ) -> Self {
        let mut auth_cfg = AuthConfig::new(settings.realm.clone());
        auth_cfg.algorithms = settings
            .digest_algorithms
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        let users = settings
            .users
            .iter()
            .map(|u| (u.extension.clone(), u.clone()))
            .collect();
        Self {
            profile,
            name: name.to_string(),
            settings,
            users,
            auth: Authenticator::new(auth_cfg),
            location: Location::default(),
            persister,
            guard,
        }
    }

    pub fn profile(&self) -> ProfileId {
        self.profile
    }

    /// Restores bindings saved before a restart. `flow_of` turns a stored
    /// source (`udp:127.0.0.1:5062`) back into a flow.
    pub fn restore(&mut self, saved: Vec<store::Binding>, flow_of: impl Fn(&str) -> Option<Flow>) {
        for b in saved {
            let Some(source) = flow_of(&b.source) else {
                continue;
            };
            if !self.users.contains_key(&b.aor) {
                continue;
            }
            let binding = Binding {
                contact: b.contact,
                source,
                call_id: b.call_id,
                cseq: u32::try_from(b.cseq).unwrap_or(0),
                q: b.q.map(|q| q as f32),
                user_agent: b.user_agent,
                expires_at: u64::try_from(b.expires_at).unwrap_or(0),
                updated_at: u64::try_from(b.updated_at).unwrap_or(0),
            };
            self.location
                .upsert(&b.aor, binding, self.settings.registrar.max_contacts);
        }
    }

    /// Live contacts of an extension.
    pub fn lookup(&self, extension: &str, now_unix: u64) -> Lookup {
        if !self.users.contains_key(extension) {
            return Lookup::Unknown;
        }
        let contacts = self.location.lookup(extension, now_unix);
        if contacts.is_empty() {
            Lookup::NotRegistered
        } else {
            Lookup::Contacts(contacts)
        }
    }

    /// Number of live bindings.
    pub fn binding_count(&self) -> usize {
        self.location.len()
    }

    /// Drops expired bindings (memory and database); the AORs left with
    /// no contact.
    pub fn purge(&mut self, now_unix: u64) -> Vec<String> {
        let mut emptied = Vec::new();
        for (aor, contact) in self.location.purge(now_unix) {
            if self.location.lookup(&aor, now_unix).is_empty() && !emptied.contains(&aor) {
                emptied.push(aor.clone());
            }
            self.persister.queue(BindingOp::Delete {
                profile: self.name.clone(),
                aor,
                contact,
            });
        }
        emptied
    }

    /// Handles one REGISTER (RFC 3261 10.3).
    pub fn handle(&mut self, flow: Flow, msg: &SipMessage, now_unix: u64, now: Instant) -> Reply {
        let Ok(to) = msg.to() else {
            return Reply::new(400, "Bad To Header");
        };
        let aor = to
            .uri
            .user_unescaped()
            .map(|u| String::from_utf8_lossy(&u).into_owned())
            .unwrap_or_default();

        // Authentication: an unknown user is answered exactly like a
        // wrong password.
        match self.authenticate(msg, "REGISTER", &aor, flow.remote.ip(), now_unix, now) {
            Ok(()) => {}
            Err(reply) => return reply,
        }

        let header_expires = match msg.expires() {
            Ok(e) => e,
            Err(_) => return Reply::new(400, "Bad Expires Header"),
        };
        let (Ok(call_id), Ok(cseq)) = (msg.call_id(), msg.cseq()) else {
            return Reply::new(400, "Bad Call-ID or CSeq");
        };
        let contacts = match msg.contacts() {
            Ok(c) => c,
            Err(_) => return Reply::new(400, "Bad Contact Header"),
        };
        let reg = &self.settings.registrar;
        match contacts {
            Contacts::Star => {
                if header_expires != Some(0) {
                    return Reply::new(400, "Contact * Requires Expires 0");
                }
                self.location.remove_all(&aor);
                self.persister.queue(BindingOp::DeleteAor {
                    profile: self.name.clone(),
                    aor: aor.clone(),
                });
            }
            Contacts::List(list) => {
                // Check everything before changing anything.
                let mut planned = Vec::with_capacity(list.len());
                for c in &list {
                    let Ok(param_expires) = c.expires() else {
                        return Reply::new(400, "Bad Contact Expires");
                    };
                    let requested = param_expires
                        .or(header_expires)
                        .unwrap_or(reg.default_expires);
                    if requested != 0 && requested < reg.min_expires {
                        let mut r = Reply::new(423, "Interval Too Brief");
                        r.headers.push(("Min-Expires", reg.min_expires.to_string()));
                        return r;
                    }
                    let contact = c.uri.as_str().to_string();
                    if let Some(existing) = self.location.get(&aor, &contact)
                        && existing.call_id == call_id
                        && existing.cseq >= cseq.seq
                    {
                        return Reply::new(500, "Out Of Order CSeq");
                    }
                    let q = c.q().ok().flatten();
                    planned.push((contact, requested.min(reg.max_expires), q));
                }
                let user_agent = msg.user_agent().map(|u| u.into_owned());
                for (contact, expires, q) in planned {
                    if expires == 0 {
                        if self.location.remove(&aor, &contact) {
                            self.persister.queue(BindingOp::Delete {
                                profile: self.name.clone(),
                                aor: aor.clone(),
                                contact,
                            });
                        }
                        continue;
                    }
                    let binding = Binding {
                        contact,
                        source: flow,
                        call_id: call_id.to_string(),
                        cseq: cseq.seq,
                        q,
                        user_agent: user_agent.clone(),
                        expires_at: now_unix + u64::from(expires),
                        updated_at: now_unix,
                    };
                    let stored = self.to_store(&aor, &binding);
                    for change in self.location.upsert(&aor, binding, reg.max_contacts) {
                        if let Change::Remove(contact) = change {
                            self.persister.queue(BindingOp::Delete {
                                profile: self.name.clone(),
                                aor: aor.clone(),
                                contact,
                            });
                        }
                    }
                    self.persister.queue(BindingOp::Upsert(stored));
                }
            }
        }

        let mut reply = Reply::new(200, "OK");
        for b in self.location.lookup(&aor, now_unix) {
            let left = b.expires_at.saturating_sub(now_unix);
            reply
                .headers
                .push(("Contact", format!("<{}>;expires={left}", b.contact)));
        }
        reply
    }

    /// Authenticates a request other than REGISTER from one of this
    /// profile's users (the From user): the user's extension, or the 401
    /// challenge (or refusal) to answer.
    pub fn authenticate_request(
        &mut self,
        msg: &SipMessage,
        method: &str,
        flow: Flow,
        now_unix: u64,
        now: Instant,
    ) -> Result<String, Reply> {
        let Ok(from) = msg.from() else {
            return Err(Reply::new(400, "Bad From Header"));
        };
        let user = from
            .uri
            .user_unescaped()
            .map(|u| String::from_utf8_lossy(&u).into_owned())
            .unwrap_or_default();
        self.authenticate(msg, method, &user, flow.remote.ip(), now_unix, now)?;
        Ok(user)
    }

    fn authenticate(
        &mut self,
        msg: &SipMessage,
        method: &str,
        aor: &str,
        src: IpAddr,
        now_unix: u64,
        now: Instant,
    ) -> Result<(), Reply> {
        let creds = msg.authorization().ok().and_then(|list| {
            list.into_iter()
                .find(|c| c.is_digest() && c.param("realm") == Some(self.auth.realm()))
                .and_then(|c| {
                    DigestCredentials::from_params(c.params.iter().map(|(n, v)| (*n, v.as_ref())))
                        .ok()
                })
        });
        let Some(creds) = creds else {
            return Err(self.challenge(now_unix, false));
        };
        let outcome = match self.users.get(aor) {
            Some(user) if creds.username == user.extension => {
                self.auth
                    .verify(&creds, method, Secret::Password(&user.password), now_unix)
            }
            _ => self.auth.verify_unknown_user(&creds, method, now_unix),
        };
        match outcome {
            AuthOutcome::Ok => Ok(()),
            AuthOutcome::Stale => Err(self.challenge(now_unix, true)),
            AuthOutcome::Fail(reason) => {
                self.guard.record_auth_failure_detail(
                    src,
                    msg.user_agent().as_deref(),
                    &format!("{method} {aor}: {reason}"),
                    now,
                );
                Err(self.challenge(now_unix, false))
            }
        }
    }

    fn challenge(&self, now_unix: u64, stale: bool) -> Reply {
        let mut r = Reply::new(401, "Unauthorized");
        for value in self.auth.challenge(now_unix, stale) {
            r.headers.push(("WWW-Authenticate", value));
        }
        r
    }

    fn to_store(&self, aor: &str, b: &Binding) -> store::Binding {
        store::Binding {
            profile: self.name.clone(),
            aor: aor.to_string(),
            contact: b.contact.clone(),
            source: b.source.remote_label(),
            call_id: b.call_id.clone(),
            cseq: i64::from(b.cseq),
            q: b.q.map(f64::from),
            user_agent: b.user_agent.clone(),
            expires_at: i64::try_from(b.expires_at).unwrap_or(i64::MAX),
            updated_at: i64::try_from(b.updated_at).unwrap_or(i64::MAX),
        }
    }
}
