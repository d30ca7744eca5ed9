//! Token lifecycle bookkeeping on connections: leases that make a refresh
//! single-flight across instances, claims of due work, and writes that only
//! land while the writer still holds the lease.

use super::connections::COLUMNS;
use super::{AccountColumns, Backend, ConnectionRecord, Store, StoreResult};

/// New tokens to store after a refresh.
#[derive(Debug)]
pub struct RefreshedTokens<'a> {
    pub credentials: &'a [u8],
    pub expires_at: Option<i64>,
    pub refresh_at: Option<i64>,
    /// JSON array, when the provider reported the granted scopes.
    pub scopes: Option<&'a str>,
    pub now: i64,
}

/// A successful refresh to store with others in one transaction
/// ([`Store::store_refreshed_batch`]).
#[derive(Debug)]
pub struct RefreshToStore {
    pub id: String,
    /// The instance that holds the lease.
    pub owner: String,
    pub credentials: Vec<u8>,
    pub expires_at: Option<i64>,
    pub refresh_at: Option<i64>,
    /// JSON array, when the provider reported the granted scopes.
    pub scopes: Option<String>,
    pub now: i64,
    /// The console's hourly refresh count this one adds to (the hour's first millisecond).
    pub hour: i64,
    pub provider: String,
}

/// New tokens in, the lease released, only while the lease is still held.
const STORE_REFRESHED: &str = "UPDATE connections SET credentials = $1, expires_at = $2, refresh_at = $3, \
    scopes = COALESCE($4, scopes), status = 'connected', failure_count = 0, last_error = NULL, \
    last_refreshed_at = $5, updated_at = $5, lease_owner = NULL, lease_until = NULL \
    WHERE id = $6 AND lease_owner = $7";

/// The outcome of a failed refresh.
#[derive(Debug)]
pub struct RefreshFailure<'a> {
    pub status: &'a str,
    pub last_error: &'a str,
    pub failure_count: i32,
    pub refresh_at: Option<i64>,
    pub now: i64,
}

impl Store {
    /// Takes the connection's lease if it is free (or lapsed); the record, or `None` when another holds it.
    pub async fn claim_connection(
        &self,
        id: &str,
        owner: &str,
        until: i64,
        now: i64,
    ) -> StoreResult<Option<ConnectionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE connections SET lease_owner = $1, lease_until = $2 \
             WHERE id = $3 AND (lease_until IS NULL OR lease_until < $4) RETURNING {COLUMNS}"
        )))
        .bind(owner)
        .bind(until)
        .bind(id)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// Claims up to `limit` connections whose refresh is due by `due_by` and whose lease is free.
    /// On PostgreSQL, `SKIP LOCKED` gives concurrent instances disjoint sets.
    pub async fn claim_due_refreshes(
        &self,
        owner: &str,
        until: i64,
        now: i64,
        due_by: i64,
        limit: i64,
    ) -> StoreResult<Vec<ConnectionRecord>> {
        self.claim_due("refresh_at", owner, until, now, due_by, limit).await
    }

    /// Claims up to `limit` connections whose metadata sync is due.
    pub async fn claim_due_syncs(
        &self,
        owner: &str,
        until: i64,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<ConnectionRecord>> {
        self.claim_due("sync_at", owner, until, now, now, limit).await
    }

    async fn claim_due(
        &self,
        column: &str,
        owner: &str,
        until: i64,
        now: i64,
        due_by: i64,
        limit: i64,
    ) -> StoreResult<Vec<ConnectionRecord>> {
        let skip_locked = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE connections SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM connections \
                          WHERE {column} IS NOT NULL AND {column} <= $3 AND (lease_until IS NULL OR lease_until < $4) \
                          ORDER BY {column} LIMIT $5 {skip_locked}) \
               AND (lease_until IS NULL OR lease_until < $4) \
             RETURNING {COLUMNS}"
        )))
        .bind(owner)
        .bind(until)
        .bind(due_by)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.writer)
        .await?)
    }

    /// Stores refreshed tokens and releases the lease, in one statement — only
    /// while `owner` still holds it. `false` when the lease was lost.
    pub async fn store_refreshed(&self, id: &str, owner: &str, t: &RefreshedTokens<'_>) -> StoreResult<bool> {
        let done = sqlx::query(STORE_REFRESHED)
            .bind(t.credentials)
            .bind(t.expires_at)
            .bind(t.refresh_at)
            .bind(t.scopes)
            .bind(t.now)
            .bind(id)
            .bind(owner)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores several refreshes' tokens and counts them for the console in one transaction
    /// (one commit and one fsync for the lot); whether each was stored, in order. Each is
    /// stored only while its `owner` still holds the lease, as [`Self::store_refreshed`].
    pub async fn store_refreshed_batch(&self, items: &[RefreshToStore]) -> StoreResult<Vec<bool>> {
        let mut tx = self.begin_write().await?;
        let mut stored = Vec::with_capacity(items.len());
        for t in items {
            let done = sqlx::query(STORE_REFRESHED)
                .bind(t.credentials.as_slice())
                .bind(t.expires_at)
                .bind(t.refresh_at)
                .bind(t.scopes.as_deref())
                .bind(t.now)
                .bind(t.id.as_str())
                .bind(t.owner.as_str())
                .execute(&mut *tx)
                .await?;
            stored.push(done.rows_affected() == 1);
        }
        let mut counts: std::collections::BTreeMap<(i64, &str), i64> = std::collections::BTreeMap::new();
        for t in items {
            *counts.entry((t.hour, t.provider.as_str())).or_default() += 1;
        }
        for ((hour, provider), n) in counts {
            sqlx::query(
                "INSERT INTO refresh_stats (hour, provider, outcome, count) VALUES ($1, $2, 'success', $3) \
                 ON CONFLICT (hour, provider, outcome) DO UPDATE SET count = refresh_stats.count + $3",
            )
            .bind(hour)
            .bind(provider)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// Records a failed refresh and releases the lease, only while `owner` holds it.
    pub async fn record_refresh_failure(&self, id: &str, owner: &str, f: &RefreshFailure<'_>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE connections SET status = $1, last_error = $2, failure_count = $3, refresh_at = $4, updated_at = $5, \
               lease_owner = NULL, lease_until = NULL \
             WHERE id = $6 AND lease_owner = $7",
        )
        .bind(f.status)
        .bind(f.last_error)
        .bind(f.failure_count)
        .bind(f.refresh_at)
        .bind(f.now)
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease back without changing anything else.
    pub async fn release_connection(&self, id: &str, owner: &str) -> StoreResult<()> {
        sqlx::query("UPDATE connections SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Records a metadata sync and releases the lease.
    pub async fn store_sync(
        &self,
        id: &str,
        owner: &str,
        account: Option<&AccountColumns>,
        next_sync_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        let a = account.cloned().unwrap_or_default();
        sqlx::query(
            "UPDATE connections SET \
               account_id = CASE WHEN $1 THEN $2 ELSE account_id END, \
               account_name = CASE WHEN $1 THEN $3 ELSE account_name END, \
               account_email = CASE WHEN $1 THEN $4 ELSE account_email END, \
               metadata = CASE WHEN $1 THEN $5 ELSE metadata END, \
               last_sync_at = CASE WHEN $1 THEN $6 ELSE last_sync_at END, \
               sync_at = $7, lease_owner = NULL, lease_until = NULL \
             WHERE id = $8 AND lease_owner = $9",
        )
        .bind(account.is_some())
        .bind(a.id)
        .bind(a.name)
        .bind(a.email)
        .bind(a.metadata)
        .bind(now)
        .bind(next_sync_at)
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Replaces a connection's tokens after the user authorized again (reconnect / more scopes).
    pub async fn reauthorize_connection(&self, rec: &ConnectionRecord) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE connections SET credentials = $1, scopes = $2, expires_at = $3, refresh_at = $4, account_id = $5, \
               account_name = $6, account_email = $7, metadata = $8, status = 'connected', failure_count = 0, \
               last_error = NULL, last_refreshed_at = $9, updated_at = $9, sync_at = $10, params = $13 \
             WHERE id = $11 AND org = $12",
        )
        .bind(&rec.credentials)
        .bind(&rec.scopes)
        .bind(rec.expires_at)
        .bind(rec.refresh_at)
        .bind(rec.account_id.clone())
        .bind(rec.account_name.clone())
        .bind(rec.account_email.clone())
        .bind(&rec.metadata)
        .bind(rec.updated_at)
        .bind(rec.sync_at)
        .bind(&rec.id)
        .bind(&rec.org)
        .bind(&rec.params)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
