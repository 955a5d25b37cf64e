//! Registrar bindings in the `registrations` table.

use super::Store;

/// One stored contact of an address of record.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Binding {
    pub profile: String,
    pub aor: String,
    pub contact: String,
    pub source: String,
    pub call_id: String,
    pub cseq: i64,
    pub q: Option<f64>,
    pub user_agent: Option<String>,
    pub expires_at: i64,
    pub updated_at: i64,
}

/// One change to the `registrations` table, applied in batches.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingOp {
    Upsert(Binding),
    Delete {
        profile: String,
        aor: String,
        contact: String,
    },
    DeleteAor {
        profile: String,
        aor: String,
    },
}

impl Store {
    /// Applies many changes in one transaction (the registrar writes
    /// behind its in-memory location service this way).
    pub async fn apply_binding_ops(&self, ops: &[BindingOp]) -> sqlx::Result<()> {
        let mut tx = self.pool().begin().await?;
        for op in ops {
            match op {
                BindingOp::Upsert(b) => upsert(&mut *tx, b).await?,
                BindingOp::Delete {
                    profile,
                    aor,
                    contact,
                } => {
                    sqlx::query(
                        "DELETE FROM registrations WHERE profile = ? AND aor = ? AND contact = ?",
                    )
                    .bind(profile)
                    .bind(aor)
                    .bind(contact)
                    .execute(&mut *tx)
                    .await?;
                }
                BindingOp::DeleteAor { profile, aor } => {
                    sqlx::query("DELETE FROM registrations WHERE profile = ? AND aor = ?")
                        .bind(profile)
                        .bind(aor)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await
    }

    /// Inserts or refreshes a binding.
    pub async fn upsert_binding(&self, b: &Binding) -> sqlx::Result<()> {
        upsert(self.pool(), b).await
    }

    pub async fn delete_binding(
        &self,
        profile: &str,
        aor: &str,
        contact: &str,
    ) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM registrations WHERE profile = ? AND aor = ? AND contact = ?")
            .bind(profile)
            .bind(aor)
            .bind(contact)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_aor(&self, profile: &str, aor: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM registrations WHERE profile = ? AND aor = ?")
            .bind(profile)
            .bind(aor)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every binding of a profile that has not expired at `now` (unix s).
    pub async fn live_bindings(&self, profile: &str, now: i64) -> sqlx::Result<Vec<Binding>> {
        sqlx::query_as("SELECT * FROM registrations WHERE profile = ? AND expires_at > ?")
            .bind(profile)
            .bind(now)
            .fetch_all(self.pool())
            .await
    }

    /// Removes expired bindings; returns how many.
    pub async fn purge_expired_bindings(&self, now: i64) -> sqlx::Result<u64> {
        let r = sqlx::query("DELETE FROM registrations WHERE expires_at <= ?")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }
}

async fn upsert<'e, E: sqlx::SqliteExecutor<'e>>(exec: E, b: &Binding) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO registrations
           (profile, aor, contact, source, call_id, cseq, q, user_agent, expires_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (profile, aor, contact) DO UPDATE SET
           source = excluded.source, call_id = excluded.call_id, cseq = excluded.cseq,
           q = excluded.q, user_agent = excluded.user_agent,
           expires_at = excluded.expires_at, updated_at = excluded.updated_at",
    )
    .bind(&b.profile)
    .bind(&b.aor)
    .bind(&b.contact)
    .bind(&b.source)
    .bind(&b.call_id)
    .bind(b.cseq)
    .bind(b.q)
    .bind(&b.user_agent)
    .bind(b.expires_at)
    .bind(b.updated_at)
    .execute(exec)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(contact: &str, expires_at: i64) -> Binding {
        Binding {
            profile: "agents".into(),
            aor: "1001".into(),
            contact: contact.into(),
            source: "udp:127.0.0.1:5062".into(),
            call_id: "c1".into(),
            cseq: 1,
            q: None,
            user_agent: Some("test".into()),
            expires_at,
            updated_at: 0,
        }
    }

    #[tokio::test]
    async fn bindings_round_trip_and_expire() {
        let store = Store::open_in_memory().await.unwrap();
        store
            .upsert_binding(&binding("sip:1001@127.0.0.1:5062", 100))
            .await
            .unwrap();
        store
            .upsert_binding(&binding("sip:1001@127.0.0.1:5064", 50))
            .await
            .unwrap();
        let mut refreshed = binding("sip:1001@127.0.0.1:5062", 200);
        refreshed.cseq = 2;
        store.upsert_binding(&refreshed).await.unwrap();
        let live = store.live_bindings("agents", 60).await.unwrap();
        assert_eq!(live, vec![refreshed]);
        assert_eq!(store.purge_expired_bindings(60).await.unwrap(), 1);
        store.delete_aor("agents", "1001").await.unwrap();
        assert!(store.live_bindings("agents", 0).await.unwrap().is_empty());
    }
}
