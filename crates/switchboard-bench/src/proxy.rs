//! The proxy, against a local API stand-in (an axum server on loopback) that one custom-api-key
//! connection names as its base URL:
//!
//! - `proxy`: `GET /v1/proxy/{connection}/echo` (a 1 KiB JSON answer, the key checked), then the
//!   stand-in directly for as long, then `/healthz`: what the proxy adds to the provider's own
//!   time per request, and its throughput next to the provider's. The stand-in runs as a child
//!   process (`switchboard-bench upstream-stand-in`), so both paths cross processes.
//! - `action-run`: the Webhook provider's `send` action to the stand-in (input checked against its
//!   schema, the request built from the catalog, the run audited durably and metered), then the same
//!   POST straight to the stand-in, then `/healthz`: what running an action adds.
//! - `proxy-stream`: `--rows` uploads and downloads of 100 MiB each through the proxy, one at a
//!   time, while the server's resident memory is sampled every 20 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::json;

use crate::scenarios::Scenario;
use crate::{load, print_report, server};

const KEY: &str = "bench-upstream-key-0123456789abcdef";
const STREAM_BYTES: u64 = 100 << 20;

/// Chunks of zeros adding up to `len` bytes, made as they are sent.
fn zeros(len: u64) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send {
    const CHUNK: u64 = 64 << 10;
    let block = bytes::Bytes::from(vec![0u8; CHUNK as usize]);
    futures::stream::unfold(0u64, move |at| {
        let block = block.clone();
        async move { (at < len).then(|| (Ok(block.slice(..CHUNK.min(len - at) as usize)), at + CHUNK.min(len - at))) }
    })
}

/// Serves the stand-in on `127.0.0.1:0` in this process until killed, printing its port: the
/// bench runs it as a child process, so that calling it directly crosses a process boundary as a
/// host app calling a provider would (in the bench's own runtime it would look unfairly cheap).
pub(crate) async fn serve_upstream() -> anyhow::Result<()> {
    let (base, task) = bind_upstream().await?;
    println!("{}", base.rsplit(':').next().unwrap_or_default());
    task.await?;
    Ok(())
}

/// The stand-in as a child process of this binary; its base URL.
async fn start_upstream() -> anyhow::Result<(String, tokio::process::Child)> {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("upstream-stand-in")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout from the stand-in"))?;
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), tokio::io::BufReader::new(stdout).read_line(&mut line)).await??;
    Ok((format!("http://127.0.0.1:{}", line.trim()), child))
}

async fn bind_upstream() -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let echo = Arc::new(json!({"items": (0..16).map(|i| json!({"id": format!("item-{i:04}"), "name": format!("Bench item {i}"), "updated": "2026-12-01T00:00:00Z"})).collect::<Vec<_>>()}).to_string());
    let answer = move |headers: HeaderMap, uri: axum::http::Uri, body: axum::body::Body| {
        let echo = echo.clone();
        async move {
            let keyed = headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(KEY)
                || headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"));
            // A webhook receiver, for the action scenario: its URL is its credential.
            if uri.path().ends_with("/hook") {
                let mut n = 0usize;
                let mut stream = body.into_data_stream();
                while let Some(chunk) = stream.next().await {
                    n += chunk.map(|c| c.len()).unwrap_or(0);
                }
                return axum::Json(json!({"received": n})).into_response();
            }
            if !keyed {
                return (StatusCode::UNAUTHORIZED, "{\"error\":\"bad key\"}").into_response();
            }
            if uri.path().ends_with("/upload") {
                let mut n = 0u64;
                let mut stream = body.into_data_stream();
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(c) => n += c.len() as u64,
                        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
                    }
                }
                return axum::Json(json!({"bytes": n})).into_response();
            }
            if uri.path().ends_with("/download") {
                let mut res = Response::new(axum::body::Body::from_stream(zeros(STREAM_BYTES)));
                res.headers_mut().insert("content-length", STREAM_BYTES.into());
                return res;
            }
            ([("content-type", "application/json")], echo.as_str().to_owned()).into_response()
        }
    };
    let app = axum::Router::new().fallback(answer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((base, task))
}

pub(crate) async fn run(
    scenario: &str,
    database: &str,
    rows: usize,
    concurrency: usize,
    measure: Duration,
) -> anyhow::Result<()> {
    if !["proxy", "proxy-stream", "action-run"].contains(&scenario) {
        bail!("unknown scenario {scenario:?}");
    }
    let (upstream, _stand_in) = start_upstream().await?;
    let env = [("SWITCHBOARD_ALLOW_PRIVATE_NETWORKS", "true".to_owned()), ("SWITCHBOARD_JOBS", "false".to_owned())];
    let s = server::Spawned::start(database, &env).await?;
    println!("{}", s.describe());
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(concurrency).timeout(Duration::from_secs(120)).build()?;
    let id = connect(
        &client,
        &s,
        json!({"provider": "custom-api-key", "org": "bench", "credentials": {
            "base_url": format!("{upstream}/v1"), "header_name": "X-API-Key", "api_key": KEY}}),
    )
    .await?;
    println!("idle RSS {:.1} MiB", s.rss_mib());

    if scenario == "action-run" {
        let result = action_run(&s, &client, &upstream, concurrency, measure).await;
        s.stop().await;
        return result;
    }
    if scenario == "proxy" {
        let through = Scenario::gets(&s.base, &s.key, vec![format!("/v1/proxy/{id}/echo")]);
        let report = load::run(&client, &through, concurrency, measure).await;
        print_report("proxy GET", concurrency, &report);
        let direct =
            load::run(&client, &Scenario::gets(&upstream, KEY, vec!["/v1/echo".into()]), concurrency, measure).await;
        print_report("the API stand-in alone", concurrency, &direct);
        let floor =
            load::run(&client, &Scenario::gets(&s.base, &s.key, vec!["/healthz".into()]), concurrency, measure).await;
        print_report("healthz", concurrency, &floor);
        println!(
            "added by the proxy per request: p50 {:.3} ms, p99 {:.3} ms; throughput {:.2}x the stand-in's alone; {:.2}x the time of /healthz",
            report.p50_ms - direct.p50_ms,
            report.p99_ms - direct.p99_ms,
            report.rate() / direct.rate(),
            floor.rate() / report.rate()
        );
        println!("server RSS after load: {:.1} MiB", s.rss_mib());
        if report.errors > 0 {
            bail!("{} requests failed: {}", report.errors, report.first_error.unwrap_or_default());
        }
        s.stop().await;
        return Ok(());
    }

    // proxy-stream: the peak resident memory while 100 MiB bodies pass, sampled as they do.
    let peak = Arc::new(AtomicU64::new(0));
    let pid = s.pid();
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let kib = server::rss_kib(pid);
                peak.fetch_max(kib, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let idle = s.rss_mib();
    for round in 0..rows.max(1) {
        let started = Instant::now();
        let res = client
            .put(format!("{}/v1/proxy/{id}/upload", s.base))
            .bearer_auth(&s.key)
            .header("content-length", STREAM_BYTES)
            .body(reqwest::Body::wrap_stream(zeros(STREAM_BYTES)))
            .send()
            .await?;
        let sent: serde_json::Value = res.json().await?;
        if sent["bytes"].as_u64() != Some(STREAM_BYTES) {
            bail!("upload {round}: the stand-in saw {sent}");
        }
        let up = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let res = client.get(format!("{}/v1/proxy/{id}/download", s.base)).bearer_auth(&s.key).send().await?;
        let mut got = 0u64;
        let mut body = res.bytes_stream();
        while let Some(chunk) = body.next().await {
            got += chunk?.len() as u64;
        }
        if got != STREAM_BYTES {
            bail!("download {round}: {got} bytes");
        }
        let down = started.elapsed().as_secs_f64();
        println!(
            "round {round}: 100 MiB up in {up:.2} s ({:.0} MiB/s), 100 MiB down in {down:.2} s ({:.0} MiB/s)",
            100.0 / up,
            100.0 / down
        );
    }
    sampler.abort();
    println!(
        "server RSS: {idle:.1} MiB idle, peak {:.1} MiB while streaming (sampled every 20 ms)",
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    );
    s.stop().await;
    Ok(())
}

/// Creates the connection `body` describes; its id.
async fn connect(client: &reqwest::Client, s: &server::Spawned, body: serde_json::Value) -> anyhow::Result<String> {
    let res = client.post(format!("{}/v1/connections", s.base)).bearer_auth(&s.key).json(&body).send().await?;
    if !res.status().is_success() {
        bail!("creating the connection: {} {}", res.status(), res.text().await.unwrap_or_default());
    }
    Ok(res.json::<serde_json::Value>().await?["id"].as_str().unwrap_or_default().to_owned())
}

async fn action_run(
    s: &server::Spawned,
    client: &reqwest::Client,
    upstream: &str,
    concurrency: usize,
    measure: Duration,
) -> anyhow::Result<()> {
    let id = connect(
        client,
        s,
        json!({"provider": "webhook", "org": "bench", "credentials": {"webhook_url": format!("{upstream}/v1/hook")}}),
    )
    .await?;
    let payload = json!({"order": {"id": 1042, "total": 99.5, "items": ["a", "b", "c"]}, "customer": "ada@acme.example", "paid": true});
    let run = Scenario::posts(
        &s.base,
        &s.key,
        vec![format!("/v1/connections/{id}/actions/send")],
        json!({"input": {"payload": payload}}),
    );
    let report = load::run(client, &run, concurrency, measure).await;
    print_report("action send", concurrency, &report);
    let direct =
        load::run(client, &Scenario::posts(upstream, KEY, vec!["/v1/hook".into()], payload), concurrency, measure)
            .await;
    print_report("the same POST to the stand-in", concurrency, &direct);
    let floor =
        load::run(client, &Scenario::gets(&s.base, &s.key, vec!["/healthz".into()]), concurrency, measure).await;
    print_report("healthz", concurrency, &floor);
    println!(
        "added by running the action: p50 {:.3} ms, p99 {:.3} ms; throughput {:.2}x the stand-in's alone; {:.2}x the time of /healthz",
        report.p50_ms - direct.p50_ms,
        report.p99_ms - direct.p99_ms,
        report.rate() / direct.rate(),
        floor.rate() / report.rate()
    );
    println!("server RSS after load: {:.1} MiB", s.rss_mib());
    if report.errors > 0 {
        bail!("{} runs failed: {}", report.errors, report.first_error.unwrap_or_default());
    }
    Ok(())
}
