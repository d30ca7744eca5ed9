use sqlx::FromRow;

use super::{Store, StoreError, StoreResult};

/// A secret API key as stored: never the key, only its digest.
#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Store {
    pub async fn insert_api_key(&self, rec: &ApiKeyRecord, digest: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO api_keys (id, name, digest, hint, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&rec.id)
            .bind(&rec.name)
            .bind(digest)
            .bind(&rec.hint)
            .bind(rec.created_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The live (unrevoked) key with this digest.
    pub async fn api_key_by_digest(&self, digest: &str) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, name, hint, created_at, last_used_at, revoked_at FROM api_keys \
             WHERE digest = $1 AND revoked_at IS NULL",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn touch_api_key(&self, id: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, name, hint, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes a key by id or by name; the revoked record, or `NotFound`.
    pub async fn revoke_api_key(&self, id_or_name: &str, now: i64) -> StoreResult<ApiKeyRecord> {
        let mut tx = self.begin_write().await?;
        let found: Vec<ApiKeyRecord> = sqlx::query_as(
            "SELECT id, name, hint, created_at, last_used_at, revoked_at FROM api_keys \
             WHERE (id = $1 OR name = $1) AND revoked_at IS NULL",
        )
        .bind(id_or_name)
        .fetch_all(&mut *tx)
        .await?;
        let rec = match found.as_slice() {
            [] => return Err(StoreError::NotFound),
            [one] => one.clone(),
            _ => {
                return Err(StoreError::Conflict(format!(
                    "{} live keys are named {id_or_name:?}; revoke by id instead",
                    found.len()
                )));
            }
        };
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&rec.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ApiKeyRecord { revoked_at: Some(now), ..rec })
    }
}
