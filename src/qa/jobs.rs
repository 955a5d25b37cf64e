//! The QA job queue's workers: a bounded pool of low-priority threads that
//! store a job for every finished recording, claim due jobs from the
//! database and run them through a [`JobProcessor`].
//!
//! - **Durable:** jobs live in `qa_jobs`; a job whose worker died (the
//!   switch was killed mid-job) is put back when a pool starts on the same
//!   host, or claimed by any worker once its lease has run out.
//! - **Retries:** a failed attempt waits `retry_base × 2^(attempt-1)`
//!   (capped at an hour) and is tried again, up to `max_attempts`; then the
//!   job ends `failed` with the last reason. A failure that cannot get
//!   better (an unsupported file) fails at once. This is the layer that
//!   rides out outages (a recognizer down for minutes); inside an attempt
//!   the HTTP recognizer only retries a blip, a few times within seconds
//!   (see [`crate::qa::asr::http`]).
//! - **Never in the way of calls:** workers are OS threads of their own
//!   with the lowest scheduling priority (nice 19); the switch's runtime
//!   only serves their few database queries. `workers = 0` turns QA off
//!   in the switch, so that a separate `switchboard qa worker` process (or
//!   none) does it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use crate::store::{QaCallContext, QaJob, QaResultRow, Store};

/// How the pool works.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Worker threads (0: none).
    pub workers: usize,
    /// Attempts before a job ends failed.
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubled after each next one.
    pub retry_base: Duration,
    /// A running job older than this is taken to be abandoned.
    pub lease: Duration,
    /// Sleep between looks for work when there is none.
    pub idle_poll: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            workers: 1,
            max_attempts: 5,
            retry_base: Duration::from_secs(30),
            lease: Duration::from_secs(30 * 60),
            idle_poll: Duration::from_secs(1),
        }
    }
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct JobError {
    pub reason: String,
    /// Whether a later attempt may succeed.
    pub retryable: bool,
}

impl JobError {
    pub fn retry(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retryable: true,
        }
    }

    pub fn fatal(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retryable: false,
        }
    }
}

/// What turns a job into a result (the QA pipeline; tests use their own).
/// Runs on a worker thread, outside any async runtime: it may block.
pub trait JobProcessor: Send + Sync {
    fn process(
        &self,
        job: &QaJob,
        context: Option<&QaCallContext>,
    ) -> Result<QaResultRow, JobError>;
}

/// The running pool; dropping it does not stop it, [`Pool::stop`] does.
pub struct Pool {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Asks the workers to stop after their current job and waits for them.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            let _ = t.join();
        }
    }

    /// A flag that stops the workers when set.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
}

/// Puts back this host's orphaned jobs and starts the workers.
pub fn start(
    store: Store,
    runtime: Handle,
    processor: Arc<dyn JobProcessor>,
    settings: PoolSettings,
) -> anyhow::Result<Pool> {
    let me = Identity::current();
    let released = runtime.block_on(store.release_orphan_qa_jobs(
        |worker| me.is_gone(worker),
        crate::call::unix_ms(),
        i64::from(settings.max_attempts),
    ))?;
    if released > 0 {
        tracing::info!(
            jobs = released,
            "QA jobs interrupted by a stop are queued again"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::with_capacity(settings.workers);
    for n in 0..settings.workers {
        let worker = Worker {
            name: me.worker_name(n),
            scans: n == 0,
            store: store.clone(),
            runtime: runtime.clone(),
            processor: processor.clone(),
            settings: settings.clone(),
            stop: stop.clone(),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("qa-worker-{n}"))
                .spawn(move || worker.run())?,
        );
    }
    Ok(Pool { stop, threads })
}

/// Who this process is, in worker names (`host/pid/n`).
struct Identity {
    host: String,
    pid: u32,
}

impl Identity {
    fn current() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        Self {
            host: if host.is_empty() {
                "localhost".into()
            } else {
                host
            },
            pid: std::process::id(),
        }
    }

    fn worker_name(&self, n: usize) -> String {
        format!("{}/{}/{n}", self.host, self.pid)
    }

    /// Whether the worker named so is certainly not running any more: on
    /// this host, its process is gone (or it is this process, which has
    /// just started and runs nothing yet). Other hosts' workers are left to
    /// their lease.
    fn is_gone(&self, worker: &str) -> bool {
        let mut parts = worker.rsplitn(3, '/');
        let (_n, pid, host) = (parts.next(), parts.next(), parts.next());
        let (Some(pid), Some(host)) = (pid.and_then(|p| p.parse::<u32>().ok()), host) else {
            return true;
        };
        if host != self.host {
            return false;
        }
        pid == self.pid || !process_alive(pid)
    }
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Recordings begun this recently (ms) are looked at by every scan for new
/// ones; older ones only by a pool's first scan. A call longer than this
/// still gets its job at the next start.
const RECENT_MS: i64 = 2 * 24 * 3600 * 1000;

/// How long a job waits after its `attempts`-th failure.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let doubling = attempts.saturating_sub(1).min(16);
    base.saturating_mul(1 << doubling)
        .min(Duration::from_secs(3600))
}

struct Worker {
    name: String,
    /// The first worker also stores jobs for new recordings.
    scans: bool,
    store: Store,
    runtime: Handle,
    processor: Arc<dyn JobProcessor>,
    settings: PoolSettings,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(self) {
        crate::thread_priority::lowest();
        // The first scan looks at every recording (the backlog of a first
        // start, or of a time QA was off); later ones at the recent ones.
        let mut since = 0;
        while !self.stop.load(Ordering::SeqCst) {
            if self.scans {
                self.store_new_jobs(since);
                since = crate::call::unix_ms() - RECENT_MS;
            }
            match self.claim() {
                Some(job) => self.attempt(job),
                None => self.idle(),
            }
        }
    }

    fn store_new_jobs(&self, since: i64) {
        let now = crate::call::unix_ms();
        match self
            .runtime
            .block_on(self.store.enqueue_qa_jobs(now, since, 100))
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(jobs = n, "QA jobs stored for new recordings"),
            Err(e) => tracing::warn!(error = %e, "cannot store QA jobs"),
        }
    }

    fn claim(&self) -> Option<QaJob> {
        let lease = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        let now = crate::call::unix_ms();
        // A read first: idle workers do not take the write lock for nothing.
        if !matches!(
            self.runtime.block_on(self.store.qa_job_due(now, lease)),
            Ok(true)
        ) {
            return None;
        }
        match self.runtime.block_on(self.store.claim_qa_job(
            &self.name,
            now,
            lease,
            i64::from(self.settings.max_attempts),
        )) {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim a QA job");
                None
            }
        }
    }

    fn idle(&self) {
        let until = Instant::now() + self.settings.idle_poll;
        while Instant::now() < until && !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50).min(self.settings.idle_poll));
        }
    }

    fn attempt(&self, job: QaJob) {
        let context = match self
            .runtime
            .block_on(self.store.qa_call_context(&job.recording))
        {
            Ok(c) => c,
            Err(e) => {
                self.failed(&job, &JobError::retry(format!("cannot read the call: {e}")));
                return;
            }
        };
        let started = Instant::now();
        match self.processor.process(&job, context.as_ref()) {
            Ok(result) => {
                match self
                    .runtime
                    .block_on(self.store.complete_qa_job(&job, &result))
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(
                            recording = %job.recording,
                            "QA result dropped: the job was claimed again while this worker held it"
                        );
                        return;
                    }
                    Err(e) => {
                        let error = JobError::retry(format!("cannot store the result: {e}"));
                        self.failed(&job, &error);
                        return;
                    }
                }
                tracing::info!(
                    recording = %job.recording,
                    score = result.score,
                    took_ms = started.elapsed().as_millis() as u64,
                    "QA result stored"
                );
            }
            Err(e) => self.failed(&job, &e),
        }
    }

    fn failed(&self, job: &QaJob, error: &JobError) {
        let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        let now = crate::call::unix_ms();
        let next_at = (error.retryable && attempts < self.settings.max_attempts).then(|| {
            let wait = backoff(self.settings.retry_base, attempts);
            now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2)
        });
        let reason = match next_at {
            Some(_) => error.reason.clone(),
            None if error.retryable => {
                format!("{} (gave up after {attempts} attempts)", error.reason)
            }
            None => error.reason.clone(),
        };
        tracing::warn!(
            recording = %job.recording,
            attempt = attempts,
            retry = next_at.is_some(),
            reason = %reason,
            "QA job attempt failed"
        );
        if let Err(e) = self
            .runtime
            .block_on(self.store.fail_qa_attempt(job, &reason, next_at, now))
        {
            tracing::warn!(error = %e, "cannot record a QA job's failure");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 4), Duration::from_secs(240));
        assert_eq!(backoff(base, 40), Duration::from_secs(3600));
    }

    #[test]
    fn orphans_are_judged_by_host_and_process() {
        let me = Identity {
            host: "node1".into(),
            pid: std::process::id(),
        };
        assert!(me.is_gone(&format!("node1/{}/0", std::process::id())));
        assert!(me.is_gone("node1/4000000/0"), "no such pid");
        assert!(
            !me.is_gone("node2/4000000/0"),
            "another host: its lease decides"
        );
        assert!(me.is_gone("garbage"));
        // a live process on this host (pid 1 always exists)
        assert!(!me.is_gone("node1/1/3"));
    }
}
