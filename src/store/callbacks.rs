//! The `callbacks` table: callback requests taken by IVR flows (a caller at
//! night leaves a number to be called back when agents are in). The number
//! is sealed; its keyed hash finds earlier requests from the same number.

use super::Store;

/// A callback request, number opened.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Callback {
    pub id: i64,
    pub call_id: String,
    /// E.164, the number to call back.
    pub number: String,
    pub requested_at: i64,
    /// Not before this time (unix ms); `None`: as soon as possible.
    pub not_before: Option<i64>,
    pub queue: String,
    pub state: String,
    pub attempts: i64,
}

/// What a flow records when it takes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback<'a> {
    pub call_id: &'a str,
    pub number: &'a str,
    pub requested_at: i64,
    pub not_before: Option<i64>,
    pub queue: &'a str,
}

impl Store {
    /// Stores a callback request; returns its id. The call must exist.
    pub async fn insert_callback(&self, c: &NewCallback<'_>) -> sqlx::Result<i64> {
        let r = sqlx::query(
            "INSERT INTO callbacks (call_id, number, number_hash, requested_at, not_before,
                                    queue, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.call_id)
        .bind(self.pii().seal(c.number))
        .bind(self.pii().hash(c.number))
        .bind(c.requested_at)
        .bind(c.not_before)
        .bind(c.queue)
        .bind(c.requested_at)
        .execute(self.pool())
        .await?;
        Ok(r.last_insert_rowid())
    }

    /// Pending requests due at `now` (not-before passed or unset), oldest
    /// first, at most `limit`.
    pub async fn due_callbacks(&self, now: i64, limit: u32) -> sqlx::Result<Vec<Callback>> {
        let mut due: Vec<Callback> = sqlx::query_as(
            "SELECT id, call_id, number, requested_at, not_before, queue, state, attempts
             FROM callbacks
             WHERE state = 'pending' AND (not_before IS NULL OR not_before <= ?)
             ORDER BY requested_at, id LIMIT ?",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        for c in &mut due {
            c.number = self
                .pii()
                .open(&c.number)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        }
        Ok(due)
    }

    /// Pending requests from `number`.
    pub async fn pending_callbacks_from(&self, number: &str) -> sqlx::Result<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM callbacks WHERE number_hash = ? AND state = 'pending'",
        )
        .bind(self.pii().hash(number))
        .fetch_one(self.pool())
        .await
    }

    /// Moves a request to `state` (`dialing`, `done`, `failed`,
    /// `cancelled`, or back to `pending`), counting an attempt when it is
    /// dialed. Returns false for an unknown id.
    pub async fn set_callback_state(&self, id: i64, state: &str, at: i64) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE callbacks SET state = ?, updated_at = ?,
                    attempts = attempts + (CASE WHEN ? = 'dialing' THEN 1 ELSE 0 END)
             WHERE id = ?",
        )
        .bind(state)
        .bind(at)
        .bind(state)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CallRecord;

    #[tokio::test]
    async fn requests_are_sealed_due_in_order_and_tracked() {
        let store = Store::open_in_memory().await.unwrap();
        let call = CallRecord {
            call_id: "night-1".into(),
            profile: "carrier".into(),
            caller: "+15550102".into(),
            callee: "199".into(),
            started_at: 1,
        };
        store.insert_call(&call).await.unwrap();
        let later = store
            .insert_callback(&NewCallback {
                call_id: "night-1",
                number: "+15550102",
                requested_at: 10,
                not_before: Some(1_000),
                queue: "orders",
            })
            .await
            .unwrap();
        let asap = store
            .insert_callback(&NewCallback {
                call_id: "night-1",
                number: "+15550199",
                requested_at: 20,
                not_before: None,
                queue: "",
            })
            .await
            .unwrap();
        let raw: String = sqlx::query_scalar("SELECT number FROM callbacks WHERE id = ?")
            .bind(later)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(crate::store::pii::is_sealed(&raw) && !raw.contains("5550102"));
        let due = store.due_callbacks(500, 10).await.unwrap();
        assert_eq!(due.iter().map(|c| c.id).collect::<Vec<_>>(), vec![asap]);
        assert_eq!(due[0].number, "+15550199");
        let due = store.due_callbacks(1_000, 10).await.unwrap();
        assert_eq!(
            due.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![later, asap]
        );
        assert_eq!(due[0].queue, "orders");
        assert_eq!(store.pending_callbacks_from("+15550102").await.unwrap(), 1);
        assert!(
            store
                .set_callback_state(later, "dialing", 1_100)
                .await
                .unwrap()
        );
        assert!(
            store
                .set_callback_state(later, "done", 1_200)
                .await
                .unwrap()
        );
        assert!(!store.set_callback_state(999, "done", 1).await.unwrap());
        assert!(store.set_callback_state(asap, "exploded", 1).await.is_err());
        let due = store.due_callbacks(2_000, 10).await.unwrap();
        assert_eq!(due.iter().map(|c| c.id).collect::<Vec<_>>(), vec![asap]);
        let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM callbacks WHERE id = ?")
            .bind(later)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(attempts, 1);
        assert_eq!(store.pending_callbacks_from("+15550102").await.unwrap(), 0);
    }
}
