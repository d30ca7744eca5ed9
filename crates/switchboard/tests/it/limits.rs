//! Rate limits per secret key, per session and per inbound webhook endpoint, and the connection
//! limits (head size, head read time, open connections) that keep a slow or flooding client from
//! starving the others.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::services::Principal;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::server::TestApp;
use crate::support::{TestDb, spawn_app_with};

/// The 99th percentile of `samples` (the largest for fewer than 100).
fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

/// `n` reads of the integrations list as `key`, one every `gap`; each one's time.
async fn paced_reads(app: &TestApp, key: &str, n: usize, gap: Duration) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let res = app.client.get(app.url("/v1/integrations")).bearer_auth(key).send().await.unwrap();
        assert_eq!(res.status(), 200, "the unflooded key was refused: {}", res.text().await.unwrap());
        times.push(t.elapsed());
        tokio::time::sleep(gap).await;
    }
    times
}

#[tokio::test]
async fn a_flooded_key_gets_429_with_rate_limit_headers_and_another_keys_p99_holds() {
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[("rate_limit_key_per_s", "50"), ("rate_limit_key_burst", "50"), ("rate_limit_session_per_s", "0")],
    )
    .await;
    let (_, other) = app.services.create_api_key(&Principal::Operator, "other").await.unwrap();
    let other = other.expose().to_owned();
    let gap = Duration::from_millis(30);
    let mut before = paced_reads(&app, &other, 30, gap).await;

    // 8 tasks flood with the first key for 1.5 s while the other key reads at its own pace.
    let started = Instant::now();
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, key) = (app.client.clone(), app.url("/v1/integrations"), app.key.clone());
            tokio::spawn(async move {
                let (mut ok, mut refused, mut first_refusal) = (0u32, 0u32, None);
                while started.elapsed() < Duration::from_millis(1500) {
                    let res = client.get(&url).bearer_auth(&key).send().await.unwrap();
                    match res.status().as_u16() {
                        200 => ok += 1,
                        429 => {
                            refused += 1;
                            if first_refusal.is_none() {
                                let headers = res.headers().clone();
                                first_refusal = Some((headers, res.json::<Value>().await.unwrap()));
                            }
                        }
                        other => panic!("the flood got {other}"),
                    }
                }
                (ok, refused, first_refusal)
            })
        })
        .collect();
    let mut during = paced_reads(&app, &other, 30, gap).await;
    let (mut ok, mut refused, mut refusal) = (0, 0, None);
    for task in flood {
        let (o, r, f) = task.await.unwrap();
        ok += o;
        refused += r;
        refusal = refusal.or(f);
    }
    let elapsed = started.elapsed().as_secs_f64();

    assert!(refused > 0, "the flood was never refused ({ok} answered)");
    // The bucket: a burst of 50, then 50 a second (the pace of the last flood task allowed for).
    let allowed = 50.0 + 50.0 * elapsed + 5.0;
    assert!(f64::from(ok) <= allowed, "{ok} flood requests answered in {elapsed:.2} s, more than {allowed:.0}");
    let (headers, body) = refusal.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("SWITCHBOARD_RATE_LIMIT_KEY_PER_S") && message.contains("50 a second"), "{message}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(headers["ratelimit-policy"], "\"key\";q=50;w=1");
    assert_eq!(headers["ratelimit"].to_str().unwrap(), format!("\"key\";r=0;t={retry_after}"));
    assert!(!message.contains(&app.key) && !format!("{headers:?}").contains(&app.key));

    // The other key was never refused (paced_reads asserts each 200), and its p99 held.
    let (calm, flooded) = (p99(&mut before), p99(&mut during));
    println!("the other key's p99: {calm:?} alone, {flooded:?} during the flood ({ok} answered, {refused} refused)");
    assert!(
        flooded <= calm * 5 + Duration::from_millis(50),
        "the other key's p99 went from {calm:?} to {flooded:?} during the flood"
    );
}

#[tokio::test]
async fn each_session_has_its_own_bucket_on_the_api_and_the_mcp_server() {
    let app =
        spawn_app_with(TestDb::sqlite().await, &[("rate_limit_session_per_s", "1"), ("rate_limit_session_burst", "3")])
            .await;
    let first = app.session("acme", "u1", "member").await;
    let second = app.session("acme", "u2", "member").await;
    let read = |token: &str| app.client.get(app.url("/v1/connections")).bearer_auth(token).send();
    for _ in 0..3 {
        assert_eq!(read(&first).await.unwrap().status(), 200);
    }
    let res = read(&first).await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["ratelimit-policy"], "\"session\";q=3;w=3");
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("this session"), "{body}");
    // The MCP server draws on the same bucket.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let res = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(&first)
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // Another session, and the secret key, are untouched.
    assert_eq!(read(&second).await.unwrap().status(), 200);
    assert_eq!(app.get("/v1/connections?org=acme").await.status, 200);
}

#[tokio::test]
async fn a_flooded_webhook_endpoint_is_refused_before_verification_and_others_still_take_events() {
    let app =
        spawn_app_with(TestDb::sqlite().await, &[("rate_limit_webhook_per_s", "2"), ("rate_limit_webhook_burst", "5")])
            .await;
    let mut urls = Vec::new();
    for _ in 0..2 {
        let a = app
            .post(
                "/v1/webhook-endpoints",
                json!({"org": "acme", "provider": "stripe", "secret": "whsec_limit_test_0123456789"}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        urls.push(a.body["url"].as_str().unwrap().to_owned());
    }
    let forged = |url: &str| {
        app.client
            .post(url)
            .header("content-type", "application/json")
            .header("stripe-signature", "t=1,v1=00")
            .body("{\"id\":\"evt_1\",\"type\":\"charge.succeeded\"}")
            .send()
    };
    let mut statuses = Vec::new();
    let mut refusal = None;
    for _ in 0..20 {
        let res = forged(&urls[0]).await.unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == 429 && refusal.is_none() {
            refusal = Some(res.headers().clone());
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let headers = refusal.unwrap();
    assert_eq!(headers["ratelimit-policy"], "\"webhook\";q=5;w=3");
    assert!(headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    // The other endpoint still verifies (and refuses the forgery as such).
    assert_eq!(forged(&urls[1]).await.unwrap().status(), 401);
    // Nothing was stored for the flood.
    let events = app.get("/v1/events?org=acme").await;
    assert_eq!(events.body["items"].as_array().map(Vec::len), Some(0), "{}", events.body);
}

/// Reads from `stream` until it closes (or 5 s pass); what was read.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> (bool, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (true, got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    (false, got)
}

#[tokio::test]
async fn slow_heads_are_cut_off_oversized_heads_get_431_and_connections_are_capped() {
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[("header_read_timeout_s", "1"), ("max_header_kb", "8"), ("max_connections", "4")],
    )
    .await;
    // A head over 8 KiB.
    let res = app.client.get(app.url("/healthz")).header("x-padding", "a".repeat(16 * 1024)).send().await.unwrap();
    assert_eq!(res.status(), 431);

    // Four clients that start a request and never finish its head hold every slot...
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...so a fifth connection is closed as it arrives, without an answer...
    let mut fifth = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let _ = fifth.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    let (closed, answer) = read_until_closed(&mut fifth).await;
    assert!(closed && answer.is_empty(), "the fifth connection was served: {}", String::from_utf8_lossy(&answer));
    // ...until the head read timeout cuts the slow ones off, within the second plus a little.
    let started = Instant::now();
    for s in &mut slow {
        let (closed, _) = read_until_closed(s).await;
        assert!(closed, "a slow client kept its connection");
    }
    assert!(started.elapsed() < Duration::from_secs(4), "the slow clients were cut off after {:?}", started.elapsed());
    // Then everyone else is served again.
    let fresh = reqwest::Client::new();
    let res = fresh.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
