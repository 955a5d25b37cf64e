//! The `callbacks` table: callback requests, taken by IVR flows (a caller
//! at night leaves a number to be called back when agents are in) and by
//! callers waiting in a queue (who keep their place in line), and what the
//! dialer did with them. The number and the caller's context are sealed;
//! the number's keyed hash finds earlier requests from the same number.
//!
//! States: `pending` (waiting for its time, its calendar or its turn),
//! `dialing` (an agent took it; the customer is being called), then `done`
//! (the customer answered), `failed` (attempts used up) or `cancelled`;
//! a customer not reached makes it `pending` again for a later attempt.

use super::Store;

/// A callback request, number and context opened.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The caller's place in line (unix ms): when they joined the queue.
    pub place_since: i64,
    pub priority: u8,
    /// The trunk profile the request came in on.
    pub trunk: String,
    /// The number the customer is called from (the one they had called).
    pub present_as: String,
    /// Dialled only while this calendar is open ('': any time).
    pub calendar: String,
    /// `X-Switchboard-*` headers for the agent's phone.
    pub context: Vec<(String, String)>,
    /// The agent of the last attempt, and how it ended.
    pub agent: String,
    pub outcome: String,
}

/// What is recorded when a request is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback<'a> {
    pub call_id: &'a str,
    pub number: &'a str,
    pub requested_at: i64,
    pub not_before: Option<i64>,
    pub queue: &'a str,
    /// The caller's place in line (`None`: the request's time).
    pub place_since: Option<i64>,
    pub priority: u8,
    pub trunk: &'a str,
    pub present_as: &'a str,
    pub calendar: &'a str,
    pub context: &'a [(String, String)],
}

/// A request's row as stored (number and context sealed).
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    call_id: String,
    number: String,
    requested_at: i64,
    not_before: Option<i64>,
    queue: String,
    state: String,
    attempts: i64,
    place_since: i64,
    priority: i64,
    trunk: String,
    present_as: String,
    calendar: String,
    context: String,
    agent: String,
    outcome: String,
}

const COLUMNS: &str = "id, call_id, number, requested_at, not_before, queue, state, attempts,
     COALESCE(place_since, requested_at) AS place_since, priority, trunk, present_as,
     calendar, context, agent, outcome";

impl Store {
    /// Stores a callback request; returns its id. The call must exist.
    pub async fn insert_callback(&self, c: &NewCallback<'_>) -> sqlx::Result<i64> {
        let context = if c.context.is_empty() {
            String::new()
        } else {
            let json =
                serde_json::to_string(c.context).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            self.pii().seal(&json)
        };
        let r = sqlx::query(
            "INSERT INTO callbacks (call_id, number, number_hash, requested_at, not_before,
                                    queue, updated_at, place_since, priority, trunk,
                                    present_as, calendar, context)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.call_id)
        .bind(self.pii().seal(c.number))
        .bind(self.pii().hash(c.number))
        .bind(c.requested_at)
        .bind(c.not_before)
        .bind(c.queue)
        .bind(c.requested_at)
        .bind(c.place_since.unwrap_or(c.requested_at))
        .bind(i64::from(c.priority))
        .bind(c.trunk)
        .bind(c.present_as)
        .bind(c.calendar)
        .bind(context)
        .execute(self.pool())
        .await?;
        Ok(r.last_insert_rowid())
    }

    /// Pending requests due at `now` (not-before passed or unset), by
    /// place in line, at most `limit`.
    pub async fn due_callbacks(&self, now: i64, limit: u32) -> sqlx::Result<Vec<Callback>> {
        self.callbacks_to_dial(now, limit, &[], &[]).await
    }

    /// [`Self::due_callbacks`] but for requests waiting for one of the
    /// `closed` calendars and the requests `skip` (already in line), so
    /// that those never hide the others behind the limit.
    pub async fn callbacks_to_dial(
        &self,
        now: i64,
        limit: u32,
        closed: &[String],
        skip: &[i64],
    ) -> sqlx::Result<Vec<Callback>> {
        let marks = |n: usize| vec!["?"; n].join(", ");
        let sql = format!(
            "SELECT {COLUMNS} FROM callbacks
             WHERE state = 'pending' AND (not_before IS NULL OR not_before <= ?)
               AND calendar NOT IN ({}) AND id NOT IN ({})
             ORDER BY place_since, id LIMIT ?",
            marks(closed.len()),
            marks(skip.len())
        );
        let mut q = sqlx::query_as::<_, Row>(&sql).bind(now);
        for c in closed {
            q = q.bind(c);
        }
        for id in skip {
            q = q.bind(id);
        }
        let rows = q.bind(limit).fetch_all(self.pool()).await?;
        rows.into_iter().map(|r| self.opened(r)).collect()
    }

    /// The latest requests, newest first, at most `limit`.
    pub async fn recent_callbacks(&self, limit: u32) -> sqlx::Result<Vec<Callback>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM callbacks ORDER BY id DESC LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(|r| self.opened(r)).collect()
    }

    fn opened(&self, r: Row) -> sqlx::Result<Callback> {
        let decode = |e: super::pii::PiiError| sqlx::Error::Decode(Box::new(e));
        let context = if r.context.is_empty() {
            Vec::new()
        } else {
            let json = self.pii().open(&r.context).map_err(decode)?;
            serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?
        };
        Ok(Callback {
            id: r.id,
            call_id: r.call_id,
            number: self.pii().open(&r.number).map_err(decode)?,
            requested_at: r.requested_at,
            not_before: r.not_before,
            queue: r.queue,
            state: r.state,
            attempts: r.attempts,
            place_since: r.place_since,
            priority: u8::try_from(r.priority.clamp(0, 255)).unwrap_or(0),
            trunk: r.trunk,
            present_as: r.present_as,
            calendar: r.calendar,
            context,
            agent: r.agent,
            outcome: r.outcome,
        })
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

    /// Agent `agent` took request `id`: it is dialed (one attempt more).
    pub async fn callback_dialing(&self, id: i64, agent: &str, at: i64) -> sqlx::Result<()> {
        sqlx::query("UPDATE callbacks SET agent = ?, outcome = '' WHERE id = ?")
            .bind(agent)
            .bind(id)
            .execute(self.pool())
            .await?;
        self.set_callback_state(id, "dialing", at).await?;
        Ok(())
    }

    /// The attempt on request `id` is over: `state` (`done`, `failed`, or
    /// `pending` again, then not before `not_before`), and how it went.
    pub async fn callback_attempted(
        &self,
        id: i64,
        state: &str,
        outcome: &str,
        not_before: Option<i64>,
        at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE callbacks SET state = ?, outcome = ?,
                    not_before = COALESCE(?, not_before), updated_at = ?
             WHERE id = ?",
        )
        .bind(state)
        .bind(outcome)
        .bind(not_before)
        .bind(at)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Requests a stop left `dialing` are pending again (their attempt
    /// stays counted); the number.
    pub async fn reset_interrupted_callbacks(&self, at: i64) -> sqlx::Result<u64> {
        let r = sqlx::query(
            "UPDATE callbacks SET state = 'pending', outcome = 'interrupted', updated_at = ?
             WHERE state = 'dialing'",
        )
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CallRecord;

    /// A store holding call `call_id` (requests refer to their call).
    async fn store_with_call(call_id: &str) -> Store {
        let store = Store::open_in_memory().await.unwrap();
        let call = CallRecord {
            call_id: call_id.into(),
            profile: "carrier".into(),
            caller: "+15550102".into(),
            callee: "100".into(),
            started_at: 1,
        };
        store.insert_call(&call).await.unwrap();
        store
    }

    /// A request of call `call_id` to `number`, taken at `at`, due at once,
    /// for the first queue.
    fn request<'a>(call_id: &'a str, number: &'a str, at: i64) -> NewCallback<'a> {
        NewCallback {
            call_id,
            number,
            requested_at: at,
            not_before: None,
            queue: "",
            place_since: None,
            priority: 0,
            trunk: "carrier",
            present_as: "+15550100",
            calendar: "",
            context: &[],
        }
    }

    #[tokio::test]
    async fn requests_are_sealed_due_in_order_and_tracked() {
        let store = store_with_call("night-1").await;
        let later = store
            .insert_callback(&NewCallback {
                not_before: Some(1_000),
                queue: "orders",
                ..request("night-1", "+15550102", 10)
            })
            .await
            .unwrap();
        let asap = store
            .insert_callback(&request("night-1", "+15550199", 20))
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

    #[tokio::test]
    async fn a_request_keeps_its_place_context_and_attempts() {
        let store = store_with_call("queued-1").await;
        let context = vec![(
            "X-Switchboard-Customer-Name".to_string(),
            "Ada Lovelace".to_string(),
        )];
        let id = store
            .insert_callback(&NewCallback {
                queue: "orders",
                place_since: Some(1_000),
                priority: 10,
                calendar: "office",
                context: &context,
                ..request("queued-1", "+15550102", 5_000)
            })
            .await
            .unwrap();
        let raw: String = sqlx::query_scalar("SELECT context FROM callbacks WHERE id = ?")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(crate::store::pii::is_sealed(&raw) && !raw.contains("Lovelace"));
        let due = store.due_callbacks(6_000, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        let c = &due[0];
        assert_eq!(
            (
                c.place_since,
                c.priority,
                c.trunk.as_str(),
                c.present_as.as_str(),
                c.calendar.as_str()
            ),
            (1_000, 10, "carrier", "+15550100", "office")
        );
        assert_eq!(c.context, context);
        let closed = ["office".to_string()];
        assert!(
            store
                .callbacks_to_dial(6_000, 10, &closed, &[])
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .callbacks_to_dial(6_000, 10, &[], &[id])
                .await
                .unwrap()
                .is_empty()
        );
        store.callback_dialing(id, "1001", 7_000).await.unwrap();
        assert!(store.due_callbacks(8_000, 10).await.unwrap().is_empty());
        // A crash while dialing: pending again, the attempt counted.
        assert_eq!(store.reset_interrupted_callbacks(9_000).await.unwrap(), 1);
        let c = &store.due_callbacks(9_000, 10).await.unwrap()[0];
        assert_eq!(
            (c.attempts, c.agent.as_str(), c.outcome.as_str()),
            (1, "1001", "interrupted")
        );
        store.callback_dialing(id, "1002", 10_000).await.unwrap();
        store
            .callback_attempted(id, "pending", "no answer", Some(20_000), 11_000)
            .await
            .unwrap();
        assert!(store.due_callbacks(19_999, 10).await.unwrap().is_empty());
        let c = &store.due_callbacks(20_000, 10).await.unwrap()[0];
        assert_eq!(
            (c.attempts, c.state.as_str(), c.place_since),
            (2, "pending", 1_000)
        );
        store.callback_dialing(id, "1002", 21_000).await.unwrap();
        store
            .callback_attempted(id, "done", "connected", None, 22_000)
            .await
            .unwrap();
        let all = store.recent_callbacks(10).await.unwrap();
        assert_eq!((all[0].state.as_str(), all[0].attempts), ("done", 3));
        assert_eq!(store.reset_interrupted_callbacks(23_000).await.unwrap(), 0);
    }
}
