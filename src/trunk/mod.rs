//! Trunks facing carriers: OPTIONS keep-alive to their peers and outbound
//! registration, each a task per target that reports its state to the
//! log and to the `trunk_status` table.

mod qualify;
mod registration;
mod uac;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use crate::config::{Profile, ProfileKind};
use crate::sip::endpoint::Endpoint;
use crate::sip::transport::ProfileId;
use crate::store::{Store, TrunkStatus};

/// Records state changes of one profile's trunk targets.
#[derive(Clone)]
pub struct StatusBoard {
    store: Store,
    profile: String,
    /// Last (kind, target, state) reported, to log changes only once.
    last: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl StatusBoard {
    fn new(store: Store, profile: &str) -> Self {
        Self {
            store,
            profile: profile.to_string(),
            last: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Stores the state; logs it when it changed.
    pub async fn set(&self, kind: &str, target: &str, state: &str, detail: String) {
        let changed = {
            let mut last = self.last.lock().await;
            match last.iter_mut().find(|(k, t, _)| k == kind && t == target) {
                Some(entry) if entry.2 == state => false,
                Some(entry) => {
                    entry.2 = state.to_string();
                    true
                }
                None => {
                    last.push((kind.to_string(), target.to_string(), state.to_string()));
                    true
                }
            }
        };
        if changed {
            if matches!(state, "up" | "registered") {
                tracing::info!(profile = %self.profile, kind, target, state, detail, "trunk status");
            } else {
                tracing::warn!(profile = %self.profile, kind, target, state, detail, "trunk status");
            }
        }
        let row = TrunkStatus {
            profile: self.profile.clone(),
            kind: kind.to_string(),
            target: target.to_string(),
            state: state.to_string(),
            detail,
            updated_at: i64::try_from(crate::sip::auth::unix_now()).unwrap_or(i64::MAX),
        };
        if let Err(e) = self.store.set_trunk_status(&row).await {
            tracing::warn!("storing trunk status failed: {e}");
        }
    }
}

/// Starts the qualify and registration tasks of a trunk profile.
pub fn start(ep: &Endpoint, store: &Store, id: ProfileId, profile: &Profile) {
    let ProfileKind::Trunk(trunk) = &profile.kind else {
        return;
    };
    let board = StatusBoard::new(store.clone(), &profile.name);
    if let Some(q) = &trunk.qualify {
        for peer in &q.peers {
            tokio::spawn(qualify::run(
                ep.clone(),
                id,
                peer.clone(),
                Duration::from_secs(q.interval_seconds),
                board.clone(),
            ));
        }
    }
    if let Some(reg) = &trunk.registration {
        tokio::spawn(registration::run(ep.clone(), id, reg.clone(), board));
    }
}
