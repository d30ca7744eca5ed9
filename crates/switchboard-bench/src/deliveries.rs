//! `deliveries`: N stored events, each due for delivery to one local subscriber
//! that answers 200 at once; deliveries per second from the moment the server
//! starts sending until the subscriber has received all N.
//!
//! The events are taken in with delivery off (`SWITCHBOARD_JOBS=false`), then
//! the server is restarted with it on, so the figure is the delivery pipeline
//! alone: claim through the store, sign (Standard Webhooks), POST, record the
//! attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use hmac::{KeyInit as _, Mac as _};
use serde_json::json;

use crate::server;

async fn subscriber() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let received = Arc::new(AtomicU64::new(0));
    let count = received.clone();
    let app = axum::Router::new().fallback(move |_body: axum::body::Bytes| {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/events", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, received))
}

pub(crate) async fn run(database: &str, rows: usize) -> anyhow::Result<()> {
    let (url, received) = subscriber().await?;
    let mut s = server::Spawned::start(
        database,
        &[("SWITCHBOARD_ALLOW_PRIVATE_NETWORKS", "true".into()), ("SWITCHBOARD_JOBS", "false".into())],
    )
    .await?;
    println!("{}", s.describe());
    let client = reqwest::Client::new();
    let post = async |path: &str, body: serde_json::Value| -> anyhow::Result<serde_json::Value> {
        let res = client.post(format!("{}{path}", s.base)).bearer_auth(&s.key).json(&body).send().await?;
        if !res.status().is_success() {
            bail!("POST {path}: {} {}", res.status(), res.text().await.unwrap_or_default());
        }
        Ok(res.json().await?)
    };
    post("/v1/subscriptions", json!({"url": url})).await?;
    let ep =
        post("/v1/webhook-endpoints", json!({"provider": "webhook", "scheme": "hmac-sha256", "org": "bench"})).await?;
    let hook = format!("{}/hooks/{}", s.base, ep["id"].as_str().context("endpoint id")?);
    let secret = ep["secret"].as_str().context("endpoint secret")?.to_owned();

    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..rows)
        .map(|i| {
            let (client, hook, secret) = (&client, &hook, &secret);
            async move {
                let body = json!({"order": i, "customer": format!("c-{}", i % 1000), "total": "42.00"}).to_string();
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())?;
                mac.update(body.as_bytes());
                let res = client
                    .post(hook)
                    .header("content-type", "application/json")
                    .header("webhook-id", format!("msg_{i}"))
                    .header("X-Webhook-Signature", format!("sha256={}", hex::encode(mac.finalize().into_bytes())))
                    .body(body)
                    .send()
                    .await?;
                if !res.status().is_success() {
                    bail!("event {i}: {}", res.status());
                }
                Ok(())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let secs = started.elapsed().as_secs_f64();
    println!("took in {rows} events with delivery off in {secs:.1} s ({:.0}/s)", rows as f64 / secs);

    s.restart(&[("SWITCHBOARD_JOBS", "true".into())]).await?;
    let cpu0 = s.cpu_seconds();
    let threads0 = s.cpu_by_thread();
    let started = Instant::now();
    let at_peer = server::wait_for_count(&received, rows, "delivered").await?;
    // A delivery counts once its attempt is on record, not when the subscriber saw it.
    let deadline = Instant::now() + Duration::from_secs(120);
    // A delivery stays `pending` until its attempt is recorded: none pending is all recorded.
    // (One short page per poll, so the polling costs the figure next to nothing.)
    loop {
        let res = client
            .get(format!("{}/v1/deliveries", s.base))
            .bearer_auth(&s.key)
            .query(&[("status", "pending"), ("limit", "1")])
            .send()
            .await?
            .error_for_status()?;
        let page: serde_json::Value = res.json().await?;
        if page["items"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the subscriber received {rows} deliveries but some are still pending after two minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let recorded = server::count_listed(&client, &s, "/v1/deliveries", &[("status", "succeeded")], |_| true).await?;
    if recorded != rows {
        bail!("{recorded} deliveries are recorded as succeeded, not {rows}");
    }
    println!(
        "deliveries: {rows} delivered and recorded in {secs:.2} s (the subscriber had all after {at_peer:.2} s) → {:.0} deliveries/s (server CPU {:.1} s, RSS {:.1} MiB)",
        rows as f64 / secs,
        s.cpu_seconds() - cpu0,
        s.rss_mib()
    );
    println!("server CPU by thread while delivering: {}", server::cpu_split(&threads0, &s.cpu_by_thread()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let extra = received.load(Ordering::Relaxed).saturating_sub(rows as u64);
    if extra > 0 {
        bail!("{extra} deliveries were sent more than once");
    }
    s.stop().await;
    Ok(())
}
