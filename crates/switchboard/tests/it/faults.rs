//! The database failing under the server: an SQLite file on a small tmpfs of its own that is
//! filled up; PostgreSQL's connections killed; PostgreSQL gone for a while behind a link that is
//! cut. Requests that need it answer 503 `unavailable` (never a 500), `/readyz` says not ready,
//! nothing stored is damaged or lost, and service resumes by itself.
//!
//! Mounting needs root (as the test machines run); without it the test fails saying so. A
//! read-only remount is refused by Linux while SQLite holds its files open for writing, so the
//! read-only case makes the database's files immutable instead, which binds open descriptors too.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::support::db::Backend;
use crate::support::link::Link;
use crate::support::receiver::Receiver;
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

/// Sets or clears the immutable attribute (`chattr ±i`) of the database's files: even root can
/// then not write them, through file descriptors already open too. It needs a file system with
/// the attribute (ext4, xfs, btrfs; the test machines' `/tmp` is ext4).
fn set_read_only(db: &Path, on: bool) {
    for suffix in ["", "-wal"] {
        let file = format!("{}{suffix}", db.display());
        let out = Command::new("chattr").arg(if on { "+i" } else { "-i" }).arg(&file).output();
        match out {
            Ok(o) if o.status.success() => {}
            other => panic!(
                "this test makes {file} immutable with chattr, which needs root and a file system with the attribute (ext4): {other:?}"
            ),
        }
    }
}

#[tokio::test]
async fn a_read_only_database_file_refuses_writes_with_503_keeps_what_is_stored_and_service_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_on(dir.path()).await;
    let file = dir.path().join("switchboard.db");
    let mut stored = Vec::new();
    for i in 0..5 {
        let a = app.post("/v1/connections", connection(i)).await;
        assert_eq!(a.status, 201, "{}", a.body);
        stored.push((a.body["id"].as_str().unwrap().to_owned(), i));
    }

    set_read_only(&file, true);
    let statuses = write_until_refused(&app, 100, 20).await;
    let refused = statuses.last() == Some(&503);
    // Reads go on from what is stored — but not a credentials read, whose audit entry must be
    // written before the secret is handed out.
    let listed = app.get("/v1/connections?org=acme").await;
    let read = app.get(&format!("/v1/connections/{}", stored[0].0)).await;
    let creds = app.get(&format!("/v1/connections/{}/credentials", stored[0].0)).await;
    set_read_only(&file, false);
    assert!(refused, "no write was refused with the database read-only: {statuses:?}");
    assert_eq!(statuses.len(), 1, "writes were acknowledged with the database read-only: {statuses:?}");
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(5), "{}", listed.body);
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!((creds.status, creds.code()), (503, "unavailable"), "{}", creds.body);
    assert!(!creds.body.to_string().contains("key-00000"), "a secret was handed out unaudited");

    // Writable again: writes resume without a restart, and what was stored before is intact.
    let a = app.post("/v1/connections", connection(1000)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    stored.push((a.body["id"].as_str().unwrap().to_owned(), 1000));
    assert_intact(&app, &stored).await;
    let check = app.services.vault.check_all().await.unwrap();
    assert!(check.failed.is_empty(), "{check:?}");
    let ok: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap())
        .await
        .unwrap();
    assert_eq!(ok, "ok");
    app.stop.cancel();
}

/// The PostgreSQL URL of `db` reached through `link` instead of directly.
fn through(db: &TestDb, link: &Link) -> String {
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(link.port)).unwrap();
    url.to_string()
}

/// One webhook with sequence number `seq`: its status.
async fn send_hook(client: &reqwest::Client, url: &str, secret: &str, seq: u64) -> (u16, Value) {
    let res = client
        .post(url)
        .header("X-Webhook-Secret", secret)
        .json(&json!({"type": "order.created", "seq": seq}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gone_for_a_while_is_503_and_not_ready_then_recovers_with_nothing_lost_or_stuck() {
    let db = TestDb::postgres()
        .await
        .expect("SWITCHBOARD_TEST_POSTGRES_URL must name the test PostgreSQL (scripts/test.sh sets it)");
    let pg: std::net::SocketAddr = {
        let u = url::Url::parse(&db.url).unwrap();
        format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432)).parse().unwrap()
    };
    let link = Link::to(pg).await;
    let url = through(&db, &link);
    let rx = Receiver::start().await;
    let app = spawn_app_with(
        db,
        &[
            ("database_url", &url),
            ("database_wait_ms", "500"),
            ("access_cache_ms", "0"),
            ("delivery_timeout_s", "1"),
            ("delivery_schedule_s", "0,1,1,1,1,1,1,1,1,1"),
        ],
    )
    .await;
    let stored = app
        .connect(json!({"provider": "custom-api-key", "credentials": {"base_url": "https://api.example.com", "api_key": "kept-0123456789"}}))
        .await;
    let ep = app
        .post("/v1/webhook-endpoints", json!({"provider": "webhook", "scheme": "shared-secret", "org": "acme"}))
        .await;
    assert_eq!(ep.status, 201, "{}", ep.body);
    let sub = app.post("/v1/subscriptions", json!({"url": rx.url, "event_types": ["webhook.*"]})).await;
    assert_eq!(sub.status, 201, "{}", sub.body);
    let hook_url = app.url(&format!("/hooks/{}", ep.body["id"].as_str().unwrap()));
    let secret = ep.body["secret"].as_str().unwrap().to_owned();

    // Senders keep sending through the outage; each remembers what was acknowledged.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let senders: Vec<_> = (0..2u64)
        .map(|s| {
            let (client, hook_url, secret, stop) = (app.client.clone(), hook_url.clone(), secret.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut acked, mut refused) = (Vec::new(), 0);
                for i in 0..100_000u64 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let seq = s * 1_000_000 + i;
                    let (status, body) = send_hook(&client, &hook_url, &secret, seq).await;
                    match status {
                        200 => acked.push(seq),
                        503 => {
                            assert_eq!(body["error"]["code"], "unavailable", "{body}");
                            refused += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                        other => panic!("a webhook was answered {other}: {body}"),
                    }
                }
                (acked, refused)
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    link.cut();
    let cut_at = std::time::Instant::now();
    // While it is gone: not ready, and requests that need it answer 503 `unavailable`.
    let mut not_ready = None;
    for _ in 0..40 {
        let r = app.get("/readyz").await;
        if r.status == 503 {
            not_ready = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let not_ready = not_ready.expect("/readyz kept saying ready with the database gone");
    assert_eq!(not_ready.code(), "unavailable", "{}", not_ready.body);
    let read = app.get(&format!("/v1/connections/{stored}")).await;
    assert_eq!((read.status, read.code()), (503, "unavailable"), "{}", read.body);
    let write = app.post("/v1/connections", connection(1)).await;
    assert_eq!((write.status, write.code()), (503, "unavailable"), "{}", write.body);
    tokio::time::sleep(std::time::Duration::from_millis(1500).saturating_sub(cut_at.elapsed())).await;

    link.restore();
    // It comes back by itself.
    let back = std::time::Instant::now();
    let mut ready = 0;
    while back.elapsed() < std::time::Duration::from_secs(15) {
        ready = app.get("/readyz").await.status;
        if ready == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ready, 200, "/readyz did not recover within 15 s of the database coming back");
    println!("ready again {} ms after the database came back", back.elapsed().as_millis());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut acked, mut refused) = (Vec::new(), 0);
    for s in senders {
        let (a, r) = s.await.unwrap();
        acked.extend(a);
        refused += r;
    }
    assert!(refused > 0, "no webhook met the outage");

    // Nothing stored is lost: the connection and its credentials are there.
    let creds = app.get(&format!("/v1/connections/{stored}/credentials")).await;
    assert_eq!(creds.status, 200, "{}", creds.body);
    assert!(creds.body.to_string().contains("kept-0123456789"));
    // Every acknowledged event is delivered: none stays on a lease taken before the outage.
    let want: std::collections::BTreeSet<u64> = acked.iter().copied().collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut delivered = std::collections::BTreeSet::new();
    while std::time::Instant::now() < deadline {
        delivered = rx.received().iter().filter_map(|r| r.json()["data"]["seq"].as_u64()).collect();
        if want.is_subset(&delivered) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let missing: Vec<_> = want.difference(&delivered).take(10).collect();
    assert!(missing.is_empty(), "acknowledged events never delivered (first 10): {missing:?}");
    println!("{} events acknowledged, {refused} refused with 503 during the outage; all delivered", want.len());
}
