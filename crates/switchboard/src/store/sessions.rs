use sqlx::FromRow;

use super::{Store, StoreResult};

#[derive(Debug, Clone, FromRow)]
pub struct SessionRecord {
    pub id: String,
    pub org: String,
    pub user_id: String,
    pub role: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The providers its integrations page shows, as a JSON array; `None` for all.
    pub providers: Option<String>,
    /// Its pages' language (`en`, `de`); `None` to follow the browser.
    pub locale: Option<String>,
    /// Where its page sends the browser back after a redirect-mode connect.
    pub return_url: Option<String>,
}

/// The columns a [`SessionRecord`] reads.
pub(super) const SESSION_COLUMNS: &str =
    "id, org, user_id, role, created_by, created_at, expires_at, providers, locale, return_url";

impl Store {
    pub async fn insert_session(&self, digest: &str, rec: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (digest, id, org, user_id, role, created_by, created_at, expires_at, providers, locale, return_url) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(digest)
        .bind(&rec.id)
        .bind(&rec.org)
        .bind(&rec.user_id)
        .bind(&rec.role)
        .bind(&rec.created_by)
        .bind(rec.created_at)
        .bind(rec.expires_at)
        .bind(&rec.providers)
        .bind(&rec.locale)
        .bind(&rec.return_url)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The session with this digest, if it has not expired at `now`.
    pub async fn live_session(&self, digest: &str, now: i64) -> StoreResult<Option<SessionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE digest = $1 AND expires_at > $2"
        )))
        .bind(digest)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Live sessions, newest first, of one org (or all) and optionally one user.
    pub async fn live_sessions(
        &self,
        org: Option<&str>,
        user: Option<&str>,
        now: i64,
        page: &super::Page,
    ) -> StoreResult<Vec<SessionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions \
             WHERE expires_at > $1 AND ($2 IS NULL OR org = $2) AND ($3 IS NULL OR user_id = $3) \
               AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        )))
        .bind(now)
        .bind(org)
        .bind(user)
        .bind(page.after.clone())
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends a session at once; the record it was, if it existed in that scope.
    pub async fn delete_session(
        &self,
        id: &str,
        org: Option<&str>,
        user: Option<&str>,
    ) -> StoreResult<Option<SessionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "DELETE FROM sessions WHERE id = $1 AND ($2 IS NULL OR org = $2) AND ($3 IS NULL OR user_id = $3) \
             RETURNING {SESSION_COLUMNS}"
        )))
        .bind(id)
        .bind(org)
        .bind(user)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// Deletes sessions that expired before `now`; returns how many.
    pub async fn purge_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }
}
