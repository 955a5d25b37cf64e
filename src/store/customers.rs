//! The `customers` table: who a caller is (name, tier, segment, language,
//! owning agent), found by the number that calls. Number, name and e-mail
//! are sealed; the number's keyed hash is the lookup key.

use super::Store;
use sqlx::Row;

/// A customer as the rest of the switch sees it (personal fields opened).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Customer {
    /// E.164, e.g. `+15550777`.
    pub number: String,
    pub name: String,
    #[serde(default)]
    pub email: String,
    /// `VIP`, `standard`...
    #[serde(default = "standard")]
    pub tier: String,
    #[serde(default)]
    pub segment: String,
    /// Prompt language: `en`, `zh`...
    #[serde(default = "english")]
    pub language: String,
    /// The owning agent's extension, if any.
    #[serde(default)]
    pub agent: String,
}

fn standard() -> String {
    "standard".into()
}

fn english() -> String {
    "en".into()
}

impl Store {
    /// Inserts the customer, or updates the one with the same number.
    pub async fn upsert_customer(&self, c: &Customer, at: i64) -> sqlx::Result<()> {
        let pii = self.pii();
        let email = if c.email.is_empty() {
            String::new()
        } else {
            pii.seal(&c.email)
        };
        sqlx::query(
            "INSERT INTO customers (number_hash, number, name, email, tier, segment, language,
                                    agent, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (number_hash) DO UPDATE SET
                number = excluded.number, name = excluded.name, email = excluded.email,
                tier = excluded.tier, segment = excluded.segment,
                language = excluded.language, agent = excluded.agent,
                updated_at = excluded.updated_at",
        )
        .bind(pii.hash(&c.number))
        .bind(pii.seal(&c.number))
        .bind(pii.seal(&c.name))
        .bind(email)
        .bind(&c.tier)
        .bind(&c.segment)
        .bind(&c.language)
        .bind(&c.agent)
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The customer whose number is `number` (E.164), if any.
    pub async fn customer_by_number(&self, number: &str) -> sqlx::Result<Option<Customer>> {
        let row = sqlx::query(
            "SELECT number, name, email, tier, segment, language, agent
             FROM customers WHERE number_hash = ?",
        )
        .bind(self.pii().hash(number))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let open = |col: &str| -> sqlx::Result<String> {
            let text: String = row.try_get(col)?;
            self.pii()
                .open(&text)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))
        };
        Ok(Some(Customer {
            number: open("number")?,
            name: open("name")?,
            email: open("email")?,
            tier: row.try_get("tier")?,
            segment: row.try_get("segment")?,
            language: row.try_get("language")?,
            agent: row.try_get("agent")?,
        }))
    }

    /// How many customers there are.
    pub async fn customer_count(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(self.pool())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> Customer {
        Customer {
            number: "+15550777".into(),
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            tier: "VIP".into(),
            segment: "wholesale".into(),
            language: "en".into(),
            agent: "1001".into(),
        }
    }

    #[tokio::test]
    async fn customers_are_sealed_found_by_number_and_updated() {
        let store = Store::open_in_memory().await.unwrap();
        store.upsert_customer(&ada(), 1).await.unwrap();
        let raw: (String, String, String) =
            sqlx::query_as("SELECT number, name, email FROM customers")
                .fetch_one(store.pool())
                .await
                .unwrap();
        for v in [&raw.0, &raw.1, &raw.2] {
            assert!(crate::store::pii::is_sealed(v), "{v}");
        }
        assert_eq!(
            store.customer_by_number("+15550777").await.unwrap(),
            Some(ada())
        );
        assert_eq!(store.customer_by_number("+15550778").await.unwrap(), None);
        let mut moved = ada();
        moved.tier = "standard".into();
        moved.name = "Ada King".into();
        store.upsert_customer(&moved, 2).await.unwrap();
        assert_eq!(store.customer_count().await.unwrap(), 1);
        assert_eq!(
            store.customer_by_number("+15550777").await.unwrap(),
            Some(moved)
        );
    }
}
