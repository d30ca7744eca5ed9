//! All SQL lives here. One implementation serves SQLite (the embedded default)
//! and PostgreSQL (scale-out) through sqlx's `Any` driver: ids are TEXT,
//! instants BIGINT unix milliseconds, secrets BLOB/BYTEA holding vault
//! envelopes. Where the dialects differ (SKIP LOCKED, `BEGIN IMMEDIATE`) the
//! code asks [`Backend`]. Two migration trees share one version history.
//!
//! Every read and write of tenant data takes the org it is scoped to, so a
//! caller cannot reach another org's rows by guessing an id.

mod actions;
mod api_keys;
mod audit;
mod browser;
mod connections;
mod console;
mod data_keys;
mod handshakes;
mod integrations;
mod lifecycle;
mod sessions;
mod webhooks;

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

pub use actions::{ActionRunClaim, ActionRunRecord};
pub use api_keys::ApiKeyRecord;
pub use audit::{AuditFilter, AuditRecord, NewAudit};
pub use browser::{BrowserSessionRecord, LinkUse};
pub use connections::{AccountColumns, ConnectionFilter, ConnectionRecord, StatusCount};
pub use console::{EndpointTraffic, RefreshBucket};
pub use data_keys::DataKeyRecord;
pub use handshakes::HandshakeRecord;
pub use integrations::{IntegrationPatch, IntegrationRecord};
pub use lifecycle::{RefreshFailure, RefreshToStore, RefreshedTokens};
pub use sessions::SessionRecord;
pub use webhooks::{
    AttemptOutcome, AttemptRecord, AttemptToRecord, DeliveryFilter, DeliveryRecord, EndpointRecord, EventFilter,
    EventRecord, EventSummary, NewEvent, SubscriptionRecord,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                Self::Unavailable(err.to_string())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(db.message().to_owned()),
            sqlx::Error::Database(db) if db.code().as_deref().is_some_and(database_went_away) => {
                Self::Unavailable(err.to_string())
            }
            sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_) => Self::Unavailable(err.to_string()),
            _ => Self::Database(err.to_string()),
        }
    }
}

/// Whether a database error code means the database cannot serve now — disk full, file or server
/// read-only, I/O failing, a server shutting down or out of connections — rather than that the
/// statement was wrong: the caller gets 503 and may retry, and nothing stored is touched.
fn database_went_away(code: &str) -> bool {
    // SQLite reports its (extended) result code as a number; the primary code is the low byte.
    if let Ok(n) = code.parse::<i64>() {
        // BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
        return matches!(n & 0xFF, 5 | 6 | 8 | 10 | 13 | 14);
    }
    // PostgreSQL SQLSTATEs: connection exceptions, insufficient resources (disk full, too many
    // connections), operator intervention (shutdown, crash, cannot connect now), read-only transaction.
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code == "25006"
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The database. Cheap to clone: it is a pool handle.
///
/// Reads use `pool`; writes use `writer`. On PostgreSQL they are the same
/// pool. On SQLite, which admits one writer at a time, `writer` is a single
/// connection, so concurrent writes queue in order instead of retrying
/// against the database lock with sleeps (the cause of multi-second stalls).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    writer: AnyPool,
    backend: Backend,
}

/// What `connect` needs to know about the database.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Store {
    /// Opens a pool. SQLite connections get WAL, a busy timeout, foreign keys
    /// and full fsync on commit (an acknowledged write survives power loss).
    pub async fn connect(options: &StoreOptions) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if options.url.starts_with("postgres://") || options.url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let connect: AnyConnectOptions =
            options.url.parse().map_err(|e: sqlx::Error| StoreError::Unavailable(format!("bad database URL: {e}")))?;
        let pool_of = |size: u32| {
            // A SQLite file does not go away between queries: the liveness ping sqlx makes on every
            // acquire would be one more hand-off to the connection's worker thread per query.
            AnyPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(options.acquire_timeout)
                .test_before_acquire(backend == Backend::Postgres)
                // A COMMIT that fails (disk full, file read-only) can leave the driver counting an
                // open transaction that the database already rolled back, and every later BEGIN on
                // that connection would fail: such a connection is closed, not handed out again.
                .before_acquire(|conn, _meta| Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) }))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                                 PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
                            )
                            .await?;
                        }
                        Ok(())
                    })
                })
        };
        let pool = pool_of(options.max_connections).connect_with(connect.clone()).await?;
        let writer = match backend {
            Backend::Sqlite => pool_of(1).connect_with(connect).await?,
            Backend::Postgres => pool.clone(),
        };
        Ok(Self { pool, writer, backend })
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies pending migrations; safe to run from several instances at once.
    pub async fn migrate(&self) -> StoreResult<()> {
        self.migrator().run(&self.writer).await.map_err(|e| StoreError::Database(e.to_string()))
    }

    /// The newest migration this binary knows, and whether the database has applied all of them.
    pub async fn migrations_current(&self) -> StoreResult<bool> {
        let applied: Vec<(i64,)> =
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success = TRUE").fetch_all(&self.pool).await?;
        let applied: std::collections::HashSet<i64> = applied.into_iter().map(|(v,)| v).collect();
        Ok(self.migrator().iter().all(|m| applied.contains(&m.version)))
    }

    /// The newest SQLite migration this binary knows.
    #[must_use]
    pub fn newest_sqlite_migration() -> i64 {
        SQLITE_MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// A consistent copy of the SQLite database written to `path` (`VACUUM INTO`): one read
    /// transaction, so others go on reading and writing while it is made.
    pub async fn sqlite_backup_into(&self, path: &str) -> StoreResult<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Unavailable("VACUUM INTO is SQLite's; PostgreSQL has pg_dump".into()));
        }
        sqlx::query("VACUUM INTO ?").bind(path.to_owned()).execute(&self.pool).await?;
        Ok(())
    }

    /// Moves everything in SQLite's write-ahead log into the database file and empties the log.
    pub async fn checkpoint(&self) -> StoreResult<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.writer).await?;
        }
        Ok(())
    }

    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// A write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so a read-then-write cannot fail half-way with SQLITE_BUSY.
    pub(crate) async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// Replaces one sealed value, only if it is still `old`: a value the server rewrote meanwhile
    /// (sealed under whichever key it uses) is left to the next pass.
    pub async fn replace_sealed(&self, v: &SealedValue, new: &[u8]) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE {table} SET {col} = $1 WHERE {id} = $2 AND {col} = $3",
            table = v.table,
            col = v.column,
            id = v.id_column
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new.to_vec())
            .bind(v.row.clone())
            .bind(v.sealed.clone())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every sealed value in the database, for `vault check` and re-sealing.
    pub async fn sealed_values(&self) -> StoreResult<Vec<SealedValue>> {
        let mut out = Vec::new();
        for col in SEALED_COLUMNS {
            let sql = format!(
                "SELECT {org}, {id}, {col} FROM {table} WHERE {col} IS NOT NULL",
                org = col.org_column.unwrap_or("''"),
                id = col.id_column,
                col = col.column,
                table = col.table
            );
            let rows: Vec<(String, String, Vec<u8>)> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
            out.extend(rows.into_iter().map(|(org, row, sealed)| SealedValue {
                org,
                table: col.table,
                id_column: col.id_column,
                column: col.column,
                row,
                field: col.field,
                sealed,
            }));
        }
        Ok(out)
    }
}

/// One column that holds vault envelopes.
struct SealedColumn {
    table: &'static str,
    id_column: &'static str,
    org_column: Option<&'static str>,
    column: &'static str,
    /// The field name bound into the envelope's associated data.
    field: &'static str,
}

/// Every column that holds sealed secrets; `vault check` opens them all.
const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "integrations",
        id_column: "id",
        org_column: None,
        column: "client_secret",
        field: "client_secret",
    },
    SealedColumn {
        table: "connections",
        id_column: "id",
        org_column: Some("org"),
        column: "credentials",
        field: "credentials",
    },
    SealedColumn {
        table: "webhook_endpoints",
        id_column: "id",
        org_column: Some("org"),
        column: "secrets",
        field: "secrets",
    },
    // Subscriptions span orgs: their secrets are bound to no org.
    SealedColumn { table: "subscriptions", id_column: "id", org_column: None, column: "secret", field: "secret" },
    SealedColumn { table: "action_runs", id_column: "id", org_column: Some("org"), column: "answer", field: "answer" },
];

/// A sealed value with the binding it was sealed for.
#[derive(Debug)]
pub struct SealedValue {
    pub org: String,
    pub table: &'static str,
    pub id_column: &'static str,
    pub column: &'static str,
    pub row: String,
    pub field: &'static str,
    pub sealed: Vec<u8>,
}

/// Keyset pagination: a page of at most `limit` items after `after`.
#[derive(Clone, Debug)]
pub struct Page {
    pub after: Option<String>,
    pub limit: u32,
}
