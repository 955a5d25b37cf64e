//! The CDR writer: calls hand their detail records (start, answer, events,
//! end) to one task that writes them in order, so a call never waits for
//! the disk on its signalling path. Every operation is written: the queue
//! is bounded and a full queue makes the call wait (back-pressure), never
//! drops. What is queued is written in batches, one transaction each (a
//! failed operation is undone alone, its batch goes on), so the writer
//! keeps up with hundreds of calls a second. [`CdrWriter::flush`] waits
//! until everything sent before it is in the database (a recording row
//! needs its call row first).
//!
//! The ACD writes through it too (agents' transitions and claims, callers'
//! queue stays), so its task never waits for the disk either, and one
//! writer holds SQLite's write lock instead of two taking turns. A queue
//! stay is named by the ACD's own number (`stay`); the writer maps it to
//! its row. A claim that another node won is reported back on the claim's
//! channel.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use std::collections::HashMap;

use super::{AgentLeg, AgentTransition, CallEnd, CallEventKind, CallRecord, Store};

/// Operations queued before a sender waits.
const QUEUE: usize = 8192;
/// Most operations written in one transaction.
const BATCH: usize = 512;

/// One write, in call order.
#[derive(Debug)]
enum Op {
    Insert(CallRecord),
    Answered {
        call_id: String,
        at: i64,
        agent: AgentLeg,
    },
    Event {
        call_id: String,
        at: i64,
        kind: CallEventKind,
        detail: String,
    },
    Finish {
        call_id: String,
        end: Box<CallEnd>,
    },
    Flush(oneshot::Sender<()>),
    AgentTransition(AgentTransition),
    Claim {
        agent: String,
        at: i64,
        /// Told the agent and `token` when the claim is lost.
        lost: mpsc::Sender<(String, u64)>,
        token: u64,
    },
    QueueJoined {
        stay: u64,
        call_id: String,
        queue: String,
        priority: u8,
        intent: String,
        at: i64,
    },
    QueueAnswered {
        stay: u64,
        agent: String,
        at: i64,
        wrap_up_ms: i64,
    },
    QueueEnded {
        stay: u64,
        outcome: String,
        at: i64,
    },
}

/// Cheap handle to the writer task; clone it into every call.
#[derive(Clone, Debug)]
pub struct CdrWriter {
    tx: mpsc::Sender<Op>,
}

impl CdrWriter {
    /// Starts the writer on `store`; the task ends once every handle is
    /// dropped and the queue is written.
    pub fn start(store: Store) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(store, rx));
        (Self { tx }, task)
    }

    async fn send(&self, op: Op) {
        if self.tx.send(op).await.is_err() {
            tracing::error!("CDR writer is gone; a call detail was not written");
        }
    }

    pub async fn insert_call(&self, call: CallRecord) {
        self.send(Op::Insert(call)).await;
    }

    pub async fn mark_answered(&self, call_id: &str, at: i64, agent: AgentLeg) {
        self.send(Op::Answered {
            call_id: call_id.to_string(),
            at,
            agent,
        })
        .await;
    }

    pub async fn add_event(&self, call_id: &str, at: i64, kind: CallEventKind, detail: &str) {
        self.send(Op::Event {
            call_id: call_id.to_string(),
            at,
            kind,
            detail: detail.to_string(),
        })
        .await;
    }

    pub async fn finish_call(&self, call_id: &str, end: CallEnd) {
        self.send(Op::Finish {
            call_id: call_id.to_string(),
            end: Box::new(end),
        })
        .await;
    }

    /// Stores an agent's transition.
    pub async fn agent_transition(&self, t: AgentTransition) {
        self.send(Op::AgentTransition(t)).await;
    }

    /// Claims `agent` for an offer (see [`Store::claim_agent`]); when
    /// another node holds them, `(agent, token)` goes to `lost`.
    pub async fn claim_agent(
        &self,
        agent: &str,
        at: i64,
        lost: mpsc::Sender<(String, u64)>,
        token: u64,
    ) {
        self.send(Op::Claim {
            agent: agent.to_string(),
            at,
            lost,
            token,
        })
        .await;
    }

    /// A caller's stay `stay` in `queue` (waiting for `intent`) starts.
    pub async fn queue_joined(
        &self,
        stay: u64,
        call_id: &str,
        queue: &str,
        priority: u8,
        intent: &str,
        at: i64,
    ) {
        self.send(Op::QueueJoined {
            stay,
            call_id: call_id.to_string(),
            queue: queue.to_string(),
            priority,
            intent: intent.to_string(),
            at,
        })
        .await;
    }

    /// Stay `stay` was answered by `agent`.
    pub async fn queue_answered(&self, stay: u64, agent: &str, at: i64, wrap_up_ms: i64) {
        self.send(Op::QueueAnswered {
            stay,
            agent: agent.to_string(),
            at,
            wrap_up_ms,
        })
        .await;
    }

    /// Stay `stay` is over (`outcome` unless it was answered).
    pub async fn queue_ended(&self, stay: u64, outcome: &str, at: i64) {
        self.send(Op::QueueEnded {
            stay,
            outcome: outcome.to_string(),
            at,
        })
        .await;
    }

    /// Waits until everything queued before this call is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Flush(tx)).await;
        let _ = rx.await;
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Op>) {
    let mut batch = Vec::with_capacity(BATCH);
    // The ACD's queue stays and their rows.
    let mut stays = HashMap::new();
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        write_batch(&store, &mut batch, &mut stays).await;
    }
}

/// Writes (and empties) `batch` in one transaction; the flushes in it are
/// told once it is committed.
async fn write_batch(store: &Store, batch: &mut Vec<Op>, stays: &mut HashMap<u64, i64>) {
    let mut flushes = Vec::new();
    match store.pool().begin().await {
        Ok(mut tx) => {
            for op in batch.drain(..) {
                match op {
                    Op::Flush(done) => flushes.push(done),
                    op => write_op(store, &mut tx, op, stays).await,
                }
            }
            if let Err(e) = tx.commit().await {
                tracing::error!("CDR batch not written: {e}");
            }
        }
        Err(e) => {
            tracing::error!(ops = batch.len(), "CDR batch not written: {e}");
            flushes.extend(batch.drain(..).filter_map(|op| match op {
                Op::Flush(done) => Some(done),
                _ => None,
            }));
        }
    }
    for done in flushes {
        let _ = done.send(());
    }
}

async fn write_op(
    store: &Store,
    conn: &mut sqlx::SqliteConnection,
    op: Op,
    stays: &mut HashMap<u64, i64>,
) {
    let (what, result) = match op {
        Op::AgentTransition(t) => (
            "agent transition",
            store
                .record_agent_transition_on(conn, &t)
                .await
                .map(|_| true),
        ),
        Op::Claim {
            agent,
            at,
            lost,
            token,
        } => {
            let claimed = store.claim_agent_on(conn, &agent, at).await;
            if let Ok(false) = claimed {
                let _ = lost.try_send((agent, token));
            }
            ("agent claim", claimed.map(|_| true))
        }
        Op::QueueJoined {
            stay,
            call_id,
            queue,
            priority,
            intent,
            at,
        } => {
            let id = store
                .queue_call_joined_on(conn, &call_id, &queue, priority, &intent, at)
                .await;
            if let Ok(id) = id {
                stays.insert(stay, id);
            }
            ("queue stay", id.map(|_| true))
        }
        Op::QueueAnswered {
            stay,
            agent,
            at,
            wrap_up_ms,
        } => match stays.get(&stay) {
            Some(&id) => (
                "queue answer",
                store
                    .queue_call_answered_on(conn, id, &agent, at, wrap_up_ms)
                    .await
                    .map(|_| true),
            ),
            None => ("queue answer", Ok(false)),
        },
        Op::QueueEnded { stay, outcome, at } => match stays.remove(&stay) {
            Some(id) => (
                "queue stay end",
                store
                    .queue_call_ended_on(conn, id, &outcome, at)
                    .await
                    .map(|_| true),
            ),
            None => ("queue stay end", Ok(false)),
        },
        Op::Insert(call) => (
            "insert",
            store.insert_call_on(conn, &call).await.map(|_| true),
        ),
        Op::Answered { call_id, at, agent } => (
            "answer",
            store.mark_answered_on(conn, &call_id, at, &agent).await,
        ),
        Op::Event {
            call_id,
            at,
            kind,
            detail,
        } => (
            "event",
            store
                .add_call_event_on(conn, &call_id, at, kind, &detail)
                .await
                .map(|_| true),
        ),
        Op::Finish { call_id, end } => ("finish", store.finish_call_on(conn, &call_id, &end).await),
        Op::Flush(done) => {
            let _ = done.send(());
            return;
        }
    };
    match result {
        Ok(true) => {}
        Ok(false) => tracing::warn!(what, "CDR write matched no open call"),
        Err(e) => tracing::error!(what, "CDR write failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HangupBy;

    fn record(id: &str) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            profile: "carrier".into(),
            caller: "+15550001".into(),
            callee: "1001".into(),
            started_at: 1_000,
        }
    }

    #[tokio::test]
    async fn writes_in_order_and_flush_waits_for_them() {
        let store = Store::open_in_memory().await.unwrap();
        let (w, task) = CdrWriter::start(store.clone());
        w.insert_call(record("c1")).await;
        w.mark_answered(
            "c1",
            2_000,
            AgentLeg {
                agent: "1001".into(),
                call_id: "a1".into(),
            },
        )
        .await;
        w.add_event("c1", 2_500, CallEventKind::Dtmf, "5").await;
        w.finish_call("c1", CallEnd::bye(3_000, HangupBy::Caller))
            .await;
        w.flush().await;
        let cdr = store.call("c1").await.unwrap().expect("call written");
        assert_eq!(cdr.answered_at, Some(2_000));
        assert_eq!(cdr.ended_at, Some(3_000));
        assert_eq!(cdr.agent.unwrap().agent, "1001");
        let events = store.call_events("c1").await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].detail, "5");
        drop(w);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_write_does_not_stop_the_writer() {
        let store = Store::open_in_memory().await.unwrap();
        let (w, _task) = CdrWriter::start(store.clone());
        // An event for an unknown call violates the foreign key.
        w.add_event("nope", 1, CallEventKind::Dtmf, "1").await;
        w.insert_call(record("c2")).await;
        w.flush().await;
        assert!(store.call("c2").await.unwrap().is_some());
    }
}
