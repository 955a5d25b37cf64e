//! The CDR writer: calls hand their detail records (start, answer, events,
//! end) to one task that writes them in order, so a call never waits for
//! the disk on its signalling path. Every operation is written: the queue
//! is bounded and a full queue makes the call wait (back-pressure), never
//! drops. [`CdrWriter::flush`] waits until everything sent before it is
//! in the database (a recording row needs its call row first).

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{AgentLeg, CallEnd, CallEventKind, CallRecord, Store};

/// Operations queued before a sender waits.
const QUEUE: usize = 8192;

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

    /// Waits until everything queued before this call is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Flush(tx)).await;
        let _ = rx.await;
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Op>) {
    while let Some(op) = rx.recv().await {
        let (what, result) = match op {
            Op::Insert(call) => ("insert", store.insert_call(&call).await.map(|_| true)),
            Op::Answered { call_id, at, agent } => {
                ("answer", store.mark_answered(&call_id, at, &agent).await)
            }
            Op::Event {
                call_id,
                at,
                kind,
                detail,
            } => (
                "event",
                store
                    .add_call_event(&call_id, at, kind, &detail)
                    .await
                    .map(|_| true),
            ),
            Op::Finish { call_id, end } => ("finish", store.finish_call(&call_id, &end).await),
            Op::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        match result {
            Ok(true) => {}
            Ok(false) => tracing::warn!(what, "CDR write matched no open call"),
            Err(e) => tracing::error!(what, "CDR write failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Disposition, HangupBy};

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
        w.finish_call(
            "c1",
            CallEnd {
                ended_at: 3_000,
                disposition: Disposition::Answered,
                hangup_by: HangupBy::Caller,
                cause: Some("BYE".into()),
                sip_status: None,
                legs: [None, None],
            },
        )
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
