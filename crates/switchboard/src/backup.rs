//! Online backups of the embedded SQLite database, and putting one back.
//!
//! `backup` is `VACUUM INTO` through a connection of its own: one read transaction, so the copy
//! is the database as it was at one instant (every write acknowledged before it began is in it)
//! while the server goes on reading and writing. The copy is checked (`PRAGMA integrity_check`,
//! Switchboard's tables, its migrations) and synced to disk before `backup` says it is done.
//!
//! `restore` checks a file the same way, migrates and opens every secret of a scratch copy with
//! the configured master key, and only then swaps it in under the database's lock file — which
//! every server on that file holds shared while it runs — keeping the database it replaces beside
//! it. PostgreSQL has `pg_dump` and `pg_restore` for both (README, "Backups").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::Connection as _;

use crate::clock::{Clock, SystemClock};
use crate::config::{Database, Settings};
use crate::store::{Store, StoreOptions};
use crate::vault::Vault;

/// Tables every Switchboard database has: a file without them is not one.
const OUR_TABLES: [&str; 5] = ["_sqlx_migrations", "data_keys", "api_keys", "connections", "integrations"];

/// What a database file holds, as far as a restore needs to know.
#[derive(Debug)]
pub struct Inspection {
    pub bytes: u64,
    /// The newest migration applied to it.
    pub migration: i64,
    pub data_keys: i64,
    pub connections: i64,
    pub events: i64,
}

#[derive(Debug)]
pub struct BackupReport {
    pub inspection: Inspection,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub struct RestoreReport {
    pub inspection: Inspection,
    /// Secrets opened with the configured master key.
    pub secrets: usize,
    /// Where the database that was replaced now is.
    pub kept: Option<PathBuf>,
}

fn sqlite_path(settings: &Settings, verb: &str) -> anyhow::Result<PathBuf> {
    match &settings.database {
        Database::Sqlite { path, .. } => Ok(path.clone()),
        Database::Postgres { .. } => bail!(
            "`switchboard {verb}` works on the embedded SQLite database; for PostgreSQL use pg_dump and pg_restore (README, \"Backups\")"
        ),
    }
}

/// The lock file every server on the SQLite database at `db` holds shared, and `restore`
/// exclusively. A file of its own: a lock on the database file itself would be released for
/// SQLite too whenever such a handle closed (POSIX locks are per process).
#[must_use]
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".lock");
    db.with_file_name(name)
}

fn open_lock(db: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path(db))
}

/// Taken by a server for as long as it serves the SQLite database at `db`.
pub fn hold_shared(db: &Path) -> anyhow::Result<std::fs::File> {
    let file = open_lock(db).with_context(|| format!("opening {}", lock_path(db).display()))?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("`switchboard restore` is replacing {}; start the server when it has finished", db.display())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", lock_path(db).display())),
    }
}

/// Checks that `path` is a sound Switchboard SQLite database this binary can serve.
pub async fn inspect(path: &Path) -> anyhow::Result<Inspection> {
    let shown = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {shown}"))?;
    if !meta.is_file() {
        bail!("{shown} is not a file");
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| anyhow::anyhow!("{shown} is not a SQLite database ({e})"))?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("{shown} is not a SQLite database ({e})"))?;
    if check != "ok" {
        bail!("{shown} is damaged: SQLite's integrity check says {check:?}");
    }
    let mut missing = Vec::new();
    for table in OUR_TABLES {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
            .bind(table)
            .fetch_one(&mut conn)
            .await?;
        if n == 0 {
            missing.push(table);
        }
    }
    if !missing.is_empty() {
        bail!("{shown} is a SQLite database but not a Switchboard one (it has no {} table)", missing.join(", "));
    }
    let migration: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&mut conn)
            .await?;
    let newest = Store::newest_sqlite_migration();
    if migration > newest {
        bail!(
            "{shown} was made by a newer Switchboard (migration {migration}; this one knows up to {newest}): restore it with that version"
        );
    }
    let data_keys = count(&mut conn, "data_keys").await?;
    let connections = count(&mut conn, "connections").await?;
    let has_events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'")
            .fetch_one(&mut conn)
            .await?;
    let events = if has_events > 0 { count(&mut conn, "events").await? } else { 0 };
    conn.close().await.ok();
    Ok(Inspection { bytes: meta.len(), migration, data_keys, connections, events })
}

async fn count(conn: &mut sqlx::SqliteConnection, table: &'static str) -> anyhow::Result<i64> {
    let sql = format!("SELECT count(*) FROM {table}");
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(conn).await?)
}

fn sync_file_and_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `switchboard backup --out FILE`: a consistent copy of the running database.
pub async fn backup(settings: &Settings, out: &Path) -> anyhow::Result<BackupReport> {
    let started = Instant::now();
    let db = sqlite_path(settings, "backup")?;
    if !db.is_file() {
        bail!("there is no database at {} (SWITCHBOARD_DATABASE_URL)", db.display());
    }
    if out.exists() {
        bail!("{} already exists; name a new file (a backup never overwrites one)", out.display());
    }
    let out_text = out.to_str().context("the --out path must be valid UTF-8")?;
    let store = Store::connect(&StoreOptions {
        url: settings.database.url().to_owned(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(30),
    })
    .await
    .context("opening the database")?;
    let copied = store.sqlite_backup_into(out_text).await;
    store.close().await;
    copied.with_context(|| format!("copying the database into {}", out.display()))?;
    sync_file_and_dir(out).with_context(|| format!("syncing {}", out.display()))?;
    let inspection = match inspect(out).await {
        Ok(i) => i,
        Err(e) => {
            let _ = std::fs::remove_file(out);
            return Err(e.context("the copy did not check out, so it was removed"));
        }
    };
    Ok(BackupReport { inspection, elapsed: started.elapsed() })
}

/// Removes a scratch database and its WAL files.
fn remove_database_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// `switchboard restore --from FILE`: puts a backup in place of the configured database.
pub async fn restore(settings: &Settings, from: &Path) -> anyhow::Result<RestoreReport> {
    let db = sqlite_path(settings, "restore")?;
    let inspection = inspect(from).await?;
    let dir = db.parent().filter(|d| !d.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let scratch = dir.join(format!(".switchboard-restore-{}.db", std::process::id()));
    remove_database_files(&scratch);
    let opened = prepare(settings, from, &scratch).await;
    let secrets = match opened {
        Ok(n) => n,
        Err(e) => {
            remove_database_files(&scratch);
            return Err(e);
        }
    };
    // No server may be using the database while it is swapped.
    let lock = open_lock(&db).with_context(|| format!("opening {}", lock_path(&db).display()))?;
    if let Err(e) = lock.try_lock() {
        remove_database_files(&scratch);
        return Err(match e {
            std::fs::TryLockError::WouldBlock => anyhow::anyhow!(
                "a Switchboard server is running on {}: stop it (every instance), then restore",
                db.display()
            ),
            std::fs::TryLockError::Error(e) => anyhow::Error::new(e).context("locking the database"),
        });
    }
    let mut kept = None;
    if db.exists() {
        let stamp = SystemClock.now().millis();
        let aside = dir.join(format!(
            "{}.before-restore-{stamp}",
            db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        // The old database's WAL goes with it: left behind, SQLite would apply it to the new one.
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", db.display()));
            if from.exists() {
                std::fs::rename(&from, format!("{}{suffix}", aside.display()))
                    .with_context(|| format!("moving {} aside", from.display()))?;
            }
        }
        kept = Some(aside);
    }
    std::fs::rename(&scratch, &db).with_context(|| format!("moving the restored database to {}", db.display()))?;
    sync_file_and_dir(&db).with_context(|| format!("syncing {}", db.display()))?;
    drop(lock);
    Ok(RestoreReport { inspection, secrets, kept })
}

/// Copies `from` to `scratch`, migrates it and opens every secret with the configured keys: the
/// number of secrets. The scratch copy is left closed, with no WAL.
async fn prepare(settings: &Settings, from: &Path, scratch: &Path) -> anyhow::Result<usize> {
    std::fs::copy(from, scratch).with_context(|| format!("copying {}", from.display()))?;
    let url = format!("sqlite://{}?mode=rw", scratch.display());
    let store =
        Store::connect(&StoreOptions { url, max_connections: 2, acquire_timeout: Duration::from_secs(10) }).await?;
    let result = async {
        store.migrate().await.context("bringing the backup's schema up to this version")?;
        if store.data_keys().await?.is_empty() {
            return Ok(0);
        }
        let (masters, _) = crate::keys::resolve(settings, true)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let vault = Vault::open(store.clone(), masters, clock).await.map_err(|e| {
            anyhow::anyhow!(
                "{} was sealed under another master key ({e}); set SWITCHBOARD_MASTER_KEY_FILE to the key in use when it was made",
                from.display()
            )
        })?;
        let report = vault.check_all().await?;
        if !report.failed.is_empty() {
            bail!(
                "{} secret(s) of {} do not open with the configured master key, e.g. {}",
                report.failed.len(),
                from.display(),
                report.failed[0]
            );
        }
        store.checkpoint().await?;
        Ok(report.opened)
    }
    .await;
    store.close().await;
    result
}
