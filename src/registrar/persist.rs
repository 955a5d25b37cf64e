//! Write-behind of registrations: the registrar changes its in-memory
//! location service at once and queues the change here; one task writes
//! the queue to the database in batches, so a burst of REGISTERs costs one
//! SQLite transaction per batch instead of one per request.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::{BindingOp, Store};

/// Changes waiting to be written before new ones are dropped (and logged).
const QUEUE: usize = 65_536;
/// Largest batch written in one transaction.
const BATCH: usize = 1_000;

/// Sending side, held by the registrar.
#[derive(Clone)]
pub struct Persister {
    tx: mpsc::Sender<BindingOp>,
}

impl Persister {
    /// Starts the writer task. It ends once every `Persister` clone is
    /// dropped and the queue is written: await the handle at shutdown so
    /// no registration is lost.
    pub fn start(store: Store) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write_loop(store, rx));
        (Self { tx }, task)
    }

    /// Queues a change; never waits. A full queue drops the change: the
    /// in-memory state stays right and the phone's next refresh rewrites it.
    pub fn queue(&self, op: BindingOp) {
        if self.tx.try_send(op).is_err() {
            tracing::warn!(
                "registration write queue full; a change will be written on the next refresh"
            );
        }
    }
}

async fn write_loop(store: Store, mut rx: mpsc::Receiver<BindingOp>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // Let a burst gather so it is written in one transaction.
        if batch.len() < BATCH {
            tokio::time::sleep(Duration::from_millis(20)).await;
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
        }
        if let Err(e) = store.apply_binding_ops(&batch).await {
            tracing::error!(changes = batch.len(), "writing registrations failed: {e}");
        }
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Binding;

    #[tokio::test]
    async fn queued_changes_reach_the_database() {
        let store = Store::open_in_memory().await.unwrap();
        let (p, task) = Persister::start(store.clone());
        for i in 0..50 {
            p.queue(BindingOp::Upsert(Binding {
                profile: "agents".into(),
                aor: format!("{}", 1000 + i),
                contact: format!("sip:{}@127.0.0.1:7000", 1000 + i),
                source: "udp:127.0.0.1:7000".into(),
                call_id: "c".into(),
                cseq: 1,
                q: None,
                user_agent: None,
                expires_at: 100,
                updated_at: 1,
            }));
        }
        p.queue(BindingOp::DeleteAor {
            profile: "agents".into(),
            aor: "1000".into(),
        });
        // Dropping the last sender flushes the queue and ends the task.
        drop(p);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(store.live_bindings("agents", 0).await.unwrap().len(), 49);
    }
}
