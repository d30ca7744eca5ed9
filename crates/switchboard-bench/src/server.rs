//! Starts the release `switchboard` binary on a fresh database and a free port.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::Connection as _;
use tokio::process::{Child, Command};

pub(crate) struct Spawned {
    child: Child,
    bin: PathBuf,
    env: Vec<(String, String)>,
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
    /// The server on a fresh database, with `extra` environment variables.
    pub(crate) async fn start(database: &str, extra: &[(&str, String)]) -> anyhow::Result<Self> {
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
        let vars: Vec<(String, String)> = vec![
            ("SWITCHBOARD_DATABASE_URL".into(), url.clone()),
            ("SWITCHBOARD_MASTER_KEY_FILE".into(), key_file.display().to_string()),
            ("SWITCHBOARD_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("SWITCHBOARD_LOG_LEVEL".into(), "warn".into()),
            // The scenarios load one key, session or endpoint as fast as the server answers: what is
            // measured is the server, not its rate limits (a scenario may set them again in `extra`).
            ("SWITCHBOARD_RATE_LIMIT_KEY_PER_S".into(), "0".into()),
            ("SWITCHBOARD_RATE_LIMIT_SESSION_PER_S".into(), "0".into()),
            ("SWITCHBOARD_RATE_LIMIT_WEBHOOK_PER_S".into(), "0".into()),
        ];
        let mut vars = vars;
        vars.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let env = |c: &mut Command| {
            c.envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))).current_dir(dir.path());
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
        let base = format!("http://127.0.0.1:{port}");
        let (child, ready_ms) = serve(&bin, &vars, dir.path(), &base).await?;
        Ok(Self {
            child,
            bin: bin.clone(),
            env: vars,
            base,
            key,
            ready_ms,
            binary: bin.display().to_string(),
            database_label: label,
            _dir: dir,
        })
    }

    /// Stops the server and starts it again on the same database: idle memory
    /// with the data in place, without whatever the setup left in memory.
    pub(crate) async fn restart(&mut self, changes: &[(&str, String)]) -> anyhow::Result<()> {
        self.terminate().await;
        for (k, v) in changes {
            self.env.retain(|(name, _)| name != k);
            self.env.push(((*k).to_owned(), v.clone()));
        }
        let (child, ready_ms) = serve(&self.bin, &self.env, self._dir.path(), &self.base).await?;
        self.child = child;
        self.ready_ms = ready_ms;
        Ok(())
    }

    async fn terminate(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// CPU time (user + system) the server has used so far, from /proc.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let Some(pid) = self.child.id() else { return 0.0 };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name: utime and stime are the 12th and 13th.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        ticks / 100.0
    }

    /// CPU seconds each of the server's threads has used so far, summed by thread name (the
    /// runtime's workers, SQLite's connection threads, …), from /proc.
    pub(crate) fn cpu_by_thread(&self) -> std::collections::BTreeMap<String, f64> {
        let mut by_name = std::collections::BTreeMap::new();
        let Some(pid) = self.child.id() else { return by_name };
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return by_name };
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            let Some((head, rest)) = stat.rsplit_once(')') else { continue };
            let name = head.split_once('(').map_or("?", |(_, n)| n).to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = fields.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
                + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            *by_name.entry(name).or_insert(0.0) += ticks / 100.0;
        }
        by_name
    }

    /// What was started, on what, how fast, and its resident memory now.
    pub(crate) fn describe(&self) -> String {
        format!(
            "server: {} on {} — ready {:.0} ms after start, idle RSS {:.1} MiB",
            self.binary,
            self.database_label,
            self.ready_ms,
            self.rss_mib()
        )
    }

    pub(crate) fn rss_mib(&self) -> f64 {
        self.child.id().map_or(0.0, |pid| rss_kib(pid) as f64 / 1024.0)
    }

    /// The server's process id (0 once it has exited).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub(crate) async fn stop(mut self) {
        self.terminate().await;
    }
}

/// Starts `serve` and waits until `/readyz` answers 200; the child and the milliseconds it took.
/// The cores the server is pinned to (`--server-cpus`), if any.
pub(crate) static SERVER_CPUS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn serve(
    bin: &std::path::Path,
    vars: &[(String, String)],
    dir: &std::path::Path,
    base: &str,
) -> anyhow::Result<(Child, f64)> {
    // `--server-cpus 0` runs the server on core 0 only (`taskset -c 0`); run the bench itself under
    // `taskset -c 1` to keep the load generator off the server's core.
    let mut serve = match SERVER_CPUS.get().filter(|c| !c.is_empty()) {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpus).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    serve.envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))).current_dir(dir);
    serve.arg("serve").stdout(Stdio::null()).stderr(Stdio::inherit()).kill_on_drop(true);
    let started = Instant::now();
    let child = serve.spawn()?;
    let client = reqwest::Client::new();
    for _ in 0..5000 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok((child, started.elapsed().as_secs_f64() * 1000.0));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    bail!("the server did not become ready")
}

/// Waits until `counter` reaches `n` (at most ten minutes); the seconds it took.
pub(crate) async fn wait_for_count(
    counter: &std::sync::atomic::AtomicU64,
    n: usize,
    what: &str,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    while counter.load(std::sync::atomic::Ordering::Relaxed) < n as u64 {
        if Instant::now() > deadline {
            bail!("only {} of {n} {what} in 10 minutes", counter.load(std::sync::atomic::Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// How many items of a paged API list (`items`, `next_cursor`) pass `keep`, by the API's own
/// account of them: a figure counts work once it is stored, not when a peer saw it.
pub(crate) async fn count_listed(
    client: &reqwest::Client,
    server: &Spawned,
    path: &str,
    filter: &[(&str, &str)],
    keep: impl Fn(&serde_json::Value) -> bool,
) -> anyhow::Result<usize> {
    let mut kept = 0;
    let mut cursor: Option<String> = None;
    for _ in 0..100_000 {
        let mut req = client
            .get(format!("{}{path}", server.base))
            .bearer_auth(&server.key)
            .query(&[("limit", "500")])
            .query(filter);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let page: serde_json::Value = req.send().await?.error_for_status()?.json().await?;
        let items = page["items"].as_array().with_context(|| format!("GET {path}: a page without items"))?;
        kept += items.iter().filter(|item| keep(item)).count();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(kept),
        }
    }
    bail!("GET {path}: the list did not end")
}

/// A process's resident memory now, in KiB (0 if it cannot be read).
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// Where the server's CPU went between two [`Spawned::cpu_by_thread`] readings: each thread
/// name's share of the server's total, largest first.
pub(crate) fn cpu_split(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
) -> String {
    let used: Vec<(String, f64)> = after
        .iter()
        .map(|(name, secs)| (name.clone(), secs - before.get(name).copied().unwrap_or(0.0)))
        .filter(|(_, secs)| *secs > 0.0)
        .collect();
    let total: f64 = used.iter().map(|(_, s)| s).sum();
    if total <= 0.0 {
        return "no CPU used".into();
    }
    let mut used = used;
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let parts: Vec<String> = used.iter().map(|(name, secs)| format!("{name} {:.0} %", secs / total * 100.0)).collect();
    format!("{total:.1} s: {}", parts.join(", "))
}
