//! For AI workflow builders, one user of one org with `--rows` connections (20 by default in the
//! recorded runs): mostly OpenAI API-key accounts (a `model` listing each, served by a local
//! stand-in for the documented models endpoint through `SWITCHBOARD_OUTBOUND_OVERRIDES`) and one
//! in five a Webhook connection whose `send` action posts to the same stand-in.
//!
//! - `ai-context`: every listing read once (so the cache holds them), then `GET /v1/context` with
//!   `resources=true` for that user, as JSON and as Markdown, each followed by `/healthz` for as
//!   long in the same run, and the ratios.
//! - `mcp-tools`: an MCP session opened with the user's session token (`initialize`, then
//!   `notifications/initialized`), then `tools/list` (its first page) and `/healthz` for as long;
//!   then a `tools/call` of the Webhook connection's `send` tool and the same action through
//!   `POST /v1/connections/{id}/actions/send` with the same token and input: what the MCP round
//!   trip adds over the HTTP action route, both audited action runs reaching the stand-in.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::scenarios::Scenario;
use crate::{load, print_report, server};

use crate::listings::KEY;
const ORG: &str = "bench";
const USER: &str = "u1";
/// The MCP revision the bench's requests name after `initialize`.
const PROTOCOL: &str = "2025-11-25";

pub(crate) struct Options {
    pub(crate) database: String,
    pub(crate) rows: usize,
    pub(crate) concurrency: usize,
    pub(crate) measure: Duration,
}

struct StandIn {
    base: String,
    hooks: Arc<AtomicU64>,
}

/// OpenAI's `GET /v1/models` (the documented list, bearer checked) and a webhook receiver.
async fn start_stand_in() -> anyhow::Result<StandIn> {
    let hooks = Arc::new(AtomicU64::new(0));
    let counted = hooks.clone();
    let app = crate::listings::models_router(Arc::new(AtomicU64::new(0))).route(
        "/hook",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::Relaxed);
                (StatusCode::OK, "ok")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(StandIn { base, hooks })
}

pub(crate) async fn run(scenario: &str, o: &Options) -> anyhow::Result<()> {
    if !["ai-context", "mcp-tools"].contains(&scenario) {
        bail!("unknown scenario {scenario:?}; known: ai-context, mcp-tools");
    }
    let stand_in = start_stand_in().await?;
    let env = [
        ("SWITCHBOARD_OUTBOUND_OVERRIDES", format!("https://api.openai.com={}", stand_in.base)),
        ("SWITCHBOARD_ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
        ("SWITCHBOARD_JOBS", "false".to_owned()),
    ];
    let s = server::Spawned::start(&o.database, &env).await?;
    println!("{}", s.describe());
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(o.concurrency).timeout(Duration::from_secs(30)).build()?;
    let hook_url = format!("{}/hook", stand_in.base);
    let connections = crate::scenarios::seed_connections_with(&client, &s.base, &s.key, o.rows, |i| {
        if i % 5 == 4 {
            json!({"provider": "webhook", "org": ORG, "user": USER, "label": format!("hook {i}"), "credentials": {"webhook_url": hook_url}})
        } else {
            json!({"provider": "openai", "org": ORG, "user": USER, "label": format!("openai {i}"), "credentials": {"api_key": KEY}})
        }
    })
    .await?;
    let result = match scenario {
        "ai-context" => context(&s, &client, &connections, o).await,
        _ => mcp(&s, &client, &stand_in, o).await,
    };
    println!("server RSS at the end: {:.1} MiB", s.rss_mib());
    s.stop().await;
    result
}

async fn healthz(s: &server::Spawned, client: &reqwest::Client, o: &Options) -> load::Report {
    let floor =
        load::run(client, &Scenario::gets(&s.base, &s.key, vec!["/healthz".into()]), o.concurrency, o.measure).await;
    print_report("healthz", o.concurrency, &floor);
    floor
}

fn check(report: &load::Report, what: &str) -> anyhow::Result<()> {
    if report.errors > 0 {
        bail!("{} {what} failed: {}", report.errors, report.first_error.clone().unwrap_or_default());
    }
    Ok(())
}

async fn context(
    s: &server::Spawned,
    client: &reqwest::Client,
    connections: &[String],
    o: &Options,
) -> anyhow::Result<()> {
    // Each OpenAI connection's listing read once: the context then names models from the cache.
    let mut listed = 0;
    for id in connections {
        let res =
            client.get(format!("{}/v1/connections/{id}/resources/model", s.base)).bearer_auth(&s.key).send().await?;
        match res.status() {
            StatusCode::OK => listed += 1,
            // The Webhook connections have no kinds.
            StatusCode::NOT_FOUND => {}
            other => bail!("listing {id}: {other} {}", res.text().await.unwrap_or_default()),
        }
    }
    let path = format!("/v1/context?org={ORG}&user={USER}&resources=true&limit=20");
    let sample: Value = client.get(format!("{}{path}", s.base)).bearer_auth(&s.key).send().await?.json().await?;
    let shown = sample["connections"].as_array().map_or(0, Vec::len);
    let names: usize = sample["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["kinds"].as_array().into_iter().flatten())
        .map(|k| k["items"].as_array().map_or(0, Vec::len))
        .sum();
    if shown != connections.len() || names < listed {
        bail!("the context shows {shown} of {} connections and {names} names: {sample}", connections.len());
    }
    let markdown = format!("{path}&format=markdown");
    let md = client.get(format!("{}{markdown}", s.base)).bearer_auth(&s.key).send().await?.bytes().await?;
    println!(
        "context for one user: {shown} connections, {listed} cached listings, {names} resource names; {} bytes as JSON, {} as Markdown",
        sample.to_string().len(),
        md.len()
    );
    for (label, path) in [("context (JSON)", path.clone()), ("context (Markdown)", markdown)] {
        let report = load::run(client, &Scenario::gets(&s.base, &s.key, vec![path]), o.concurrency, o.measure).await;
        print_report(label, o.concurrency, &report);
        let floor = healthz(s, client, o).await;
        println!(
            "{label} costs {:.1}x the time of /healthz per request (throughput ratio {:.3})",
            floor.rate() / report.rate(),
            report.rate() / floor.rate()
        );
        check(&report, "context reads")?;
    }
    Ok(())
}

/// Opens an MCP session for `token`: its `MCP-Session-Id`.
async fn open_session(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "switchboard-bench", "version": "1"}}});
    let res = client
        .post(format!("{base}/mcp"))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("initialize: {} {}", res.status(), res.text().await.unwrap_or_default());
    }
    let session = res
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .context("initialize answered no MCP-Session-Id")?
        .to_owned();
    let _ = res.bytes().await?;
    let res =
        mcp_post(client, base, token, &session, &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await?;
    if !res.status().is_success() {
        bail!("notifications/initialized: {}", res.status());
    }
    Ok(session)
}

fn mcp_post(client: &reqwest::Client, base: &str, token: &str, session: &str, body: &Value) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/mcp"))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", PROTOCOL)
        .json(body)
}

/// The JSON-RPC answer in a response body: plain JSON, or the last `data:` line of its event stream.
fn rpc_answer(body: &str) -> anyhow::Result<Value> {
    if let Ok(v) = serde_json::from_str(body) {
        return Ok(v);
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .next_back()
        .with_context(|| format!("no JSON-RPC answer in {body:?}"))
}

async fn mcp(s: &server::Spawned, client: &reqwest::Client, stand_in: &StandIn, o: &Options) -> anyhow::Result<()> {
    let res = client
        .post(format!("{}/v1/sessions", s.base))
        .bearer_auth(&s.key)
        .json(&json!({"org": ORG, "user": USER, "role": "member"}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("session: {} {}", res.status(), res.text().await.unwrap_or_default());
    }
    let token = res.json::<Value>().await?["token"].as_str().context("session token")?.to_owned();
    let session = open_session(client, &s.base, &token).await?;

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    let text = mcp_post(client, &s.base, &token, &session, &list).send().await?.text().await?;
    let page = rpc_answer(&text)?;
    let tools: Vec<String> = page["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    // The first Webhook connection's tool (a second one would be `webhook_2__send`).
    let send = "webhook__send";
    let listed: Value = client
        .get(format!("{}/v1/connections?org={ORG}&provider=webhook", s.base))
        .bearer_auth(&s.key)
        .send()
        .await?
        .json()
        .await?;
    let connection =
        listed["items"][0]["id"].as_str().context("--rows must be at least 5 for a Webhook connection")?.to_owned();
    println!(
        "MCP session open; the first tools/list page holds {} tools (next cursor: {}); calling {send}, and the route for connection {connection}",
        tools.len(),
        page["result"]["nextCursor"].is_string()
    );

    let headers = vec![
        ("accept".to_owned(), "application/json, text/event-stream".to_owned()),
        ("mcp-session-id".to_owned(), session.clone()),
        ("mcp-protocol-version".to_owned(), PROTOCOL.to_owned()),
    ];
    let listing =
        Scenario::posts(&s.base, &token, vec!["/mcp".into()], list).with_headers(headers.clone()).with_rpc_ids();
    let report = load::run(client, &listing, o.concurrency, o.measure).await;
    print_report("MCP tools/list", o.concurrency, &report);
    let floor = healthz(s, client, o).await;
    println!(
        "tools/list costs {:.1}x the time of /healthz per request (throughput ratio {:.3})",
        floor.rate() / report.rate(),
        report.rate() / floor.rate()
    );
    check(&report, "tools/list requests")?;

    let payload = json!({"order": {"id": 1042, "total": 99.5, "items": ["a", "b", "c"]}, "customer": "ada@acme.example", "paid": true});
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": send, "arguments": {"payload": payload}}});
    let answer = rpc_answer(&mcp_post(client, &s.base, &token, &session, &call).send().await?.text().await?)?;
    if answer["result"]["isError"] != json!(false) && !answer["result"]["isError"].is_null() {
        bail!("tools/call answered an error: {answer}");
    }
    let before = stand_in.hooks.load(Ordering::Relaxed);
    let calls = Scenario::posts(&s.base, &token, vec!["/mcp".into()], call).with_headers(headers).with_rpc_ids();
    let over_mcp = load::run(client, &calls, o.concurrency, o.measure).await;
    print_report("MCP tools/call (webhook send)", o.concurrency, &over_mcp);
    // A tool result with isError also answers 200: the stand-in's count says every call ran.
    let received = stand_in.hooks.load(Ordering::Relaxed) - before;
    if received < over_mcp.requests {
        bail!("{} tool calls answered but the stand-in received {received} posts", over_mcp.requests);
    }
    let before = stand_in.hooks.load(Ordering::Relaxed);
    let direct = Scenario::posts(
        &s.base,
        &token,
        vec![format!("/v1/connections/{connection}/actions/send")],
        json!({"input": {"payload": payload}}),
    );
    let over_http = load::run(client, &direct, o.concurrency, o.measure).await;
    print_report("POST /v1/connections/{id}/actions/send", o.concurrency, &over_http);
    println!(
        "added by MCP over the HTTP action route: p50 {:.3} ms, p99 {:.3} ms; throughput {:.2}x the route's; the stand-in received {} posts from the route (warm-up included)",
        over_mcp.p50_ms - over_http.p50_ms,
        over_mcp.p99_ms - over_http.p99_ms,
        over_mcp.rate() / over_http.rate(),
        stand_in.hooks.load(Ordering::Relaxed) - before
    );
    check(&over_mcp, "tool calls")?;
    check(&over_http, "action runs")?;
    Ok(())
}
