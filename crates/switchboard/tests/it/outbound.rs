//! The one outbound client: redirects are never followed, idempotent calls are
//! retried on 5xx and 429 (honouring a short Retry-After), other calls are not.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use reqwest::Method;
use serde_json::json;
use switchboard::config::Settings;
use switchboard::outbound::{Outbound, OutboundError, OutboundRequest};
use url::Url;

use crate::support::fakes::{Fake, shape};

fn client(fake: &Fake) -> Outbound {
    let s = Settings::from_pairs(&[("outbound_overrides", &fake.override_entry())]).unwrap();
    Outbound::new(&s).unwrap()
}

fn get(path: &str) -> OutboundRequest {
    OutboundRequest::new(Method::GET, Url::parse(&format!("https://api.provider.example{path}")).unwrap())
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let fake = Fake::start("https://api.provider.example", |s| {
        if s.path == "/start" {
            shape(302, json!({})).header("location", "/stolen")
        } else {
            shape(200, json!({"reached": s.path}))
        }
    })
    .await;
    let res = client(&fake).send(get("/start")).await.unwrap();
    assert_eq!(res.status.as_u16(), 302);
    assert_eq!(fake.hits(), 1, "the Location was not requested");
}

#[tokio::test]
async fn idempotent_calls_are_retried_after_server_errors() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let fake = Fake::start("https://api.provider.example", move |_| {
        if c.fetch_add(1, Ordering::SeqCst) < 2 {
            shape(503, json!({"error": "busy"}))
        } else {
            shape(200, json!({"ok": true}))
        }
    })
    .await;
    let res = client(&fake).send(get("/x")).await.unwrap();
    assert_eq!((res.status.as_u16(), calls.load(Ordering::SeqCst)), (200, 3));
}

#[tokio::test]
async fn a_short_retry_after_is_waited_for_and_a_long_one_is_handed_back() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let fake = Fake::start("https://api.provider.example", move |s| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        match (s.path.as_str(), n) {
            ("/short", 0) => shape(429, json!({})).header("retry-after", "1"),
            ("/short", _) => shape(200, json!({})),
            _ => shape(429, json!({})).header("retry-after", "120"),
        }
    })
    .await;
    let out = client(&fake);
    let started = Instant::now();
    let res = out.send(get("/short")).await.unwrap();
    assert_eq!(res.status.as_u16(), 200);
    assert!(started.elapsed().as_millis() >= 900, "waited for Retry-After: {:?}", started.elapsed());
    let res = out.send(get("/long")).await.unwrap();
    assert_eq!((res.status.as_u16(), res.retry_after()), (429, Some(120)), "a long wait goes back to the caller");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn non_idempotent_calls_are_not_repeated() {
    let fake = Fake::start("https://api.provider.example", |_| shape(503, json!({}))).await;
    let req = OutboundRequest::new(Method::POST, Url::parse("https://api.provider.example/token").unwrap());
    let res = client(&fake).send(req).await.unwrap();
    assert_eq!((res.status.as_u16(), fake.hits()), (503, 1));
}

#[tokio::test]
async fn failures_name_the_host_never_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s =
        Settings::from_pairs(&[("outbound_overrides", &format!("https://api.telegram.org=http://127.0.0.1:{port}"))])
            .unwrap();
    let err = Outbound::new(&s)
        .unwrap()
        .send(get_from("https://api.telegram.org/bot123456:SECRET-TOKEN/getMe"))
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("api.telegram.org") && !text.contains("SECRET-TOKEN"), "{text}");
}

fn get_from(url: &str) -> OutboundRequest {
    OutboundRequest::new(Method::GET, Url::parse(url).unwrap())
}

#[tokio::test]
async fn private_destinations_are_refused_unless_allowed() {
    let strict = Outbound::new(&Settings::from_pairs(&[]).unwrap()).unwrap();
    for url in ["http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://[::1]:9/x", "http://localhost:9/x"] {
        let err = strict.send(get_from(url)).await.unwrap_err();
        assert!(matches!(err, OutboundError::Refused(_)), "{url}: {err}");
    }
}
