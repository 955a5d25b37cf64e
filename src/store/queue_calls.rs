//! Callers' stays in ACD queues, and the statistics computed from them:
//! per queue, over calls that joined since a time. Each stay keeps the
//! caller's intent (why they wait), so a queue's figures list the top
//! intents of its waiting callers.

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
    /// Post-call survey: the callers' average rating (1 to 5) of the
    /// answered calls that got one, and how many did (0: no average).
    pub csat: f64,
    pub csat_ratings: i64,
    /// The commonest intents of the callers waiting now (at most 3, the
    /// most frequent first).
    pub top_intents: Vec<IntentCount>,
    /// The commonest intents of the callers who joined in the period.
    pub top_intents_period: Vec<IntentCount>,
}

/// How many callers came for one intent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct IntentCount {
    pub intent: String,
    pub calls: i64,
}

/// How many intents a queue's figures list.
const TOP_INTENTS: i64 = 3;

impl Store {
    /// A caller joined `queue` for `intent`; the row's id.
    pub async fn queue_call_joined(
        &self,
        call_id: &str,
        queue: &str,
        priority: u8,
        intent: &str,
        at: i64,
    ) -> sqlx::Result<i64> {
        let mut conn = self.pool().acquire().await?;
        self.queue_call_joined_on(&mut conn, call_id, queue, priority, intent, at)
            .await
    }

    /// [`Self::queue_call_joined`] on `conn` (the database writer's batch).
    pub(super) async fn queue_call_joined_on(
        &self,
        conn: &mut SqliteConnection,
        call_id: &str,
        queue: &str,
        priority: u8,
        intent: &str,
        at: i64,
    ) -> sqlx::Result<i64> {
        let r = sqlx::query(
            "INSERT INTO queue_calls (call_id, queue, priority, intent, joined_at, outcome) VALUES (?, ?, ?, ?, ?, 'waiting')",
        )
        .bind(call_id)
        .bind(queue)
        .bind(i64::from(priority))
        .bind(intent)
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
        // One rating per call, though a transferred call has two stays.
        let (csat, csat_ratings): (Option<f64>, i64) = sqlx::query_as(
            "SELECT AVG(c.csat), COUNT(c.csat) FROM calls c
             WHERE c.call_id IN (SELECT call_id FROM queue_calls
                                 WHERE queue = ? AND joined_at >= ? AND outcome = 'answered')",
        )
        .bind(queue)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
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
            csat: csat.unwrap_or(0.0),
            csat_ratings,
            top_intents: self.top_intents(queue, None).await?,
            top_intents_period: self.top_intents(queue, Some(since)).await?,
        })
    }

    /// The commonest intents in `queue`: of the callers waiting now
    /// (`since` None), or of those who joined since `since`. Stays with
    /// no intent are left out.
    async fn top_intents(&self, queue: &str, since: Option<i64>) -> sqlx::Result<Vec<IntentCount>> {
        let which = match since {
            None => "outcome = 'waiting' AND ended_at IS NULL",
            Some(_) => "joined_at >= ?",
        };
        let sql = format!(
            "SELECT intent, COUNT(*) AS calls FROM queue_calls
             WHERE queue = ? AND intent <> '' AND {which}
             GROUP BY intent ORDER BY calls DESC, intent LIMIT ?"
        );
        let mut q = sqlx::query_as(&sql).bind(queue);
        if let Some(since) = since {
            q = q.bind(since);
        }
        q.bind(TOP_INTENTS).fetch_all(self.pool()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn figures_are_computed_from_the_stays() {
        let s = Store::open_in_memory().await.unwrap();
        // Answered after 5 s, talked 60 s, 10 s wrap-up.
        let a = s
            .queue_call_joined("a", "q", 0, "orders", 1_000)
            .await
            .unwrap();
        s.queue_call_answered(a, "1001", 6_000, 10_000)
            .await
            .unwrap();
        s.queue_call_ended(a, "abandoned", 66_000).await.unwrap();
        // Answered after 30 s, talked 20 s.
        let b = s
            .queue_call_joined("b", "q", 0, "complaints", 2_000)
            .await
            .unwrap();
        s.queue_call_answered(b, "1002", 32_000, 10_000)
            .await
            .unwrap();
        s.queue_call_ended(b, "abandoned", 52_000).await.unwrap();
        // Hung up after 8 s.
        let c = s.queue_call_joined("c", "q", 0, "", 3_000).await.unwrap();
        s.queue_call_ended(c, "abandoned", 11_000).await.unwrap();
        // Still waiting since 50 s; another queue's call.
        s.queue_call_joined("d", "q", 0, "complaints", 50_000)
            .await
            .unwrap();
        s.queue_call_joined("e", "other", 0, "orders", 4_000)
            .await
            .unwrap();

        let st = s.queue_stats("q", 0, 70_000, 20_000).await.unwrap();
        assert_eq!((st.offered, st.answered, st.abandoned), (4, 2, 1));
        assert_eq!((st.waiting, st.longest_wait_ms), (1, 20_000));
        assert!((st.abandon_rate - 25.0).abs() < 1e-9);
        assert!((st.service_level - 100.0 / 3.0).abs() < 1e-9, "1 of 3");
        assert!((st.asa_ms - 17_500.0).abs() < 1e-9);
        assert!((st.aht_ms - 50_000.0).abs() < 1e-9, "(70 + 30) / 2 s");
        let counts = |v: &[IntentCount]| -> Vec<(String, i64)> {
            v.iter().map(|c| (c.intent.clone(), c.calls)).collect()
        };
        assert_eq!(counts(&st.top_intents), [("complaints".into(), 1)]);
        assert_eq!(
            counts(&st.top_intents_period),
            [("complaints".into(), 2), ("orders".into(), 1)],
            "c has no intent; e is another queue's"
        );

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

        // Four intents, one caller each: the first three by name.
        for (call, intent) in [("w", "wait"), ("x", "xray"), ("y", "yes"), ("v", "visa")] {
            s.queue_call_joined(call, "q", 0, intent, 95_000)
                .await
                .unwrap();
        }
        let st = s.queue_stats("q", 90_000, 99_000, 20_000).await.unwrap();
        let top = [("visa".into(), 1), ("wait".into(), 1), ("xray".into(), 1)];
        assert_eq!(counts(&st.top_intents), top);
        assert_eq!(counts(&st.top_intents_period), top);
    }
}
