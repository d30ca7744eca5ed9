//! Connecting each credential provider the users asked for, against a local
//! server answering in that provider's documented shapes: success, wrong
//! credentials, rate limiting and an outage — and nothing stored unless it worked.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fakes::{Fake, Seen, Shape, Variant, shape, unexpected};
use crate::support::{TestDb, spawn_app_with};

/// One provider's case: how its fake answers and what credentials look like.
struct Case {
    provider: &'static str,
    auth_mode: Option<&'static str>,
    origin: &'static str,
    fake: fn(&Seen) -> Shape,
    /// Credentials carrying `word` (good, bad, limit, down) where the provider reads them.
    creds: fn(&str) -> Value,
    /// The account name the provider reports on success.
    account_name: Option<&'static str>,
    /// Part of the provider's own reason for refusing.
    refusal: &'static str,
}

fn pad(word: &str, len: usize) -> String {
    format!("{word}{}", "x".repeat(len.saturating_sub(word.len())))
}

fn telegram(s: &Seen) -> Shape {
    let Some(token) = s.path.strip_prefix("/bot").and_then(|r| r.strip_suffix("/getMe")) else { return unexpected(s) };
    match Variant::of(Some(token)) {
        Variant::Good => shape(
            200,
            json!({"ok": true, "result": {"id": 7000000001u64, "is_bot": true, "first_name": "Acme Alerts", "username": "acme_alerts_bot", "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false}}),
        ),
        Variant::Bad | Variant::Missing => {
            shape(401, json!({"ok": false, "error_code": 401, "description": "Unauthorized"}))
        }
        Variant::Limit => shape(
            429,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 17", "parameters": {"retry_after": 17}}),
        ),
        Variant::Down => shape(502, Value::String("<html><body><h1>502 Bad Gateway</h1></body></html>".into())),
    }
}

fn github(s: &Seen) -> Shape {
    if s.path != "/user" {
        return unexpected(s);
    }
    if s.header("x-github-api-version").is_none() {
        return shape(400, json!({"message": "missing X-GitHub-Api-Version"}));
    }
    match Variant::of(s.bearer().as_deref()) {
        Variant::Good => shape(200, json!({"login": "octocat", "id": 583231, "type": "User", "html_url": "https://github.com/octocat", "email": "octocat@github.com"})),
        Variant::Bad | Variant::Missing => shape(401, json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})),
        Variant::Limit => shape(403, json!({"message": "API rate limit exceeded for user ID 583231.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", "status": "403"}))
            .header("x-ratelimit-limit", "5000")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "1795000000"),
        Variant::Down => shape(503, json!({"message": "Service Unavailable"})),
    }
}

fn airtable(s: &Seen) -> Shape {
    if s.path != "/v0/meta/whoami" {
        return unexpected(s);
    }
    match Variant::of(s.bearer().as_deref()) {
        Variant::Good => shape(
            200,
            json!({"id": "usrL2PNC5o3H4lBEi", "email": "jane@acme.example", "scopes": ["data.records:read", "user.email:read"]}),
        ),
        Variant::Bad | Variant::Missing => {
            shape(401, json!({"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}}))
        }
        Variant::Limit => shape(
            429,
            json!({"errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}]}),
        ),
        Variant::Down => {
            shape(503, json!({"error": {"type": "SERVICE_UNAVAILABLE", "message": "Service temporarily unavailable"}}))
        }
    }
}

fn notion(s: &Seen) -> Shape {
    if s.path != "/v1/users/me" {
        return unexpected(s);
    }
    if s.header("notion-version").is_none() {
        return shape(
            400,
            json!({"object": "error", "status": 400, "code": "missing_version", "message": "Notion-Version header failed validation"}),
        );
    }
    match Variant::of(s.bearer().as_deref()) {
        Variant::Good => shape(200, json!({"object": "user", "id": "9188c6a5-7381-452f-b3dc-d4865aa89bdf", "name": "Acme Sync", "avatar_url": null, "type": "bot", "bot": {"owner": {"type": "workspace", "workspace": true}, "workspace_name": "Acme HQ"}, "request_id": "1c2b"})),
        Variant::Bad | Variant::Missing => shape(401, json!({"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid.", "request_id": "1c2c"})),
        Variant::Limit => shape(429, json!({"object": "error", "status": 429, "code": "rate_limited", "message": "You have been rate limited. Please try again in a few minutes."})).header("retry-after", "30"),
        Variant::Down => shape(503, json!({"object": "error", "status": 503, "code": "service_unavailable", "message": "Notion is unavailable, please try again later."})),
    }
}

fn trello(s: &Seen) -> Shape {
    if s.path != "/1/members/me" {
        return unexpected(s);
    }
    if s.query("key").is_none() {
        return shape(401, Value::String("invalid key".into()));
    }
    match Variant::of(s.query("token").as_deref()) {
        Variant::Good => shape(
            200,
            json!({"id": "5abbe4b7ddc1b351ef961414", "username": "acmeops", "fullName": "Acme Ops", "email": "ops@acme.example", "url": "https://trello.com/u/acmeops"}),
        ),
        Variant::Bad | Variant::Missing => shape(401, Value::String("invalid token".into())),
        Variant::Limit => shape(429, json!({"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"})),
        Variant::Down => shape(503, Value::String("Service Unavailable".into())),
    }
}

fn sendgrid(s: &Seen) -> Shape {
    if s.path != "/v3/user/username" {
        return unexpected(s);
    }
    match Variant::of(s.bearer().as_deref()) {
        Variant::Good => shape(200, json!({"username": "acme-mail", "user_id": 4242})),
        Variant::Bad | Variant::Missing => {
            shape(401, json!({"errors": [{"field": null, "message": "authorization required"}]}))
        }
        Variant::Limit => shape(429, json!({"errors": [{"field": null, "message": "too many requests"}]}))
            .header("x-ratelimit-limit", "500")
            .header("x-ratelimit-remaining", "0"),
        Variant::Down => shape(503, json!({"errors": [{"field": null, "message": "service unavailable"}]})),
    }
}

const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";

fn twilio(s: &Seen) -> Shape {
    if s.path != format!("/2010-04-01/Accounts/{TWILIO_SID}.json") {
        return unexpected(s);
    }
    let creds = s.basic();
    if creds.as_ref().is_some_and(|(u, _)| u != TWILIO_SID) {
        return shape(
            401,
            json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
        );
    }
    match Variant::of(creds.as_ref().map(|(_, p)| p.as_str())) {
        Variant::Good => shape(
            200,
            json!({"sid": TWILIO_SID, "friendly_name": "Acme Production", "status": "active", "type": "Full", "owner_account_sid": TWILIO_SID}),
        ),
        Variant::Bad | Variant::Missing => shape(
            401,
            json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
        ),
        Variant::Limit => shape(
            429,
            json!({"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}),
        ),
        Variant::Down => shape(503, json!({"code": 20503, "message": "Service unavailable", "status": 503})),
    }
}

fn openai(s: &Seen) -> Shape {
    if s.path != "/v1/models" {
        return unexpected(s);
    }
    match Variant::of(s.bearer().as_deref()) {
        Variant::Good => shape(200, json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"}]})),
        Variant::Bad | Variant::Missing => shape(401, json!({"error": {"message": "Incorrect API key provided: sk-bad***xxxx. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})),
        Variant::Limit => shape(429, json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})).header("retry-after", "20"),
        Variant::Down => shape(503, json!({"error": {"message": "The server is overloaded or not ready yet.", "type": "server_error", "param": null, "code": null}})),
    }
}

fn discord(s: &Seen) -> Shape {
    let Some(rest) = s.path.strip_prefix("/api/webhooks/1234567890123456789/") else { return unexpected(s) };
    match Variant::of(Some(rest)) {
        Variant::Good => shape(
            200,
            json!({"application_id": null, "avatar": null, "channel_id": "1090000000000000001", "guild_id": "1090000000000000000", "id": "1234567890123456789", "name": "Deploy alerts", "type": 1, "token": rest}),
        ),
        Variant::Bad | Variant::Missing => shape(401, json!({"message": "Invalid Webhook Token", "code": 50027})),
        Variant::Limit => {
            shape(429, json!({"message": "You are being rate limited.", "retry_after": 64.57, "global": false}))
                .header("retry-after", "65")
        }
        Variant::Down => shape(502, Value::String("<html><body>502 Bad Gateway</body></html>".into())),
    }
}

fn whatsapp(s: &Seen) -> Shape {
    if s.path != "/v26.0/106540352242922" || s.query("fields").is_none() {
        return unexpected(s);
    }
    match Variant::of(s.bearer().as_deref()) {
        Variant::Good => shape(
            200,
            json!({"verified_name": "Acme Support", "display_phone_number": "+1 555-010-0000", "quality_rating": "GREEN", "id": "106540352242922"}),
        ),
        Variant::Bad | Variant::Missing => shape(
            401,
            json!({"error": {"message": "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException", "code": 190, "fbtrace_id": "AbCdEf1"}}),
        ),
        Variant::Limit => shape(
            400,
            json!({"error": {"message": "(#80007) Rate limit issues", "type": "OAuthException", "code": 80007, "fbtrace_id": "AbCdEf2"}}),
        ),
        Variant::Down => shape(
            500,
            json!({"error": {"message": "An unknown error has occurred.", "type": "OAuthException", "code": 1, "is_transient": true, "fbtrace_id": "AbCdEf3"}}),
        ),
    }
}

fn stripe(s: &Seen) -> Shape {
    if s.path != "/v1/account" {
        return unexpected(s);
    }
    match Variant::of(s.bearer().as_deref()) {
        Variant::Good => shape(
            200,
            json!({"id": "acct_1Nv0FGQ9RKHgCVdK", "object": "account", "email": "billing@acme.example", "country": "US", "default_currency": "usd", "settings": {"dashboard": {"display_name": "Acme Inc."}}, "business_profile": {"name": "Acme Inc."}}),
        ),
        Variant::Bad | Variant::Missing => shape(
            401,
            json!({"error": {"message": "Invalid API Key provided: sk_test_****xxxx", "type": "invalid_request_error"}}),
        ),
        Variant::Limit => shape(
            429,
            json!({"error": {"message": "Request rate limit exceeded.", "type": "invalid_request_error", "code": "rate_limit"}}),
        ),
        Variant::Down => shape(500, json!({"error": {"message": "An unknown error occurred", "type": "api_error"}})),
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            provider: "telegram",
            auth_mode: None,
            origin: "https://api.telegram.org",
            fake: telegram,
            creds: |w| json!({"bot_token": format!("7000000001:AA{}", pad(w, 33))}),
            account_name: Some("acme_alerts_bot"),
            refusal: "Unauthorized",
        },
        Case {
            provider: "github",
            auth_mode: Some("api_key"),
            origin: "https://api.github.com",
            fake: github,
            creds: |w| json!({"token": format!("ghp_{}", pad(w, 36))}),
            account_name: Some("octocat"),
            refusal: "Bad credentials",
        },
        Case {
            provider: "airtable",
            auth_mode: Some("api_key"),
            origin: "https://api.airtable.com",
            fake: airtable,
            creds: |w| json!({"api_key": format!("pat{}", pad(w, 40))}),
            account_name: Some("jane@acme.example"),
            refusal: "Authentication required",
        },
        Case {
            provider: "notion",
            auth_mode: Some("api_key"),
            origin: "https://api.notion.com",
            fake: notion,
            creds: |w| json!({"api_key": format!("ntn_{}", pad(w, 40))}),
            account_name: Some("Acme Sync"),
            refusal: "API token is invalid",
        },
        Case {
            provider: "trello",
            auth_mode: None,
            origin: "https://api.trello.com",
            fake: trello,
            creds: |w| json!({"api_key": "0123456789abcdef0123456789abcdef", "token": format!("ATTA{}", pad(w, 60))}),
            account_name: Some("Acme Ops"),
            refusal: "invalid token",
        },
        Case {
            provider: "sendgrid",
            auth_mode: None,
            origin: "https://api.sendgrid.com",
            fake: sendgrid,
            creds: |w| json!({"api_key": format!("SG.{}", pad(w, 60))}),
            account_name: Some("acme-mail"),
            refusal: "authorization required",
        },
        Case {
            provider: "twilio",
            auth_mode: None,
            origin: "https://api.twilio.com",
            fake: twilio,
            creds: |w| json!({"account_sid": TWILIO_SID, "auth_token": pad(w, 32)}),
            account_name: Some("Acme Production"),
            refusal: "Authenticate",
        },
        Case {
            provider: "openai",
            auth_mode: None,
            origin: "https://api.openai.com",
            fake: openai,
            creds: |w| json!({"api_key": format!("sk-proj-{}", pad(w, 40))}),
            account_name: None,
            refusal: "Incorrect API key",
        },
        Case {
            provider: "discord",
            auth_mode: Some("webhook"),
            origin: "https://discord.com",
            fake: discord,
            creds: |w| json!({"webhook_url": format!("https://discord.com/api/webhooks/1234567890123456789/{}", pad(w, 68))}),
            account_name: Some("Deploy alerts"),
            refusal: "Invalid Webhook Token",
        },
        Case {
            provider: "whatsapp",
            auth_mode: None,
            origin: "https://graph.facebook.com",
            fake: whatsapp,
            creds: |w| json!({"access_token": format!("EAAG{}", pad(w, 100)), "phone_number_id": "106540352242922"}),
            account_name: Some("Acme Support"),
            refusal: "Invalid OAuth access token",
        },
        Case {
            provider: "stripe",
            auth_mode: None,
            origin: "https://api.stripe.com",
            fake: stripe,
            creds: |w| json!({"api_key": format!("sk_test_{}", pad(w, 40))}),
            account_name: Some("Acme Inc."),
            refusal: "Invalid API Key",
        },
    ]
}

async fn connections_in(app: &crate::support::server::TestApp) -> usize {
    app.get("/v1/connections?org=acme").await.body["items"].as_array().map_or(0, Vec::len)
}

async fn run(case: Case) {
    let fake = Fake::start(case.origin, case.fake).await;
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &fake.override_entry())]).await;
    let body = |word: &str| {
        let mut b = json!({"provider": case.provider, "org": "acme", "user": "u1", "credentials": (case.creds)(word)});
        if let Some(m) = case.auth_mode {
            b["auth_mode"] = json!(m);
        }
        b
    };
    let p = case.provider;

    // Wrong credentials: 422 with the provider's own reason; nothing stored.
    let a = app.post("/v1/connections", body("bad")).await;
    assert_eq!((a.status, a.code()), (422, "invalid_credentials"), "{p}: {}", a.body);
    let msg = a.body["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains(case.refusal), "{p}: the provider's reason is passed on: {msg}");
    assert!(!msg.contains(&(case.creds)("bad").to_string()[10..30]), "{p}: no secret in the error");

    // Rate limited: 429, with the wait when the provider gave one.
    let a = app.post("/v1/connections", body("limit")).await;
    assert_eq!((a.status, a.code()), (429, "rate_limited"), "{p}: {}", a.body);

    // Outage: 502 naming the provider.
    let a = app.post("/v1/connections", body("down")).await;
    assert_eq!((a.status, a.code()), (502, "provider_error"), "{p}: {}", a.body);
    assert_eq!(connections_in(&app).await, 0, "{p}: nothing stored after failures");

    // The same through the test endpoint, which never stores.
    let a = app
        .post(
            "/v1/connections/test",
            json!({"provider": p, "auth_mode": case.auth_mode, "credentials": (case.creds)("good")}),
        )
        .await;
    assert_eq!((a.status, a.body["ok"].as_bool()), (200, Some(true)), "{p}: {}", a.body);
    let a = app
        .post(
            "/v1/connections/test",
            json!({"provider": p, "auth_mode": case.auth_mode, "credentials": (case.creds)("bad")}),
        )
        .await;
    assert_eq!(
        (a.status, a.body["ok"].as_bool(), a.body["error"]["code"].as_str()),
        (422, Some(false), Some("invalid_credentials")),
        "{p}: {}",
        a.body
    );
    assert_eq!(connections_in(&app).await, 0);

    // Success: stored, with the account the provider reported.
    let a = app.post("/v1/connections", body("good")).await;
    assert_eq!(a.status, 201, "{p}: {}", a.body);
    assert_eq!(a.body["status"], "connected");
    if let Some(name) = case.account_name {
        assert_eq!(a.body["account"]["name"], name, "{p}: {}", a.body);
    }
    let entry = app.get(&format!("/v1/providers/{p}")).await.body;
    let mode = a.body["auth_mode"].as_str().unwrap().to_owned();
    let secret_fields: Vec<String> = entry["entry"]["credentials"][&mode]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["secret"] == true)
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!secret_fields.is_empty(), "{p}: a credential mode has secrets");
    let given = (case.creds)("good");
    for f in &secret_fields {
        let value = given[f].as_str().unwrap();
        assert!(!a.body.to_string().contains(value), "{p}: the answer holds the secret {f}: {}", a.body);
        assert!(!app.get("/v1/connections?org=acme").await.body.to_string().contains(value), "{p}: the list holds {f}");
    }
    let id = a.body["id"].as_str().unwrap().to_owned();

    // Only a secret key reads the credentials back, exactly as given.
    let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(creds.status, 200, "{p}: {}", creds.body);
    assert_eq!(creds.body["type"], json!(case.auth_mode.unwrap_or(creds.body["type"].as_str().unwrap())));
    for (k, v) in (case.creds)("good").as_object().unwrap() {
        assert_eq!(&creds.body["fields"][k], v, "{p}: field {k}");
    }
    let session = app.session("acme", "u1", "admin").await;
    let a = app.call(Method::GET, &format!("/v1/connections/{id}/credentials"), &session, None).await;
    assert_eq!(a.status, 403, "{p}: sessions never read credentials");

    // Re-testing the stored credentials records the time and keeps it connected.
    let a = app.post(&format!("/v1/connections/{id}/test"), json!({})).await;
    assert_eq!((a.status, a.body["ok"].as_bool()), (200, Some(true)), "{p}: {}", a.body);
    assert!(a.body["connection"]["last_tested_at"].is_string());
}

macro_rules! provider_tests {
    ($($name:ident),*) => {
        mod connect {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let case = super::cases().into_iter().find(|c| c.provider.replace('-', "_") == stringify!($name)).unwrap();
                    super::run(case).await;
                }
            )*
        }
    };
}

provider_tests!(telegram, github, airtable, notion, trello, sendgrid, twilio, openai, discord, whatsapp, stripe);

#[tokio::test]
async fn malformed_fields_get_400_naming_the_field_and_what_is_expected() {
    let app = spawn_app_with(TestDb::sqlite().await, &[]).await;
    let cases = [
        (
            json!({"provider": "slack", "auth_mode": "bot_token", "credentials": {"bot_token": "xoxp-123"}}),
            "credentials.bot_token",
            "starts with xoxb-",
        ),
        (
            json!({"provider": "telegram", "credentials": {"bot_token": "not-a-token"}}),
            "credentials.bot_token",
            "expected format",
        ),
        (json!({"provider": "telegram", "credentials": {}}), "credentials.bot_token", "is required"),
        (
            json!({"provider": "telegram", "credentials": {"bot_token": 42}}),
            "credentials.bot_token",
            "must be a string",
        ),
        (
            json!({"provider": "twilio", "credentials": {"account_sid": "XX123", "auth_token": "t"}}),
            "credentials.account_sid",
            "starts with AC",
        ),
        (
            json!({"provider": "smtp", "credentials": {"host": "smtp.example.com", "port": "x", "from": "a@example.com"}}),
            "credentials.port",
            "whole number",
        ),
        (
            json!({"provider": "smtp", "credentials": {"host": "smtp.example.com", "security": "ssl", "from": "a@example.com"}}),
            "credentials.security",
            "one of: starttls, tls, none",
        ),
        (
            json!({"provider": "smtp", "credentials": {"host": "smtp.example.com", "from": "not-an-email"}}),
            "credentials.from",
            "email address",
        ),
        (
            json!({"provider": "openai", "credentials": {"api_key": "sk-x", "org": "o"}}),
            "credentials.org",
            "takes no field",
        ),
        (
            json!({"provider": "discord", "credentials": {"webhook_url": "https://example.com/x", "bot_token": "y"}}),
            "auth_mode",
            "several modes",
        ),
        (json!({"provider": "github", "auth_mode": "password", "credentials": {}}), "auth_mode", "supports the modes"),
        (
            json!({"provider": "google-sheets", "credentials": {"service_account_json": "{\"type\": \"user\"}"}}),
            "credentials.service_account_json",
            "service_account",
        ),
        (json!({"provider": "nope", "credentials": {}}), "provider", "not in the catalog"),
        (json!({"credentials": {}}), "provider", "give provider"),
    ];
    for (mut body, field, expected) in cases {
        body["org"] = json!("acme");
        let a = app.post("/v1/connections", body.clone()).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert_eq!(a.body["error"]["field"], field, "{body}: {}", a.body);
        let msg = a.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(expected), "{body}: {msg}");
    }
    let a = app.post("/v1/connections", json!({"provider": "openai", "credentials": {"api_key": "sk-x"}})).await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("org")), "a secret key must name the org");
    assert_eq!(app.get("/v1/connections").await.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_unreachable_provider_is_a_502_and_private_addresses_are_refused_by_default() {
    // A closed port stands for an unreachable provider.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let overrides = format!("https://api.openai.com=http://127.0.0.1:{port}");
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &overrides)]).await;
    let a = app
        .post(
            "/v1/connections",
            json!({"provider": "openai", "org": "acme", "credentials": {"api_key": "sk-good-key-123"}}),
        )
        .await;
    assert_eq!((a.status, a.code()), (502, "provider_error"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("OpenAI could not be reached"), "{}", a.body);

    // Without the operator's permission a user-given URL may not point into the private network.
    let strict = crate::support::spawn_app_with(TestDb::sqlite().await, &[("allow_private_networks", "false")]).await;
    let a = strict
        .post("/v1/connections", json!({"provider": "custom-api-key", "org": "acme", "credentials": {"base_url": "https://127.0.0.1:9/api", "api_key": "k", "test_path": "/me"}}))
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("private or loopback"), "{}", a.body);
}

#[tokio::test]
async fn custom_api_key_sends_the_named_header_and_saves_unchecked_without_a_test_path() {
    let fake = Fake::start("https://api.acme.example", |s| {
        if s.path == "/v2/me" && s.header("x-acme-key") == Some("Token abc123") {
            shape(200, json!({"id": 1}))
        } else {
            shape(401, json!({"message": "no"}))
        }
    })
    .await;
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &fake.override_entry())]).await;
    let creds = json!({"base_url": "https://api.acme.example/v2", "header_name": "X-Acme-Key", "key_prefix": "Token ", "api_key": "abc123", "test_path": "/me"});
    let a =
        app.post("/v1/connections", json!({"provider": "custom-api-key", "org": "acme", "credentials": creds})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["fields"]["base_url"], "https://api.acme.example/v2", "non-secret fields are shown");
    assert!(a.body["fields"].get("api_key").is_none(), "secret fields are not");
    assert_eq!(fake.hits(), 1);
    let a = app.post("/v1/connections", json!({"provider": "custom-api-key", "org": "acme", "credentials": {"base_url": "https://api.acme.example/v2", "api_key": "zzz"}})).await;
    assert_eq!(a.status, 201, "without a test path the key is saved unchecked: {}", a.body);
    assert_eq!(fake.hits(), 1);
}

/// SendGrid's EU-pinned subusers are served at api.eu.sendgrid.com; the connection's region picks the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendgrid_eu_subusers_are_tested_at_the_eu_host() {
    let global = Fake::start("https://api.sendgrid.com", sendgrid).await;
    let eu = Fake::start("https://api.eu.sendgrid.com", sendgrid).await;
    let overrides = format!("{},{}", global.override_entry(), eu.override_entry());
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &overrides)]).await;
    let a = app
        .post(
            "/v1/connections",
            json!({"provider": "sendgrid", "org": "acme", "credentials": {"api_key": "SG.eu-good", "api_host": "api.eu.sendgrid.com"}}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!((eu.hits(), global.hits()), (1, 0));
    let a = app
        .post("/v1/connections", json!({"provider": "sendgrid", "org": "acme", "credentials": {"api_key": "SG.good"}}))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!((eu.hits(), global.hits()), (1, 1), "the default region is the global host");
    let a = app
        .post(
            "/v1/connections/test",
            json!({"provider": "sendgrid", "credentials": {"api_key": "SG.good", "api_host": "api.attacker.example"}}),
        )
        .await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("credentials.api_host")), "{}", a.body);
}
