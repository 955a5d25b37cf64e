//! Recording files in the `recordings` table, one row per file, keyed by
//! its path. A row still in state `recording` at start belongs to a file
//! the previous run did not finish: repair it, then complete it as
//! `repaired`.

use super::Store;
use super::calls::text_enum;

text_enum! {
    /// Where a recording file is in its life.
    pub enum RecordingState {
        /// Being written (or left unfinished by a crash).
        Recording => "recording",
        /// Closed normally.
        Complete => "complete",
        /// Left unfinished by a crash and fixed at the next start.
        Repaired => "repaired",
    }
}

/// One recording file.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RecordingRow {
    /// The call's SIP Call-ID (the CDR must exist).
    pub call_id: String,
    /// File path; unique, the reference a CDR carries.
    pub path: String,
    /// 1 (mixed) or 2 (caller and agent apart).
    pub channels: u8,
    pub sample_rate: u32,
    /// `None` while recording.
    pub duration_ms: Option<i64>,
    /// The caller consented (the disclosure played).
    pub consent: bool,
    pub state: RecordingState,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl RecordingRow {
    /// A file about to be written: state `recording`, no duration yet,
    /// consent assumed.
    pub fn new(
        call_id: impl Into<String>,
        path: impl Into<String>,
        channels: u8,
        sample_rate: u32,
        created_at: i64,
    ) -> Self {
        Self {
            call_id: call_id.into(),
            path: path.into(),
            channels,
            sample_rate,
            duration_ms: None,
            consent: true,
            state: RecordingState::Recording,
            created_at,
        }
    }
}

const RECORDING_COLUMNS: &str =
    "call_id, path, channels, sample_rate, duration_ms, consent, state, created_at";

impl Store {
    /// Records a recording file. Fails if the path is already known or
    /// the call is not.
    pub async fn insert_recording(&self, r: &RecordingRow) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO recordings ({RECORDING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&r.call_id)
        .bind(&r.path)
        .bind(r.channels)
        .bind(r.sample_rate)
        .bind(r.duration_ms)
        .bind(r.consent)
        .bind(r.state)
        .bind(r.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Closes a recording still in state `recording` with its final
    /// duration and `state` (`complete` or `repaired`; `recording` is an
    /// error). Returns false if no open recording has that path.
    pub async fn complete_recording(
        &self,
        path: &str,
        duration_ms: i64,
        state: RecordingState,
    ) -> sqlx::Result<bool> {
        if state == RecordingState::Recording {
            return Err(sqlx::Error::Encode(
                "complete_recording needs state complete or repaired".into(),
            ));
        }
        let r = sqlx::query(
            "UPDATE recordings SET duration_ms = ?, state = ?
             WHERE path = ? AND state = 'recording'",
        )
        .bind(duration_ms)
        .bind(state)
        .bind(path)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// A call's recordings, oldest first.
    pub async fn recordings_for_call(&self, call_id: &str) -> sqlx::Result<Vec<RecordingRow>> {
        sqlx::query_as(&format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE call_id = ?
             ORDER BY created_at, path"
        ))
        .bind(call_id)
        .fetch_all(self.pool())
        .await
    }

    /// Recordings never closed: at start, the files to repair.
    pub async fn open_recordings(&self) -> sqlx::Result<Vec<RecordingRow>> {
        sqlx::query_as(&format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE state = 'recording'
             ORDER BY created_at, path"
        ))
        .fetch_all(self.pool())
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::calls::CallRecord;

    async fn store_with_calls(ids: &[&str]) -> Store {
        let store = Store::open_in_memory().await.unwrap();
        for id in ids {
            store
                .insert_call(&CallRecord {
                    call_id: (*id).into(),
                    profile: "carrier".into(),
                    caller: "+15551230001".into(),
                    callee: "+15559870000".into(),
                    started_at: 1_000,
                })
                .await
                .unwrap();
        }
        store
    }

    #[tokio::test]
    async fn recording_life_cycle() {
        let store = store_with_calls(&["c1", "c2"]).await;
        let first = RecordingRow::new("c1", "/rec/c1-a.wav", 2, 8_000, 5_000);
        let mut second = RecordingRow::new("c1", "/rec/c1-b.wav", 1, 16_000, 9_000);
        second.consent = false;
        let other = RecordingRow::new("c2", "/rec/c2.wav", 2, 8_000, 7_000);
        // inserted out of time order on purpose
        store.insert_recording(&second).await.unwrap();
        store.insert_recording(&first).await.unwrap();
        store.insert_recording(&other).await.unwrap();
        assert!(store.insert_recording(&first).await.is_err(), "same path");

        assert_eq!(
            store.recordings_for_call("c1").await.unwrap(),
            vec![first.clone(), second.clone()]
        );
        assert_eq!(
            store.open_recordings().await.unwrap(),
            vec![first.clone(), other.clone(), second.clone()]
        );
        // the CDR carries the first recording
        let cdr = store.call("c1").await.unwrap().unwrap();
        assert_eq!(cdr.recording.as_deref(), Some("/rec/c1-a.wav"));

        assert!(
            store
                .complete_recording("/rec/c1-a.wav", 61_250, RecordingState::Complete)
                .await
                .unwrap()
        );
        // only once
        assert!(
            !store
                .complete_recording("/rec/c1-a.wav", 1, RecordingState::Repaired)
                .await
                .unwrap()
        );
        assert!(
            !store
                .complete_recording("/rec/none.wav", 1, RecordingState::Complete)
                .await
                .unwrap()
        );
        assert!(
            store
                .complete_recording("/rec/c2.wav", 3_000, RecordingState::Recording)
                .await
                .is_err()
        );

        // at start: repair what is left open
        let open = store.open_recordings().await.unwrap();
        assert_eq!(open, vec![other.clone(), second.clone()]);
        for r in &open {
            assert!(
                store
                    .complete_recording(&r.path, 2_000, RecordingState::Repaired)
                    .await
                    .unwrap()
            );
        }
        assert!(store.open_recordings().await.unwrap().is_empty());

        let c1 = store.recordings_for_call("c1").await.unwrap();
        assert_eq!(c1.len(), 2);
        assert_eq!(c1[0].path, "/rec/c1-a.wav");
        assert_eq!(c1[0].duration_ms, Some(61_250));
        assert_eq!(c1[0].state, RecordingState::Complete);
        assert_eq!((c1[0].channels, c1[0].sample_rate), (2, 8_000));
        assert!(c1[0].consent);
        assert_eq!(c1[0].created_at, 5_000);
        assert_eq!(c1[1].duration_ms, Some(2_000));
        assert_eq!(c1[1].state, RecordingState::Repaired);
        assert_eq!((c1[1].channels, c1[1].sample_rate), (1, 16_000));
        assert!(!c1[1].consent);
        assert!(store.recordings_for_call("none").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn recording_constraints() {
        let store = store_with_calls(&["c1"]).await;
        // the call must exist
        let orphan = RecordingRow::new("nope", "/rec/x.wav", 2, 8_000, 1);
        assert!(store.insert_recording(&orphan).await.is_err());
        let bad_channels = RecordingRow::new("c1", "/rec/x.wav", 3, 8_000, 1);
        assert!(store.insert_recording(&bad_channels).await.is_err());
        let bad_rate = RecordingRow::new("c1", "/rec/x.wav", 1, 0, 1);
        assert!(store.insert_recording(&bad_rate).await.is_err());
        // a closed recording has a duration, an open one has none
        let mut closed_without = RecordingRow::new("c1", "/rec/x.wav", 1, 8_000, 1);
        closed_without.state = RecordingState::Complete;
        assert!(store.insert_recording(&closed_without).await.is_err());
        for bad in [
            "INSERT INTO recordings (call_id, path, channels, sample_rate, state, created_at)
             VALUES ('c1', '/rec/y.wav', 1, 8000, 'done', 1)",
            "INSERT INTO recordings (call_id, path, channels, sample_rate, consent, created_at)
             VALUES ('c1', '/rec/y.wav', 1, 8000, 2, 1)",
        ] {
            assert!(
                sqlx::query(bad).execute(store.pool()).await.is_err(),
                "accepted: {bad}"
            );
        }
        // defaults: consent true, state recording
        sqlx::query(
            "INSERT INTO recordings (call_id, path, channels, sample_rate, created_at)
             VALUES ('c1', '/rec/z.wav', 1, 8000, 1)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        assert_eq!(
            store.open_recordings().await.unwrap(),
            vec![RecordingRow::new("c1", "/rec/z.wav", 1, 8_000, 1)]
        );

        // unknown state text (past the CHECK) is an error, not a panic
        sqlx::query("PRAGMA ignore_check_constraints = ON")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE recordings SET state = 'lost'")
            .execute(store.pool())
            .await
            .unwrap();
        let err = store.recordings_for_call("c1").await.unwrap_err();
        assert!(err.to_string().contains("lost"), "{err}");
    }
}
