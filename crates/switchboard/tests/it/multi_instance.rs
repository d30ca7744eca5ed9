//! Several instances on one PostgreSQL database share the refresh work: with
//! 500 connections due at once, three instances refresh each exactly once — the
//! token endpoint counts, and any reuse of a rotated refresh token would be
//! `invalid_grant`. Then the same with one instance killed (SIGKILL) mid-cycle:
//! its leases lapse and the others finish the work.

#![allow(clippy::disallowed_methods, reason = "drives child processes and polls with bounded waits")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::TestDb;
use crate::support::fakes::{Fake, Seen, Shape, shape};
use crate::support::process::{Server, run};

const CONNECTIONS: usize = 500;

/// A rotating authorization server: every refresh token works once. Reuse is
/// refused (`invalid_grant`) unless it comes within `grace` of the first use,
/// when the first answer is repeated — the reuse interval real providers offer
/// for a client that lost an answer.
#[derive(Default)]
struct Rotation {
    /// refresh token → (family, used at, the answer given)
    tokens: HashMap<String, (usize, Option<Instant>, Option<Value>)>,
    families: usize,
    refreshes_per_family: HashMap<usize, usize>,
    refreshes: usize,
    rejected_reuse: usize,
    graced_reuse: usize,
}

fn token_endpoint(state: Arc<Mutex<Rotation>>, grace: Duration) -> impl Fn(&Seen) -> Shape + Send + Sync {
    move |s: &Seen| {
        let form: HashMap<String, String> = s.form().into_iter().collect();
        let mut st = state.lock().unwrap();
        if s.path == "/authorize" {
            let mut target = url::Url::parse(&s.query("redirect_uri").unwrap()).unwrap();
            target.query_pairs_mut().append_pair("code", "any").append_pair("state", &s.query("state").unwrap());
            return shape(302, json!({})).header("location", target.to_string());
        }
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                st.families += 1;
                let family = st.families;
                let rt = format!("rt-{family}-0");
                st.tokens.insert(rt.clone(), (family, None, None));
                // Short-lived: due for refresh as soon as it is stored.
                shape(
                    200,
                    json!({"access_token": format!("at-{family}-0"), "refresh_token": rt, "expires_in": 30, "token_type": "Bearer"}),
                )
            }
            Some("refresh_token") => {
                let presented = form.get("refresh_token").cloned().unwrap_or_default();
                let Some((family, used, answer)) = st.tokens.get(&presented).cloned() else {
                    return shape(400, json!({"error": "invalid_grant", "error_description": "unknown refresh token"}));
                };
                if let Some(at) = used {
                    if at.elapsed() <= grace {
                        st.graced_reuse += 1;
                        return shape(200, answer.unwrap_or_default());
                    }
                    st.rejected_reuse += 1;
                    return shape(
                        400,
                        json!({"error": "invalid_grant", "error_description": "refresh token already used"}),
                    );
                }
                st.refreshes += 1;
                let n = {
                    let c = st.refreshes_per_family.entry(family).or_default();
                    *c += 1;
                    *c
                };
                let next = format!("rt-{family}-{n}");
                let body = json!({"access_token": format!("at-{family}-{n}"), "refresh_token": next, "expires_in": 3600, "token_type": "Bearer"});
                st.tokens.insert(presented, (family, Some(Instant::now()), Some(body.clone())));
                st.tokens.insert(next, (family, None, None));
                shape(200, body)
            }
            _ => shape(400, json!({"error": "unsupported_grant_type"})),
        }
    }
}

struct Cluster {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    key: String,
}

impl Cluster {
    fn env(&self, jobs: bool) -> Vec<(&str, &str)> {
        let mut e: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        e.push(("SWITCHBOARD_JOBS", if jobs { "true" } else { "false" }));
        e
    }

    fn start(&self, jobs: bool) -> Server {
        Server::start(self.dir.path(), &self.env(jobs)).unwrap()
    }
}

/// Seeds `CONNECTIONS` connections through the OAuth flow on one instance (jobs off), then stops it.
async fn seeded(db: &TestDb, fake: &Fake) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let master = {
        use secrecy::ExposeSecret as _;
        switchboard_core::vault::MasterKey::generate().1.expose_secret().to_owned()
    };
    let env: Vec<(String, String)> = vec![
        ("SWITCHBOARD_DATABASE_URL".into(), db.url.clone()),
        ("SWITCHBOARD_MASTER_KEY".into(), master),
        ("SWITCHBOARD_OUTBOUND_OVERRIDES".into(), fake.override_entry()),
        ("SWITCHBOARD_ALLOW_PRIVATE_NETWORKS".into(), "true".into()),
        ("SWITCHBOARD_REFRESH_INTERVAL_S".into(), "1".into()),
        ("SWITCHBOARD_REFRESH_WINDOW_S".into(), "60".into()),
        ("SWITCHBOARD_REFRESH_LEASE_S".into(), "5".into()),
        ("SWITCHBOARD_LOG_LEVEL".into(), "warn".into()),
    ];
    let mut cluster = Cluster { dir, env, key: String::new() };
    let env = cluster.env(false);
    let (ok, out, err) = run(cluster.dir.path(), &env, &["keys", "create", "--name", "cluster"]);
    assert!(ok, "{err}");
    cluster.key = out.trim().to_owned();
    let mut seeder = cluster.start(false);
    let base = format!("http://127.0.0.1:{}", seeder.port);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let created = client
        .post(format!("{base}/v1/integrations"))
        .bearer_auth(&cluster.key)
        .json(&json!({"id": "idp", "provider": "custom-oauth2", "client_id": "cluster", "client_secret": "cluster-secret",
            "redirect_uri": format!("{base}/oauth/callback"),
            "authorization_url": "https://idp.example/authorize", "token_url": "https://idp.example/token", "pkce": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    use futures::StreamExt as _;
    let results: Vec<bool> = futures::stream::iter(0..CONNECTIONS)
        .map(|i| {
            let (client, base, key) = (client.clone(), base.clone(), cluster.key.clone());
            async move {
                let started: Value = client
                    .post(format!("{base}/v1/oauth/start"))
                    .bearer_auth(&key)
                    .json(&json!({"integration": "idp", "org": format!("org-{}", i % 10)}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let at_idp = client.get(started["auth_url"].as_str().unwrap()).send().await.unwrap();
                let callback = at_idp.headers()["location"].to_str().unwrap().to_owned();
                client.get(callback).send().await.unwrap().status() == 200
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(results.iter().all(|ok| *ok), "every seeding flow completed");
    assert!(seeder.sigterm().success());
    cluster
}

async fn connection_states(db: &TestDb) -> Vec<(String, Option<i64>, i32)> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query_as("SELECT status, refresh_at, failure_count FROM connections").fetch_all(&mut conn).await.unwrap()
}

/// Waits (bounded) until every connection was refreshed: none due any more.
async fn wait_until_all_refreshed(db: &TestDb, state: &Arc<Mutex<Rotation>>, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let refreshes = state.lock().unwrap().refreshes;
        let states = connection_states(db).await;
        let connected = states.iter().filter(|(s, _, _)| s == "connected").count();
        if refreshes >= CONNECTIONS && connected == CONNECTIONS {
            // Let any straggler land before counting.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            return;
        }
        assert!(Instant::now() < deadline, "after {within:?}: {refreshes} refreshes, {connected} connected");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_refresh_every_due_connection_exactly_once() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("SKIPPED multi_instance: SWITCHBOARD_TEST_POSTGRES_URL is not set");
        return;
    };
    let state = Arc::new(Mutex::new(Rotation::default()));
    let fake = Fake::start("https://idp.example", token_endpoint(state.clone(), Duration::ZERO)).await;
    let cluster = seeded(&db, &fake).await;
    assert_eq!(state.lock().unwrap().families, CONNECTIONS);
    assert_eq!(state.lock().unwrap().refreshes, 0, "the seeder refreshed nothing");

    let mut instances: Vec<Server> = (0..3).map(|_| cluster.start(true)).collect();
    wait_until_all_refreshed(&db, &state, Duration::from_secs(120)).await;
    let st = state.lock().unwrap();
    assert_eq!(st.refreshes, CONNECTIONS, "each connection refreshed exactly once");
    assert!(st.refreshes_per_family.values().all(|n| *n == 1), "no connection twice");
    assert_eq!((st.rejected_reuse, st.graced_reuse), (0, 0), "no refresh token was presented twice: no invalid_grant");
    drop(st);
    for s in &mut instances {
        assert!(s.sigterm().success());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_cycle_leaves_its_work_to_the_others() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("SKIPPED multi_instance: SWITCHBOARD_TEST_POSTGRES_URL is not set");
        return;
    };
    let state = Arc::new(Mutex::new(Rotation::default()));
    // A refresh answered just before the kill is never stored; its reuse within the grace period is answered again.
    let fake = Fake::start("https://idp.example", token_endpoint(state.clone(), Duration::from_secs(60))).await;
    let cluster = seeded(&db, &fake).await;

    let mut instances: Vec<Server> = (0..3).map(|_| cluster.start(true)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while state.lock().unwrap().refreshes < CONNECTIONS / 5 {
        assert!(Instant::now() < deadline, "refreshing did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let victim = instances.remove(0);
    let pid = victim.child.id().to_string();
    std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    drop(victim);

    wait_until_all_refreshed(&db, &state, Duration::from_secs(120)).await;
    let states = connection_states(&db).await;
    let st = state.lock().unwrap();
    assert!(states.iter().all(|(s, _, f)| s == "connected" && *f == 0), "none lost, none failed");
    assert_eq!(st.refreshes, CONNECTIONS, "every connection was refreshed (its rotated token issued once)");
    assert_eq!(st.rejected_reuse, 0, "no invalid_grant");
    eprintln!("killed one instance mid-cycle: {} refreshes repeated within the grace period", st.graced_reuse);
    drop(st);
    for s in &mut instances {
        assert!(s.sigterm().success());
    }
}

/// What each instance keeps in memory for SWITCHBOARD_ACCESS_CACHE_MS (checked keys, connections'
/// access rules, integration rows): a change is seen at once on the instance that made it, and on
/// another instance within that time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_and_deleted_rows_are_seen_at_once_here_and_within_the_cache_time_elsewhere() {
    const CACHE_MS: u64 = 400;
    let cache = CACHE_MS.to_string();
    let a =
        crate::support::spawn_app_with(TestDb::sqlite().await, &[("access_cache_ms", &cache), ("jobs", "false")]).await;
    let b = a.another_instance(&[("access_cache_ms", &cache), ("jobs", "false")]).await;
    let made = a.create_integration("cached-app", "github", "s3cret-value").await;
    assert_eq!(made.status, 201, "{}", made.body);
    let conn = a
        .connect(json!({"provider": "custom-api-key", "credentials": {"base_url": "https://api.example.com", "api_key": "cached-0123456789"}}))
        .await;
    let (_, key) = a.services.create_api_key(&switchboard::services::Principal::Operator, "doomed").await.unwrap();
    let key = key.expose().to_owned();
    // Both instances have read all three, so each holds them in memory.
    for app in [&a, &b] {
        assert_eq!(app.get("/v1/integrations/cached-app").await.status, 200);
        assert_eq!(app.get(&format!("/v1/connections/{conn}")).await.status, 200);
        assert_eq!(app.call(reqwest::Method::GET, "/v1/integrations", &key, None).await.status, 200);
    }

    let deleted = a.delete("/v1/integrations/cached-app").await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(a.delete(&format!("/v1/connections/{conn}")).await.status, 204);
    a.services.revoke_api_key(&switchboard::services::Principal::Operator, "doomed").await.unwrap();
    let changed = std::time::Instant::now();
    // Here: at once.
    assert_eq!(a.get("/v1/integrations/cached-app").await.status, 404);
    assert_eq!(a.get(&format!("/v1/connections/{conn}")).await.status, 404);
    assert_eq!(a.call(reqwest::Method::GET, "/v1/integrations", &key, None).await.status, 401);
    // On the other instance: within the cache time (and a little for the requests themselves).
    let bound = Duration::from_millis(CACHE_MS + 300);
    loop {
        let seen = (
            b.get("/v1/integrations/cached-app").await.status,
            b.get(&format!("/v1/connections/{conn}")).await.status,
            b.call(reqwest::Method::GET, "/v1/integrations", &key, None).await.status,
        );
        if seen == (404, 404, 401) {
            break;
        }
        assert!(changed.elapsed() < bound, "after {:?} the other instance still answers {seen:?}", changed.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("the other instance saw all three changes {} ms after them", changed.elapsed().as_millis());
}
