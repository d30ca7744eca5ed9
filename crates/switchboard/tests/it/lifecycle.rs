//! The token lifecycle's failure handling, against a token endpoint the test
//! controls: transient failures back off 1, 2, 4, 8 minutes and show `error`
//! after the configured count; success resets; 429's Retry-After is honoured;
//! a new client secret applies to the next refresh; a refresh held by another
//! instance is waited for; metadata is re-read by the sync job.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard::clock::Clock as _;
use switchboard_core::time::Timestamp;

use crate::support::fakes::{Fake, Seen, Shape, shape};
use crate::support::server::TestApp;
use crate::support::{TestDb, spawn_app_with};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    Down,
    Limited,
}

struct Idp {
    mode: Mode,
    secret: String,
    refreshes: usize,
    rejected_secrets: usize,
    display_name: String,
}

fn idp(state: Arc<Mutex<Idp>>) -> impl Fn(&Seen) -> Shape + Send + Sync {
    move |s: &Seen| {
        let mut st = state.lock().unwrap();
        match s.path.as_str() {
            "/authorize" => {
                let mut t = url::Url::parse(&s.query("redirect_uri").unwrap()).unwrap();
                t.query_pairs_mut().append_pair("code", "c").append_pair("state", &s.query("state").unwrap());
                shape(302, json!({})).header("location", t.to_string())
            }
            "/token" => {
                if s.basic().map(|(_, p)| p) != Some(st.secret.clone()) {
                    st.rejected_secrets += 1;
                    return shape(
                        401,
                        json!({"error": "invalid_client", "error_description": "client authentication failed"}),
                    );
                }
                let grant = s.form().into_iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v).unwrap_or_default();
                if grant == "refresh_token" {
                    match st.mode {
                        Mode::Down => return shape(503, json!({"error": "temporarily_unavailable"})),
                        Mode::Limited => return shape(429, json!({"error": "slow_down"})).header("retry-after", "900"),
                        Mode::Ok => st.refreshes += 1,
                    }
                }
                let n = st.refreshes;
                shape(
                    200,
                    json!({"access_token": format!("at-{n}"), "refresh_token": "rt", "expires_in": 120, "token_type": "Bearer"}),
                )
            }
            "/userinfo" => shape(200, json!({"sub": "u-1", "name": st.display_name, "email": "u1@example.test"})),
            _ => shape(404, json!({})),
        }
    }
}

async fn setup(extra: &[(&str, &str)]) -> (TestApp, Arc<Mutex<Idp>>, String, Fake) {
    let state = Arc::new(Mutex::new(Idp {
        mode: Mode::Ok,
        secret: "first-secret".into(),
        refreshes: 0,
        rejected_secrets: 0,
        display_name: "First Name".into(),
    }));
    let fake = Fake::start("https://idp.example", idp(state.clone())).await;
    let mut settings = vec![
        ("outbound_overrides", fake.override_entry()),
        ("refresh_window_s", "60".into()),
        ("jobs", "false".into()),
        ("refresh_max_failures", "4".into()),
    ];
    settings.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(TestDb::sqlite().await, &pairs).await;
    let a = app
        .post(
            "/v1/integrations",
            json!({"id": "idp", "provider": "custom-oauth2", "client_id": "c", "client_secret": "first-secret",
                "authorization_url": "https://idp.example/authorize", "token_url": "https://idp.example/token", "userinfo_url": "https://idp.example/userinfo"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let started = app.post("/v1/oauth/start", json!({"integration": "idp", "org": "acme"})).await;
    let at_idp = app.send(app.client.get(started.body["auth_url"].as_str().unwrap())).await;
    let back = app.send(app.client.get(at_idp.headers["location"].to_str().unwrap())).await;
    assert_eq!(back.status, 200);
    let id = app.get("/v1/connections?org=acme").await.body["items"][0]["id"].as_str().unwrap().to_owned();
    (app, state, id, fake)
}

async fn connection(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/connections/{id}")).await.body
}

/// When the stored `refresh_at` says the refresher should next try, relative to now.
async fn next_try_in(app: &TestApp, id: &str) -> Duration {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    let (at,): (i64,) =
        sqlx::query_as("SELECT refresh_at FROM connections WHERE id = $1").bind(id).fetch_one(&mut conn).await.unwrap();
    // The refresher takes connections whose refresh_at is within the window (60 s) from now.
    app.clock.now().until(Timestamp::from_millis(at - 60_000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_back_off_then_show_error_and_success_resets() {
    let (app, state, id, _fake) = setup(&[]).await;
    state.lock().unwrap().mode = Mode::Down;
    app.clock.advance(Duration::from_secs(70));
    let mut waits = Vec::new();
    for failure in 1..=5 {
        let a = app.post(&format!("/v1/connections/{id}/refresh"), json!({"force": true})).await;
        assert_eq!((a.status, a.code()), (502, "provider_error"), "failure {failure}: {}", a.body);
        let c = connection(&app, &id).await;
        assert_eq!(c["failure_count"], failure);
        assert_eq!(c["status"], if failure >= 4 { "error" } else { "connected" }, "after {failure} failures");
        waits.push((next_try_in(&app, &id).await.as_secs() + 30) / 60);
    }
    assert_eq!(waits, [1, 2, 4, 8, 8], "minutes until the next automatic try");
    // Subscribers hear of it once, when the connection turned to `error`.
    let events = app.get("/v1/events?type=connection.error").await.body["items"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = app.get(&format!("/v1/events/{}", events[0]["id"].as_str().unwrap())).await.body;
    assert_eq!(
        (event["connection_id"].as_str(), event["data"]["data"]["failures"].as_i64()),
        (Some(id.as_str()), Some(4))
    );

    state.lock().unwrap().mode = Mode::Ok;
    let a = app.post(&format!("/v1/connections/{id}/refresh"), json!({"force": true})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let c = connection(&app, &id).await;
    assert_eq!(
        (c["status"].as_str(), c["failure_count"].as_i64(), c["last_error"].as_str()),
        (Some("connected"), Some(0), None)
    );
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"switchboard_token_refreshes_total{provider="custom-oauth2",outcome="transient"} 5"#),
        "{metrics}"
    );
    assert!(metrics.contains("switchboard_token_refresh_duration_seconds_bucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_still_valid_token_is_handed_out_while_the_provider_is_down() {
    let (app, state, id, _fake) = setup(&[]).await;
    state.lock().unwrap().mode = Mode::Down;
    app.clock.advance(Duration::from_secs(70)); // inside the window, 50 s before expiry
    let a = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!((a.status, a.body["access_token"].as_str()), (200, Some("at-0")), "{}", a.body);
    app.clock.advance(Duration::from_secs(60)); // now expired
    let a = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!((a.status, a.code()), (502, "provider_error"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_wait_at_least_as_long_as_retry_after() {
    let (app, state, id, _fake) = setup(&[]).await;
    state.lock().unwrap().mode = Mode::Limited;
    app.clock.advance(Duration::from_secs(70));
    let a = app.post(&format!("/v1/connections/{id}/refresh"), json!({"force": true})).await;
    assert_eq!((a.status, a.code()), (429, "rate_limited"), "{}", a.body);
    assert_eq!(a.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("900"));
    let wait = next_try_in(&app, &id).await.as_secs();
    assert!((890..=900).contains(&wait), "the next try honours Retry-After (15 min, not 1): {wait}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_secret_applies_to_the_next_refresh() {
    let (app, state, id, _fake) = setup(&[]).await;
    state.lock().unwrap().secret = "second-secret".into();
    app.clock.advance(Duration::from_secs(70));
    let a = app.post(&format!("/v1/connections/{id}/refresh"), json!({})).await;
    assert_eq!(a.status, 502, "the provider now refuses the old secret: {}", a.body);
    assert!(connection(&app, &id).await["last_error"].as_str().unwrap().contains("invalid_client"));
    assert_eq!(app.patch("/v1/integrations/idp", json!({"client_secret": "second-secret"})).await.status, 200);
    let a = app.post(&format!("/v1/connections/{id}/refresh"), json!({"force": true})).await;
    assert_eq!((a.status, a.body["refreshed"].as_bool()), (200, Some(true)), "{}", a.body);
    assert_eq!(state.lock().unwrap().refreshes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_held_by_another_instance_is_waited_for_not_repeated() {
    let (app, state, id, _fake) = setup(&[]).await;
    app.clock.advance(Duration::from_secs(70));
    let now = app.clock.now().millis();
    // Another instance claims the connection...
    let store = app.services.store.clone();
    assert!(store.claim_connection(&id, "other-instance", now + 30_000, now).await.unwrap().is_some());
    let other = tokio::spawn({
        let (store, services, id) = (store.clone(), app.services.clone(), id.clone());
        async move {
            // ...refreshes for a while, then stores new tokens and releases it.
            tokio::time::sleep(Duration::from_millis(600)).await;
            let rec = store.connection(&id, None).await.unwrap().unwrap();
            let mut tokens = switchboard::services::oauth::OAuthTokens::default();
            tokens.access_token = "at-from-the-other-instance".into();
            tokens.refresh_token = Some("rt".into());
            let sealed = services.seal_tokens(&rec.org, &id, &tokens).await.unwrap();
            let t = switchboard::store::RefreshedTokens {
                credentials: &sealed,
                expires_at: Some(now + 3_600_000),
                refresh_at: Some(now + 3_600_000),
                scopes: None,
                now,
            };
            assert!(store.store_refreshed(&id, "other-instance", &t).await.unwrap());
        }
    });
    let a = app.get(&format!("/v1/connections/{id}/credentials")).await;
    other.await.unwrap();
    assert_eq!(a.body["access_token"], "at-from-the-other-instance", "{}", a.body);
    assert_eq!(state.lock().unwrap().refreshes, 0, "this instance did not refresh too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_job_rereads_account_metadata() {
    let (app, state, id, _fake) =
        setup(&[("jobs", "true"), ("sync_interval_s", "10"), ("refresh_window_s", "5")]).await;
    assert_eq!(connection(&app, &id).await["account"]["name"], "First Name");
    state.lock().unwrap().display_name = "Renamed Account".into();
    app.clock.advance(Duration::from_secs(11));
    let mut seen = Value::Null;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = connection(&app, &id).await;
        if seen["account"]["name"] == "Renamed Account" {
            break;
        }
    }
    assert_eq!(seen["account"]["name"], "Renamed Account", "{seen}");
    assert_ne!(seen["last_sync_at"], seen["created_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_refreshes_stores_each_only_while_its_lease_is_held() {
    let (app, _state, id, _fake) = setup(&[]).await;
    let store = app.services.store.clone();
    let now = app.clock.now().millis();
    let hour = now - now.rem_euclid(3_600_000);
    let before: i64 = store.refresh_buckets(hour).await.unwrap().iter().map(|b| b.count).sum();
    assert!(store.claim_connection(&id, "this-instance", now + 30_000, now).await.unwrap().is_some());
    let rec = store.connection(&id, None).await.unwrap().unwrap();
    let mut tokens = switchboard::services::oauth::OAuthTokens::default();
    tokens.access_token = "at-from-the-batch".into();
    let sealed = app.services.seal_tokens(&rec.org, &id, &tokens).await.unwrap();
    let item = |owner: &str| switchboard::store::RefreshToStore {
        id: id.clone(),
        owner: owner.into(),
        credentials: sealed.clone(),
        expires_at: Some(now + 3_600_000),
        refresh_at: Some(now + 3_000_000),
        scopes: None,
        now,
        hour,
        provider: rec.provider.clone(),
    };
    // The first holds the lease and releases it by storing; the second never held it.
    let stored = store.store_refreshed_batch(&[item("this-instance"), item("another-instance")]).await.unwrap();
    assert_eq!(stored, [true, false]);
    let after = store.connection(&id, None).await.unwrap().unwrap();
    assert_eq!(after.last_refreshed_at, Some(now));
    assert_eq!(after.lease_owner, None, "storing released the lease");
    let counted: i64 = store.refresh_buckets(hour).await.unwrap().iter().map(|b| b.count).sum();
    assert_eq!(counted - before, 2, "both refreshes were counted for the console, in the same transaction");
    app.services.connection_records.forget(&id);
    let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(creds.body["access_token"], "at-from-the-batch", "{}", creds.body);
}
