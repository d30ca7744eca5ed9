//! A session of one org cannot see or touch another org's data, route by route.
//! Later capabilities add their routes to `ORG_ROUTES`.

use reqwest::Method;
use serde_json::json;

use crate::support::{TestDb, spawn_app};

#[tokio::test]
async fn a_session_of_one_org_gets_404_for_another_orgs_data() {
    let app = spawn_app(TestDb::sqlite().await).await;
    // Give both orgs something in the audit log.
    app.session("acme", "a1", "admin").await;
    app.session("globex", "g1", "admin").await;
    let acme = app.session("acme", "a2", "admin").await;

    let a = app.call(Method::GET, "/v1/audit?org=globex", &acme, None).await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "audit of another org");

    let a = app.call(Method::GET, "/v1/audit", &acme, None).await;
    assert_eq!(a.status, 200);
    let items = a.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["org"] == "acme"), "only its own org: {}", a.body);
    assert!(!a.body.to_string().contains("globex"));

    let a = app.call(Method::GET, "/v1/audit?org=acme", &acme, None).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn a_session_of_one_org_gets_404_for_another_orgs_connection_on_every_route() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let globex = app.session("globex", "g1", "admin").await;
    let theirs = app
        .call(
            Method::POST,
            "/v1/connections",
            &globex,
            Some(json!({"provider": "custom-api-key", "label": "globex-api", "credentials": {"base_url": "https://api.globex.example", "api_key": "globex-key"}})),
        )
        .await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    let id = theirs.body["id"].as_str().unwrap().to_owned();
    let acme = app.session("acme", "a1", "admin").await;

    let routes: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/v1/connections/{id}"), None),
        (Method::PATCH, format!("/v1/connections/{id}"), Some(json!({"label": "mine now"}))),
        (Method::DELETE, format!("/v1/connections/{id}"), None),
        (Method::POST, format!("/v1/connections/{id}/test"), Some(json!({}))),
        (Method::GET, "/v1/connections?org=globex".to_owned(), None),
        (Method::GET, "/v1/status?org=globex".to_owned(), None),
        (Method::GET, "/v1/audit?org=globex".to_owned(), None),
        (
            Method::POST,
            "/v1/connections".to_owned(),
            Some(
                json!({"provider": "custom-api-key", "org": "globex", "credentials": {"base_url": "https://x.example", "api_key": "k"}}),
            ),
        ),
    ];
    for (method, path, body) in routes {
        let a = app.call(method.clone(), &path, &acme, body).await;
        assert_eq!((a.status, a.code()), (404, "not_found"), "{method} {path}: {}", a.body);
        assert!(!a.body.to_string().contains("globex-api"), "{method} {path} leaked: {}", a.body);
    }
    // Credentials are secret-key only: a session is refused before anything is looked up.
    let a = app.call(Method::GET, &format!("/v1/connections/{id}/credentials"), &acme, None).await;
    assert_eq!(a.status, 403);
    // Lists without a filter hold only the session's own org.
    let a = app.call(Method::GET, "/v1/connections", &acme, None).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 0);
    let a = app.call(Method::GET, "/v1/status", &acme, None).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 0);
    // And the connection is untouched.
    let a = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!((a.status, a.body["label"].as_str()), (200, Some("globex-api")));
}

#[tokio::test]
async fn members_may_not_read_the_audit_log() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let member = app.session("acme", "m1", "member").await;
    let a = app.call(Method::GET, "/v1/audit", &member, None).await;
    assert_eq!((a.status, a.code()), (403, "forbidden"));
}

#[tokio::test]
async fn secret_keys_see_every_org_or_filter_to_one() {
    let app = spawn_app(TestDb::sqlite().await).await;
    app.session("acme", "a1", "admin").await;
    app.session("globex", "g1", "admin").await;
    let all = app.get("/v1/audit").await;
    let orgs: std::collections::BTreeSet<_> =
        all.body["items"].as_array().unwrap().iter().filter_map(|i| i["org"].as_str()).collect();
    assert_eq!(orgs.into_iter().collect::<Vec<_>>(), ["acme", "globex"]);
    let one = app.get("/v1/audit?org=globex").await;
    assert!(one.body["items"].as_array().unwrap().iter().all(|i| i["org"] == "globex"));
    let _ = json!({});
}

#[tokio::test]
async fn webhook_endpoints_and_events_of_another_org_are_404() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let globex = app.session("globex", "g1", "admin").await;
    let theirs = app.call(Method::POST, "/v1/webhook-endpoints", &globex, Some(json!({"provider": "github"}))).await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    let (id, url, secret) = (
        theirs.body["id"].as_str().unwrap().to_owned(),
        theirs.body["url"].as_str().unwrap().to_owned(),
        theirs.body["secret"].as_str().unwrap().to_owned(),
    );
    let body = r#"{"zen":"globex-private"}"#;
    let signature = crate::support::signing::sha256_header(&secret, body);
    let req =
        app.client.post(&url).header("X-Hub-Signature-256", signature).header("X-GitHub-Event", "ping").body(body);
    let received = app.send(req).await;
    assert_eq!(received.status, 200);
    let event_id = received.body["event_id"].as_str().unwrap().to_owned();
    let acme = app.session("acme", "a1", "admin").await;
    let their_session = app.get("/v1/sessions?org=globex").await.body["items"][0]["id"].as_str().unwrap().to_owned();

    for (method, path, body) in [
        (Method::DELETE, format!("/v1/webhook-endpoints/{id}"), None),
        (Method::PATCH, format!("/v1/webhook-endpoints/{id}"), Some(json!({}))),
        (Method::GET, "/v1/webhook-endpoints?org=globex".to_owned(), None),
        (Method::GET, "/v1/events?org=globex".to_owned(), None),
        (Method::GET, format!("/v1/events/{event_id}"), None),
        (Method::GET, "/v1/sessions?org=globex".to_owned(), None),
        (Method::DELETE, format!("/v1/sessions/{their_session}"), None),
        (Method::POST, "/v1/webhook-endpoints".to_owned(), Some(json!({"provider": "github", "org": "globex"}))),
    ] {
        let a = app.call(method.clone(), &path, &acme, body).await;
        assert_eq!((a.status, a.code()), (404, "not_found"), "{method} {path}: {}", a.body);
        assert!(!a.body.to_string().contains("globex-private"), "{method} {path} leaked: {}", a.body);
    }
    for path in ["/v1/webhook-endpoints", "/v1/events"] {
        let a = app.call(Method::GET, path, &acme, None).await;
        assert_eq!((a.status, a.body["items"].as_array().map(Vec::len)), (200, Some(0)), "{path}: {}", a.body);
    }
    // Subscriptions and deliveries span orgs: secret keys only.
    for (method, path) in
        [(Method::GET, "/v1/subscriptions"), (Method::GET, "/v1/deliveries"), (Method::POST, "/v1/subscriptions")]
    {
        let a = app.call(method.clone(), path, &acme, Some(json!({"url": "https://example.com/x"}))).await;
        assert_eq!(a.status, 403, "{method} {path}: {}", a.body);
    }
    // The endpoint still works for its own org.
    let a = app.call(Method::GET, "/v1/events", &globex, None).await;
    assert_eq!(a.body["items"].as_array().map(Vec::len), Some(1), "{}", a.body);
    assert_eq!(
        app.call(Method::GET, "/v1/webhook-endpoints", &globex, None).await.body["items"].as_array().map(Vec::len),
        Some(1)
    );
}
