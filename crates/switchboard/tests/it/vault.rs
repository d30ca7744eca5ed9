//! Secrets at rest: never in plain text in either database, bound to their
//! row, rolled over to new data keys before the nonce budget runs out.

use std::sync::Arc;

use secrecy::ExposeSecret as _;
use sqlx::Connection as _;
use switchboard::clock::SystemClock;
use switchboard::store::{Store, StoreOptions};
use switchboard::vault::{Vault, VaultServiceError};
use switchboard_core::vault::{Binding, MasterKey};

use crate::on_both_backends;
use crate::support::{TestDb, spawn_app};

on_both_backends!(no_secret_is_stored_in_plain_text, plain_text_case);
async fn plain_text_case(db: TestDb) {
    let app = spawn_app(db).await;
    let marker = "PLAINTEXT-CANARY-c0ffee-4242";
    assert_eq!(app.create_integration("canary", "github", marker).await.status, 201);
    let session = app.session("acme", "u1", "admin").await;
    let slack_secret = "SLACK-SIGNING-CANARY-8f14e45fceea167a";
    let given = app
        .post("/v1/webhook-endpoints", serde_json::json!({"provider": "slack", "org": "acme", "secret": slack_secret}))
        .await;
    assert_eq!(given.status, 201, "{}", given.body);
    let generated = app.post("/v1/webhook-endpoints", serde_json::json!({"provider": "github", "org": "acme"})).await;
    let generated = generated.body["secret"].as_str().unwrap().to_owned();
    let sub = app.post("/v1/subscriptions", serde_json::json!({"url": "http://127.0.0.1:9/hooks"})).await;
    let whsec = sub.body["secret"].as_str().unwrap().to_owned();
    let dump = app.db.raw_dump().await;
    let contains = |needle: &str| dump.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!dump.is_empty());
    assert!(contains("canary"), "the dump does hold the integration row");
    assert!(!contains(marker), "client secret found in plain text");
    assert!(!contains(&app.key), "secret API key found in plain text");
    assert!(!contains(&session), "session token found in plain text");
    assert!(!contains(slack_secret), "a webhook signing secret found in plain text");
    assert!(!contains(&generated), "a generated webhook secret found in plain text");
    assert!(
        !contains(&whsec) && !contains(whsec.trim_start_matches("whsec_")),
        "a subscription secret found in plain text"
    );
    // `vault check` opens them all.
    let report = app.services.vault.check_all().await.unwrap();
    assert!(report.failed.is_empty() && report.opened == 4, "{report:?}");
}

async fn raw_exec(db: &TestDb, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.unwrap();
}

on_both_backends!(a_ciphertext_copied_to_another_row_does_not_open, copied_case);
async fn copied_case(db: TestDb) {
    let app = spawn_app(db).await;
    app.create_integration("alpha", "github", "alpha-secret").await;
    app.create_integration("beta", "github", "beta-secret").await;
    raw_exec(&app.db, "UPDATE integrations SET client_secret = (SELECT client_secret FROM integrations WHERE id = 'alpha') WHERE id = 'beta'").await;
    let beta = app.services.integration_record("beta").await.unwrap();
    assert!(app.services.integration_client_secret(&beta).await.is_err(), "alpha's ciphertext must not open as beta's");
    let alpha = app
        .services
        .integration_client_secret(&app.services.integration_record("alpha").await.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alpha.expose_secret(), "alpha-secret");
    let report = app.services.vault.check_all().await.unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].contains("beta"));
}

on_both_backends!(data_keys_roll_over_before_their_seal_budget, budget_case);
async fn budget_case(db: TestDb) {
    let store = Store::connect(&StoreOptions {
        url: db.url.clone(),
        max_connections: 4,
        acquire_timeout: std::time::Duration::from_secs(10),
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let key_text = MasterKey::generate().1.expose_secret().to_owned();
    let vault = Vault::open_with_budget(
        store.clone(),
        vec![MasterKey::from_base64(&key_text).unwrap()],
        Arc::new(SystemClock),
        3,
    )
    .await
    .unwrap();
    let mut sealed = Vec::new();
    for i in 0..10 {
        let row = format!("row{i}");
        let b = Binding { org: "acme", table: "t", row: &row, field: "f" };
        sealed.push((row.clone(), vault.seal(&b, format!("secret-{i}").as_bytes()).await.unwrap()));
    }
    let keys = store.data_keys().await.unwrap();
    assert!(keys.len() >= 4, "10 seals at 3 per key need at least 4 data keys, got {}", keys.len());
    let mut per_key = std::collections::HashMap::new();
    for (_, s) in &sealed {
        *per_key.entry(switchboard_core::vault::Envelope::parse(s).unwrap().key_id).or_insert(0) += 1;
    }
    assert!(per_key.values().all(|n| *n <= 3), "no data key sealed more than its budget: {per_key:?}");
    assert!(keys.iter().filter(|k| k.retired_at.is_some()).count() >= 3);
    // A fresh vault (another instance, or after restart) opens everything.
    let again = Vault::open(store.clone(), vec![MasterKey::from_base64(&key_text).unwrap()], Arc::new(SystemClock))
        .await
        .unwrap();
    for (i, (row, s)) in sealed.iter().enumerate() {
        let b = Binding { org: "acme", table: "t", row, field: "f" };
        assert_eq!(&**again.open_sealed(&b, s).await.unwrap(), format!("secret-{i}").as_bytes());
    }
    // The wrong master key is refused before anything is served.
    let (wrong, _) = MasterKey::generate();
    let err = Vault::open(store, vec![wrong], Arc::new(SystemClock)).await.unwrap_err();
    assert!(matches!(err, VaultServiceError::WrongMasterKey { .. }), "{err}");
}

#[tokio::test]
async fn an_interrupted_reseal_carries_on_where_it_stopped() {
    let app = spawn_app(TestDb::sqlite().await).await;
    for i in 0..40 {
        assert_eq!(app.create_integration(&format!("app-{i}"), "github", &format!("secret-{i}")).await.status, 201);
    }
    let vault = &app.services.vault;
    let before = vault.usage().await.unwrap();
    // Stopped after ten values, as a kill would stop it: each replacement is its own write.
    let done = Arc::new(tokio::sync::Notify::new());
    let signal = done.clone();
    let progress = move |n: u64, _total: u64| {
        if n == 10 {
            signal.notify_one();
        }
    };
    tokio::select! {
        r = vault.reseal_all(&progress) => panic!("finished before it was stopped: {r:?}"),
        () = done.notified() => {}
    }
    let midway = vault.usage().await.unwrap();
    assert_eq!(midway.len(), before.len() + 1, "one fresh data key");
    let under_retired: usize = midway.iter().filter(|k| k.retired_at.is_some()).map(|k| k.secrets).sum();
    assert!(under_retired > 0 && under_retired < 40, "{midway:?}");

    let report = vault.reseal_all(&|_, _| {}).await.unwrap();
    assert!(report.resumed, "{report:?}");
    assert_eq!(report.resealed, under_retired);
    let after = vault.usage().await.unwrap();
    assert_eq!(after.len(), midway.len(), "no further data key was made: {after:?}");
    assert!(after.iter().filter(|k| k.retired_at.is_some()).all(|k| k.secrets == 0), "{after:?}");
    // Every secret still opens, and through the API too.
    let check = vault.check_all().await.unwrap();
    assert!(check.failed.is_empty() && check.opened >= 40, "{check:?}");
    let removed = vault.remove_unused_keys().await.unwrap();
    assert_eq!(removed.len(), before.len());
    assert_eq!(app.get("/v1/integrations/app-7").await.status, 200);
    // A run with nothing left over starts afresh with another key.
    let again = vault.reseal_all(&|_, _| {}).await.unwrap();
    assert!(!again.resumed && again.resealed >= 40, "{again:?}");
}
