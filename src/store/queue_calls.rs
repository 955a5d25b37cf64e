//! Callers' stays in ACD queues, and the statistics computed from them:
//! per queue, over calls that joined since a time.

use sqlx::sqlite::SqliteConnection;

use super::Store;

/// One queue's figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueueStats {
    pub queue: String,
    /// Waiting now (not yet answered, still there).
    pub waiting: i64,
    /// How long the longest waiting caller has waited, ms.
    pub longest_wait_ms: i64,
    /// Callers who joined in the period.
    pub offered: i64,
    pub answered: i64,
    /// Hung up before an agent answered.
    pub abandoned: i64,
    /// abandoned / offered, percent.
    pub abandon_rate: f64,
    /// Answered within the service-level time, percent of answered plus
    /// abandoned.
    pub service_level: f64,
    /// Average speed of answer (join to answer), ms.
    pub asa_ms: f64,
    /// Average handle time (talk, hold included, plus wrap-up), ms.
    pub aht_ms: f64,
}

impl Store {
    /// A caller joined `queue`; the row's id.
    pub async fn queue_call_joined(
        &self,
        call_id: &str,
        queue: &str,
        priority: u8,
        at: i64,
    ) -> sqlx::Result<i64> {
        let mut conn = self.pool().acquire().await?;
        self.queue_call_joined_on(&mut conn, call_id, queue, priority, at)
            .await
    }

    /// [`Self::queue_call_joined`] on `conn` (the database writer's batch).
    pub(super) async fn queue_call_joined_on(
        &self,
        conn: &mut SqliteConnection,
        call_id: &str,
        queue: &str,
        priority: u8,
        at: i64,
    ) -> sqlx::Result<i64> {
        let r = sqlx::query(
            "INSERT INTO queue_calls (call_id, queue, priority, joined_at, outcome) VALUES (?, ?, ?, ?, 'waiting')",
        )
        .bind(call_id)
        .bind(queue)
        .bind(i64::from(priority))
        .bind(at)
        .execute(&mut *conn)
        .await?;
        Ok(r.last_insert_rowid())
    }

    /// An agent answered the caller of row `id`.
    pub async fn queue_call_answered(
        &self,
        id: i64,
        agent: &str,
        at: i64,
        wrap_up_ms: i64,
    ) -> sqlx::Result<()> {
        let mut conn = self.pool().acquire().await?;
        self.queue_call_answered_on(&mut conn, id, agent, at, wrap_up_ms)
            .await
    }

    /// [`Self::queue_call_answered`] on `conn` (the database writer's batch).
    pub(super) async fn queue_call_answered_on(
        &self,
        conn: &mut SqliteConnection,
        id: i64,
        agent: &str,
        at: i64,
        wrap_up_ms: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE queue_calls SET answered_at = ?, agent = ?, outcome = 'answered', wrap_up_ms = ? WHERE id = ?",
        )
        .bind(at)
        .bind(agent)
        .bind(wrap_up_ms)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The stay of row `id` is over: answered calls keep `answered`, the
    /// others take `outcome` (abandoned, overflowed, timed_out).
    pub async fn queue_call_ended(&self, id: i64, outcome: &str, at: i64) -> sqlx::Result<()> {
        let mut conn = self.pool().acquire().await?;
        self.queue_call_ended_on(&mut conn, id, outcome, at).await
    }

    /// [`Self::queue_call_ended`] on `conn` (the database writer's batch).
    pub(super) async fn queue_call_ended_on(
        &self,
        conn: &mut SqliteConnection,
        id: i64,
        outcome: &str,
        at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE queue_calls SET ended_at = ?,
               outcome = CASE WHEN outcome = 'answered' THEN 'answered' ELSE ? END
             WHERE id = ? AND ended_at IS NULL",
        )
        .bind(at)
        .bind(outcome)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Closes the stays a crash left open: `interrupted`; answered ones
    /// keep their answer. The number closed.
    pub async fn close_interrupted_queue_calls(&self, at: i64) -> sqlx::Result<u64> {
        let r = sqlx::query(
            "UPDATE queue_calls SET ended_at = ?,
               outcome = CASE WHEN outcome = 'answered' THEN 'answered' ELSE 'interrupted' END
             WHERE ended_at IS NULL",
        )
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// The figures of `queue` for calls that joined since `since`, at
    /// `now`; `service_level_ms` is the service-level time.
    pub async fn queue_stats(
        &self,
        queue: &str,
        since: i64,
        now: i64,
        service_level_ms: i64,
    ) -> sqlx::Result<QueueStats> {
        let (waiting, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(joined_at) FROM queue_calls WHERE queue = ? AND outcome = 'waiting' AND ended_at IS NULL",
        )
        .bind(queue)
        .fetch_one(self.pool())
        .await?;
        let row: (i64, i64, i64, i64, Option<f64>, Option<f64>) = sqlx::query_as(
            "SELECT COUNT(*),
                    COALESCE(SUM(outcome = 'answered'), 0),
                    COALESCE(SUM(outcome = 'abandoned'), 0),
                    COALESCE(SUM(outcome = 'answered' AND answered_at - joined_at <= ?), 0),
                    AVG(CASE WHEN outcome = 'answered' THEN answered_at - joined_at END),
                    AVG(CASE WHEN outcome = 'answered' AND ended_at IS NOT NULL
                             THEN ended_at - answered_at + wrap_up_ms END)
             FROM queue_calls WHERE queue = ? AND joined_at >= ?",
        )
        .bind(service_level_ms)
        .bind(queue)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        let (offered, answered, abandoned, in_time, asa, aht) = row;
        let pct = |n: i64, d: i64| {
            if d > 0 {
                100.0 * n as f64 / d as f64
            } else {
                0.0
            }
        };
        Ok(QueueStats {
            queue: queue.to_string(),
            waiting,
            longest_wait_ms: oldest.map_or(0, |t| (now - t).max(0)),
            offered,
            answered,
            abandoned,
            abandon_rate: pct(abandoned, offered),
            service_level: pct(in_time, answered + abandoned),
            asa_ms: asa.unwrap_or(0.0),
            aht_ms: aht.unwrap_or(0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn figures_are_computed_from_the_stays() {
        let s = Store::open_in_memory().await.unwrap();
        // Answered after 5 s, talked 60 s, 10 s wrap-up.
        let a = s.queue_call_joined("a", "q", 0, 1_000).await.unwrap();
        s.queue_call_answered(a, "1001", 6_000, 10_000)
            .await
            .unwrap();
        s.queue_call_ended(a, "abandoned", 66_000).await.unwrap();
        // Answered after 30 s, talked 20 s.
        let b = s.queue_call_joined("b", "q", 0, 2_000).await.unwrap();
        s.queue_call_answered(b, "1002", 32_000, 10_000)
            .await
            .unwrap();
        s.queue_call_ended(b, "abandoned", 52_000).await.unwrap();
        // Hung up after 8 s.
        let c = s.queue_call_joined("c", "q", 0, 3_000).await.unwrap();
        s.queue_call_ended(c, "abandoned", 11_000).await.unwrap();
        // Still waiting since 50 s; another queue's call.
        s.queue_call_joined("d", "q", 0, 50_000).await.unwrap();
        s.queue_call_joined("e", "other", 0, 4_000).await.unwrap();

        let st = s.queue_stats("q", 0, 70_000, 20_000).await.unwrap();
        assert_eq!((st.offered, st.answered, st.abandoned), (4, 2, 1));
        assert_eq!((st.waiting, st.longest_wait_ms), (1, 20_000));
        assert!((st.abandon_rate - 25.0).abs() < 1e-9);
        assert!((st.service_level - 100.0 / 3.0).abs() < 1e-9, "1 of 3");
        assert!((st.asa_ms - 17_500.0).abs() < 1e-9);
        assert!((st.aht_ms - 50_000.0).abs() < 1e-9, "(70 + 30) / 2 s");

        assert_eq!(s.close_interrupted_queue_calls(80_000).await.unwrap(), 2);
        let st = s.queue_stats("q", 0, 90_000, 20_000).await.unwrap();
        assert_eq!(st.waiting, 0);
        assert_eq!(
            s.queue_stats("q", 2_500, 90_000, 20_000)
                .await
                .unwrap()
                .offered,
            2
        );
    }
}
