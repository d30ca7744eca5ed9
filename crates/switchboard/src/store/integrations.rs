use sqlx::FromRow;

use super::{Store, StoreError, StoreResult};

/// An operator's OAuth app. `client_secret` is a vault envelope.
#[derive(Debug, Clone, FromRow)]
pub struct IntegrationRecord {
    pub id: String,
    pub provider: String,
    pub client_id: String,
    pub client_secret: Option<Vec<u8>>,
    /// JSON array of scope strings.
    pub scopes: String,
    pub redirect_uri: Option<String>,
    /// JSON object of provider-specific settings (custom-oauth2 endpoints…).
    pub settings: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct IntegrationPatch {
    pub client_id: Option<String>,
    pub client_secret: Option<Vec<u8>>,
    pub scopes: Option<String>,
    pub redirect_uri: Option<Option<String>>,
    pub settings: Option<String>,
}

const COLUMNS: &str = "id, provider, client_id, client_secret, scopes, redirect_uri, settings, created_at, updated_at";

impl Store {
    pub async fn insert_integration(&self, rec: &IntegrationRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO integrations (id, provider, client_id, client_secret, scopes, redirect_uri, settings, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&rec.id)
        .bind(&rec.provider)
        .bind(&rec.client_id)
        .bind(rec.client_secret.clone())
        .bind(&rec.scopes)
        .bind(rec.redirect_uri.clone())
        .bind(&rec.settings)
        .bind(rec.created_at)
        .bind(rec.updated_at)
        .execute(&self.writer)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("an integration with id {:?} already exists", rec.id))
            }
            other => other,
        })?;
        Ok(())
    }

    pub async fn integration(&self, id: &str) -> StoreResult<Option<IntegrationRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM integrations WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn integrations(&self, provider: Option<&str>) -> StoreResult<Vec<IntegrationRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM integrations WHERE ($1 IS NULL OR provider = $1) ORDER BY id"
        )))
        .bind(provider)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Applies `patch` in one statement; the updated record, or `NotFound`.
    pub async fn update_integration(
        &self,
        id: &str,
        patch: IntegrationPatch,
        now: i64,
    ) -> StoreResult<IntegrationRecord> {
        let (set_redirect, redirect) = match patch.redirect_uri {
            Some(v) => (true, v),
            None => (false, None),
        };
        let rec: Option<IntegrationRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE integrations SET \
               client_id = COALESCE($1, client_id), \
               client_secret = COALESCE($2, client_secret), \
               scopes = COALESCE($3, scopes), \
               redirect_uri = CASE WHEN $4 THEN $5 ELSE redirect_uri END, \
               settings = COALESCE($6, settings), \
               updated_at = $7 \
             WHERE id = $8 RETURNING {COLUMNS}"
        )))
        .bind(patch.client_id)
        .bind(patch.client_secret)
        .bind(patch.scopes)
        .bind(set_redirect)
        .bind(redirect)
        .bind(patch.settings)
        .bind(now)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        rec.ok_or(StoreError::NotFound)
    }

    pub async fn delete_integration(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM integrations WHERE id = $1").bind(id).execute(&self.writer).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
