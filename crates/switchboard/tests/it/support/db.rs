use std::path::PathBuf;

use sqlx::Connection as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of one's own: a fresh SQLite file, or a fresh PostgreSQL schema.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// The SQLite file (for reading raw bytes).
    pub sqlite_path: Option<PathBuf>,
    /// The PostgreSQL schema.
    pub schema: Option<String>,
    pub admin_url: Option<String>,
    pub dir: tempfile::TempDir,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", switchboard_core::ids::time_ordered_suffix(switchboard_core::time::Timestamp::from_millis(0)))
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("switchboard.db");
        Self {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}?mode=rwc", path.display()),
            sqlite_path: Some(path),
            schema: None,
            admin_url: None,
            dir,
        }
    }

    /// `None` when SWITCHBOARD_TEST_POSTGRES_URL is not set.
    pub async fn postgres() -> Option<Self> {
        let admin = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())?;
        let schema = unique("sbt_");
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to SWITCHBOARD_TEST_POSTGRES_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create schema");
        conn.close().await.ok();
        let sep = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{sep}options=-c%20search_path%3D{schema}");
        Some(Self {
            backend: Backend::Postgres,
            url,
            sqlite_path: None,
            schema: Some(schema),
            admin_url: Some(admin),
            dir: tempfile::tempdir().expect("tempdir"),
        })
    }

    /// Every byte the database holds, as text, for "no plaintext secret" checks.
    pub async fn raw_dump(&self) -> Vec<u8> {
        match self.backend {
            Backend::Sqlite => {
                let path = self.sqlite_path.as_ref().expect("sqlite path");
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let p = PathBuf::from(format!("{}{suffix}", path.display()));
                    if let Ok(bytes) = std::fs::read(&p) {
                        all.extend(bytes);
                    }
                }
                all
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect");
                let schema = self.schema.clone().expect("schema");
                let tables: Vec<(String,)> =
                    sqlx::query_as("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1")
                        .bind(&schema)
                        .fetch_all(&mut conn)
                        .await
                        .expect("tables");
                let mut all = Vec::new();
                for (t,) in tables {
                    let rows: Vec<(String,)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT t::text FROM {schema}.{t} t")))
                            .fetch_all(&mut conn)
                            .await
                            .expect("dump");
                    for (r,) in rows {
                        all.extend(r.into_bytes());
                    }
                }
                all
            }
        }
    }
}
