//! Starts the release `switchboard` binary on a fresh database and a free port.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::Connection as _;
use tokio::process::{Child, Command};

pub(crate) struct Spawned {
    child: Child,
    pub(crate) base: String,
    pub(crate) key: String,
    pub(crate) ready_ms: f64,
    pub(crate) binary: String,
    pub(crate) database_label: String,
    _dir: tempfile::TempDir,
}

fn server_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("switchboard");
    if !bin.exists() {
        bail!("{} not found: build it first with `cargo build --release -p switchboard`", bin.display());
    }
    Ok(bin)
}

impl Spawned {
    pub(crate) async fn start(database: &str) -> anyhow::Result<Self> {
        let bin = server_binary()?;
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let (url, label) = if database == "sqlite" {
            (format!("sqlite://{}", dir.path().join("bench.db").display()), "SQLite".to_owned())
        } else if database.starts_with("postgres") {
            let schema = format!("bench_{}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(database).await.context("connecting to PostgreSQL")?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                .execute(&mut conn)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut conn).await?;
            let sep = if database.contains('?') { '&' } else { '?' };
            (format!("{database}{sep}options=-c%20search_path%3D{schema}"), "PostgreSQL".to_owned())
        } else {
            bail!("--database is sqlite or a postgres:// URL");
        };
        let key_file = dir.path().join("master.key");
        let env = |c: &mut Command| {
            c.env("SWITCHBOARD_DATABASE_URL", &url)
                .env("SWITCHBOARD_MASTER_KEY_FILE", &key_file)
                .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
                .env("SWITCHBOARD_LOG_LEVEL", "warn")
                .current_dir(dir.path());
        };
        let mut keygen = Command::new(&bin);
        keygen.args(["generate-key", "--out"]).arg(&key_file).stdout(Stdio::null());
        if !keygen.status().await?.success() {
            bail!("generate-key failed");
        }
        let mut keys = Command::new(&bin);
        env(&mut keys);
        let out = keys.args(["keys", "create", "--name", "bench"]).stderr(Stdio::null()).output().await?;
        if !out.status.success() {
            bail!("keys create failed");
        }
        let key = String::from_utf8(out.stdout)?.trim().to_owned();
        let mut serve = Command::new(&bin);
        env(&mut serve);
        serve.arg("serve").stdout(Stdio::null()).stderr(Stdio::inherit()).kill_on_drop(true);
        let started = Instant::now();
        let child = serve.spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let mut ready_ms = None;
        for _ in 0..3000 {
            if let Ok(r) = client.get(format!("{base}/readyz")).send().await
                && r.status().is_success()
            {
                ready_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let Some(ready_ms) = ready_ms else { bail!("the server did not become ready") };
        Ok(Self { child, base, key, ready_ms, binary: bin.display().to_string(), database_label: label, _dir: dir })
    }

    /// Resident set size from /proc, in MiB.
    pub(crate) fn rss_mib(&self) -> f64 {
        let Some(pid) = self.child.id() else { return 0.0 };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    pub(crate) async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}
