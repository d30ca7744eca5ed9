use sqlx::FromRow;

use super::{Store, StoreResult};

#[derive(Debug, Clone, FromRow)]
pub struct SessionRecord {
    pub org: String,
    pub user_id: String,
    pub role: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_session(&self, digest: &str, rec: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (digest, org, user_id, role, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(digest)
        .bind(&rec.org)
        .bind(&rec.user_id)
        .bind(&rec.role)
        .bind(&rec.created_by)
        .bind(rec.created_at)
        .bind(rec.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The session with this digest, if it has not expired at `now`.
    pub async fn live_session(&self, digest: &str, now: i64) -> StoreResult<Option<SessionRecord>> {
        Ok(sqlx::query_as(
            "SELECT org, user_id, role, created_by, created_at, expires_at FROM sessions \
             WHERE digest = $1 AND expires_at > $2",
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Deletes sessions that expired before `now`; returns how many.
    pub async fn purge_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }
}
