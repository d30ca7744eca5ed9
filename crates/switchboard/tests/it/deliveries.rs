//! Events out to subscribers: signed the Standard Webhooks way and checked by
//! the `standardwebhooks` library, retried on the configured schedule with
//! `Retry-After` honoured, dead-lettered, disabled on 410, replayed, and never
//! sent to a private address unless the operator allows it.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::peers::signer;
use crate::support::receiver::Receiver;
use crate::support::server::TestApp;
use crate::support::signing::sha256_header;
use crate::support::{TestDb, spawn_app, spawn_app_with};

/// A generic endpoint (HMAC-SHA256 of the body) of org `acme`: (id, url, secret).
async fn hmac_endpoint(app: &TestApp) -> (String, String, String) {
    let a =
        app.post("/v1/webhook-endpoints", json!({"org": "acme", "provider": "webhook", "scheme": "hmac-sha256"})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let s = |k: &str| a.body[k].as_str().unwrap().to_owned();
    (s("id"), s("url"), s("secret"))
}

/// Posts a signed event whose provider id is `msg_id`; the status.
async fn send_event(app: &TestApp, (url, secret): (&str, &str), msg_id: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let sig = sha256_header(secret, &body);
    let req = app
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("X-Webhook-Signature", sig)
        .header("webhook-id", msg_id)
        .body(body);
    app.send(req).await.status
}

async fn subscribe(app: &TestApp, body: Value) -> (String, String) {
    let a = app.post("/v1/subscriptions", body).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let secret = a.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (a.body["id"].as_str().unwrap().to_owned(), secret)
}

async fn deliveries(app: &TestApp, query: &str) -> Vec<Value> {
    let a = app.get(&format!("/v1/deliveries?{query}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["items"].as_array().unwrap().clone()
}

/// Waits (bounded) until the subscription's deliveries have all left `pending`.
async fn settled(app: &TestApp, subscription: &str, within: Duration) -> Vec<Value> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let d = deliveries(app, &format!("subscription={subscription}")).await;
        if !d.is_empty() && d.iter().all(|x| x["status"] != "pending") {
            return d;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries still pending after {within:?}: {d:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn delivered_and_signed(db: TestDb) {
    let (app, s) = (spawn_app(db).await, signer());
    let rx = Receiver::start().await;
    let (sub, secret) = subscribe(&app, json!({"url": rx.url, "event_types": ["webhook.*"]})).await;
    // A subscription for other events gets nothing.
    let other = Receiver::start().await;
    subscribe(&app, json!({"url": other.url, "event_types": ["stripe.*"]})).await;
    let (ep, url, ep_secret) = hmac_endpoint(&app).await;

    assert_eq!(send_event(&app, (&url, &ep_secret), "msg_1", &json!({"order": 1, "total": "12.50"})).await, 200);
    // The provider retries the same event: acknowledged, not delivered again.
    assert_eq!(send_event(&app, (&url, &ep_secret), "msg_1", &json!({"order": 1, "total": "12.50"})).await, 200);
    assert_eq!(send_event(&app, (&url, &ep_secret), "msg_2", &json!({"order": 2})).await, 200);
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_now = rx.received();
    assert_eq!(got_now.len(), 2, "each event once: {got_now:?}");

    let events = app.get(&format!("/v1/events?endpoint={ep}")).await.body["items"].as_array().unwrap().clone();
    let first = got.iter().find(|r| r.json()["data"]["order"] == 1).expect("event 1 delivered");
    let body = first.json();
    let event = events.iter().find(|e| e["provider_event_id"] == "msg_1").unwrap();
    // The message id is our event id: a receiver deduplicates retries and replays by it.
    assert_eq!(first.header("webhook-id"), event["id"].as_str());
    assert_eq!((body["id"].clone(), body["type"].as_str()), (event["id"].clone(), Some("webhook.event")));
    assert_eq!((body["org"].as_str(), body["endpoint_id"].as_str()), (Some("acme"), Some(ep.as_str())));
    assert_eq!(body["data"]["total"], "12.50");
    assert_eq!(first.header("content-type"), Some("application/json"));
    s.verify_delivery(&secret, &first.headers, &first.body).await.expect("standardwebhooks accepts our signature");
    let wrong = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(s.verify_delivery(wrong, &first.headers, &first.body).await.is_err(), "another secret is refused");
    let tampered = first.body.replace("12.50", "99.99");
    assert!(s.verify_delivery(&secret, &first.headers, &tampered).await.is_err(), "a changed body is refused");

    let d = settled(&app, &sub, Duration::from_secs(5)).await;
    assert_eq!(d.len(), 2);
    for x in &d {
        assert_eq!(
            (x["status"].as_str(), x["attempts"].as_i64(), x["last_status"].as_i64()),
            (Some("succeeded"), Some(1), Some(200)),
            "{x}"
        );
        let h = x["history"].as_array().unwrap();
        assert_eq!((h.len(), h[0]["status_code"].as_i64()), (1, Some(200)), "{x}");
        assert!(h[0]["latency_ms"].as_i64().unwrap() >= 0);
        assert!(x["next_attempt_at"].is_null());
    }
    assert!(other.received().is_empty(), "a subscription to stripe.* got a webhook event");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"switchboard_webhook_events_total{provider="webhook",outcome="accepted"} 2"#,
        r#"switchboard_webhook_events_total{provider="webhook",outcome="duplicate"} 1"#,
        r#"switchboard_deliveries_total{outcome="succeeded"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(!metrics.contains(&secret) && !metrics.contains(&ep_secret), "no secret in the metrics");
}
crate::on_both_backends!(deliveries_are_signed_and_verified_by_standardwebhooks, delivered_and_signed);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_on_the_schedule_then_dead_lettered() {
    let app = spawn_app_with(TestDb::sqlite().await, &[("delivery_schedule_s", "0,1,1")]).await;
    let rx = Receiver::start().await;
    let (sub, _) = subscribe(&app, json!({"url": rx.url})).await;
    let (_, url, secret) = hmac_endpoint(&app).await;

    // Three failures: the first attempt and the two retries of "0,1,1", then given up.
    rx.answer(&[(500, None), (502, None), (500, None)]);
    send_event(&app, (&url, &secret), "msg_dead", &json!({"n": 1})).await;
    let d = settled(&app, &sub, Duration::from_secs(15)).await;
    let x = &d[0];
    assert_eq!(
        (x["status"].as_str(), x["attempts"].as_i64(), x["last_status"].as_i64()),
        (Some("dead"), Some(3), Some(500)),
        "{x}"
    );
    assert!(x["next_attempt_at"].is_null(), "{x}");
    assert!(x["last_error"].as_str().unwrap().contains("500"), "{x}");
    let codes: Vec<_> = x["history"].as_array().unwrap().iter().map(|h| h["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [500, 502, 500]);
    let at = |i: usize| millis_of(x["history"][i]["at"].as_str().unwrap());
    // 1 s ±20 % between attempts (the deliverer looks for due work every second).
    for i in 1..3 {
        let gap = at(i) - at(i - 1);
        assert!((750..3_500).contains(&gap), "attempt {i} came {gap} ms after the previous one");
    }
    assert_eq!(rx.received().len(), 3);
    let dead = deliveries(&app, "status=dead").await;
    assert_eq!(dead.len(), 1);

    // Retry-After is honoured when it asks for longer than the schedule.
    rx.answer(&[(503, Some("3"))]);
    send_event(&app, (&url, &secret), "msg_later", &json!({"n": 2})).await;
    let pending = async || deliveries(&app, &format!("subscription={sub}&status=pending")).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let waiting = loop {
        let p = pending().await;
        if p.first().is_some_and(|x| x["attempts"] == 1) {
            break p[0].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no first attempt recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let first = millis_of(waiting["history"][0]["at"].as_str().unwrap());
    let next = millis_of(waiting["next_attempt_at"].as_str().unwrap());
    assert!(next - first >= 2_900, "next attempt {} ms after a Retry-After of 3 s", next - first);
    let d = settled(&app, &sub, Duration::from_secs(10)).await;
    let x = d.iter().find(|x| x["id"] == waiting["id"]).unwrap();
    assert_eq!((x["status"].as_str(), x["attempts"].as_i64()), (Some("succeeded"), Some(2)), "{x}");
    let gap = millis_of(x["history"][1]["at"].as_str().unwrap()) - first;
    assert!(gap >= 2_900, "retried {gap} ms after a Retry-After of 3 s");
}

fn millis_of(rfc3339: &str) -> i64 {
    switchboard_core::time::Timestamp::parse_rfc3339(rfc3339).expect("an RFC 3339 time").millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_410_disables_its_subscription() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let rx = Receiver::start().await;
    let (sub, _) = subscribe(&app, json!({"url": rx.url})).await;
    let (_, url, secret) = hmac_endpoint(&app).await;
    rx.answer(&[(410, None)]);
    send_event(&app, (&url, &secret), "msg_a", &json!({"n": 1})).await;
    let d = settled(&app, &sub, Duration::from_secs(5)).await;
    assert_eq!((d[0]["status"].as_str(), d[0]["attempts"].as_i64()), (Some("dead"), Some(1)));
    let subs = app.get("/v1/subscriptions").await;
    let s = subs.body["items"].as_array().unwrap().iter().find(|s| s["id"] == sub.as_str()).unwrap().clone();
    assert_eq!(s["status"], "disabled", "{s}");
    assert!(s["disabled_reason"].as_str().unwrap().contains("410"), "{s}");
    assert!(s.get("secret").is_none(), "a listed subscription shows no secret: {s}");
    // Later events are not sent to it.
    send_event(&app, (&url, &secret), "msg_b", &json!({"n": 2})).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(rx.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_delivers_an_event_again() {
    let (app, s) = (spawn_app(TestDb::sqlite().await).await, signer());
    let rx = Receiver::start().await;
    let (sub, secret) = subscribe(&app, json!({"url": rx.url})).await;
    let (ep, url, ep_secret) = hmac_endpoint(&app).await;
    send_event(&app, (&url, &ep_secret), "msg_r", &json!({"n": 1})).await;
    rx.wait_for(1, Duration::from_secs(5)).await;
    let event = app.get(&format!("/v1/events?endpoint={ep}")).await.body["items"][0].clone();
    let id = event["id"].as_str().unwrap();

    let a = app.post(&format!("/v1/events/{id}/replay"), json!({})).await;
    assert_eq!((a.status, a.body["deliveries"].as_array().map(Vec::len)), (202, Some(1)), "{}", a.body);
    let got = rx.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(got[1].header("webhook-id"), Some(id), "the same message id as the first delivery");
    assert_eq!(got[1].json()["data"], got[0].json()["data"]);
    s.verify_delivery(&secret, &got[1].headers, &got[1].body).await.expect("a replay is signed too");
    assert_eq!(deliveries(&app, &format!("event={id}")).await.len(), 2);

    let a = app.post(&format!("/v1/events/{id}/replay"), json!({"subscription": sub})).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let a = app.post(&format!("/v1/events/{id}/replay"), json!({"subscription": "sub_nope"})).await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("subscription")), "{}", a.body);
    let a = app.post("/v1/events/evt_01hzzzzzzzzzzzzzzzzzzzzzzz/replay", json!({})).await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "{}", a.body);
    let session = app.session("acme", "admin1", "admin").await;
    let a = app.call(Method::POST, &format!("/v1/events/{id}/replay"), &session, Some(json!({}))).await;
    assert_eq!(a.status, 403, "replays need a secret key: {}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_lifecycle_events_are_delivered() {
    let (app, s) = (spawn_app(TestDb::sqlite().await).await, signer());
    let rx = Receiver::start().await;
    let (_, secret) = subscribe(&app, json!({"url": rx.url, "org": "acme", "event_types": ["connection.*"]})).await;
    let create = |org: &str| json!({"provider": "custom-api-key", "org": org, "label": "crm", "credentials": {"base_url": "https://crm.example", "api_key": "k-123"}});
    let a = app.post("/v1/connections", create("acme")).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    // Another org's connection is not this subscription's business.
    assert_eq!(app.post("/v1/connections", create("globex")).await.status, 201);
    assert_eq!(app.delete(&format!("/v1/connections/{id}")).await.status, 204);

    let got = rx.wait_for(2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 2, "{:?}", rx.received());
    let types: Vec<_> = got.iter().map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, ["connection.created", "connection.deleted"]);
    for r in &got {
        let b = r.json();
        assert_eq!((b["connection_id"].as_str(), b["org"].as_str()), (Some(id.as_str()), Some("acme")), "{b}");
        assert!(!r.body.contains("k-123"), "a lifecycle event carries no secret: {}", r.body);
        s.verify_delivery(&secret, &r.headers, &r.body).await.unwrap();
    }
    let listed = app.get("/v1/events?type=connection.created&org=acme").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "{}", listed.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_subscriber_addresses_are_refused_unless_allowed() {
    let strict = spawn_app_with(TestDb::sqlite().await, &[("allow_private_networks", "false")]).await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "http://[::1]:9/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest",
    ] {
        let a = strict.post("/v1/subscriptions", json!({"url": url})).await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("url")), "{url}: {}", a.body);
        assert!(a.body["error"]["message"].as_str().unwrap().contains("private"), "{}", a.body);
    }
    for (body, field) in [
        (json!({"url": "ftp://example.com/x"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "https://example.com/x", "event_types": ["has space"]}), "event_types"),
        (json!({"url": "https://example.com/x", "endpoint": "we_nope"}), "endpoint"),
    ] {
        let a = strict.post("/v1/subscriptions", body.clone()).await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some(field)), "{body}: {}", a.body);
    }
    drop(strict);

    // Checked again when a delivery connects: a URL saved while allowed (or whose name
    // later resolves inward) is refused once the operator no longer allows it.
    let open = spawn_app_with(TestDb::sqlite().await, &[("delivery_schedule_s", "0,1")]).await;
    let rx = Receiver::start().await;
    let (sub, _) = subscribe(&open, json!({"url": rx.url})).await;
    open.stop.cancel();
    let strict = open.another_instance(&[("allow_private_networks", "false"), ("delivery_schedule_s", "0,1")]).await;
    let (_, url, secret) = hmac_endpoint(&strict).await;
    assert_eq!(send_event(&strict, (&url, &secret), "msg_p", &json!({"n": 1})).await, 200);
    let d = settled(&strict, &sub, Duration::from_secs(10)).await;
    assert_eq!((d[0]["status"].as_str(), d[0]["attempts"].as_i64()), (Some("dead"), Some(2)), "{}", d[0]);
    assert!(d[0]["last_error"].as_str().unwrap().contains("private"), "{}", d[0]);
    assert!(d[0]["last_status"].is_null());
    assert!(rx.received().is_empty(), "a refused address was reached");
}

/// Two instances on one PostgreSQL share the deliveries: each event reaches the subscriber once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once() {
    let Some(db) = TestDb::postgres().await else {
        panic!("SWITCHBOARD_TEST_POSTGRES_URL is not set: this test needs PostgreSQL");
    };
    let a = spawn_app(db).await;
    let b = a.another_instance(&[]).await;
    let rx = Receiver::start().await;
    subscribe(&a, json!({"url": rx.url})).await;
    let (_, url, secret) = hmac_endpoint(&a).await;
    let n = 200;
    for i in 0..n {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(send_event(app, (&url, &secret), &format!("msg_{i}"), &json!({"i": i})).await, 200);
    }
    rx.wait_for(n, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for r in rx.received() {
        *per_id.entry(r.header("webhook-id").unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(per_id.len(), n);
    assert!(per_id.values().all(|c| *c == 1), "some event was delivered twice: {per_id:?}");
}
