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

/// 302 from the provider back to the client's redirect_uri with the state and `params`.
fn back(s: &Seen, params: &[(&str, &str)]) -> Shape {
    let mut target = url::Url::parse(&s.query("redirect_uri").unwrap()).unwrap();
    target.query_pairs_mut().append_pair("state", &s.query("state").unwrap()).extend_pairs(params.iter().copied());
    shape(302, json!({})).header("location", target.to_string())
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
    let mut b = json!({"org": "acme", "user": "u1", "redirect_uri": "http://app.test/done"});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    let started = app.post("/v1/oauth/start", b).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let at_provider = app.send(app.client.get(started.body["auth_url"].as_str().unwrap())).await;
    let callback = at_provider
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("the provider refused the authorization request: {}", at_provider.body))
        .to_owned();
    let back = app.send(app.client.get(&callback)).await;
    let target = url::Url::parse(back.headers["location"].to_str().unwrap()).unwrap();
    match target.query_pairs().find(|(k, _)| k == "connection_id") {
        Some((_, id)) => Ok(app.get(&format!("/v1/connections/{id}")).await.body),
        None => {
            Err(app.get(&format!("/v1/oauth/handshakes/{}", started.body["handshake_id"].as_str().unwrap())).await.body
                ["error"]
                .clone())
        }
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_uses_per_shop_urls_and_signed_callbacks() {
    let tamper = Arc::new(Mutex::new(false));
    let t = tamper.clone();
    let shop = Fake::start("https://acme.myshopify.com", move |s| match s.path.as_str() {
        "/admin/oauth/authorize" => {
            let state = s.query("state").unwrap();
            let mut params = vec![("code", "0907a61c0c8d55e99db179b68161bc00"), ("host", "YWNtZS5teXNob3BpZnkuY29tL2FkbWlu"), ("shop", "acme.myshopify.com"), ("state", state.as_str()), ("timestamp", "1337178173")];
            let hmac = shopify_sign(&params);
            if *t.lock().unwrap() {
                params[0] = ("code", "forged-code");
            }
            let mut target = url::Url::parse(&s.query("redirect_uri").unwrap()).unwrap();
            target.query_pairs_mut().extend_pairs(params.iter().copied()).append_pair("hmac", &hmac);
            shape(302, json!({})).header("location", target.to_string())
        }
        "/admin/oauth/access_token" if form(s, "client_secret").as_deref() == Some(SHOPIFY_SECRET) => shape(200, json!({
            "access_token": "shpua_f7f8a9b0c1d2e3f4", "scope": "read_products,read_orders,read_customers", "expires_in": 86399,
            "associated_user_scope": "read_products", "associated_user": {"id": 902541635, "email": "owner@acme.example", "account_owner": true}
        })),
        "/admin/api/2025-07/shop.json" if s.header("x-shopify-access-token") == Some("shpua_f7f8a9b0c1d2e3f4") => shape(200, json!({"shop": {
            "id": 548380009, "name": "Acme Outfitters", "email": "owner@acme.example", "domain": "shop.acme.example",
            "myshopify_domain": "acme.myshopify.com", "plan_name": "basic", "currency": "USD"
        }})),
        _ => shape(401, json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})),
    })
    .await;
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
    let expires = switchboard_core::time::Timestamp::parse_rfc3339(c["expires_at"].as_str().unwrap()).unwrap();
    let created = switchboard_core::time::Timestamp::parse_rfc3339(c["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(created.until(expires).as_secs() / 3600, 23, "a 24-hour online token");

    *tamper.lock().unwrap() = true;
    let err = flow(&app, json!({"integration": "shopify", "params": {"shop": "acme"}})).await.unwrap_err();
    assert_eq!(err["code"], "invalid_signature", "{err}");
    assert_eq!(app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 1);
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
        ("/v21.0/oauth/access_token", Some("fb_exchange_token")) if s.query("fb_exchange_token").as_deref() == Some("EAAB-short") && s.query("client_secret").as_deref() == Some("meta-secret") => {
            shape(200, json!({"access_token": "EAAB-long-lived", "token_type": "bearer", "expires_in": 5183944}))
        }
        ("/v21.0/oauth/access_token", _) if form(s, "code").as_deref() == Some("AQD-meta-code") => shape(200, json!({"access_token": "EAAB-short", "token_type": "bearer", "expires_in": 5400})),
        ("/v21.0/me", _) if s.bearer().as_deref() == Some("EAAB-long-lived") => shape(200, json!({"id": "10158542961112345", "name": "Acme Page Admin"})),
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
async fn salesforce_records_the_instance_url_and_atlassian_the_cloud_id() {
    let sf = Fake::start("https://login.salesforce.com", |s| match s.path.as_str() {
        "/services/oauth2/authorize" => back(s, &[("code", "aPrx-sf-code")]),
        "/services/oauth2/token" => shape(200, json!({
            "access_token": "00Dxx0000001gPL!AR8AQJXg", "refresh_token": "5Aep861TSESvWeug_xvFHRBTTbf", "signature": "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=",
            "scope": "refresh_token api", "instance_url": "https://acme.my.salesforce.com", "id": "https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
            "token_type": "Bearer", "issued_at": "1278448101416"
        })),
        "/services/oauth2/userinfo" => shape(200, json!({"user_id": "005xx000001SwiUAAS", "organization_id": "00Dxx0000001gPLEAY", "name": "Dana Scully", "email": "dana@acme.example", "preferred_username": "dana@acme.example"})),
        _ => shape(400, json!({"error": "invalid_grant"})),
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
    let app = app_with(&[&sf, &atlassian_auth, &atlassian_api]).await;
    app.create_integration("sf", "salesforce", "sf-secret").await;
    app.create_integration("jira", "jira", "jira-secret").await;
    let c = flow(&app, json!({"integration": "sf"})).await.unwrap();
    assert_eq!(c["account"]["metadata"]["instance_url"], "https://acme.my.salesforce.com");
    assert_eq!(c["account"]["email"], "dana@acme.example");
    let c = flow(&app, json!({"integration": "jira"})).await.unwrap();
    assert_eq!(c["account"]["metadata"]["cloud_id"], "1324a887-45db-1bf4-1e99-ef0ff456d421");
    assert_eq!(c["account"]["metadata"]["site_url"], "https://acme.atlassian.net");
}
