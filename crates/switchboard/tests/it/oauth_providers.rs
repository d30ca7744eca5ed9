//! Provider quirks of the OAuth flow, each against a local server answering in
//! that provider's documented shapes and insisting on what it documents of a
//! client: Google's offline access and consent, Slack v2's token layout and
//! `ok: false` errors, Notion's Basic auth and JSON body, GitHub's JSON-only-on-
//! request answers and non-expiring tokens, Shopify's per-shop URLs and signed
//! callbacks, Microsoft's tenant, Meta's long-lived exchange, Salesforce's
//! instance URL and Atlassian's cloud id.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::apis::{back, oauth_flow};
use crate::support::fakes::{Fake, Seen, Shape, shape};
use crate::support::server::TestApp;
use crate::support::{TestDb, spawn_app_with};

/// Requests a fake saw, for assertions after the fact.
type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn note(log: &Log, entry: String) {
    log.lock().unwrap().push(entry);
}

fn count(log: &Log, prefix: &str) -> usize {
    log.lock().unwrap().iter().filter(|e| e.starts_with(prefix)).count()
}

fn form(s: &Seen, k: &str) -> Option<String> {
    s.form().into_iter().find(|(n, _)| n == k).map(|(_, v)| v)
}

async fn app_with(fakes: &[&Fake]) -> TestApp {
    let overrides = fakes.iter().map(|f| f.override_entry()).collect::<Vec<_>>().join(",");
    spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &overrides), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
    )
    .await
}

/// Starts a flow and follows the provider's redirect back; Ok(connection) or Err(handshake error).
async fn flow(app: &TestApp, body: Value) -> Result<Value, Value> {
    let id = oauth_flow(app, body).await?;
    Ok(app.get(&format!("/v1/connections/{id}")).await.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_asks_for_offline_access_keeps_its_refresh_token_and_grows_scopes() {
    let seen = log();
    let s1 = seen.clone();
    let accounts = Fake::start("https://accounts.google.com", move |s| {
        let q = |k: &str| s.query(k).unwrap_or_default();
        note(&s1, format!("authorize scope={}", q("scope")));
        // Without these Google issues no refresh token on a repeat consent.
        if q("access_type") != "offline"
            || q("prompt") != "consent"
            || q("include_granted_scopes") != "true"
            || q("code_challenge_method") != "S256"
        {
            return shape(400, Value::String("Error 400: invalid_request".into()));
        }
        back(
            s,
            &[
                ("code", "4/0AeaYSHB-code"),
                ("scope", &q("scope")),
                ("authuser", "0"),
                ("prompt", "consent"),
                ("iss", "https://accounts.google.com"),
            ],
        )
    })
    .await;
    let s2 = seen.clone();
    let tokens = Fake::start("https://oauth2.googleapis.com", move |s| match s.path.as_str() {
        "/token" => {
            let grant = form(s, "grant_type").unwrap_or_default();
            note(&s2, format!("token {grant}"));
            if form(s, "client_secret").as_deref() != Some("google-secret") {
                return shape(401, json!({"error": "invalid_client", "error_description": "Unauthorized"}));
            }
            match grant.as_str() {
                "authorization_code" if form(s, "code_verifier").is_some_and(|v| v.len() >= 43) => shape(200, json!({
                    "access_token": "ya29.a0-first", "expires_in": 3599, "refresh_token": "1//0g-refresh",
                    "scope": "https://www.googleapis.com/auth/spreadsheets openid https://www.googleapis.com/auth/userinfo.email",
                    "token_type": "Bearer", "id_token": "eyJhbGciOiJSUzI1NiJ9.e30.sig"
                })),
                // Google does not rotate refresh tokens: the answer has none.
                "refresh_token" if form(s, "refresh_token").as_deref() == Some("1//0g-refresh") => {
                    let n = count(&s2, "token refresh_token");
                    shape(200, json!({"access_token": format!("ya29.a0-refreshed-{n}"), "expires_in": 3599, "scope": "https://www.googleapis.com/auth/spreadsheets openid", "token_type": "Bearer"}))
                }
                _ => shape(400, json!({"error": "invalid_grant", "error_description": "Bad Request"})),
            }
        }
        "/revoke" => {
            note(&s2, format!("revoke {}", form(s, "token").unwrap_or_default()));
            shape(200, json!({}))
        }
        _ => shape(404, json!({})),
    })
    .await;
    let userinfo = Fake::start("https://openidconnect.googleapis.com", |s| match s.bearer() {
        Some(t) if t.starts_with("ya29.") && s.path == "/v1/userinfo" => shape(200, json!({
            "sub": "110169484474386276334", "name": "Ada Lovelace", "given_name": "Ada", "email": "ada@acme.example",
            "email_verified": true, "hd": "acme.example", "picture": "https://lh3.googleusercontent.com/a/x"
        })),
        _ => shape(401, json!({"error": "invalid_request", "error_description": "Invalid Credentials"})),
    })
    .await;
    let app = app_with(&[&accounts, &tokens, &userinfo]).await;
    app.create_integration("google", "google-sheets", "google-secret").await;

    let c = flow(&app, json!({"integration": "google"})).await.unwrap();
    assert_eq!(
        (c["account"]["email"].as_str(), c["account"]["metadata"]["hosted_domain"].as_str()),
        (Some("ada@acme.example"), Some("acme.example"))
    );
    assert!(
        c["scopes"].as_array().unwrap().contains(&json!("https://www.googleapis.com/auth/spreadsheets")),
        "granted scopes: {c}"
    );
    let id = c["id"].as_str().unwrap().to_owned();

    // An hour later (inside the window) the token is refreshed, and the refresh token is kept for the next time.
    app.clock.advance(Duration::from_secs(3400));
    assert_eq!(app.get(&format!("/v1/connections/{id}/credentials")).await.body["access_token"], "ya29.a0-refreshed-1");
    app.clock.advance(Duration::from_secs(3400));
    assert_eq!(app.get(&format!("/v1/connections/{id}/credentials")).await.body["access_token"], "ya29.a0-refreshed-2");

    // Incremental authorization: the same connection asks for Drive too and keeps its id.
    let scopes = json!([
        "openid",
        "email",
        "https://www.googleapis.com/auth/spreadsheets",
        "https://www.googleapis.com/auth/drive.readonly"
    ]);
    let again = flow(&app, json!({"integration": "google", "connection": id, "scopes": scopes})).await.unwrap();
    assert_eq!(again["id"], id.as_str());
    assert!(seen.lock().unwrap().iter().any(|e| e.starts_with("authorize") && e.contains("drive.readonly")));
    assert_eq!(app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 1);

    // The same Google app connects Drive as its own provider (one app, several scope sets).
    let drive = flow(&app, json!({"integration": "google", "provider": "google-drive"})).await.unwrap();
    assert_eq!(drive["provider"], "google-drive");

    assert_eq!(app.delete(&format!("/v1/connections/{id}")).await.status, 204);
    assert_eq!(count(&seen, "revoke ya29."), 1, "{:?}", seen.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_v2_keeps_the_bot_and_user_tokens_and_reads_errors_from_200_answers() {
    let codes = Arc::new(Mutex::new(vec!["good-code", "bad-code"]));
    let slack = Fake::start("https://slack.com", move |s| match s.path.as_str() {
        "/oauth/v2/authorize" => {
            if s.query("scope").unwrap_or_default() != "chat:write,channels:read,users:read" {
                return shape(400, Value::String("invalid scope list".into()));
            }
            let code = codes.lock().unwrap().pop().unwrap_or("good-code");
            back(s, &[("code", code)])
        }
        "/api/oauth.v2.access" => {
            if s.basic() != Some(("slack-client".into(), "slack-secret".into())) {
                return shape(200, json!({"ok": false, "error": "invalid_client_id"}));
            }
            if form(s, "code").as_deref() != Some("good-code") {
                // Slack answers errors with HTTP 200.
                return shape(200, json!({"ok": false, "error": "invalid_code"}));
            }
            shape(200, json!({
                "ok": true, "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", "token_type": "bot",
                "scope": "chat:write,channels:read,users:read", "bot_user_id": "U0KRQLJ9H", "app_id": "A0KRD7HC3",
                "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"}, "enterprise": null, "is_enterprise_install": false,
                "authed_user": {"id": "U1234", "scope": "chat:write", "access_token": "xoxp-1234", "token_type": "user"}
            }))
        }
        "/api/auth.test" if s.bearer().as_deref() == Some("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy") => shape(200, json!({
            "ok": true, "url": "https://softball.slack.com/", "team": "Slack Softball Team", "user": "bot", "team_id": "T9TK3CUKW", "user_id": "U0KRQLJ9H", "bot_id": "B01"
        })),
        "/api/auth.revoke" => shape(200, json!({"ok": true, "revoked": true})),
        _ => shape(200, json!({"ok": false, "error": "invalid_auth"})),
    })
    .await;
    let app = app_with(&[&slack]).await;
    app.post(
        "/v1/integrations",
        json!({"id": "slack", "provider": "slack", "client_id": "slack-client", "client_secret": "slack-secret"}),
    )
    .await;

    let err = flow(&app, json!({"integration": "slack"})).await.unwrap_err();
    assert_eq!(err["code"], "invalid_grant", "an `ok: false` answer is an error: {err}");
    assert!(err["message"].as_str().unwrap().contains("invalid_code"));

    let c = flow(&app, json!({"integration": "slack"})).await.unwrap();
    assert_eq!(c["account"]["metadata"]["team_name"], "Slack Softball Team");
    assert_eq!(c["account"]["metadata"]["bot_user_id"], "U0KRQLJ9H");
    assert_eq!(c["expires_at"], Value::Null, "without token rotation Slack tokens do not expire");
    let creds = app.get(&format!("/v1/connections/{}/credentials", c["id"].as_str().unwrap())).await;
    assert_eq!(creds.body["access_token"], "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy");
    assert_eq!(creds.body["fields"]["user_access_token"], "xoxp-1234", "the user token is kept beside the bot token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_authenticates_with_basic_and_a_json_body_and_records_the_workspace() {
    let notion = Fake::start("https://api.notion.com", |s| match s.path.as_str() {
        "/v1/oauth/authorize" if s.query("owner").as_deref() == Some("user") => back(s, &[("code", "notion-code")]),
        "/v1/oauth/token" => {
            let body: Value = serde_json::from_slice(&s.body).unwrap_or(Value::Null);
            if s.header("content-type") != Some("application/json") || body["grant_type"] != "authorization_code" {
                return shape(400, json!({"object": "error", "status": 400, "code": "invalid_request", "message": "body must be JSON"}));
            }
            if s.basic() != Some(("notion-client".into(), "notion-secret".into())) {
                return shape(401, json!({"error": "invalid_client"}));
            }
            shape(200, json!({
                "access_token": "ntn_secret_token", "token_type": "bearer", "bot_id": "b3414d65-1224-4c5c-a04f-e0b1a6b2d6a0",
                "workspace_name": "Acme HQ", "workspace_icon": "https://img.example/icon.png", "workspace_id": "8dd4c6b4-0cd5-4c8a-9d3c-1b5a0c4a3b2c",
                "owner": {"type": "user", "user": {"object": "user", "id": "e79a0b74-3aba-4149-9f74-0bb5791a6ee6"}}, "duplicated_template_id": null
            }))
        }
        "/v1/users/me" if s.header("notion-version").is_some() && s.bearer().as_deref() == Some("ntn_secret_token") => shape(200, json!({
            "object": "user", "id": "b3414d65-1224-4c5c-a04f-e0b1a6b2d6a0", "name": "Acme Sync", "type": "bot",
            "bot": {"owner": {"type": "user", "user": {"object": "user", "id": "e79a0b74", "name": "Jane", "person": {"email": "jane@acme.example"}}}, "workspace_name": "Acme HQ"}
        })),
        _ => shape(404, json!({"object": "error", "status": 404, "code": "object_not_found", "message": "not found"})),
    })
    .await;
    let app = app_with(&[&notion]).await;
    app.post(
        "/v1/integrations",
        json!({"id": "notion", "provider": "notion", "client_id": "notion-client", "client_secret": "notion-secret"}),
    )
    .await;
    let c = flow(&app, json!({"integration": "notion"})).await.unwrap();
    assert_eq!(c["account"]["metadata"]["workspace_name"], "Acme HQ");
    assert_eq!(c["account"]["metadata"]["bot_id"], "b3414d65-1224-4c5c-a04f-e0b1a6b2d6a0");
    assert_eq!(c["account"]["email"], "jane@acme.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_answers_json_only_when_asked_and_its_tokens_do_not_expire() {
    let revoked = log();
    let r = revoked.clone();
    let web = Fake::start("https://github.com", |s| match s.path.as_str() {
        "/login/oauth/authorize" => back(s, &[("code", "gh-code")]),
        "/login/oauth/access_token" => {
            let answer = [
                ("access_token", "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
                ("scope", "repo,read:user,user:email"),
                ("token_type", "bearer"),
            ];
            if s.header("accept") == Some("application/json") {
                shape(200, Value::Object(answer.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect()))
            } else {
                // Without Accept: application/json GitHub answers form-encoded.
                shape(200, Value::String(answer.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")))
            }
        }
        _ => shape(404, json!({"message": "Not Found"})),
    })
    .await;
    let api = Fake::start("https://api.github.com", move |s| match (s.method.as_str(), s.path.as_str()) {
        ("GET", "/user") if s.bearer().as_deref() == Some("gho_16C7e42F292c6912E7710c838347Ae178B4a") => {
            shape(200, json!({"login": "octocat", "id": 583231, "type": "User", "html_url": "https://github.com/octocat", "email": null}))
        }
        ("DELETE", "/applications/gh-client/grant") if s.basic() == Some(("gh-client".into(), "gh-secret".into())) => {
            let body: Value = serde_json::from_slice(&s.body).unwrap_or(Value::Null);
            note(&r, format!("revoke {}", body["access_token"].as_str().unwrap_or_default()));
            shape(204, Value::String(String::new()))
        }
        _ => shape(401, json!({"message": "Requires authentication"})),
    })
    .await;
    let app = app_with(&[&web, &api]).await;
    app.create_integration("github", "github", "gh-secret").await;
    app.patch("/v1/integrations/github", json!({"client_id": "gh-client"})).await;
    let c = flow(&app, json!({"integration": "github"})).await.unwrap();
    assert_eq!((c["account"]["name"].as_str(), c["account"]["id"].as_str()), (Some("octocat"), Some("583231")));
    assert_eq!(c["expires_at"], Value::Null);
    assert_eq!(c["scopes"], json!(["repo", "read:user", "user:email"]));
    assert_eq!(app.delete(&format!("/v1/connections/{}", c["id"].as_str().unwrap())).await.status, 204);
    assert_eq!(count(&revoked, "revoke gho_16C7e42F292c6912E7710c838347Ae178B4a"), 1);
}

const SHOPIFY_SECRET: &str = "shpss_test_secret";

fn shopify_sign(params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<_> = params.to_vec();
    sorted.sort();
    let message = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    hex::encode(crate::support::signing::hmac_sha256(SHOPIFY_SECRET.as_bytes(), message.as_bytes()))
}

/// The Shopify fake: per-shop OAuth with signed callbacks; expiring offline tokens (60 minutes) when
/// the code exchange says `expiring=1`, each refresh answering a new refresh token and refusing the
/// one it replaced; non-expiring tokens otherwise.
fn shopify_fake(tamper: Arc<Mutex<bool>>, seen: Log) -> impl Fn(&Seen) -> Shape + Send + Sync + 'static {
    let live_refresh = Arc::new(Mutex::new(String::new()));
    move |s: &Seen| match s.path.as_str() {
        "/admin/oauth/authorize" => {
            let state = s.query("state").unwrap();
            let mut params = vec![
                ("code", "0907a61c0c8d55e99db179b68161bc00"),
                ("host", "YWNtZS5teXNob3BpZnkuY29tL2FkbWlu"),
                ("shop", "acme.myshopify.com"),
                ("state", state.as_str()),
                ("timestamp", "1337178173"),
            ];
            let hmac = shopify_sign(&params);
            if *tamper.lock().unwrap() {
                params[0] = ("code", "forged-code");
            }
            let mut target = url::Url::parse(&s.query("redirect_uri").unwrap()).unwrap();
            target.query_pairs_mut().extend_pairs(params.iter().copied()).append_pair("hmac", &hmac);
            shape(302, json!({})).header("location", target.to_string())
        }
        "/admin/oauth/access_token"
            if form(s, "client_secret").as_deref() == Some(SHOPIFY_SECRET) && form(s, "client_id").is_some() =>
        {
            let grant = form(s, "grant_type").unwrap_or_default();
            note(&seen, format!("token {grant} expiring={}", form(s, "expiring").unwrap_or_default()));
            let mut live = live_refresh.lock().unwrap();
            match grant.as_str() {
                "authorization_code" if form(s, "expiring").as_deref() == Some("1") => {
                    *live = "shprt_1".into();
                    shape(
                        200,
                        json!({"access_token": "shpat_expiring_1", "expires_in": 3600, "refresh_token": "shprt_1", "refresh_token_expires_in": 7_776_000, "scope": "read_products,read_orders,read_customers"}),
                    )
                }
                "authorization_code" => shape(
                    200,
                    json!({"access_token": "shpat_forever", "scope": "read_products,read_orders,read_customers"}),
                ),
                "refresh_token" if form(s, "refresh_token").as_deref() == Some(live.as_str()) => {
                    let n: u32 = live.trim_start_matches("shprt_").parse().unwrap();
                    *live = format!("shprt_{}", n + 1);
                    shape(
                        200,
                        json!({"access_token": format!("shpat_expiring_{}", n + 1), "expires_in": 3600, "refresh_token": live.clone(), "refresh_token_expires_in": 7_776_000, "scope": "read_products,read_orders,read_customers"}),
                    )
                }
                _ => shape(
                    400,
                    json!({"error": "invalid_grant", "error_description": "The refresh token is invalid or has been rotated."}),
                ),
            }
        }
        "/admin/api/2026-10/shop.json"
            if s.header("x-shopify-access-token").is_some_and(|t| t.starts_with("shpat_")) =>
        {
            shape(
                200,
                json!({"shop": {
                    "id": 548380009, "name": "Acme Outfitters", "email": "owner@acme.example", "domain": "shop.acme.example",
                    "myshopify_domain": "acme.myshopify.com", "plan_name": "basic", "currency": "USD"
                }}),
            )
        }
        _ => shape(
            401,
            json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_uses_per_shop_urls_signed_callbacks_and_expiring_offline_tokens() {
    let (tamper, seen) = (Arc::new(Mutex::new(false)), log());
    let shop = Fake::start("https://acme.myshopify.com", shopify_fake(tamper.clone(), seen.clone())).await;
    let app = app_with(&[&shop]).await;
    app.create_integration("shopify", "shopify", SHOPIFY_SECRET).await;

    let a = app
        .post(
            "/v1/oauth/start",
            json!({"integration": "shopify", "org": "acme", "params": {"shop": "acme.evil.com/x"}}),
        )
        .await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("params.shop")), "{}", a.body);

    let c = flow(&app, json!({"integration": "shopify", "params": {"shop": "acme"}})).await.unwrap();
    assert_eq!(
        (c["account"]["name"].as_str(), c["account"]["metadata"]["plan"].as_str()),
        (Some("Acme Outfitters"), Some("basic"))
    );
    assert_eq!(c["fields"]["shop"], "acme");
    assert_eq!(count(&seen, "token authorization_code expiring=1"), 1, "expiring offline tokens asked for");
    let expires = switchboard_core::time::Timestamp::parse_rfc3339(c["expires_at"].as_str().unwrap()).unwrap();
    let created = switchboard_core::time::Timestamp::parse_rfc3339(c["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(created.until(expires).as_secs(), 3600, "a 60-minute offline token");

    // Refreshed ahead of expiry, each time with the refresh token Shopify last handed out.
    let id = c["id"].as_str().unwrap();
    for n in 2..=3 {
        app.clock.advance(Duration::from_secs(58 * 60));
        let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
        assert_eq!(creds.body["access_token"], format!("shpat_expiring_{n}"), "{}", creds.body);
    }
    assert_eq!(count(&seen, "token refresh_token"), 2);
    assert_eq!(app.get(&format!("/v1/connections/{id}")).await.body["status"], "connected");

    *tamper.lock().unwrap() = true;
    let err = flow(&app, json!({"integration": "shopify", "params": {"shop": "acme"}})).await.unwrap_err();
    assert_eq!(err["code"], "invalid_signature", "{err}");
    assert_eq!(app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopify_custom_app_can_keep_non_expiring_tokens() {
    let seen = log();
    let shop = Fake::start("https://acme.myshopify.com", shopify_fake(Arc::new(Mutex::new(false)), seen.clone())).await;
    let app = app_with(&[&shop]).await;
    let a = app
        .post(
            "/v1/integrations",
            json!({"id": "shopify-custom", "provider": "shopify", "client_id": "c", "client_secret": SHOPIFY_SECRET, "settings": {"expiring": ""}}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let c = flow(&app, json!({"integration": "shopify-custom", "params": {"shop": "acme"}})).await.unwrap();
    assert_eq!(
        count(&seen, "token authorization_code expiring="),
        1,
        "no expiring parameter: {:?}",
        seen.lock().unwrap()
    );
    assert_eq!(count(&seen, "token authorization_code expiring=1"), 0);
    assert!(c["expires_at"].is_null(), "{c}");
    let creds = app.get(&format!("/v1/connections/{}/credentials", c["id"].as_str().unwrap())).await;
    assert_eq!(creds.body["access_token"], "shpat_forever");
    let bad = app
        .post(
            "/v1/integrations",
            json!({"id": "shopify-bad", "provider": "shopify", "client_id": "c", "settings": {"expiring": "yes"}}),
        )
        .await;
    assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (400, Some("expiring")), "{}", bad.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_puts_the_tenant_in_the_urls_and_asks_for_offline_access() {
    let login = Fake::start("https://login.microsoftonline.com", |s| match s.path.as_str() {
        "/contoso.onmicrosoft.com/oauth2/v2.0/authorize" if s.query("scope").unwrap_or_default().split(' ').any(|x| x == "offline_access") => back(s, &[("code", "M.C507_BAY.2.U")]),
        "/contoso.onmicrosoft.com/oauth2/v2.0/token" => shape(200, json!({
            "token_type": "Bearer", "scope": "Mail.ReadWrite Mail.Send User.Read", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": "EwBwA8l6BAAU-graph", "refresh_token": "M.C507_BAY.0.U.-refresh"
        })),
        _ => shape(400, json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."})),
    })
    .await;
    let graph = Fake::start("https://graph.microsoft.com", |s| match (s.path.as_str(), s.bearer().as_deref()) {
        ("/v1.0/me", Some("EwBwA8l6BAAU-graph")) => shape(200, json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
            "displayName": "Adele Vance", "mail": "AdeleV@contoso.com", "userPrincipalName": "AdeleV@contoso.com"
        })),
        _ => shape(401, json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}})),
    })
    .await;
    let app = app_with(&[&login, &graph]).await;
    app.post("/v1/integrations", json!({"id": "m365", "provider": "outlook", "client_id": "ms-client", "client_secret": "ms-secret", "settings": {"tenant": "contoso.onmicrosoft.com"}})).await;
    let c = flow(&app, json!({"integration": "m365"})).await.unwrap();
    assert_eq!(
        (c["account"]["name"].as_str(), c["account"]["email"].as_str()),
        (Some("Adele Vance"), Some("AdeleV@contoso.com"))
    );
    assert_eq!(c["fields"]["tenant"], "contoso.onmicrosoft.com");
    let a = app.post("/v1/integrations", json!({"id": "bad-tenant", "provider": "outlook", "client_id": "c", "settings": {"tenant": "not a tenant"}})).await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("tenant")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_trades_the_short_lived_token_for_a_long_lived_one() {
    let www = Fake::start("https://www.facebook.com", |s| back(s, &[("code", "AQD-meta-code")])).await;
    let graph = Fake::start("https://graph.facebook.com", |s| match (s.path.as_str(), s.query("grant_type").as_deref()) {
        ("/v26.0/oauth/access_token", Some("fb_exchange_token")) if s.query("fb_exchange_token").as_deref() == Some("EAAB-short") && s.query("client_secret").as_deref() == Some("meta-secret") => {
            shape(200, json!({"access_token": "EAAB-long-lived", "token_type": "bearer", "expires_in": 5183944}))
        }
        ("/v26.0/oauth/access_token", _) if form(s, "code").as_deref() == Some("AQD-meta-code") => shape(200, json!({"access_token": "EAAB-short", "token_type": "bearer", "expires_in": 5400})),
        ("/v26.0/me", _) if s.bearer().as_deref() == Some("EAAB-long-lived") => shape(200, json!({"id": "10158542961112345", "name": "Acme Page Admin"})),
        _ => shape(400, json!({"error": {"message": "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException", "code": 190}})),
    })
    .await;
    let app = app_with(&[&www, &graph]).await;
    app.create_integration("meta", "facebook", "meta-secret").await;
    let c = flow(&app, json!({"integration": "meta"})).await.unwrap();
    assert_eq!(c["account"]["name"], "Acme Page Admin");
    let creds = app.get(&format!("/v1/connections/{}/credentials", c["id"].as_str().unwrap())).await;
    assert_eq!(creds.body["access_token"], "EAAB-long-lived");
    let expires = switchboard_core::time::Timestamp::parse_rfc3339(c["expires_at"].as_str().unwrap()).unwrap();
    let created = switchboard_core::time::Timestamp::parse_rfc3339(c["created_at"].as_str().unwrap()).unwrap();
    assert!(created.until(expires).as_secs() > 59 * 86_400, "about 60 days");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_signs_in_at_the_configured_host_and_atlassian_records_the_cloud_id() {
    // A sandbox signs in (and reads userinfo) at test.salesforce.com; revocation goes to the org's My Domain host.
    let seen = log();
    let login_log = seen.clone();
    let sf = Fake::start("https://test.salesforce.com", move |s| match s.path.as_str() {
        "/services/oauth2/authorize" => back(s, &[("code", "aPrx-sf-code")]),
        "/services/oauth2/token" if form(s, "code").as_deref() == Some("aPrx-sf-code") => {
            note(&login_log, "token".into());
            shape(200, json!({
                "access_token": "00Dxx0000001gPL!AR8AQJXg", "refresh_token": "5Aep861TSESvWeug_xvFHRBTTbf", "signature": "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=",
                "scope": "refresh_token api", "instance_url": "https://acme--uat.sandbox.my.salesforce.com", "id": "https://test.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
                "token_type": "Bearer", "issued_at": "1278448101416"
            }))
        }
        "/services/oauth2/token" if form(s, "grant_type").as_deref() == Some("refresh_token") && form(s, "refresh_token").as_deref() == Some("5Aep861TSESvWeug_xvFHRBTTbf") => {
            note(&login_log, "refresh".into());
            shape(200, json!({
                "access_token": "00Dxx0000001gPL!AR8AQJXg-2", "signature": "SSSbLO/gBhmmyNUvN18ODBDFYHzakxOMgqYtu+hDPsc=",
                "scope": "refresh_token api", "instance_url": "https://acme--uat.sandbox.my.salesforce.com",
                "id": "https://test.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS", "token_type": "Bearer", "issued_at": "1278448384422"
            }))
        }
        "/services/oauth2/userinfo" if s.bearer().as_deref() == Some("00Dxx0000001gPL!AR8AQJXg") => shape(200, json!({"user_id": "005xx000001SwiUAAS", "organization_id": "00Dxx0000001gPLEAY", "name": "Dana Scully", "email": "dana@acme.example", "preferred_username": "dana@acme.example.uat"})),
        _ => shape(400, json!({"error": "invalid_grant", "error_description": "authentication failure"})),
    })
    .await;
    let my_domain_log = seen.clone();
    let my_domain = Fake::start("https://acme--uat.sandbox.my.salesforce.com", move |s| match s.path.as_str() {
        "/services/oauth2/revoke" if form(s, "token").as_deref() == Some("5Aep861TSESvWeug_xvFHRBTTbf") => {
            note(&my_domain_log, "revoke".into());
            shape(200, json!({}))
        }
        _ => shape(
            400,
            json!({"error": "unsupported_token_type", "error_description": "this token type is not supported"}),
        ),
    })
    .await;
    let atlassian_auth = Fake::start("https://auth.atlassian.com", |s| match s.path.as_str() {
        "/authorize" if s.query("audience").as_deref() == Some("api.atlassian.com") => back(s, &[("code", "atl-code")]),
        "/oauth/token" => shape(200, json!({"access_token": "eyJraWQiOi-atl", "expires_in": 3600, "token_type": "Bearer", "refresh_token": "atl-refresh", "scope": "read:jira-work offline_access"})),
        _ => shape(400, json!({"error": "invalid_request"})),
    })
    .await;
    let atlassian_api = Fake::start("https://api.atlassian.com", |s| match s.path.as_str() {
        "/oauth/token/accessible-resources" => shape(200, json!([{
            "id": "1324a887-45db-1bf4-1e99-ef0ff456d421", "name": "acme", "url": "https://acme.atlassian.net",
            "scopes": ["read:jira-work", "offline_access"], "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png"
        }])),
        _ => shape(404, json!({})),
    })
    .await;
    let app = app_with(&[&sf, &my_domain, &atlassian_auth, &atlassian_api]).await;
    let a = app
        .post("/v1/integrations", json!({"id": "sf", "provider": "salesforce", "client_id": "sf-client", "client_secret": "sf-secret", "settings": {"login_host": "test.salesforce.com"}}))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let bad = app
        .post("/v1/integrations", json!({"id": "sf-bad", "provider": "salesforce", "client_id": "c", "settings": {"login_host": "login.salesforce.com.evil.example"}}))
        .await;
    assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (400, Some("login_host")), "{}", bad.body);
    // The login host is the operator's: an end user cannot move it.
    let a = app
        .post(
            "/v1/oauth/start",
            json!({"integration": "sf", "org": "acme", "params": {"login_host": "login.salesforce.com"}}),
        )
        .await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("params.login_host")), "{}", a.body);
    app.create_integration("jira", "jira", "jira-secret").await;
    let c = flow(&app, json!({"integration": "sf"})).await.unwrap();
    assert_eq!(c["account"]["metadata"]["instance_url"], "https://acme--uat.sandbox.my.salesforce.com");
    assert_eq!(c["account"]["email"], "dana@acme.example");
    // The session lasts two hours; the refresh goes to the sandbox login host too.
    let id = c["id"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::from_secs(7200 - 120));
    let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(creds.body["access_token"], "00Dxx0000001gPL!AR8AQJXg-2", "{}", creds.body);
    assert_eq!(count(&seen, "refresh"), 1);
    assert_eq!(app.delete(&format!("/v1/connections/{id}")).await.status, 204);
    assert_eq!(count(&seen, "revoke"), 1, "revoked at the org's My Domain host");
    let c = flow(&app, json!({"integration": "jira"})).await.unwrap();
    assert_eq!(c["account"]["metadata"]["cloud_id"], "1324a887-45db-1bf4-1e99-ef0ff456d421");
    assert_eq!(c["account"]["metadata"]["site_url"], "https://acme.atlassian.net");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_uses_the_date_versioned_oauth_endpoints() {
    let seen = log();
    let www = Fake::start("https://app.hubspot.com", |s| back(s, &[("code", "hs-code-1")])).await;
    let api_log = seen.clone();
    let api = Fake::start("https://api.hubapi.com", move |s| {
        note(&api_log, format!("{} {}", s.method, s.path));
        let client_ok = form(s, "client_id").as_deref() == Some("hubspot-client")
            && form(s, "client_secret").as_deref() == Some("hubspot-secret");
        match (s.method.as_str(), s.path.as_str()) {
            ("POST", "/oauth/2026-03/token") if client_ok => match form(s, "grant_type").as_deref() {
                Some("authorization_code") if form(s, "code").as_deref() == Some("hs-code-1") => shape(200, json!({
                    "token_type": "bearer", "refresh_token": "hs-refresh-1", "access_token": "hs-access-1", "expires_in": 1800,
                    "hub_id": 62515, "scopes": ["oauth", "crm.objects.contacts.read"], "user_id": 123456
                })),
                Some("refresh_token") if form(s, "refresh_token").as_deref() == Some("hs-refresh-1") => shape(200, json!({
                    "token_type": "bearer", "refresh_token": "hs-refresh-1", "access_token": "hs-access-2", "expires_in": 1800
                })),
                _ => shape(400, json!({"error": "invalid_grant", "error_description": "refresh token is invalid, expired or revoked", "status": "BAD_REFRESH_TOKEN", "message": "refresh token is invalid, expired or revoked"})),
            },
            // Introspection: the token in the form body with the app's credentials, never in the URL.
            ("POST", "/oauth/2026-03/token/introspect")
                if client_ok && form(s, "token").as_deref() == Some("hs-access-1") && form(s, "token_type_hint").as_deref() == Some("access_token") => shape(200, json!({
                "token_use": "access_token", "active": true, "token": "hs-access-1", "hub_id": 62515, "user_id": 123456,
                "client_id": "hubspot-client", "app_id": 456789, "scopes": ["oauth", "crm.objects.contacts.read"],
                "expires_in": 1795, "is_private_distribution": false, "token_type": "bearer", "user": "owner@acme.example", "hub_domain": "acme.hubspot.com"
            })),
            ("POST", "/oauth/2026-03/token/revoke") if client_ok && form(s, "token").as_deref() == Some("hs-refresh-1") => shape(200, json!({})),
            _ => shape(404, json!({"status": "error", "message": format!("fake HubSpot: nothing at {} {}", s.method, s.path)})),
        }
    })
    .await;
    let app = app_with(&[&www, &api]).await;
    app.post("/v1/integrations", json!({"id": "hubspot", "provider": "hubspot", "client_id": "hubspot-client", "client_secret": "hubspot-secret"})).await;
    let c = flow(&app, json!({"integration": "hubspot"})).await.unwrap();
    assert_eq!(
        (c["account"]["id"].as_str(), c["account"]["name"].as_str(), c["account"]["email"].as_str()),
        (Some("62515"), Some("acme.hubspot.com"), Some("owner@acme.example")),
        "{c}"
    );
    let id = c["id"].as_str().unwrap();
    app.clock.advance(Duration::from_secs(28 * 60));
    let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(creds.body["access_token"], "hs-access-2", "{}", creds.body);
    assert_eq!(app.delete(&format!("/v1/connections/{id}")).await.status, 204);
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|c| c.ends_with("/oauth/2026-03/token/revoke")).count(), 1, "{calls:?}");
    assert!(!calls.iter().any(|c| c.contains("/oauth/v1/")), "no v1 endpoint is used: {calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_follows_the_data_center_the_callback_names() {
    let seen = log();
    let us_log = seen.clone();
    let us = Fake::start("https://accounts.zoho.com", move |s| match s.path.as_str() {
        "/oauth/v2/auth" => {
            let server = if s.query("login_hint").as_deref() == Some("evil") {
                "https://accounts.evil.example"
            } else {
                "https://accounts.zoho.eu"
            };
            back(s, &[("code", "1000.eu-grant"), ("location", "eu"), ("accounts-server", server)])
        }
        other => {
            note(&us_log, format!("us {other}"));
            shape(200, json!({"error": "invalid_code"}))
        }
    })
    .await;
    let eu_log = seen.clone();
    let eu = Fake::start("https://accounts.zoho.eu", move |s| {
        note(&eu_log, format!("eu {}", s.path));
        let grant = s.query("grant_type").or_else(|| form(s, "grant_type"));
        let get = |k: &str| s.query(k).or_else(|| form(s, k));
        match (s.path.as_str(), grant.as_deref()) {
            ("/oauth/v2/token", Some("authorization_code")) if get("code").as_deref() == Some("1000.eu-grant") && get("client_secret").as_deref() == Some("zoho-secret") => shape(200, json!({
                "access_token": "1000.eu-access-1", "refresh_token": "1000.eu-refresh", "api_domain": "https://www.zohoapis.eu", "token_type": "Bearer", "expires_in": 3600
            })),
            ("/oauth/v2/token", Some("refresh_token")) if get("refresh_token").as_deref() == Some("1000.eu-refresh") => shape(200, json!({
                "access_token": "1000.eu-access-2", "api_domain": "https://www.zohoapis.eu", "token_type": "Bearer", "expires_in": 3600
            })),
            ("/oauth/v2/token/revoke", _) if get("token").as_deref() == Some("1000.eu-refresh") => shape(200, json!({"status": "success"})),
            _ => shape(200, json!({"error": "invalid_code"})),
        }
    })
    .await;
    let api = Fake::start("https://www.zohoapis.eu", |s| match (s.path.as_str(), s.header("authorization")) {
        ("/crm/v8/users", Some("Zoho-oauthtoken 1000.eu-access-1")) if s.query("type").as_deref() == Some("CurrentUser") => shape(200, json!({"users": [{
            "id": "4150868000000225013", "full_name": "Patricia Boyle", "email": "p.boyle@zylker.example", "zuid": "697198751",
            "role": {"name": "CEO", "id": "4150868000000026005"}, "profile": {"name": "Administrator", "id": "4150868000000026011"}
        }]})),
        _ => shape(401, json!({"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"})),
    })
    .await;
    let app = app_with(&[&us, &eu, &api]).await;
    app.create_integration("zoho", "zoho-crm", "zoho-secret").await;
    let c = flow(&app, json!({"integration": "zoho"})).await.unwrap();
    assert_eq!(
        (c["account"]["name"].as_str(), c["fields"]["dc"].as_str()),
        (Some("Patricia Boyle"), Some("eu")),
        "{c}"
    );
    let id = c["id"].as_str().unwrap();
    app.clock.advance(Duration::from_secs(58 * 60));
    assert_eq!(app.get(&format!("/v1/connections/{id}/credentials")).await.body["access_token"], "1000.eu-access-2");
    assert_eq!(app.delete(&format!("/v1/connections/{id}")).await.status, 204);
    assert_eq!((count(&seen, "us "), count(&seen, "eu /oauth/v2/token/revoke")), (0, 1), "{:?}", seen.lock().unwrap());

    // A callback naming a host that is not one of Zoho's accounts servers is refused.
    let started = app
        .post("/v1/oauth/start", json!({"integration": "zoho", "org": "acme", "redirect_uri": "http://app.test/done"}))
        .await;
    let mut auth = url::Url::parse(started.body["auth_url"].as_str().unwrap()).unwrap();
    auth.query_pairs_mut().append_pair("login_hint", "evil");
    let at_provider = app.send(app.client.get(auth.as_str())).await;
    let back = app.send(app.client.get(at_provider.headers["location"].to_str().unwrap())).await;
    assert!(back.headers["location"].to_str().unwrap().contains("code=invalid_request"), "{:?}", back.headers);
    assert_eq!(app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_a_refresh_token_is_used_until_it_expires_not_refreshed_early() {
    let seen = log();
    let www = Fake::start("https://www.linkedin.com", {
        let seen = seen.clone();
        move |s| match s.path.as_str() {
            "/oauth/v2/authorization" => back(s, &[("code", "AQTQmah11lalyH65DAIivsjsAQV5P-1VTVVebnLl_SCiyMXoIjDmJ4s6rO1VBGP5Hx2542KaR_eNawkrWiCiAGxIaV-TCK-mkxDISDak08tdaBzgUYfnTJL1fHRoDWCcC2L6LXBCR_z2XHzeWSuqTkR1_jO8CeV9E_WshsJBgE-PWElyvsmfuEXLQbCLfj8CHasuLafFpGb0glO4d7M")]),
            "/oauth/v2/accessToken" => {
                note(&seen, format!("token {}", form(s, "grant_type").unwrap_or_default()));
                // Not an approved partner: no refresh_token.
                shape(200, json!({"access_token": "AQUvlL_DYEzvT2wz1QJiEPeLioeA", "expires_in": 5_184_000, "scope": "email,openid,profile,w_member_social", "token_type": "Bearer", "id_token": "eyJz93a"}))
            }
            _ => shape(400, json!({"error": "invalid_request"})),
        }
    })
    .await;
    let api = Fake::start("https://api.linkedin.com", |s| match (s.path.as_str(), s.bearer().as_deref()) {
        ("/v2/userinfo", Some("AQUvlL_DYEzvT2wz1QJiEPeLioeA")) => shape(200, json!({"sub": "782bbtaQ", "name": "John Doe", "given_name": "John", "family_name": "Doe", "email": "doe@email.com", "email_verified": true, "locale": "en-US"})),
        _ => shape(401, json!({"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401})),
    })
    .await;
    let app = app_with(&[&www, &api]).await;
    app.create_integration("linkedin", "linkedin", "li-secret").await;
    let c = flow(&app, json!({"integration": "linkedin"})).await.unwrap();
    let id = c["id"].as_str().unwrap();
    // Two minutes before expiry, inside the refresh window: still the same token, no refresh tried.
    app.clock.advance(Duration::from_secs(5_184_000 - 120));
    let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(
        (creds.status, creds.body["access_token"].as_str()),
        (200, Some("AQUvlL_DYEzvT2wz1QJiEPeLioeA")),
        "{}",
        creds.body
    );
    assert_eq!(app.get(&format!("/v1/connections/{id}")).await.body["status"], "connected");
    assert_eq!(count(&seen, "token refresh_token"), 0);
    // Expired: the member must connect again.
    app.clock.advance(Duration::from_secs(180));
    let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(creds.status, 422, "{}", creds.body);
    assert_eq!(app.get(&format!("/v1/connections/{id}")).await.body["status"], "needs_reauth");
    assert_eq!(count(&seen, "token refresh_token"), 0, "nothing to refresh with, so nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_must_name_itself_on_the_callback() {
    let send_iss = Arc::new(Mutex::new(false));
    let flag = send_iss.clone();
    let discord = Fake::start("https://discord.com", move |s| match s.path.as_str() {
        "/oauth2/authorize" if *flag.lock().unwrap() => back(s, &[("code", "NhhvTDYsFcdgNLnnLijcl7Ku7bEEeee"), ("iss", "https://discord.com")]),
        "/oauth2/authorize" => back(s, &[("code", "NhhvTDYsFcdgNLnnLijcl7Ku7bEEeee")]),
        "/api/oauth2/token" if s.basic().is_some_and(|(id, _)| id == "discord-client") => shape(200, json!({
            "access_token": "6qrZcUqja7812RVdnEKjpzOL4CvHBFG", "token_type": "Bearer", "expires_in": 604_800,
            "refresh_token": "D43f5y0ahjqew82jZ4NViEr2YafMKhue", "scope": "identify email"
        })),
        "/api/v10/users/@me" if s.bearer().as_deref() == Some("6qrZcUqja7812RVdnEKjpzOL4CvHBFG") => shape(200, json!({
            "id": "80351110224678912", "username": "nelly", "global_name": "Nelly", "email": "nelly@discord.example", "verified": true
        })),
        _ => shape(401, json!({"message": "401: Unauthorized", "code": 0})),
    })
    .await;
    let app = app_with(&[&discord]).await;
    app.post("/v1/integrations", json!({"id": "discord", "provider": "discord", "client_id": "discord-client", "client_secret": "discord-secret"})).await;
    let err = flow(&app, json!({"integration": "discord"})).await.unwrap_err();
    assert_eq!(err["code"], "issuer_missing", "{err}");
    *send_iss.lock().unwrap() = true;
    let c = flow(&app, json!({"integration": "discord"})).await.unwrap();
    assert_eq!(c["account"]["name"], "nelly");
}
