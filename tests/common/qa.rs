//! What the QA integration tests share: a runtime for the store, an ended
//! call with its finished recording in a store (what QA jobs are made
//! from), and waiting for a job to reach a state.

use std::path::Path;
use std::time::{Duration, Instant};

use switchboard::store::{
    CallEnd, CallRecord, HangupBy, QaJob, QaJobState, RecordingRow, RecordingState, Store,
};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Stores call `call_id`, begun at `at` (unix ms) and ended 5 s later, and
/// its finished stereo 16 kHz recording at `path` (from 0.5 s to 3 s in).
/// QA workers look for recordings of any age when they start, then for
/// recent ones only.
pub async fn add_ended_call(store: &Store, call_id: &str, path: &Path, at: i64) {
    store
        .insert_call(&CallRecord {
            call_id: call_id.into(),
            profile: "carrier".into(),
            caller: "+15550100".into(),
            callee: "100".into(),
            started_at: at,
        })
        .await
        .expect("call");
    let path = path.display().to_string();
    store
        .insert_recording(&RecordingRow::new(call_id, &path, 2, 16_000, at + 500))
        .await
        .expect("recording");
    store
        .complete_recording(&path, at + 3_000, RecordingState::Complete)
        .await
        .expect("complete");
    store
        .finish_call(call_id, &CallEnd::bye(at + 5_000, HangupBy::Caller))
        .await
        .expect("finish");
}

/// Waits (at most `limit`) until the newest job reaches `state`; the job
/// as it is then.
pub fn wait_job(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    state: QaJobState,
    limit: Duration,
) -> QaJob {
    let until = Instant::now() + limit;
    loop {
        let jobs = rt.block_on(store.qa_jobs(None, 10)).expect("jobs");
        if let Some(job) = jobs.first()
            && (job.state == state || Instant::now() > until)
        {
            return job.clone();
        }
        assert!(Instant::now() < until, "no job stored within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
