//! Issue 6, the durable QA job queue, with the real parts: a SQLite file,
//! the real pipeline (PocketSphinx, or the HTTP backend pointed at a port
//! nobody listens on), real WAV files, the real worker pool.
//!
//! Pass/fail:
//! - a recording that cannot be read is tried `max_attempts` times with
//!   back-off and ends `failed` with the reason;
//! - a recognizer that is down: the same, with "recognizer unavailable";
//! - a job a stopped process left `running` is resumed by the next pool
//!   on the host and ends `done` with its result stored, and a pool that
//!   stops does not lose its jobs (they are still there for the next one).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchboard::qa::asr::Recognizer;
use switchboard::qa::asr::http::{HttpAsr, HttpAsrConfig};
use switchboard::qa::asr::sphinx::{Sphinx, SphinxConfig};
use switchboard::qa::jobs::{self, PoolSettings};
use switchboard::qa::pipeline::Pipeline;
use switchboard::qa::rules::{Rules, parse};
use switchboard::store::{PiiKey, QaJobState, Store};

mod common;
use common::qa::{add_ended_call, runtime, wait_job};
use common::speech::write_wav;

fn rules() -> Arc<Rules> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("qa/rules.toml")).expect("qa/rules.toml");
    Arc::new(parse(Path::new("qa/rules.toml"), &text).expect("demo rules are valid"))
}

fn settings() -> PoolSettings {
    PoolSettings {
        workers: 1,
        max_attempts: 3,
        retry_base: Duration::from_millis(200),
        lease: Duration::from_secs(600),
        idle_poll: Duration::from_millis(50),
    }
}

/// A stereo 16 kHz WAV: a hum on the caller side, a louder one on the
/// agent side (no words: the pipeline only has to get through it).
fn write_hum(path: &Path, seconds: u32) {
    let agent: Vec<i16> = (0..seconds * 16_000)
        .map(|n| {
            let t = f64::from(n) / 16_000.0;
            if (t % 2.0) < 1.0 {
                (3000.0 * (2.0 * std::f64::consts::PI * 180.0 * t).sin()) as i16
            } else {
                0
            }
        })
        .collect();
    let caller: Vec<i16> = agent.iter().map(|v| v / 2).collect();
    write_wav(path, 16_000, &[&caller, &agent]);
}

/// A store with one ended call `c1` and its finished recording at `path`.
async fn store_with_recording(dir: &Path, path: &Path) -> Store {
    let store = Store::open(&dir.join("qa.db"), PiiKey::ephemeral())
        .await
        .expect("store");
    add_ended_call(&store, "c1", path, 1_000).await;
    store
}

fn sphinx() -> Arc<dyn Recognizer> {
    Arc::new(
        Sphinx::new(SphinxConfig::default()).expect(
            "PocketSphinx and its model (scripts/install-deps.sh installs pocketsphinx-en-us)",
        ),
    )
}

#[test]
fn an_unreadable_recording_is_retried_then_fails_with_the_reason() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("dir");
    let missing: PathBuf = dir.path().join("gone.wav");
    let store = rt.block_on(store_with_recording(dir.path(), &missing));
    let pipeline = Arc::new(Pipeline::new(rules(), sphinx(), true));
    let pool = jobs::start(store.clone(), rt.handle().clone(), pipeline, settings()).expect("pool");
    let job = wait_job(&rt, &store, QaJobState::Failed, Duration::from_secs(20));
    pool.stop();
    assert_eq!(job.state, QaJobState::Failed, "{job:?}");
    assert_eq!(job.attempts, 3, "tried max_attempts times: {job:?}");
    let reason = job.error.unwrap_or_default();
    assert!(
        reason.contains("cannot read") && reason.contains("gone.wav"),
        "{reason}"
    );
    assert!(reason.contains("gave up after 3 attempts"), "{reason}");
    // back-off: 200 ms then 400 ms between the three attempts
    assert!(
        job.updated_at - job.created_at >= 600,
        "{} ms",
        job.updated_at - job.created_at
    );
}

#[test]
fn a_recognizer_that_is_down_is_retried_then_the_job_fails() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("dir");
    let wav = dir.path().join("call.wav");
    write_hum(&wav, 4);
    let store = rt.block_on(store_with_recording(dir.path(), &wav));
    // a port nobody listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let down = HttpAsr::new(HttpAsrConfig {
        url: format!("http://127.0.0.1:{port}"),
        timeout: Duration::from_secs(2),
        retries: 0,
        ..HttpAsrConfig::default()
    })
    .expect("http backend");
    let pipeline = Arc::new(Pipeline::new(rules(), Arc::new(down), true));
    let pool = jobs::start(store.clone(), rt.handle().clone(), pipeline, settings()).expect("pool");
    let job = wait_job(&rt, &store, QaJobState::Failed, Duration::from_secs(30));
    pool.stop();
    assert_eq!(
        (job.state, job.attempts),
        (QaJobState::Failed, 3),
        "{job:?}"
    );
    let reason = job.error.unwrap_or_default();
    assert!(reason.contains("recognizer unavailable"), "{reason}");
    assert!(
        rt.block_on(store.qa_result(&wav.display().to_string()))
            .expect("read")
            .is_none()
    );
}

#[test]
fn a_job_left_running_by_a_stopped_process_is_resumed_and_done() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("dir");
    let wav = dir.path().join("call.wav");
    write_hum(&wav, 6);
    let store = rt.block_on(store_with_recording(dir.path(), &wav));
    // A process of this host that no longer exists claimed the job.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    rt.block_on(store.enqueue_qa_jobs(switchboard::call::unix_ms(), 0, 10))
        .expect("enqueue");
    let claimed = rt
        .block_on(store.claim_qa_job(
            &format!("{}/4000000/0", host.trim()),
            switchboard::call::unix_ms(),
            600_000,
            3,
        ))
        .expect("claim")
        .expect("a job");
    assert_eq!(claimed.state, QaJobState::Running);

    let pipeline = Arc::new(Pipeline::new(rules(), sphinx(), true));
    let pool = jobs::start(store.clone(), rt.handle().clone(), pipeline, settings()).expect("pool");
    let job = wait_job(&rt, &store, QaJobState::Done, Duration::from_secs(60));
    pool.stop();
    assert_eq!((job.state, job.attempts), (QaJobState::Done, 2), "{job:?}");
    let result = rt
        .block_on(store.qa_result(&wav.display().to_string()))
        .expect("read")
        .expect("a stored result");
    assert!((0.0..=100.0).contains(&result.score));
    assert_eq!(result.backend, "pocketsphinx");
    let detail: serde_json::Value = serde_json::from_str(&result.detail).expect("detail JSON");
    let agent_talk = detail["signals"]["agent_talk"]
        .as_f64()
        .expect("agent talk");
    assert!(
        (agent_talk - 3.0).abs() < 0.5,
        "the agent hummed 3 s of 6: {agent_talk}"
    );
}
