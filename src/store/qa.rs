//! QA jobs and results (`qa_jobs`, `qa_results`). A job is stored for every
//! finished recording of an ended call; workers claim due jobs, and a
//! job's result is stored with it done in one transaction. What people
//! said (evidence, transcripts) is sealed; scores and outcomes are not.

use super::Store;
use super::calls::text_enum;

text_enum! {
    /// Where a QA job is in its life.
    pub enum QaJobState {
        /// Waiting until its `next_at`.
        Pending => "pending",
        /// Claimed by a worker.
        Running => "running",
        /// Its result is stored.
        Done => "done",
        /// Gave up: the reason is in `error`.
        Failed => "failed",
    }
}

/// One QA job.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct QaJob {
    pub id: i64,
    /// The recording's path (as the `recordings` table has it).
    pub recording: String,
    pub call_id: String,
    pub state: QaJobState,
    /// Attempts begun, this one included for a running job.
    pub attempts: i64,
    pub next_at: i64,
    pub worker: Option<String>,
    pub started_at: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A recording's QA result, as stored and read back (detail opened).
#[derive(Debug, Clone, PartialEq)]
pub struct QaResultRow {
    pub recording: String,
    pub call_id: String,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub intent: Option<String>,
    /// When the call began (unix ms): the period a result belongs to.
    pub call_started_at: i64,
    pub score: f64,
    /// JSON without personal data: score per category, item outcomes.
    pub summary: String,
    /// JSON with what was said (evidence, transcripts); sealed at rest.
    pub detail: String,
    pub backend: String,
    pub took_ms: i64,
    pub created_at: i64,
}

/// Who handled the call a recording belongs to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QaCallContext {
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub intent: Option<String>,
    pub call_started_at: i64,
    /// Spans (unix ms) the caller was on hold, from the call's journal.
    pub holds: Vec<(i64, i64)>,
    /// When the recording began (unix ms).
    pub recording_started_at: i64,
}

const JOB_COLUMNS: &str = "id, recording, call_id, state, attempts, next_at, worker, \
                           started_at, error, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct ResultRow {
    recording: String,
    call_id: String,
    agent: Option<String>,
    queue: Option<String>,
    intent: Option<String>,
    call_started_at: i64,
    score: f64,
    summary: String,
    detail: String,
    backend: String,
    took_ms: i64,
    created_at: i64,
}

impl Store {
    /// Stores a pending job for each finished recording (complete or
    /// repaired, begun at `since` or later) of an ended call that has none
    /// yet, at most `limit`; returns how many.
    pub async fn enqueue_qa_jobs(&self, now: i64, since: i64, limit: i64) -> sqlx::Result<u64> {
        let done = sqlx::query(
            "INSERT INTO qa_jobs (recording, call_id, state, attempts, next_at, created_at, updated_at)
             SELECT r.path, r.call_id, 'pending', 0, ?1, ?1, ?1
             FROM recordings r JOIN calls c ON c.call_id = r.call_id
             WHERE r.created_at >= ?3 AND r.state IN ('complete', 'repaired')
               AND c.ended_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM qa_jobs j WHERE j.recording = r.path)
             ORDER BY r.created_at
             LIMIT ?2",
        )
        .bind(now)
        .bind(limit)
        .bind(since)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Stores a pending job for one recording (no-op when it has one).
    pub async fn enqueue_qa_job(
        &self,
        recording: &str,
        call_id: &str,
        now: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO qa_jobs (recording, call_id, state, attempts, next_at, created_at, updated_at)
             VALUES (?1, ?2, 'pending', 0, ?3, ?3, ?3) ON CONFLICT (recording) DO NOTHING",
        )
        .bind(recording)
        .bind(call_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether a job is due (a read: idle workers ask this before trying
    /// to claim, so they do not take the write lock for nothing).
    pub async fn qa_job_due(&self, now: i64, lease_ms: i64) -> sqlx::Result<bool> {
        let (due,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM qa_jobs
                            WHERE (state = 'pending' AND next_at <= ?1)
                               OR (state = 'running' AND started_at < ?1 - ?2))",
        )
        .bind(now)
        .bind(lease_ms)
        .fetch_one(self.pool())
        .await?;
        Ok(due)
    }

    /// Claims the oldest due job for `worker`: a pending one whose time
    /// has come, or a running one whose worker has held it past
    /// `lease_ms` (it died). Counts the attempt. An abandoned job that has
    /// had `max_attempts` already ends failed instead: a recording that
    /// kills its worker every time must not do so forever.
    pub async fn claim_qa_job(
        &self,
        worker: &str,
        now: i64,
        lease_ms: i64,
        max_attempts: i64,
    ) -> sqlx::Result<Option<QaJob>> {
        sqlx::query(
            "UPDATE qa_jobs SET state = 'failed', updated_at = ?1,
                 error = 'abandoned by its worker ' || attempts || ' times'
             WHERE state = 'running' AND started_at < ?1 - ?2 AND attempts >= ?3",
        )
        .bind(now)
        .bind(lease_ms)
        .bind(max_attempts)
        .execute(self.pool())
        .await?;
        sqlx::query_as(&format!(
            "UPDATE qa_jobs SET state = 'running', attempts = attempts + 1, worker = ?1,
                 started_at = ?2, updated_at = ?2
             WHERE id = (SELECT id FROM qa_jobs
                         WHERE (state = 'pending' AND next_at <= ?2)
                            OR (state = 'running' AND started_at < ?2 - ?3)
                         ORDER BY next_at, id LIMIT 1)
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(worker)
        .bind(now)
        .bind(lease_ms)
        .fetch_optional(self.pool())
        .await
    }

    /// Puts back the jobs left running by workers that no longer exist
    /// (`is_gone` says so from the worker's name), or ends them failed
    /// when they have had `max_attempts`; returns how many were put back.
    pub async fn release_orphan_qa_jobs(
        &self,
        is_gone: impl Fn(&str) -> bool,
        now: i64,
        max_attempts: i64,
    ) -> sqlx::Result<u64> {
        let running: Vec<(i64, Option<String>)> =
            sqlx::query_as("SELECT id, worker FROM qa_jobs WHERE state = 'running'")
                .fetch_all(self.pool())
                .await?;
        let mut released = 0;
        for (id, worker) in running {
            if !worker.as_deref().is_none_or(&is_gone) {
                continue;
            }
            // Only if nobody claimed it since it was read.
            released += sqlx::query(
                "UPDATE qa_jobs SET updated_at = ?2,
                     state = CASE WHEN attempts >= ?4 THEN 'failed' ELSE 'pending' END,
                     next_at = ?2,
                     error = 'interrupted: the worker stopped during attempt ' || attempts
                 WHERE id = ?1 AND state = 'running' AND worker IS ?3",
            )
            .bind(id)
            .bind(now)
            .bind(&worker)
            .bind(max_attempts)
            .execute(self.pool())
            .await?
            .rows_affected();
        }
        Ok(released)
    }

    /// A failed attempt of `job` (as claimed): the job waits until
    /// `next_at`, or, when `next_at` is `None`, ends failed. The reason is
    /// kept either way. Nothing changes if the job was claimed again since
    /// (its worker was taken for dead): that attempt decides.
    pub async fn fail_qa_attempt(
        &self,
        job: &QaJob,
        error: &str,
        next_at: Option<i64>,
        now: i64,
    ) -> sqlx::Result<()> {
        let state = if next_at.is_some() {
            QaJobState::Pending
        } else {
            QaJobState::Failed
        };
        sqlx::query(
            "UPDATE qa_jobs SET state = ?2, error = ?3, next_at = ?4, updated_at = ?5
             WHERE id = ?1 AND state = 'running' AND worker IS ?6 AND attempts = ?7",
        )
        .bind(job.id)
        .bind(state)
        .bind(error)
        .bind(next_at.unwrap_or(now))
        .bind(now)
        .bind(&job.worker)
        .bind(job.attempts)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stores the result of `job` (as claimed) and marks it done,
    /// together; false (nothing stored) if the job was claimed again since.
    pub async fn complete_qa_job(&self, job: &QaJob, result: &QaResultRow) -> sqlx::Result<bool> {
        let mut tx = self.pool().begin().await?;
        let mine = sqlx::query(
            "UPDATE qa_jobs SET state = 'done', error = NULL, updated_at = ?2
             WHERE id = ?1 AND state = 'running' AND worker IS ?3 AND attempts = ?4",
        )
        .bind(job.id)
        .bind(result.created_at)
        .bind(&job.worker)
        .bind(job.attempts)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if mine == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT OR REPLACE INTO qa_results (recording, call_id, agent, queue, intent,
                 call_started_at, score, summary, detail, backend, took_ms, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&result.recording)
        .bind(&result.call_id)
        .bind(&result.agent)
        .bind(&result.queue)
        .bind(&result.intent)
        .bind(result.call_started_at)
        .bind(result.score)
        .bind(&result.summary)
        .bind(self.pii().seal(&result.detail))
        .bind(&result.backend)
        .bind(result.took_ms)
        .bind(result.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Jobs, newest first, optionally only in one state.
    pub async fn qa_jobs(&self, state: Option<QaJobState>, limit: i64) -> sqlx::Result<Vec<QaJob>> {
        sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM qa_jobs WHERE ?1 IS NULL OR state = ?1
             ORDER BY id DESC LIMIT ?2"
        ))
        .bind(state)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// The result of one recording, detail opened.
    pub async fn qa_result(&self, recording: &str) -> sqlx::Result<Option<QaResultRow>> {
        let row: Option<ResultRow> = sqlx::query_as("SELECT * FROM qa_results WHERE recording = ?")
            .bind(recording)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| self.opened_result(r)).transpose()
    }

    /// The results of a call's recordings, in the order the recordings
    /// began, detail opened.
    pub async fn qa_results_of_call(&self, call_id: &str) -> sqlx::Result<Vec<QaResultRow>> {
        let rows: Vec<ResultRow> = sqlx::query_as(
            "SELECT q.* FROM qa_results q LEFT JOIN recordings r ON r.path = q.recording
             WHERE q.call_id = ? ORDER BY r.created_at, q.recording",
        )
        .bind(call_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(|r| self.opened_result(r)).collect()
    }

    /// Results of the calls that began in `[from, to)`, optionally of one
    /// agent, oldest first, detail opened.
    pub async fn qa_results(
        &self,
        from: i64,
        to: i64,
        agent: Option<&str>,
    ) -> sqlx::Result<Vec<QaResultRow>> {
        let rows: Vec<ResultRow> = sqlx::query_as(
            "SELECT * FROM qa_results WHERE call_started_at >= ?1 AND call_started_at < ?2
               AND (?3 IS NULL OR agent = ?3)
             ORDER BY call_started_at, recording",
        )
        .bind(from)
        .bind(to)
        .bind(agent)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(|r| self.opened_result(r)).collect()
    }

    fn opened_result(&self, r: ResultRow) -> sqlx::Result<QaResultRow> {
        let detail = self
            .pii()
            .open(&r.detail)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(QaResultRow {
            recording: r.recording,
            call_id: r.call_id,
            agent: r.agent,
            queue: r.queue,
            intent: r.intent,
            call_started_at: r.call_started_at,
            score: r.score,
            summary: r.summary,
            detail,
            backend: r.backend,
            took_ms: r.took_ms,
            created_at: r.created_at,
        })
    }

    /// What QA needs to know about the call a recording belongs to: the
    /// agent and queue of the queue stay answered last before the
    /// recording began (else the call's agent), and the call's holds.
    pub async fn qa_call_context(&self, recording: &str) -> sqlx::Result<Option<QaCallContext>> {
        let row: Option<(String, i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT r.call_id, r.created_at, c.started_at, c.agent
             FROM recordings r JOIN calls c ON c.call_id = r.call_id WHERE r.path = ?",
        )
        .bind(recording)
        .fetch_optional(self.pool())
        .await?;
        let Some((call_id, recording_started_at, call_started_at, call_agent)) = row else {
            return Ok(None);
        };
        let stay: Option<(String, Option<String>, String)> = sqlx::query_as(
            "SELECT queue, agent, intent FROM queue_calls
             WHERE call_id = ?1 AND answered_at IS NOT NULL AND answered_at <= ?2 + 1000
             ORDER BY answered_at DESC LIMIT 1",
        )
        .bind(&call_id)
        .bind(recording_started_at)
        .fetch_optional(self.pool())
        .await?;
        let holds = self.hold_spans(&call_id).await?;
        let (queue, stay_agent, intent) = match stay {
            Some((q, a, i)) => (Some(q), a, (!i.is_empty()).then_some(i)),
            None => (None, None, None),
        };
        Ok(Some(QaCallContext {
            agent: stay_agent.or(call_agent),
            queue,
            intent,
            call_started_at,
            holds,
            recording_started_at,
        }))
    }

    /// Spans (unix ms) between each `hold` and the next `resume` in a
    /// call's journal; a hold never resumed lasts to the call's end.
    async fn hold_spans(&self, call_id: &str) -> sqlx::Result<Vec<(i64, i64)>> {
        let events: Vec<(i64, String)> = sqlx::query_as(
            "SELECT at, kind FROM call_events WHERE call_id = ? AND kind IN ('hold', 'resume')
             ORDER BY at, id",
        )
        .bind(call_id)
        .fetch_all(self.pool())
        .await?;
        let ended: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT ended_at FROM calls WHERE call_id = ?")
                .bind(call_id)
                .fetch_optional(self.pool())
                .await?;
        let mut spans = Vec::new();
        let mut held_since = None;
        for (at, kind) in events {
            match (kind.as_str(), held_since) {
                ("hold", None) => held_since = Some(at),
                ("resume", Some(since)) => {
                    spans.push((since, at));
                    held_since = None;
                }
                _ => {}
            }
        }
        if let (Some(since), Some((Some(end),))) = (held_since, ended) {
            spans.push((since, end.max(since)));
        }
        Ok(spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CallEnd, CallEventKind, CallRecord, HangupBy, RecordingRow};

    /// A store with call `c1` (ended, held 3-5 s) and its finished
    /// recording `/rec/c1.wav`, plus `c2` still in progress with one.
    async fn store() -> Store {
        let store = Store::open_in_memory().await.unwrap();
        for id in ["c1", "c2"] {
            store
                .insert_call(&CallRecord {
                    call_id: id.into(),
                    profile: "carrier".into(),
                    caller: "+15551230001".into(),
                    callee: "100".into(),
                    started_at: 1_000,
                })
                .await
                .unwrap();
            let path = format!("/rec/{id}.wav");
            store
                .insert_recording(&RecordingRow::new(id, &path, 2, 16_000, 2_000))
                .await
                .unwrap();
            store
                .complete_recording(&path, 8_000, crate::store::RecordingState::Complete)
                .await
                .unwrap();
        }
        store
            .add_call_event("c1", 3_000, CallEventKind::Hold, "")
            .await
            .unwrap();
        store
            .add_call_event("c1", 5_000, CallEventKind::Resume, "")
            .await
            .unwrap();
        store
            .finish_call("c1", &CallEnd::bye(10_000, HangupBy::Caller))
            .await
            .unwrap();
        store
    }

    fn result(recording: &str, detail: &str) -> QaResultRow {
        QaResultRow {
            recording: recording.into(),
            call_id: "c1".into(),
            agent: Some("1001".into()),
            queue: Some("orders".into()),
            intent: None,
            call_started_at: 1_000,
            score: 75.0,
            summary: "{}".into(),
            detail: detail.into(),
            backend: "pocketsphinx".into(),
            took_ms: 12,
            created_at: 20_000,
        }
    }

    #[tokio::test]
    async fn jobs_are_stored_once_for_finished_recordings_of_ended_calls() {
        let store = store().await;
        assert!(!store.qa_job_due(11_000, 60_000).await.unwrap());
        // recordings begun before `since` are left to the full scan
        assert_eq!(store.enqueue_qa_jobs(11_000, 2_001, 100).await.unwrap(), 0);
        assert_eq!(store.enqueue_qa_jobs(11_000, 0, 100).await.unwrap(), 1);
        assert!(store.qa_job_due(11_000, 60_000).await.unwrap());
        assert!(!store.qa_job_due(10_999, 60_000).await.unwrap());
        assert_eq!(store.enqueue_qa_jobs(12_000, 0, 100).await.unwrap(), 0);
        let jobs = store.qa_jobs(None, 10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].recording, "/rec/c1.wav");
        assert_eq!(jobs[0].state, QaJobState::Pending);
    }

    #[tokio::test]
    async fn a_failed_attempt_waits_then_fails_for_good() {
        let store = store().await;
        store.enqueue_qa_jobs(11_000, 0, 100).await.unwrap();
        let job = store
            .claim_qa_job("w/1/0", 11_000, 60_000, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((job.attempts, job.state), (1, QaJobState::Running));
        assert!(
            store
                .claim_qa_job("w/1/1", 11_000, 60_000, 5)
                .await
                .unwrap()
                .is_none()
        );
        store
            .fail_qa_attempt(&job, "recognizer down", Some(20_000), 12_000)
            .await
            .unwrap();
        assert!(
            store
                .claim_qa_job("w/1/0", 19_999, 60_000, 5)
                .await
                .unwrap()
                .is_none()
        );
        let again = store
            .claim_qa_job("w/1/0", 20_000, 60_000, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.attempts, 2);
        store
            .fail_qa_attempt(&again, "unreadable", None, 21_000)
            .await
            .unwrap();
        let jobs = store.qa_jobs(Some(QaJobState::Failed), 10).await.unwrap();
        assert_eq!(jobs[0].error.as_deref(), Some("unreadable"));
        assert!(
            store
                .claim_qa_job("w/1/0", 99_000, 60_000, 5)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_dead_workers_job_is_claimed_again() {
        let store = store().await;
        store.enqueue_qa_jobs(11_000, 0, 100).await.unwrap();
        store
            .claim_qa_job("host/42/0", 11_000, 60_000, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .release_orphan_qa_jobs(|w| w != "host/42/0", 12_000, 5)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .release_orphan_qa_jobs(|w| w == "host/42/0", 12_000, 5)
                .await
                .unwrap(),
            1
        );
        let job = store
            .claim_qa_job("host/43/0", 12_000, 60_000, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.attempts, 2);
        // past its lease, a running job is claimed by another worker
        let stolen = store
            .claim_qa_job("other/1/0", 12_000 + 60_001, 60_000, 5)
            .await
            .unwrap();
        let stolen = stolen.expect("claimed again");
        assert_eq!(stolen.attempts, 3);
        // the worker taken for dead comes back: its result is not taken
        let late = result("/rec/c1.wav", "{}");
        assert!(!store.complete_qa_job(&job, &late).await.unwrap());
        store
            .fail_qa_attempt(&job, "late", None, 80_000)
            .await
            .unwrap();
        assert_eq!(
            store.qa_jobs(None, 1).await.unwrap()[0].state,
            QaJobState::Running
        );
        // abandoned again with its attempts used up: failed, not run again
        assert!(
            store
                .claim_qa_job("third/1/0", 12_000 + 130_000, 60_000, 3)
                .await
                .unwrap()
                .is_none()
        );
        let failed = &store.qa_jobs(None, 1).await.unwrap()[0];
        assert_eq!(failed.state, QaJobState::Failed);
        assert_eq!(
            failed.error.as_deref(),
            Some("abandoned by its worker 3 times")
        );
    }

    #[tokio::test]
    async fn results_are_stored_with_the_job_done_and_what_was_said_sealed() {
        let store = store().await;
        store.enqueue_qa_jobs(11_000, 0, 100).await.unwrap();
        let job = store
            .claim_qa_job("w/1/0", 11_000, 60_000, 5)
            .await
            .unwrap()
            .unwrap();
        let detail = r#"{"evidence":"I will refund your order, Mrs Lovelace"}"#;
        store
            .complete_qa_job(&job, &result("/rec/c1.wav", detail))
            .await
            .unwrap();
        assert_eq!(
            store
                .qa_jobs(Some(QaJobState::Done), 10)
                .await
                .unwrap()
                .len(),
            1
        );
        let back = store.qa_result("/rec/c1.wav").await.unwrap().unwrap();
        assert_eq!(back.detail, detail);
        assert_eq!(store.qa_results_of_call("c1").await.unwrap(), vec![back]);
        assert!(store.qa_results_of_call("c2").await.unwrap().is_empty());
        let raw: (String,) = sqlx::query_as("SELECT detail FROM qa_results")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(crate::store::pii::is_sealed(&raw.0) && !raw.0.contains("Lovelace"));
        assert_eq!(
            store
                .qa_results(0, 2_000, Some("1001"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            store
                .qa_results(0, 2_000, Some("1002"))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .qa_results(1_001, 2_000, None)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn the_call_context_has_the_agent_and_the_holds() {
        let store = store().await;
        let ctx = store.qa_call_context("/rec/c1.wav").await.unwrap().unwrap();
        assert_eq!(ctx.holds, vec![(3_000, 5_000)]);
        assert_eq!(
            (ctx.call_started_at, ctx.recording_started_at),
            (1_000, 2_000)
        );
        assert!(
            store
                .qa_call_context("/rec/none.wav")
                .await
                .unwrap()
                .is_none()
        );
    }
}
