//! The ACD's agent states and their history: every transition is stored
//! with its time, and the latest state of each agent is what a restarted
//! switch starts from.

use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

use super::Store;

/// One stored transition.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgentTransition {
    pub agent: String,
    pub from_state: String,
    pub to_state: String,
    pub reason: String,
    pub at: i64,
}

impl Store {
    /// Stores a transition and makes it the agent's current state.
    pub async fn record_agent_transition(&self, t: &AgentTransition) -> sqlx::Result<()> {
        let mut conn = self.pool().acquire().await?;
        self.record_agent_transition_on(&mut conn, t).await
    }

    /// [`Self::record_agent_transition`] on `conn` (the database writer's batch).
    pub(super) async fn record_agent_transition_on(
        &self,
        conn: &mut SqliteConnection,
        t: &AgentTransition,
    ) -> sqlx::Result<()> {
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO agent_events (agent, from_state, to_state, reason, at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&t.agent)
        .bind(&t.from_state)
        .bind(&t.to_state)
        .bind(&t.reason)
        .bind(t.at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO agent_states (agent, state, reason, since) VALUES (?, ?, ?, ?)
             ON CONFLICT (agent) DO UPDATE SET state = excluded.state, reason = excluded.reason, since = excluded.since",
        )
        .bind(&t.agent)
        .bind(&t.to_state)
        .bind(&t.reason)
        .bind(t.at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Claims an available agent for an offer: the agent's stored state
    /// goes from `available` to `reserved` in one conditional update, so
    /// of two nodes sharing the database only one can ever claim the same
    /// agent (the other gets `false`). The claim is stored as a transition.
    pub async fn claim_agent(&self, agent: &str, at: i64) -> sqlx::Result<bool> {
        let mut conn = self.pool().acquire().await?;
        self.claim_agent_on(&mut conn, agent, at).await
    }

    /// [`Self::claim_agent`] on `conn` (the database writer's batch).
    pub(super) async fn claim_agent_on(
        &self,
        conn: &mut SqliteConnection,
        agent: &str,
        at: i64,
    ) -> sqlx::Result<bool> {
        let mut tx = conn.begin().await?;
        let claimed = sqlx::query(
            "UPDATE agent_states SET state = 'reserved', reason = '', since = ?
             WHERE agent = ? AND state = 'available'",
        )
        .bind(at)
        .bind(agent)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO agent_events (agent, from_state, to_state, reason, at) VALUES (?, 'available', 'reserved', '', ?)",
        )
        .bind(agent)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Stores an admin's request (`ready`, `not_ready` with a reason,
    /// `log_out`) for the running switch to apply.
    pub async fn push_agent_request(
        &self,
        agent: &str,
        request: &str,
        reason: &str,
        at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO agent_requests (agent, request, reason, asked_at) VALUES (?, ?, ?, ?)",
        )
        .bind(agent)
        .bind(request)
        .bind(reason)
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes the pending admin requests, oldest first: (agent, request,
    /// reason).
    pub async fn take_agent_requests(&self) -> sqlx::Result<Vec<(String, String, String)>> {
        // One statement: a request written meanwhile is either taken or
        // left for the next time, never lost, and no read lock is upgraded
        // (which another writer could make fail).
        let mut rows: Vec<(i64, String, String, String)> =
            sqlx::query_as("DELETE FROM agent_requests RETURNING id, agent, request, reason")
                .fetch_all(self.pool())
                .await?;
        rows.sort_by_key(|r| r.0);
        Ok(rows.into_iter().map(|(_, a, r, why)| (a, r, why)).collect())
    }

    /// Every agent's stored state: (agent, state, reason).
    pub async fn agent_states(&self) -> sqlx::Result<Vec<(String, String, String)>> {
        sqlx::query_as("SELECT agent, state, reason FROM agent_states ORDER BY agent")
            .fetch_all(self.pool())
            .await
    }

    /// An agent's latest transitions, newest first.
    pub async fn agent_transitions(
        &self,
        agent: &str,
        limit: u32,
    ) -> sqlx::Result<Vec<AgentTransition>> {
        sqlx::query_as(
            "SELECT agent, from_state, to_state, reason, at FROM agent_events
             WHERE agent = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(agent)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn transitions_are_kept_and_the_last_is_the_state() {
        let store = Store::open_in_memory().await.unwrap();
        let t = |from: &str, to: &str, at| AgentTransition {
            agent: "1001".into(),
            from_state: from.into(),
            to_state: to.into(),
            reason: String::new(),
            at,
        };
        store
            .record_agent_transition(&t("logged_out", "available", 1))
            .await
            .unwrap();
        store
            .record_agent_transition(&t("available", "reserved", 2))
            .await
            .unwrap();
        assert_eq!(
            store.agent_states().await.unwrap(),
            [("1001".into(), "reserved".into(), String::new())]
        );
        let h = store.agent_transitions("1001", 10).await.unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].to_state, "reserved");
        assert!(
            store
                .agent_transitions("1002", 10)
                .await
                .unwrap()
                .is_empty()
        );

        // One claim of an available agent wins, however many are made.
        store
            .record_agent_transition(&t("reserved", "available", 3))
            .await
            .unwrap();
        let claims: Vec<bool> = racing_claims(&store).await;
        assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{claims:?}");
        assert_eq!(store.agent_states().await.unwrap()[0].1, "reserved");

        store
            .push_agent_request("1001", "ready", "", 3)
            .await
            .unwrap();
        store
            .push_agent_request("1002", "not_ready", "lunch", 4)
            .await
            .unwrap();
        let taken = store.take_agent_requests().await.unwrap();
        assert_eq!(taken.len(), 2);
        assert_eq!(
            taken[1],
            ("1002".into(), "not_ready".into(), "lunch".into())
        );
        assert!(store.take_agent_requests().await.unwrap().is_empty());
    }

    /// Eight claims of agent 1001 racing.
    async fn racing_claims(store: &Store) -> Vec<bool> {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move { s.claim_agent("1001", 10 + i).await.unwrap() })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }
}
