//! The `calendar_overrides` table: calendars an admin forced open or
//! closed (an emergency closure, a special opening), by calendar name.

use super::Store;

impl Store {
    /// Forces calendar `name` open (`Some(true)`), closed (`Some(false)`),
    /// or back to its hours (`None`).
    pub async fn set_calendar_override(
        &self,
        name: &str,
        open: Option<bool>,
        at: i64,
    ) -> sqlx::Result<()> {
        match open {
            Some(open) => {
                sqlx::query(
                    "INSERT INTO calendar_overrides (name, open, set_at) VALUES (?, ?, ?)
                     ON CONFLICT (name) DO UPDATE SET open = excluded.open, set_at = excluded.set_at",
                )
                .bind(name)
                .bind(open)
                .bind(at)
                .execute(self.pool())
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM calendar_overrides WHERE name = ?")
                    .bind(name)
                    .execute(self.pool())
                    .await?;
            }
        }
        Ok(())
    }

    /// Every forced calendar: (name, open).
    pub async fn calendar_overrides(&self) -> sqlx::Result<Vec<(String, bool)>> {
        sqlx::query_as("SELECT name, open FROM calendar_overrides ORDER BY name")
            .fetch_all(self.pool())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overrides_are_set_changed_and_removed() {
        let store = Store::open_in_memory().await.unwrap();
        assert!(store.calendar_overrides().await.unwrap().is_empty());
        store
            .set_calendar_override("office", Some(false), 1)
            .await
            .unwrap();
        store
            .set_calendar_override("always-open", Some(true), 2)
            .await
            .unwrap();
        store
            .set_calendar_override("office", Some(true), 3)
            .await
            .unwrap();
        assert_eq!(
            store.calendar_overrides().await.unwrap(),
            vec![("always-open".into(), true), ("office".into(), true)]
        );
        store
            .set_calendar_override("office", None, 4)
            .await
            .unwrap();
        assert_eq!(
            store.calendar_overrides().await.unwrap(),
            vec![("always-open".into(), true)]
        );
    }
}
