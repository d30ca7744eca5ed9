//! Resource listings, against a local stand-in for OpenAI's models endpoint (one unpaged list of
//! 40 models, about 4 KB) reached through `SWITCHBOARD_OUTBOUND_OVERRIDES`, with N API-key
//! connections to it:
//!
//! - `listing-cached`: every connection's listing read once, then listings of random connections
//!   served from the cache; `/healthz` for as long in the same run, and the ratio.
//! - `resolve-cached`: a name resolved against the cached listing of a random connection, same.
//! - `listing-cold`: every listing asks the provider (`fresh=true`); the stand-in is also loaded
//!   directly for as long, so the report says what the server adds to the provider's own time.
//! - `listing-memory`: every connection's listing cached once (N pages) under the configured
//!   bound; resident memory and the cache's own gauges before and after.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::json;

use crate::scenarios::{self, Scenario};
use crate::{load, print_report, server};

pub(crate) const KEY: &str = "sk-proj-bench0123456789abcdef0123456789abcdef";

struct Provider {
    base: String,
    calls: Arc<AtomicU64>,
}

/// The models endpoint: the documented `{"object": "list", "data": [...]}` of 40 models, bearer
/// checked; `calls` counts the requests.
pub(crate) fn models_router(calls: Arc<AtomicU64>) -> axum::Router {
    let models: Vec<serde_json::Value> = (0..40)
        .map(|i| json!({"id": format!("gpt-bench-{i:02}"), "object": "model", "created": 1_715_367_049 + i, "owned_by": "system"}))
        .collect();
    let body = Arc::new(json!({"object": "list", "data": models}).to_string());
    axum::Router::new().route(
        "/v1/models",
        axum::routing::get(move |headers: HeaderMap| {
            let (body, counted) = (body.clone(), calls.clone());
            async move {
                counted.fetch_add(1, Ordering::Relaxed);
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
                    return (StatusCode::UNAUTHORIZED, "{\"error\":{\"message\":\"bad key\"}}").into_response();
                }
                Response::builder()
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body.as_str().to_owned()))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
        }),
    )
}

async fn start_provider() -> anyhow::Result<Provider> {
    let calls = Arc::new(AtomicU64::new(0));
    let app = models_router(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Provider { base, calls })
}

pub(crate) struct Options {
    pub(crate) database: String,
    pub(crate) rows: usize,
    pub(crate) concurrency: usize,
    pub(crate) measure: Duration,
    pub(crate) cache_mb: Option<u64>,
}

pub(crate) async fn run(scenario: &str, o: &Options) -> anyhow::Result<()> {
    if !["listing-cached", "resolve-cached", "listing-cold", "listing-memory"].contains(&scenario) {
        bail!("unknown scenario {scenario:?}");
    }
    let provider = start_provider().await?;
    let mut env = vec![
        ("SWITCHBOARD_OUTBOUND_OVERRIDES", format!("https://api.openai.com={}", provider.base)),
        ("SWITCHBOARD_JOBS", "false".to_owned()),
    ];
    if let Some(mb) = o.cache_mb {
        env.push(("SWITCHBOARD_LISTING_CACHE_MB", mb.to_string()));
    }
    let s = server::Spawned::start(&o.database, &env).await?;
    println!("{}", s.describe());
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(o.concurrency).timeout(Duration::from_secs(30)).build()?;
    // N OpenAI connections (each tested once against the stand-in), in 100 orgs.
    let ids = scenarios::seed_connections_with(&client, &s.base, &s.key, o.rows, |i| {
        json!({"provider": "openai", "org": format!("org-{}", i % 100), "label": format!("bench {i}"), "credentials": {"api_key": KEY}})
    })
    .await?;
    let listing = |id: &String| format!("/v1/connections/{id}/resources/model");
    println!("after seeding {} connections: RSS {:.1} MiB", ids.len(), s.rss_mib());

    let started = Instant::now();
    let calls0 = provider.calls.load(Ordering::Relaxed);
    let warmed: Vec<anyhow::Result<()>> = futures::stream::iter(ids.iter())
        .map(|id| {
            let (client, url, key) = (&client, format!("{}{}", s.base, listing(id)), &s.key);
            async move {
                let res = client.get(url).bearer_auth(key).send().await?;
                if !res.status().is_success() {
                    bail!("listing: {} {}", res.status(), res.text().await.unwrap_or_default());
                }
                Ok(())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    warmed.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let secs = started.elapsed().as_secs_f64();
    let gauges = cache_gauges(&client, &s.base).await?;
    println!(
        "listed every connection once: {} listings in {secs:.1} s ({:.0}/s, {} provider calls); cache holds {} pages, {:.1} MiB (bound {} MiB); RSS {:.1} MiB",
        ids.len(),
        ids.len() as f64 / secs,
        provider.calls.load(Ordering::Relaxed) - calls0,
        gauges.1,
        gauges.0 as f64 / 1_048_576.0,
        o.cache_mb.map_or_else(|| "64".to_owned(), |m| m.to_string()),
        s.rss_mib()
    );

    let measured = match scenario {
        "listing-cached" => Some(Scenario::gets(&s.base, &s.key, ids.iter().map(listing).collect())),
        "resolve-cached" => Some(Scenario::posts(
            &s.base,
            &s.key,
            ids.iter().map(|id| format!("/v1/connections/{id}/resolve")).collect(),
            json!({"kind": "model", "name": "GPT-Bench-37"}),
        )),
        "listing-cold" => {
            Some(Scenario::gets(&s.base, &s.key, ids.iter().map(|id| format!("{}?fresh=true", listing(id))).collect()))
        }
        _ => None,
    };
    if let Some(work) = measured {
        let calls = provider.calls.load(Ordering::Relaxed);
        let report = load::run(&client, &work, o.concurrency, o.measure).await;
        print_report(scenario, o.concurrency, &report);
        println!(
            "provider calls during the run (warm-up included): {}",
            provider.calls.load(Ordering::Relaxed) - calls
        );
        let floor =
            load::run(&client, &Scenario::gets(&s.base, &s.key, vec!["/healthz".into()]), o.concurrency, o.measure)
                .await;
        print_report("healthz", o.concurrency, &floor);
        println!(
            "{scenario} costs {:.2}x the time of /healthz per request (throughput ratio {:.3})",
            floor.rate() / report.rate(),
            report.rate() / floor.rate()
        );
        if scenario == "listing-cold" {
            let direct = load::run(
                &client,
                &Scenario::gets(&provider.base, KEY, vec!["/v1/models".into()]),
                o.concurrency,
                o.measure,
            )
            .await;
            print_report("the provider stand-in alone", o.concurrency, &direct);
            println!(
                "added by the server per listing: p50 {:.2} ms, p99 {:.2} ms over the provider's own",
                report.p50_ms - direct.p50_ms,
                report.p99_ms - direct.p99_ms
            );
        }
        if report.errors > 0 {
            bail!("{} requests failed: {}", report.errors, report.first_error.unwrap_or_default());
        }
    }
    println!("server RSS at the end: {:.1} MiB", s.rss_mib());
    s.stop().await;
    Ok(())
}

/// `switchboard_listing_cache_bytes` and `_pages` from `/metrics`.
async fn cache_gauges(client: &reqwest::Client, base: &str) -> anyhow::Result<(u64, u64)> {
    let text = client.get(format!("{base}/metrics")).send().await?.text().await?;
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
    };
    let bytes = value("switchboard_listing_cache_bytes").context("no switchboard_listing_cache_bytes in /metrics")?;
    let pages = value("switchboard_listing_cache_pages").context("no switchboard_listing_cache_pages in /metrics")?;
    Ok((bytes, pages))
}
