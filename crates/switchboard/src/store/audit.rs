use sqlx::FromRow;

use super::{Backend, Page, Store, StoreResult};

/// One audit entry. `detail` is a JSON object that never holds a secret.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub org: Option<String>,
    pub actor: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub outcome: String,
    pub detail: String,
}

pub type NewAudit = AuditRecord;

/// Which entries to list. `org = None` means every org (secret keys only).
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub org: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
}

impl Store {
    pub async fn insert_audit(&self, rec: &NewAudit) -> StoreResult<()> {
        self.insert_audit_batch(&[rec]).await
    }

    /// Inserts several entries in one statement (one commit, one fsync, and one trip to the
    /// database's thread or process rather than one per entry).
    pub async fn insert_audit_batch(&self, recs: &[&NewAudit]) -> StoreResult<()> {
        const COLUMNS: usize = 9;
        if recs.is_empty() {
            return Ok(());
        }
        let mut sql = String::with_capacity(110 + recs.len() * 48);
        sql.push_str(
            "INSERT INTO audit_log (id, at, org, actor, action, target_kind, target_id, outcome, detail) VALUES ",
        );
        for i in 0..recs.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..COLUMNS {
                if c > 0 {
                    sql.push(',');
                }
                match self.backend {
                    // Positional on SQLite: sqlx looks each `$N` up by name, which SQLite answers
                    // by a scan of every name, so a long `$N` list binds in quadratic time.
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => sql.push_str(&format!("${}", i * COLUMNS + c + 1)),
                }
            }
            sql.push(')');
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for rec in recs {
            query = query
                .bind(&rec.id)
                .bind(rec.at)
                .bind(rec.org.clone())
                .bind(&rec.actor)
                .bind(&rec.action)
                .bind(&rec.target_kind)
                .bind(&rec.target_id)
                .bind(&rec.outcome)
                .bind(&rec.detail);
        }
        query.execute(&self.writer).await?;
        Ok(())
    }

    /// Newest first; `page.after` is the last id of the previous page.
    pub async fn audit(&self, filter: &AuditFilter, page: &Page) -> StoreResult<Vec<AuditRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, at, org, actor, action, target_kind, target_id, outcome, detail FROM audit_log \
             WHERE ($1 IS NULL OR org = $1) AND ($2 IS NULL OR target_id = $2) AND ($3 IS NULL OR action = $3) \
               AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5",
        )
        .bind(filter.org.clone())
        .bind(filter.target.clone())
        .bind(filter.action.clone())
        .bind(page.after.clone())
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await?)
    }
}
