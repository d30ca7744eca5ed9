use sqlx::FromRow;

use super::{Store, StoreResult};

#[derive(Debug, Clone, FromRow)]
pub struct DataKeyRecord {
    pub id: i64,
    pub master_key_id: String,
    pub wrapped: Vec<u8>,
    pub sealed_count: i64,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl Store {
    pub async fn data_keys(&self) -> StoreResult<Vec<DataKeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, master_key_id, wrapped, sealed_count, created_at, retired_at FROM data_keys ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn data_key(&self, id: i64) -> StoreResult<Option<DataKeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, master_key_id, wrapped, sealed_count, created_at, retired_at FROM data_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn insert_data_key(&self, rec: &DataKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO data_keys (id, master_key_id, wrapped, sealed_count, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(rec.id)
        .bind(&rec.master_key_id)
        .bind(&rec.wrapped)
        .bind(rec.sealed_count)
        .bind(rec.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Reserves `count` seals on a live data key; returns the new total, or
    /// `None` when the key has been retired meanwhile.
    pub async fn reserve_seals(&self, id: i64, count: i64) -> StoreResult<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE data_keys SET sealed_count = sealed_count + $1 WHERE id = $2 AND retired_at IS NULL \
             RETURNING sealed_count",
        )
        .bind(count)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.map(|(n,)| n))
    }

    /// Removes a retired data key (the caller has checked that no secret is sealed under it).
    pub async fn delete_retired_data_key(&self, id: i64) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM data_keys WHERE id = $1 AND retired_at IS NOT NULL")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn retire_data_key(&self, id: i64, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE data_keys SET retired_at = $1 WHERE id = $2 AND retired_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Replaces a data key's wrapping, only if it is still wrapped by `expected_master`.
    pub async fn rewrap_data_key(
        &self,
        id: i64,
        expected_master: &str,
        new_master: &str,
        wrapped: &[u8],
    ) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE data_keys SET master_key_id = $1, wrapped = $2 WHERE id = $3 AND master_key_id = $4")
                .bind(new_master)
                .bind(wrapped)
                .bind(id)
                .bind(expected_master)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
