//! The background refresher, measured as a whole process:
//!
//! - `refresher-due`: N OAuth connections all due at once; refreshes per
//!   second until the local token endpoint has seen N refreshes.
//! - `refresher-idle`: N OAuth connections, none due; the server's CPU time
//!   and memory over the measured seconds with the refresher ticking every second.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use serde_json::json;

use crate::{idp, server};

pub(crate) async fn run(scenario: &str, database: &str, rows: usize, measure: Duration) -> anyhow::Result<()> {
    let due = match scenario {
        "refresher-due" => true,
        "refresher-idle" => false,
        other => bail!("unknown scenario {other:?}"),
    };
    // Due: tokens that expire inside the refresh window as soon as they are stored.
    let idp = idp::start(if due { 30 } else { 7200 }).await?;
    let overrides = format!("https://idp.bench={}", idp.base);
    let mut s = server::Spawned::start(
        database,
        &[
            ("SWITCHBOARD_OUTBOUND_OVERRIDES", overrides),
            ("SWITCHBOARD_ALLOW_PRIVATE_NETWORKS", "true".into()),
            ("SWITCHBOARD_JOBS", "false".into()),
            ("SWITCHBOARD_REFRESH_WINDOW_S", "60".into()),
            ("SWITCHBOARD_REFRESH_INTERVAL_S", "1".into()),
        ],
    )
    .await?;
    println!("{}", s.describe());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    seed(&client, &s.base, &s.key, rows).await?;

    s.restart(&[("SWITCHBOARD_JOBS", "true".into())]).await?;
    println!("restarted with the refresher on: ready in {:.0} ms, RSS {:.1} MiB", s.ready_ms, s.rss_mib());
    if due {
        let cpu0 = s.cpu_seconds();
        let threads0 = s.cpu_by_thread();
        let started = Instant::now();
        let at_peer = server::wait_for_count(&idp.refreshes, rows, "refreshed").await?;
        // The figure counts a refresh once its new tokens are stored, not when the peer answered.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let stored =
                server::count_listed(&client, &s, "/v1/connections", &[], |c| !c["last_refreshed_at"].is_null())
                    .await?;
            if stored >= rows {
                break;
            }
            if Instant::now() > deadline {
                bail!("the token endpoint saw {rows} refreshes but only {stored} were stored");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "refresher-due: {rows} connections refreshed and stored in {secs:.2} s (the token endpoint had seen all after {at_peer:.2} s) → {:.0} refreshes/s (server CPU {:.1} s, RSS {:.1} MiB)",
            rows as f64 / secs,
            s.cpu_seconds() - cpu0,
            s.rss_mib()
        );
        println!("server CPU by thread while refreshing: {}", server::cpu_split(&threads0, &s.cpu_by_thread()));
    } else {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let cpu0 = s.cpu_seconds();
        tokio::time::sleep(measure).await;
        let cpu = s.cpu_seconds() - cpu0;
        let refreshed = idp.refreshes.load(Ordering::Relaxed);
        println!(
            "refresher-idle: {rows} connections, none due, {:.0} s with a tick every second → server CPU {:.3} s ({:.2} % of one core, {:.1} ms per tick), {refreshed} refreshes, RSS {:.1} MiB",
            measure.as_secs_f64(),
            cpu,
            cpu / measure.as_secs_f64() * 100.0,
            cpu * 1000.0 / measure.as_secs_f64(),
            s.rss_mib()
        );
    }
    s.stop().await;
    Ok(())
}

/// Connects `rows` accounts through the real OAuth flow: start, the provider's redirect, the callback.
async fn seed(client: &reqwest::Client, base: &str, key: &str, rows: usize) -> anyhow::Result<()> {
    let created = client
        .post(format!("{base}/v1/integrations"))
        .bearer_auth(key)
        .json(&json!({"id": "bench-idp", "provider": "custom-oauth2", "client_id": "bench", "client_secret": "bench-secret",
            "authorization_url": "https://idp.bench/authorize", "token_url": "https://idp.bench/token", "pkce": false}))
        .send()
        .await?;
    if !created.status().is_success() {
        bail!("integration: {}", created.text().await.unwrap_or_default());
    }
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..rows)
        .map(|i| async move {
            let start: serde_json::Value = client
                .post(format!("{base}/v1/oauth/start"))
                .bearer_auth(key)
                .json(&json!({"integration": "bench-idp", "org": format!("org-{}", i % 100)}))
                .send()
                .await?
                .json()
                .await?;
            let auth_url = start["auth_url"].as_str().context("no auth_url")?;
            let at_idp = client.get(auth_url).send().await?;
            let callback = at_idp.headers().get("location").context("the idp did not redirect")?.to_str()?.to_owned();
            let back = client.get(callback).send().await?;
            if !back.status().is_success() {
                bail!("callback answered {}", back.status());
            }
            Ok(())
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let secs = started.elapsed().as_secs_f64();
    println!("seeded {rows} OAuth connections through the connect flow in {secs:.1} s ({:.0}/s)", rows as f64 / secs);
    Ok(())
}
