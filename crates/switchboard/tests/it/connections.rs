//! Connections as an org's users see them: several per provider, shared or
//! private, who may change or remove what, the status overview, paging.

use reqwest::Method;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::server::TestApp;
use crate::support::{TestDb, spawn_app};

/// A connection that needs no provider call: a custom API key without a test path.
fn custom(label: &str) -> Value {
    json!({"provider": "custom-api-key", "label": label, "credentials": {"base_url": "https://api.acme.example", "api_key": format!("key-{label}")}})
}

async fn create(app: &TestApp, token: &str, mut body: Value, extra: Value) -> crate::support::server::Answer {
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.call(Method::POST, "/v1/connections", token, Some(body)).await
}

fn ids(a: &crate::support::server::Answer) -> Vec<String> {
    a.body["items"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_owned()).collect()
}

on_both_backends!(members_see_shared_connections_and_their_own, visibility_case);
async fn visibility_case(db: TestDb) {
    let app = spawn_app(db).await;
    let alice = app.session("acme", "alice", "member").await;
    let bob = app.session("acme", "bob", "member").await;
    let admin = app.session("acme", "root", "admin").await;

    let a = create(&app, &alice, custom("alice-shared"), json!({})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        (a.body["org"].as_str(), a.body["owner"].as_str(), a.body["shared"].as_bool()),
        (Some("acme"), Some("alice"), Some(true))
    );
    let private = create(&app, &alice, custom("alice-private"), json!({"shared": false})).await;
    let private_id = private.body["id"].as_str().unwrap().to_owned();
    create(&app, &bob, custom("bob-shared"), json!({})).await;

    assert_eq!(
        ids(&app.call(Method::GET, "/v1/connections", &alice, None).await),
        ["alice-shared", "alice-private", "bob-shared"]
    );
    assert_eq!(
        ids(&app.call(Method::GET, "/v1/connections", &bob, None).await),
        ["alice-shared", "bob-shared"],
        "bob does not see alice's private one"
    );
    assert_eq!(app.call(Method::GET, &format!("/v1/connections/{private_id}"), &bob, None).await.status, 404);
    assert_eq!(
        ids(&app.call(Method::GET, "/v1/connections", &admin, None).await).len(),
        3,
        "admins see every connection of their org"
    );

    // Bob may not change or remove what he does not own; alice and admins may.
    let a = app.call(Method::DELETE, &format!("/v1/connections/{}", a.body["id"].as_str().unwrap()), &bob, None).await;
    assert_eq!((a.status, a.code()), (403, "forbidden"));
    let a = app
        .call(
            Method::PATCH,
            &format!("/v1/connections/{private_id}"),
            &alice,
            Some(json!({"label": "renamed", "shared": true})),
        )
        .await;
    assert_eq!(
        (a.status, a.body["label"].as_str(), a.body["shared"].as_bool()),
        (200, Some("renamed"), Some(true)),
        "{}",
        a.body
    );
    assert_eq!(
        app.call(Method::GET, &format!("/v1/connections/{private_id}"), &bob, None).await.status,
        200,
        "shared now"
    );
    assert_eq!(app.call(Method::DELETE, &format!("/v1/connections/{private_id}"), &admin, None).await.status, 204);
    assert_eq!(app.call(Method::GET, &format!("/v1/connections/{private_id}"), &alice, None).await.status, 404);
    let audit = app.get(&format!("/v1/audit?connection={private_id}")).await;
    let actions: Vec<_> =
        audit.body["items"].as_array().unwrap().iter().map(|i| i["action"].as_str().unwrap().to_owned()).collect();
    assert_eq!(actions, ["connection.delete", "connection.update", "connection.create"]);
}

#[tokio::test]
async fn several_connections_per_provider_with_labels_filters_and_pages() {
    let app = spawn_app(TestDb::sqlite().await).await;
    for i in 0..5 {
        let a = create(&app, &app.key, custom(&format!("api-{i}")), json!({"org": "acme"})).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let first = app.get("/v1/connections?org=acme&limit=2").await;
    assert_eq!(ids(&first), ["api-0", "api-1"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("/v1/connections?org=acme&limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&second), ["api-2", "api-3"]);
    assert_eq!(ids(&app.get("/v1/connections?org=acme&provider=custom-api-key&status=connected").await).len(), 5);
    assert_eq!(ids(&app.get("/v1/connections?org=acme&provider=slack").await).len(), 0);
    let a = app.get("/v1/connections?status=happy").await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("status")));
    let a = app.call(Method::POST, "/v1/connections", &app.key, Some(json!({"provider": "custom-api-key", "org": "acme", "label": "", "credentials": {"base_url": "https://x.example", "api_key": "k"}}))).await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("label")));
    let a = app.call(Method::POST, "/v1/connections", &app.key, Some(json!({"provider": "custom-api-key", "org": "acme", "shared": false, "credentials": {"base_url": "https://x.example", "api_key": "k"}}))).await;
    assert_eq!(
        (a.status, a.body["error"]["field"].as_str()),
        (400, Some("shared")),
        "a private connection needs an owner"
    );

    let status = app.get("/v1/status?org=acme").await;
    assert_eq!(
        status.body["items"],
        json!([{"provider": "custom-api-key", "connections": 5, "statuses": {"connected": 5}, "last_error": null}])
    );
}

#[tokio::test]
async fn an_integration_in_use_cannot_be_deleted() {
    // A connection made through the integration (the OAuth flow will do this; here it is a PAT).
    let fake = crate::support::fakes::Fake::start("https://api.github.com", |_| {
        crate::support::fakes::shape(200, json!({"id": 1, "login": "octo"}))
    })
    .await;
    let app2 =
        crate::support::spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &fake.override_entry())]).await;
    app2.create_integration("gh-app", "github", "secret").await;
    let a = app2.post("/v1/connections", json!({"integration": "gh-app", "org": "acme", "auth_mode": "api_key", "credentials": {"token": "ghp_abcdef"}})).await;
    assert_eq!((a.status, a.body["integration"].as_str()), (201, Some("gh-app")), "{}", a.body);
    let d = app2.delete("/v1/integrations/gh-app").await;
    assert_eq!((d.status, d.code()), (409, "conflict"), "{}", d.body);
    app2.delete(&format!("/v1/connections/{}", a.body["id"].as_str().unwrap())).await;
    assert_eq!(app2.delete("/v1/integrations/gh-app").await.status, 204);
}
