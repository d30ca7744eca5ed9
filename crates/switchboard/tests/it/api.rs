//! The foundation's HTTP contract: health, errors, authentication, sessions,
//! integrations, audit, metrics, OpenAPI.

use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestDb, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let h = app.call(Method::GET, "/healthz", "", None).await;
    assert_eq!((h.status, h.body["status"].as_str()), (200, Some("ok")));
    let r = app.call(Method::GET, "/readyz", "", None).await;
    assert_eq!((r.status, r.body["database"].as_str()), (200, Some("sqlite")));
    assert!(h.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let a = app.call(Method::GET, "/v1/nothing-here", "", None).await;
    assert_eq!((a.status, a.code()), (404, "not_found"));
    assert!(a.body["error"]["message"].as_str().unwrap().contains("/v1/nothing-here"));
    let a = app.call(Method::PUT, "/healthz", "", None).await;
    assert_eq!((a.status, a.code()), (405, "method_not_allowed"));
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_declared_or_streamed() {
    let app = spawn_app_with(TestDb::sqlite().await, &[("max_body_bytes", "2048")]).await;
    let big = json!({"id": "x", "provider": "github", "client_id": "a".repeat(4000)});
    let a = app.post("/v1/integrations", big).await;
    assert_eq!((a.status, a.code()), (413, "payload_too_large"));
    // No Content-Length: the body is cut off while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..10).map(|_| Ok(vec![b' '; 1000])).collect();
    let stream = futures::stream::iter(chunks);
    let req = app
        .client
        .post(app.url("/v1/integrations"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream));
    let a = app.send(req).await;
    assert_eq!((a.status, a.code()), (413, "payload_too_large"), "{}", a.body);
}

#[tokio::test]
async fn malformed_bodies_name_the_problem() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let a = app
        .send(
            app.client
                .post(app.url("/v1/integrations"))
                .bearer_auth(&app.key)
                .header("content-type", "application/json")
                .body("{nope"),
        )
        .await;
    assert_eq!((a.status, a.code()), (400, "invalid_request"));
    assert!(a.body["error"]["message"].as_str().unwrap().contains("not valid JSON"));
    let a = app.send(app.client.post(app.url("/v1/integrations")).bearer_auth(&app.key).body("{}")).await;
    assert_eq!((a.status, a.code()), (415, "unsupported_media_type"));
    let a = app.post("/v1/integrations", json!({"id": "x", "provider": "github"})).await;
    assert_eq!(a.status, 400);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("client_id"), "{}", a.body);
    let a =
        app.post("/v1/integrations", json!({"id": "x", "provider": "github", "client_id": "c", "colour": "red"})).await;
    assert!(a.body["error"]["message"].as_str().unwrap().contains("colour"), "{}", a.body);
}

#[tokio::test]
async fn authentication_is_required_and_checked() {
    let app = spawn_app(TestDb::sqlite().await).await;
    for (token, hint) in
        [("", "Authorization"), ("sk_not-a-real-key", "unknown or revoked"), ("hello", "sk_"), ("st_bogus", "session")]
    {
        let a = app.call(Method::GET, "/v1/integrations", token, None).await;
        assert_eq!((a.status, a.code()), (401, "unauthenticated"), "{token}");
        assert!(a.body["error"]["message"].as_str().unwrap().contains(hint), "{token}: {}", a.body);
        assert_eq!(a.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
    }
    let a = app.send(app.client.get(app.url("/v1/integrations")).header("authorization", "Basic abc")).await;
    assert_eq!(a.status, 401);
}

#[tokio::test]
async fn a_revoked_key_stops_working() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let (rec, token) = app.services.create_api_key(&switchboard::services::Principal::Operator, "temp").await.unwrap();
    assert_eq!(app.call(Method::GET, "/v1/integrations", token.expose(), None).await.status, 200);
    app.services.revoke_api_key(&switchboard::services::Principal::Operator, &rec.id).await.unwrap();
    assert_eq!(app.call(Method::GET, "/v1/integrations", token.expose(), None).await.status, 401);
}

#[tokio::test]
async fn sessions_are_validated_expire_and_cannot_make_sessions() {
    let app = spawn_app(TestDb::sqlite().await).await;
    for (body, field) in [
        (json!({"org": "", "user": "u", "role": "admin"}), "org"),
        (json!({"org": "acme", "user": "bad user", "role": "admin"}), "user"),
        (json!({"org": "acme", "user": "u", "role": "owner"}), "role"),
        (json!({"org": "acme", "user": "u", "role": "admin", "ttl_s": 5}), "ttl_s"),
    ] {
        let a = app.post("/v1/sessions", body).await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some(field)), "{}", a.body);
    }
    let token = app.session("acme", "u1", "admin").await;
    assert!(token.starts_with("st_"));
    let a = app
        .call(Method::POST, "/v1/sessions", &token, Some(json!({"org": "acme", "user": "u2", "role": "admin"})))
        .await;
    assert_eq!((a.status, a.code()), (403, "forbidden"));
    assert_eq!(app.call(Method::GET, "/v1/providers", &token, None).await.status, 200);
    app.clock.advance(std::time::Duration::from_secs(3601));
    let a = app.call(Method::GET, "/v1/providers", &token, None).await;
    assert_eq!(a.status, 401, "an expired session is refused");
}

on_both_backends!(integrations_crud_never_returns_the_secret, integrations_case);
async fn integrations_case(db: TestDb) {
    let app = spawn_app(db).await;
    let secret = "gh-client-secret-7f3a9c";
    let a = app.create_integration("github-prod", "github", secret).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["has_client_secret"], true);
    assert!(!a.body.to_string().contains(secret));
    let a = app.create_integration("github-prod", "github", secret).await;
    assert_eq!((a.status, a.code()), (409, "conflict"));
    let a = app.get("/v1/integrations/github-prod").await;
    assert_eq!((a.status, a.body["provider"].as_str()), (200, Some("github")));
    let a = app.get("/v1/integrations?provider=github").await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    assert!(!a.body.to_string().contains(secret));
    let a = app.patch("/v1/integrations/github-prod", json!({"scopes": ["repo"], "client_secret": "rotated-secret-1", "redirect_uri": "https://hub.example/oauth/callback"})).await;
    assert_eq!((a.status, a.body["scopes"][0].as_str()), (200, Some("repo")), "{}", a.body);
    assert!(!a.body.to_string().contains("rotated-secret-1"));
    let rec = app.services.integration_record("github-prod").await.unwrap();
    use secrecy::ExposeSecret as _;
    let opened = app.services.integration_client_secret(&rec).await.unwrap().unwrap();
    assert_eq!(opened.expose_secret(), "rotated-secret-1", "the new secret is what token requests will use");
    let a = app.patch("/v1/integrations/github-prod", json!({"redirect_uri": null})).await;
    assert_eq!(a.body["redirect_uri"], serde_json::Value::Null);
    assert_eq!(app.delete("/v1/integrations/github-prod").await.status, 204);
    assert_eq!(app.get("/v1/integrations/github-prod").await.status, 404);
    assert_eq!(app.delete("/v1/integrations/github-prod").await.status, 404);
}

#[tokio::test]
async fn integration_input_is_checked_field_by_field() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let cases = [
        (json!({"id": "Bad Id", "provider": "github", "client_id": "c"}), "id"),
        (json!({"id": "x", "provider": "nope", "client_id": "c"}), "provider"),
        (json!({"id": "x", "provider": "telegram", "client_id": "c"}), "provider"),
        (json!({"id": "x", "provider": "github", "client_id": " "}), "client_id"),
        (json!({"id": "x", "provider": "github", "client_id": "c", "scopes": ["a b"]}), "scopes"),
        (json!({"id": "x", "provider": "github", "client_id": "c", "redirect_uri": "ftp://x"}), "redirect_uri"),
        (json!({"id": "x", "provider": "shopify", "client_id": "c", "settings": {"shop": "not a shop!"}}), "shop"),
        (json!({"id": "x", "provider": "github", "client_id": "c", "settings": {"tenant": "t"}}), "tenant"),
    ];
    for (body, field) in cases {
        let a = app.post("/v1/integrations", body.clone()).await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some(field)), "{body}: {}", a.body);
    }
    assert_eq!(app.get("/v1/integrations").await.body["items"].as_array().unwrap().len(), 0, "nothing stored");
}

#[tokio::test]
async fn sessions_may_not_manage_integrations() {
    let app = spawn_app(TestDb::sqlite().await).await;
    assert_eq!(app.create_integration("gh", "github", "s").await.status, 201);
    let admin = app.session("acme", "boss", "admin").await;
    for (method, path) in [
        (Method::GET, "/v1/integrations"),
        (Method::GET, "/v1/integrations/gh"),
        (Method::DELETE, "/v1/integrations/gh"),
    ] {
        let a = app.call(method.clone(), path, &admin, None).await;
        assert_eq!((a.status, a.code()), (403, "forbidden"), "{method} {path}");
    }
    let a = app
        .call(
            Method::POST,
            "/v1/integrations",
            &admin,
            Some(json!({"id": "x", "provider": "github", "client_id": "c"})),
        )
        .await;
    assert_eq!(a.status, 403);
}

#[tokio::test]
async fn audit_records_changes_without_secrets() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let secret = "audit-secret-value-99";
    app.create_integration("gh", "github", secret).await;
    app.patch("/v1/integrations/gh", json!({"client_secret": "another-secret-77"})).await;
    app.delete("/v1/integrations/gh").await;
    let a = app.get("/v1/audit?target=gh").await;
    let actions: Vec<_> =
        a.body["items"].as_array().unwrap().iter().map(|i| i["action"].as_str().unwrap().to_owned()).collect();
    assert_eq!(actions, ["integration.delete", "integration.update", "integration.create"]);
    assert!(a.body["items"][0]["actor"].as_str().unwrap().starts_with("key:"));
    let text = app.get("/v1/audit?limit=500").await.body.to_string();
    assert!(!text.contains(secret) && !text.contains("another-secret-77") && !text.contains(&app.key));
    let a = app.get("/v1/audit?limit=0").await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn_app(TestDb::sqlite().await).await;
    app.create_integration("gh-metrics", "github", "s").await;
    app.get("/v1/integrations/gh-metrics").await;
    app.get("/v1/integrations/does-not-exist").await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"switchboard_http_requests_total{method="GET",route="/v1/integrations/{id}",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="/v1/integrations/{id}",status="404"} 1"#));
    assert!(text.contains("switchboard_http_request_duration_seconds_bucket"));
    assert!(!text.contains("gh-metrics"), "ids never become labels");
}

#[tokio::test]
async fn metrics_can_require_a_secret_key() {
    let app = spawn_app_with(TestDb::sqlite().await, &[("metrics_public", "false")]).await;
    assert_eq!(app.call(Method::GET, "/metrics", "", None).await.status, 401);
    let member = app.session("acme", "u", "admin").await;
    assert_eq!(app.call(Method::GET, "/metrics", &member, None).await.status, 403);
    let res = app.client.get(app.url("/metrics")).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn openapi_describes_every_route_and_the_committed_copy_is_current() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let doc = app.call(Method::GET, "/openapi.json", "", None).await.body;
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/providers",
        "/v1/providers/{provider}",
        "/v1/sessions",
        "/v1/integrations",
        "/v1/integrations/{id}",
        "/v1/audit",
        "/v1/connect-links",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
    // Each operation has its own id: generated clients (clients/js) declare one type per id.
    let mut ids = std::collections::BTreeMap::<String, String>::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                let here = format!("{method} {path}");
                if let Some(before) = ids.insert(id.to_owned(), here.clone()) {
                    panic!("operationId {id:?} is used by {before} and {here}");
                }
            }
        }
    }
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json")).unwrap_or_default();
    let current = switchboard::http::openapi_document().to_pretty_json().unwrap();
    assert!(
        committed.trim() == current.trim(),
        "openapi.json is stale: run `cargo run -p switchboard -- openapi > openapi.json` and commit it"
    );
}

#[tokio::test]
async fn providers_are_served_from_the_catalog() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let a = app.get("/v1/providers").await;
    let items = a.body["items"].as_array().unwrap();
    assert!(items.iter().any(|p| p["id"] == "github"));
    let a = app.get("/v1/providers/telegram").await;
    assert_eq!(a.body["auth_modes"], json!(["bot_token"]));
    assert_eq!(a.body["entry"]["credentials"]["bot_token"]["fields"][0]["name"], "bot_token");
    let a = app.get("/v1/providers?auth_mode=oauth2").await;
    assert!(
        a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["auth_modes"].as_array().unwrap().contains(&json!("oauth2")))
    );
    assert_eq!(app.get("/v1/providers/nope").await.status, 404);
}

#[tokio::test]
async fn every_operation_answers_a_bare_request_with_a_status_it_documents() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let doc = switchboard::http::openapi_document();
    let doc: Value = serde_json::from_str(&doc.to_pretty_json().unwrap()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        // Path parameters filled with an id that names nothing.
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "nothing_here" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes()) else { continue };
            let secured = op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
            let documented: Vec<&str> = op["responses"].as_object().unwrap().keys().map(String::as_str).collect();
            let mut req = app.client.request(m.clone(), app.url(&concrete));
            if op.get("requestBody").is_some() {
                req = req.header("content-type", "application/json").body("{}");
            }
            let status = req.send().await.unwrap().status();
            assert!(
                documented.contains(&status.as_str()),
                "{method} {path} answered {status} without a token, which it does not document ({documented:?})"
            );
            if secured {
                assert_eq!(status, 401, "{method} {path} needs a token but answered {status}");
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} operations");
}
