//! The OAuth connect flow and token lifecycle against a real authorization
//! server nobody here wrote (npm oidc-provider): PKCE required, 60-second
//! access tokens, refresh-token rotation, revocation. A browser is played
//! with plain HTTP: follow the auth URL, sign in, consent, follow the redirect.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::browser::Browser;
use crate::support::idp::{Idp, location, query};
use crate::support::server::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_connects_through_the_whole_flow_with_pkce() {
    let idp = Idp::start(&[]).await;
    let (answer, started) = idp.connect("alice").await;
    assert!(started["auth_url"].as_str().unwrap().contains("code_challenge_method=S256"));
    let state = query(&url::Url::parse(started["auth_url"].as_str().unwrap()).unwrap(), "state").unwrap();
    assert!(state.len() >= 22, "state carries at least 128 bits");

    assert_eq!(answer.status, 302);
    assert_eq!(answer.headers.get("referrer-policy").and_then(|v| v.to_str().ok()), Some("no-referrer"));
    let target = location(&answer);
    assert_eq!((target.host_str(), target.path()), (Some("app.test"), "/integrations/done"));
    assert_eq!(query(&target, "status").as_deref(), Some("success"));
    let id = query(&target, "connection_id").unwrap();
    assert!(!target.as_str().contains("token"), "no token in the redirect: {target}");

    let hs = idp.app.get(&format!("/v1/oauth/handshakes/{}", started["handshake_id"].as_str().unwrap())).await;
    assert_eq!((hs.body["status"].as_str(), hs.body["connection_id"].as_str()), (Some("completed"), Some(id.as_str())));

    let c = idp.app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(c.body["status"], "connected");
    assert_eq!(c.body["auth_mode"], "oauth2");
    assert_eq!(c.body["owner"], "u1");
    assert_eq!(c.body["account"]["email"], "alice@example.test", "identity read from the userinfo endpoint");
    assert!(c.body["scopes"].as_array().unwrap().contains(&json!("openid")));
    assert!(c.body["expires_at"].is_string());

    let creds = idp.app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!((creds.body["type"].as_str(), creds.body["token_type"].as_str()), (Some("oauth2"), Some("Bearer")));
    let token = creds.body["access_token"].as_str().unwrap();
    // The token really works at the provider.
    let me = reqwest::Client::new().get(format!("{}/me", idp.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert!(!c.body.to_string().contains(token), "metadata answers never carry the token");
    assert_eq!(idp.stats().await["token"]["authorization_code"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_wrong_and_expired_state_store_nothing() {
    let idp = Idp::start(&[]).await;
    let started = idp.start_flow(json!({})).await;
    let landing = Browser::new().authorize(started.body["auth_url"].as_str().unwrap(), "bob", true).await;
    let first = idp.app.send(idp.app.client.get(landing.url.as_str())).await;
    assert_eq!(first.status, 302);

    // The same callback again: refused with a clear page, nothing changes.
    let replay = idp.app.send(idp.app.client.get(landing.url.as_str())).await;
    assert_eq!(replay.status, 400);
    let page = replay_text(&idp.app, landing.url.as_str()).await;
    assert!(page.contains("already used"), "{page}");
    assert_eq!(idp.app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 1);

    // A state nobody issued.
    let mut forged = landing.url.clone();
    forged.set_query(Some("code=abc&state=not-a-state-we-issued"));
    let page = replay_text(&idp.app, forged.as_str()).await;
    assert!(page.contains("unknown"), "{page}");

    // An expired one: the flow is started, time passes, the user comes back too late.
    let started = idp.start_flow(json!({})).await;
    let landing = Browser::new().authorize(started.body["auth_url"].as_str().unwrap(), "carol", true).await;
    idp.app.clock.advance(Duration::from_secs(601));
    let page = replay_text(&idp.app, landing.url.as_str()).await;
    assert!(page.contains("expired"), "{page}");
    assert_eq!(
        idp.app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(),
        1,
        "still only the first"
    );
    let hs = idp.app.get(&format!("/v1/oauth/handshakes/{}", started.body["handshake_id"].as_str().unwrap())).await;
    assert_eq!(hs.body["status"], "expired");
}

async fn replay_text(app: &TestApp, url: &str) -> String {
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.headers().get("referrer-policy").and_then(|v| v.to_str().ok()), Some("no-referrer"));
    let csp = res.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(csp.contains("default-src 'none'"), "the page loads nothing from elsewhere: {csp}");
    res.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_declines_comes_back_with_access_denied() {
    let idp = Idp::start(&[]).await;
    let started = idp.start_flow(json!({})).await;
    let landing = Browser::new().authorize(started.body["auth_url"].as_str().unwrap(), "dave", false).await;
    let a = idp.app.send(idp.app.client.get(landing.url.as_str())).await;
    let target = location(&a);
    assert_eq!(
        (query(&target, "status").as_deref(), query(&target, "code").as_deref()),
        (Some("error"), Some("access_denied"))
    );
    let hs = idp.app.get(&format!("/v1/oauth/handshakes/{}", started.body["handshake_id"].as_str().unwrap())).await;
    assert_eq!(
        (hs.body["status"].as_str(), hs.body["error"]["code"].as_str()),
        (Some("failed"), Some("access_denied"))
    );
    assert!(hs.body["error"]["message"].as_str().unwrap().contains("aborted"), "the provider's reason: {}", hs.body);
    assert_eq!(idp.app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_from_another_issuer_is_refused() {
    let idp = Idp::start(&[]).await;
    let started = idp.start_flow(json!({})).await;
    let landing = Browser::new().authorize(started.body["auth_url"].as_str().unwrap(), "erin", true).await;
    let mut mixed = landing.url.clone();
    let pairs: Vec<(String, String)> = landing
        .url
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "iss" { "https://attacker.example".to_owned() } else { v.into_owned() };
            (k.into_owned(), value)
        })
        .collect();
    mixed.query_pairs_mut().clear().extend_pairs(pairs);
    let a = idp.app.send(idp.app.client.get(mixed.as_str())).await;
    assert_eq!(query(&location(&a), "code").as_deref(), Some("issuer_mismatch"));
    assert_eq!(idp.stats().await["token"]["authorization_code"], Value::Null, "the code was never exchanged");
    assert_eq!(idp.app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_before_expiry_and_rotation_is_followed() {
    let idp = Idp::start(&[]).await;
    let id = idp.connection_id("frank").await;
    let first = idp.app.get(&format!("/v1/connections/{id}/credentials")).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // 60 s tokens, 30 s window: not due yet.
    let again = idp.app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(again.body["access_token"], first.as_str());
    assert_eq!(idp.stats().await["token"]["refresh_token"], Value::Null);

    // 35 s later the token is inside the window: the credentials endpoint refreshes first.
    idp.app.clock.advance(Duration::from_secs(35));
    let second = idp.app.get(&format!("/v1/connections/{id}/credentials")).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(idp.stats().await["token"]["refresh_token"], 1);

    // The rotated refresh token was kept: the next refresh succeeds too.
    idp.app.clock.advance(Duration::from_secs(35));
    let r = idp.app.post(&format!("/v1/connections/{id}/refresh"), json!({})).await;
    assert_eq!((r.status, r.body["refreshed"].as_bool()), (200, Some(true)), "{}", r.body);
    let stats = idp.stats().await;
    assert_eq!(
        (stats["token"]["refresh_token"].as_i64(), stats["errors"].as_object().unwrap().len()),
        (Some(2), 0),
        "{stats}"
    );
    // Not due: no refresh unless forced.
    let r = idp.app.post(&format!("/v1/connections/{id}/refresh"), json!({})).await;
    assert_eq!(r.body["refreshed"], false);
    let r = idp.app.post(&format!("/v1/connections/{id}/refresh"), json!({"force": true})).await;
    assert_eq!(r.body["refreshed"], true);
    let metrics = idp.app.client.get(idp.app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"switchboard_token_refreshes_total{provider="custom-oauth2",outcome="success"} 3"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_refresh() {
    let idp = Idp::start(&[]).await;
    let id = idp.connection_id("grace").await;
    idp.app.clock.advance(Duration::from_secs(40));
    let path = format!("/v1/connections/{id}/credentials");
    let calls = (0..12).map(|_| idp.app.get(&path));
    let answers = futures::future::join_all(calls).await;
    let tokens: std::collections::BTreeSet<_> =
        answers.iter().map(|a| a.body["access_token"].as_str().unwrap().to_owned()).collect();
    assert_eq!(tokens.len(), 1, "every caller got the one refreshed token");
    let stats = idp.stats().await;
    assert_eq!(
        (stats["token"]["refresh_token"].as_i64(), stats["errors"].as_object().unwrap().len()),
        (Some(1), 0),
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_old_refresh_token_puts_the_connection_in_needs_reauth() {
    let idp = Idp::start(&[]).await;
    let id = idp.connection_id("heidi").await;
    // Keep the stored (sealed) tokens as they are now, refresh (the server rotates), then put the old ones back:
    // the next refresh presents an already-used refresh token, as a stale copy would.
    let stale = sealed_credentials(&idp.app, &id).await;
    idp.app.clock.advance(Duration::from_secs(35));
    assert_eq!(idp.app.post(&format!("/v1/connections/{id}/refresh"), json!({})).await.status, 200);
    restore_credentials(&idp.app, &id, &stale).await;
    idp.app.clock.advance(Duration::from_secs(35));
    let a = idp.app.post(&format!("/v1/connections/{id}/refresh"), json!({})).await;
    assert_eq!((a.status, a.code()), (422, "invalid_credentials"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("re-authorization"));

    let c = idp.app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(c.body["status"], "needs_reauth");
    assert!(c.body["last_error"].as_str().unwrap().contains("invalid_grant"));
    let events = idp.app.get("/v1/events?type=connection.needs_reauth").await.body["items"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "subscribers hear of it: {events:?}");
    assert_eq!(events[0]["connection_id"].as_str(), Some(id.as_str()));
    // No more attempts: the credentials endpoint answers at once, without calling the provider.
    let before = idp.stats().await["errors"].clone();
    let a = idp.app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(a.status, 422);
    assert_eq!(idp.stats().await["errors"], before);
    let audit = idp.app.get(&format!("/v1/audit?connection={id}&action=connection.refresh")).await;
    assert_eq!(audit.body["items"][0]["detail"]["reason"], "invalid_grant");
    let metrics = idp.app.client.get(idp.app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"outcome="invalid_grant"} 1"#), "{metrics}");
}

async fn sealed_credentials(app: &TestApp, id: &str) -> Vec<u8> {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    let (blob,): (Vec<u8>,) = sqlx::query_as("SELECT credentials FROM connections WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    blob
}

async fn restore_credentials(app: &TestApp, id: &str, blob: &[u8]) {
    use sqlx::Connection as _;
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    sqlx::query("UPDATE connections SET credentials = $1 WHERE id = $2")
        .bind(blob.to_vec())
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_refresher_refreshes_ahead_of_expiry() {
    let idp = Idp::start(&[("jobs", "true"), ("refresh_interval_s", "1")]).await;
    let id = idp.connection_id("ivan").await;
    let before = idp.app.get(&format!("/v1/connections/{id}")).await.body["last_refreshed_at"].clone();
    idp.app.clock.advance(Duration::from_secs(35));
    let mut refreshed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if idp.app.get(&format!("/v1/connections/{id}")).await.body["last_refreshed_at"] != before {
            refreshed = true;
            break;
        }
    }
    assert!(refreshed, "the refresher did not refresh within 5 s");
    assert_eq!(idp.stats().await["token"]["refresh_token"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_connection_revokes_its_token_first() {
    let idp = Idp::start(&[]).await;
    let id = idp.connection_id("judy").await;
    assert_eq!(idp.app.delete(&format!("/v1/connections/{id}")).await.status, 204);
    assert_eq!(idp.stats().await["revocations"], 1);
    assert_eq!(idp.app.get(&format!("/v1/connections/{id}")).await.status, 404);
    let audit = idp.app.get(&format!("/v1/audit?connection={id}&action=connection.delete")).await;
    assert_eq!(audit.body["items"][0]["detail"]["revoked_at_provider"], true);

    // A provider that cannot be reached for the revocation does not keep the connection alive.
    let id = idp.connection_id("judy").await;
    drop(idp.server);
    assert_eq!(idp.app.delete(&format!("/v1/connections/{id}")).await.status, 204);
    assert_eq!(idp.app.get(&format!("/v1/connections/{id}")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_checks_its_input() {
    let idp = Idp::start(&[]).await;
    for (body, field) in [
        (json!({"redirect_uri": "https://evil.example/steal"}), "redirect_uri"),
        (json!({"redirect_uri": "http://app.test.evil.example/x"}), "redirect_uri"),
        (json!({"integration": "nope"}), "integration"),
        (json!({"scopes": ["two words"]}), "scopes"),
        (json!({"params": {"shop": "acme"}}), "params.shop"),
        (json!({"provider": "slack"}), "provider"),
    ] {
        let a = idp.start_flow(body.clone()).await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some(field)), "{body}: {}", a.body);
    }
    // A session starts flows for its own org and user only.
    let session = idp.app.session("acme", "u9", "member").await;
    let a = idp
        .app
        .call(Method::POST, "/v1/oauth/start", &session, Some(json!({"integration": "idp", "org": "globex"})))
        .await;
    assert_eq!(a.status, 404);
    let a = idp.app.call(Method::POST, "/v1/oauth/start", &session, Some(json!({"integration": "idp"}))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let other = idp.app.session("globex", "g1", "admin").await;
    let hs = idp
        .app
        .call(Method::GET, &format!("/v1/oauth/handshakes/{}", a.body["handshake_id"].as_str().unwrap()), &other, None)
        .await;
    assert_eq!(hs.status, 404, "another org's handshake is not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_redirect_target_the_callback_page_tells_the_opener() {
    let idp = Idp::start(&[]).await;
    let started = idp.app.post("/v1/oauth/start", json!({"integration": "idp", "org": "acme"})).await;
    let landing = Browser::new().authorize(started.body["auth_url"].as_str().unwrap(), "ken", true).await;
    let html = replay_text(&idp.app, landing.url.as_str()).await;
    assert!(html.contains("window.opener.postMessage") && html.contains("\"status\":\"success\""), "{html}");
    assert!(!html.contains("http://") || !html.contains("<script src"), "no third-party script");
}
