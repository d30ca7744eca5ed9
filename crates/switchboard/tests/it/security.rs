//! Regression tests for the weaknesses a security review of the landed code
//! found, one test (or a few) per finding, each failing on the code before its fix.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::browser::Browser;
use crate::support::fakes::{Fake, shape};
use crate::support::idp::{Idp, location, query};
use crate::support::peers::{SmtpOptions, smtp_server};
use crate::support::server::{TestApp, spawn_app_resolving};
use crate::support::signing::sha256_header;
use crate::support::{TestDb, spawn_app_with};

/// The query parameter `name` of the URL in `auth_url`.
fn param(auth_url: &Value, name: &str) -> String {
    let u = url::Url::parse(auth_url.as_str().unwrap()).unwrap();
    u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap()
}

async fn raw_sql(app: &TestApp, sql: &str, binds: &[&str]) {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for b in binds {
        q = q.bind((*b).to_owned());
    }
    q.execute(&mut conn).await.unwrap();
}

// 1. High: a caller's params replaced the operator's endpoints, and the code exchange (with the
// client secret) went to the caller's URL.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_params_cannot_replace_the_operators_endpoints() {
    let attacker = Fake::start("https://attacker.example", |_| shape(200, json!({"access_token": "x"}))).await;
    let app = spawn_app_with(TestDb::sqlite().await, &[]).await;
    let a = app
        .post(
            "/v1/integrations",
            json!({"id": "corp", "provider": "custom-oauth2", "client_id": "corp-client", "client_secret": "corp-secret",
                   "authorization_url": "https://auth.corp.example/authorize", "token_url": "https://auth.corp.example/token"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(app.create_integration("gitlab", "gitlab", "gitlab-secret").await.status, 201);
    assert_eq!(app.create_integration("shopify", "shopify", "shopify-secret").await.status, 201);
    let a = app
        .post(
            "/v1/integrations",
            json!({"id": "outlook", "provider": "outlook", "client_id": "o", "client_secret": "s", "settings": {"tenant": "contoso.onmicrosoft.com"}}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);

    let member = app.session("acme", "mallory", "member").await;
    let steal = format!("{}/steal", attacker.base);
    for (integration, params, field) in [
        ("corp", json!({"token_url": steal}), "params.token_url"),
        ("corp", json!({"authorization_url": steal}), "params.authorization_url"),
        ("gitlab", json!({"host": "attacker.example"}), "params.host"),
        ("outlook", json!({"tenant": "common"}), "params.tenant"),
    ] {
        let a = app
            .call(Method::POST, "/v1/oauth/start", &member, Some(json!({"integration": integration, "params": params})))
            .await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some(field)), "{integration}: {}", a.body);
        assert!(!a.body.to_string().contains("corp-secret"));
    }
    // The end user still names their own account where the catalog asks for it.
    let a = app
        .call(
            Method::POST,
            "/v1/oauth/start",
            &member,
            Some(json!({"integration": "shopify", "params": {"shop": "acme"}})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["auth_url"].as_str().unwrap().starts_with("https://acme.myshopify.com/"));
    let a = app.call(Method::POST, "/v1/oauth/start", &member, Some(json!({"integration": "corp"}))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["auth_url"].as_str().unwrap().starts_with("https://auth.corp.example/authorize?"));
    assert_eq!(attacker.hits(), 0);

    // URL-valued settings must be https unless the operator allows private networks.
    let strict = spawn_app_with(TestDb::sqlite().await, &[("allow_private_networks", "false")]).await;
    let a = strict
        .post(
            "/v1/integrations",
            json!({"id": "corp", "provider": "custom-oauth2", "client_id": "c", "client_secret": "s",
                   "authorization_url": "https://auth.corp.example/authorize", "token_url": "http://auth.corp.example/token"}),
        )
        .await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("token_url")), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_endpoint_in_a_connection_is_not_used_for_refresh() {
    let attacker = Fake::start("https://attacker.example", |_| shape(200, json!({"access_token": "stolen"}))).await;
    let idp = Idp::start(&[]).await;
    let id = idp.connection_id("alice").await;
    // A connection made before the fix carried the caller's token_url among its params.
    raw_sql(
        &idp.app,
        "UPDATE connections SET params = $1 WHERE id = $2",
        &[&json!({"token_url": format!("{}/steal", attacker.base)}).to_string(), &id],
    )
    .await;
    let r = idp.app.post(&format!("/v1/connections/{id}/refresh"), json!({"force": true})).await;
    assert_eq!((r.status, r.body["refreshed"].as_bool()), (200, Some(true)), "{}", r.body);
    assert_eq!(idp.stats().await["token"]["refresh_token"], 1, "the refresh went to the integration's token_url");
    assert_eq!(attacker.hits(), 0);
}

// 2. Medium: a member re-authorised another user's connection with their own account.

async fn reauthorize(idp: &Idp, token: &str, connection: &str, login: &str, extra: Value) -> url::Url {
    let mut body =
        json!({"integration": "idp", "connection": connection, "redirect_uri": "http://app.test/integrations/done"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let started = idp.app.call(Method::POST, "/v1/oauth/start", token, Some(body)).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let landing = Browser::new().authorize(started.body["auth_url"].as_str().unwrap(), login, true).await;
    location(&idp.app.send(idp.app.client.get(landing.url.as_str())).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_or_an_admin_reauthorises_and_the_account_must_stay_the_same() {
    let idp = Idp::start(&[]).await;
    let id = idp.connection_id("alice").await; // owned by u1, shared with the org
    let before = idp.app.get(&format!("/v1/connections/{id}/credentials")).await.body["access_token"].clone();

    let other_member = idp.app.session("acme", "u2", "member").await;
    let a = idp
        .app
        .call(Method::POST, "/v1/oauth/start", &other_member, Some(json!({"integration": "idp", "connection": id})))
        .await;
    assert_eq!((a.status, a.code()), (403, "forbidden"), "{}", a.body);

    // The owner signing in to another account: refused, nothing replaced.
    let owner = idp.app.session("acme", "u1", "member").await;
    let back = reauthorize(&idp, &owner, &id, "bob", json!({})).await;
    assert_eq!(query(&back, "code").as_deref(), Some("account_mismatch"));
    let after = idp.app.get(&format!("/v1/connections/{id}/credentials")).await.body["access_token"].clone();
    assert_eq!(after, before, "tokens unchanged");
    assert_eq!(idp.app.get(&format!("/v1/connections/{id}")).await.body["account"]["id"], "alice");

    // The same account again: done, and the audit log names the admin who did it.
    let admin = idp.app.session("acme", "boss", "admin").await;
    let back = reauthorize(&idp, &admin, &id, "alice", json!({})).await;
    assert_eq!(query(&back, "status").as_deref(), Some("success"), "{back}");
    let audit = idp.app.get(&format!("/v1/audit?org=acme&target={id}&action=connection.reauthorize")).await;
    assert_eq!(audit.body["items"][0]["actor"], "session:acme/boss (admin)", "{}", audit.body);

    // Switching accounts is possible when asked for explicitly.
    let back = reauthorize(&idp, &owner, &id, "bob", json!({"replace_account": true})).await;
    assert_eq!(query(&back, "status").as_deref(), Some("success"), "{back}");
    let c = idp.app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!((c.body["account"]["id"].as_str(), c.body["owner"].as_str()), (Some("bob"), Some("u1")));
}

// 3. Medium: with HTTP(S)_PROXY set, requests went through the proxy, which resolved private names itself.

#[test]
fn an_ambient_proxy_is_never_used() {
    use std::io::Read as _;
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    proxy.set_nonblocking(true).unwrap();
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target_port = target.local_addr().unwrap().port();

    let dir = tempfile::tempdir().unwrap();
    let server = crate::support::process::Server::start(
        dir.path(),
        &[
            ("HTTP_PROXY", proxy_url.as_str()),
            ("HTTPS_PROXY", proxy_url.as_str()),
            ("ALL_PROXY", proxy_url.as_str()),
            ("http_proxy", proxy_url.as_str()),
        ],
    )
    .unwrap();
    let (ok, out, err) = crate::support::process::run(dir.path(), &[], &["keys", "create", "--name", "t"]);
    assert!(ok, "{err}");
    let sk = out.trim().to_owned();
    // A name that resolves to loopback: the guard must see it, not a proxy.
    let body = json!({"provider": "custom-api-key", "credentials": {
        "base_url": format!("https://localhost:{target_port}/v1"), "header_name": "X-Api-Key", "api_key": "k-123", "test_path": "/me"}})
    .to_string();
    let (status, answer) = crate::support::process::http(server.port, "POST", "/v1/connections/test", &sk, &body);
    assert!(answer.contains("private or loopback"), "{status} {answer}");
    let mut buf = [0u8; 256];
    let through_proxy = match proxy.accept() {
        Ok((mut s, _)) => s.read(&mut buf).unwrap_or(0) > 0,
        Err(_) => false,
    };
    assert!(!through_proxy, "the request went to the ambient proxy: {}", String::from_utf8_lossy(&buf));
}

// 4. Medium: the SMTP test resolved the host, checked it, then let lettre resolve it again.

/// Answers one name with `first` on the first lookup and `later` afterwards; counts lookups.
struct Rebinding {
    name: &'static str,
    first: std::net::IpAddr,
    later: std::net::IpAddr,
    lookups: AtomicUsize,
}

impl switchboard::outbound::HostLookup for Rebinding {
    fn lookup(&self, host: &str, port: u16) -> futures::future::BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        let answer = if host == self.name {
            let n = self.lookups.fetch_add(1, Ordering::SeqCst);
            Ok(vec![SocketAddr::new(if n == 0 { self.first } else { self.later }, port)])
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "unknown name"))
        };
        Box::pin(async move { answer })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_connects_to_the_address_it_checked() {
    let server = smtp_server(SmtpOptions::default());
    let lookup = Arc::new(Rebinding {
        name: "mail.rebind.test",
        first: "127.0.0.1".parse().unwrap(),
        // Nothing listens here: a second lookup would send the connection elsewhere.
        later: "127.0.0.2".parse().unwrap(),
        lookups: AtomicUsize::new(0),
    });
    let app = spawn_app_resolving(TestDb::sqlite().await, &[], lookup.clone()).await;
    let a = app
        .post(
            "/v1/connections",
            json!({"provider": "smtp", "org": "acme", "credentials": {
                "host": "mail.rebind.test", "port": server.port, "security": "none", "from": "alerts@acme.example"}}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(lookup.lookups.load(Ordering::SeqCst), 1, "resolved once, connected to that address");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_errors_show_the_reply_code_and_a_short_clean_text() {
    // Not an SMTP server: it greets with a refusal carrying a long, control-laden text.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        while let Ok((mut s, _)) = listener.accept().await {
            let text = format!("554 internal-{}\x1b[31m{}\r\n", "A".repeat(300), "B".repeat(300));
            let _ = s.write_all(text.as_bytes()).await;
        }
    });
    let app = spawn_app_with(TestDb::sqlite().await, &[]).await;
    let a = app
        .post(
            "/v1/connections/test",
            json!({"provider": "smtp", "credentials": {"host": "127.0.0.1", "port": port, "security": "none", "from": "a@b.example"}}),
        )
        .await;
    let message = a.body["error"]["message"].as_str().or(a.body["error"].as_str()).unwrap_or_default().to_owned();
    assert!(message.contains("554"), "{}", a.body);
    assert!(!message.contains('\u{1b}') && !message.contains(&"B".repeat(10)), "bounded and clean: {message}");
    assert!(message.len() < 400, "{message}");
}

// 5. Low–medium: event lists loaded every body; no retention, no quota.

async fn github_endpoint(app: &TestApp) -> (String, String, String) {
    let a = app.post("/v1/webhook-endpoints", json!({"provider": "github", "org": "acme"})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    (
        a.body["id"].as_str().unwrap().to_owned(),
        a.body["url"].as_str().unwrap().to_owned(),
        a.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn send_github(
    app: &TestApp,
    url: &str,
    secret: &str,
    delivery: &str,
    body: &str,
) -> crate::support::server::Answer {
    app.send(
        app.client
            .post(url)
            .header("content-type", "application/json")
            .header("X-Hub-Signature-256", sha256_header(secret, body))
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", delivery)
            .body(body.to_owned()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_lists_carry_sizes_not_bodies_and_old_events_are_purged() {
    let app = spawn_app_with(TestDb::sqlite().await, &[("event_retention_days", "30")]).await;
    let (ep, url, secret) = github_endpoint(&app).await;
    let body = json!({"ref": "refs/heads/main", "pad": "x".repeat(10_000)}).to_string();
    let a = send_github(&app, &url, &secret, "d-1", &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let list = app.get(&format!("/v1/events?endpoint={ep}")).await;
    let item = &list.body["items"][0];
    assert_eq!(item["body_size"], body.len());
    assert!(item.get("data").is_none() && item.get("headers").is_none(), "{item}");
    assert!(!list.body.to_string().contains("xxxxxxxxxx"));
    let id = item["id"].as_str().unwrap();
    let one = app.get(&format!("/v1/events/{id}")).await;
    assert_eq!((one.status, one.body["data"]["ref"].as_str()), (200, Some("refs/heads/main")), "{}", one.body);
    let other_org = app.session("globex", "g", "admin").await;
    assert_eq!(app.call(Method::GET, &format!("/v1/events/{id}"), &other_org, None).await.status, 404);

    // Older than the retention and delivered (nothing pending): removed; a newer one stays.
    app.clock.advance(Duration::from_secs(20 * 86_400));
    assert_eq!(send_github(&app, &url, &secret, "d-2", &json!({"n": 2}).to_string()).await.status, 200);
    app.clock.advance(Duration::from_secs(11 * 86_400));
    assert_eq!(app.services.purge_old_events().await.unwrap(), 1);
    let left = app.get(&format!("/v1/events?endpoint={ep}")).await.body["items"].as_array().unwrap().clone();
    assert_eq!(left.len(), 1);
    assert_eq!(app.get(&format!("/v1/events/{id}")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_over_its_event_quota_is_refused_at_intake_and_nothing_acknowledged_is_lost() {
    let app = spawn_app_with(TestDb::sqlite().await, &[("event_quota_mb", "1"), ("max_body_bytes", "600000")]).await;
    let (ep, url, secret) = github_endpoint(&app).await;
    let big = |n: u32| json!({"n": n, "pad": "y".repeat(400_000)}).to_string();
    assert_eq!(send_github(&app, &url, &secret, "d-1", &big(1)).await.status, 200);
    assert_eq!(send_github(&app, &url, &secret, "d-2", &big(2)).await.status, 200);
    let refused = send_github(&app, &url, &secret, "d-3", &big(3)).await;
    assert_eq!((refused.status, refused.code()), (507, "storage_quota_exceeded"), "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("SWITCHBOARD_EVENT_QUOTA_MB"));
    let stored = app.get(&format!("/v1/events?endpoint={ep}")).await.body["items"].as_array().unwrap().clone();
    assert_eq!(stored.len(), 2, "both acknowledged events are kept");
    // Another org has its own quota.
    let b = app.post("/v1/webhook-endpoints", json!({"provider": "github", "org": "globex"})).await;
    let small = json!({"n": 4}).to_string();
    let a = send_github(&app, b.body["url"].as_str().unwrap(), b.body["secret"].as_str().unwrap(), "d-4", &small).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

// 6. Low: deduplication trusted ids the signature does not cover.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_body_replayed_with_new_delivery_ids_is_one_event() {
    let app = spawn_app_with(TestDb::sqlite().await, &[("webhook_replay_window_s", "3600")]).await;
    let (ep, url, secret) = github_endpoint(&app).await;
    let body = json!({"ref": "refs/heads/main", "after": "a3e8f"}).to_string();
    let first = send_github(&app, &url, &secret, "72d3162e-0001", &body).await;
    let replay = send_github(&app, &url, &secret, "72d3162e-0002", &body).await;
    assert_eq!((first.status, replay.status), (200, 200));
    assert_eq!(replay.body["event_id"], first.body["event_id"], "the replay is the first event");
    let count =
        || async { app.get(&format!("/v1/events?endpoint={ep}")).await.body["items"].as_array().unwrap().len() };
    assert_eq!(count().await, 1);
    // Outside the replay window the same bytes are a new event.
    app.clock.advance(Duration::from_secs(3601));
    let later = send_github(&app, &url, &secret, "72d3162e-0003", &body).await;
    assert_ne!(later.body["event_id"], first.body["event_id"]);
    assert_eq!(count().await, 2);
}

// 7. Low: the callback page posted to any opener ("*") and showed the provider's text.

async fn start_without_redirect(app: &TestApp) -> (String, String) {
    assert_eq!(app.create_integration("github", "github", "gh-secret").await.status, 201);
    let a = app.post("/v1/oauth/start", json!({"integration": "github", "org": "acme"})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    (param(&a.body["auth_url"], "state"), a.body["handshake_id"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_page_posts_only_to_configured_origins_and_shows_fixed_texts() {
    let lure = "Call 1-800-555-0199 to restore your account";
    for (allowed, expect_script) in [(None, false), (Some("https://app.example.com/integrations/"), true)] {
        let extra: Vec<(&str, &str)> = allowed.map(|a| vec![("allowed_redirects", a)]).unwrap_or_default();
        let app = spawn_app_with(TestDb::sqlite().await, &extra).await;
        let (state, hs) = start_without_redirect(&app).await;
        let mut cb = url::Url::parse(&app.url("/oauth/callback")).unwrap();
        cb.query_pairs_mut()
            .append_pair("state", &state)
            .append_pair("error", "access_denied")
            .append_pair("error_description", lure);
        let res = app.client.get(cb.as_str()).send().await.unwrap();
        let html = res.text().await.unwrap();
        assert!(!html.contains("1-800-555"), "the provider's text is not shown on our origin: {html}");
        assert!(html.contains("Access was not granted"), "{html}");
        assert!(!html.contains("\"*\""), "never posted to any origin: {html}");
        if expect_script {
            assert!(html.contains("postMessage") && html.contains("[\"https://app.example.com\"]"), "{html}");
        } else {
            assert!(!html.contains("postMessage"), "{html}");
            assert!(html.contains("SWITCHBOARD_ALLOWED_REDIRECTS"), "the page says why: {html}");
        }
        // The provider's words are kept for the app, in the handshake's error.
        let h = app.get(&format!("/v1/oauth/handshakes/{hs}")).await;
        assert_eq!(h.body["error"]["code"], "access_denied");
        assert!(h.body["error"]["message"].as_str().unwrap().contains("1-800-555"), "{}", h.body);
    }
}

// 8. Low: special-purpose IPv6 forms passed as public (the table-driven test is in switchboard-core).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_to_embedded_private_ipv4_addresses_are_refused() {
    let app = spawn_app_with(TestDb::sqlite().await, &[("allow_private_networks", "false")]).await;
    for base in [
        "https://[64:ff9b::7f00:1]:9/v1",
        "https://[::ffff:0:7f00:1]:9/v1",
        "https://[2002:7f00:1::1]:9/v1",
        "https://[fec0::1]:9/v1",
        "https://192.0.0.8:9/v1",
    ] {
        let a = app
            .post(
                "/v1/connections/test",
                json!({"provider": "custom-api-key", "credentials": {"base_url": base, "header_name": "X-Api-Key", "api_key": "k-1", "test_path": "/me"}}),
            )
            .await;
        assert!(a.body.to_string().contains("private or loopback"), "{base}: {} {}", a.status, a.body);
    }
}

// And: flows bound to the browser that started them; sessions that can be revoked; a required `iss`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_bound_to_a_browser_completes_only_in_that_browser() {
    let idp = Idp::start(&[]).await;
    let start = async || {
        let a = idp.start_flow(json!({"bind_browser": true})).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let cookie = a.headers["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/oauth/callback")
        );
        let pair = cookie.split(';').next().unwrap().to_owned();
        (a.body, pair)
    };
    // The victim opens the attacker's auth_url: their browser has no cookie for it.
    let (started, _attackers_cookie) = start().await;
    let landing = Browser::new().authorize(started["auth_url"].as_str().unwrap(), "victim", true).await;
    let back = location(&idp.app.send(idp.app.client.get(landing.url.as_str())).await);
    assert_eq!(query(&back, "code").as_deref(), Some("browser_mismatch"));
    assert_eq!(idp.stats().await["token"]["authorization_code"], Value::Null, "the code was never exchanged");
    assert_eq!(idp.app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 0);

    // The browser that started it finishes it.
    let (started, cookie) = start().await;
    let landing = Browser::new().authorize(started["auth_url"].as_str().unwrap(), "alice", true).await;
    let back = location(&idp.app.send(idp.app.client.get(landing.url.as_str()).header("cookie", cookie)).await);
    assert_eq!(query(&back, "status").as_deref(), Some("success"), "{back}");

    // Requests from our own pages bind by default; a backend's do not.
    let a = idp
        .app
        .send(
            idp.app
                .client
                .post(idp.app.url("/v1/oauth/start"))
                .bearer_auth(&idp.app.key)
                .header("sec-fetch-site", "same-origin")
                .json(&json!({"integration": "idp", "org": "acme"})),
        )
        .await;
    assert!(a.headers.get("set-cookie").is_some());
    let a = idp.start_flow(json!({})).await;
    assert!(a.headers.get("set-cookie").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_iss_is_refused_where_the_server_always_sends_it() {
    let idp = Idp::start(&[]).await;
    let callback = format!("{}/oauth/callback", idp.app.base);
    let base = &idp.base;
    let a = idp
        .app
        .post(
            "/v1/integrations",
            json!({"id": "idp-strict", "provider": "custom-oauth2", "client_id": "switchboard-test", "client_secret": "switchboard-test-secret",
                   "scopes": ["openid", "email"], "redirect_uri": callback, "authorization_url": format!("{base}/auth"),
                   "token_url": format!("{base}/token"), "userinfo_url": format!("{base}/me"), "issuer": base, "pkce": true,
                   "settings": {"authorization_response_iss_parameter_supported": true}}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let started = idp.start_flow(json!({"integration": "idp-strict"})).await;
    let landing = Browser::new().authorize(started.body["auth_url"].as_str().unwrap(), "erin", true).await;
    assert!(landing.url.query_pairs().any(|(k, _)| k == "iss"), "the server sends iss: {}", landing.url);
    let mut stripped = landing.url.clone();
    let pairs: Vec<(String, String)> =
        landing.url.query_pairs().filter(|(k, _)| k != "iss").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    stripped.query_pairs_mut().clear().extend_pairs(pairs);
    let back = location(&idp.app.send(idp.app.client.get(stripped.as_str())).await);
    assert_eq!(query(&back, "code").as_deref(), Some("issuer_missing"));
    assert_eq!(idp.stats().await["token"]["authorization_code"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_revoked_at_once() {
    let app = spawn_app_with(TestDb::sqlite().await, &[]).await;
    let made = app.post("/v1/sessions", json!({"org": "acme", "user": "u1", "role": "member"})).await;
    let (id, token) = (made.body["id"].as_str().unwrap().to_owned(), made.body["token"].as_str().unwrap().to_owned());
    assert!(id.starts_with("ses_"));
    let admin = app.session("acme", "boss", "admin").await;
    let other = app.session("acme", "u2", "member").await;
    let foreign = app.session("globex", "g1", "admin").await;
    assert_eq!(app.call(Method::GET, "/v1/connections?org=acme", &token, None).await.status, 200);

    let listed = app.get("/v1/sessions?org=acme").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 3);
    assert!(!listed.body.to_string().contains("st_"), "never a token: {}", listed.body);
    let own = app.call(Method::GET, "/v1/sessions", &other, None).await;
    assert_eq!(own.body["items"].as_array().unwrap().len(), 1, "a member sees only their own");
    assert_eq!(app.call(Method::GET, "/v1/sessions?org=acme", &foreign, None).await.status, 404);

    // Neither another member nor another org's admin can end it; the org's admin can.
    assert_eq!(app.call(Method::DELETE, &format!("/v1/sessions/{id}"), &other, None).await.status, 404);
    assert_eq!(app.call(Method::DELETE, &format!("/v1/sessions/{id}"), &foreign, None).await.status, 404);
    assert_eq!(app.call(Method::DELETE, &format!("/v1/sessions/{id}"), &admin, None).await.status, 204);
    let a = app.call(Method::GET, "/v1/connections?org=acme", &token, None).await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated"));
    assert_eq!(app.delete(&format!("/v1/sessions/{id}")).await.status, 404);
    assert_eq!(app.delete("/v1/sessions/not-a-session").await.status, 404);
    let audit = app.get(&format!("/v1/audit?org=acme&action=session.revoke&target={id}")).await;
    assert_eq!(audit.body["items"][0]["actor"], "session:acme/boss (admin)");
}
