//! Trunk peer status in the `trunk_status` table: the last known state of
//! each qualify target and outbound registration.

use super::Store;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TrunkStatus {
    pub profile: String,
    pub kind: String,
    pub target: String,
    pub state: String,
    pub detail: String,
    pub updated_at: i64,
}

impl Store {
    pub async fn set_trunk_status(&self, s: &TrunkStatus) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO trunk_status (profile, kind, target, state, detail, updated_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (profile, kind, target) DO UPDATE SET
               state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at",
        )
        .bind(&s.profile)
        .bind(&s.kind)
        .bind(&s.target)
        .bind(&s.state)
        .bind(&s.detail)
        .bind(s.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn trunk_statuses(&self) -> sqlx::Result<Vec<TrunkStatus>> {
        sqlx::query_as("SELECT * FROM trunk_status ORDER BY profile, kind, target")
            .fetch_all(self.pool())
            .await
    }

    /// Live registrations per profile: (profile, count).
    pub async fn registration_counts(&self, now: i64) -> sqlx::Result<Vec<(String, i64)>> {
        sqlx::query_as(
            "SELECT profile, COUNT(*) FROM registrations WHERE expires_at > ? GROUP BY profile ORDER BY profile",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn status_is_upserted() {
        let store = Store::open_in_memory().await.unwrap();
        let mut s = TrunkStatus {
            profile: "carrier".into(),
            kind: "qualify".into(),
            target: "sip:127.0.0.1:5090".into(),
            state: "up".into(),
            detail: "200 OK in 3 ms".into(),
            updated_at: 1,
        };
        store.set_trunk_status(&s).await.unwrap();
        s.state = "down".into();
        store.set_trunk_status(&s).await.unwrap();
        assert_eq!(store.trunk_statuses().await.unwrap(), vec![s]);
    }
}
