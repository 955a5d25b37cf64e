//! Storage: the embedded SQLite database (sqlx), its migrations, and the
//! typed queries the rest of the switch uses. Nothing else runs SQL.

mod agent_directory;
mod agent_stats;
mod agents;
mod calendar_overrides;
mod callbacks;
mod calls;
mod cdr_writer;
mod customers;
pub mod pii;
mod qa;
mod queue_calls;
mod recordings;
mod registrations;
mod trunk_status;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use agent_directory::StoredAgent;
pub use agent_stats::AgentStats;
pub use agents::AgentTransition;
pub use callbacks::{Callback, NewCallback};
pub use calls::{
    AgentLeg, CallEnd, CallEvent, CallEventKind, CallRecord, Cdr, Disposition, HangupBy,
    INTERRUPTED_CAUSE, LegQuality, UnknownText,
};
pub use cdr_writer::CdrWriter;
pub use customers::Customer;
pub use pii::PiiKey;
pub use qa::{QaCallContext, QaJob, QaJobState, QaResultRow};
pub use queue_calls::{IntentCount, QueueStats};
pub use recordings::{RecordingRow, RecordingState};
pub use registrations::{Binding, BindingOp};
pub use trunk_status::TrunkStatus;

/// Handle to the database; cheap to clone. Personal data goes in and out
/// through `pii` (sealed on the way in, opened on the way out).
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    pii: Arc<PiiKey>,
}

impl Store {
    /// Opens (creating if missing) the SQLite file, applies migrations and
    /// seals personal data written before sealing existed. Deleted content
    /// is overwritten (`secure_delete`), so no old plain value lingers.
    pub async fn open(path: &Path, pii: PiiKey) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .pragma("secure_delete", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let store = Self {
            pool,
            pii: Arc::new(pii),
        };
        let sealed = store.seal_plain_rows().await?;
        if sealed > 0 {
            tracing::info!(
                rows = sealed,
                "personal data written before sealing is now sealed"
            );
            // The plain values' old pages leave the write-ahead log.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(store.pool())
                .await?;
        }
        Ok(store)
    }

    /// An in-memory database for tests, with a key of its own.
    pub async fn open_in_memory() -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            pool,
            pii: Arc::new(PiiKey::ephemeral()),
        })
    }

    /// The key personal data is sealed with.
    pub fn pii(&self) -> &PiiKey {
        &self.pii
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
