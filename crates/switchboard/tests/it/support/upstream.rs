//! An HTTP API behind the proxy, speaking for several providers at once (the origins of
//! Telegram, Trello and Twilio are pointed at it, and custom-api-key connections name it as
//! their base URL). It answers those providers' credential checks in their documented
//! shapes, and otherwise shows what reached it, byte for byte:
//!
//! - `…/echo` (any method): the method, raw path and query, the headers and the body's length
//!   and SHA-256, as JSON, with hop-by-hop headers, a cookie and a header of its own in the
//!   answer; `?status=N` answers with that status instead.
//! - `…/upload`: reads the body as it streams and answers its length and SHA-256.
//! - `…/download?bytes=N`: streams N bytes of a fixed pattern ([`pattern`]) with a length.
//! - `…/hang`: never answers; counts the requests whose connection went away ([`Upstream::dropped`]).
//! - `…/limited`: 429 with `Retry-After: 1` while [`Upstream::limit`] has some left, then 200.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// What one request brought.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub method: String,
    /// Raw, as sent: still percent-encoded.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body_len: u64,
    pub body_sha256: String,
}

impl Arrival {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone, Default)]
pub struct Upstream {
    pub port: u16,
    seen: Arc<Mutex<Vec<Arrival>>>,
    dropped: Arc<AtomicUsize>,
    limit: Arc<AtomicUsize>,
}

/// Byte `i` of every download: the same on both sides without keeping 100 MiB anywhere.
#[must_use]
pub fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

/// `len` bytes of the pattern, as a stream of 64 KiB chunks.
pub fn pattern_stream(len: u64) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send {
    const CHUNK: u64 = 64 << 10;
    futures::stream::unfold(0u64, move |at| async move {
        if at >= len {
            return None;
        }
        let n = CHUNK.min(len - at);
        let chunk: Vec<u8> = (at..at + n).map(pattern).collect();
        Some((Ok(bytes::Bytes::from(chunk)), at + n))
    })
}

/// The SHA-256 (hex) of `len` pattern bytes.
#[must_use]
pub fn pattern_sha256(len: u64) -> String {
    let mut h = Sha256::new();
    let mut at = 0u64;
    let mut buf = Vec::with_capacity(64 << 10);
    while at < len {
        let n = (64u64 << 10).min(len - at);
        buf.clear();
        buf.extend((at..at + n).map(pattern));
        h.update(&buf);
        at += n;
    }
    hex::encode(h.finalize())
}

impl Upstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut me = Self { port: listener.local_addr().unwrap().port(), ..Self::default() };
        me.port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().fallback(answer).with_state(me.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        me
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Arrival> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Arrival {
        self.seen().pop().expect("the upstream saw no request")
    }

    /// Requests to `…/hang` whose connection closed before an answer.
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// The next `n` requests to `…/limited` are rate-limited.
    pub fn limit(&self, n: usize) {
        self.limit.store(n, Ordering::SeqCst);
    }
}

/// Counts a request whose answer was never sent (its future dropped when the connection went away).
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn answer(State(up): State<Upstream>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return (StatusCode::BAD_REQUEST, "body broke off").into_response() };
        len += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let arrival = Arrival {
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: parts.headers.clone(),
        body_len: len,
        body_sha256: hex::encode(hasher.finalize()),
    };
    up.seen.lock().unwrap().push(arrival.clone());
    let param = |name: &str| {
        query.as_deref().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
        })
    };

    // Credential checks, in each provider's documented answer.
    if path.ends_with("/getMe") {
        return axum::Json(json!({"ok": true, "result": {"id": 7_001, "is_bot": true, "first_name": "Relay", "username": "relay_bot", "can_join_groups": true}})).into_response();
    }
    if path == "/1/members/me" {
        return axum::Json(
            json!({"id": "5f0c", "fullName": "Rae Member", "username": "rae", "url": "https://trello.com/rae"}),
        )
        .into_response();
    }
    if path.starts_with("/2010-04-01/Accounts/") && path.ends_with(".json") {
        return axum::Json(json!({"sid": "AC0123456789abcdef0123456789abcdef", "friendly_name": "Relay", "status": "active", "type": "Full"}))
            .into_response();
    }

    if path.ends_with("/upload") {
        return axum::Json(json!({"bytes": len, "sha256": arrival.body_sha256})).into_response();
    }
    if path.ends_with("/download") {
        let n: u64 = param("bytes").and_then(|b| b.parse().ok()).unwrap_or(0);
        let mut res = Response::new(Body::from_stream(pattern_stream(n)));
        res.headers_mut().insert("content-length", HeaderValue::from(n));
        res.headers_mut().insert("content-type", HeaderValue::from_static("application/octet-stream"));
        return res;
    }
    if path.ends_with("/hang") {
        let guard = DropCount(up.dropped.clone());
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        std::mem::forget(guard);
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }
    if path.ends_with("/limited") {
        let left = up.limit.load(Ordering::SeqCst);
        if left > 0 {
            up.limit.store(left - 1, Ordering::SeqCst);
            let mut res = (StatusCode::TOO_MANY_REQUESTS, axum::Json(json!({"error": "slow down"}))).into_response();
            res.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
            return res;
        }
        return axum::Json(json!({"ok": true})).into_response();
    }

    let status = param("status").and_then(|s| s.parse::<u16>().ok()).unwrap_or(200);
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .keys()
        .map(|k| {
            let all: Vec<Value> =
                parts.headers.get_all(k).iter().map(|v| Value::String(v.to_str().unwrap_or("?").to_owned())).collect();
            (k.as_str().to_owned(), Value::Array(all))
        })
        .collect();
    let doc = json!({
        "method": arrival.method, "path": path, "query": query, "headers": headers,
        "body_len": len, "body_sha256": arrival.body_sha256,
    });
    let mut res = (StatusCode::from_u16(status).unwrap(), axum::Json(doc)).into_response();
    let h = res.headers_mut();
    h.insert("x-upstream", HeaderValue::from_static("kept"));
    h.insert("connection", HeaderValue::from_static("x-upstream-hop"));
    h.insert("x-upstream-hop", HeaderValue::from_static("dropped"));
    h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
    h.insert("set-cookie", HeaderValue::from_static("upstream_session=abc; Path=/"));
    res
}
