//! Connect links and the browser sessions of the consoles.

use sqlx::FromRow;

use super::sessions::SESSION_COLUMNS;
use super::{SessionRecord, Store, StoreResult};

/// A browser session as its cookie resolves it: the CSRF token and what it acts as.
#[derive(Debug, Clone, FromRow)]
pub struct BrowserSessionRecord {
    pub csrf: String,
    pub expires_at: i64,
    pub session_id: Option<String>,
    pub api_key_id: Option<String>,
}

/// What using a connect link found.
#[derive(Debug)]
pub enum LinkUse {
    /// Used now: the live session it opens.
    Opened(Box<SessionRecord>),
    /// Used before, expired, or its session ended.
    Spent,
    Unknown,
}

impl Store {
    pub async fn insert_connect_link(&self, digest: &str, session_id: &str, expires_at: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO connect_links (digest, session_id, expires_at) VALUES ($1, $2, $3)")
            .bind(digest)
            .bind(session_id)
            .bind(expires_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Marks the link used — once, whoever asks first — and answers the live session it opens.
    pub async fn use_connect_link(&self, digest: &str, now: i64) -> StoreResult<LinkUse> {
        let claimed: Option<(String,)> = sqlx::query_as(
            "UPDATE connect_links SET used_at = $1 WHERE digest = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING session_id",
        )
        .bind(now)
        .bind(digest)
        .fetch_optional(&self.writer)
        .await?;
        let Some((session_id,)) = claimed else {
            let known: Option<(String,)> = sqlx::query_as("SELECT session_id FROM connect_links WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&self.writer)
                .await?;
            return Ok(if known.is_some() { LinkUse::Spent } else { LinkUse::Unknown });
        };
        let session = self.live_session_by_id(&session_id, now).await?;
        Ok(session.map_or(LinkUse::Spent, |s| LinkUse::Opened(Box::new(s))))
    }

    pub async fn insert_browser_session(
        &self,
        digest: &str,
        session_id: Option<&str>,
        api_key_id: Option<&str>,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO browser_sessions (digest, session_id, api_key_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(digest)
        .bind(session_id)
        .bind(api_key_id)
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The live browser session with this cookie digest.
    pub async fn live_browser_session(&self, digest: &str, now: i64) -> StoreResult<Option<BrowserSessionRecord>> {
        Ok(sqlx::query_as(
            "SELECT csrf, expires_at, session_id, api_key_id FROM browser_sessions WHERE digest = $1 AND expires_at > $2",
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The live session with this id (a browser session's end-user session).
    pub async fn live_session_by_id(&self, id: &str, now: i64) -> StoreResult<Option<SessionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1 AND expires_at > $2"
        )))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The secret key with this id, unless revoked.
    pub async fn live_api_key_by_id(&self, id: &str) -> StoreResult<Option<super::ApiKeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, name, hint, created_at, last_used_at, revoked_at FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn delete_browser_session(&self, digest: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM browser_sessions WHERE digest = $1").bind(digest).execute(&self.writer).await?;
        Ok(())
    }

    /// Deletes expired links and browser sessions; returns how many.
    pub async fn purge_expired_browser_state(&self, now: i64) -> StoreResult<u64> {
        let a = sqlx::query("DELETE FROM connect_links WHERE expires_at <= $1").bind(now).execute(&self.writer).await?;
        let b =
            sqlx::query("DELETE FROM browser_sessions WHERE expires_at <= $1").bind(now).execute(&self.writer).await?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}
