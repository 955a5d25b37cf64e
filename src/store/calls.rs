//! Call detail records in the `calls` and `call_legs` tables, and the
//! per-call journal in `call_events`.
//!
//! Caller and callee numbers are personal data: they are written only by
//! [`Store::insert_call`] and read only by `cdr_from_row`, so encrypting
//! them at rest changes those two functions.

use sqlx::sqlite::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use sqlx::{Connection, Row};

use super::Store;

/// An enum stored as lowercase text (checked in SQL by a CHECK
/// constraint). Decoding unknown text is an error, never a panic.
macro_rules! text_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::store::calls::UnknownText;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::store::calls::UnknownText {
                        kind: stringify!($name),
                        text: s.to_owned(),
                    }),
                }
            }
        }

        impl sqlx::Type<sqlx::Sqlite> for $name {
            fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
                <str as sqlx::Type<sqlx::Sqlite>>::type_info()
            }

            fn compatible(ty: &sqlx::sqlite::SqliteTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Sqlite>>::compatible(ty)
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for $name {
            fn encode_by_ref(
                &self,
                args: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Sqlite>>::encode(self.as_str(), args)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Sqlite> for $name {
            fn decode(
                value: sqlx::sqlite::SqliteValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, sqlx::Sqlite>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}
pub(super) use text_enum;

/// Text in the database (or given to `parse`) that names no variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {text:?}")]
pub struct UnknownText {
    pub kind: &'static str,
    pub text: String,
}

text_enum! {
    /// How a call ended.
    pub enum Disposition {
        Answered => "answered",
        Busy => "busy",
        NoAnswer => "no-answer",
        Failed => "failed",
        Cancelled => "cancelled",
        /// Still open when the switch stopped; closed at the next start.
        Interrupted => "interrupted",
    }
}

text_enum! {
    /// Which side ended the call.
    pub enum HangupBy {
        Caller => "caller",
        Agent => "agent",
        Switch => "switch",
    }
}

text_enum! {
    /// Kinds of entries in a call's journal. Stored as lowercase
    /// identifiers; SQL checks only the shape, so a new kind needs no
    /// migration (an older binary reading it gets an error, not a panic).
    pub enum CallEventKind {
        Answered => "answered",
        Dtmf => "dtmf",
        Hold => "hold",
        Resume => "resume",
        MediaTimeout => "media_timeout",
        // An IVR flow's journey (issue 4).
        Node => "node",
        Lookup => "lookup",
        Branch => "branch",
        Disclosure => "disclosure",
        Set => "set",
        Callback => "callback",
        Voicemail => "voicemail",
        Queue => "queue",
        Transfer => "transfer",
        Survey => "survey",
    }
}

/// What is known when a call arrives; the only way caller and callee
/// reach the database.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// The caller's SIP Call-ID.
    pub call_id: String,
    pub profile: String,
    pub caller: String,
    pub callee: String,
    /// Unix milliseconds.
    pub started_at: i64,
}

/// The leg that answered.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentLeg {
    /// Who answered: the agent's address of record.
    pub agent: String,
    /// The agent leg's SIP Call-ID.
    pub call_id: String,
}

/// Media statistics of one leg at the end of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct LegQuality {
    pub codec: String,
    pub packets_received: i64,
    /// Cumulative loss as RTCP counts it (duplicates can make it negative).
    pub packets_lost: i64,
    /// 0 to 100.
    pub loss_pct: f64,
    pub jitter_ms: f64,
    pub rtt_ms: Option<f64>,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CallEnd {
    /// Unix milliseconds.
    pub ended_at: i64,
    pub disposition: Disposition,
    pub hangup_by: HangupBy,
    /// Free text: "BYE", "CANCEL", "media timeout", "486 Busy Here".
    pub cause: Option<String>,
    /// The final SIP status if one ended the call (486, 487, 503, ...).
    pub sip_status: Option<u16>,
    /// [caller leg, agent leg]; `None` for a leg that never had media
    /// (the agent leg of an unanswered call).
    pub legs: [Option<LegQuality>; 2],
}

impl CallEnd {
    /// An answered call that `hangup_by` ended with a BYE at `ended_at`,
    /// no media figures kept.
    pub fn bye(ended_at: i64, hangup_by: HangupBy) -> CallEnd {
        CallEnd {
            ended_at,
            disposition: Disposition::Answered,
            hangup_by,
            cause: Some("BYE".into()),
            sip_status: None,
            legs: [None, None],
        }
    }
}

/// A full call detail record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Cdr {
    pub call_id: String,
    pub profile: String,
    pub caller: String,
    pub callee: String,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub agent: Option<AgentLeg>,
    /// `None` while the call is in progress.
    pub ended_at: Option<i64>,
    pub last_activity_at: i64,
    pub disposition: Option<Disposition>,
    pub hangup_by: Option<HangupBy>,
    pub cause: Option<String>,
    pub sip_status: Option<u16>,
    /// [caller leg, agent leg].
    pub legs: [Option<LegQuality>; 2],
    /// Path of the call's first recording, if any (all of them:
    /// [`Store::recordings_for_call`]).
    pub recording: Option<String>,
    /// When the recording notice finished playing (unix ms), if it did.
    pub disclosure_at: Option<i64>,
    /// The caller declined to be recorded (the notice's opt-out digit).
    pub recording_opt_out: bool,
    /// The caller's rating in the post-call survey, 1 to 5.
    pub csat: Option<u8>,
}

/// One entry of a call's journal.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CallEvent {
    pub call_id: String,
    pub at: i64,
    pub kind: CallEventKind,
    pub detail: String,
}

/// Cause written on calls closed by [`Store::close_interrupted_calls`].
pub const INTERRUPTED_CAUSE: &str = "switch stopped during the call";

const CDR_SELECT: &str = "
    SELECT c.call_id, c.profile, c.caller, c.callee, c.started_at, c.answered_at,
           c.agent, c.agent_call_id, c.ended_at, c.last_activity_at, c.disposition,
           c.hangup_by, c.cause, c.sip_status, c.disclosure_at, c.recording_opt_out,
           c.csat,
           a.codec AS a_codec, a.packets_received AS a_received, a.packets_lost AS a_lost,
           a.loss_pct AS a_loss_pct, a.jitter_ms AS a_jitter_ms, a.rtt_ms AS a_rtt_ms,
           b.codec AS b_codec, b.packets_received AS b_received, b.packets_lost AS b_lost,
           b.loss_pct AS b_loss_pct, b.jitter_ms AS b_jitter_ms, b.rtt_ms AS b_rtt_ms,
           (SELECT r.path FROM recordings r WHERE r.call_id = c.call_id
             ORDER BY r.created_at, r.path LIMIT 1) AS recording
    FROM calls c
    LEFT JOIN call_legs a ON a.call_id = c.call_id AND a.leg = 0
    LEFT JOIN call_legs b ON b.call_id = c.call_id AND b.leg = 1";

impl Store {
    /// Records a call at its start. Fails if the Call-ID is already known.
    pub async fn insert_call(&self, call: &CallRecord) -> sqlx::Result<()> {
        let mut conn = self.pool().acquire().await?;
        self.insert_call_on(&mut conn, call).await
    }

    /// [`Self::insert_call`] on `conn` (the CDR writer's batch).
    pub(super) async fn insert_call_on(
        &self,
        conn: &mut SqliteConnection,
        call: &CallRecord,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO calls (call_id, profile, caller, caller_hash, callee, started_at,
                                last_activity_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&call.call_id)
        .bind(&call.profile)
        .bind(self.pii().seal(&call.caller))
        .bind(self.pii().hash(&call.caller))
        .bind(&call.callee)
        .bind(call.started_at)
        .bind(call.started_at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The recording notice played to the end at `at`; `opted_out`: the
    /// caller pressed the opt-out digit (the call is not recorded). Returns
    /// false if the call is unknown or already ended.
    pub async fn mark_disclosure(
        &self,
        call_id: &str,
        at: i64,
        opted_out: bool,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE calls SET disclosure_at = ?, recording_opt_out = ?,
                    last_activity_at = MAX(last_activity_at, ?)
             WHERE call_id = ? AND ended_at IS NULL",
        )
        .bind(at)
        .bind(opted_out)
        .bind(at)
        .bind(call_id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The caller rated the call `rating` (1 to 5) in the survey. Returns
    /// false if the call is unknown.
    pub async fn set_csat(&self, call_id: &str, rating: u8) -> sqlx::Result<bool> {
        let r = sqlx::query("UPDATE calls SET csat = ? WHERE call_id = ?")
            .bind(i64::from(rating))
            .bind(call_id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Sets the answer time and the answering leg of an open call.
    /// Returns false if the call is unknown or already ended.
    pub async fn mark_answered(
        &self,
        call_id: &str,
        at: i64,
        agent: &AgentLeg,
    ) -> sqlx::Result<bool> {
        let mut conn = self.pool().acquire().await?;
        self.mark_answered_on(&mut conn, call_id, at, agent).await
    }

    /// [`Self::mark_answered`] on `conn`.
    pub(super) async fn mark_answered_on(
        &self,
        conn: &mut SqliteConnection,
        call_id: &str,
        at: i64,
        agent: &AgentLeg,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE calls SET answered_at = ?, agent = ?, agent_call_id = ?,
                    last_activity_at = MAX(last_activity_at, ?)
             WHERE call_id = ? AND ended_at IS NULL",
        )
        .bind(at)
        .bind(&agent.agent)
        .bind(&agent.call_id)
        .bind(at)
        .bind(call_id)
        .execute(&mut *conn)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Notes that an open call was alive at `at` (unix ms), so that an
    /// interrupted call gets an end time close to the real one. Cheap
    /// enough to call on every RTCP report.
    pub async fn touch_call(&self, call_id: &str, at: i64) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE calls SET last_activity_at = MAX(last_activity_at, ?)
             WHERE call_id = ? AND ended_at IS NULL",
        )
        .bind(at)
        .bind(call_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Closes an open call and stores its legs' quality, in one
    /// transaction. Returns false (and changes nothing) if the call is
    /// unknown or already ended.
    pub async fn finish_call(&self, call_id: &str, end: &CallEnd) -> sqlx::Result<bool> {
        let mut conn = self.pool().acquire().await?;
        self.finish_call_on(&mut conn, call_id, end).await
    }

    /// [`Self::finish_call`] on `conn` (within its transaction, if any: a
    /// savepoint then).
    pub(super) async fn finish_call_on(
        &self,
        conn: &mut SqliteConnection,
        call_id: &str,
        end: &CallEnd,
    ) -> sqlx::Result<bool> {
        let mut tx = conn.begin().await?;
        let r = sqlx::query(
            "UPDATE calls SET ended_at = ?, disposition = ?, hangup_by = ?, cause = ?,
                    sip_status = ?, last_activity_at = MAX(last_activity_at, ?)
             WHERE call_id = ? AND ended_at IS NULL",
        )
        .bind(end.ended_at)
        .bind(end.disposition)
        .bind(end.hangup_by)
        .bind(&end.cause)
        .bind(end.sip_status)
        .bind(end.ended_at)
        .bind(call_id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        for (leg, q) in end.legs.iter().enumerate() {
            let Some(q) = q else { continue };
            sqlx::query(
                "INSERT INTO call_legs (call_id, leg, codec, packets_received, packets_lost,
                                        loss_pct, jitter_ms, rtt_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(call_id)
            .bind(leg as i64)
            .bind(&q.codec)
            .bind(q.packets_received)
            .bind(q.packets_lost)
            .bind(q.loss_pct)
            .bind(q.jitter_ms)
            .bind(q.rtt_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// At start: closes every call left open by a previous run as
    /// interrupted, hung up by the switch, ending at its last known
    /// activity (never later than `now`). Returns how many.
    pub async fn close_interrupted_calls(&self, now: i64) -> sqlx::Result<u64> {
        let r = sqlx::query(
            "UPDATE calls SET ended_at = MAX(started_at, MIN(last_activity_at, ?)),
                    disposition = 'interrupted', hangup_by = 'switch', cause = ?
             WHERE ended_at IS NULL",
        )
        .bind(now)
        .bind(INTERRUPTED_CAUSE)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// One call with everything known about it.
    pub async fn call(&self, call_id: &str) -> sqlx::Result<Option<Cdr>> {
        let row = sqlx::query(&format!("{CDR_SELECT} WHERE c.call_id = ?"))
            .bind(call_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(|r| self.cdr_from_row(r)).transpose()
    }

    /// The latest calls by start time, newest first.
    pub async fn recent_calls(&self, limit: u32) -> sqlx::Result<Vec<Cdr>> {
        let rows = sqlx::query(&format!(
            "{CDR_SELECT} ORDER BY c.started_at DESC, c.call_id DESC LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| self.cdr_from_row(r)).collect()
    }

    /// Appends to a call's journal and counts as activity of the call.
    /// Fails if the call is unknown (foreign key).
    pub async fn add_call_event(
        &self,
        call_id: &str,
        at: i64,
        kind: CallEventKind,
        detail: &str,
    ) -> sqlx::Result<()> {
        let mut conn = self.pool().acquire().await?;
        self.add_call_event_on(&mut conn, call_id, at, kind, detail)
            .await
    }

    /// [`Self::add_call_event`] on `conn`.
    pub(super) async fn add_call_event_on(
        &self,
        conn: &mut SqliteConnection,
        call_id: &str,
        at: i64,
        kind: CallEventKind,
        detail: &str,
    ) -> sqlx::Result<()> {
        let mut tx = conn.begin().await?;
        sqlx::query("INSERT INTO call_events (call_id, at, kind, detail) VALUES (?, ?, ?, ?)")
            .bind(call_id)
            .bind(at)
            .bind(kind)
            .bind(self.seal_detail(detail))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE calls SET last_activity_at = MAX(last_activity_at, ?)
             WHERE call_id = ? AND ended_at IS NULL",
        )
        .bind(at)
        .bind(call_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// A call's journal in time order (insertion order for equal times).
    pub async fn call_events(&self, call_id: &str) -> sqlx::Result<Vec<CallEvent>> {
        let mut events: Vec<CallEvent> = sqlx::query_as(
            "SELECT call_id, at, kind, detail FROM call_events
             WHERE call_id = ? ORDER BY at, id",
        )
        .bind(call_id)
        .fetch_all(self.pool())
        .await?;
        for e in &mut events {
            e.detail = self.open_pii(&e.detail)?;
        }
        Ok(events)
    }

    /// A journal detail as stored: sealed (digits may be a card number),
    /// empty as it is.
    fn seal_detail(&self, detail: &str) -> String {
        if detail.is_empty() {
            String::new()
        } else {
            self.pii().seal(detail)
        }
    }

    /// A sealed column's value; a value that does not open is a decode error.
    fn open_pii(&self, text: &str) -> sqlx::Result<String> {
        self.pii()
            .open(text)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }

    /// Calls from `number` (by its keyed hash), newest first.
    pub async fn calls_from(&self, number: &str, limit: u32) -> sqlx::Result<Vec<Cdr>> {
        let rows = sqlx::query(&format!(
            "{CDR_SELECT} WHERE c.caller_hash = ? ORDER BY c.started_at DESC, c.call_id DESC LIMIT ?"
        ))
        .bind(self.pii().hash(number))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| self.cdr_from_row(r)).collect()
    }

    /// Seals the callers and journal details written in plain before
    /// sealing existed (and hashes those callers); returns the rows sealed.
    pub(crate) async fn seal_plain_rows(&self) -> sqlx::Result<u64> {
        let mut sealed = 0;
        let calls: Vec<(String, String)> =
            sqlx::query_as("SELECT call_id, caller FROM calls WHERE caller NOT LIKE 'enc1:%'")
                .fetch_all(self.pool())
                .await?;
        for (call_id, caller) in calls {
            sqlx::query("UPDATE calls SET caller = ?, caller_hash = ? WHERE call_id = ?")
                .bind(self.pii().seal(&caller))
                .bind(self.pii().hash(&caller))
                .bind(&call_id)
                .execute(self.pool())
                .await?;
            sealed += 1;
        }
        let events: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, detail FROM call_events WHERE detail != '' AND detail NOT LIKE 'enc1:%'",
        )
        .fetch_all(self.pool())
        .await?;
        for (id, detail) in events {
            sqlx::query("UPDATE call_events SET detail = ? WHERE id = ?")
                .bind(self.pii().seal(&detail))
                .bind(id)
                .execute(self.pool())
                .await?;
            sealed += 1;
        }
        Ok(sealed)
    }
}

impl Store {
    /// The one place CDR columns (caller and callee included) are read.
    fn cdr_from_row(&self, row: &SqliteRow) -> sqlx::Result<Cdr> {
        let agent = match (
            row.try_get::<Option<String>, _>("agent")?,
            row.try_get::<Option<String>, _>("agent_call_id")?,
        ) {
            (Some(agent), Some(call_id)) => Some(AgentLeg { agent, call_id }),
            _ => None,
        };
        Ok(Cdr {
            call_id: row.try_get("call_id")?,
            profile: row.try_get("profile")?,
            caller: self.open_pii(&row.try_get::<String, _>("caller")?)?,
            callee: row.try_get("callee")?,
            started_at: row.try_get("started_at")?,
            answered_at: row.try_get("answered_at")?,
            agent,
            ended_at: row.try_get("ended_at")?,
            last_activity_at: row.try_get("last_activity_at")?,
            disposition: row.try_get("disposition")?,
            hangup_by: row.try_get("hangup_by")?,
            cause: row.try_get("cause")?,
            sip_status: row.try_get("sip_status")?,
            legs: [leg_from_row(row, "a")?, leg_from_row(row, "b")?],
            recording: row.try_get("recording")?,
            disclosure_at: row.try_get("disclosure_at")?,
            recording_opt_out: row.try_get("recording_opt_out")?,
            csat: row
                .try_get::<Option<i64>, _>("csat")?
                .and_then(|v| u8::try_from(v).ok()),
        })
    }
}

fn leg_from_row(row: &SqliteRow, p: &str) -> sqlx::Result<Option<LegQuality>> {
    let Some(codec) = row.try_get::<Option<String>, _>(format!("{p}_codec").as_str())? else {
        return Ok(None);
    };
    Ok(Some(LegQuality {
        codec,
        packets_received: row.try_get(format!("{p}_received").as_str())?,
        packets_lost: row.try_get(format!("{p}_lost").as_str())?,
        loss_pct: row.try_get(format!("{p}_loss_pct").as_str())?,
        jitter_ms: row.try_get(format!("{p}_jitter_ms").as_str())?,
        rtt_ms: row.try_get(format!("{p}_rtt_ms").as_str())?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, started_at: i64) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            profile: "carrier".into(),
            caller: "+15551230001".into(),
            callee: "+15559870000".into(),
            started_at,
        }
    }

    #[tokio::test]
    async fn callers_and_details_are_sealed_and_found_by_number() {
        let store = Store::open_in_memory().await.unwrap();
        store.insert_call(&call("p1", 10)).await.unwrap();
        store
            .add_call_event("p1", 11, CallEventKind::Dtmf, "4 from caller (RFC 4733)")
            .await
            .unwrap();
        let (caller, hash): (String, String) =
            sqlx::query_as("SELECT caller, caller_hash FROM calls WHERE call_id = 'p1'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert!(super::super::pii::is_sealed(&caller), "{caller}");
        assert!(!caller.contains("5551230001") && !hash.contains("5551230001"));
        let detail: String = sqlx::query_scalar("SELECT detail FROM call_events")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(super::super::pii::is_sealed(&detail), "{detail}");
        assert_eq!(
            store.call("p1").await.unwrap().unwrap().caller,
            "+15551230001"
        );
        assert_eq!(
            store.call_events("p1").await.unwrap()[0].detail,
            "4 from caller (RFC 4733)"
        );
        let found = store.calls_from("+15551230001", 10).await.unwrap();
        assert_eq!(found.len(), 1);
        assert!(
            store
                .calls_from("+15551230002", 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_survey_rating_is_kept_with_the_call_and_checked() {
        let store = Store::open_in_memory().await.unwrap();
        store.insert_call(&call("s1", 10)).await.unwrap();
        assert_eq!(store.call("s1").await.unwrap().unwrap().csat, None);
        assert!(store.set_csat("s1", 4).await.unwrap());
        assert_eq!(store.call("s1").await.unwrap().unwrap().csat, Some(4));
        assert!(store.set_csat("s1", 6).await.is_err(), "1 to 5 only");
        assert!(!store.set_csat("nope", 3).await.unwrap());
    }

    #[tokio::test]
    async fn the_disclosure_and_an_opt_out_are_kept_with_the_call() {
        let store = Store::open_in_memory().await.unwrap();
        store.insert_call(&call("d1", 10)).await.unwrap();
        let c = store.call("d1").await.unwrap().unwrap();
        assert_eq!((c.disclosure_at, c.recording_opt_out), (None, false));
        assert!(store.mark_disclosure("d1", 15, true).await.unwrap());
        let c = store.call("d1").await.unwrap().unwrap();
        assert_eq!((c.disclosure_at, c.recording_opt_out), (Some(15), true));
        assert!(!store.mark_disclosure("nope", 15, false).await.unwrap());
    }

    #[tokio::test]
    async fn rows_written_in_plain_before_are_sealed() {
        let store = Store::open_in_memory().await.unwrap();
        sqlx::query(
            "INSERT INTO calls (call_id, profile, caller, callee, started_at, last_activity_at)
             VALUES ('old', 'carrier', '+15550009999', '100', 1, 1)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query("INSERT INTO call_events (call_id, at, kind, detail) VALUES ('old', 2, 'dtmf', '7 from caller')")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(store.seal_plain_rows().await.unwrap(), 2);
        assert_eq!(store.seal_plain_rows().await.unwrap(), 0, "once only");
        let caller: String = sqlx::query_scalar("SELECT caller FROM calls")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(super::super::pii::is_sealed(&caller));
        assert_eq!(
            store.calls_from("+15550009999", 5).await.unwrap()[0].call_id,
            "old"
        );
        assert_eq!(
            store.call_events("old").await.unwrap()[0].detail,
            "7 from caller"
        );
    }

    fn quality(codec: &str, rtt_ms: Option<f64>) -> LegQuality {
        LegQuality {
            codec: codec.into(),
            packets_received: 15_000,
            packets_lost: 12,
            loss_pct: 0.08,
            jitter_ms: 4.5,
            rtt_ms,
        }
    }

    #[tokio::test]
    async fn answered_call_life_cycle() {
        let store = Store::open_in_memory().await.unwrap();
        store.insert_call(&call("a1@trunk", 1_000)).await.unwrap();
        let open = store.call("a1@trunk").await.unwrap().unwrap();
        assert_eq!(open.ended_at, None);
        assert_eq!(open.disposition, None);
        assert_eq!(open.agent, None);
        assert_eq!(open.legs, [None, None]);

        let agent = AgentLeg {
            agent: "1001@agents".into(),
            call_id: "b1@switch".into(),
        };
        assert!(
            store
                .mark_answered("a1@trunk", 4_000, &agent)
                .await
                .unwrap()
        );
        let end = CallEnd {
            ended_at: 64_000,
            disposition: Disposition::Answered,
            hangup_by: HangupBy::Agent,
            cause: Some("BYE".into()),
            sip_status: None,
            legs: [
                Some(quality("PCMA", Some(38.5))),
                Some(quality("opus", None)),
            ],
        };
        assert!(store.finish_call("a1@trunk", &end).await.unwrap());
        // a second end changes nothing
        let mut again = end.clone();
        again.ended_at = 99_000;
        again.legs = [None, None];
        assert!(!store.finish_call("a1@trunk", &again).await.unwrap());
        // neither does a late answer
        assert!(
            !store
                .mark_answered("a1@trunk", 5_000, &agent)
                .await
                .unwrap()
        );

        let cdr = store.call("a1@trunk").await.unwrap().unwrap();
        assert_eq!(cdr.call_id, "a1@trunk");
        assert_eq!(cdr.profile, "carrier");
        assert_eq!(cdr.caller, "+15551230001");
        assert_eq!(cdr.callee, "+15559870000");
        assert_eq!(cdr.started_at, 1_000);
        assert_eq!(cdr.answered_at, Some(4_000));
        assert_eq!(cdr.agent, Some(agent));
        assert_eq!(cdr.ended_at, Some(64_000));
        assert_eq!(cdr.last_activity_at, 64_000);
        assert_eq!(cdr.disposition, Some(Disposition::Answered));
        assert_eq!(cdr.hangup_by, Some(HangupBy::Agent));
        assert_eq!(cdr.cause.as_deref(), Some("BYE"));
        assert_eq!(cdr.sip_status, None);
        assert_eq!(cdr.legs, end.legs);
        let [a, b] = &cdr.legs;
        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
        assert_eq!((a.codec.as_str(), b.codec.as_str()), ("PCMA", "opus"));
        assert_eq!((a.packets_received, a.packets_lost), (15_000, 12));
        assert_eq!((a.loss_pct, a.jitter_ms), (0.08, 4.5));
        assert_eq!((a.rtt_ms, b.rtt_ms), (Some(38.5), None));
        assert_eq!(cdr.recording, None);

        assert_eq!(store.call("nope").await.unwrap(), None);
        assert!(
            !store
                .mark_answered("nope", 1, &cdr.agent.unwrap())
                .await
                .unwrap()
        );
        // a Call-ID is recorded once
        assert!(store.insert_call(&call("a1@trunk", 2_000)).await.is_err());
    }

    #[tokio::test]
    async fn unanswered_calls() {
        let store = Store::open_in_memory().await.unwrap();
        store.insert_call(&call("na", 1_000)).await.unwrap();
        store.insert_call(&call("cx", 2_000)).await.unwrap();
        let caller_only = [Some(quality("PCMU", None)), None];
        let no_answer = CallEnd {
            ended_at: 31_000,
            disposition: Disposition::NoAnswer,
            hangup_by: HangupBy::Switch,
            cause: Some("queue timeout".into()),
            sip_status: Some(480),
            legs: caller_only.clone(),
        };
        let cancelled = CallEnd {
            ended_at: 5_000,
            disposition: Disposition::Cancelled,
            hangup_by: HangupBy::Caller,
            cause: Some("CANCEL".into()),
            sip_status: Some(487),
            legs: [None, None],
        };
        assert!(store.finish_call("na", &no_answer).await.unwrap());
        assert!(store.finish_call("cx", &cancelled).await.unwrap());

        let na = store.call("na").await.unwrap().unwrap();
        assert_eq!(na.answered_at, None);
        assert_eq!(na.agent, None);
        assert_eq!(na.ended_at, Some(31_000));
        assert_eq!(na.disposition, Some(Disposition::NoAnswer));
        assert_eq!(na.hangup_by, Some(HangupBy::Switch));
        assert_eq!(na.cause.as_deref(), Some("queue timeout"));
        assert_eq!(na.sip_status, Some(480));
        assert_eq!(na.legs, caller_only);

        let cx = store.call("cx").await.unwrap().unwrap();
        assert_eq!(cx.disposition, Some(Disposition::Cancelled));
        assert_eq!(cx.hangup_by, Some(HangupBy::Caller));
        assert_eq!(cx.sip_status, Some(487));
        assert_eq!(cx.legs, [None, None]);

        // newest first, limited
        let recent = store.recent_calls(10).await.unwrap();
        let ids: Vec<_> = recent.iter().map(|c| c.call_id.as_str()).collect();
        assert_eq!(ids, ["cx", "na"]);
        assert_eq!(store.recent_calls(1).await.unwrap(), vec![cx]);
    }

    #[tokio::test]
    async fn interrupted_calls_are_closed_at_start() {
        let store = Store::open_in_memory().await.unwrap();
        for (id, t) in [("done", 1_000), ("ringing", 2_000), ("talking", 3_000)] {
            store.insert_call(&call(id, t)).await.unwrap();
        }
        let done = CallEnd {
            ended_at: 9_000,
            disposition: Disposition::Busy,
            hangup_by: HangupBy::Switch,
            cause: Some("486 Busy Here".into()),
            sip_status: Some(486),
            legs: [None, None],
        };
        store.finish_call("done", &done).await.unwrap();
        let agent = AgentLeg {
            agent: "1002@agents".into(),
            call_id: "b2".into(),
        };
        store.mark_answered("talking", 6_000, &agent).await.unwrap();
        store
            .add_call_event("talking", 7_000, CallEventKind::Hold, "")
            .await
            .unwrap();
        store.touch_call("talking", 20_000).await.unwrap();
        // touches never move the activity time backwards
        store.touch_call("talking", 10_000).await.unwrap();

        assert_eq!(store.close_interrupted_calls(50_000).await.unwrap(), 2);
        assert_eq!(store.close_interrupted_calls(60_000).await.unwrap(), 0);

        let ringing = store.call("ringing").await.unwrap().unwrap();
        assert_eq!(ringing.disposition, Some(Disposition::Interrupted));
        assert_eq!(ringing.hangup_by, Some(HangupBy::Switch));
        assert_eq!(ringing.ended_at, Some(2_000));
        assert_eq!(ringing.cause.as_deref(), Some(INTERRUPTED_CAUSE));

        let talking = store.call("talking").await.unwrap().unwrap();
        assert_eq!(talking.disposition, Some(Disposition::Interrupted));
        assert_eq!(talking.ended_at, Some(20_000));
        assert_eq!(talking.answered_at, Some(6_000));
        assert_eq!(talking.agent, Some(agent));

        // the finished call is untouched
        let d = store.call("done").await.unwrap().unwrap();
        assert_eq!(d.disposition, Some(Disposition::Busy));
        assert_eq!(d.ended_at, Some(9_000));

        // the end is never after `now`, nor before the start
        store.insert_call(&call("skew", 5_000)).await.unwrap();
        store.touch_call("skew", 90_000).await.unwrap();
        assert_eq!(store.close_interrupted_calls(80_000).await.unwrap(), 1);
        let skew = store.call("skew").await.unwrap().unwrap();
        assert_eq!(skew.ended_at, Some(80_000));
        store.insert_call(&call("early", 100_000)).await.unwrap();
        store.close_interrupted_calls(1_000).await.unwrap();
        let early = store.call("early").await.unwrap().unwrap();
        assert_eq!(early.ended_at, Some(100_000));
    }

    #[tokio::test]
    async fn events_in_time_order() {
        let store = Store::open_in_memory().await.unwrap();
        store.insert_call(&call("e1", 1_000)).await.unwrap();
        store.insert_call(&call("e2", 1_000)).await.unwrap();
        let add = |at, kind, detail: &'static str| {
            let store = store.clone();
            async move { store.add_call_event("e1", at, kind, detail).await.unwrap() }
        };
        add(5_000, CallEventKind::Dtmf, "2").await;
        add(2_000, CallEventKind::Answered, "1001@agents").await;
        add(5_000, CallEventKind::Dtmf, "3").await;
        add(3_000, CallEventKind::Hold, "").await;
        add(4_000, CallEventKind::Resume, "").await;
        add(9_000, CallEventKind::MediaTimeout, "no RTP for 30 s").await;
        store
            .add_call_event("e2", 1_500, CallEventKind::Dtmf, "9")
            .await
            .unwrap();

        let events = store.call_events("e1").await.unwrap();
        let got: Vec<_> = events
            .iter()
            .map(|e| (e.at, e.kind, e.detail.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (2_000, CallEventKind::Answered, "1001@agents"),
                (3_000, CallEventKind::Hold, ""),
                (4_000, CallEventKind::Resume, ""),
                (5_000, CallEventKind::Dtmf, "2"),
                (5_000, CallEventKind::Dtmf, "3"),
                (9_000, CallEventKind::MediaTimeout, "no RTP for 30 s"),
            ]
        );
        assert!(events.iter().all(|e| e.call_id == "e1"));
        assert_eq!(store.call_events("e2").await.unwrap().len(), 1);
        assert!(store.call_events("none").await.unwrap().is_empty());
        // events are activity
        let e1 = store.call("e1").await.unwrap().unwrap();
        assert_eq!(e1.last_activity_at, 9_000);
        // an event needs a call
        assert!(
            store
                .add_call_event("none", 1, CallEventKind::Dtmf, "1")
                .await
                .is_err()
        );
    }

    #[test]
    fn enum_text_round_trips() {
        for d in Disposition::ALL {
            assert_eq!(d.as_str().parse::<Disposition>(), Ok(*d));
        }
        for h in HangupBy::ALL {
            assert_eq!(h.to_string().parse::<HangupBy>(), Ok(*h));
        }
        for k in CallEventKind::ALL {
            assert_eq!(k.as_str().parse::<CallEventKind>(), Ok(*k));
        }
        assert_eq!(Disposition::NoAnswer.as_str(), "no-answer");
        let err = "Answered".parse::<Disposition>().unwrap_err();
        assert_eq!(err.to_string(), "unknown Disposition \"Answered\"");
    }

    #[tokio::test]
    async fn unknown_text_in_the_database_is_an_error() {
        let store = Store::open_in_memory().await.unwrap();
        store.insert_call(&call("x", 1_000)).await.unwrap();
        store
            .add_call_event("x", 1_000, CallEventKind::Dtmf, "5")
            .await
            .unwrap();
        // a kind from a newer version: valid in SQL, unknown to this code
        sqlx::query("UPDATE call_events SET kind = 'teleport'")
            .execute(store.pool())
            .await
            .unwrap();
        let err = store.call_events("x").await.unwrap_err();
        assert!(err.to_string().contains("teleport"), "{err}");

        // the CHECK constraints hold disposition and hangup_by to known
        // text, so bypass them to simulate a corrupt row
        sqlx::query("PRAGMA ignore_check_constraints = ON")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query(
            "UPDATE calls SET ended_at = 2000, disposition = 'exploded', hangup_by = 'caller'",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let err = store.call("x").await.unwrap_err();
        assert!(err.to_string().contains("exploded"), "{err}");
        assert!(store.recent_calls(5).await.is_err());
    }

    #[tokio::test]
    async fn check_constraints_reject_bad_values() {
        let store = Store::open_in_memory().await.unwrap();
        store.insert_call(&call("c", 1_000)).await.unwrap();
        let exec = |sql: &'static str| {
            let store = store.clone();
            async move { sqlx::query(sql).execute(store.pool()).await }
        };
        for bad in [
            // unknown text
            "UPDATE calls SET ended_at = 2000, disposition = 'Answered', hangup_by = 'caller'",
            "UPDATE calls SET ended_at = 2000, disposition = 'answered', hangup_by = 'nobody'",
            // ended without a disposition, disposition without an end
            "UPDATE calls SET ended_at = 2000, hangup_by = 'caller'",
            "UPDATE calls SET disposition = 'busy', hangup_by = 'caller'",
            // ends before it starts
            "UPDATE calls SET ended_at = 10, disposition = 'busy', hangup_by = 'caller'",
            "UPDATE calls SET sip_status = 42",
            "INSERT INTO call_legs VALUES ('c', 2, 'PCMU', 1, 0, 0, 0, NULL)",
            "INSERT INTO call_legs VALUES ('c', 0, 'PCMU', 1, 0, 101, 0, NULL)",
            "INSERT INTO call_legs VALUES ('c', 0, 'PCMU', 1, 0, 0, -1, NULL)",
            "INSERT INTO call_legs VALUES ('nope', 0, 'PCMU', 1, 0, 0, 0, NULL)",
            "INSERT INTO call_events (call_id, at, kind, detail) VALUES ('c', 1, 'DTMF', '')",
            "INSERT INTO call_events (call_id, at, kind, detail) VALUES ('c', 1, '', '')",
            "INSERT INTO call_events (call_id, at, kind, detail) VALUES ('c', 1, 'media-timeout', '')",
        ] {
            assert!(exec(bad).await.is_err(), "accepted: {bad}");
        }
        // the same shapes with good values pass
        exec("INSERT INTO call_legs VALUES ('c', 1, 'PCMU', 1, -2, 0, 0, 12.5)")
            .await
            .unwrap();
        exec("INSERT INTO call_events (call_id, at, kind, detail) VALUES ('c', 1, 'media_timeout', '')")
            .await
            .unwrap();
        exec("UPDATE calls SET ended_at = 2000, disposition = 'no-answer', hangup_by = 'switch'")
            .await
            .unwrap();
    }
}
