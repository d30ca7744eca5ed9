//! What each scenario creates before measuring, and the request it repeats.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, bail};
use hmac::{KeyInit as _, Mac as _};
use serde_json::json;

#[derive(Clone)]
pub(crate) struct Scenario {
    base: String,
    key: String,
    /// Paths to cycle through.
    paths: Vec<String>,
    /// Set for signed provider webhooks: each request is a new event.
    webhook: Option<SignedWebhook>,
    /// A JSON body: each request is a POST of it.
    body: Option<serde_json::Value>,
    /// A `Cookie` header sent instead of the bearer key (a browser's page views).
    cookie: Option<String>,
    /// More headers on every request (an MCP session's).
    headers: Vec<(String, String)>,
    /// Set for JSON-RPC bodies: each request gets an `id` never sent before, as a session's
    /// requests in flight must have.
    rpc_ids: Option<Arc<AtomicU64>>,
}

/// Stripe-signed events for one endpoint, each with an id never sent before.
#[derive(Clone)]
struct SignedWebhook {
    url: String,
    secret: String,
    next: Arc<AtomicU64>,
    run: u64,
}

impl SignedWebhook {
    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let body = json!({
            "id": format!("evt_bench{}x{n}", self.run),
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": 1_700_000_000,
            "livemode": false,
            "data": {"object": {"id": format!("pi_{n}"), "object": "payment_intent", "amount": 2000, "currency": "usd", "status": "succeeded"}}
        })
        .to_string();
        let t = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_secs());
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.secret.as_bytes())
            .unwrap_or_else(|_| std::process::abort());
        mac.update(format!("{t}.{body}").as_bytes());
        let signature = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
        client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("Stripe-Signature", signature)
            .body(body)
    }
}

impl Scenario {
    /// GETs of `paths` (cycled through at random) with `key` as the bearer.
    pub(crate) fn gets(base: &str, key: &str, paths: Vec<String>) -> Self {
        Self {
            base: base.to_owned(),
            key: key.to_owned(),
            paths,
            webhook: None,
            body: None,
            cookie: None,
            headers: vec![],
            rpc_ids: None,
        }
    }

    /// GETs of `paths` as a browser sends them: with `cookie`, no bearer key.
    pub(crate) fn page_views(base: &str, cookie: &str, paths: Vec<String>) -> Self {
        Self { cookie: Some(cookie.to_owned()), ..Self::gets(base, "", paths) }
    }

    /// POSTs of `body` to `paths`.
    pub(crate) fn posts(base: &str, key: &str, paths: Vec<String>, body: serde_json::Value) -> Self {
        Self { body: Some(body), ..Self::gets(base, key, paths) }
    }

    /// The same requests with `headers` added to each.
    pub(crate) fn with_headers(self, headers: Vec<(String, String)>) -> Self {
        Self { headers, ..self }
    }

    /// The same JSON-RPC requests, each with an `id` of its own.
    pub(crate) fn with_rpc_ids(self) -> Self {
        Self { rpc_ids: Some(Arc::new(AtomicU64::new(1000))), ..self }
    }

    pub(crate) fn request(&self, client: &reqwest::Client, i: u64) -> reqwest::RequestBuilder {
        if let Some(w) = &self.webhook {
            return w.request(client);
        }
        // A cheap stateless mix (splitmix64) spreads the reads over all rows.
        let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let path = &self.paths[(z ^ (z >> 31)) as usize % self.paths.len()];
        let url = format!("{}{path}", self.base);
        if let Some(cookie) = &self.cookie {
            return client.get(url).header(reqwest::header::COOKIE, cookie);
        }
        let mut req = match &self.body {
            Some(body) if self.rpc_ids.is_some() => {
                let mut body = body.clone();
                body["id"] = self.rpc_ids.as_ref().map_or(0, |n| n.fetch_add(1, Ordering::Relaxed)).into();
                client.post(url).bearer_auth(&self.key).json(&body)
            }
            Some(body) => client.post(url).bearer_auth(&self.key).json(body),
            None => client.get(url).bearer_auth(&self.key),
        };
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        req
    }
}

pub(crate) async fn prepare(
    name: &str,
    client: &reqwest::Client,
    base: &str,
    key: &str,
    rows: usize,
) -> anyhow::Result<Scenario> {
    let make = |paths: Vec<String>| Scenario::gets(base, key, paths);
    match name {
        // The floor: routing, middleware, no auth, no storage.
        "healthz" => Ok(make(vec!["/healthz".into()])),
        // An authenticated read of one stored row (secret key lookup + integration row).
        "integration-read" => {
            let mut paths = Vec::with_capacity(rows);
            for i in 0..rows.max(1) {
                let id = format!("bench-{i}");
                let res = client
                    .post(format!("{base}/v1/integrations"))
                    .bearer_auth(key)
                    .json(&json!({"id": id, "provider": "github", "client_id": format!("client-{i}"), "client_secret": format!("secret-{i}")}))
                    .send()
                    .await
                    .context("creating integrations")?;
                if !res.status().is_success() && res.status().as_u16() != 409 {
                    bail!("creating integration {id}: {} {}", res.status(), res.text().await.unwrap_or_default());
                }
                paths.push(format!("/v1/integrations/{id}"));
            }
            Ok(make(paths))
        }
        // A connection's metadata, as a workflow step checks it: secret key and connection row.
        "connection-read" => {
            let ids = seed_connections(client, base, key, rows).await?;
            Ok(make(ids.into_iter().map(|id| format!("/v1/connections/{id}")).collect()))
        }
        // A workflow's credential fetch: secret key, connection row, vault open, audit entry.
        "credentials-read" => {
            let ids = seed_connections(client, base, key, rows).await?;
            Ok(make(ids.into_iter().map(|id| format!("/v1/connections/{id}/credentials")).collect()))
        }
        // A provider's webhook: Stripe signature checked, event stored durably, then 200.
        "webhooks-in" => {
            let secret = "whsec_bench_0123456789abcdefghijklmnop";
            let res = client
                .post(format!("{base}/v1/webhook-endpoints"))
                .bearer_auth(key)
                .json(&json!({"provider": "stripe", "org": "bench", "secret": secret}))
                .send()
                .await
                .context("creating a webhook endpoint")?;
            if !res.status().is_success() {
                bail!("creating the webhook endpoint: {} {}", res.status(), res.text().await.unwrap_or_default());
            }
            let ep: serde_json::Value = res.json().await?;
            let id = ep["id"].as_str().context("endpoint id")?;
            let mut s = make(vec![]);
            s.webhook = Some(SignedWebhook {
                url: format!("{base}/hooks/{id}"),
                secret: secret.to_owned(),
                next: Arc::new(AtomicU64::new(0)),
                run: u64::from(std::process::id()),
            });
            Ok(s)
        }
        other => bail!(
            "unknown scenario {other:?}; known: healthz, integration-read, connection-read, credentials-read, webhooks-in, deliveries"
        ),
    }
}

/// Creates `rows` connections through the API, 32 at a time. They are custom-API-key
/// connections without a test path, so no provider is called.
pub(crate) async fn seed_connections(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    rows: usize,
) -> anyhow::Result<Vec<String>> {
    seed_connections_with(client, base, key, rows, |i| {
        json!({
            "provider": "custom-api-key",
            "org": format!("org-{}", i % 100),
            "label": format!("bench {i}"),
            "credentials": {"base_url": "https://api.example.com/v1", "api_key": format!("key-{i:08}-0123456789abcdef")}
        })
    })
    .await
}

/// Creates `rows` connections through the API from `body(i)`, 32 at a time; their ids.
pub(crate) async fn seed_connections_with(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    rows: usize,
    body: impl Fn(usize) -> serde_json::Value,
) -> anyhow::Result<Vec<String>> {
    use futures::StreamExt as _;
    let started = std::time::Instant::now();
    let results: Vec<anyhow::Result<String>> = futures::stream::iter((0..rows.max(1)).map(|i| (i, body(i))))
        .map(|(i, body)| async move {
            let res = client.post(format!("{base}/v1/connections")).bearer_auth(key).json(&body).send().await?;
            if !res.status().is_success() {
                bail!("creating connection {i}: {} {}", res.status(), res.text().await.unwrap_or_default());
            }
            let body: serde_json::Value = res.json().await?;
            Ok(body["id"].as_str().unwrap_or_default().to_owned())
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let ids = results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let secs = started.elapsed().as_secs_f64();
    println!("seeded {} connections in {secs:.1} s ({:.0}/s)", ids.len(), ids.len() as f64 / secs);
    Ok(ids)
}
