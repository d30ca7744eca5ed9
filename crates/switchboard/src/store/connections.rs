use sqlx::FromRow;

use super::{Page, Store, StoreError, StoreResult};

/// A stored connection. `credentials` is a vault envelope; JSON columns are text.
#[derive(Debug, Clone, FromRow)]
pub struct ConnectionRecord {
    pub id: String,
    pub org: String,
    pub owner: Option<String>,
    pub provider: String,
    pub integration: Option<String>,
    pub auth_mode: String,
    pub label: String,
    /// 1 when shared with the org, 0 when private to its owner.
    pub shared: i32,
    pub status: String,
    pub credentials: Vec<u8>,
    pub params: String,
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub account_email: Option<String>,
    pub metadata: String,
    pub last_error: Option<String>,
    pub failure_count: i32,
    pub last_tested_at: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    pub last_sync_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub refresh_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub sync_at: Option<i64>,
}

/// Which connections to list. `org = None` is every org (secret keys only).
/// `visible_to` limits a member to shared connections and their own.
#[derive(Debug, Default, Clone)]
pub struct ConnectionFilter {
    pub org: Option<String>,
    pub provider: Option<String>,
    pub status: Option<String>,
    pub visible_to: Option<String>,
}

/// The account identity columns, written together.
#[derive(Debug, Clone, Default)]
pub struct AccountColumns {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// JSON object.
    pub metadata: String,
}

/// Counts per provider and status, for `/v1/status`.
#[derive(Debug, Clone, FromRow)]
pub struct StatusCount {
    pub provider: String,
    pub status: String,
    pub count: i64,
    pub last_error: Option<String>,
}

pub(super) const COLUMNS: &str = "id, org, owner, provider, integration, auth_mode, label, shared, status, credentials, params, \
     scopes, expires_at, account_id, account_name, account_email, metadata, last_error, failure_count, last_tested_at, \
     last_refreshed_at, last_sync_at, created_at, updated_at, refresh_at, lease_owner, lease_until, sync_at";

impl Store {
    pub async fn insert_connection(&self, c: &ConnectionRecord) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO connections ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
        )))
        .bind(&c.id)
        .bind(&c.org)
        .bind(c.owner.clone())
        .bind(&c.provider)
        .bind(c.integration.clone())
        .bind(&c.auth_mode)
        .bind(&c.label)
        .bind(c.shared)
        .bind(&c.status)
        .bind(&c.credentials)
        .bind(&c.params)
        .bind(&c.scopes)
        .bind(c.expires_at)
        .bind(c.account_id.clone())
        .bind(c.account_name.clone())
        .bind(c.account_email.clone())
        .bind(&c.metadata)
        .bind(c.last_error.clone())
        .bind(c.failure_count)
        .bind(c.last_tested_at)
        .bind(c.last_refreshed_at)
        .bind(c.last_sync_at)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.refresh_at)
        .bind(c.lease_owner.clone())
        .bind(c.lease_until)
        .bind(c.sync_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The connection with this id in this org (`org = None`: any org).
    pub async fn connection(&self, id: &str, org: Option<&str>) -> StoreResult<Option<ConnectionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM connections WHERE id = $1 AND ($2 IS NULL OR org = $2)"
        )))
        .bind(id)
        .bind(org)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Oldest first; `page.after` is the last id of the previous page.
    pub async fn connections(&self, f: &ConnectionFilter, page: &Page) -> StoreResult<Vec<ConnectionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM connections \
             WHERE ($1 IS NULL OR org = $1) AND ($2 IS NULL OR provider = $2) AND ($3 IS NULL OR status = $3) \
               AND ($4 IS NULL OR shared = 1 OR owner = $4) AND ($5 IS NULL OR id > $5) \
             ORDER BY id LIMIT $6"
        )))
        .bind(f.org.clone())
        .bind(f.provider.clone())
        .bind(f.status.clone())
        .bind(f.visible_to.clone())
        .bind(page.after.clone())
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Label and sharing; the updated record, or `NotFound`.
    pub async fn update_connection_settings(
        &self,
        id: &str,
        label: Option<&str>,
        shared: Option<bool>,
        now: i64,
    ) -> StoreResult<ConnectionRecord> {
        let rec: Option<ConnectionRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE connections SET label = COALESCE($1, label), shared = COALESCE($2, shared), updated_at = $3 \
             WHERE id = $4 RETURNING {COLUMNS}"
        )))
        .bind(label)
        .bind(shared.map(i32::from))
        .bind(now)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        rec.ok_or(StoreError::NotFound)
    }

    /// Records a test's outcome: status, error, and the account when it was read.
    pub async fn record_connection_test(
        &self,
        id: &str,
        status: &str,
        last_error: Option<&str>,
        account: Option<&AccountColumns>,
        now: i64,
    ) -> StoreResult<()> {
        let a = account.cloned().unwrap_or_default();
        sqlx::query(
            "UPDATE connections SET status = $1, last_error = $2, last_tested_at = $3, updated_at = $3, \
               account_id = CASE WHEN $4 THEN $5 ELSE account_id END, \
               account_name = CASE WHEN $4 THEN $6 ELSE account_name END, \
               account_email = CASE WHEN $4 THEN $7 ELSE account_email END, \
               metadata = CASE WHEN $4 THEN $8 ELSE metadata END \
             WHERE id = $9",
        )
        .bind(status)
        .bind(last_error)
        .bind(now)
        .bind(account.is_some())
        .bind(a.id)
        .bind(a.name)
        .bind(a.email)
        .bind(a.metadata)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_connection(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM connections WHERE id = $1").bind(id).execute(&self.writer).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn count_connections_of_integration(&self, integration: &str) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM connections WHERE integration = $1")
            .bind(integration)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Per provider and status: how many, and the newest error message.
    pub async fn connection_status(
        &self,
        org: Option<&str>,
        visible_to: Option<&str>,
    ) -> StoreResult<Vec<StatusCount>> {
        Ok(sqlx::query_as(
            "SELECT provider, status, COUNT(*) AS count, MAX(last_error) AS last_error FROM connections \
             WHERE ($1 IS NULL OR org = $1) AND ($2 IS NULL OR shared = 1 OR owner = $2) \
             GROUP BY provider, status ORDER BY provider, status",
        )
        .bind(org)
        .bind(visible_to)
        .fetch_all(&self.pool)
        .await?)
    }
}
