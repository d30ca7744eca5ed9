use sqlx::FromRow;

use super::{Store, StoreResult};

/// One authorization request in flight.
#[derive(Debug, Clone, FromRow)]
pub struct HandshakeRecord {
    pub id: String,
    pub state_digest: String,
    pub org: String,
    pub user_id: Option<String>,
    pub integration: String,
    pub provider: String,
    /// Set when the flow re-authorizes an existing connection.
    pub connection_id: Option<String>,
    pub label: Option<String>,
    pub shared: i32,
    pub redirect_uri: Option<String>,
    /// JSON array.
    pub scopes: String,
    /// JSON object of placeholder values (shop, tenant…).
    pub params: String,
    pub pkce_verifier: Option<Vec<u8>>,
    pub expected_issuer: Option<String>,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    /// The actor that started the flow, as the audit log names it.
    pub started_by: String,
    /// 1 when re-authorising may sign in to another account than the connection's.
    pub replace_account: i32,
    /// SHA-256 of the cookie that binds the flow to one browser, when bound.
    pub browser_digest: Option<String>,
}

const COLUMNS: &str = "id, state_digest, org, user_id, integration, provider, connection_id, label, shared, redirect_uri, \
     scopes, params, pkce_verifier, expected_issuer, status, error_code, error_message, created_at, expires_at, completed_at, \
     started_by, replace_account, browser_digest";

impl Store {
    pub async fn insert_handshake(&self, h: &HandshakeRecord) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO oauth_handshakes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18, $19, $20, $21, $22, $23)"
        )))
        .bind(&h.id)
        .bind(&h.state_digest)
        .bind(&h.org)
        .bind(h.user_id.clone())
        .bind(&h.integration)
        .bind(&h.provider)
        .bind(h.connection_id.clone())
        .bind(h.label.clone())
        .bind(h.shared)
        .bind(h.redirect_uri.clone())
        .bind(&h.scopes)
        .bind(&h.params)
        .bind(h.pkce_verifier.clone())
        .bind(h.expected_issuer.clone())
        .bind(&h.status)
        .bind(h.error_code.clone())
        .bind(h.error_message.clone())
        .bind(h.created_at)
        .bind(h.expires_at)
        .bind(h.completed_at)
        .bind(&h.started_by)
        .bind(h.replace_account)
        .bind(h.browser_digest.clone())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes a pending, unexpired handshake by its state, exactly once: the
    /// first caller moves it to `exchanging`, every later one gets `None`.
    pub async fn consume_handshake(&self, state_digest: &str, now: i64) -> StoreResult<Option<HandshakeRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE oauth_handshakes SET status = 'exchanging' \
             WHERE state_digest = $1 AND status = 'pending' AND expires_at > $2 RETURNING {COLUMNS}"
        )))
        .bind(state_digest)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// A handshake by state, whatever its status (to explain a refusal).
    pub async fn handshake_by_state(&self, state_digest: &str) -> StoreResult<Option<HandshakeRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM oauth_handshakes WHERE state_digest = $1"
        )))
        .bind(state_digest)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn handshake(&self, id: &str, org: Option<&str>) -> StoreResult<Option<HandshakeRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM oauth_handshakes WHERE id = $1 AND ($2 IS NULL OR org = $2)"
        )))
        .bind(id)
        .bind(org)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Ends a handshake: `completed` with its connection, or `failed` with a code and message.
    pub async fn finish_handshake(
        &self,
        id: &str,
        status: &str,
        connection_id: Option<&str>,
        error: Option<(&str, &str)>,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE oauth_handshakes SET status = $1, connection_id = COALESCE($2, connection_id), error_code = $3, \
               error_message = $4, completed_at = $5, pkce_verifier = NULL WHERE id = $6",
        )
        .bind(status)
        .bind(connection_id)
        .bind(error.map(|e| e.0))
        .bind(error.map(|e| e.1))
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Deletes handshakes that expired more than a day before `now`.
    pub async fn purge_handshakes(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM oauth_handshakes WHERE expires_at < $1")
            .bind(now - 86_400_000)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
