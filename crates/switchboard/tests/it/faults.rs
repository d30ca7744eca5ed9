//! The database failing under the server: an SQLite file on a small tmpfs of its own that is
//! filled up. Writes answer 503 `unavailable` (never a 500), reads go on, nothing stored is
//! damaged, and service resumes by itself once there is space again.
//!
//! Mounting needs root (as the test machines run); without it the test fails saying so. (A
//! read-only remount is refused by Linux while SQLite holds its files open for writing.)

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::support::db::Backend;
use crate::support::server::TestApp;
use crate::support::{TestDb, spawn_app_with};

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).unwrap();
        let out =
            Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(&mount).output();
        match out {
            Ok(o) if o.status.success() => {}
            other => {
                panic!("this test mounts a small tmpfs to fill it and make it read-only, which needs root: {other:?}")
            }
        }
        Self { mount, _dir: dir }
    }

    /// Writes a file until the disk is full; its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.mount.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        for _ in 0..10_000 {
            if f.write_all(&chunk).and_then(|()| f.sync_all()).is_err() {
                break;
            }
        }
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

async fn app_on(disk: &Path) -> TestApp {
    let path = disk.join("switchboard.db");
    let db = TestDb {
        backend: Backend::Sqlite,
        url: format!("sqlite://{}?mode=rwc", path.display()),
        sqlite_path: Some(path),
        schema: None,
        admin_url: None,
        dir: tempfile::tempdir().unwrap(),
    };
    spawn_app_with(db, &[("access_cache_ms", "0")]).await
}

fn connection(i: usize) -> Value {
    json!({"org": "acme", "provider": "custom-api-key", "label": format!("c{i}"),
        "credentials": {"base_url": "https://api.example.com", "api_key": format!("key-{i:05}-{}", "x".repeat(900))}})
}

/// Writes connections until one is refused (at most `n`); the statuses seen.
async fn write_until_refused(app: &TestApp, from: usize, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in from..from + n {
        let a = app.post("/v1/connections", connection(i)).await;
        assert_ne!(a.status, 500, "a write answered 500: {}", a.body);
        statuses.push(a.status);
        if a.status != 201 {
            assert_eq!(a.status, 503, "{}", a.body);
            assert_eq!(a.code(), "unavailable", "{}", a.body);
            break;
        }
    }
    statuses
}

async fn assert_intact(app: &TestApp, stored: &[(String, usize)]) {
    for (id, i) in stored {
        let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
        assert_eq!(creds.status, 200, "{}", creds.body);
        assert_eq!(creds.body["fields"]["api_key"], connection(*i)["credentials"]["api_key"]);
    }
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_keeps_what_is_stored_and_service_resumes() {
    let disk = SmallDisk::mount("6m");
    let app = app_on(&disk.mount).await;
    let mut stored = Vec::new();
    for i in 0..5 {
        let a = app.post("/v1/connections", connection(i)).await;
        assert_eq!(a.status, 201, "{}", a.body);
        stored.push((a.body["id"].as_str().unwrap().to_owned(), i));
    }

    // The disk fills up: writes are refused as unavailable, reads go on.
    let filler = disk.fill();
    let statuses = write_until_refused(&app, 100, 400).await;
    assert_eq!(statuses.last(), Some(&503), "no write was refused on a full disk: {statuses:?}");
    let listed = app.get("/v1/connections?org=acme").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(app.get("/healthz").await.status, 200);

    // Space again: writes resume without a restart, and what was stored before is intact.
    std::fs::remove_file(&filler).unwrap();
    let a = app.post("/v1/connections", connection(1000)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    stored.push((a.body["id"].as_str().unwrap().to_owned(), 1000));
    assert_intact(&app, &stored).await;

    let check = app.services.vault.check_all().await.unwrap();
    assert!(check.failed.is_empty(), "{check:?}");
    app.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_killed_under_load_cost_no_500_and_no_acknowledged_write() {
    let db = TestDb::postgres()
        .await
        .expect("SWITCHBOARD_TEST_POSTGRES_URL must name the test PostgreSQL (scripts/test.sh sets it)");
    let schema = db.schema.clone().unwrap();
    let admin = db.admin_url.clone().unwrap();
    // The server's connections carry the schema as their application name, so only they are killed.
    let url = format!("{}&application_name={schema}", db.url);
    let app = spawn_app_with(db, &[("database_url", &url), ("access_cache_ms", "0")]).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, base, key, stop) = (app.client.clone(), app.base.clone(), app.key.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut acknowledged, mut statuses) = (Vec::new(), Vec::new());
                for i in 0..100_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let res = client
                        .post(format!("{base}/v1/connections"))
                        .bearer_auth(&key)
                        .json(&connection(w * 100_000 + i))
                        .send()
                        .await
                        .unwrap();
                    let status = res.status().as_u16();
                    let body: Value = res.json().await.unwrap_or(Value::Null);
                    if status == 201 {
                        acknowledged.push(body["id"].as_str().unwrap().to_owned());
                    } else {
                        assert_eq!(status, 503, "a write answered {status}: {body}");
                        assert_eq!(body["error"]["code"], "unavailable", "{body}");
                    }
                    statuses.push(status);
                }
                (acknowledged, statuses)
            })
        })
        .collect();

    let mut kill = sqlx::PgConnection::connect(&admin).await.unwrap();
    let mut killed = 0i64;
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&schema)
        .fetch_one(&mut kill)
        .await
        .unwrap();
        killed += n;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for w in writers {
        let (ids, statuses) = w.await.unwrap();
        refused += statuses.iter().filter(|s| **s == 503).count();
        acknowledged.extend(ids);
    }
    assert!(killed > 0, "no server connection was killed");
    println!("killed {killed} connections; {} writes acknowledged, {refused} refused with 503", acknowledged.len());

    // Recovered by itself, and every acknowledged write is there.
    let mut ready = 0;
    for _ in 0..50 {
        ready = app.get("/readyz").await.status;
        if ready == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ready, 200, "/readyz did not recover");
    let a = app.post("/v1/connections", connection(999_999)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    for id in &acknowledged {
        let one = app.get(&format!("/v1/connections/{id}")).await;
        assert_eq!(one.status, 200, "acknowledged connection {id} is missing: {}", one.body);
    }
    let _ = kill.close().await;
}
