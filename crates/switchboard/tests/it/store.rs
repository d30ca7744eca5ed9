//! The store's suite, on SQLite and PostgreSQL.

use switchboard::store::{
    ApiKeyRecord, AuditFilter, DataKeyRecord, IntegrationPatch, IntegrationRecord, NewAudit, Page, SessionRecord,
    Store, StoreError, StoreOptions,
};

use crate::on_both_backends;
use crate::support::TestDb;

async fn open(db: &TestDb) -> Store {
    let store = Store::connect(&StoreOptions {
        url: db.url.clone(),
        max_connections: 4,
        acquire_timeout: std::time::Duration::from_secs(10),
    })
    .await
    .expect("connect");
    store.migrate().await.expect("migrate");
    store
}

on_both_backends!(migrations_are_current_and_idempotent, migrations_case);
async fn migrations_case(db: TestDb) {
    let store = open(&db).await;
    assert!(store.migrations_current().await.unwrap());
    store.migrate().await.expect("second run is a no-op");
    store.ping().await.unwrap();
}

on_both_backends!(api_keys_are_found_by_digest_until_revoked, api_keys_case);
async fn api_keys_case(db: TestDb) {
    let store = open(&db).await;
    let rec = ApiKeyRecord {
        id: "key_a".into(),
        name: "backend".into(),
        hint: "sk_abc…".into(),
        created_at: 1,
        last_used_at: None,
        revoked_at: None,
    };
    store.insert_api_key(&rec, "digest-a").await.unwrap();
    assert!(matches!(store.insert_api_key(&rec, "digest-b").await, Err(StoreError::Conflict(_))));
    assert_eq!(store.api_key_by_digest("digest-a").await.unwrap().unwrap().name, "backend");
    assert!(store.api_key_by_digest("digest-x").await.unwrap().is_none());
    store.touch_api_key("key_a", 5).await.unwrap();
    assert_eq!(store.api_keys().await.unwrap()[0].last_used_at, Some(5));
    let revoked = store.revoke_api_key("backend", 9).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(9));
    assert!(store.api_key_by_digest("digest-a").await.unwrap().is_none());
    assert!(matches!(store.revoke_api_key("backend", 10).await, Err(StoreError::NotFound)));
}

on_both_backends!(sessions_expire, sessions_case);
async fn sessions_case(db: TestDb) {
    let store = open(&db).await;
    let s = SessionRecord {
        id: "ses_0000000000000000000000000a".into(),
        org: "acme".into(),
        user_id: "u1".into(),
        role: "admin".into(),
        created_by: "k".into(),
        created_at: 0,
        expires_at: 1000,
        providers: Some("[\"slack\"]".into()),
        locale: Some("de".into()),
        return_url: None,
    };
    store.insert_session("d1", &s).await.unwrap();
    let back = store.live_session("d1", 999).await.unwrap().unwrap();
    assert_eq!((back.providers.as_deref(), back.locale.as_deref()), (Some("[\"slack\"]"), Some("de")));
    assert!(store.live_session("d1", 999).await.unwrap().is_some());
    assert!(store.live_session("d1", 1000).await.unwrap().is_none());
    assert_eq!(store.purge_expired_sessions(2000).await.unwrap(), 1);
}

fn integration(id: &str) -> IntegrationRecord {
    IntegrationRecord {
        id: id.into(),
        provider: "github".into(),
        client_id: "cid".into(),
        client_secret: Some(vec![1, 2, 3]),
        scopes: "[\"repo\"]".into(),
        redirect_uri: None,
        settings: "{}".into(),
        created_at: 1,
        updated_at: 1,
    }
}

on_both_backends!(integrations_round_trip_and_patch, integrations_case);
async fn integrations_case(db: TestDb) {
    let store = open(&db).await;
    store.insert_integration(&integration("gh")).await.unwrap();
    store.insert_integration(&integration("gh2")).await.unwrap();
    assert!(
        matches!(store.insert_integration(&integration("gh")).await, Err(StoreError::Conflict(m)) if m.contains("gh"))
    );
    let got = store.integration("gh").await.unwrap().unwrap();
    assert_eq!(got.client_secret, Some(vec![1, 2, 3]));
    assert_eq!(store.integrations(Some("github")).await.unwrap().len(), 2);
    assert_eq!(store.integrations(Some("slack")).await.unwrap().len(), 0);
    let patched = store
        .update_integration(
            "gh",
            IntegrationPatch {
                client_id: Some("new".into()),
                redirect_uri: Some(Some("https://x/cb".into())),
                ..Default::default()
            },
            7,
        )
        .await
        .unwrap();
    assert_eq!(
        (patched.client_id.as_str(), patched.redirect_uri.as_deref(), patched.updated_at),
        ("new", Some("https://x/cb"), 7)
    );
    assert_eq!(patched.client_secret, Some(vec![1, 2, 3]), "untouched fields stay");
    let cleared = store
        .update_integration("gh", IntegrationPatch { redirect_uri: Some(None), ..Default::default() }, 8)
        .await
        .unwrap();
    assert_eq!(cleared.redirect_uri, None);
    assert!(matches!(
        store.update_integration("nope", IntegrationPatch::default(), 9).await,
        Err(StoreError::NotFound)
    ));
    store.delete_integration("gh").await.unwrap();
    assert!(matches!(store.delete_integration("gh").await, Err(StoreError::NotFound)));
}

on_both_backends!(audit_filters_by_org_and_pages_newest_first, audit_case);
async fn audit_case(db: TestDb) {
    let store = open(&db).await;
    for i in 0..5 {
        store
            .insert_audit(&NewAudit {
                id: format!("aud_{i:02}"),
                at: i,
                org: Some(if i % 2 == 0 { "acme" } else { "globex" }.into()),
                actor: "t".into(),
                action: "x.do".into(),
                target_kind: "thing".into(),
                target_id: format!("t{i}"),
                outcome: "success".into(),
                detail: "{}".into(),
            })
            .await
            .unwrap();
    }
    let acme = AuditFilter { org: Some("acme".into()), ..Default::default() };
    let first = store.audit(&acme, &Page { after: None, limit: 2 }).await.unwrap();
    assert_eq!(first.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["aud_04", "aud_02"]);
    let second = store.audit(&acme, &Page { after: Some("aud_02".into()), limit: 2 }).await.unwrap();
    assert_eq!(second.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["aud_00"]);
    let all = store.audit(&AuditFilter::default(), &Page { after: None, limit: 10 }).await.unwrap();
    assert_eq!(all.len(), 5);
    let one = store
        .audit(&AuditFilter { target: Some("t3".into()), ..Default::default() }, &Page { after: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
}

on_both_backends!(data_keys_reserve_retire_and_rewrap, data_keys_case);
async fn data_keys_case(db: TestDb) {
    let store = open(&db).await;
    let rec = DataKeyRecord {
        id: 42,
        master_key_id: "m1".into(),
        wrapped: vec![9; 61],
        sealed_count: 0,
        created_at: 1,
        retired_at: None,
    };
    store.insert_data_key(&rec).await.unwrap();
    assert_eq!(store.reserve_seals(42, 10).await.unwrap(), Some(10));
    assert_eq!(store.reserve_seals(42, 10).await.unwrap(), Some(20));
    assert!(!store.rewrap_data_key(42, "m-other", "m2", &[1]).await.unwrap(), "compare-and-swap on the old key id");
    assert!(store.rewrap_data_key(42, "m1", "m2", &[1]).await.unwrap());
    assert_eq!(store.data_key(42).await.unwrap().unwrap().master_key_id, "m2");
    store.retire_data_key(42, 5).await.unwrap();
    assert_eq!(store.reserve_seals(42, 10).await.unwrap(), None, "a retired key takes no more seals");
}

on_both_backends!(concurrent_seal_reservations_never_overlap, reservations_case);
async fn reservations_case(db: TestDb) {
    let store = open(&db).await;
    let rec = DataKeyRecord {
        id: 7,
        master_key_id: "m".into(),
        wrapped: vec![0; 61],
        sealed_count: 0,
        created_at: 1,
        retired_at: None,
    };
    store.insert_data_key(&rec).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut totals = Vec::new();
            for _ in 0..25 {
                totals.push(s.reserve_seals(7, 3).await.unwrap().unwrap());
            }
            totals
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 200, "every reservation saw a distinct running total");
    assert_eq!(*all.last().unwrap(), 600);
}

#[tokio::test]
async fn the_refresher_finds_due_connections_through_its_partial_index() {
    use sqlx::Connection as _;
    let db = TestDb::sqlite().await;
    open(&db).await;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT id FROM connections WHERE refresh_at IS NOT NULL AND refresh_at <= 5 \
         AND (lease_until IS NULL OR lease_until < 5) ORDER BY refresh_at LIMIT 64",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let text: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert!(
        text.iter().any(|d| d.contains("USING INDEX connections_refresh_due")),
        "the due query must use the partial index: {text:?}"
    );
}
