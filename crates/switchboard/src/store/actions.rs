//! Action runs kept for `Idempotency-Key`: claimed before the provider is called, finished with
//! the answer, released when the run ended before anything could have happened at the provider.

use sqlx::FromRow;

use super::{Store, StoreResult};

#[derive(Debug, Clone, FromRow)]
pub struct ActionRunRecord {
    pub id: String,
    pub connection_id: String,
    pub idempotency_key: String,
    pub org: String,
    pub action: String,
    pub request_digest: String,
    /// The HTTP status answered; `None` while the run is in flight.
    pub status: Option<i32>,
    /// The answer's body, sealed.
    pub answer: Option<Vec<u8>>,
    pub created_at: i64,
}

/// What claiming a key found.
#[derive(Debug)]
pub enum ActionRunClaim {
    /// The key is this run's now.
    Claimed,
    /// The key was used before (finished, or still in flight).
    Existing(ActionRunRecord),
}

const COLUMNS: &str = "id, connection_id, idempotency_key, org, action, request_digest, status, answer, created_at";

impl Store {
    /// Claims `(connection, key)` for the run `rec` describes. A claim left in flight since before
    /// `stale_before` (its instance died mid-run), or any run made before `expired_before` (past
    /// the retention, not purged yet), is taken over.
    pub async fn claim_action_run(
        &self,
        rec: &ActionRunRecord,
        stale_before: i64,
        expired_before: i64,
    ) -> StoreResult<ActionRunClaim> {
        let inserted = sqlx::query(
            "INSERT INTO action_runs (id, connection_id, idempotency_key, org, action, request_digest, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (connection_id, idempotency_key) DO NOTHING",
        )
        .bind(&rec.id)
        .bind(&rec.connection_id)
        .bind(&rec.idempotency_key)
        .bind(&rec.org)
        .bind(&rec.action)
        .bind(&rec.request_digest)
        .bind(rec.created_at)
        .execute(&self.writer)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(ActionRunClaim::Claimed);
        }
        let taken = sqlx::query(
            "UPDATE action_runs SET id = $1, action = $2, request_digest = $3, created_at = $4, status = NULL, \
             answer = NULL WHERE connection_id = $5 AND idempotency_key = $6 \
             AND ((status IS NULL AND created_at < $7) OR created_at < $8)",
        )
        .bind(&rec.id)
        .bind(&rec.action)
        .bind(&rec.request_digest)
        .bind(rec.created_at)
        .bind(&rec.connection_id)
        .bind(&rec.idempotency_key)
        .bind(stale_before)
        .bind(expired_before)
        .execute(&self.writer)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(ActionRunClaim::Claimed);
        }
        let existing: Option<ActionRunRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM action_runs WHERE connection_id = $1 AND idempotency_key = $2"
        )))
        .bind(&rec.connection_id)
        .bind(&rec.idempotency_key)
        .fetch_optional(&self.writer)
        .await?;
        match existing {
            Some(e) => Ok(ActionRunClaim::Existing(e)),
            // Purged between the insert and the read: the caller may simply try again.
            None => {
                Err(super::StoreError::Conflict("the idempotency key was being purged; send the request again".into()))
            }
        }
    }

    /// Records the answer of the run holding the claim `id`.
    pub async fn finish_action_run(&self, id: &str, status: i32, answer: &[u8]) -> StoreResult<()> {
        sqlx::query("UPDATE action_runs SET status = $1, answer = $2 WHERE id = $3")
            .bind(status)
            .bind(answer)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Gives the key back: the run ended before the provider could have acted on it.
    pub async fn release_action_run(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM action_runs WHERE id = $1 AND status IS NULL").bind(id).execute(&self.writer).await?;
        Ok(())
    }

    /// Forgets runs made before `before`; returns how many.
    pub async fn purge_action_runs(&self, before: i64) -> StoreResult<u64> {
        let done =
            sqlx::query("DELETE FROM action_runs WHERE created_at < $1").bind(before).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }
}
