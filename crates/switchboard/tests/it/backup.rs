//! `switchboard backup` and `switchboard restore` on the embedded SQLite database, run as the
//! operator runs them (the binary) beside a serving instance.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::support::process::run;
use crate::support::server::TestApp;
use crate::support::{TestDb, spawn_app_with};

const SECRET: &str = "whsec_backup_test_0123456789abcdef";

/// Runs a CLI verb against `db` with `master_key`, off the async threads.
async fn cli(dir: &Path, db: &str, master_key: &str, args: &[&str]) -> (bool, String, String) {
    let (dir, db, key) = (dir.to_owned(), db.to_owned(), master_key.to_owned());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&dir, &[("SWITCHBOARD_DATABASE_URL", &db), ("SWITCHBOARD_MASTER_KEY", &key)], &args)
    })
    .await
    .unwrap()
}

fn stripe_signature(body: &str) -> String {
    let t = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_secs();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The provider event ids stored in the SQLite file at `path`.
async fn stored_event_ids(path: &Path) -> HashSet<String> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    let ids: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT provider_event_id FROM events").fetch_all(&mut conn).await.unwrap();
    ids.into_iter().filter_map(|(id,)| id).collect()
}

async fn sqlite_app(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_with(TestDb::sqlite().await, extra).await
}

fn db_path(app: &TestApp) -> PathBuf {
    app.db.sqlite_path.clone().unwrap()
}

#[tokio::test]
async fn a_backup_taken_under_webhook_load_holds_every_event_acknowledged_before_it_began() {
    let app = sqlite_app(&[("rate_limit_webhook_per_s", "0")]).await;
    let ep = app.post("/v1/webhook-endpoints", json!({"org": "acme", "provider": "stripe", "secret": SECRET})).await;
    assert_eq!(ep.status, 201, "{}", ep.body);
    let url = ep.body["url"].as_str().unwrap().to_owned();
    app.connect(json!({"provider": "custom-api-key", "credentials": {"base_url": "https://api.example.com", "api_key": "key-0123456789"}}))
        .await;

    // Four senders, each event recorded with the instant its 200 arrived.
    let acked: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let (client, url, acked, stop) = (app.client.clone(), url.clone(), acked.clone(), stop.clone());
            tokio::spawn(async move {
                for n in 0..100_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("evt_backup_{s}_{n}");
                    let body = json!({"id": id, "object": "event", "type": "payment_intent.succeeded", "created": 1_700_000_000,
                        "data": {"object": {"id": format!("pi_{s}_{n}"), "object": "payment_intent"}}})
                    .to_string();
                    let res = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("stripe-signature", stripe_signature(&body))
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
                    acked.lock().unwrap().push((id, Instant::now()));
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let copy = app.db.dir.path().join("copy.db");
    let began = Instant::now();
    let (ok, out, err) =
        cli(app.db.dir.path(), &app.db.url, &app.master_key, &["backup", "--out", copy.to_str().unwrap()]).await;
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    assert!(ok, "{out}{err}");
    assert!(out.contains("integrity ok") && out.contains("1 connection(s)"), "{out}");
    assert!(err.contains("master key"), "the reminder to back the key up: {err}");

    let acked = acked.lock().unwrap().clone();
    let before: Vec<&String> = acked.iter().filter(|(_, at)| *at < began).map(|(id, _)| id).collect();
    let during = acked.iter().filter(|(_, at)| *at >= began && *at <= ended).count();
    let in_copy = stored_event_ids(&copy).await;
    assert!(before.len() > 10, "only {} events before the backup", before.len());
    assert!(during > 0, "no event was acknowledged while the backup ran: it was not taken under load");
    let missing: Vec<_> = before.iter().filter(|id| !in_copy.contains(id.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events are not in the copy: {missing:?}",
        missing.len(),
        before.len()
    );
    // Everything the server has now includes the copy: it is a snapshot, not something else.
    let live = stored_event_ids(&db_path(&app)).await;
    assert!(in_copy.is_subset(&live));
    println!(
        "{} events acknowledged before the backup, {during} while it ran; the copy holds {}",
        before.len(),
        in_copy.len()
    );

    // The copy opens: every secret in it with the same master key, and a server on it.
    let copy_url = format!("sqlite://{}", copy.display());
    let (ok, out, err) = cli(app.db.dir.path(), &copy_url, &app.master_key, &["vault", "check"]).await;
    assert!(ok && out.contains("opened"), "{out}{err}");
    // A backup never overwrites.
    let (ok, _, err) =
        cli(app.db.dir.path(), &app.db.url, &app.master_key, &["backup", "--out", copy.to_str().unwrap()]).await;
    assert!(!ok && err.contains("already exists"), "{err}");
}

#[tokio::test]
async fn restore_refuses_foreign_files_other_keys_and_a_running_server_then_puts_the_backup_back() {
    let app = sqlite_app(&[]).await;
    let dir = app.db.dir.path().to_owned();
    let before = app
        .connect(json!({"provider": "custom-api-key", "label": "before", "credentials": {"base_url": "https://api.example.com", "api_key": "key-before-0123"}}))
        .await;
    let copy = dir.join("copy.db");
    let (ok, out, err) = cli(&dir, &app.db.url, &app.master_key, &["backup", "--out", copy.to_str().unwrap()]).await;
    assert!(ok, "{out}{err}");
    let after = app
        .connect(json!({"provider": "custom-api-key", "label": "after", "credentials": {"base_url": "https://api.example.com", "api_key": "key-after-0123"}}))
        .await;
    let copy_arg = copy.to_str().unwrap();

    // Not while a server serves the database.
    let (ok, _, err) = cli(&dir, &app.db.url, &app.master_key, &["restore", "--from", copy_arg]).await;
    assert!(!ok && err.contains("a Switchboard server is running"), "{err}");
    // Not a file that is not a Switchboard database, nor one sealed under another key.
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a database at all, just some words that go on for a while").unwrap();
    let fresh = format!("sqlite://{}", dir.join("fresh.db").display());
    let (ok, _, err) = cli(&dir, &fresh, &app.master_key, &["restore", "--from", text.to_str().unwrap()]).await;
    assert!(!ok && err.contains("is not a SQLite database"), "{err}");
    let other = dir.join("other.db");
    let mut conn = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&other).create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::query("CREATE TABLE notes (body TEXT)").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let (ok, _, err) = cli(&dir, &fresh, &app.master_key, &["restore", "--from", other.to_str().unwrap()]).await;
    assert!(!ok && err.contains("not a Switchboard one"), "{err}");
    let wrong_key = {
        use secrecy::ExposeSecret as _;
        switchboard_core::vault::MasterKey::generate().1.expose_secret().to_owned()
    };
    let (ok, _, err) = cli(&dir, &fresh, &wrong_key, &["restore", "--from", copy_arg]).await;
    assert!(!ok && err.contains("another master key"), "{err}");
    assert!(!dir.join("fresh.db").exists(), "a refused restore left a database behind");

    // Stopped, the backup goes back in; the database it replaced is kept.
    app.stop.cancel();
    let mut restored = None;
    for _ in 0..50 {
        let (ok, out, err) = cli(&dir, &app.db.url, &app.master_key, &["restore", "--from", copy_arg]).await;
        if ok {
            restored = Some(out);
            break;
        }
        assert!(err.contains("a Switchboard server is running"), "{err}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = restored.expect("the restore was refused 5 s after the server stopped");
    assert!(out.contains("1 connection(s)") && out.contains("secret(s) opened"), "{out}");
    let kept = out.rsplit("kept as ").next().unwrap().trim();
    assert!(Path::new(kept).exists(), "{out}");

    let again = spawn_app_with(
        TestDb {
            backend: crate::support::db::Backend::Sqlite,
            url: app.db.url.clone(),
            sqlite_path: app.db.sqlite_path.clone(),
            schema: None,
            admin_url: None,
            dir: tempfile::tempdir().unwrap(),
        },
        &[("master_key", &app.master_key)],
    )
    .await;
    let listed = again.get("/v1/connections?org=acme").await;
    let ids: Vec<&str> = listed.body["items"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, [before.as_str()], "{}", listed.body);
    assert!(!ids.contains(&after.as_str()));
    let creds = again.get(&format!("/v1/connections/{before}/credentials")).await;
    assert_eq!(creds.status, 200, "{}", creds.body);
    assert_eq!(creds.body["fields"]["api_key"], "key-before-0123", "{}", creds.body);
    let _: Value = creds.body;
}
