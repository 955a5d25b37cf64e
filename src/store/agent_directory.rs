//! The `agent_directory` table: agents kept in the database (imported by
//! an admin, later written by the HTTP API) besides those of
//! `contact-center/agents.toml`. Names are sealed; skills are stored by
//! name with their proficiency.

use std::collections::BTreeMap;

use super::Store;

/// An agent as the database keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAgent {
    /// The agent's extension.
    pub id: String,
    pub name: String,
    pub team: String,
    /// Skill name to proficiency (1 to 10).
    pub skills: BTreeMap<String, u8>,
}

impl Store {
    /// Inserts or replaces agent `a`.
    pub async fn upsert_agent(&self, a: &StoredAgent, at: i64) -> sqlx::Result<()> {
        let skills =
            serde_json::to_string(&a.skills).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "INSERT INTO agent_directory (id, name, team, skills, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, team = excluded.team,
                 skills = excluded.skills, updated_at = excluded.updated_at",
        )
        .bind(&a.id)
        .bind(self.pii().seal(&a.name))
        .bind(&a.team)
        .bind(skills)
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every stored agent, by id.
    pub async fn stored_agents(&self) -> sqlx::Result<Vec<StoredAgent>> {
        let rows: Vec<(String, String, String, String)> =
            sqlx::query_as("SELECT id, name, team, skills FROM agent_directory ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        rows.into_iter()
            .map(|(id, name, team, skills)| {
                Ok(StoredAgent {
                    id,
                    name: self
                        .pii()
                        .open(&name)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    team,
                    skills: serde_json::from_str(&skills)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn agents_are_kept_sealed_and_replaced_by_id() {
        let store = Store::open_in_memory().await.unwrap();
        let mut a = StoredAgent {
            id: "1006".into(),
            name: "Grace Hopper".into(),
            team: "orders".into(),
            skills: [("orders".to_string(), 7), ("vip".to_string(), 3)].into(),
        };
        store.upsert_agent(&a, 1).await.unwrap();
        let raw: String = sqlx::query_scalar("SELECT name FROM agent_directory")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(crate::store::pii::is_sealed(&raw) && !raw.contains("Hopper"));
        assert_eq!(store.stored_agents().await.unwrap(), [a.clone()]);
        a.team = "complaints".into();
        a.skills.insert("complaints".into(), 9);
        store.upsert_agent(&a, 2).await.unwrap();
        assert_eq!(store.stored_agents().await.unwrap(), [a]);
    }
}
